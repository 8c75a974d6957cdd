"""Bundles whose only proof of time is an RFC 3161 timestamp (GitHub's trust domain).

Why this is ours: GitHub signs release and private-repository attestations with its own
Fulcio and timestamp authorities and logs nothing; its trusted root has no transparency
log and no CT log. ``sigstore`` 4.5.1 refuses such roots ("tlogs Field required") and
such bundles ("expected exactly one log entry"). ``gh attestation verify`` accepts them
for GitHub's domain only, with one verified timestamp and no SCT; so do we, and only when
the trusted root itself has no transparency log: against a root with a log, a bundle
without a log entry still fails.

Every primitive is the field's: ``rfc3161-client`` verifies the timestamps against the
root's TSA chains (as ``sigstore`` does, through :mod:`.timestamps`), ``cryptography`` the
certificate chain at the timestamped time and the signature.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from attester.errors import InputError, VerificationError
from attester.verify.sigstore import sigalg
from attester.verify.sigstore.timestamps import MAX_TIMESTAMPS, verify_timestamp


@attrs.frozen
class TimestampedBundle:
    """A bundle with no log entry, as parsed from its JSON."""

    certificate: Any = attrs.field(repr=False)
    timestamps: tuple[bytes, ...] = ()
    payload_type: str | None = None  # None: a message signature over a file
    payload: bytes = b""
    signature: bytes = b""
    #: (algorithm, digest) the bundle says it signs (an unauthenticated hint)
    message_digest: tuple[str, bytes] | None = None

    @property
    def signing_certificate(self) -> Any:
        return self.certificate


def has_no_log_entry(doc: Mapping[str, Any]) -> bool:
    """True when the bundle JSON carries no transparency-log entry (the protobuf JSON
    mapping omits an empty ``tlogEntries``)."""
    vm = doc.get("verificationMaterial")
    # Only absent or [] means "no entry": a malformed value ({}, 0, "") is left to the
    # bundle loader to refuse, never read as a bundle needing no log (redteam).
    return isinstance(vm, Mapping) and vm.get("tlogEntries", []) == []


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError
    return base64.b64decode(value, validate=True)


def parse(doc: Mapping[str, Any], *, where: str) -> TimestampedBundle:
    """The bundle's certificate, content and timestamps; a malformed one is input (exit 2)."""
    from cryptography import x509

    from attester.verify.sigstore.fulcio import check_media_type

    check_media_type(doc, where=where)
    vm = doc.get("verificationMaterial")
    if not isinstance(vm, Mapping):
        raise InputError(f"{where}: not a valid Sigstore bundle: no verificationMaterial")
    try:
        cert_obj = vm.get("certificate") or \
            ((vm.get("x509CertificateChain") or {}).get("certificates") or [None])[0]
        if not isinstance(cert_obj, Mapping):
            raise InputError(f"{where}: not a valid Sigstore bundle: no signing certificate")
        cert = x509.load_der_x509_certificate(_b64(cert_obj.get("rawBytes")))
        tsd = vm.get("timestampVerificationData") or {}
        stamps = tuple(_b64(t["signedTimestamp"]) for t in tsd.get("rfc3161Timestamps") or [])
        if len(stamps) > MAX_TIMESTAMPS:
            raise InputError(f"{where}: too many timestamps ({len(stamps)} > {MAX_TIMESTAMPS})")
        env, msg = doc.get("dsseEnvelope"), doc.get("messageSignature")
        if isinstance(env, Mapping) and msg is None:
            sigs = env.get("signatures")
            if not isinstance(sigs, list) or len(sigs) != 1:
                raise InputError(f"{where}: a Sigstore DSSE envelope has exactly one signature")
            return TimestampedBundle(certificate=cert, timestamps=stamps,
                                     payload_type=str(env["payloadType"]),
                                     payload=_b64(env["payload"]), signature=_b64(sigs[0]["sig"]))
        if isinstance(msg, Mapping) and env is None:
            md = msg.get("messageDigest")
            digest = None
            if isinstance(md, Mapping):
                alg = sigalg.NAMES.get(str(md.get("algorithm", "SHA2_256")))
                if alg is None:
                    raise InputError(f"{where}: unsupported message digest "
                                     f"{str(md.get('algorithm'))[:40]}")
                digest = (alg, _b64(md["digest"]))
            return TimestampedBundle(certificate=cert, timestamps=stamps,
                                     signature=_b64(msg["signature"]), message_digest=digest)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, binascii.Error):
        # AttributeError: a list where an object belongs (redteam: was an internal error)
        raise InputError(f"{where}: not a valid Sigstore bundle (certificate, timestamps or "
                         "content malformed)") from None
    raise InputError(f"{where}: not a valid Sigstore bundle: it holds neither a DSSE envelope "
                     "nor a message signature")


def root_has_logs(trusted_root: Any) -> bool:
    return bool(trusted_root._inner.tlogs)


def signed_algorithm(b: TimestampedBundle) -> str:
    """The digest a message signature covers: the bundle's hint (the signature checks it),
    else the one the algorithm registry pairs with the certificate's key."""
    return b.message_digest[0] if b.message_digest else \
        sigalg.default_for(b.certificate.public_key())


def verify(b: TimestampedBundle, trusted_root: Any, *,
           artifact_digest: tuple[str, bytes] | None, where: str
           ) -> tuple[tuple[str, bytes] | None, list[dt.datetime]]:
    """Every check; returns the verified (payloadType, payload) for DSSE, and the times."""
    from attester.signing.dsse import pae
    from attester.verify.sigstore.fulcio import verify_certificate

    if root_has_logs(trusted_root):
        raise VerificationError(f"{where}: expected exactly one log entry in bundle (the "
                                "trusted root has a transparency log, so a timestamp alone "
                                "does not prove when it was signed)")
    if not b.timestamps:
        raise VerificationError(f"{where}: bundle has neither a log entry nor a signed "
                                "timestamp, so nothing proves when it was signed")
    if not trusted_root.get_timestamp_authorities():
        raise VerificationError(f"{where}: the trusted root has no timestamp authority to "
                                "check the bundle's timestamps against")
    times = [t for raw in b.timestamps
             if (t := verify_timestamp(raw, b.signature, trusted_root)) is not None]
    if len(times) != len(b.timestamps):
        raise VerificationError(f"{where}: timestamp could not be verified against the trusted "
                                "root's timestamp authorities")
    cert = b.certificate
    for when in times:
        verify_certificate(cert, trusted_root, when, where=where,
                           require_sct=bool(trusted_root._inner.ctlogs))
        if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            raise VerificationError(f"{where}: certificate was not valid at the timestamped "
                                    f"time {when:%Y-%m-%dT%H:%M:%SZ}")
    key = cert.public_key()
    if b.payload_type is not None:
        if not sigalg.verify_message(key, b.signature, pae(b.payload_type, b.payload)):
            raise VerificationError(f"{where}: signature does not verify")
        return (b.payload_type, b.payload), times
    if artifact_digest is None:
        raise VerificationError(f"{where}: a message-signature bundle signs a file; pass "
                                "--artifact FILE")
    if b.message_digest is not None and b.message_digest != artifact_digest:
        raise VerificationError(f"{where}: the bundle's message digest is not the "
                                "artifact's")
    if not sigalg.verify_digest(key, b.signature, artifact_digest[1], artifact_digest[0]):
        raise VerificationError(f"{where}: signature does not verify")
    return None, times
