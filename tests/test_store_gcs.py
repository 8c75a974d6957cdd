"""gs:// against gcp-storage-emulator on 127.0.0.1, through google-cloud-storage."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from attester.errors import StoreError
from attester.stores import collect_subjects
from attester.stores.gcs import GcsStore

pytestmark = pytest.mark.gcs


def _bucket(gcs, name: str, objects: dict[str, bytes]):
    bucket = gcs.bucket(name)
    if not bucket.exists():
        bucket = gcs.create_bucket(name)
    for obj, data in objects.items():
        bucket.blob(obj).upload_from_string(data)
    return bucket


def test_provenance_from_a_bucket(attest, gcs, repo, monkeypatch) -> None:
    big = b"x" * (20 << 20) + b"tail"  # several ranged reads
    _bucket(gcs, "k8s-staging", {"stage/v1.31.0/kubectl": b"kubectl",
                                 "stage/v1.31.0/bin/big.tar.gz": big,
                                 "stage/v1.31.0/": b"",
                                 "stage/v1.30.0/kubectl": b"old"})
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts", "gs://k8s-staging/stage/v1.31.0/",
               "--digest", "sha512")
    assert r.code == 0, r.err
    subjects = {s["name"]: s for s in json.loads(r.out)["subject"]}
    assert set(subjects) == {"gs://k8s-staging/stage/v1.31.0/bin/big.tar.gz",
                             "gs://k8s-staging/stage/v1.31.0/kubectl"}
    big_subject = subjects["gs://k8s-staging/stage/v1.31.0/bin/big.tar.gz"]
    assert big_subject["digest"] == {"sha256": hashlib.sha256(big).hexdigest(),
                                     "sha512": hashlib.sha512(big).hexdigest()}


def test_pagination_over_a_thousand_objects(gcs) -> None:
    bucket = _bucket(gcs, "many", {})
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: bucket.blob(f"p/f{i:04d}").upload_from_string(str(i)),
                      range(1005)))
    subjects = collect_subjects(GcsStore.from_uri("gs://many/p/", client=gcs))
    assert len(subjects) == 1005
    assert subjects[1004].name == "gs://many/p/f1004"
    assert subjects[1004].digest["sha256"] == hashlib.sha256(b"1004").hexdigest()


def test_object_changed_between_listing_and_reading(gcs) -> None:
    bucket = _bucket(gcs, "racy", {"a/kubectl": b"original"})
    store = GcsStore.from_uri("gs://racy/a/", client=gcs)
    entries = store.entries()
    bucket.blob("a/kubectl").upload_from_string(b"replaced by an attacker")
    from attester.stores import digest_entries
    with pytest.raises(StoreError, match="gs://racy/a/kubectl: changed while it was being hashed"):
        digest_entries(store, entries)


def test_missing_bucket_and_empty_prefix(attest, gcs, repo, monkeypatch) -> None:
    _bucket(gcs, "present", {"x/y": b"1"})
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts", "gs://absent-bucket/stage")
    assert r.code == 2
    assert "gs://absent-bucket/stage: bucket 'absent-bucket' does not exist" in r.err
    r = attest("provenance", "local://", "--artifacts", "gs://present/nothing-here/")
    assert r.code == 2
    assert "gs://present/nothing-here/: no objects under this prefix" in r.err


def test_verify_against_a_bucket(attest, gcs, repo, monkeypatch, tmp_path) -> None:
    bucket = _bucket(gcs, "release", {"v1/kubectl": b"k", "v1/kubeadm": b"a"})
    monkeypatch.chdir(repo)
    assert attest("keygen", "--out", tmp_path / "k").code == 0
    assert attest("provenance", "local://", "--artifacts", "gs://release/v1/",
                  "-o", tmp_path / "p.json").code == 0
    assert attest("sign", tmp_path / "p.json", "--key", tmp_path / "k.key",
                  "-o", tmp_path / "p.intoto.json").code == 0
    ok = attest("verify", tmp_path / "p.intoto.json", "--key", tmp_path / "k.pub",
                "--artifacts", "gs://release/v1/", "--require-complete")
    assert ok.code == 0, ok.err
    bucket.blob("v1/extra").upload_from_string(b"unattested")
    r = attest("verify", tmp_path / "p.intoto.json", "--key", tmp_path / "k.pub",
               "--artifacts", "gs://release/v1/", "--require-complete")
    assert r.code == 1
    assert "'gs://release/v1/extra' is in the store but no subject covers it" in r.err
    bucket.blob("v1/kubectl").upload_from_string(b"swapped")
    r = attest("verify", tmp_path / "p.intoto.json", "--key", tmp_path / "k.pub",
               "--artifacts", "gs://release/v1/")
    assert r.code == 1
    assert "digest mismatch for 'gs://release/v1/kubectl'" in r.err


def test_snapshot_uses_generations_for_a_shared_bucket(attest, gcs, repo, monkeypatch) -> None:
    bucket = _bucket(gcs, "shared", {"stage/other-build/x": b"someone else's",
                                     "stage/ours/kubectl": b"old"})
    monkeypatch.chdir(repo)
    r = attest("start", "--artifacts", "gs://shared/stage/", "-o", "before.json")
    assert r.code == 0, r.err
    entries = json.loads((repo / "before.json").read_text())["stores"][0]["entries"]
    assert set(entries["gs://shared/stage/ours/kubectl"]) == {"generation", "md5"}
    bucket.blob("stage/ours/kubectl").upload_from_string(b"new build")  # same bytes size, new gen
    bucket.blob("stage/ours/kubeadm").upload_from_string(b"added")
    r = attest("provenance", "local://", "--artifacts", "gs://shared/stage/",
               "--snapshot", "before.json")
    assert r.code == 0, r.err
    names = sorted(s["name"] for s in json.loads(r.out)["subject"])
    assert names == ["gs://shared/stage/ours/kubeadm", "gs://shared/stage/ours/kubectl"]


def test_transient_errors_are_retried_then_reported(gcs, emulator, monkeypatch) -> None:
    from servers import FaultProxy

    _bucket(gcs, "flaky", {"a": b"payload"})
    monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.01")
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    with FaultProxy(emulator.removeprefix("http://")) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        client = storage.Client(project="test", credentials=AnonymousCredentials())
        proxy.script = [(429, {"Retry-After": "0"}), (503, {})]
        (subject,) = collect_subjects(GcsStore.from_uri("gs://flaky/", client=client))
        assert subject.digest["sha256"] == hashlib.sha256(b"payload").hexdigest()
        assert proxy.script == []
        # no request of the library's own on a background thread (its bucket metadata
        # cache) may take the fault scripted next for ours
        assert getattr(client, "_bucket_metadata_cache", None) is None
        proxy.script = [(403, {})]
        from attester.errors import ServiceError
        with pytest.raises(ServiceError, match="gs://flaky/: access denied"):
            GcsStore.from_uri("gs://flaky/", client=client).entries()


def test_single_object_artifact_is_exact(attest, gcs, repo, monkeypatch, tmp_path) -> None:
    _bucket(gcs, "exact", {"v1/kubectl": b"k", "v1/kubectl.sha256": b"digest file"})
    monkeypatch.chdir(repo)
    assert attest("keygen", "--out", tmp_path / "k").code == 0
    assert attest("provenance", "local://", "--artifacts", "gs://exact/v1/kubectl",
                  "-o", tmp_path / "p.json").code == 0
    names = [s["name"] for s in json.loads((tmp_path / "p.json").read_text())["subject"]]
    assert names == ["gs://exact/v1/kubectl", "gs://exact/v1/kubectl.sha256"]  # a prefix store
    doc = json.loads((tmp_path / "p.json").read_text())
    doc["subject"] = doc["subject"][:1]
    (tmp_path / "one.json").write_text(json.dumps(doc))
    assert attest("sign", tmp_path / "one.json", "--key", tmp_path / "k.key",
                  "-o", tmp_path / "one.intoto.json").code == 0
    r = attest("verify", tmp_path / "one.intoto.json", "--key", tmp_path / "k.pub",
               "--artifact", "gs://exact/v1/kubectl")
    assert r.code == 0, r.err  # the .sha256 sibling is not dragged in as an artifact
