"""``attest policy init``: draft a policy file from verified known-good attestations."""

from __future__ import annotations

import argparse
import os

from attester.cli.common import add_quiet, say
from attester.cli.parsing import Parser, Subcommands
from attester.errors import UsageError

EXAMPLES = """\
examples:
  attest policy init testdata/interop/realworld/sv_gha_maven-v2.0.0-push-v14.build.slsa \\
      testdata/interop/realworld/sv_gha_gradle-v2.1.0-push-v13.0.30.build.slsa \\
      --trusted-root testdata/interop/sigstore/trusted_root.sigstore-production.json \\
      --offline -o byob-policy.yaml
  attest verify testdata/interop/realworld/sv_gha_maven-v2.0.0-push-v14.build.slsa \\
      --policy byob-policy.yaml \\
      --artifact testdata/interop/realworld/sv_gha_maven-v2.0.0-binary-linux-amd64-push-v14
"""


def run_init(args: argparse.Namespace) -> int:
    from attester.jsonio import write_output
    from attester.release import policydraft

    if args.output and args.output != "-" and os.path.isdir(args.output):
        raise UsageError(f"--output {args.output} is a folder; name the policy file")
    known = [policydraft.verify_known(path, keys=args.key or [],
                                      trusted_root=args.trusted_root, offline=args.offline)
             for path in args.attestations]
    base = os.path.dirname(os.path.abspath(args.output)) if args.output and \
        args.output != "-" else os.getcwd()
    key_paths = {k: os.path.relpath(os.path.abspath(k), base) for k in args.key or []}
    text = policydraft.draft(known, step=args.step, key_paths=key_paths,
                             trusted_root=args.trusted_root, output=args.output)
    write_output(text.encode(), args.output)
    if args.output and args.output != "-":
        say(args, f"drafted {args.output} from {len(known)} verified attestation(s); review "
            "it, then: attest verify ATTESTATION --policy " + args.output)
    return 0


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("policy", help="draft a policy file from known-good attestations",
                       formatter_class=fmt, epilog=EXAMPLES,
                       description="Policies written from evidence: 'attest policy init' "
                       "verifies known-good attestations and drafts the policy file that "
                       "pins what they agree on (signer, builder, source, ref pattern, build "
                       "and predicate types), one step each, every line commented. Recipes: "
                       "docs/policy-cookbook.md.")
    inner = p.add_subparsers(dest="policy_command", metavar="COMMAND", parser_class=Parser)
    inner.required = True
    init = inner.add_parser("init", help="draft a policy file from verified attestations",
                            formatter_class=fmt, epilog=EXAMPLES,
                            description="Verify each ATTESTATION (its signature, whoever "
                            "signed it) and draft a policy file pinning what they all agree "
                            "on, per release step. attest verify ATTESTATION --policy FILE "
                            "then passes on them and fails on a release signed or built "
                            "elsewhere, such as a fork.")
    init.add_argument("attestations", metavar="ATTESTATION", nargs="+",
                      help="known-good attestations: Sigstore bundles, DSSE envelopes, "
                      ".intoto.jsonl")
    init.add_argument("--key", action="append", metavar="PUB",
                      help="keyed attestations: the public key(s) that signed them "
                      "(repeatable); pinned by path, relative to the policy file")
    init.add_argument("--trusted-root", metavar="FILE",
                      help="Sigstore trusted_root.json for keyless attestations; the draft "
                      "names it (relative to the policy file)")
    init.add_argument("--offline", action="store_true",
                      help="no network: use --trusted-root or the roots bundled with sigstore")
    init.add_argument("--step", choices=["stage", "release", "promotion"],
                      help="the step they all are (default: each attestation's own step by "
                      "its build type, else release)")
    init.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    add_quiet(init)
    init.set_defaults(func=run_init)
