"""A bare DSSE envelope's keyless signature, proven by its Rekor entry found online.

slsa-github-generator up to v1.10 published ``.intoto.jsonl`` files holding only the
envelope: the certificate and the log entry stay in Rekor. As slsa-verifier does, we
search Rekor's index for the envelope (its SHA-256, then its payload's, both index keys
of intoto entries), fetch each entry found, and accept the envelope only when an entry
is fully verified offline from there on: the signed entry timestamp and the inclusion
proof with its checkpoint (signed by a log of the trusted root, named after it), the
logged certificate's chain to the trusted root's Fulcio CA at the logged time with its
SCT, the logged payload hash, the DSSE signature under the logged certificate, and then
the identity policy.

Why this is ours: neither ``sigstore`` nor any Python library searches Rekor's index or
reads intoto 0.0.1 entries (what the generator logged). Every answer from the log is
hostile: bounded in size and count, type-checked, and only trusted once verified.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from typing import Any

import attrs

from attester.errors import InputError, ServiceError, UsageError, VerificationError
from attester.jsonio import parse_json
from attester.verify.checks.policy import Check

MAX_INDEX_ANSWER = 64 * 1024
MAX_ENTRY_ANSWER = 1024 * 1024
#: Entries examined per envelope: a real envelope is logged once; more is noise or abuse.
MAX_CANDIDATES = 8
_UUID = re.compile(r"^(?:[0-9a-f]{16})?[0-9a-f]{64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
OID_SCT = "1.3.6.1.4.1.11129.2.4.2"


@attrs.frozen
class Found:
    """A verified entry: the logged certificate and when the log saw it."""

    uuid: str
    certificate: Any = attrs.field(repr=False)
    integrated: dt.datetime
    log_index: int
    sct: bool = True


def check_url(url: str) -> str:
    """The Rekor base URL: https, or http on loopback only (a local log)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise UsageError(f"--rekor-url {url}: use https:// (plain http only on loopback)")
    if parts.query or parts.fragment or not parts.hostname:
        raise UsageError(f"--rekor-url {url}: give the log's base URL, e.g. "
                         "https://rekor.sigstore.dev")
    return url.rstrip("/")


def _post_get(url: str, *, body: Any | None, limit: int, what: str) -> bytes | None:
    """POST (with ``body``) or GET ``url``; the answer's bytes (up to ``limit``), None for
    404."""
    import requests

    try:
        if body is None:
            resp = requests.get(url, stream=True, timeout=30, allow_redirects=False,
                                headers={"Accept": "application/json"})
        else:
            resp = requests.post(url, json=body, stream=True, timeout=30, allow_redirects=False,
                                 headers={"Accept": "application/json"})
    except requests.RequestException as e:
        raise ServiceError(f"{what}: cannot reach {url}: {type(e).__name__}") from None
    with resp:
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:  # a log's API answers, never redirects
            raise ServiceError(f"{what}: {url} answered {resp.status_code}")
        raw = b""
        for chunk in resp.iter_content(64 * 1024):
            raw += chunk
            if len(raw) > limit:
                raise ServiceError(f"{what}: {url} answered more than {limit} bytes")
    return raw


def search(rekor_url: str, digest_hex: str) -> list[str]:
    """Entry UUIDs Rekor's index holds for ``sha256:DIGEST``."""
    url = f"{rekor_url}/api/v1/index/retrieve"
    raw = _post_get(url, body={"hash": f"sha256:{digest_hex}"}, limit=MAX_INDEX_ANSWER,
                    what="Rekor index search")
    if raw is None:
        return []
    try:  # strict: duplicate keys, NaN and deep nesting are refused, as for every input
        found = parse_json(raw, where=f"Rekor index search: the answer of {url}")
    except InputError as e:
        raise ServiceError(e.message) from None
    if not isinstance(found, list) or not all(isinstance(u, str) and _UUID.match(u)
                                              for u in found):
        raise ServiceError(f"Rekor index search: {rekor_url} answered no list of entry UUIDs")
    return list(dict.fromkeys(found))


