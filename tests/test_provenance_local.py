"""attest provenance local:// --artifacts file://DIR, as a release engineer runs it."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from attester.errors import StoreError
from attester.stores.file import FileStore
from attester.watchers.local import normalize_remote

from conftest import assert_valid_statement, git


def test_provenance_of_a_local_build(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts", "file://dist", "--output", "prov.json")
    assert r.code == 0, r.err
    doc = json.loads((repo / "prov.json").read_text())
    assert_valid_statement(doc)
    names = {s["name"]: s["digest"] for s in doc["subject"]}
    assert names == {
        "bin/kubectl": {"sha256": hashlib.sha256(b"kubectl\n").hexdigest()},
        "kube-apiserver": {"sha256": hashlib.sha256(b"apiserver\n" * 1000).hexdigest()},
    }
    bd = doc["predicate"]["buildDefinition"]
    commit = git(repo, "rev-parse", "HEAD")
    assert bd["buildType"] == "https://attester.dev/buildtypes/local/v1"
    assert bd["externalParameters"]["source"] == {
        "repository": "git+https://github.com/example/project.git", "ref": "refs/heads/main"}
    assert bd["resolvedDependencies"][0] == {
        "uri": "git+https://github.com/example/project.git@refs/heads/main",
        "digest": {"gitCommit": commit}, "annotations": {"dirty": False}}
    assert bd["internalParameters"] == {"workingTreeClean": True}
    rd = doc["predicate"]["runDetails"]
    assert rd["builder"]["id"] == "https://attester.dev/builders/local/v1"
    assert rd["metadata"]["finishedOn"].endswith("Z")
    from attester.model import schemas
    assert schemas.errors(bd, "buildtype-local-v1.schema.json") == []


def test_dirty_tree_custom_builder_and_sha512(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    (repo / "main.go").write_text("package main // edited\n")
    r = attest("provenance", "local://", "--artifacts", "file://dist", "--digest", "sha512",
               "--builder-id", "https://ci.example.com/builder@v1")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert_valid_statement(doc)
    kubectl = next(s for s in doc["subject"] if s["name"] == "bin/kubectl")
    assert kubectl["digest"]["sha512"] == hashlib.sha512(b"kubectl\n").hexdigest()
    assert kubectl["digest"]["sha256"] == hashlib.sha256(b"kubectl\n").hexdigest()
    assert doc["predicate"]["buildDefinition"]["internalParameters"]["workingTreeClean"] is False
    assert doc["predicate"]["runDetails"]["builder"]["id"] == "https://ci.example.com/builder@v1"


def test_slsa_v02_output(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts", "file://dist", "--slsa", "0.2")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["predicateType"] == "https://slsa.dev/provenance/v0.2"
    assert_valid_statement(doc)
    p = doc["predicate"]
    assert p["builder"]["id"] == "https://attester.dev/builders/local/v1"
    assert p["invocation"]["configSource"]["digest"]["sha1"] == git(repo, "rev-parse", "HEAD")
    assert p["materials"][0]["uri"].endswith("@refs/heads/main")


def test_detached_head_at_tag_records_tag_ref(attest, repo, monkeypatch) -> None:
    git(repo, "tag", "v1.2.3")
    git(repo, "checkout", "-q", "--detach", "v1.2.3")
    monkeypatch.chdir(repo)
    doc = json.loads(attest("provenance", "local://", "--artifacts", "file://dist").out)
    assert doc["predicate"]["buildDefinition"]["externalParameters"]["source"]["ref"] == \
        "refs/tags/v1.2.3"


@pytest.mark.parametrize(("remote", "expected"), [
    ("https://user:ghp_secrettoken@github.com/o/r.git", "git+https://github.com/o/r.git"),
    ("https://x-access-token:abc@github.com:8443/o/r", "git+https://github.com:8443/o/r"),
    ("git@github.com:o/r.git", "git+ssh://git@github.com/o/r.git"),
    ("ssh://git@example.com/o/r", "git+ssh://git@example.com/o/r"),
])
def test_remote_urls_never_keep_credentials(remote, expected, tmp_path) -> None:
    assert normalize_remote(remote, tmp_path) == expected


def test_credentials_in_remote_never_reach_output(attest, repo, monkeypatch) -> None:
    git(repo, "remote", "set-url", "origin", "https://bot:ghp_TOPSECRET@github.com/o/r.git")
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts", "file://dist")
    assert r.code == 0
    assert "TOPSECRET" not in r.out + r.err


def test_not_a_git_checkout_is_a_clear_error(attest, tmp_path, monkeypatch) -> None:
    (tmp_path / "a").write_text("x")
    monkeypatch.chdir(tmp_path)
    r = attest("provenance", "local://", "--artifacts", "file://a")
    assert r.code == 2
    assert r.err.strip() == (
        f"attest: error: local://: {tmp_path.resolve()} is not inside a git checkout; "
        "local:// records the commit the build was made from (run attest in the checkout, "
        "or name it as local://PATH)")


def test_a_checkout_without_commits_is_a_clear_error(attest, tmp_path, monkeypatch) -> None:
    from conftest import git

    git(tmp_path, "init", "-q")
    (tmp_path / "a").write_text("x")
    r = attest("provenance", f"local://{tmp_path}", "--artifacts", f"file://{tmp_path}/a")
    assert r.code == 2
    assert f"local://: the git checkout {tmp_path} has no commit yet" in r.err
    assert "fatal" not in r.err


def test_a_bare_path_gets_the_uri_it_meant(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts", "dist")
    assert r.code == 2
    assert ("'dist' is not an artifact store URI; expected one of file://, gs://, oci://, "
            "github-release://, github-artifacts:// (for a local path write file://dist)") in r.err
    r = attest("provenance", str(repo), "--artifacts", "file://dist")
    assert r.code == 2 and f"(for a checkout at that path write local://{repo})" in r.err


def test_no_artifacts_is_a_usage_error(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://")
    assert r.code == 2
    assert "no subjects" in r.err


def test_unknown_schemes_are_usage_errors(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    r = attest("provenance", "jenkins://x", "--artifacts", "file://dist")
    assert r.code == 2 and "unknown build source scheme 'jenkins://'" in r.err
    r = attest("provenance", "local://", "--artifacts", "ftp://x/y")
    assert r.code == 2 and "unknown artifact store scheme 'ftp://'" in r.err


def test_output_is_atomic_and_left_alone_on_error(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    (repo / "prov.json").write_text("previous")
    r = attest("provenance", "local://", "--artifacts", "file://missing", "--output", "prov.json")
    assert r.code == 2
    assert "file://missing: no such file or folder" in r.err
    assert (repo / "prov.json").read_text() == "previous"
    assert [p.name for p in repo.iterdir() if p.name.startswith(".prov.json")] == []


# -- file:// store --------------------------------------------------------------------

def test_symlink_outside_the_folder_is_an_error_naming_the_link(tmp_path) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "secret").write_text("not an artifact")
    os.symlink(tmp_path / "secret", tmp_path / "dist" / "innocent")
    with pytest.raises(StoreError, match=r"dist/innocent: symlink points outside"):
        FileStore.from_uri(f"file://{tmp_path / 'dist'}").entries()


def test_relative_symlink_escape_is_caught_too(tmp_path) -> None:
    (tmp_path / "dist" / "sub").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("x")
    os.symlink("../../etc/passwd", tmp_path / "dist" / "sub" / "p")
    with pytest.raises(StoreError, match="symlink points outside"):
        FileStore.from_uri(f"file://{tmp_path / 'dist'}").entries()


def test_symlinks_inside_the_folder_are_followed_and_broken_ones_fail(tmp_path) -> None:
    d = tmp_path / "dist"
    (d / "real").mkdir(parents=True)
    (d / "real" / "f").write_text("data")
    os.symlink("real/f", d / "alias")
    os.symlink("real", d / "dirlink")
    names = [e.name for e in FileStore.from_uri(f"file://{d}").entries()]
    assert names == ["alias", "real/f"]
    os.symlink("nowhere", d / "broken")
    with pytest.raises(StoreError, match="broken symlink"):
        FileStore.from_uri(f"file://{d}").entries()


def test_fifo_is_skipped_not_hung_on(tmp_path, capsys) -> None:
    d = tmp_path / "dist"
    d.mkdir()
    (d / "f").write_text("x")
    os.mkfifo(d / "pipe")
    assert [e.name for e in FileStore.from_uri(f"file://{d}").entries()] == ["f"]
    assert "pipe: not a regular file" in capsys.readouterr().err


def test_single_file_store(tmp_path) -> None:
    (tmp_path / "a.tar.gz").write_bytes(b"z")
    entries = FileStore.from_uri(f"file://{tmp_path / 'a.tar.gz'}").entries()
    assert [e.name for e in entries] == ["a.tar.gz"]


def test_output_to_a_device_writes_through_and_keeps_the_device(attest, repo, monkeypatch):
    import stat as st

    monkeypatch.chdir(repo)
    fifo = repo / "out.fifo"
    os.mkfifo(fifo)
    import threading
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    r = attest("provenance", "local://", "--artifacts", "file://dist", "--output", fifo)
    reader.join(timeout=30)
    assert r.code == 0, r.err
    assert st.S_ISFIFO(fifo.stat().st_mode), "the fifo must not be replaced by a file"
    assert json.loads(got[0])["_type"] == "https://in-toto.io/Statement/v1"


def _drain(fd: int) -> str:
    """Everything written to a pty's master; Linux says EIO once the slave is closed."""
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out.decode(errors="replace")


