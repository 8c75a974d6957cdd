"""RFC 3161 timestamps: the time a trusted timestamp authority vouches for.

One of a bundle's two time sources (the other, a log's signed entry timestamp, is
:mod:`.integrated_time`). Every path that reads a timestamp checks it here, the
``sigstore`` library's verifier included (``authenticate._Verifier``): the TSA's chain
from the trusted root, the signature over the message, and the time inside the TSA's
validity window, closed at both ends.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

MAX_TIMESTAMPS = 32  # sigstore-python's MAX_ALLOWED_TIMESTAMP


def verify_timestamp(raw: bytes, message: bytes, trusted_root: Any) -> dt.datetime | None:
    """The time a trusted TSA vouches for, or None (as sigstore's ``_verify_signed_timestamp``:
    the TSA chain from the root, and the time inside the TSA's validity window). The window
    is closed at both ends, as protobuf-specs' ``TimeRange`` and sigstore-go have it;
    ``sigstore`` 4.5.1 excludes the end (conformance ``trust-root-tsa-validity-end-inclusive``),
    so every path, the library's included (authenticate._Verifier), checks time here."""
    from rfc3161_client import decode_timestamp_response

    try:
        response = decode_timestamp_response(raw)
    except Exception:  # noqa: BLE001 - rfc3161-client raises ValueError and others
        return None
    return verify_response(response, message, trusted_root)


def verify_response(response: Any, message: bytes, trusted_root: Any) -> dt.datetime | None:
    """:func:`verify_timestamp` of a decoded ``rfc3161_client.TimeStampResponse``."""
    from rfc3161_client import VerificationError as TsaError
    from rfc3161_client import VerifierBuilder

    for authority in trusted_root.get_timestamp_authorities():
        certs = authority.certificates(allow_expired=True)
        if len(certs) < 2:
            continue
        builder = VerifierBuilder().tsa_certificate(certs[0]).add_root_certificate(certs[-1])
        for c in certs[1:-1]:
            builder = builder.add_intermediate_certificate(c)
        try:
            builder.build().verify_message(response, message)
        except (TsaError, ValueError):
            continue
        when: dt.datetime = response.tst_info.gen_time
        end = authority.validity_period_end
        if authority.validity_period_start <= when and (end is None or when <= end):
            return when
    return None
