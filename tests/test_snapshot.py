"""attest start / provenance --snapshot: only what the build added or changed."""

from __future__ import annotations

import json

from attester.model import schemas


def test_start_then_provenance_attests_only_new_and_changed(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    r = attest("start", "--artifacts", "file://dist", "--output", "before.json")
    assert r.code == 0, r.err
    snap = json.loads((repo / "before.json").read_text())
    assert schemas.errors(snap, "snapshot.schema.json") == []
    assert set(snap["stores"][0]["entries"]) == {"bin/kubectl", "kube-apiserver"}
    # the build: adds one file, rewrites another, leaves the third alone
    (repo / "dist" / "kubeadm").write_bytes(b"new")
    (repo / "dist" / "bin" / "kubectl").write_bytes(b"rebuilt")
    r = attest("provenance", "local://", "--artifacts", "file://dist", "--snapshot", "before.json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert sorted(s["name"] for s in doc["subject"]) == ["bin/kubectl", "kubeadm"]
    meta = doc["predicate"]["runDetails"]["metadata"]
    assert meta["startedOn"] == snap["createdOn"]


def test_nothing_new_is_an_error_not_an_empty_statement(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    assert attest("start", "--artifacts", "file://dist", "-o", "s.json").code == 0
    r = attest("provenance", "local://", "--artifacts", "file://dist", "--snapshot", "s.json")
    assert r.code == 2
    assert "nothing in the stores is new or changed since snapshot s.json" in r.err


def test_snapshot_must_know_the_store(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    assert attest("start", "--artifacts", "file://dist", "-o", "s.json").code == 0
    (repo / "other").mkdir()
    (repo / "other" / "f").write_text("x")
    r = attest("provenance", "local://", "--artifacts", "file://other", "--snapshot", "s.json")
    assert r.code == 2
    assert "has no record of file://other" in r.err


def test_malformed_snapshot(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    (repo / "s.json").write_text('{"_type": "https://attester.dev/snapshot/v1", "stores": 3}')
    r = attest("provenance", "local://", "--artifacts", "file://dist", "--snapshot", "s.json")
    assert r.code == 2 and "snapshot s.json: malformed" in r.err
    (repo / "s.json").write_text('{"_type": "x"}')
    r = attest("provenance", "local://", "--artifacts", "file://dist", "--snapshot", "s.json")
    assert r.code == 2 and "not an attest snapshot" in r.err


def test_start_needs_artifacts(attest) -> None:
    r = attest("start", "--output", "x.json")
    assert r.code == 2 and "nothing to record" in r.err
