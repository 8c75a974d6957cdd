"""What every bundle read outside ``sigstore``'s loader shares: the media types it may
carry, and a Fulcio certificate checked at the time a log or timestamp proved.

Used by the intoto 0.0.2, TSA-only, managed-key, cosign-annotation and Rekor-lookup
verifiers; its own module so that none of them imports another.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from attester.errors import InputError, VerificationError

V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
#: The bundle media types ``sigstore`` loads (its ``Bundle.BundleType``). Bundles read here
#: bypass its loader, so an unknown one is refused here as it would be there (redteam).
MEDIA_TYPES = (V01, "application/vnd.dev.sigstore.bundle+json;version=0.2",
               "application/vnd.dev.sigstore.bundle+json;version=0.3",
               "application/vnd.dev.sigstore.bundle.v0.3+json")


def check_media_type(doc: Mapping[str, Any], *, where: str) -> None:
    media = doc.get("mediaType")
    if media not in MEDIA_TYPES:
        shown = media[:80] if isinstance(media, str) else media if media is None else "not text"
        raise InputError(f"{where}: not a valid Sigstore bundle: unsupported mediaType {shown!r}")


def verify_certificate(cert: Any, trusted_root: Any, when: dt.datetime, *, where: str,
                       require_sct: bool = True) -> None:
    """The certificate chains to a trusted Fulcio CA at ``when``, is for code signing, and
    (unless the root has no CT log, as GitHub's) carries a valid SCT."""
    from cryptography import x509
    from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store
    from sigstore._internal.sct import verify_sct
    from sigstore._internal.trust import KeyringPurpose
    from sigstore.errors import VerificationError as SigstoreVerificationError

    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None)
    ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None)
    verifier = (PolicyBuilder().store(Store(trusted_root.get_fulcio_certs())).time(when)
                .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
                .build_client_verifier())
    try:
        chain = verifier.verify(cert, []).chain[1:]
    except Exception as e:  # noqa: BLE001 - cryptography's verification errors vary
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        raise VerificationError(f"{where}: certificate does not chain to the trusted root at "
                                f"{stamp}: {e}") from None
    if require_sct:
        try:
            verify_sct(cert, chain, trusted_root.ct_keyring(KeyringPurpose.VERIFY))
        except SigstoreVerificationError as e:
            raise VerificationError(f"{where}: certificate SCT: {e}") from None
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = []
    if x509.oid.ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        raise VerificationError(f"{where}: certificate is not for code signing")
