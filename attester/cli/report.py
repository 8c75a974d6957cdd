"""How a verification report is printed: stdout for the result, stderr for failures."""

from __future__ import annotations

import sys
from typing import Any


def print_report(report: Any, fmt: str, *, ok_title: str, fail_title: str,
                 every: list[Any] | None = None, mode: str = "enforce",
                 quiet: bool = False) -> int:
    """The report on stdout, pass or fail (json, or every check as text); on failure, every
    failed check on stderr too, one line each. Names come from hostile input: text is escaped.
    ``every``: all reports the verdict was chosen from (listed in json).

    ``mode`` is --policy-mode: ``warn`` reports every failing requirement (as warnings on
    stderr, and under ``wouldFail`` in json) and passes, as kpromo's --require-provenance
    warn does, so a policy can be rolled out before it is enforced. Returns the exit code."""
    from attester.display import safe
    from attester.jsonio import dumps_report

    warn = mode == "warn" and not report.ok
    if fmt == "json":
        out = report.to_json()
        if every is not None:
            out["attestations"] = [r.to_json() for r in every]
        if mode == "warn":
            out["policyMode"] = mode
        if warn:
            out["wouldFail"] = [c.to_json() for c in report.failures()] or [
                {"check": "report", "ok": False, "detail": "no check ran"}]
        sys.stdout.buffer.write(dumps_report(out))
    elif quiet:  # --quiet: the exit code and, on failure, the lines on stderr say it all
        pass
    elif report.ok or warn:
        print(safe(ok_title if report.ok else f"{fail_title} (--policy-mode warn: passing)"))
        for c in report.checks:
            print(f"  {'ok' if c.ok else 'WARN'}  {safe(c.name)}: {safe(c.detail)}")
    else:  # the report is on stdout whatever the verdict, as audit's; failures also on stderr
        print(safe(fail_title))
        for c in report.checks:
            print(f"  {'ok' if c.ok else 'FAIL'}  {safe(c.name)}: {safe(c.detail)}")
    if warn:
        for note in getattr(report, "notes", ()) if fmt != "json" else ():
            print(f"attest: note: {safe(note)}", file=sys.stderr)
        for c in report.failures():
            print(f"attest: warning: {safe(fail_title)}: {safe(c.name)}: {safe(c.detail)}",
                  file=sys.stderr)
        if not report.checks:
            print(f"attest: warning: {safe(fail_title)}: no check ran", file=sys.stderr)
        print(f"attest: warning: --policy-mode warn: {len(report.failures()) or 1} "
              "requirement(s) would fail under enforce; exit 0", file=sys.stderr)
        return 0
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
    return 0 if report.ok else 1
