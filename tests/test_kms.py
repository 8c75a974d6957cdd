"""attest sign --kms through securesystemslib's signer registry, against a local stand-in
speaking HashiCorp Vault's transit REST API (read key, sign) and holding a local key."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from servers import send

TOKEN = "hvs.standin-token"


class VaultTransit:
    def __init__(self) -> None:
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.signed: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def _send(self, code: int, doc: dict) -> None:
                send(self, code, json.dumps(doc).encode())

            def _authorized(self) -> bool:
                if self.headers.get("X-Vault-Token") != TOKEN:
                    self._send(403, {"errors": ["permission denied"]})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._authorized():
                    return None
                if self.path != "/v1/transit/keys/release":
                    return self._send(404, {"errors": []})
                raw = outer.key.public_key().public_bytes(serialization.Encoding.Raw,
                                                          serialization.PublicFormat.Raw)
                return self._send(200, {"data": {"type": "ed25519", "latest_version": 1, "keys": {
                    "1": {"public_key": base64.b64encode(raw).decode(), "name": "ed25519"}}}})

            def do_POST(self) -> None:
                if not self._authorized():
                    return None
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/v1/transit/sign/release":
                    return self._send(404, {"errors": []})
                data = base64.b64decode(body["input"])
                outer.signed.append(data)
                sig = base64.b64encode(outer.key.sign(data)).decode()
                return self._send(200, {"data": {"signature": f"vault:v1:{sig}", "key_version": 1}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> VaultTransit:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vault(monkeypatch) -> Iterator[VaultTransit]:
    with VaultTransit() as v:
        monkeypatch.setenv("VAULT_ADDR", v.url)
        monkeypatch.setenv("VAULT_TOKEN", TOKEN)
        yield v


def test_sign_with_kms_and_verify(attest, vault, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    r = attest("keygen", "--kms", "hv://release", "--out", "kms")
    assert r.code == 0, r.err
    assert not (repo / "kms.key").exists()
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    r = attest("sign", "p.json", "--kms", "hv://release", "-o", "p.intoto.json")
    assert r.code == 0, r.err
    assert len(vault.signed) == 1 and vault.signed[0].startswith(b"DSSEv1 28 application/vnd.in-toto+json ")
    r = attest("verify", "p.intoto.json", "--key", "kms.pub", "--artifact", "dist/bin/kubectl")
    assert r.code == 0, r.err
    assert TOKEN not in r.out + r.err


def test_kms_errors_are_clear(attest, vault, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    r = attest("sign", "p.json", "--kms", "hv://missing-key")
    assert r.code == 2 and "KMS hv://missing-key: reading the key" in r.err
    monkeypatch.setenv("VAULT_TOKEN", "wrong")
    r = attest("sign", "p.json", "--kms", "hv://release")
    assert r.code == 2 and "Forbidden" in r.err and "wrong" not in r.err.replace("Forbidden", "")
    r = attest("sign", "p.json", "--kms", "mykms://x")
    assert r.code == 2 and "expected one of gcpkms:..." in r.err


def test_vault_uri_form_is_securesystemslibs_in_readme_help_and_code(attest, vault, repo,
                                                                    monkeypatch) -> None:
    """securesystemslib names a Vault key hv:NAME/VERSION; docs/provenance.md and sign --help document
    hv:NAME[/VERSION], and both spellings sign (the version is checked, not ignored)."""
    import re
    from contextlib import redirect_stdout
    from io import StringIO

    from securesystemslib.signer import VaultSigner

    from conftest import ROOT

    documented = "hv:NAME[/VERSION]"
    assert f"`{documented}`" in (ROOT / "docs" / "provenance.md").read_text()
    out = StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit):
        attest("sign", "--help")
    assert documented in " ".join(out.getvalue().split())
    form = re.compile(r"hv:(?P<name>[^/]+)(/(?P<version>\d+))?")
    sslib_uri, _ = VaultSigner.import_("release")
    assert sslib_uri == "hv:release/1" and form.fullmatch(sslib_uri)
    monkeypatch.chdir(repo)
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    for uri in (sslib_uri, "hv:release", "hv://release/1"):
        r = attest("sign", "p.json", "--kms", uri, "-o", "p.intoto.json")
        assert r.code == 0, (uri, r.err)
    assert len(vault.signed) == 3
    r = attest("sign", "p.json", "--kms", "hv:release/2")
    assert r.code == 2 and "Vault key 'release' is at version 1" in r.err
    assert len(vault.signed) == 3


# -- Google Cloud KMS, through its REST API (getPublicKey, asymmetricSign) ------------------

KEY_NAME = "projects/k8s-releng/locations/global/keyRings/release/cryptoKeys/provenance/cryptoKeyVersions/1"


class CloudKms:
    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP256R1())
        self.digests: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.split("?")[0] != f"/v1/{KEY_NAME}/publicKey":
                    return send(self, 404, b'{"error": {"code": 404, "message": "key not found", "status": "NOT_FOUND"}}')
                pem = outer.key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                return send(self, 200, json.dumps({
                    "pem": pem.decode(), "algorithm": "EC_SIGN_P256_SHA256", "name": KEY_NAME,
                    "publicKey": {"data": base64.b64encode(pem).decode()},
                    "publicKeyFormat": "PEM"}).encode())

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.split("?")[0] != f"/v1/{KEY_NAME}:asymmetricSign":
                    return send(self, 404, b'{"error": {"code": 404, "message": "no", "status": "NOT_FOUND"}}')
                from cryptography.hazmat.primitives import hashes
                from cryptography.hazmat.primitives.asymmetric import ec, utils

                digest = base64.b64decode(body["digest"]["sha256"])
                outer.digests.append(digest)
                sig = outer.key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
                return send(self, 200, json.dumps({"signature": base64.b64encode(sig).decode(),
                                                   "name": KEY_NAME}).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> CloudKms:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_gcpkms_sign_and_verify(attest, repo, monkeypatch) -> None:
    import hashlib

    with CloudKms() as kms:
        monkeypatch.setenv("ATTEST_GCPKMS_ENDPOINT", kms.url)
        monkeypatch.chdir(repo)
        uri = f"gcpkms://{KEY_NAME}"
        r = attest("keygen", "--kms", uri, "--out", "gcp")
        assert r.code == 0, r.err
        assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
        r = attest("sign", "p.json", "--kms", uri, "-o", "p.intoto.json")
        assert r.code == 0, r.err
        env = json.loads((repo / "p.intoto.json").read_text())
        pae = b"DSSEv1 28 application/vnd.in-toto+json %d " % len(base64.b64decode(env["payload"])) \
            + base64.b64decode(env["payload"])
        assert kms.digests == [hashlib.sha256(pae).digest()]
        r = attest("verify", "p.intoto.json", "--key", "gcp.pub", "--artifact", "dist/bin/kubectl")
        assert r.code == 0, r.err
        r = attest("sign", "p.json", "--kms", f"gcpkms://{KEY_NAME.replace('provenance', 'other')}")
        assert r.code == 2 and "KMS gcpkms://" in r.err and "NotFound" in r.err
