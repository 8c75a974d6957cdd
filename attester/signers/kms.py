"""Keys held in a KMS, through securesystemslib's signer registry (the ``kms`` extra).

The private key never leaves the service: we ask it for the public key (to know the
key id and to let ``attest keygen --kms`` write it out for verifiers) and for a
signature over the DSSE PAE. Schemes are securesystemslib's: ``gcpkms``, ``awskms``,
``azurekms``, ``hv`` (HashiCorp Vault transit), written ``SCHEME:REST`` or, as the
release tooling writes them, ``SCHEME://REST``.
"""

from __future__ import annotations

from typing import Any

import attrs

from attester import keys
from attester.errors import MissingExtraError, ServiceError, UsageError

#: scheme -> (how to import the key's public half, the extra that brings the SDK)
_IMPORTERS = {
    "gcpkms": ("securesystemslib.signer:GCPSigner", "gcpkms"),
    "awskms": ("securesystemslib.signer:AWSSigner", "awskms"),
    "azurekms": ("securesystemslib.signer:AzureSigner", "azurekms"),
    "hv": ("securesystemslib.signer:VaultSigner", "vault"),
}


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
            name = rest.split("/")[0]
            priv_uri, ssl_key = _call(f"KMS {uri}: reading the key", cls_.import_, name)
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
