"""The third-party vectors in testdata/interop equal their originals in ../shared/interop.

New cases land in ../shared/interop first; this test is how a stale or missing copy is noticed.
It is skipped only when ../shared is absent (a lone clone has nothing to compare with).
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from conftest import INTEROP, SHARED_INTEROP


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _differences() -> list[str]:
    problems: list[str] = []
    for entry in sorted(SHARED_INTEROP.iterdir()):
        copy = INTEROP / entry.name
        if entry.is_file():
            if not copy.is_file() or not filecmp.cmp(entry, copy, shallow=False):
                problems.append(f"{entry.name}: copy missing or different")
            continue
        if not copy.is_dir():
            problems.append(f"{entry.name}/: set not copied into testdata/interop")
            continue
        theirs, ours = _files(entry), _files(copy)
        problems += [f"{entry.name}/{f}: missing from the copy" for f in sorted(theirs - ours)]
        problems += [f"{entry.name}/{f}: not in ../shared (stale)" for f in sorted(ours - theirs)]
        problems += [f"{entry.name}/{f}: differs" for f in sorted(theirs & ours)
                     if not filecmp.cmp(entry / f, copy / f, shallow=False)]
    return problems


def test_copies_equal_shared_interop() -> None:
    if not SHARED_INTEROP.is_dir():
        pytest.skip(f"{SHARED_INTEROP} not present: nothing to compare the copies with")
    problems = _differences()
    assert not problems, (
        "testdata/interop is out of date with ../shared/interop "
        "(refresh with cp -a ../shared/interop/SET/. testdata/interop/SET/):\n  "
        + "\n  ".join(problems))


def test_every_set_has_its_readme_or_sources() -> None:
    for d in sorted(p for p in INTEROP.iterdir() if p.is_dir()):
        if d.name in {"api", "provenance"}:  # described in SOURCES-formats.md
            continue
        assert (d / "README.md").is_file() or (d / "SOURCES.md").is_file(), d
