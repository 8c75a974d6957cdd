"""provenance --subjects-from-checksums (sha256sum/sha512sum output, as GoReleaser's
checksums.txt and actions/attest's subject-checksums) and --subject-digest."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from conftest import assert_valid_statement


def _sums(folder, tool: str, *flags: str) -> bytes:
    """The real coreutils tool's output over the files in ``folder``."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and "SUMS" not in p.name)
    return subprocess.run([tool, *flags, *names], cwd=folder, check=True,
                          capture_output=True).stdout


def test_subjects_from_sha256sum_output(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    dist = repo / "dist"
    (dist / "SHA256SUMS").write_bytes(_sums(dist, "sha256sum"))
    r = attest("provenance", "local://", "--subjects-from-checksums", dist / "SHA256SUMS",
               "--subject-digest", f"pause:v3.10@image=sha256:{'ab' * 32}")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert_valid_statement(doc)
    assert {s["name"]: s["digest"] for s in doc["subject"]} == {
        "kube-apiserver": {"sha256": hashlib.sha256(b"apiserver\n" * 1000).hexdigest()},
        "pause:v3.10@image": {"sha256": "ab" * 32}}


def test_binary_mode_sha512_and_bsd_lines(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    dist = repo / "dist"
    (dist / "SHA512SUMS").write_bytes(_sums(dist, "sha512sum", "-b") +
                                      _sums(dist, "sha256sum", "--tag").replace(
                                          b"kube-apiserver", b"other"))
    r = attest("provenance", "local://", "--subjects-from-checksums", dist / "SHA512SUMS")
    assert r.code == 0, r.err
    subjects = {s["name"]: s["digest"] for s in json.loads(r.out)["subject"]}
    assert subjects["kube-apiserver"] == {
        "sha512": hashlib.sha512(b"apiserver\n" * 1000).hexdigest()}
    assert subjects["other"] == {"sha256": hashlib.sha256(b"apiserver\n" * 1000).hexdigest()}


def test_a_present_file_must_match_its_line(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    dist = repo / "dist"
    sums = _sums(dist, "sha256sum")
    (dist / "kube-apiserver").write_bytes(b"tampered after checksumming\n")
    (dist / "SHA256SUMS").write_bytes(sums)
    r = attest("provenance", "local://", "--subjects-from-checksums", dist / "SHA256SUMS")
    assert r.code == 2
    assert "kube-apiserver has sha256:" in r.err and "the file says sha256:" in r.err
    # absent files are taken as listed (the attester cannot read them)
    (dist / "kube-apiserver").unlink()
    r = attest("provenance", "local://", "--subjects-from-checksums", dist / "SHA256SUMS")
    assert r.code == 0, r.err


def test_checked_against_artifacts_stores(attest, repo, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(repo)
    sums = tmp_path / "checksums.txt"  # elsewhere: only --artifacts can check it
    sums.write_text(f"{hashlib.sha256(b'other').hexdigest()}  kube-apiserver\n")
    r = attest("provenance", "local://", "--subjects-from-checksums", sums,
               "--artifacts", "file://dist")
    assert r.code == 2 and "kube-apiserver has sha256:" in r.err


@pytest.mark.parametrize(("content", "needle"), [
    (b"not a checksum\n", "line 1: not a checksum line"),
    (b"abc  short\n", "line 1: not a checksum line"),
    (f"{'a' * 64}  ../etc/passwd\n".encode(), "is not a relative file name"),
    (f"{'a' * 64}  /abs\n".encode(), "is not a relative file name"),
    (b"\n# only a comment\n", "lists no checksums"),
    (f"SHA512 (x) = {'a' * 64}\n".encode(), "not a checksum line"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_bad_checksum_files(attest, repo, monkeypatch, content, needle) -> None:
    monkeypatch.chdir(repo)
    (repo / "SUMS").write_bytes(content)
    r = attest("provenance", "local://", "--subjects-from-checksums", repo / "SUMS")
    assert r.code == 2 and needle in r.err, r.err


def test_bad_subject_digest(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    for spec, needle in (("x=sha256:abc", "exactly 64 hex digits"), ("noequals", "NAME=sha256"),
                         ("x=md5:" + "0" * 32, "one of")):
        r = attest("provenance", "local://", "--subject-digest", spec)
        assert r.code == 2 and needle in r.err, r.err
