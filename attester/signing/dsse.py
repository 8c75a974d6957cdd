"""DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1).

Written by hand rather than through securesystemslib's ``dsse.Envelope`` because we
need the exact payload bytes as received (never re-serialized) and one-line errors
naming the file; the PAE itself is a few lines and is pinned by a known-answer test.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import attrs

from attester.errors import InputError

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-Authentication Encoding: ``DSSEv1 SP len(type) SP type SP len(body) SP body``."""
    t = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


def b64decode(value: str, *, where: str) -> bytes:
    """DSSE allows standard or URL-safe base64, padded or not; nothing else."""
    if not isinstance(value, str):
        raise InputError(f"{where}: expected a base64 string")
    padded = value + "=" * (-len(value) % 4)
    for alphabet in (None, b"-_"):
        try:
            return base64.b64decode(padded, altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise InputError(f"{where}: not valid base64")


@attrs.frozen
class Signature:
    sig: bytes
    keyid: str = ""

    def to_json(self) -> dict[str, str]:
        return {"keyid": self.keyid, "sig": base64.b64encode(self.sig).decode()}


@attrs.frozen
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...] = ()

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def to_json(self) -> dict[str, Any]:
        return {
            "payloadType": self.payload_type,
            "payload": base64.b64encode(self.payload).decode(),
            "signatures": [s.to_json() for s in self.signatures],
        }


def looks_like_envelope(doc: Any) -> bool:
    return isinstance(doc, Mapping) and "payload" in doc and "payloadType" in doc


#: Signatures one envelope may carry (a threshold of signers, not thousands).
MAX_SIGNATURES = 64


def parse_envelope(doc: Any, *, where: str) -> Envelope:
    """Parse a DSSE envelope JSON object, keeping the payload bytes exactly."""
    if not isinstance(doc, Mapping):
        raise InputError(f"{where}: expected a DSSE envelope (a JSON object)")
    for field in ("payloadType", "payload", "signatures"):
        if field not in doc:
            raise InputError(f"{where}: not a DSSE envelope, field {field!r} is missing")
    if not isinstance(doc["payloadType"], str):
        raise InputError(f"{where}: payloadType must be a string")
    payload = b64decode(doc["payload"], where=f"{where}: payload")
    raw_sigs = doc["signatures"]
    if not isinstance(raw_sigs, list):
        raise InputError(f"{where}: signatures must be a list")
    if len(raw_sigs) > MAX_SIGNATURES:
        # each signature is tried against each trusted key: unbounded, a document inside
        # the size limit made verification work without end (redteam)
        raise InputError(f"{where}: {len(raw_sigs)} signatures, more than the "
                         f"{MAX_SIGNATURES} an envelope may carry; refusing it")
    sigs = []
    for i, raw in enumerate(raw_sigs):
        if not isinstance(raw, Mapping) or "sig" not in raw:
            raise InputError(f"{where}: signatures[{i}] has no 'sig'")
        keyid = raw.get("keyid") or ""
        if not isinstance(keyid, str):
            raise InputError(f"{where}: signatures[{i}].keyid must be a string")
        sigs.append(Signature(sig=b64decode(raw["sig"], where=f"{where}: signatures[{i}].sig"),
                              keyid=keyid))
    return Envelope(payload_type=doc["payloadType"], payload=payload, signatures=tuple(sigs))
