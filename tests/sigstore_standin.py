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
from tsa_standin import TimestampAuthority

START = "2020-01-01T00:00:00Z"
GITHUB_ACTIONS = "https://token.actions.githubusercontent.com"


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


def _github_extensions(claims: dict[str, Any]) -> list[tuple[str, str]]:
    """Fulcio's mapping of a GitHub Actions token's claims to its CI extensions (the part
    the certificate <-> provenance cross-check reads; fulcio pkg/identity/ciprovider)."""
    if "repository" not in claims:
        return []
    server = "https://github.com"
    run = (f"{server}/{claims['repository']}/actions/runs/{claims.get('run_id', '1')}"
           f"/attempts/{claims.get('run_attempt', '1')}")
    workflow = claims.get("job_workflow_ref")  # the reusable workflow, when one is called
    values = {"1.3.6.1.4.1.57264.1.9": f"{server}/{workflow}" if workflow else "",
              "1.3.6.1.4.1.57264.1.11": claims.get("runner_environment", ""),
              "1.3.6.1.4.1.57264.1.12": f"{server}/{claims['repository']}",
              "1.3.6.1.4.1.57264.1.13": claims.get("sha", ""),
              "1.3.6.1.4.1.57264.1.14": claims.get("ref", ""),
              "1.3.6.1.4.1.57264.1.18": (f"{server}/{claims['workflow_ref']}"
                                         if claims.get("workflow_ref") else ""),
              "1.3.6.1.4.1.57264.1.20": claims.get("event_name", ""),
              "1.3.6.1.4.1.57264.1.21": run}
    return [(oid, v) for oid, v in values.items() if v]


