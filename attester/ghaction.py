"""The job summary of the GitHub Action (``$GITHUB_STEP_SUMMARY``), as actions/attest
writes one: the subjects attested and everywhere the attestation went.

Run by the action as ``python3 -m attester.ghaction STATEMENT ATTESTATION [--pushed REF]
[--uploaded URL]``; it appends Markdown to the file GITHUB_STEP_SUMMARY names.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _cell(text: str) -> str:
    """Names come from the build: nothing in them may break out of a table cell."""
    keep = "".join(ch if ch.isprintable() else "?" for ch in text)
    for ch in "\\|`<>[]*_":
        keep = keep.replace(ch, "\\" + ch)
    return keep


def summary(statement: dict[str, object], *, attestation: str, pushed: str | None,
            uploaded: str | None) -> str:
    subjects = statement.get("subject")
    rows = []
    for s in subjects if isinstance(subjects, list) else []:
        if not isinstance(s, dict):
            continue
        raw = s.get("digest")
        digest: dict[str, object] = raw if isinstance(raw, dict) else {}
        alg = next((a for a in ("sha256", "sha512", "sha384") if a in digest), None)
        shown = f"{alg}:{digest[alg]}" if alg else "no digest"
        rows.append(f"| {_cell(str(s.get('name', '')))} | `{_cell(shown)}` |")
    lines = ["## Attestation", "",
             f"Predicate type: `{_cell(str(statement.get('predicateType', '')))}`", "",
             "| Subject | Digest |", "| --- | --- |", *rows, "",
             f"- written to `{_cell(attestation)}`"]
    if pushed:
        lines.append(f"- attached to `{_cell(pushed)}`")
    if uploaded:
        lines.append(f"- stored in GitHub's attestation API: {_cell(uploaded)}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    from attester.errors import AttesterError
    from attester.jsonio import load_json

    p = argparse.ArgumentParser(prog="python3 -m attester.ghaction")
    p.add_argument("statement")
    p.add_argument("attestation")
    p.add_argument("--pushed")
    p.add_argument("--uploaded")
    args = p.parse_args(argv)
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        print("attest: GITHUB_STEP_SUMMARY is not set; no job summary written",
              file=sys.stderr)
        return 0
    try:
        doc = load_json(args.statement, what="statement")
    except AttesterError as e:
        from attester.display import safe

        print(f"attest: error: {safe(e.diagnostics())}", file=sys.stderr)
        return e.exit_code
    if not isinstance(doc, dict):
        print(f"attest: error: statement {args.statement}: not a JSON object", file=sys.stderr)
        return 2
    with open(target, "a", encoding="utf-8") as f:
        f.write(summary(doc, attestation=args.attestation, pushed=args.pushed,
                        uploaded=args.uploaded))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