def fetch(rekor_url: str, uuid: str) -> dict[str, Any]:
    """The entry ``uuid`` in the bundle's ``tlogEntries`` form (still unverified)."""
    raw = _post_get(f"{rekor_url}/api/v1/log/entries/{uuid}", body=None,
                    limit=MAX_ENTRY_ANSWER, what=f"Rekor entry {uuid[-64:]}")
    if raw is None:
        raise ValueError("the log has no such entry")
    answer = parse_json(raw, where="the log's answer")
    if not isinstance(answer, Mapping) or len(answer) != 1:
        raise ValueError("the answer is not one entry")
    (key, e), = answer.items()
    if not isinstance(key, str) or key[-64:] != uuid[-64:] or not isinstance(e, Mapping):
        raise ValueError("the answer is another entry")
    v = e.get("verification")
    proof = v.get("inclusionProof") if isinstance(v, Mapping) else None
    if not isinstance(v, Mapping) or not isinstance(proof, Mapping):
        raise ValueError("no inclusion proof")
    ints = (e.get("integratedTime"), e.get("logIndex"), proof.get("logIndex"),
            proof.get("treeSize"))
    strs = (e.get("body"), e.get("logID"), v.get("signedEntryTimestamp"),
            proof.get("rootHash"), proof.get("checkpoint"))
    hashes = proof.get("hashes")
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ints) or \
            not all(isinstance(s, str) for s in strs) or not isinstance(hashes, list) or \
            len(hashes) > 64 or not all(isinstance(h, str) and _HEX.match(h) for h in hashes) or \
            not _HEX.match(str(e["logID"])) or not _HEX.match(str(proof["rootHash"])):
        raise ValueError("fields missing or of the wrong type")
    body = base64.b64decode(e["body"], validate=True)
    if hashlib.sha256(b"\x00" + body).hexdigest() != uuid[-64:]:
        raise ValueError("the entry's body is not the one its UUID names")
    parsed = parse_json(body, where="entry body")
    if not isinstance(parsed, Mapping) or not isinstance(parsed.get("kind"), str) or \
            not isinstance(parsed.get("apiVersion"), str):
        raise ValueError("the entry's body names no kind")
    return {
        "logIndex": str(e["logIndex"]),
        "kindVersion": {"kind": parsed["kind"], "version": parsed["apiVersion"]},
        "logId": {"keyId": base64.b64encode(bytes.fromhex(e["logID"])).decode()},
        "integratedTime": str(e["integratedTime"]),
        "inclusionPromise": {"signedEntryTimestamp": v["signedEntryTimestamp"]},
        "inclusionProof": {
            "logIndex": str(proof["logIndex"]),
            "rootHash": base64.b64encode(bytes.fromhex(proof["rootHash"])).decode(),
            "treeSize": str(proof["treeSize"]),
            "hashes": [base64.b64encode(bytes.fromhex(h)).decode() for h in hashes],
            "checkpoint": {"envelope": proof["checkpoint"]}},
        "canonicalizedBody": e["body"],
    }


def logged_material(body: Mapping[str, Any]) -> tuple[str, list[bytes], str]:
    """(kind/version, logged signer certificates as PEM, logged payload SHA-256 hex)."""
    kind, version = body.get("kind"), body.get("apiVersion")
    spec = body["spec"]
    if (kind, version) == ("intoto", "0.0.1"):
        content = spec["content"]
        pems = [base64.b64decode(spec["publicKey"])]
    elif (kind, version) == ("intoto", "0.0.2"):
        content = spec["content"]
        pems = [base64.b64decode(s["publicKey"]) for s in content["envelope"]["signatures"]]
    elif (kind, version) == ("dsse", "0.0.1"):
        content = spec
        pems = [base64.b64decode(s["verifier"]) for s in spec["signatures"]]
    else:
        raise ValueError(f"a {kind} {version} entry does not log a DSSE envelope")
    payload_hash = content["payloadHash"]
    if payload_hash.get("algorithm") != "sha256" or not isinstance(payload_hash.get("value"),
                                                                   str):
        raise ValueError("no SHA-256 payload hash")
    return f"{kind} {version}", pems, payload_hash["value"]


def _verify_log(entry: Mapping[str, Any], trusted_root: Any) -> dt.datetime:
    """The signed entry timestamp and the inclusion proof with its checkpoint."""
    from sigstore._internal.trust import KeyringPurpose
    from sigstore.errors import VerificationError as SigstoreVerificationError
    from sigstore.models import TransparencyLogEntry
    from sigstore_models.rekor.v1 import TransparencyLogEntry as Raw

    from attester.verify.sigstore import checkpoint
    from attester.verify.sigstore.integrated_time import verify_set

    checkpoint.check_entry(entry, trusted_root, where="entry")
    keyring = trusted_root.rekor_keyring(KeyringPurpose.VERIFY)
    try:
        verify_set(entry, keyring)
    except SigstoreVerificationError as e:
        raise VerificationError(f"signed entry timestamp: {e}") from None
    try:
        TransparencyLogEntry(Raw.from_dict(dict(entry)))._verify(keyring)
    except SigstoreVerificationError as e:
        raise VerificationError(f"inclusion proof: {str(e).splitlines()[0]}") from None
    return dt.datetime.fromtimestamp(int(entry["integratedTime"]), dt.timezone.utc)


