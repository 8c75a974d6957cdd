"""Resolution many at a time (--jobs) keeps output order and each item's own error,
against the real registry (Debian's docker-registry) and the GCS emulator."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_store_oci import OCI_MANIFEST, push_blob, push_manifest

from attester.errors import StoreError
from attester.stores.oci import Clients

from servers import oci_registry

N = 24


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Iterator[str]:
    with oci_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


def image(reg: str, repos: list[str], i: int, *, tag: str | None = "v1") -> str:
    """One image (same manifest) in each repository; tagged there unless ``tag`` is None."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": i}).encode()
    layer = f"layer {i}".encode()
    body = b""
    for repo in repos:
        c, la = push_blob(reg, repo, config), push_blob(reg, repo, layer)
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": c, "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": la, "size": len(layer)}]}).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        push_manifest(reg, repo, tag or digest, body, OCI_MANIFEST)
    return digest


def manifest(path: Path, reg: str, space: str, digests: list[str]) -> Path:
    lines = ["registries:", f"- name: {reg}/{space}/staging", "  src: true",
             f"- name: {reg}/{space}/prod", "images:"]
    for i, d in enumerate(digests):
        lines += [f"- name: img{i:02d}", "  dmap:", f'    "{d}": ["v1"]']
    path.write_text("\n".join(lines) + "\n")
    return path


def test_promote_output_order_is_the_manifests_whatever_the_jobs(attest, registry,
                                                                  tmp_path) -> None:
    digests = [image(registry, [f"ok/staging/img{i:02d}", f"ok/prod/img{i:02d}"], i)
               for i in range(N)]
    m = manifest(tmp_path / "m.yaml", registry, "ok", digests)
    outs = {}
    for jobs in ("1", "8", "32"):
        r = attest("promote", "--manifest", m, "--jobs", jobs)
        assert r.code == 0, r.err
        docs = [json.loads(line) for line in r.out.splitlines()]
        outs[jobs] = [(d["subject"][0]["name"], d["subject"][0]["digest"]["sha256"])
                      for d in docs]
    assert outs["1"] == [(f"{registry}/ok/prod/img{i:02d}", d.removeprefix("sha256:"))
                         for i, d in enumerate(digests)]
    assert outs["8"] == outs["1"] == outs["32"]


def test_promote_reports_the_first_failure_in_manifest_order(attest, registry,
                                                             tmp_path) -> None:
    digests = []
    for i in range(N):
        staging, prod = f"bad/staging/img{i:02d}", f"bad/prod/img{i:02d}"
        if i == 5:  # in production by digest, but the tag was never pushed
            digests.append(image(registry, [staging], i))
            image(registry, [prod], i, tag=None)
        elif i == 11:  # production holds the image, but its tag points at another one
            digests.append(image(registry, [staging], i))
            image(registry, [prod], i, tag=None)
            image(registry, [prod], 100 + i)
        else:
            digests.append(image(registry, [staging, prod], i))
    m = manifest(tmp_path / "m.yaml", registry, "bad", digests)
    errs = set()
    for jobs in ("1", "8", "32"):
        r = attest("promote", "--manifest", m, "--jobs", jobs)
        assert r.code == 2 and r.out == ""
        assert f"oci://{registry}/bad/prod/img05:v1: not found at {registry}" in r.err
        errs.add(r.err)
    assert len(errs) == 1  # the same line whatever the scheduling
    # Without the missing tag, the changed image is what fails: exit 1, naming it.
    image(registry, ["bad/prod/img05"], 5)
    r = attest("promote", "--manifest", m, "--jobs", "8")
    assert r.code == 1
    assert f"promotion: {registry}/bad/prod/img11:v1 has digest sha256:" in r.err
    assert f"the source has {digests[11]}" in r.err


def test_shared_clients_resolve_many_repositories(registry) -> None:
    digests = [image(registry, [f"many/r{i:02d}"], i) for i in range(N)]
    clients = Clients(jobs=8)
    from attester.parallel import map_ordered

    uris = [f"oci://{registry}/many/r{i:02d}:v1" for i in range(N)]
    uris.insert(7, f"oci://{registry}/many/absent:v1")
    got = map_ordered(clients.digest, uris, jobs=8)
    assert [g for i, g in enumerate(got) if i != 7] == digests
    assert isinstance(got[7], StoreError) and "many/absent:v1: not found" in str(got[7])
    assert len(clients._clients) == 1  # one client (one connection pool) per registry


