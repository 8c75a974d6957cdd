"""A local Sigstore: OIDC issuer, Fulcio CA (with a CT log's embedded SCTs) and Rekor v1,
built on ``cryptography`` and served on 127.0.0.1, so keyless signing runs end to end
through the real ``sigstore`` client without the internet.

It behaves as the real services do where a client or verifier can tell: Fulcio checks the
token's signature, audience and expiry and binds its identity (email or sub) and issuer
into a short-lived code-signing certificate with an embedded SCT; Rekor canonicalizes the
entry, returns a signed entry timestamp and an RFC 6962 inclusion proof with a signed
checkpoint. The trust config it hands out names these keys and nothing else.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from servers import send

START = "2020-01-01T00:00:00Z"


def _der(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _utf8string(value: str) -> bytes:
    raw = value.encode()
    assert len(raw) < 128
    return bytes([0x0C, len(raw)]) + raw


def _octet_string(raw: bytes) -> bytes:
    n = len(raw)
    if n < 128:
        return bytes([0x04, n]) + raw
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(size)]) + size + raw


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + a + b).digest()


def _root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return _node(_root(leaves[:k]), _root(leaves[k:]))


def _path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 2.1.1 audit path, leaf to root."""
    if len(leaves) <= 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < k:
        return [*_path(index, leaves[:k]), _root(leaves[k:])]
    return [*_path(index - k, leaves[k:]), _root(leaves[:k])]


