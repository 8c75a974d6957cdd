"""Adversarial review of the verification paths that landed on 2026-12-04 (Cloud Build
provenance, cosign tag layers, PEP 740 / pypi://, managed-key bundles, the cross-check
exception): each finding is an attack through the CLI, on real vectors and the suite's own
servers, that passed (or broke) before its fix; each test asserts the exit code and message."""

from __future__ import annotations

import pytest
from test_pypi import PYPI, SDIST, SDIST_SHA, _file_entry, _release, one_line, verify_pypi


@pytest.fixture
def mirror(monkeypatch):
    """A PyPI mirror replayed on loopback (tests/replay.py), answering what each test sets."""
    from replay import Replay

    monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.01")
    with Replay() as r:
        r.server.handle_error = lambda *_: None  # type: ignore[method-assign]
        yield r


# -- PyPI: an index answering another release's files -----------------------------------------

def _serve_other_release(replay, project: str, version: str) -> None:
    """The mirror answers ``pypi://PROJECT/VERSION`` with pypi-attestations 0.0.19's sdist
    and its real (validly signed) provenance."""
    replay.json(f"/pypi/{project}/{version}/json", _release(_file_entry(SDIST, SDIST_SHA,
                                                                         "sdist")))
    replay.raw(f"/integrity/{project}/{version}/{SDIST}/provenance",
               (PYPI / f"{SDIST}.provenance").read_bytes(), "application/json")


@pytest.mark.parametrize(("uri", "project", "version", "named"), [
    # a downgrade: an older, validly attested release served for the one asked
    ("pypi://pypi-attestations/0.0.20", "pypi-attestations", "0.0.20",
     "pypi-attestations 0.0.20"),
    # another project of the same publisher
    ("pypi://sigstore-models/0.0.19", "sigstore-models", "0.0.19", "sigstore-models 0.0.19"),
])
def test_pypi_files_of_another_release_are_refused(attest, mirror, uri, project, version,
                                                   named) -> None:
    _serve_other_release(mirror, project, version)
    r = verify_pypi(attest, mirror, uri)
    assert r.code == 2, (r.code, r.out, r.err)
    assert f"field 'urls[0].filename' ({SDIST}) is a file of pypi-attestations 0.0.19, not " \
        f"of {named}" in r.err, r.err
    one_line(r)