# -- gs:// on the GCS emulator: downloads --jobs at a time, while listing -------------

def _objects(gcs, name: str, n: int) -> dict[str, bytes]:
    from concurrent.futures import ThreadPoolExecutor

    bucket = gcs.create_bucket(name)
    data = {f"stage/f{i:03d}": f"object {i:03d}".encode() for i in range(n)}
    data["stage/big.tar.gz"] = b"B" * (GCS_SMALL + 5)  # streamed in ranged reads, not ahead
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kv: bucket.blob(kv[0]).upload_from_string(kv[1]), data.items()))
    return data


GCS_SMALL = 1 << 20


@pytest.mark.gcs
def test_gcs_subjects_keep_listing_order_whatever_the_jobs(gcs) -> None:
    from attester.stores import collect_subjects
    from attester.stores.gcs import PREFETCH_MAX_OBJECT, GcsStore

    assert PREFETCH_MAX_OBJECT == GCS_SMALL
    data = _objects(gcs, "order", 40)
    runs = {}
    for jobs in (1, 8):
        subjects = collect_subjects(GcsStore.from_uri("gs://order/stage/", client=gcs, jobs=jobs))
        runs[jobs] = [(s.name, s.digest["sha256"]) for s in subjects]
    assert runs[1] == sorted((f"gs://order/{k}", hashlib.sha256(v).hexdigest())
                             for k, v in data.items())
    assert runs[8] == runs[1]


@pytest.mark.gcs
def test_gcs_objects_rewritten_after_listing_fail_in_listing_order(gcs) -> None:
    from attester.stores import digest_entries
    from attester.stores.gcs import GcsStore

    _objects(gcs, "racy-many", 30)
    bucket = gcs.bucket("racy-many")
    for jobs in (1, 8):
        store = GcsStore.from_uri("gs://racy-many/stage/", client=gcs, jobs=jobs)
        entries = [e for e in store.entries() if e.size < GCS_SMALL]
        for i in (7, 21):  # same size, other bytes: only the listed MD5 tells
            bucket.blob(f"stage/f{i:03d}").upload_from_string(f"OBJEC{jobs} {i:03d}".encode())
        with pytest.raises(StoreError) as e:
            digest_entries(store, entries)
        assert str(e.value).startswith(  # the first in listing order, whatever the jobs
            "gs://racy-many/stage/f007: changed while it was being hashed (listed with 10 "
            "bytes, md5 "), str(e.value)


@pytest.mark.gcs
def test_gcs_downloads_go_through_the_retry_loop(gcs, emulator, monkeypatch) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from attester.errors import ServiceError
    from attester.stores import digest_entries
    from attester.stores.gcs import GcsStore

    from servers import FaultProxy

    gcs.create_bucket("flaky-many")
    monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.01")
    with FaultProxy(emulator.removeprefix("http://"), keep_host=True) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        client = storage.Client(project="test", credentials=AnonymousCredentials())
        for i in range(3):  # uploaded through the proxy: the media links point at it
            client.bucket("flaky-many").blob(f"o{i}").upload_from_string(f"payload {i}")
        store = GcsStore.from_uri("gs://flaky-many/", client=client, jobs=4)
        entries = store.entries()
        assert all(e.handle.media_link.startswith(proxy.url) for e in entries)
        proxy.script = [(503, {}), (429, {"Retry-After": "0"})]
        digests = digest_entries(store, entries)
        assert proxy.script == []
        assert [d["sha256"] for d in digests] == [
            hashlib.sha256(f"payload {i}".encode()).hexdigest() for i in range(3)]
        proxy.script = [(503, {})] * 5
        with pytest.raises(ServiceError, match=r"gs://flaky-many/o0: storage answered 503 5 "
                                               "times; giving up"):
            digest_entries(store, entries[:1])


