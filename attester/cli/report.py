"""How a verification report is printed: stdout for the result, stderr for failures."""

from __future__ import annotations

import sys
from typing import Any


def print_report(report: Any, fmt: str, *, ok_title: str, fail_title: str,
                 every: list[Any] | None = None) -> None:
    """The report on stdout (json, or the passed checks as text); on failure, every failed
    check on stderr, one line each. Names come from hostile input: text is escaped.
    ``every``: all reports the verdict was chosen from (listed in json)."""
    from attester.display import safe
    from attester.jsonio import dumps_pretty

    if fmt == "json":
        out = report.to_json()
        if every is not None:
            out["attestations"] = [r.to_json() for r in every]
        sys.stdout.buffer.write(dumps_pretty(out))
    elif report.ok:
        print(safe(ok_title))
        for c in report.checks:
            print(f"  ok  {safe(c.name)}: {safe(c.detail)}")
    for note in getattr(report, "notes", ()) if fmt != "json" else ():
        print(f"attest: note: {safe(note)}", file=sys.stderr)
    for c in report.failures():
        print(f"attest: {safe(fail_title)}: {safe(c.name)}: {safe(c.detail)}", file=sys.stderr)
    others = [r for r in getattr(report, "lines", ()) if r.attestation != report.attestation]
    for other in others if fmt != "json" else []:  # JSON Lines: how every other line fared
        bad = other.failures()
        print(f"attest: note: {safe(other.attestation)}: " + (
            f"{safe(bad[0].name)}: {safe(bad[0].detail)}" if bad else "verified"),
            file=sys.stderr)
    if not report.ok and not report.checks:
        print(f"attest: {safe(fail_title)}: no check ran", file=sys.stderr)