class SigstoreStandIn:
    def __init__(self) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        self.ca_key = ec.generate_private_key(ec.SECP384R1())
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.rekor_key = ec.generate_private_key(ec.SECP256R1())
        self.oidc_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "attester-test"),
                          x509.NameAttribute(NameOID.COMMON_NAME, "standin-fulcio")])
        self.ca_cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self.ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()),
                           critical=False)
            .sign(self.ca_key, hashes.SHA384()))
        self.entries: list[bytes] = []
        self.tree_id = 1193050959916656506
        self.actions_request_token = "actions-request-token"
        self.lock = threading.Lock()
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                # GitHub Actions' OIDC token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)
                outer.requests.append(self.path)
                if not self.path.startswith("/oidc/token"):
                    return send(self, 404, b'{"message": "not found"}')
                if self.headers.get("Authorization") != f"bearer {outer.actions_request_token}":
                    return send(self, 403, b'{"message": "bad request token"}')
                token = outer.token("https://github.com/o/r/.github/workflows/release.yml@refs/heads/main")
                return send(self, 200, json.dumps({"value": token}).encode())

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append(self.path)
                try:
                    if self.path == "/api/v2/signingCert":
                        code, doc = outer.fulcio(self.headers.get("Authorization", ""), body)
                    elif self.path == "/api/v1/log/entries":
                        code, doc = outer.rekor(body)
                    else:
                        code, doc = 404, {"message": "not found"}
                except Exception as e:  # noqa: BLE001 - the stand-in answers like a server
                    code, doc = 400, {"message": f"{type(e).__name__}: {e}"}
                send(self, code, json.dumps(doc).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = f"{self.url}/oidc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SigstoreStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- OIDC -------------------------------------------------------------------------
    def token(self, email: str = "release-bot@example.com", *, lifetime: int = 600) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": "sigstore", "sub": email, "email": email,
                  "email_verified": True, "iat": now, "nbf": now, "exp": now + lifetime}
        return jwt.encode(claims, self.oidc_key, algorithm="ES256")

    # -- Fulcio -----------------------------------------------------------------------
    def fulcio(self, auth: str, body: bytes) -> tuple[int, dict[str, Any]]:
        token = auth.removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, self.oidc_key.public_key(), algorithms=["ES256"],
                                audience="sigstore", issuer=self.issuer)
        except jwt.PyJWTError as e:
            return 401, {"message": f"invalid identity token: {e}"}
        csr = x509.load_pem_x509_csr(base64.b64decode(json.loads(body)["certificateSigningRequest"]))
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        san = x509.RFC822Name(claims["email"]) if claims.get("email") else \
            x509.UniformResourceIdentifier(claims["sub"])
        ski = self.ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateBuilder().subject_name(x509.Name([]))
            .issuer_name(self.ca_cert.subject).public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(minutes=10))
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), self.issuer.encode()),
                critical=False)
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8"), _utf8string(self.issuer)),
                critical=False)
        )
        # The SCT signs the certificate's TBS without the SCT list (RFC 6962 3.2).
        tbs = builder.sign(self.ca_key, hashes.SHA384()).tbs_certificate_bytes
        ts = int(time.time() * 1000)
        issuer_key_hash = hashlib.sha256(_der(self.ca_key.public_key())).digest()
        signed = struct.pack("!BBQH", 0, 0, ts, 1) + issuer_key_hash + \
            len(tbs).to_bytes(3, "big") + tbs + struct.pack("!H", 0)
        sig = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        log_id = hashlib.sha256(_der(self.ct_key.public_key())).digest()
        sct = struct.pack("!B32sQH", 0, log_id, ts, 0) + struct.pack("!BBH", 4, 3, len(sig)) + sig
        sct_list = struct.pack("!HH", len(sct) + 2, len(sct)) + sct
        cert = builder.add_extension(x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2"), _octet_string(sct_list)),
            critical=False).sign(self.ca_key, hashes.SHA384())
        pem = [c.public_bytes(serialization.Encoding.PEM).decode() for c in (cert, self.ca_cert)]
        return 201, {"signedCertificateEmbeddedSct": {"chain": {"certificates": pem}}}

    # -- Rekor v1 -----------------------------------------------------------------------
    def rekor(self, body: bytes) -> tuple[int, dict[str, Any]]:
        proposed = json.loads(body)
        if proposed["kind"] == "dsse":
            content = proposed["spec"]["proposedContent"]
            envelope = json.loads(content["envelope"])
            payload = base64.b64decode(envelope["payload"])
            entry = {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
                "envelopeHash": {"algorithm": "sha256",
                                 "value": hashlib.sha256(content["envelope"].encode()).hexdigest()},
                "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
                "signatures": [{"signature": s["sig"], "verifier": content["verifiers"][0]}
                               for s in envelope["signatures"]]}}
        elif proposed["kind"] == "hashedrekord":
            entry = {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": proposed["spec"]}
        else:
            return 400, {"message": f"unsupported kind {proposed['kind']}"}
        return 201, self.log(entry)

    def log(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append an entry body; the v1 API's answer for it."""
        canonical = rfc8785.dumps(entry)
        with self.lock:
            self.entries.append(canonical)
            index = len(self.entries) - 1
            leaves = [_leaf(e) for e in self.entries]
        root = _root(leaves)
        proof = _path(index, leaves)
        log_id = hashlib.sha256(_der(self.rekor_key.public_key())).digest()
        integrated = int(time.time())
        body_b64 = base64.b64encode(canonical).decode()
        set_payload = rfc8785.dumps({"body": body_b64, "integratedTime": integrated,
                                     "logID": log_id.hex(), "logIndex": index})
        set_sig = self.rekor_key.sign(set_payload, ec.ECDSA(hashes.SHA256()))
        checkpoint = self.checkpoint(len(leaves), root)
        uuid = hashlib.sha256(canonical).hexdigest()
        return {uuid: {"body": body_b64, "integratedTime": integrated,
                            "logID": log_id.hex(), "logIndex": index, "verification": {
                                "inclusionProof": {"checkpoint": checkpoint,
                                                   "hashes": [h.hex() for h in proof],
                                                   "logIndex": index, "rootHash": root.hex(),
                                                   "treeSize": len(leaves)},
                                "signedEntryTimestamp": base64.b64encode(set_sig).decode()}}}

    def checkpoint(self, size: int, root: bytes, *, name: str | None = None) -> str:
        """A signed note as Rekor v1 writes it: named after the log's host (what its
        trusted-root ``baseUrl`` says, without scheme), then the tree id."""
        name = name or self.url.split("://", 1)[1]
        log_id = hashlib.sha256(_der(self.rekor_key.public_key())).digest()
        note = f"{name} - {self.tree_id}\n{size}\n{base64.b64encode(root).decode()}\n"
        note_sig = self.rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        return note + "\n" + f"\u2014 {name} " + \
            base64.b64encode(log_id[:4] + note_sig).decode() + "\n"

    # -- trust material -------------------------------------------------------------------
    def _key(self, key: Any) -> dict[str, Any]:
        return {"rawBytes": base64.b64encode(_der(key.public_key())).decode(),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": START}}

    def trusted_root(self) -> dict[str, Any]:
        def log(key: Any) -> dict[str, Any]:
            return {"baseUrl": self.url, "hashAlgorithm": "SHA2_256", "publicKey": self._key(key),
                    "logId": {"keyId": base64.b64encode(
                        hashlib.sha256(_der(key.public_key())).digest()).decode()}}

        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log(self.rekor_key)],
            "certificateAuthorities": [{
                "subject": {"organization": "attester-test", "commonName": "standin-fulcio"},
                "uri": self.url,
                "certChain": {"certificates": [{"rawBytes": base64.b64encode(
                    self.ca_cert.public_bytes(serialization.Encoding.DER)).decode()}]},
                "validFor": {"start": START}}],
            "ctlogs": [log(self.ct_key)],
            "timestampAuthorities": [],
        }

    def trust_config(self) -> dict[str, Any]:
        service = {"url": self.url, "majorApiVersion": 1, "validFor": {"start": START},
                   "operator": "attester-test"}
        return {
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": self.trusted_root(),
            "signingConfig": {
                "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
                "caUrls": [service], "oidcUrls": [dict(service, url=self.issuer)],
                "rekorTlogUrls": [service], "tsaUrls": [],
                "rekorTlogConfig": {"selector": "ANY"}, "tsaConfig": {"selector": "ANY"}},
        }

    # -- a bundle whose entry is intoto 0.0.2 (as slsa-github-generator and npm logged) ----
    def intoto_bundle(self, payload: bytes, email: str = "release-bot@example.com",
                      log_edit: Any = None) -> dict[str, Any]:
        """``log_edit`` changes the body before it is logged: a log that lies, but signs."""
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
               .sign(key, hashes.SHA256()))
        _, resp = self.fulcio("Bearer " + self.token(email), json.dumps({
            "certificateSigningRequest": base64.b64encode(
                csr.public_bytes(serialization.Encoding.PEM)).decode()}).encode())
        leaf_pem = resp["signedCertificateEmbeddedSct"]["chain"]["certificates"][0].encode()
        ptype = "application/vnd.in-toto+json"
        pae = b"DSSEv1 %d %b %d %b" % (len(ptype), ptype.encode(), len(payload), payload)
        sig = key.sign(pae, ec.ECDSA(hashes.SHA256()))
        envelope = {"payload": base64.b64encode(payload).decode(), "payloadType": ptype,
                    "signatures": [{"sig": base64.b64encode(sig).decode()}]}
        body = {"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
            "envelope": {"payloadType": ptype, "signatures": [{
                "sig": base64.b64encode(base64.b64encode(sig)).decode(),
                "publicKey": base64.b64encode(leaf_pem).decode()}]},
            # as sigstore-js and sigstore-go compute it: canonical JSON of the logged envelope
            "hash": {"algorithm": "sha256", "value": hashlib.sha256(rfc8785.dumps({
                "payloadType": ptype, "payload": envelope["payload"],
                "signatures": [{"sig": envelope["signatures"][0]["sig"],
                                "publicKey": leaf_pem.decode()}]})).hexdigest()},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}}}}
        if log_edit:
            log_edit(body)
        (entry,) = self.log(body).values()
        proof = entry["verification"]["inclusionProof"]
        leaf_der = x509.load_pem_x509_certificate(leaf_pem).public_bytes(serialization.Encoding.DER)
        return {
            "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.2",
            "verificationMaterial": {
                "x509CertificateChain": {"certificates": [
                    {"rawBytes": base64.b64encode(leaf_der).decode()}]},
                "tlogEntries": [{
                    "logIndex": str(entry["logIndex"]),
                    "logId": {"keyId": base64.b64encode(bytes.fromhex(entry["logID"])).decode()},
                    "kindVersion": {"kind": "intoto", "version": "0.0.2"},
                    "integratedTime": str(entry["integratedTime"]),
                    "inclusionPromise": {"signedEntryTimestamp":
                                         entry["verification"]["signedEntryTimestamp"]},
                    "inclusionProof": {
                        "logIndex": str(proof["logIndex"]),
                        "rootHash": base64.b64encode(bytes.fromhex(proof["rootHash"])).decode(),
                        "treeSize": str(proof["treeSize"]),
                        "hashes": [base64.b64encode(bytes.fromhex(h)).decode()
                                   for h in proof["hashes"]],
                        "checkpoint": {"envelope": proof["checkpoint"]}},
                    "canonicalizedBody": entry["body"]}]},
            "dsseEnvelope": envelope,
        }