def tlog_entry(entry: dict[str, Any], kind: str, version: str) -> dict[str, Any]:
    """A Rekor v1 API answer for one entry as a bundle's ``tlogEntries`` item (with its SET
    and its inclusion proof), as sigstore clients write it."""
    proof = entry["verification"]["inclusionProof"]
    return {
        "logIndex": str(entry["logIndex"]),
        "logId": {"keyId": base64.b64encode(bytes.fromhex(entry["logID"])).decode()},
        "kindVersion": {"kind": kind, "version": version},
        "integratedTime": str(entry["integratedTime"]),
        "inclusionPromise": {"signedEntryTimestamp":
                             entry["verification"]["signedEntryTimestamp"]},
        "inclusionProof": {
            "logIndex": str(proof["logIndex"]),
            "rootHash": base64.b64encode(bytes.fromhex(proof["rootHash"])).decode(),
            "treeSize": str(proof["treeSize"]),
            "hashes": [base64.b64encode(bytes.fromhex(h)).decode() for h in proof["hashes"]],
            "checkpoint": {"envelope": proof["checkpoint"]}},
        "canonicalizedBody": entry["body"]}


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
        self.by_uuid: dict[str, dict[str, Any]] = {}
        self.index: dict[str, list[str]] = {}
        self.tsa = TimestampAuthority(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
        self.rekor2_key = ec.generate_private_key(ec.SECP256R1())
        self.entries2: list[bytes] = []
        self.actions_request_token = "actions-request-token"
        self.lock = threading.Lock()
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                if self.path in outer.overrides:
                    code, raw = outer.overrides[self.path]
                    return send(self, code, raw)
                if self.path.startswith("/api/v1/log/entries/"):
                    found = outer.by_uuid.get(self.path.rsplit("/", 1)[1])
                    return send(self, 200 if found else 404, json.dumps(
                        found or {"code": 404, "message": "entry not found"}).encode())
                # GitHub Actions' OIDC token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)
                if not self.path.startswith("/oidc/token"):
                    return send(self, 404, b'{"message": "not found"}')
                if self.headers.get("Authorization") != f"bearer {outer.actions_request_token}":
                    return send(self, 403, b'{"message": "bad request token"}')
                token = outer.token("https://github.com/o/r/.github/workflows/release.yml@refs/heads/main")
                return send(self, 200, json.dumps({"value": token}).encode())

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append(self.path)
                if self.path in outer.overrides:
                    code, raw = outer.overrides[self.path]
                    return send(self, code, raw)
                if self.path == "/api/v1/timestamp":
                    try:
                        reply = outer.tsa.answer(json.loads(body))
                    except Exception as e:  # noqa: BLE001
                        return send(self, 400, json.dumps({"message": str(e)}).encode())
                    return send(self, 200, reply,
                                {"Content-Type": "application/timestamp-reply"})
                try:
                    if self.path == "/api/v2/signingCert":
                        code, doc = outer.fulcio(self.headers.get("Authorization", ""), body)
                    elif self.path == "/api/v1/log/entries":
                        code, doc = outer.rekor(body)
                    elif self.path == "/api/v1/index/retrieve":
                        query = json.loads(body)
                        code, doc = 200, list(outer.index.get(str(query.get("hash")), []))
                    elif self.path == "/api/v2/log/entries":
                        code, doc = outer.rekor_v2(body)
                    else:
                        code, doc = 404, {"message": "not found"}
                except Exception as e:  # noqa: BLE001 - the stand-in answers like a server
                    code, doc = 400, {"message": f"{type(e).__name__}: {e}"}
                return send(self, code, json.dumps(doc).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = f"{self.url}/oidc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        # Rekor v2 is another log at another address, named after it
        self.server2 = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url2 = f"http://127.0.0.1:{self.server2.server_address[1]}"
        self.thread2 = threading.Thread(target=self.server2.serve_forever, daemon=True)
        #: path -> (status, body) answered instead of the service (a hostile server)
        self.overrides: dict[str, tuple[int, bytes]] = {}

    def __enter__(self) -> SigstoreStandIn:
        self.thread.start()
        self.thread2.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in (self.server, self.server2):
            server.shutdown()
            server.server_close()

    # -- OIDC -------------------------------------------------------------------------
    def token(self, email: str = "release-bot@example.com", *, lifetime: int = 600,
              username: str | None = None, github: dict[str, str] | None = None) -> str:
        """An identity token; with ``username``, one Fulcio certifies as a username identity
        (an otherName SAN, as sigstore/scaffolding's OIDC issuer gets); ``github`` adds
        GitHub Actions' claims (repository, ref, sha, event_name, run_id, run_attempt),
        which Fulcio turns into its CI extensions."""
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": "sigstore", "sub": email, "email": email,
                  "email_verified": True, "iat": now, "nbf": now, "exp": now + lifetime,
                  **(github or {})}
        if username:
            claims = {k: v for k, v in claims.items() if not k.startswith("email")}
            claims["username"] = username
        return jwt.encode(claims, self.oidc_key, algorithm="ES256")

    def actions_token(self, *, repository: str, workflow_ref: str, job_workflow_ref: str,
                      ref: str = "refs/tags/v1.0", sha: str = "a" * 40,
                      event_name: str = "release", lifetime: int = 600) -> str:
        """A GitHub Actions OIDC token: issuer https://token.actions.githubusercontent.com
        (signed by this stand-in's OIDC key), SAN the job's workflow as Fulcio makes it, and
        GitHub's claims for the CI extensions. ``job_workflow_ref`` differs from
        ``workflow_ref`` when the job runs a reusable workflow."""
        now = int(time.time())
        claims = {"iss": GITHUB_ACTIONS, "aud": "sigstore", "sub": f"repo:{repository}:ref:{ref}",
                  "repository": repository, "ref": ref, "sha": sha,
                  "workflow_ref": workflow_ref, "job_workflow_ref": job_workflow_ref,
                  "event_name": event_name, "runner_environment": "github-hosted",
                  "iat": now, "nbf": now, "exp": now + lifetime}
        return jwt.encode(claims, self.oidc_key, algorithm="ES256")

    # -- Fulcio -----------------------------------------------------------------------
    def fulcio(self, auth: str, body: bytes) -> tuple[int, dict[str, Any]]:
        token = auth.removeprefix("Bearer ")
        if not token:  # sigstore-js sends the token in the body
            token = json.loads(body).get("credentials", {}).get("oidcIdentityToken", "")
        try:
            claims = jwt.decode(token, self.oidc_key.public_key(), algorithms=["ES256"],
                                audience="sigstore", issuer=[self.issuer, GITHUB_ACTIONS])
        except jwt.PyJWTError as e:
            return 401, {"message": f"invalid identity token: {e}"}
        request = json.loads(body)
        if "publicKeyRequest" in request:  # sigstore-js: a key and a proof of possession
            pkr = request["publicKeyRequest"]
            subject_key = serialization.load_pem_public_key(pkr["publicKey"]["content"].encode())
            assert isinstance(subject_key, ec.EllipticCurvePublicKey)
            subject_key.verify(base64.b64decode(pkr["proofOfPossession"]),
                               claims["sub"].encode(), ec.ECDSA(hashes.SHA256()))
        else:  # sigstore-python: a CSR
            subject_key = x509.load_pem_x509_csr(
                base64.b64decode(request["certificateSigningRequest"])).public_key()
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        san: x509.GeneralName = x509.RFC822Name(claims["email"]) if claims.get("email") else \
            x509.UniformResourceIdentifier(claims["sub"])
        if claims.get("username"):  # Fulcio's username identity: otherName 57264.1.7
            san = x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7"),
                                 _utf8string(f"{claims['username']}!{self.url.split('://')[1]}"))
        issuer = claims["iss"]
        if issuer == GITHUB_ACTIONS:  # Fulcio's SAN for Actions: the job's (called) workflow
            san = x509.UniformResourceIdentifier(f"https://github.com/{claims['job_workflow_ref']}")
        ski = self.ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateBuilder().subject_name(x509.Name([]))
            .issuer_name(self.ca_cert.subject).public_key(subject_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(minutes=10))
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), issuer.encode()),
                critical=False)
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8"), _utf8string(issuer)),
                critical=False)
        )
        for oid, value in _github_extensions(claims):
            builder = builder.add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier(oid), _utf8string(value)), critical=False)
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
        elif proposed["kind"] == "intoto" and proposed.get("apiVersion") == "0.0.2":
            # As Rekor does: check the signature, then log the envelope without its payload.
            content = proposed["spec"]["content"]
            env = content["envelope"]
            payload = base64.b64decode(base64.b64decode(env["payload"]))
            if hashlib.sha256(payload).hexdigest() != content["payloadHash"]["value"]:
                return 400, {"message": "payloadHash does not match the payload"}
            for sig in env["signatures"]:
                cert = x509.load_pem_x509_certificate(base64.b64decode(sig["publicKey"]))
                pae = b"DSSEv1 %d %b %d %b" % (len(env["payloadType"]), env["payloadType"].encode(),
                                                len(payload), payload)
                key = cert.public_key()
                assert isinstance(key, ec.EllipticCurvePublicKey)
                key.verify(base64.b64decode(base64.b64decode(sig["sig"])), pae,
                           ec.ECDSA(hashes.SHA256()))
            logged = {k: v for k, v in env.items() if k != "payload"}
            entry = {"apiVersion": "0.0.2", "kind": "intoto",
                     "spec": {"content": dict(content, envelope=logged)}}
        else:
            return 400, {"message": f"unsupported kind {proposed['kind']}"}
        return 201, self.log(entry)

    def log(self, entry: dict[str, Any], index_keys: tuple[str, ...] = ()) -> dict[str, Any]:
        """Append an entry body; the v1 API's answer for it, also kept for
        ``GET /api/v1/log/entries/UUID`` and, under ``index_keys``, for the search index."""
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
        uuid = _leaf(canonical).hex()  # Rekor's entry UUID is the entry's Merkle leaf hash
        answer = {uuid: {"body": body_b64, "integratedTime": integrated,
                            "logID": log_id.hex(), "logIndex": index, "verification": {
                                "inclusionProof": {"checkpoint": checkpoint,
                                                   "hashes": [h.hex() for h in proof],
                                                   "logIndex": index, "rootHash": root.hex(),
                                                   "treeSize": len(leaves)},
                                "signedEntryTimestamp": base64.b64encode(set_sig).decode()}}}
        with self.lock:
            self.by_uuid[uuid] = answer
            for key in index_keys:
                self.index.setdefault(key, []).append(uuid)
        return answer

    def checkpoint(self, size: int, root: bytes, *, name: str | None = None) -> str:
        """A signed note as Rekor v1 writes it: named after the log's host (what its
        trusted-root ``baseUrl`` says, without scheme), then the tree id."""
        name = name or self.url.split("://", 1)[1]
        log_id = hashlib.sha256(_der(self.rekor_key.public_key())).digest()
        note = f"{name} - {self.tree_id}\n{size}\n{base64.b64encode(root).decode()}\n"
        note_sig = self.rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        return note + "\n" + f"\u2014 {name} " + \
            base64.b64encode(log_id[:4] + note_sig).decode() + "\n"

    # -- Rekor v2 (a tile log: entries carry an inclusion proof, no SET, no time) -----------
    def rekor_v2(self, body: bytes) -> tuple[int, dict[str, Any]]:
        request = json.loads(body)
        if "dsseRequestV002" in request:
            req = request["dsseRequestV002"]
            env = req["envelope"]
            payload = base64.b64decode(env["payload"])
            verifier = req["verifiers"][0]
            entry = {"apiVersion": "0.0.2", "kind": "dsse", "spec": {"dsseV002": {
                "payloadHash": {"algorithm": "SHA2_256",
                                "digest": base64.b64encode(hashlib.sha256(payload).digest()).decode()},
                "signatures": [{"content": s["sig"], "verifier": verifier}
                               for s in env["signatures"]]}}}
        elif "hashedRekordRequestV002" in request:
            req = request["hashedRekordRequestV002"]
            entry = {"apiVersion": "0.0.2", "kind": "hashedrekord", "spec": {"hashedRekordV002": {
                "data": {"algorithm": "SHA2_256", "digest": req["digest"]},
                "signature": req["signature"]}}}
        else:
            return 400, {"message": "unsupported entry request"}
        canonical = json.dumps(entry, separators=(",", ":")).encode()
        with self.lock:
            self.entries2.append(canonical)
            index = len(self.entries2) - 1
            leaves = [_leaf(e) for e in self.entries2]
        root = _root(leaves)
        name = self.url2.split("://", 1)[1]
        log_id = hashlib.sha256(_der(self.rekor2_key.public_key())).digest()
        note = f"{name}\n{len(leaves)}\n{base64.b64encode(root).decode()}\n"
        note_sig = self.rekor2_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        checkpoint = note + "\n" + f"\u2014 {name} " + \
            base64.b64encode(log_id[:4] + note_sig).decode() + "\n"
        kind = entry["kind"]
        return 201, {
            "logIndex": str(index), "logId": {"keyId": base64.b64encode(log_id).decode()},
            "kindVersion": {"kind": kind, "version": "0.0.2"},
            "inclusionProof": {
                "logIndex": str(index), "rootHash": base64.b64encode(root).decode(),
                "treeSize": str(len(leaves)),
                "hashes": [base64.b64encode(h).decode() for h in _path(index, leaves)],
                "checkpoint": {"envelope": checkpoint}},
            "canonicalizedBody": base64.b64encode(canonical).decode()}

    # -- trust material -------------------------------------------------------------------
    def _key(self, key: Any) -> dict[str, Any]:
        return {"rawBytes": base64.b64encode(_der(key.public_key())).decode(),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": START}}

    def trusted_root(self) -> dict[str, Any]:
        def log(key: Any, url: str = self.url) -> dict[str, Any]:
            return {"baseUrl": url, "hashAlgorithm": "SHA2_256", "publicKey": self._key(key),
                    "logId": {"keyId": base64.b64encode(
                        hashlib.sha256(_der(key.public_key())).digest()).decode()}}

        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log(self.rekor_key), log(self.rekor2_key, self.url2)],
            "certificateAuthorities": [{
                "subject": {"organization": "attester-test", "commonName": "standin-fulcio"},
                "uri": self.url,
                "certChain": {"certificates": [{"rawBytes": base64.b64encode(
                    self.ca_cert.public_bytes(serialization.Encoding.DER)).decode()}]},
                "validFor": {"start": START}}],
            "ctlogs": [log(self.ct_key)],
            "timestampAuthorities": [{
                "subject": {"organization": "attester-test", "commonName": "standin-tsa"},
                "uri": f"{self.url}/api/v1/timestamp",
                "certChain": {"certificates": [{"rawBytes": base64.b64encode(c).decode()}
                                               for c in self.tsa.chain_der()]},
                "validFor": {"start": START}}],
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

    # -- a bare envelope logged as intoto 0.0.1 (slsa-github-generator up to v1.10) --------
    def bare_envelope(self, payload: bytes, email: str = "release-bot@example.com",
                      log_edit: Any = None) -> bytes:
        """The envelope's JSON line; its certificate is only in the log, whose index finds
        it by the envelope's and the payload's SHA-256. ``log_edit`` changes the logged
        body first (a log that lies, but signs)."""
        key = ec.generate_private_key(ec.SECP256R1())
        _, resp = self.fulcio("", json.dumps({
            "credentials": {"oidcIdentityToken": self.token(email)},
            "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": key.public_key()
                                 .public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
                                 .decode()},
                                 "proofOfPossession": base64.b64encode(key.sign(
                                     email.encode(), ec.ECDSA(hashes.SHA256()))).decode()}}).encode())
        leaf_pem = resp["signedCertificateEmbeddedSct"]["chain"]["certificates"][0].encode()
        ptype = "application/vnd.in-toto+json"
        pae = b"DSSEv1 %d %b %d %b" % (len(ptype), ptype.encode(), len(payload), payload)
        sig = key.sign(pae, ec.ECDSA(hashes.SHA256()))
        line = json.dumps({"payloadType": ptype, "payload": base64.b64encode(payload).decode(),
                           "signatures": [{"keyid": "", "sig": base64.b64encode(sig).decode()}]
                           }).encode()
        env_hash = hashlib.sha256(line).hexdigest()
        payload_hash = hashlib.sha256(payload).hexdigest()
        body = {"apiVersion": "0.0.1", "kind": "intoto", "spec": {
            "content": {"hash": {"algorithm": "sha256", "value": env_hash},
                        "payloadHash": {"algorithm": "sha256", "value": payload_hash}},
            "publicKey": base64.b64encode(leaf_pem).decode()}}
        if log_edit:
            log_edit(body)
        self.log(body, index_keys=(f"sha256:{env_hash}", f"sha256:{payload_hash}"))
        return line

    # -- a message signature by any key Fulcio certifies (sigstore-java, cosign, go) -------
    def message_bundle(self, data: bytes, key: Any, alg: str = "sha256",
                       email: str = "release-bot@example.com",
                       username: str | None = None) -> dict[str, Any]:
        """A v0.3 bundle signing ``data``'s ``alg`` digest with ``key`` (ECDSA P-256/384/521
        or RSA PKCS#1 v1.5), its certificate from this Fulcio and its hashedrekord 0.0.1
        entry from this Rekor, as sigstore-java and sigstore-go write them for such keys."""
        from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

        chosen = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
                  "sha512": hashes.SHA512()}[alg]
        csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
               .sign(key, chosen))
        _, resp = self.fulcio("Bearer " + self.token(email, username=username), json.dumps({
            "certificateSigningRequest": base64.b64encode(
                csr.public_bytes(serialization.Encoding.PEM)).decode()}).encode())
        leaf_pem = resp["signedCertificateEmbeddedSct"]["chain"]["certificates"][0].encode()
        digest = hashlib.new(alg, data).digest()
        if isinstance(key, rsa.RSAPrivateKey):
            sig = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(chosen))
        else:
            sig = key.sign(digest, ec.ECDSA(utils.Prehashed(chosen)))
        body = {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": alg, "value": digest.hex()}},
            "signature": {"content": base64.b64encode(sig).decode(),
                          "publicKey": {"content": base64.b64encode(leaf_pem).decode()}}}}
        (entry,) = self.log(body).values()
        leaf_der = x509.load_pem_x509_certificate(leaf_pem).public_bytes(serialization.Encoding.DER)
        return {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": base64.b64encode(leaf_der).decode()},
                "tlogEntries": [tlog_entry(entry, "hashedrekord", "0.0.1")]},
            "messageSignature": {
                "messageDigest": {"algorithm": {"sha256": "SHA2_256", "sha384": "SHA2_384",
                                                "sha512": "SHA2_512"}[alg],
                                  "digest": base64.b64encode(digest).decode()},
                "signature": base64.b64encode(sig).decode()},
        }

    # -- bundles signed by a managed key (cosign --key --new-bundle-format, sigstore-go) ----
    def keyed_bundle(self, key: Any, *, payload: bytes | None = None,
                     data: bytes | None = None, rekor_v2: bool = False) -> dict[str, Any]:
        """A v0.3 bundle whose signer is ``key`` (ECDSA P-256), named only by a hint: a DSSE
        envelope over ``payload`` logged as dsse 0.0.1, or a signature over ``data``'s
        SHA-256 logged as hashedrekord 0.0.1 (or 0.0.2 on the Rekor v2 log)."""
        from cryptography.hazmat.primitives.asymmetric import utils

        pub_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
        content: dict[str, Any]
        if payload is not None:
            ptype = "application/vnd.in-toto+json"
            pae = b"DSSEv1 %d %b %d %b" % (len(ptype), ptype.encode(), len(payload), payload)
            sig = key.sign(pae, ec.ECDSA(hashes.SHA256()))
            envelope = {"payload": base64.b64encode(payload).decode(), "payloadType": ptype,
                        "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}]}
            _, answer = self.rekor(json.dumps({"kind": "dsse", "apiVersion": "0.0.1", "spec": {
                "proposedContent": {"envelope": json.dumps(envelope),
                                    "verifiers": [base64.b64encode(pub_pem).decode()]}}}).encode())
            content = {"dsseEnvelope": envelope}
        else:
            assert data is not None
            digest = hashlib.sha256(data).digest()
            sig = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
            content = {"messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256",
                                  "digest": base64.b64encode(digest).decode()},
                "signature": base64.b64encode(sig).decode()}}
            if rekor_v2:
                _, tle = self.rekor_v2(json.dumps({"hashedRekordRequestV002": {
                    "digest": base64.b64encode(digest).decode(),
                    "signature": {"content": base64.b64encode(sig).decode(), "verifier": {
                        "publicKey": {"rawBytes": base64.b64encode(_der(key.public_key()))
                                      .decode()},
                        "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}}).encode())
                # Rekor v2 has no signed entry timestamp: the TSA proves the time
                stamp = self.tsa.response(hashlib.sha256(sig).digest())
                return {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                        "verificationMaterial": {
                            "publicKey": {"hint": "a-hint"}, "tlogEntries": [tle],
                            "timestampVerificationData": {"rfc3161Timestamps": [
                                {"signedTimestamp": base64.b64encode(stamp).decode()}]}},
                        **content}
            _, answer = self.rekor(json.dumps({"kind": "hashedrekord", "apiVersion": "0.0.1",
                                               "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                "signature": {"content": base64.b64encode(sig).decode(),
                              "publicKey": {"content": base64.b64encode(pub_pem).decode()}}}})
                .encode())
        (entry,) = answer.values()
        kind = json.loads(base64.b64decode(entry["body"]))["kind"]
        return {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "publicKey": {"hint": base64.b64encode(hashlib.sha256(_der(key.public_key()))
                                                       .digest()).decode()},
                "tlogEntries": [tlog_entry(entry, kind, "0.0.1")]},
            **content,
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
        leaf_der = x509.load_pem_x509_certificate(leaf_pem).public_bytes(serialization.Encoding.DER)
        return {
            "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.2",
            "verificationMaterial": {
                "x509CertificateChain": {"certificates": [
                    {"rawBytes": base64.b64encode(leaf_der).decode()}]},
                "tlogEntries": [tlog_entry(entry, "intoto", "0.0.2")]},
            "dsseEnvelope": envelope,
        }
