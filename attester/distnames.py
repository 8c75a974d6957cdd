"""Python distribution file names, compared as PEP 740 and PyPI compare them.

Below both the PyPI client (which checks that a release's files are named as that
release's) and PEP 740 verification (a subject names its dist), so neither imports the other.
"""

from __future__ import annotations

from typing import Any


def parse_dist_name(name: str) -> Any:
    """A wheel's or sdist's file name parsed as PEP 740 compares them (pypi-attestations'
    _check_dist_filename, private there): the same project, version and tags spelled
    differently are the same file. None when it is not a distribution file name."""
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    try:
        if name.endswith(".whl"):
            return parse_wheel_filename(name)
        if name.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(name)
    except ValueError:  # InvalidWheelFilename, InvalidSdistFilename, InvalidVersion
        return None
    return None
