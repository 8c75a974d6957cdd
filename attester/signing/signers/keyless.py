"""Sigstore keyless signing: a short-lived Fulcio certificate for the CI's OIDC identity,
the DSSE envelope logged in Rekor, all in one Sigstore bundle (v0.3 JSON).

The OIDC token comes from ``--identity-token``, ``SIGSTORE_ID_TOKEN``, or the ambient CI
credential (GitHub Actions, Google metadata server, ... via the ``id`` package that the
``sigstore`` client uses). It is a secret: never logged, never in an error.
"""

from __future__ import annotations

import os
from typing import Any

from attester.errors import InputError, MissingExtraError, ServiceError, UsageError
from attester.jsonio import load_json


def _trust_config(path: str | None, staging: bool) -> Any:
    from sigstore.models import ClientTrustConfig

    if path:
        doc = load_json(path, what="trust config")
        import json

        try:
            return ClientTrustConfig.from_json(json.dumps(doc))
        except Exception as e:  # noqa: BLE001 - pydantic and sigstore raise many kinds
            raise InputError(f"trust config {path}: not a Sigstore client trust config "
                             f"({type(e).__name__})") from None
    try:
        return ClientTrustConfig.staging() if staging else ClientTrustConfig.production()
    except Exception as e:  # noqa: BLE001
        raise ServiceError(f"cannot fetch the Sigstore trust root: {type(e).__name__}",
                           hint="offline? pass --trust-config FILE") from None


def identity_token(explicit: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get("SIGSTORE_ID_TOKEN"):
        return os.environ["SIGSTORE_ID_TOKEN"]
    try:
        from sigstore.oidc import detect_credential
    except ImportError:
        raise MissingExtraError("sigstore", "sigstore") from None

    try:
        token = detect_credential()
    except Exception as e:  # noqa: BLE001 - id raises per-provider errors
        raise UsageError(f"ambient OIDC credentials are present but unusable: "
                         f"{type(e).__name__}") from None
    if not token:
        raise UsageError("no OIDC identity token for keyless signing",
                         hint="pass --identity-token, set SIGSTORE_ID_TOKEN, or run in a CI "
                         "with OIDC (GitHub Actions: permissions: id-token: write)")
    return str(token)


def sign_statement(payload: bytes, *, token: str, trust_config: str | None,
                   staging: bool, rekor_v1: bool = False) -> bytes:
    """The Sigstore bundle JSON for a DSSE envelope over exactly ``payload``. ``rekor_v1``:
    log it in a Rekor v1 log even where the instance offers v2 (PEP 740 attestations carry
    v1 entries only; pypi-attestations' own signing forces the same)."""
    try:
        from sigstore import dsse
        from sigstore.oidc import IdentityToken
        from sigstore.sign import SigningContext
    except ImportError:
        raise MissingExtraError("sigstore", "sigstore") from None
    from sigstore.errors import Error as SigstoreError

    try:
        ident = IdentityToken(token)
    except SigstoreError as e:
        raise UsageError(f"identity token rejected: {str(e).splitlines()[0]}") from None
    config = _trust_config(trust_config, staging)
    if rekor_v1:
        config.force_tlog_version = 1
    try:
        statement = dsse.Statement(payload)
        ctx = SigningContext.from_trust_config(config)
        # cache=True is required, not an optimisation: in sigstore 4.5.1 an uncached
        # Signer makes a new ephemeral key on every use, so the certificate's key and
        # the signing key differ and the bundle can never verify.
        with ctx.signer(ident, cache=True) as signer:
            bundle = signer.sign_dsse(statement)
    except SigstoreError as e:
        raise ServiceError(f"keyless signing failed: {str(e).splitlines()[0][:300]}") from None
    except Exception as e:  # noqa: BLE001 - transport errors from requests, pydantic, ...
        raise ServiceError(f"keyless signing failed: {type(e).__name__}: "
                           f"{str(e).splitlines()[0][:300] if str(e) else ''}") from None
    return str(bundle.to_json()).encode()
