"""A log entry's checkpoint must carry a signature by the key of the log that logged it.

What binds a checkpoint to its log is the log key's signature over the note, not the names
in it (C2SP signed-note: a name is a label, the key hint and signature are what verify).
``sigstore`` (4.5.1) verifies the signature line whose key hint is the log's; we check,
before it, that the note is well formed and that such a line exists, so a checkpoint
without the log's signature fails with its own message.

The origin need not equal the trusted root's host: Rekor v1 names its checkpoints
``rekor.sigstore.dev - <tree id>`` and Rekor v2 ``log2025-1.rekor.sigstore.dev``, but a
private instance (sigstore/scaffolding) names them after its Kubernetes service, whatever
URL clients reach it at. sigstore-js (3.x) does match the signature's name against the
log's URL and so refuses such checkpoints; sigstore-python and sigstore-go verify the key's
signature. A checkpoint whose origin was rewritten fails here all the same: the log's
signature no longer verifies over the changed note (conformance
``rekor2-checkpoint-no-matching-signature_fail``). Witness cosignatures (other names,
other keys) are allowed alongside.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from attester.errors import VerificationError

#: A checkpoint is a few short lines; anything longer is not one.
MAX_CHECKPOINT = 64 * 1024


def _logs(trusted_root: Any) -> Iterable[tuple[bytes, bytes | None]]:
    """(log id, checkpoint key id or None) of every transparency log."""
    inner = getattr(trusted_root, "_inner", trusted_root)
    for tlog in getattr(inner, "tlogs", None) or ():
        ck = getattr(tlog, "checkpoint_key_id", None)
        yield tlog.log_id.key_id, ck.key_id if ck is not None else None


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
    """Fail unless the entry's checkpoint (when it has one) is well formed and carries a
    signature line with the key hint of the log that logged the entry (whose signature
    ``sigstore`` then verifies with that log's key).

    ``entry`` is a bundle's ``tlogEntries`` item in its JSON form."""
    proof = entry.get("inclusionProof") or {}
    cp = (proof.get("checkpoint") or {}) if isinstance(proof, Mapping) else {}
    envelope = cp.get("envelope") if isinstance(cp, Mapping) else None
    if not envelope:
        return  # no checkpoint: the inclusion verifier decides whether one is required
    try:
        log_id = base64.b64decode(entry["logId"]["keyId"], validate=True)
        _, signers = parse(str(envelope))
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise VerificationError(f"{where}: malformed log checkpoint") from None
    hint_source = next((ck or lid for lid, ck in _logs(trusted_root) if lid == log_id), None)
    if hint_source is None:
        return  # a log the root does not name fails its SET and checkpoint signature checks
    if not any(hint == hint_source[:4] for _, hint in signers):
        raise VerificationError(f"{where}: checkpoint carries no signature by the log's key "
                                f"(key hint {hint_source[:4].hex()})")


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