def test_progress_meter_only_on_a_terminal(repo) -> None:
    """The meter is drawn on stderr when it is a terminal, never into pipes or with -q."""
    import pty
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "attester", "provenance", "local://", "--artifacts",
           "file://dist", "-o", str(repo / "p.json")]
    master, slave = pty.openpty()
    proc = subprocess.run(cmd, cwd=repo, stderr=slave, stdout=subprocess.DEVNULL, timeout=60,
                          check=False)
    os.close(slave)
    shown = _drain(master)
    os.close(master)
    assert proc.returncode == 0
    assert "hashing 2/2 files" in shown
    piped = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=60, check=False)
    assert piped.returncode == 0 and "hashing" not in piped.stderr
    master, slave = pty.openpty()
    subprocess.run([*cmd, "--quiet"], cwd=repo, stderr=slave, stdout=subprocess.DEVNULL,
                   timeout=60, check=False)
    os.close(slave)
    quiet = _drain(master)
    os.close(master)
    assert "hashing" not in quiet


def test_two_stores_naming_the_same_subject_are_refused(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    (repo / "other").mkdir()
    (repo / "other" / "kubectl").write_bytes(b"another kubectl")
    r = attest("provenance", "local://", "--artifacts", "file://dist/bin", "--artifacts",
               "file://other")
    assert r.code == 2
    assert "two artifacts share the subject name 'kubectl'" in r.err


def test_folder_swapped_for_a_symlink_after_listing_is_not_followed(tmp_path) -> None:
    """Issue 16 item 8: listed, then a folder is replaced by a symlink to a folder outside
    the root holding a file of the same name: hashing reads through the root's handle, one
    component at a time without following links, so the outside file is never read."""
    from attester.errors import InputError
    from attester.stores import digest_entries

    d = tmp_path / "dist"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "app").write_bytes(b"the real app")
    (d / "top").write_bytes(b"top")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "app").write_bytes(b"a secret outside the folder")
    store = FileStore.from_uri(f"file://{d}")
    entries = store.entries()
    assert [e.name for e in entries] == ["sub/app", "top"]
    os.rename(d / "sub", tmp_path / "sub.moved")
    os.symlink(tmp_path / "outside", d / "sub")
    with pytest.raises(StoreError) as err:
        digest_entries(store, entries)
    assert isinstance(err.value, InputError)  # exit 2 in the CLI
    assert err.value.message == (f"{d}/sub/app: a folder or file on its path was replaced by "
                                 f"a symlink while hashing; refusing to read outside {d}")
    # the file itself swapped for a link: refused the same way
    os.remove(d / "sub")
    os.rename(tmp_path / "sub.moved", d / "sub")
    os.rename(d / "sub" / "app", d / "sub" / "app.moved")
    os.symlink(tmp_path / "outside" / "app", d / "sub" / "app")
    with pytest.raises(StoreError, match="replaced by a symlink while hashing"):
        digest_entries(store, entries)
    # and the root renamed after listing changes nothing: its handle is read
    os.remove(d / "sub" / "app")
    os.rename(d / "sub" / "app.moved", d / "sub" / "app")
    os.rename(d, tmp_path / "dist.moved")
    os.symlink(tmp_path / "outside", d)
    import hashlib

    assert [x["sha256"] for x in digest_entries(store, entries)] == [
        hashlib.sha256(b"the real app").hexdigest(), hashlib.sha256(b"top").hexdigest()]