def _signs(key: Any, sig: bytes, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key.verify(sig, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def verify_entry(entry: Mapping[str, Any], envelope: Any, trusted_root: Any) -> Found:
    """Everything the found entry must prove about ``envelope``; raises VerificationError
    (or ValueError/KeyError for a malformed entry) otherwise."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from attester.verify.sigstore import fulcio

    when = _verify_log(entry, trusted_root)
    body = parse_json(base64.b64decode(entry["canonicalizedBody"]), where="entry body")
    kind, pems, payload_hash = logged_material(body)
    if payload_hash != hashlib.sha256(envelope.payload).hexdigest():
        raise VerificationError(f"the {kind} entry logs another payload")
    pae = envelope.pae()
    for pem in pems:
        cert = x509.load_pem_x509_certificate(pem)
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            continue
        if any(_signs(key, sig.sig, pae) for sig in envelope.signatures):
            # Fulcio embedded no SCT in the certificates of 2022's bare envelopes; slsa-verifier
            # accepts them. An SCT that is there must verify; one that is not leaves the
            # Rekor entry, which logs the certificate itself, as its transparency record.
            has_sct = any(ext.oid.dotted_string == OID_SCT for ext in cert.extensions)
            fulcio.verify_certificate(cert, trusted_root, when, where="logged certificate",
                                            require_sct=has_sct)
            return Found(uuid="", certificate=cert, integrated=when,
                         log_index=int(entry["logIndex"]), sct=has_sct)
    raise VerificationError(f"no signature of the envelope verifies under the {kind} entry's "
                            "certificate")


def verify_envelope(data: bytes, envelope: Any, *, rekor_url: str, trusted_root: Any,
                    identity: Any, where: str) -> tuple[list[Check], Any]:
    """Checks for a bare envelope whose entry is looked up in ``rekor_url``, and the
    logged certificate that verified (None when none did)."""
    rekor_url = rekor_url.rstrip("/")
    uuids: list[str] = []
    for digest in (hashlib.sha256(data.strip()).hexdigest(),
                   hashlib.sha256(envelope.payload).hexdigest()):
        uuids = search(rekor_url, digest)
        if uuids:
            break
    if not uuids:
        return [Check("signature", False, f"{rekor_url} holds no log entry for this envelope "
                      "(searched its index by the envelope's and the payload's SHA-256)")], None
    errors: list[str] = []
    verified: list[tuple[Found, list[Check]]] = []
    for uuid in uuids[:MAX_CANDIDATES]:
        try:
            found = attrs.evolve(verify_entry(fetch(rekor_url, uuid), envelope, trusted_root),
                                 uuid=uuid[-64:])
        except VerificationError as e:
            errors.append(f"entry {uuid[-64:][:12]}: {e.message}")
            continue
        except InputError as e:
            errors.append(f"entry {uuid[-64:][:12]}: malformed ({e.message[:120]})")
            continue
        except (KeyError, IndexError, TypeError, ValueError, AttributeError,
                binascii.Error) as e:  # AttributeError: a list where an object belongs
            errors.append(f"entry {uuid[-64:][:12]}: malformed ({type(e).__name__}: "
                          f"{str(e)[:80]})")
            continue
        checks = identity.check(found.certificate)
        verified.append((found, checks))
        if all(c.ok for c in checks):
            break
    if not verified:
        return [Check("signature", False, f"no entry {rekor_url} holds for this envelope "
                      f"verifies: {'; '.join(errors[:3])}")], None
    found, checks = next(((f, c) for f, c in verified if all(x.ok for x in c)), verified[0])
    stamp = found.integrated.strftime("%Y-%m-%dT%H:%M:%SZ")
    sct = "" if found.sct else " (the certificate has no SCT; its log entry records it)"
    return [Check("signature", True, f"DSSE envelope with no certificate: its Rekor entry "
                  f"{found.uuid[:12]} (index {found.log_index}) in {rekor_url} verifies it, "
                  f"certificate chains to the trusted root{sct}, logged at {stamp}"), *checks], \
        found.certificate
