"""Verifying bundles whose Rekor entry is ``intoto`` 0.0.2.

Why this is ours: ``sigstore`` 4.5.1 refuses these entries ("Integrated time only
supported for dsse/hashedrekord 0.0.1 types"), yet real SLSA provenance from
slsa-github-generator's BYOB builders and npm provenance is logged exactly so. We keep
it small and lean on the library for every primitive it exposes: the entry's signed
entry timestamp, Merkle inclusion proof and checkpoint, the certificate's SCT; we add
the certificate chain at the logged time, the entry body's consistency with the
envelope, and the DSSE signature.

An intoto 0.0.2 body is ``{"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content":
{"envelope": {"payloadType", "signatures": [{"sig", "publicKey"}]}, "hash",
"payloadHash"}}}`` where ``sig`` is the envelope's base64 signature base64-encoded
once more, ``publicKey`` the base64 of the signer's PEM certificate, and
``payloadHash`` the SHA-256 of the payload (which Rekor does not store).

Such bundles are read from their JSON directly: ``sigstore``'s loader also insists on
an inclusion proof with a checkpoint, which v0.1 bundles (SET only) often lack.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

from attester.errors import InputError, VerificationError
from attester.verify.sigstore.fulcio import V01, check_media_type, verify_certificate


@attrs.frozen
class IntotoBundle:
    """A bundle whose single log entry is intoto 0.0.2, as parsed from its JSON."""

    media_type: str
    certificate: Any = attrs.field(repr=False)
    entry: Mapping[str, Any] = attrs.field(repr=False)
    payload_type: str = ""
    payload: bytes = b""
    signatures: tuple[bytes, ...] = ()
    keyids: tuple[str, ...] = ()
    timestamps: tuple[bytes, ...] = ()

    @property
    def signing_certificate(self) -> Any:
        return self.certificate


def parse(doc: Any, *, where: str) -> IntotoBundle | None:
    """The bundle if its log entry is intoto 0.0.2; ``None`` for every other bundle."""
    from cryptography import x509

    try:
        vm = doc["verificationMaterial"]
        entries = vm["tlogEntries"]
        kind = entries[0]["kindVersion"]
    except (KeyError, IndexError, TypeError):
        return None
    if kind != {"kind": "intoto", "version": "0.0.2"}:
        return None
    if len(entries) != 1:
        raise VerificationError(f"{where}: expected exactly one log entry in bundle")
    check_media_type(doc, where=where)
    try:
        if "publicKey" in vm and "certificate" not in vm and "x509CertificateChain" not in vm:
            cert = None  # a keyed bundle (npm's publish attestation): the key comes from the user
        else:
            raw = (vm.get("certificate") or
                   vm["x509CertificateChain"]["certificates"][0])["rawBytes"]
            cert = x509.load_der_x509_certificate(base64.b64decode(raw))
        env = doc["dsseEnvelope"]
        sigs = tuple(base64.b64decode(sg["sig"]) for sg in env["signatures"])
        keyids = tuple(str(sg.get("keyid") or "") for sg in env["signatures"])
        payload = base64.b64decode(env["payload"])
        ptype = str(env["payloadType"])
        tsd = vm.get("timestampVerificationData") or {}
        stamps = tuple(base64.b64decode(t["signedTimestamp"], validate=True)
                       for t in tsd.get("rfc3161Timestamps") or [])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, binascii.Error):
        raise InputError(f"{where}: not a valid Sigstore bundle (certificate or DSSE envelope "
                         "missing or malformed)") from None
    from attester.verify.sigstore.timestamps import MAX_TIMESTAMPS

    if len(stamps) > MAX_TIMESTAMPS:
        raise InputError(f"{where}: too many timestamps ({len(stamps)} > {MAX_TIMESTAMPS})")
    return IntotoBundle(media_type=str(doc.get("mediaType", "")), certificate=cert,
                        entry=entries[0], payload_type=ptype, payload=payload,
                        signatures=sigs, keyids=keyids, timestamps=stamps)


def _verify_timestamps(b: IntotoBundle, trusted_root: Any, where: str) -> None:
    """RFC 3161 timestamps a bundle carries must all verify, as ``sigstore`` demands of the
    bundles it reads: evidence present but false fails (redteam: they were ignored)."""
    from attester.verify.sigstore.timestamps import verify_timestamp

    for raw in b.timestamps:
        when = verify_timestamp(raw, b.signatures[0] if b.signatures else b"", trusted_root)
        if when is None:
            raise _fail(where, "timestamp could not be verified against the trusted root's "
                        "timestamp authorities")
        cert = b.certificate
        if cert is not None and not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            raise _fail(where, f"certificate was not valid at the timestamped time "
                        f"{when:%Y-%m-%dT%H:%M:%SZ}")


def _fail(where: str, msg: str) -> VerificationError:
    return VerificationError(f"{where}: intoto 0.0.2 log entry: {msg}")


def _verify_log(b: IntotoBundle, trusted_root: Any, where: str) -> dt.datetime:
    """The log vouches for the entry: SET over (body, time, log id, index) and, when the
    bundle has one, the inclusion proof with its signed checkpoint."""
    from sigstore._internal.trust import KeyringPurpose
    from sigstore.errors import VerificationError as SigstoreVerificationError

    from attester.verify.sigstore.integrated_time import verify_set

    e = b.entry
    promise_obj = e.get("inclusionPromise")
    promise = promise_obj.get("signedEntryTimestamp") if isinstance(promise_obj, Mapping) \
        else None
    if not promise or not e.get("integratedTime"):
        raise _fail(where, "no signed entry timestamp, so no signing time can be trusted")
    keyring = trusted_root.rekor_keyring(KeyringPurpose.VERIFY)
    try:
        verify_set(e, keyring)
    except SigstoreVerificationError as exc:
        raise _fail(where, f"SET: invalid inclusion promise: {exc}") from None
    except (KeyError, ValueError, TypeError, binascii.Error):
        raise _fail(where, "malformed log entry") from None
    proof = e.get("inclusionProof")
    if proof is not None and not isinstance(proof, Mapping):
        raise _fail(where, "malformed inclusion proof")
    if proof:
        # A proof the bundle carries is always checked, whatever its (unsigned) media type
        # says: only a v0.1 bundle *without* a proof may rely on the SET alone.
        if not proof.get("checkpoint"):
            raise _fail(where, "inclusion proof without a checkpoint")
        from sigstore.models import TransparencyLogEntry

        from attester.verify.sigstore import checkpoint

        checkpoint.check_entry(e, trusted_root, where=where)
        from sigstore_models.rekor.v1 import TransparencyLogEntry as Raw

        try:
            TransparencyLogEntry(Raw.from_dict(dict(e)))._verify(keyring)
        except SigstoreVerificationError as exc:
            raise _fail(where, str(exc).splitlines()[0]) from None
        except Exception as exc:  # noqa: BLE001 - pydantic rejects malformed proofs
            raise _fail(where, f"malformed inclusion proof: {type(exc).__name__}") from None
    elif b.media_type != V01:
        raise _fail(where, "bundles after v0.1 must carry an inclusion proof with checkpoint")
    return dt.datetime.fromtimestamp(int(e["integratedTime"]), dt.timezone.utc)


def _logged_signature(item: Any, keyed: bool) -> tuple[bytes, bytes]:
    """(signature bytes, certificate or public key DER) of one logged signature.
    Rekor keeps ``sig`` base64-encoded twice (the envelope's base64 text, encoded again);
    read once-encoded bytes as they are, so an entry that logged another signature so is
    compared, and differs, rather than being "malformed". ``publicKey`` is base64 of a PEM
    whose exact text (trailing newline or not) differs between clients: compare what they
    decode to."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    once = base64.b64decode(item["sig"], validate=True)
    try:
        sig = base64.b64decode(once, validate=True)
    except (binascii.Error, ValueError):
        sig = once
    pem = base64.b64decode(item["publicKey"], validate=True)
    if keyed:
        der = serialization.load_pem_public_key(pem).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    else:
        der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    return sig, der


def _verify_body(b: IntotoBundle, where: str, key: Any = None) -> None:
    """The logged entry is about this envelope, signature and certificate: payload hash,
    payload type, the one signature, its key id and its certificate or key. Values are
    compared once decoded (signature bytes, certificate DER, hashes), never as encoded
    text: real Rekor entries and bundles encode the same values differently."""
    from cryptography.hazmat.primitives import serialization

    try:
        body = json.loads(base64.b64decode(b.entry["canonicalizedBody"]))
        content = body["spec"]["content"]
        logged_sigs = content["envelope"]["signatures"]
        payload_hash = content["payloadHash"]
        if not isinstance(logged_sigs, list) or not isinstance(payload_hash, dict):
            raise TypeError
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise _fail(where, "entry body is not an intoto 0.0.2 record") from None
    if body.get("kind") != "intoto" or body.get("apiVersion") != "0.0.2":
        # The bundle's kindVersion is unsigned; the logged body says what was logged.
        raise _fail(where, "entry body is not an intoto 0.0.2 record")
    if payload_hash.get("algorithm") != "sha256" or \
            payload_hash.get("value") != hashlib.sha256(b.payload).hexdigest():
        raise _fail(where, "payload hash does not match the bundle's envelope")
    if len(b.signatures) != 1:
        raise _fail(where, f"expected one envelope signature, found {len(b.signatures)}")
    if len(logged_sigs) != 1:
        raise _fail(where, f"expected one logged signature, found {len(logged_sigs)}")
    try:
        sig, der = _logged_signature(logged_sigs[0], keyed=key is not None)
    except (KeyError, TypeError, ValueError, binascii.Error, AttributeError):
        raise _fail(where, "logged signature or certificate is malformed") from None
    if sig != b.signatures[0]:
        raise _fail(where, "logged signature differs from the bundle's")
    if key is not None:
        if der != key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo):
            raise _fail(where, "logged public key is not the trusted key")
    elif der != b.certificate.public_bytes(serialization.Encoding.DER):
        raise _fail(where, "logged certificate differs from the bundle's")
    if content["envelope"].get("payloadType") != b.payload_type:
        raise _fail(where, "logged payload type differs from the envelope's")
    # The entry's ``hash`` (of the whole envelope) is not compared: the client writes it,
    # each in its own serialisation (sigstore-js and sigstore-go canonicalise differently,
    # sigstore@1.3.0 kept ``"keyid": ""``), and Rekor never checks it. What binds the entry
    # to this envelope is what sigstore-go and sigstore-js compare: the payload hash, the
    # signature and the key, all checked above. Nor is the unsigned ``keyid``.


