"""Bundles signed by a managed key (``verificationMaterial.publicKey``), verified with --key.

Why this is ours: ``sigstore`` 4.5.1 loads only bundles with a certificate ("expected
certificate in bundle"), yet ``cosign sign-blob --new-bundle-format --key``, sigstore-go
and sigstore-java write bundles whose signer is a key the verifier already trusts; the
bundle names it only by an unsigned ``hint`` (sigstore-conformance ``managed-key-*``).

The library does the log: ``TransparencyLogEntry._verify`` checks the Merkle inclusion
proof, the signed checkpoint and (when present) the signed entry timestamp against the
trusted root's Rekor keys; RFC 3161 timestamps go through the same TSA check as every
other bundle (present but unverifiable fails), and one source of verified time is required
as for keyless bundles (a Rekor v2 entry has no signed entry timestamp). We add what a
key needs: the logged entry names one of the user's keys, that key signed the artifact's
digest (or the DSSE PAE), and the entry is about this digest (or payload) and this
signature. The ``hint`` is never
trusted: the key is found by comparing the logged key with the keys given.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from attester.errors import InputError, VerificationError
from attester.verify.sigstore import sigalg

#: entry kinds whose body we compare (intoto 0.0.2 is intoto_entry's)
KINDS = {("hashedrekord", "0.0.1"), ("hashedrekord", "0.0.2"), ("dsse", "0.0.1"),
         ("dsse", "0.0.2")}


@attrs.frozen
class KeyedBundle:
    """A bundle whose signer is a public key, as parsed from its JSON."""

    media_type: str
    hint: str
    entry: Mapping[str, Any] = attrs.field(repr=False)
    kind: tuple[str, str]
    body: Mapping[str, Any] = attrs.field(repr=False)
    signature: bytes = b""
    #: (algorithm, digest) the bundle says it signs (an unauthenticated hint)
    message_digest: tuple[str, bytes] | None = None
    payload_type: str | None = None  # None: a message signature over a file
    payload: bytes = b""
    timestamps: tuple[bytes, ...] = ()

    @property
    def signing_certificate(self) -> None:
        return None


def is_keyed(doc: Any) -> bool:
    vm = doc.get("verificationMaterial") if isinstance(doc, Mapping) else None
    return isinstance(vm, Mapping) and "publicKey" in vm and "certificate" not in vm and \
        "x509CertificateChain" not in vm


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError
    return base64.b64decode(value, validate=True)


def parse(doc: Mapping[str, Any], *, where: str) -> KeyedBundle:
    """The keyed bundle's parts; a malformed one is input (exit 2), one with no log entry
    fails (nothing vouches for when or that it was signed)."""
    from attester.verify.sigstore.fulcio import check_media_type
    from attester.verify.sigstore.timestamps import MAX_TIMESTAMPS

    check_media_type(doc, where=where)
    vm = doc["verificationMaterial"]
    entries = vm.get("tlogEntries") or []
    if not isinstance(entries, list):
        raise InputError(f"{where}: not a valid Sigstore bundle: tlogEntries is not a list")
    try:
        hint = str((vm.get("publicKey") or {}).get("hint") or "")
        tsd = vm.get("timestampVerificationData") or {}
        stamps = tuple(_b64(t["signedTimestamp"]) for t in tsd.get("rfc3161Timestamps") or [])
        env, msg = doc.get("dsseEnvelope"), doc.get("messageSignature")
        if isinstance(env, Mapping) and msg is None:
            sigs = env.get("signatures")
            if not isinstance(sigs, list) or len(sigs) != 1:
                raise InputError(f"{where}: a Sigstore DSSE envelope has exactly one signature")
            parts: dict[str, Any] = {"payload_type": str(env["payloadType"]),
                                     "payload": _b64(env["payload"]),
                                     "signature": _b64(sigs[0]["sig"])}
        elif isinstance(msg, Mapping) and env is None:
            md = msg.get("messageDigest")
            digest = None
            if isinstance(md, Mapping):
                alg = sigalg.NAMES.get(str(md.get("algorithm")))
                if alg is None:
                    raise InputError(f"{where}: unsupported message digest "
                                     f"{str(md.get('algorithm'))[:40]}")
                digest = (alg, _b64(md["digest"]))
            parts = {"signature": _b64(msg["signature"]), "message_digest": digest}
        else:
            raise InputError(f"{where}: not a valid Sigstore bundle: it holds neither a DSSE "
                             "envelope nor a message signature")
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, binascii.Error):
        raise InputError(f"{where}: not a valid Sigstore bundle (key or content "
                         "malformed)") from None
    if len(entries) != 1:
        raise VerificationError(f"{where}: expected exactly one log entry in a bundle signed "
                                f"by a key, found {len(entries)}")
    try:
        entry = entries[0]
        kv = entry["kindVersion"]
        kind = (str(kv["kind"]), str(kv["version"]))
        body = json.loads(_b64(entry["canonicalizedBody"]))
        if not isinstance(body, dict):
            raise TypeError
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error):
        raise InputError(f"{where}: not a valid Sigstore bundle (log entry "
                         "malformed)") from None
    if len(stamps) > MAX_TIMESTAMPS:
        raise InputError(f"{where}: too many timestamps ({len(stamps)} > {MAX_TIMESTAMPS})")
    if kind not in KINDS:
        raise VerificationError(f"{where}: unsupported log entry kind {kind[0][:40]} "
                                f"{kind[1][:20]} for a bundle signed by a key")
    return KeyedBundle(media_type=str(doc.get("mediaType")), hint=hint, entry=entry, kind=kind,
                       body=body, timestamps=stamps, **parts)


def signed_algorithm(b: KeyedBundle) -> str:
    """The digest algorithm a message signature covers: what the logged entry says (the
    signature over it is checked), else the bundle's hint, else SHA-256."""
    try:
        spec = b.body["spec"]
        if b.kind == ("hashedrekord", "0.0.1"):
            return sigalg.NAMES[spec["data"]["hash"]["algorithm"]]
        if b.kind == ("hashedrekord", "0.0.2"):
            return sigalg.NAMES[spec["hashedRekordV002"]["data"]["algorithm"]]
    except (KeyError, TypeError):
        pass
    return b.message_digest[0] if b.message_digest else "sha256"


