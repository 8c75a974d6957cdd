"""A document's verdict: every check it got, and what verified (the statement, its signer).

What every verify path returns, whatever the form: the CLI prints it (text or
``--format json``), the batch, ``--chain`` and ``audit`` collect them.
"""

from __future__ import annotations

from typing import Any

import attrs

from attester.model.statement import (
    ParsedStatement,
)
from attester.verify.checks.policy import (
    Check,
)


@attrs.frozen
class Report:
    attestation: str
    checks: tuple[Check, ...]
    statement: ParsedStatement | None = None
    #: JSON Lines: every line's own report (this report is the one that passed, if any)
    lines: tuple[Report, ...] = ()
    #: what was present but not checked, and why (shown, never counted as a check)
    notes: tuple[str, ...] = ()
    #: the document verified: (where, sha256 hex of the very bytes verified), digested
    #: once where they were read, so a summary written after (--vsa-out) names them (a
    #: second read of stdin recorded the digest of nothing)
    inputs: tuple[tuple[str, str], ...] = ()
    #: who signed the statement (a signer.Signer), as the signature check established it
    signer: Any = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def _signed_at(self) -> dict[str, str]:
        """When the log or a timestamp authority says it was signed, as the signature check
        verified it (its detail is the one place that time is stated)."""
        import re

        for c in self.checks:
            m = re.search(r"(logged in Rekor|timestamped) at (\d{4}-\d\d-\d\dT[\d:]+Z)",
                          c.detail)
            if c.ok and m:
                source = "transparency log" if m[1] == "logged in Rekor" else \
                    "timestamp authority"
                return {"signedAt": m[2], "timeSource": source}
        return {}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attestation": self.attestation,
            "verified": self.ok,
            "checks": [c.to_json() for c in self.checks],
        }
        if self.statement is not None:
            out["predicateType"] = self.statement.predicate_type
            out["subjects"] = len(self.statement.raw_subjects())
        if self.ok and self.statement is not None:  # only what verified, as gh prints it
            out["statement"] = dict(self.statement.raw)
            if self.signer is not None:
                out["signer"] = {**self.signer.to_json(), **self._signed_at()}
        if self.notes:
            out["notes"] = list(self.notes)
        if self.lines:
            out["lines"] = [dict(r.to_json(), line=n) for n, r in enumerate(self.lines, 1)]
        return out
