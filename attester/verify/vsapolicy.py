"""What a Verification Summary must say, as ``slsa-verifier verify-vsa`` checks it.

``--verifier-id`` and ``--resource-uri`` are exact; each ``--verified-level`` must be
met: a SLSA track level (``SLSA_BUILD_LEVEL_2``) by the same track at that level or
higher, any other level (``BCID_L1``, ``FEDRAMP_LOW``) by itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from attester.errors import UsageError
from attester.verify.policy import Check

_SLSA_LEVEL = re.compile(r"SLSA_([A-Z]+)_LEVEL_(\d+)")
_LEVEL = re.compile(r"[A-Z][A-Z0-9_]*")


def check_levels(levels: Sequence[str]) -> tuple[str, ...]:
    for level in levels:
        if not _LEVEL.fullmatch(level):
            raise UsageError(f"--verified-level {level!r}: expected a level such as "
                             "SLSA_BUILD_LEVEL_2")
    return tuple(levels)


def _meets(have: Sequence[str], want: str) -> bool:
    m = _SLSA_LEVEL.fullmatch(want)
    if m is None:
        return want in have
    for level in have:
        h = _SLSA_LEVEL.fullmatch(level)
        if h is not None and h[1] == m[1] and int(h[2]) >= int(m[2]):
            return True
    return False


def vsa_checks(predicate: Mapping[str, Any], *, verifier_id: str | None,
               resource_uri: str | None, levels: Sequence[str]) -> list[Check]:
    checks: list[Check] = []
    if verifier_id is not None:
        verifier = predicate.get("verifier")
        got = verifier.get("id") if isinstance(verifier, Mapping) else None
        got = got if isinstance(got, str) else ""
        checks.append(Check("verifier-id", got == verifier_id, f"VSA says {got}"
                            if got == verifier_id else f"VSA says verifier {got or 'nothing'!r}"
                            f", policy wants {verifier_id!r}"))
    if resource_uri is not None:
        got = predicate.get("resourceUri")
        got = got if isinstance(got, str) else ""
        checks.append(Check("resource-uri", got == resource_uri, f"VSA says {got}"
                            if got == resource_uri else f"VSA says resource "
                            f"{got or 'nothing'!r}, policy wants {resource_uri!r}"))
    if levels:
        raw = predicate.get("verifiedLevels")
        have = [x for x in raw if isinstance(x, str)] if isinstance(raw, list) else []
        for want in levels:
            ok = _meets(have, want)
            checks.append(Check(f"verified-level {want}", ok,
                                f"VSA says {', '.join(have)}" if ok else
                                f"VSA says {', '.join(have) or 'no levels'}, policy wants "
                                f"{want}" + (" or higher" if _SLSA_LEVEL.fullmatch(want)
                                             else "")))
    return checks
