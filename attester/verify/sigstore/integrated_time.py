"""A Rekor v1 entry's signed entry timestamp (SET): the log's promise of its integrated time.

One of a bundle's two time sources (the other, an RFC 3161 timestamp, is
:mod:`.timestamps`). ``sigstore`` checks the SET inside its own verifier; this is the
same check for the entries read outside it: ``intoto`` 0.0.2 entries
(:mod:`.intoto_entry`, and so cosign's keyless ``.sig``/``.att`` layers) and the entries
found online for a bare envelope (:mod:`.rekor_lookup`). A Rekor v2 entry has no SET: its
time is a timestamp's.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any


def verify_set(entry: Mapping[str, Any], keyring: Any) -> None:
    """The SET over the RFC 8785 JSON of (body, integratedTime, logID, logIndex), by the
    log key the entry names, from ``keyring`` (the trusted root's Rekor keys). Raises
    ``sigstore``'s VerificationError when it does not verify, and KeyError, TypeError,
    ValueError or binascii.Error when the entry is malformed: each caller says which in
    its own words."""
    import rfc8785

    log_id = base64.b64decode(entry["logId"]["keyId"])
    canonical = rfc8785.dumps({"body": entry["canonicalizedBody"],
                               "integratedTime": int(entry["integratedTime"]),
                               "logID": log_id.hex(), "logIndex": int(entry["logIndex"])})
    keyring.verify(key_id=log_id,
                   signature=base64.b64decode(entry["inclusionPromise"]["signedEntryTimestamp"]),
                   data=canonical)