def _check_signature(b: IntotoBundle, key: Any, where: str) -> None:
    from attester.signing.dsse import pae
    from attester.verify.sigstore import sigalg

    if not sigalg.verify_message(key, b.signatures[0], pae(b.payload_type, b.payload)):
        raise _fail(where, "DSSE signature does not verify")


def verify(b: IntotoBundle, trusted_root: Any, *, where: str) -> tuple[str, bytes, dt.datetime]:
    """Every check for an intoto 0.0.2 bundle; returns (payloadType, payload, signed at)."""
    if b.certificate is None:
        raise _fail(where, "the bundle is signed by a key, not a certificate; it needs a "
                    "trusted key (--key, or --npm-publish-key for npm's publish attestation)")
    when = _verify_log(b, trusted_root, where)
    verify_certificate(b.certificate, trusted_root, when, where=f"{where}: intoto 0.0.2 log "
                       "entry")
    _verify_body(b, where)
    _check_signature(b, b.certificate.public_key(), where)
    _verify_timestamps(b, trusted_root, where)
    return b.payload_type, b.payload, when


def verify_with_key(b: IntotoBundle, trusted_root: Any, key: Any, *, where: str
                    ) -> tuple[str, bytes, dt.datetime]:
    """A keyed bundle (npm's publish attestation): the log vouches for the entry, the entry
    names ``key`` and this envelope, and ``key`` signed it."""
    if b.certificate is not None:
        raise _fail(where, "expected a bundle signed by a key, found a certificate")
    when = _verify_log(b, trusted_root, where)
    _verify_body(b, where, key=key)
    _check_signature(b, key, where)
    _verify_timestamps(b, trusted_root, where)
    return b.payload_type, b.payload, when
