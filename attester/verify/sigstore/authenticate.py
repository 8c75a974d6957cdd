"""Authenticating a loaded Sigstore bundle: signature, certificate chain, log entry, time.

The entry point of ``verify/sigstore/`` for the pipeline (``checker``): given what
:mod:`.load` read, :func:`verify_bundle` (keyless) and :func:`verify_keyed` (a managed
key) send each bundle to the module for its evidence:

- a TSA-only bundle (GitHub's trust domain): :mod:`.tsa_bundle`;
- a log entry: its checkpoint (:mod:`.checkpoint`) first, then by entry kind, ``intoto``
  0.0.2 (:mod:`.intoto_entry`), ``dsse`` 0.0.2 of Rekor v2 (:mod:`.rekor_v2_dsse`),
  ``dsse`` 0.0.1 through ``sigstore``'s own verifier, ``hashedrekord`` 0.0.1/0.0.2
  for a signed file (:mod:`.hashedrekord`);
- a managed key: :mod:`.keyed_bundle` (or :mod:`.intoto_entry` for its intoto entries).

``sigstore`` does the cryptography wherever it can (the chain to the trusted root's
Fulcio CA at the time a log or timestamp proves, SCT, inclusion proof, SET, RFC 3161
timestamps, through :mod:`.tsa_bundle` for the TSA's validity window). The identity a
certificate must carry is the caller's :class:`~attester.verify.checks.identity.IdentityPolicy`,
checked after, each requirement its own check. Every failure is one line.

Offline: with ``--trusted-root FILE`` (or ``--offline``, which uses the roots bundled
with ``sigstore``) nothing here touches the network.
"""

from __future__ import annotations

import threading
from typing import Any

from attester.errors import UsageError, VerificationError
from attester.verify.checks.check import Check
from attester.verify.sigstore.hashedrekord import Deferred
from attester.verify.sigstore.load import one_line


