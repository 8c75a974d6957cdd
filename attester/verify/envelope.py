"""Keyed DSSE envelopes: authenticated by the trusted keys (``--key``), then checked.

The authenticate stage for an envelope signed by keys: at least ``--threshold`` distinct
trusted keys must have signed PAE(payloadType, the exact payload bytes). Then the
verified payload goes to :func:`~attester.verify.checks.statement.check_payload`, as every
path's does. Everything fails closed: no trusted key or an empty policy is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from attester.signing import keys
from attester.signing.dsse import Envelope
from attester.verify.checks.policy import (
    Check,
)
from attester.verify.checks.report import Report
from attester.verify.checks.statement import Demands, check_payload, empty_policy_error


@attrs.frozen
class TrustedKey:
    label: str
    key: keys.PublicKey = attrs.field(repr=False)

    @property
    def keyid(self) -> str:
        return keys.keyid(self.key)


def signed_by(env: Envelope, trusted: Sequence[TrustedKey]) -> list[TrustedKey]:
    """The distinct trusted keys with a valid signature over PAE(type, exact payload)."""
    message = env.pae()
    distinct = {tk.keyid: tk for tk in trusted}  # the same key named twice counts once
    return [tk for tk in distinct.values()
            if any(keys.verify(tk.key, s.sig, message) for s in env.signatures)]


def check_signatures(env: Envelope, trusted: Sequence[TrustedKey], threshold: int,
                     signers: Sequence[TrustedKey] | None = None) -> Check:
    """At least ``threshold`` distinct trusted keys signed PAE(type, exact payload)
    (``signers``: those :func:`signed_by` found, when already computed)."""
    if not env.signatures:
        return Check("signature", False, "envelope has no signatures")
    signed = [tk.label for tk in (signed_by(env, trusted) if signers is None else signers)]
    if len(signed) >= threshold:
        return Check("signature", True, f"signed by {', '.join(signed)}"
                     + (f" ({len(signed)} of threshold {threshold})" if threshold > 1 else ""))
    if not signed:
        return Check("signature", False,
                     f"no valid signature by a trusted key ({len(env.signatures)} signature(s) "
                     f"checked against {len(trusted)} key(s); payload or signature altered, "
                     "or signed by another key)")
    return Check("signature", False, f"only {len(signed)} trusted key(s) signed "
                 f"({', '.join(signed)}), threshold is {threshold}")


def verify_envelope(env: Envelope, *, where: str, trusted: Sequence[TrustedKey],
                    threshold: int, demands: Demands) -> Report:
    """A keyed DSSE envelope: run every check in order; stop at the first stage that fails."""
    if demands.is_empty():
        raise empty_policy_error()
    from attester.verify.checks.signer import from_keys

    signers = signed_by(env, trusted) if env.signatures else []
    sig = check_signatures(env, trusted, threshold, signers)
    if not sig.ok:
        return Report(attestation=where, checks=(sig,))
    who = from_keys([tk.keyid for tk in signers], [tk.label for tk in signers])
    rest, stmt = check_payload(env.payload_type, env.payload, demands, who)
    return Report(attestation=where, checks=(sig, *rest), statement=stmt, signer=who)
