"""Issue 9 item 8: ``verify oci://`` against a hostile registry. A real HTTP server on
127.0.0.1 speaks the distribution API for one image and answers the referrers and blob
requests with what an attacker would send: huge blobs, lists where objects belong,
descriptors without digests, thousands of referrers. Every case ends as one precise line
(exit 1 or 2) with bounded memory, never an internal error."""

from __future__ import annotations

import hashlib
import json
import resource
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from attester.signing import keys

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
IMAGE = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "x", "digest": "sha256:" + "0" * 64, "size": 1},
                    "layers": []}).encode()
IMAGE_DIGEST = "sha256:" + hashlib.sha256(IMAGE).hexdigest()


def _d(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Hostile(ThreadingHTTPServer):
    #: path -> (status, headers, body or a callable writing the body)
    routes: dict[str, tuple[int, dict[str, str], Any]]
    requests: list[str]


class Handler(BaseHTTPRequestHandler):
    server: Hostile
    protocol_version = "HTTP/1.0"  # bodies without Content-Length end when we close

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        code, headers, body = self.server.routes.get(self.path.split("?")[0],
                                                     (404, {}, b'{"errors":[]}'))
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        if isinstance(body, bytes):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if callable(body):
                body(self.wfile)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: what a capped reader does


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    srv = Hostile(("127.0.0.1", 0), Handler)
    srv.routes, srv.requests = {}, []
    srv.routes["/v2/app/manifests/v1"] = (200, {"Content-Type": OCI_MANIFEST,
                                                "Docker-Content-Digest": IMAGE_DIGEST}, IMAGE)
    srv.routes[f"/v2/app/manifests/{IMAGE_DIGEST}"] = srv.routes["/v2/app/manifests/v1"]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _uri(srv: Hostile) -> str:
    return f"oci://127.0.0.1:{srv.server_address[1]}/app:v1"


def _referrers(srv: Hostile, body: Any) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    srv.routes[f"/v2/app/referrers/{IMAGE_DIGEST}"] = (200, {"Content-Type": OCI_INDEX}, data)


def _referrer(srv: Hostile, layer_digest: str, size: int, body: Any) -> str:
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": DSSE,
                           "config": {"mediaType": "x", "digest": _d(b"{}"), "size": 2},
                           "layers": [{"mediaType": DSSE, "digest": layer_digest, "size": size}],
                           "subject": {"mediaType": OCI_MANIFEST, "digest": IMAGE_DIGEST,
                                       "size": len(IMAGE)}}).encode()
    srv.routes[f"/v2/app/manifests/{_d(manifest)}"] = (200, {"Content-Type": OCI_MANIFEST},
                                                       manifest)
    srv.routes[f"/v2/app/blobs/{layer_digest}"] = (200, {}, body)
    return _d(manifest)


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    p = tmp_path / "k.pub"
    p.write_bytes(keys.public_pem(keys.generate("ed25519").public_key()))
    return p


def _verify(attest: Callable[..., Any], srv: Hostile, pub: Path, *extra: str) -> Any:
    r = attest("verify", _uri(srv), "--key", pub, *extra)
    assert "internal error" not in r.err and "Traceback" not in r.err, r.err
    assert r.err.count("\n") == 1, r.err
    return r


@pytest.mark.parametrize(("body", "needle"), [
    ([{"digest": "sha256:" + "a" * 64}], "expected a JSON object, got a JSON list"),
    ({"manifests": {"digest": "x"}}, "'manifests' is not a list"),
    ({"manifests": [{"artifactType": DSSE}]}, "descriptor 0 has no sha256 digest"),
    ({"manifests": ["sha256:" + "a" * 64]}, "descriptor 0 has no sha256 digest"),
    ({"manifests": [{"digest": "sha256:", "artifactType": DSSE}]},
     "descriptor 0 has no sha256 digest"),
    ({"manifests": [{"digest": "sha256:" + "a" * 64, "annotations": []}]},
     "'annotations' is not an object"),
    (b"[" * 100_000, "nested more than 128 levels deep"),
])
def test_malformed_referrers_are_one_line_errors(attest, hostile, pub, body, needle) -> None:
    _referrers(hostile, body)
    r = _verify(attest, hostile, pub)
    assert r.code == 2 and needle in r.err, r.err