def _fail(where: str, msg: str) -> VerificationError:
    return VerificationError(f"{where}: {msg}")


def _der(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo))


def _pem_der(b64_pem: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return _der(serialization.load_pem_public_key(_b64(b64_pem)))


def _logged(b: KeyedBundle) -> tuple[bytes, bytes, tuple[str, bytes]]:
    """(key DER, signature, (algorithm, digest)) the entry logged; for DSSE entries the
    digest is of the payload (dsse) or of the PAE (hashedrekord over DSSE, Rekor v2)."""
    spec = b.body["spec"]
    if b.kind == ("hashedrekord", "0.0.1"):
        h = spec["data"]["hash"]
        return (_pem_der(spec["signature"]["publicKey"]["content"]),
                _b64(spec["signature"]["content"]),
                (sigalg.NAMES[h["algorithm"]], bytes.fromhex(h["value"])))
    if b.kind == ("hashedrekord", "0.0.2"):
        v2 = spec["hashedRekordV002"]
        return (_b64(v2["signature"]["verifier"]["publicKey"]["rawBytes"]),
                _b64(v2["signature"]["content"]),
                (sigalg.NAMES[v2["data"]["algorithm"]], _b64(v2["data"]["digest"])))
    if b.kind == ("dsse", "0.0.1"):
        (sig,) = spec["signatures"]
        ph = spec["payloadHash"]
        return (_pem_der(sig["verifier"]), _b64(sig["signature"]),
                (sigalg.NAMES[ph["algorithm"]], bytes.fromhex(ph["value"])))
    v2 = spec["dsseV002"]
    (sig,) = v2["signatures"]
    ph = v2["payloadHash"]
    return (_b64(sig["verifier"]["publicKey"]["rawBytes"]), _b64(sig["content"]),
            (sigalg.NAMES[ph["algorithm"]], _b64(ph["digest"])))


def _verify_log(b: KeyedBundle, trusted_root: Any, where: str) -> None:
    from sigstore._internal.trust import KeyringPurpose
    from sigstore.errors import VerificationError as SigstoreVerificationError
    from sigstore.models import TransparencyLogEntry
    from sigstore_models.rekor.v1 import TransparencyLogEntry as Raw

    from attester.verify.sigstore import checkpoint

    if not isinstance(b.entry.get("inclusionProof"), Mapping):
        raise _fail(where, "entry must contain an inclusion proof, with checkpoint")
    checkpoint.check_entry(b.entry, trusted_root, where=where)
    try:
        entry = TransparencyLogEntry(Raw.from_dict(dict(b.entry)))
    except Exception as e:  # noqa: BLE001 - pydantic refuses a malformed entry
        raise InputError(f"{where}: not a valid Sigstore bundle: log entry malformed "
                         f"({type(e).__name__})") from None
    if entry._inner.inclusion_proof.checkpoint is None:
        raise _fail(where, "entry must contain an inclusion proof, with checkpoint")
    try:
        entry._verify(trusted_root.rekor_keyring(KeyringPurpose.VERIFY))
    except SigstoreVerificationError as e:
        raise _fail(where, f"invalid log entry: {str(e).splitlines()[0]}") from None


def verify(b: KeyedBundle, trusted_root: Any, keys: Sequence[Any], *,
           artifact_digest: tuple[str, bytes] | None, where: str
           ) -> tuple[str, tuple[str, bytes] | None]:
    """Every check; returns the trusted key's label and, for DSSE, (payloadType, payload).
    ``keys`` are :class:`~attester.verify.envelope.TrustedKey`."""
    from attester.signing.dsse import pae
    from attester.verify.sigstore.timestamps import verify_timestamp
    from attester.verify.sigstore.tsa_bundle import root_has_logs

    if not root_has_logs(trusted_root):
        raise _fail(where, "the bundle has a log entry, but the trusted root has no "
                    "transparency log to check it against")
    _verify_log(b, trusted_root, where)
    try:
        logged_key, logged_sig, (logged_alg, logged_digest) = _logged(b)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise _fail(where, "log entry body is malformed") from None
    trusted = next((k for k in keys if _der(k.key) == logged_key), None)
    if trusted is None:
        raise _fail(where, f"signed by a key that is not trusted: the log entry's key is none "
                    f"of the {len(keys)} --key given")
    if logged_sig != b.signature:
        raise _fail(where, "log entry signature does not match the bundle's")
    for raw in b.timestamps:
        if verify_timestamp(raw, b.signature, trusted_root) is None:
            raise _fail(where, "timestamp could not be verified against the trusted root's "
                        "timestamp authorities")
    promise = b.entry.get("inclusionPromise")
    if not b.timestamps and not (isinstance(promise, Mapping) and b.entry.get("integratedTime")):
        # As for every bundle (and sigstore-go, sigstore-js): some verified time, the SET's
        # or a timestamp authority's; a Rekor v2 entry has no SET (conformance
        # rekor2-no-timestamp_fail).
        raise _fail(where, "bundle must contain an inclusion promise or signed timestamp(s)")
    if b.payload_type is not None:
        message = pae(b.payload_type, b.payload)
        if not sigalg.verify_message(trusted.key, b.signature, message):
            raise _fail(where, "DSSE signature does not verify with the key")
        if b.kind[0] == "hashedrekord":  # Rekor v2 logs DSSE as the hash of its PAE
            want = hashlib.new(logged_alg, message).digest()
        else:
            want = hashlib.new(logged_alg, b.payload).digest()
        if want != logged_digest:
            raise _fail(where, "log entry is about another envelope")
        return trusted.label, (b.payload_type, b.payload)
    if artifact_digest is None:
        raise _fail(where, "a message-signature bundle signs a file; pass --artifact FILE")
    alg, digest = artifact_digest
    if b.message_digest is not None and b.message_digest != artifact_digest:
        raise _fail(where, "Bundle message digest mismatch")
    if (logged_alg, logged_digest) != (alg, digest):
        raise _fail(where, "log entry is about another artifact digest")
    if not sigalg.verify_digest(trusted.key, b.signature, digest, alg):
        raise _fail(where, "signature over the artifact does not verify with the key")
    return trusted.label, None
