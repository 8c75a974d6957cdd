"""Keys held in a KMS, through securesystemslib's signer registry (the ``kms`` extra).

The private key never leaves the service: we ask it for the public key (to know the
key id and to let ``attest keygen --kms`` write it out for verifiers) and for a
signature over the DSSE PAE. Schemes are securesystemslib's: ``gcpkms``, ``awskms``,
``azurekms``, ``hv`` (HashiCorp Vault transit), written ``SCHEME:REST`` or, as the
release tooling writes them, ``SCHEME://REST``. Vault keys are ``hv:NAME[/VERSION]``
(securesystemslib's private key URI is ``hv:NAME/VERSION``; without it, the newest).
"""

from __future__ import annotations

from typing import Any

import attrs

from attester.errors import MissingExtraError, ServiceError, UsageError
from attester.signing import keys

#: scheme -> (how to import the key's public half, the extra that brings the SDK)
_IMPORTERS = {
    "gcpkms": ("securesystemslib.signer:GCPSigner", "gcpkms"),
    "awskms": ("securesystemslib.signer:AWSSigner", "awskms"),
    "azurekms": ("securesystemslib.signer:AzureSigner", "azurekms"),
    "hv": ("securesystemslib.signer:VaultSigner", "vault"),
}


GCPKMS_ENDPOINT_ENV = "ATTEST_GCPKMS_ENDPOINT"


def _gcp_rest_signer_class() -> Any:
    """securesystemslib's GCPSigner, reaching Cloud KMS through the REST transport at
    ``ATTEST_GCPKMS_ENDPOINT`` (a mirror, or the tests' stand-in) with anonymous
    credentials. Registered under ``gcpkms`` in securesystemslib's signer registry so
    ``Signer.from_priv_key_uri`` picks it; without the variable it is GCPSigner as is."""
    import os

    from securesystemslib.signer._gcp_signer import KEYTYPES_AND_SCHEMES, GCPSigner
    from securesystemslib.signer._key import SSlibKey
    from securesystemslib.signer._utils import compute_default_keyid

    def client() -> Any:
        from google.cloud import kms

        endpoint = os.environ.get(GCPKMS_ENDPOINT_ENV)
        if not endpoint:
            return kms.KeyManagementServiceClient()
        from google.auth.credentials import AnonymousCredentials
        from google.cloud.kms_v1.services.key_management_service.transports.rest import (
            KeyManagementServiceRestTransport,
        )

        scheme, _, host = endpoint.rstrip("/").partition("://")
        transport = KeyManagementServiceRestTransport(
            host=host, url_scheme=scheme,
            credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
        return kms.KeyManagementServiceClient(transport=transport)

    class RestGCPSigner(GCPSigner):
        def __init__(self, gcp_keyid: str, public_key: SSlibKey) -> None:
            # GCPSigner.__init__ builds a default (gRPC, ADC) client first; set the same
            # fields with ours instead.
            self.hash_algorithm = public_key.get_hash_algorithm_name()
            self.gcp_keyid = gcp_keyid
            self._public_key = public_key
            self.client = client()

        @classmethod
        def import_(cls, gcp_keyid: str) -> tuple[str, SSlibKey]:
            from google.cloud import kms

            pub = client().get_public_key({"name": gcp_keyid,
                                           "public_key_format": kms.PublicKey.PublicKeyFormat.PEM})
            keytype, scheme = KEYTYPES_AND_SCHEMES[pub.algorithm]
            keyval = {"public": pub.public_key.data.decode() or pub.pem}
            return (f"{cls.SCHEME}:{gcp_keyid}",
                    SSlibKey(compute_default_keyid(keytype, scheme, keyval), keytype, scheme,
                             keyval))

    return RestGCPSigner


def normalize(uri: str) -> tuple[str, str]:
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme not in _IMPORTERS:
        raise UsageError(f"--kms {uri!r}: expected one of "
                         f"{', '.join(s + ':...' for s in _IMPORTERS)}")
    return scheme, rest.removeprefix("//")


def _signer_class(scheme: str) -> Any:
    target, extra = _IMPORTERS[scheme]
    module, _, name = target.partition(":")
    try:
        import importlib

        cls = getattr(importlib.import_module(module), name)
    except ImportError:
        raise MissingExtraError("kms", "securesystemslib") from None
    probe = {"gcpkms": "GCP_IMPORT_ERROR", "awskms": "AWS_IMPORT_ERROR",
             "azurekms": "AZURE_IMPORT_ERROR", "hv": "VAULT_IMPORT_ERROR"}[scheme]
    mod = importlib.import_module(cls.__module__)
    if getattr(mod, probe, None):
        raise MissingExtraError("kms", f"securesystemslib[{extra}]")
    if scheme == "gcpkms":
        import securesystemslib.signer as sslib

        cls = _gcp_rest_signer_class()
        sslib.SIGNER_FOR_URI_SCHEME["gcpkms"] = cls  # type: ignore[attr-defined]
    return cls


def _call(what: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except (UsageError, MissingExtraError):
        raise
    except Exception as e:  # noqa: BLE001 - every SDK has its own error family
        text = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        raise ServiceError(f"{what}: {type(e).__name__}{': ' + text if text else ''}") from None


@attrs.frozen
class KmsSigner:
    uri: str
    signer: Any = attrs.field(repr=False)
    public: keys.PublicKey = attrs.field(repr=False)

    @classmethod
    def from_uri(cls, uri: str) -> KmsSigner:
        scheme, rest = normalize(uri)
        cls_ = _signer_class(scheme)
        if scheme == "hv":
            name, _, version = rest.partition("/")
            priv_uri, ssl_key = _call(f"KMS {uri}: reading the key", cls_.import_, name)
            # import_ reads the newest version only (its URI: hv:NAME/VERSION); a key
            # pinned to another version must not be silently signed with the newest.
            newest = priv_uri.rpartition("/")[2]
            if version and version != newest:
                raise UsageError(f"--kms {uri}: Vault key {name!r} is at version {newest}; "
                                 "securesystemslib signs with the newest version only",
                                 hint=f"pass hv:{name} or hv:{name}/{newest}")
        else:
            priv_uri, ssl_key = _call(f"KMS {uri}: reading the key", cls_.import_, rest)
        import securesystemslib.signer as sslib

        signer = _call(f"KMS {uri}", sslib.Signer.from_priv_key_uri,  # type: ignore[attr-defined]
                       priv_uri, ssl_key)
        # SSlibKey holds ed25519 keys as hex and others as PEM; its private helper is
        # the one place that knows both (no public converter exists in 1.x).
        public = ssl_key._crypto_key()
        if not isinstance(public, keys.PublicKey):
            raise ServiceError(f"KMS {uri}: unsupported key type {type(public).__name__}")
        return cls(uri=uri, signer=signer, public=public)

    @property
    def keyid(self) -> str:
        return keys.keyid(self.public)

    def sign(self, data: bytes) -> bytes:
        sig = _call(f"KMS {self.uri}: signing", self.signer.sign, data)
        return bytes.fromhex(sig.signature)
