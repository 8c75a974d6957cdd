"""Signers, chosen by how the key is named on the command line."""

from __future__ import annotations

from attester.signing.dsse import Envelope, Signature
from attester.signing.signers.interface import Signer


def sign_envelope(payload_type: str, payload: bytes, signers: list[Signer]) -> Envelope:
    """Sign the exact ``payload`` bytes with every signer, one DSSE signature each."""
    unsigned = Envelope(payload_type=payload_type, payload=payload)
    sigs = tuple(Signature(sig=s.sign(unsigned.pae()), keyid=s.keyid) for s in signers)
    return Envelope(payload_type=payload_type, payload=payload, signatures=sigs)
