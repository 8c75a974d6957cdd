"""What a Verification Summary must say, as ``slsa-verifier verify-vsa`` checks it.

Every VSA version (``https://slsa.dev/verification_summary/`` v0.1, v0.2, v1-rc1, v1-rc2,
v1, and any later one) must say PASSED: a FAILED summary never verifies, whichever
``--predicate-type`` names it. ``--verifier-id`` and ``--resource-uri`` are exact; each
``--verified-level`` must be met: a SLSA track level (``SLSA_BUILD_LEVEL_2``) by the same
track at that level or higher, any other level (``BCID_L1``, ``FEDRAMP_LOW``) by itself.
Levels are exact ASCII tokens: SLSA_BUILD_LEVEL_ followed by a fullwidth three (U+FF13)
is no level 3, and a level number has at most :data:`MAX_LEVEL_DIGITS` digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from attester.errors import UsageError
from attester.verify.checks.check import Check

#: The predicate types of every VSA version share this prefix.
VSA_PREFIX = "https://slsa.dev/verification_summary/"
#: Far above any SLSA level, and far below what int() refuses (4300 digits).
MAX_LEVEL_DIGITS = 6
_MAX_LEVEL_LENGTH = 128
# re.ASCII: \d and [A-Z] of Unicode patterns would take fullwidth digits (int() reads them)
_SLSA_LEVEL = re.compile(rf"SLSA_([A-Z]+)_LEVEL_([0-9]{{1,{MAX_LEVEL_DIGITS}}})", re.ASCII)
_LEVEL = re.compile(r"[A-Z][A-Z0-9_]*", re.ASCII)
#: Field names by version: v1 and its release candidates in camelCase, v0.1/v0.2 snake_case
_RESULT_FIELDS = ("verificationResult", "verification_result")
_RESOURCE_FIELDS = ("resourceUri", "resource_uri")


def is_vsa(predicate_type: str) -> bool:
    return predicate_type.startswith(VSA_PREFIX)


def result_check(predicate: Mapping[str, Any]) -> Check:
    """The summary's own verdict: PASSED in every result field it has, and at least one."""
    said = [predicate[f] for f in _RESULT_FIELDS if f in predicate]
    passed = bool(said) and all(v == "PASSED" for v in said)
    shown = next((v for v in said if v != "PASSED"), None) if said else None
    return Check("vsa-result", passed, "verification summary says PASSED" if passed else
                 f"verification summary says {_text(shown) if said else 'nothing'}, not PASSED")


def _text(value: Any) -> str:
    return repr(value if isinstance(value, str) else str(value))[:80]


def check_levels(levels: Sequence[str]) -> tuple[str, ...]:
    for level in levels:
        shown = level if len(level) <= 40 else f"{level[:40]}... ({len(level)} characters)"
        if len(level) > _MAX_LEVEL_LENGTH or not _LEVEL.fullmatch(level):
            raise UsageError(f"--verified-level {shown!r}: expected a level such as "
                             "SLSA_BUILD_LEVEL_2 (ASCII capitals, digits and _, at most "
                             f"{_MAX_LEVEL_LENGTH} characters)")
        if re.search(rf"_LEVEL_[0-9]{{{MAX_LEVEL_DIGITS + 1},}}$", level):
            raise UsageError(f"--verified-level {shown!r}: a level number has at most "
                             f"{MAX_LEVEL_DIGITS} digits (SLSA_TRACK_LEVEL_N)")
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
        got = next((predicate[f] for f in _RESOURCE_FIELDS if f in predicate), "")
        got = got if isinstance(got, str) else ""
        checks.append(Check("resource-uri", got == resource_uri, f"VSA says {got}"
                            if got == resource_uri else f"VSA says resource "
                            f"{got or 'nothing'!r}, policy wants {resource_uri!r}"))
    if levels:
        have = _levels(predicate)
        for want in levels:
            ok = _meets(have, want)
            said = ", ".join(_shown_level(h) for h in have)
            checks.append(Check(f"verified-level {want}", ok,
                                f"VSA says {said}" if ok else
                                f"VSA says {said or 'no levels'}, policy wants "
                                f"{want}" + (" or higher" if _SLSA_LEVEL.fullmatch(want)
                                             else "")))
    return checks


def _levels(predicate: Mapping[str, Any]) -> list[str]:
    """The levels a VSA states: v1's verifiedLevels list, or v0.1/v0.2's one policy_level."""
    raw = predicate.get("verifiedLevels")
    if isinstance(raw, list):
        return [x for x in raw if isinstance(x, str)]
    one = predicate.get("policy_level", predicate.get("policyLevel"))
    return [one] if isinstance(one, str) else []


def _shown_level(level: str) -> str:
    """A level from the VSA as text: non-ASCII escaped, a long one cut."""
    text = level.encode("ascii", "backslashreplace").decode()
    return text if len(text) <= 60 else f"{text[:60]}... ({len(level)} characters)"