def test_huge_blob_is_refused_without_reading_it(attest, hostile, pub) -> None:
    """A blob that never ends (no Content-Length) is cut at 16 MiB: memory stays bounded."""
    chunk = b"\0" * (1 << 20)

    def endless(w: Any) -> None:
        for _ in range(1536):  # 1.5 GiB if anyone read it all
            w.write(chunk)

    digest = _referrer(hostile, "sha256:" + "b" * 64, 100, endless)
    _referrers(hostile, {"manifests": [{"digest": digest, "artifactType": DSSE,
                                        "mediaType": OCI_MANIFEST}]})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = _verify(attest, hostile, pub)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert r.code == 2 and "layer 0: more than 16 MiB; refusing it" in r.err, r.err
    assert grown_mib < 200, f"memory grew by {grown_mib:.0f} MiB"


def test_blob_announced_too_big_is_refused(attest, hostile, pub) -> None:
    digest = _referrer(hostile, "sha256:" + "c" * 64, 1 << 40, b"x")
    _referrers(hostile, {"manifests": [{"digest": digest, "artifactType": DSSE}]})
    r = _verify(attest, hostile, pub)
    assert r.code == 2 and "more than the 16 MiB" in r.err


def test_layer_without_digest_is_refused(attest, hostile, pub) -> None:
    manifest = json.dumps({"schemaVersion": 2, "layers": [{"size": 3}],
                           "subject": {"digest": IMAGE_DIGEST}}).encode()
    hostile.routes[f"/v2/app/manifests/{_d(manifest)}"] = (200, {"Content-Type": OCI_MANIFEST},
                                                           manifest)
    _referrers(hostile, {"manifests": [{"digest": _d(manifest), "artifactType": DSSE}]})
    r = _verify(attest, hostile, pub)
    assert r.code == 2 and "layer 0 has no sha256 digest" in r.err


def test_referrers_examined_are_capped(attest, hostile, pub) -> None:
    """Thousands of listed referrers: only --limit (default 30) are fetched."""
    many = [{"digest": "sha256:" + f"{i:064x}", "artifactType": DSSE} for i in range(5000)]
    _referrers(hostile, {"manifests": many})
    r = _verify(attest, hostile, pub)
    assert r.code == 2  # the first listed manifest is not there: a 404, said in one line
    fetched = [p for p in hostile.requests if "/manifests/sha256:" in p
               and IMAGE_DIGEST not in p]
    assert len(fetched) == 1
    _referrers(hostile, {"manifests": many[:0]})
    r = _verify(attest, hostile, pub, "--limit", "0")
    assert r.code == 2 and "--limit 0 must be at least 1" in r.err


def test_referrer_limit_stops_fetching(hostile, pub) -> None:
    from attester.stores.oci_referrers import Target, fetch_attestations

    docs = []
    for i in range(40):
        env = json.dumps({"payloadType": "x", "payload": "", "signatures": [], "n": i}).encode()
        docs.append({"digest": _referrer(hostile, _d(env), len(env), env), "artifactType": DSSE})
    _referrers(hostile, {"manifests": docs})
    target = Target.resolve(_uri(hostile))
    assert len(fetch_attestations(target)) == 30
    assert len(fetch_attestations(target, limit=5)) == 5


def test_a_garbage_referrer_does_not_hide_the_others(attest, hostile, pub) -> None:
    junk = b"not json at all"
    digest = _referrer(hostile, _d(junk), len(junk), junk)
    _referrers(hostile, {"manifests": [{"digest": digest, "artifactType": DSSE}]})
    r = _verify(attest, hostile, pub)
    assert r.code == 1 and "attestation 1: not valid JSON" in r.err, r.err


@pytest.mark.parametrize(("body", "needle"), [
    (b'["v1"]', "tag list: the answer is a list, expected an object"),
    (b'{"tags": "v1"}', "tag list: field 'tags' is a string, expected a list"),
    (b'{"tags": [1]}', "tag list: field 'tags[0]' is a number, expected a string"),
    (b"[" * 5000, "tag list: nested more than 128 levels deep"),
])
def test_malformed_tag_lists(attest, hostile, tmp_path, body, needle) -> None:
    hostile.routes["/v2/app/tags/list"] = (200, {"Content-Type": "application/json"}, body)
    r = attest("start", "--artifacts", f"oci://127.0.0.1:{hostile.server_address[1]}/app",
               "-o", tmp_path / "s.json")
    assert r.code == 2 and needle in r.err, r.err
    assert "internal error" not in r.err and r.err.count("\n") == 1
