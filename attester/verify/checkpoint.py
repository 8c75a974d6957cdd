"""A log entry's checkpoint must name the log that the trusted root says signed it.

Why this is ours: ``sigstore`` (4.5.1) verifies a checkpoint's signature with the log's
key but never reads the names in it, so a checkpoint signed by a trusted key but naming
another log passes. sigstore-js refuses it ("invalid checkpoint signature"), and so do
we. A log names its checkpoints after its host, the trusted root's ``baseUrl`` without
the scheme (C2SP signed-note and checkpoint formats): Rekor v1's origin line is
``rekor.sigstore.dev - <tree id>``, Rekor v2's is ``log2025-1.rekor.sigstore.dev``, and
the log's own signature line carries the same name with the key hint of the log's id.
Witness cosignatures (other names, other keys) are allowed alongside.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from attester.errors import VerificationError

#: A checkpoint is a few short lines; anything longer is not one.
MAX_CHECKPOINT = 64 * 1024


def log_name(base_url: str) -> str:
    """The name a log signs its checkpoints with: its base URL without scheme."""
    name = base_url.split("://", 1)[-1]
    return name.rstrip("/")


def _logs(trusted_root: Any) -> Iterable[tuple[bytes, bytes | None, str]]:
    """(log id, checkpoint key id or None, base URL) of every transparency log."""
    inner = getattr(trusted_root, "_inner", trusted_root)
    for tlog in getattr(inner, "tlogs", None) or ():
        ck = getattr(tlog, "checkpoint_key_id", None)
        yield (tlog.log_id.key_id, ck.key_id if ck is not None else None,
               str(tlog.base_url or ""))


def parse(envelope: str) -> tuple[str, list[tuple[str, bytes]]]:
    """(origin, [(signer name, key hint)]) of a signed checkpoint note."""
    if len(envelope) > MAX_CHECKPOINT or "\n\n" not in envelope:
        raise ValueError("not a signed note")
    note, _, sigs = envelope.partition("\n\n")
    origin = note.split("\n", 1)[0]
    signers = []
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            continue
        parts = line[2:].split(" ")
        if len(parts) != 2:
            raise ValueError("malformed signature line")
        raw = base64.b64decode(parts[1], validate=True)
        if len(raw) < 5:
            raise ValueError("signature line too short")
        signers.append((parts[0], raw[:4]))
    if not origin or not signers:
        raise ValueError("no origin or no signature")
    return origin, signers


def check_entry(entry: Mapping[str, Any], trusted_root: Any, *, where: str) -> None:
    """Fail unless the entry's checkpoint (when it has one) names the log that logged it.

    ``entry`` is a bundle's ``tlogEntries`` item in its JSON form."""
    proof = entry.get("inclusionProof") or {}
    cp = (proof.get("checkpoint") or {}) if isinstance(proof, Mapping) else {}
    envelope = cp.get("envelope") if isinstance(cp, Mapping) else None
    if not envelope:
        return  # no checkpoint: the inclusion verifier decides whether one is required
    try:
        log_id = base64.b64decode(entry["logId"]["keyId"], validate=True)
        origin, signers = parse(str(envelope))
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise VerificationError(f"{where}: malformed log checkpoint") from None
    log = next(((ck or lid, url) for lid, ck, url in _logs(trusted_root) if lid == log_id), None)
    if log is None:
        return  # a log the root does not name fails its SET and checkpoint signature checks
    hint_source, url = log
    name = log_name(url)
    if origin != name and not origin.startswith(name + " - "):
        raise VerificationError(f"{where}: checkpoint origin {origin[:100]!r} is not the log "
                                f"{name!r} the trusted root names")
    if not any(n == name and hint == hint_source[:4] for n, hint in signers):
        raise VerificationError(f"{where}: checkpoint carries no signature by the log "
                                f"{name!r}")


def check_bundle(bundle: Any, trusted_root: Any, *, where: str) -> None:
    """:func:`check_entry` for a loaded bundle (``sigstore``'s or one read as JSON)."""
    entry = getattr(bundle, "entry", None)
    if not isinstance(entry, Mapping):
        log_entry = getattr(bundle, "log_entry", None)
        inner = getattr(log_entry, "_inner", None)
        if inner is None or not hasattr(inner, "to_dict"):
            return
        entry = inner.to_dict()
    check_entry(entry, trusted_root, where=where)