def test_dir_root_refuses_what_is_not_a_plain_file_under_it(tmp_path) -> None:
    from attester.hashing import DirRoot

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    os.mkfifo(tmp_path / "d" / "pipe")
    root = DirRoot(str(tmp_path / "d"))
    with root.open("f") as f:
        assert f.read() == b"x"
    for rel in ("../d/f", "./f", "/f", "pipe"):
        with pytest.raises(OSError):
            root.open(rel)
    root.close()


def test_audit_reads_through_the_folder_handle_too(tmp_path) -> None:
    """Issue 16 item 8, audit's side: a folder of the release swapped for a symlink after
    the scan is refused (exit 2 class), never read outside the release folder."""
    from attester.errors import InputError
    from attester.hashing import DirRoot
    from attester.release import audit

    rel = tmp_path / "release"
    (rel / "bin").mkdir(parents=True)
    (rel / "bin" / "kubectl").write_bytes(b"kubectl")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "kubectl").write_bytes(b"secret")
    root = DirRoot(str(rel))
    found = audit.scan(str(rel))
    assert [name for name, _, _ in found.files] == ["bin/kubectl"]
    os.rename(rel / "bin", tmp_path / "bin.moved")
    os.symlink(tmp_path / "outside", rel / "bin")
    with pytest.raises(InputError) as err:
        audit._opener(root, "bin/kubectl")()
    assert err.value.message == ("bin/kubectl: a folder or file on its path was replaced by a "
                                 "symlink during the audit; refusing to read outside "
                                 f"{rel}")
