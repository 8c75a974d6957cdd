"""oci:// against Debian's docker-registry on 127.0.0.1, images pushed through the API."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import requests

from attester.clients.retry import RetryPolicy, parse_retry_after
from attester.errors import InputError, ServiceError
from attester.stores import collect_subjects
from attester.stores.oci import OciStore, Reference, is_loopback

from servers import oci_registry, send

pytestmark = pytest.mark.registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Iterator[str]:
    with oci_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(reg: str, repo: str, data: bytes) -> str:
    d = _digest(data)
    r = requests.post(f"http://{reg}/v2/{repo}/blobs/uploads/", timeout=10)
    assert r.status_code == 202, r.text
    loc = r.headers["Location"]
    url = loc if loc.startswith("http") else f"http://{reg}{loc}"
    r = requests.put(url + ("&" if "?" in url else "?") + f"digest={d}", data=data,
                     headers={"Content-Type": "application/octet-stream"}, timeout=10)
    assert r.status_code == 201, r.text
    return d


def push_manifest(reg: str, repo: str, ref: str, body: bytes, media_type: str) -> str:
    r = requests.put(f"http://{reg}/v2/{repo}/manifests/{ref}", data=body,
                     headers={"Content-Type": media_type}, timeout=10)
    assert r.status_code == 201, r.text
    return _digest(body)


def push_image(reg: str, repo: str, tag: str, arch: str = "amd64") -> tuple[str, bytes]:
    config = json.dumps({"architecture": arch, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = f"layer for {repo}:{tag} {arch}".encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": push_blob(reg, repo, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": push_blob(reg, repo, layer), "size": len(layer)}],
    }).encode()
    return push_manifest(reg, repo, tag, manifest, OCI_MANIFEST), manifest


def push_multiarch(reg: str, repo: str, tag: str) -> tuple[str, dict[str, str]]:
    children = {}
    descs = []
    for arch in ("amd64", "arm64"):
        d, body = push_image(reg, repo, f"{tag}-{arch}", arch)
        children[f"linux/{arch}"] = d
        descs.append({"mediaType": OCI_MANIFEST, "digest": d, "size": len(body),
                      "platform": {"os": "linux", "architecture": arch}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs}).encode()
    return push_manifest(reg, repo, tag, index, OCI_INDEX), children


def test_tag_digest_and_canonical_name(attest, registry, repo, monkeypatch) -> None:
    d, _ = push_image(registry, "k8s-staging/kube-apiserver", "v1.31.0")
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts",
               f"oci://{registry}/k8s-staging/kube-apiserver:v1.31.0")
    assert r.code == 0, r.err
    (subject,) = json.loads(r.out)["subject"]
    assert subject["name"] == f"{registry}/k8s-staging/kube-apiserver:v1.31.0"
    assert "sha256:" + subject["digest"]["sha256"] == d
    by_digest = collect_subjects(OciStore.from_uri(f"oci://{registry}/k8s-staging/kube-apiserver@{d}"))
    assert by_digest[0].name == f"{registry}/k8s-staging/kube-apiserver@{d}"
    assert "sha256:" + by_digest[0].digest["sha256"] == d


def test_multiarch_index_and_platforms(registry) -> None:
    index_digest, children = push_multiarch(registry, "k8s-staging/pause", "3.10")
    plain = collect_subjects(OciStore.from_uri(f"oci://{registry}/k8s-staging/pause:3.10"))
    assert [("sha256:" + s.digest["sha256"]) for s in plain] == [index_digest]
    assert plain[0].annotations["mediaType"] == OCI_INDEX
    full = collect_subjects(OciStore.from_uri(f"oci://{registry}/k8s-staging/pause:3.10",
                                              platforms=True))
    platforms = {s.annotations.get("platform"): "sha256:" + s.digest["sha256"] for s in full[1:]}
    assert platforms == children


def test_no_tag_lists_every_tag(registry) -> None:
    for t in ("v1", "v2", "v3"):
        push_image(registry, "k8s-staging/bom", t)
    names = [s.name for s in collect_subjects(OciStore.from_uri(f"oci://{registry}/k8s-staging/bom"))]
    assert names == [f"{registry}/k8s-staging/bom:{t}" for t in ("v1", "v2", "v3")]


def test_missing_tag_and_repo_are_clear_errors(attest, registry, repo, monkeypatch) -> None:
    push_image(registry, "k8s-staging/etcd", "3.5")
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts", f"oci://{registry}/k8s-staging/etcd:9.9")
    assert r.code == 2
    assert f"oci://{registry}/k8s-staging/etcd:9.9: not found at {registry} (MANIFEST_UNKNOWN" in r.err
    r = attest("provenance", "local://", "--artifacts", f"oci://{registry}/no/such/repo")
    assert r.code == 2 and "not found" in r.err and "NAME_UNKNOWN" in r.err


@pytest.mark.parametrize(("uri", "needle"), [
    ("oci://registry.k8s.io", "expected oci://REGISTRY/REPOSITORY"),
    ("oci://r.io/Upper/Case:v1", "not a valid repository name"),
    ("oci://r.io/repo@sha256:abc", "digest must be sha256"),
    ("oci://r.io/repo:bad/tag", "not a valid repository name"),
    ("oci://r.io/a//b:v1", "not a valid repository name"),
    ("oci://r.io/-a:v1", "not a valid repository name"),
])
def test_bad_references(uri, needle) -> None:
    with pytest.raises(InputError, match=needle):
        Reference.parse(uri)


def test_plain_http_only_for_loopback() -> None:
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost:5000") and is_loopback("[::1]:5000")
    assert not is_loopback("registry.k8s.io") and not is_loopback("10.0.0.1:5000")
    assert OciStore.from_uri("oci://registry.k8s.io/pause:3.10").client.base.startswith("https://")
    assert OciStore.from_uri("oci://10.1.2.3:5000/pause:3.10", insecure=True).client.base.startswith("http://")


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert RetryPolicy(base_delay=1).delay(1, "2") == 2.0
    assert 0 <= RetryPolicy(base_delay=1).delay(3) <= 4


# -- a proxy in front of the real registry: injects failures and demands bearer auth --

class Proxy(ThreadingHTTPServer):
    upstream: str
    script: list[tuple[int, dict[str, str]]]
    token: str | None = None
    users: ClassVar[dict[str, str]] = {"robot": "hunter2"}
    seen: list[str]
    rewrite: dict[str, str]


class ProxyHandler(BaseHTTPRequestHandler):
    server: Proxy

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, code: int, headers: dict[str, str], body: bytes = b"") -> None:
        send(self, code, body, headers)

    def do_GET(self) -> None:
        srv = self.server
        srv.seen.append(self.path)
        if self.path.startswith("/token"):
            auth = self.headers.get("Authorization", "")
            want = "Basic " + base64.b64encode(b"robot:hunter2").decode()
            if auth != want:
                self._send(401, {})
                return
            self._send(200, {"Content-Type": "application/json"}, json.dumps({"token": "t0k"}).encode())
            return
        if srv.script:
            code, headers = srv.script.pop(0)
            self._send(code, headers, b'{"errors":[]}')
            return
        if srv.token and self.headers.get("Authorization") != f"Bearer {srv.token}":
            realm = f"http://127.0.0.1:{srv.server_address[1]}/token"
            self._send(401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="test",scope="repository:x:pull"',
                             "Content-Type": "application/json"},
                       b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
            return
        path = srv.rewrite.get(self.path, self.path)
        r = requests.get(f"http://{srv.upstream}{path}", timeout=10,
                         headers={"Accept": self.headers.get("Accept", "")})
        keep = {k: v for k, v in r.headers.items()
                if k in ("Content-Type", "Docker-Content-Digest", "Link")}
        self._send(r.status_code, keep, r.content)


@pytest.fixture
def proxy(registry) -> Iterator[Proxy]:
    srv = Proxy(("127.0.0.1", 0), ProxyHandler)
    srv.upstream, srv.script, srv.seen, srv.token = registry, [], [], None
    srv.rewrite = {}
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _store(proxy: Proxy, ref: str) -> OciStore:
    sleeps: list[float] = []
    store = OciStore.from_uri(f"oci://127.0.0.1:{proxy.server_address[1]}/{ref}",
                              retry=RetryPolicy(attempts=4, base_delay=0.01, sleep=sleeps.append))
    store.client.sleeps = sleeps  # type: ignore[attr-defined]
    return store


def test_429_with_retry_after_and_502_succeed_on_retry(registry, proxy) -> None:
    d, _ = push_image(registry, "flaky/img", "v1")
    proxy.script = [(429, {"Retry-After": "7"}), (502, {})]
    store = _store(proxy, "flaky/img:v1")
    (subject,) = collect_subjects(store)
    assert "sha256:" + subject.digest["sha256"] == d
    assert store.client.sleeps[0] == 7.0  # type: ignore[attr-defined]
    assert len(store.client.sleeps) == 2  # type: ignore[attr-defined]


def test_persistent_5xx_gives_up_clearly(registry, proxy) -> None:
    push_image(registry, "flaky/img", "v2")
    proxy.script = [(503, {})] * 10
    with pytest.raises(ServiceError, match="answered 503 Service Unavailable 4 times; giving up"):
        collect_subjects(_store(proxy, "flaky/img:v2"))


def test_bearer_token_from_docker_config(registry, proxy, tmp_path, monkeypatch) -> None:
    d, _ = push_image(registry, "private/img", "v1")
    proxy.token = "t0k"
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    with pytest.raises(ServiceError, match=r"token server .* answered 401"):
        collect_subjects(_store(proxy, "private/img:v1"))
    host = f"127.0.0.1:{proxy.server_address[1]}"
    (tmp_path / "config.json").write_text(json.dumps(
        {"auths": {host: {"auth": base64.b64encode(b"robot:hunter2").decode()}}}))
    (subject,) = collect_subjects(_store(proxy, "private/img:v1"))
    assert "sha256:" + subject.digest["sha256"] == d


def test_401_without_auth_challenge_is_clear(registry, proxy, attest, repo, monkeypatch) -> None:
    proxy.script = [(401, {})] * 3
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts",
               f"oci://127.0.0.1:{proxy.server_address[1]}/private/img:v1")
    assert r.code == 2
    assert "unauthorized at 127.0.0.1" in r.err and "docker login" in r.err


def test_registry_serving_other_content_for_a_digest_is_caught(registry, proxy) -> None:
    genuine, _ = push_image(registry, "liar/img", "v1")
    push_image(registry, "liar/img", "evil", arch="s390x")
    proxy.rewrite = {f"/v2/liar/img/manifests/{genuine}": "/v2/liar/img/manifests/evil"}
    with pytest.raises(ServiceError, match=f"asked for {genuine}, received content with sha256:"):
        collect_subjects(_store(proxy, f"liar/img@{genuine}"))


def test_cli_oci_platforms_and_snapshot(attest, registry, repo, monkeypatch) -> None:
    index_digest, children = push_multiarch(registry, "k8s-staging/coredns", "1.11")
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts", f"oci://{registry}/k8s-staging/coredns:1.11",
               "--oci-platforms")
    assert r.code == 0, r.err
    digests = {"sha256:" + s["digest"]["sha256"] for s in json.loads(r.out)["subject"]}
    assert digests == {index_digest, *children.values()}
    assert attest("start", "--artifacts", f"oci://{registry}/k8s-staging/coredns", "-o", "s.json").code == 0
    push_image(registry, "k8s-staging/coredns", "1.12")
    r = attest("provenance", "local://", "--artifacts", f"oci://{registry}/k8s-staging/coredns",
               "--snapshot", "s.json")
    assert r.code == 0, r.err
    assert [s["name"] for s in json.loads(r.out)["subject"]] == [f"{registry}/k8s-staging/coredns:1.12"]


def test_docker_hub_names() -> None:
    store = OciStore.from_uri("oci://docker.io/alpine:3.20")
    assert store.ref.repository == "library/alpine"
    assert store.client.base == "https://registry-1.docker.io/v2/"
    assert store.ref.name(tag="3.20") == "docker.io/library/alpine:3.20"


def test_manifest_fetching_shows_progress_on_a_terminal(registry, repo) -> None:
    from conftest import on_terminal

    for tag in ("p1", "p2", "p3"):
        push_image(registry, "progress/app", tag)
    cmd = ["provenance", "local://", "--artifacts", f"oci://{registry}/progress/app"]
    code, shown = on_terminal(cmd, repo)
    assert code == 0 and "fetching 3/3 image manifests" in shown, shown
    code, quiet = on_terminal([*cmd, "--quiet"], repo)
    assert code == 0 and "fetching" not in quiet