def test_require_provenance_reports_images_in_manifest_order(attest, registry, repo,
                                                             monkeypatch) -> None:
    monkeypatch.chdir(repo)
    for role in ("stage", "intruder"):
        assert attest("keygen", "--type", "ed25519", "--out", role).code == 0
    n = 10
    digests = [image(registry, [f"prov/staging/img{i:02d}", f"prov/prod/img{i:02d}"], i)
               for i in range(n)]
    for i, d in enumerate(digests):
        if i == 3:
            continue  # nothing attached
        ref = f"oci://{registry}/prov/staging/img{i:02d}@{d}"
        assert attest("provenance", "local://", "--artifacts", ref, "-o", "s.json").code == 0
        signer = "intruder" if i == 7 else "stage"
        assert attest("sign", "s.json", "--key", f"{signer}.key", "-o", "s.intoto.json").code == 0
        r = attest("attach", ref, "s.intoto.json")
        assert r.code == 0, r.err
    m = manifest(repo / "m.yaml", registry, "prov", digests)
    errs = set()
    for jobs in ("1", "8"):
        r = attest("promote", "--manifest", m, "--require-provenance", "warn", "--key",
                   "stage.pub", "--jobs", jobs)
        assert r.code == 0, r.err
        warnings = [ln for ln in r.err.splitlines() if "staging provenance" in ln]
        assert [w.split("/prov/staging/")[1].split("@")[0] for w in warnings] == \
            ["img03", "img07"]
        assert "no attestation is attached" in warnings[0]
        errs.add(tuple(warnings))
        r = attest("promote", "--manifest", m, "--require-provenance", "require", "--key",
                   "stage.pub", "--jobs", jobs)
        assert r.code == 1 and r.out == ""
        assert f"oci://{registry}/prov/staging/img03@{digests[3]}: staging provenance " \
               "does not verify" in r.err
    assert len(errs) == 1


def test_one_token_per_repository_however_many_threads(registry, tmp_path,
                                                       monkeypatch) -> None:
    import base64
    import threading

    from test_store_oci import Proxy, ProxyHandler

    from attester.parallel import map_ordered

    digests = {r: image(registry, [f"tok/{r}"], i) for i, r in enumerate(("a", "b", "c"))}
    srv = Proxy(("127.0.0.1", 0), ProxyHandler)
    srv.upstream, srv.script, srv.seen, srv.token, srv.rewrite = registry, [], [], "t0k", {}
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        host = f"127.0.0.1:{srv.server_address[1]}"
        (tmp_path / "config.json").write_text(json.dumps(
            {"auths": {host: {"auth": base64.b64encode(b"robot:hunter2").decode()}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
        uris = [f"oci://{host}/tok/{r}@{digests[r]}" for r in "abc" for _ in range(8)]
        got = map_ordered(Clients(jobs=8).digest, uris, jobs=8)
        assert got == [digests[r] for r in "abc" for _ in range(8)]
        assert len([p for p in srv.seen if p.startswith("/token")]) == 3  # one per repository
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_failing_registry_stops_the_promotion_early(attest, registry, tmp_path,
                                                      monkeypatch) -> None:
    import threading

    from test_store_oci import Proxy, ProxyHandler

    monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.001")
    srv = Proxy(("127.0.0.1", 0), ProxyHandler)
    srv.upstream, srv.seen, srv.token, srv.rewrite = registry, [], None, {}
    srv.script = [(503, {})] * 10_000  # every request: the registry is down
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        host = f"127.0.0.1:{srv.server_address[1]}"
        digests = ["sha256:" + f"{i:064x}" for i in range(40)]
        m = manifest(tmp_path / "m.yaml", host, "down", digests)
        r = attest("promote", "--manifest", m, "--jobs", "4")
        assert r.code == 2
        assert f"oci://{host}/down/staging/img00@{digests[0]}: registry {host} answered " \
               "503 Service Unavailable 5 times; giving up" in r.err
        # 120 references x 5 attempts if every one were tried; the first failure stops
        # new ones, so about the 4 in flight are.
        assert len(srv.seen) <= 40, len(srv.seen)
    finally:
        srv.shutdown()
        srv.server_close()
