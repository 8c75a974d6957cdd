"""``attest audit``: a downloaded release checked offline, artifact by artifact."""

from __future__ import annotations

import argparse
import sys

from attester.cli.common import add_quiet, say, to_file, utc_now
from attester.cli.parsing import Subcommands


def run(args: argparse.Namespace) -> int:
    from attester.display import safe
    from attester.jsonio import write_output
    from attester.release import audit

    report = audit.audit(args.release_dir, args.policy, trusted_root=args.trusted_root,
                         now=utc_now(), progress=not args.quiet)
    write_output(audit.render(report, args.format), args.output)
    if to_file(args.output):
        summary = report.summary()
        say(args, f"wrote {args.output}: {summary['artifacts']} artifact(s), "
            f"{summary['failed']} failed")
    if not report.ok:
        doc = report.to_json()
        s = doc["summary"]
        first = next((r["artifact"] + ": " + r["firstFailure"] for r in doc["artifacts"]
                      if r["verdict"] == "FAIL"), None) or \
            (doc["attestationProblems"] or ["no artifacts to audit"])[0]
        if args.policy_mode == "warn":  # roll a policy out: every failure, then exit 0
            for row in doc["artifacts"]:
                if row["verdict"] == "FAIL":
                    print(f"attest: warning: audit: {safe(row['artifact'])}: "
                          f"{safe(row['firstFailure'])}", file=sys.stderr)
            for problem in doc["attestationProblems"]:
                print(f"attest: warning: audit: {safe(problem)}", file=sys.stderr)
            print(f"attest: warning: --policy-mode warn: {s['failed']} of {s['artifacts']} "
                  "artifact(s) would fail under enforce; exit 0", file=sys.stderr)
            return 0
        print(f"attest: audit FAILED: {s['failed']} of {s['artifacts']} artifact(s) fail; "
              f"first: {safe(first)}", file=sys.stderr)
        return 1
    return 0


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("audit", help="check a downloaded release offline, artifact by "
                       "artifact", formatter_class=fmt,
                       description="Follow every file in RELEASE_DIR (and every image in its "
                       "images.txt) back through the attestations there to its source commit, "
                       "with no network, and report one row per artifact.",
                       epilog="example:\n  attest audit ./v1.31.0 --policy policy.yaml "
                       "--format html --output audit.html")
    p.add_argument("release_dir", metavar="RELEASE_DIR",
                   help="the downloaded release: files, attestations, optional images.txt")
    p.add_argument("--policy", required=True, metavar="POLICY",
                   help="YAML/JSON policy naming each step's signer and rules "
                   "(reference: docs/policy.md)")
    p.add_argument("--trusted-root", metavar="FILE", help="Sigstore trusted root for keyless "
                   "signers")
    p.add_argument("--format", choices=["text", "json", "html"], default="text",
                   help="text (default), json (schemas/audit-report.schema.json) or one "
                   "self-contained html file")
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    p.add_argument("--policy-mode", choices=["enforce", "warn"], default="enforce",
                   help="warn: the report as usual, every failing artifact as a warning on "
                   "stderr, and exit 0, to roll a policy out before enforcing it")
    add_quiet(p)
    p.set_defaults(func=run)