def _evidence(bundle: Any) -> str:
    entry = bundle.log_entry
    inner = getattr(entry, "_inner", None)
    t = getattr(inner, "integrated_time", None)
    # Without an inclusion promise the integrated time is unsigned and sigstore ignores it
    # (Rekor v2): never print it as a logged time (redteam: any time could be claimed).
    if t and getattr(inner, "inclusion_promise", None):
        import datetime as dt

        when = dt.datetime.fromtimestamp(int(t), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"logged in Rekor at {when}"
    return "logged in Rekor, signing time from its RFC 3161 timestamp"


def _verify(run: Any, *, where: str) -> None:
    from sigstore.errors import VerificationError as SigstoreVerificationError

    try:
        run()
    except SigstoreVerificationError as e:
        raise VerificationError(f"{where}: {one_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - malformed material deep in the bundle
        raise VerificationError(f"{where}: {type(e).__name__}: {one_line(e)}") from None


def _no_log_detail(times: list[Any]) -> str:
    when = min(times).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"timestamped at {when} by a trusted timestamp authority (the trusted root has "
            "no transparency log)")


#: One Verifier per trusted root (building one loads the root's keyrings and CA
#: certificates), kept beside the root it was built from: a batch builds it once.
_VERIFIERS: dict[int, tuple[Any, Any]] = {}
_VERIFIERS_LOCK = threading.Lock()


def _verifier(trusted_root: Any) -> Any:
    with _VERIFIERS_LOCK:
        root, verifier = _VERIFIERS.get(id(trusted_root), (None, None))
        if root is not trusted_root:
            verifier = _new_verifier(trusted_root)
            _VERIFIERS[id(trusted_root)] = (trusted_root, verifier)
        return verifier


def _new_verifier(trusted_root: Any) -> Any:
    """``sigstore``'s Verifier, but with RFC 3161 timestamps checked by
    :func:`.timestamps.verify_timestamp` (a TSA's validity window closed at its end, as
    protobuf-specs' ``TimeRange`` says; the library's excludes it)."""
    from cryptography.hazmat.primitives.serialization import Encoding
    from sigstore._internal.timestamp import TimestampSource, TimestampVerificationResult
    from sigstore.verify import Verifier

    from attester.verify.sigstore import timestamps

    chains: dict[tuple[bytes, Any], list[Any]] = {}
    chains_lock = threading.Lock()

    class _Verifier(Verifier):
        def _verify_chain_at_time(self, certificate: Any, timestamp_result: Any) -> Any:
            # The chain of one certificate at one time is checked once per verifier: a
            # release signed in one `sigstore sign` run has hundreds of bundles, each
            # with the same certificate and a logged time from the same few seconds.
            # Only successes are kept; the key is the certificate's bytes and the time.
            key = (certificate.public_bytes(Encoding.DER), timestamp_result.time)
            with chains_lock:
                if key in chains:
                    return list(chains[key])
            chain = super()._verify_chain_at_time(certificate, timestamp_result)
            with chains_lock:
                if len(chains) < 4096:
                    chains[key] = list(chain)
            return chain

        def _verify_signed_timestamp(self, timestamp_response: Any, message: bytes
                                     ) -> TimestampVerificationResult | None:
            when = timestamps.verify_response(timestamp_response, message,
                                              self._trusted_root)
            return None if when is None else TimestampVerificationResult(
                source=TimestampSource.TIMESTAMP_AUTHORITY, time=when)

    return _Verifier(trusted_root=trusted_root)


def verify_keyed(bundle: Any, trusted_root: Any, keys: Any, *,
                 artifact_digest: tuple[str, bytes] | None, where: str
                 ) -> tuple[list[Check], tuple[str, bytes] | None]:
    """A bundle signed by a managed key: its checks, and for DSSE the verified payload."""
    from attester.verify.sigstore import intoto_entry, keyed_bundle

    if not keys:
        raise VerificationError(f"{where}: the bundle is signed by a key, not a certificate "
                                "(cosign --key, managed-key bundles): a certificate identity "
                                "cannot match it; pass --key PUB")
    if isinstance(bundle, intoto_entry.IntotoBundle):
        last: VerificationError | None = None
        for k in keys:  # the entry names its key: the one that verifies is the signer
            try:
                ptype, body, when = intoto_entry.verify_with_key(bundle, trusted_root, k.key,
                                                                 where=where)
            except VerificationError as e:
                last = e
                continue
            return [Check("signature", True, f"Sigstore bundle (intoto 0.0.2 entry) signed by "
                          f"{k.label}: DSSE signature valid, logged in Rekor at "
                          f"{when:%Y-%m-%dT%H:%M:%SZ}")], (ptype, body)
        assert last is not None  # noqa: S101 - keys is not empty
        raise last
    label, payload = keyed_bundle.verify(bundle, trusted_root, keys,
                                                    artifact_digest=artifact_digest,
                                                    where=where)
    what = "DSSE signature valid" if payload else "signature over the artifact valid"
    return [Check("signature", True, f"Sigstore bundle signed by {label}: {what}, "
                  "logged in Rekor (inclusion proof and signed checkpoint verified)")], payload


def verify_bundle(bundle: Any, trusted_root: Any, identity: Any, *,
                  artifact_digest: tuple[str, bytes] | None, where: str
                  ) -> tuple[list[Check], tuple[str, bytes] | None]:
    """Checks for the bundle; for DSSE bundles also the verified (payloadType, payload).
    ``artifact_digest`` is (algorithm, digest) of the file a message signature signs, in
    the algorithm :func:`.hashedrekord.signed_algorithm` names."""
    from attester.verify.sigstore import (
        checkpoint,
        hashedrekord,
        intoto_entry,
        rekor_v2_dsse,
        tsa_bundle,
    )

    if not identity.given():
        raise UsageError("a keyless signature needs an expected signer",
                         hint="pass --certificate-identity (or -regexp) and "
                         "--certificate-oidc-issuer")
    # Identity is checked by us (below) so each requirement gets its own message; the
    # library checks everything cryptographic.
    nopolicy = Deferred()
    checks: list[Check] = []
    payload: tuple[str, bytes] | None = None
    if isinstance(bundle, tsa_bundle.TimestampedBundle):
        payload, times = tsa_bundle.verify(bundle, trusted_root,
                                           artifact_digest=artifact_digest, where=where)
        what = "DSSE signature valid" if payload else "signature over the artifact valid"
        checks.append(Check("signature", True, f"Sigstore bundle: {what}, certificate chains "
                            f"to the trusted root, {_no_log_detail(times)}"))
        checks.extend(identity.check(bundle.signing_certificate))
        return checks, payload
    if not tsa_bundle.root_has_logs(trusted_root):
        raise VerificationError(f"{where}: the bundle has a log entry, but the trusted root has "
                                "no transparency log to check it against")
    checkpoint.check_bundle(bundle, trusted_root, where=where)
    if isinstance(bundle, intoto_entry.IntotoBundle):
        ptype, body, when = intoto_entry.verify(bundle, trusted_root, where=where)
        checks.append(Check("signature", True, "Sigstore bundle (intoto 0.0.2 entry): DSSE "
                            "signature valid, certificate chains to the trusted root, logged "
                            f"in Rekor at {when:%Y-%m-%dT%H:%M:%SZ}"))
        checks.extend(identity.check(bundle.signing_certificate))
        return checks, (ptype, body)
    verifier = _verifier(trusted_root)
    if bundle._dsse_envelope is not None:
        out: list[tuple[str, bytes]] = []
        if rekor_v2_dsse.is_dsse_v002(bundle):
            _verify(lambda: out.append(rekor_v2_dsse.verify(verifier, bundle)), where=where)
            kind = " (Rekor v2 dsse 0.0.2 entry)"
        else:
            _verify(lambda: out.append(verifier.verify_dsse(bundle, nopolicy)), where=where)
            kind = ""
        payload = out[0]
        checks.append(Check("signature", True, f"Sigstore bundle{kind}: DSSE signature valid, "
                            f"certificate chains to the trusted root, {_evidence(bundle)}"))
    else:
        if artifact_digest is None:
            raise UsageError(f"{where}: a message-signature bundle signs a file; pass "
                             "--artifact FILE")
        alg, digest = artifact_digest
        _verify(lambda: hashedrekord.verify_message(verifier, bundle, alg, digest),
                where=where)
        checks.append(Check("signature", True, f"Sigstore bundle: signature over the artifact "
                            f"({alg}) valid, certificate chains to the trusted root, "
                            f"{_evidence(bundle)}"))
    checks.extend(identity.check(bundle.signing_certificate))
    return checks, payload
