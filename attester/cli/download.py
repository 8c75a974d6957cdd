"""``attest download``: an artifact's attestations from GitHub, as ``gh attestation download``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from attester.cli.common import add_quiet, say
from attester.cli.parsing import Subcommands
from attester.cli.verify_github import api_for, github_scope
from attester.display import safe
from attester.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """``gh attestation download``: the artifact's attestations as ALG:HEX.jsonl."""
    from attester.jsonio import write_output
    from attester.verify import github_attestations

    if not (args.owner or args.repo):
        raise UsageError("whose attestations? pass --owner O or --repo O/R")
    if args.digest:
        from attester.digests import parse

        # the digest names what is looked up: a file beside it would be named in the
        # message but never hashed, and --digest-alg never used (redteam: both ignored)
        if args.artifact:
            raise UsageError("give ARTIFACT or --digest, not both",
                             hint="--digest looks up that digest; ARTIFACT is hashed")
        if args.digest_alg != "sha256":
            raise UsageError("--digest-alg applies to ARTIFACT; --digest names its algorithm")
        alg, hexd = parse(args.digest, what="--digest")
        spec, digest = f"{alg}:{hexd}", f"{alg}:{hexd}"
    elif args.artifact:
        spec, digest = github_attestations.digest_for([args.artifact], alg=args.digest_alg,
                                                      insecure=args.insecure_registry)
    else:
        raise UsageError("name the artifact (a file) or pass --digest ALG:HEX")
    fetched = github_attestations.fetch(github_scope(args), digest, limit=args.limit,
                                        api_url=api_for(args.hostname))
    if not fetched:
        print(safe(f"attest: no attestations for {digest} in {args.repo or args.owner}"),
              file=sys.stderr)
        return 1
    out = Path(args.output or ".") / (digest.replace(":", "-") if os.name == "nt"
                                      else digest)
    out = out.with_name(out.name + ".jsonl")
    write_output(github_attestations.jsonl(fetched), str(out))
    say(args, f"wrote {len(fetched)} attestation(s) for {spec} to {out}")
    return 0


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("download", help="download an artifact's attestations from "
                       "GitHub (as gh attestation download)", formatter_class=fmt,
                       description="Ask GitHub's attestation API for the attestations whose "
                       "subject has the artifact's digest and write them, one bundle per "
                       "line, to ALG:HEX.jsonl for offline 'attest verify'. Reads "
                       "GITHUB_API_URL and GITHUB_TOKEN / GH_TOKEN.",
                       epilog="examples:\n  attest download dist/bin/kubectl --repo "
                       "example/project\n  attest download --digest "
                       "sha256:$(sha256sum dist/bin/kubectl | cut -c1-64) --owner example "
                       "-o attestations/")
    p.add_argument("artifact", metavar="ARTIFACT", nargs="?", default="",
                   help="the artifact file (or oci://IMAGE) whose digest to look up")
    p.add_argument("--insecure-registry", action="store_true",
                   help="oci://: allow plain HTTP to a non-loopback registry")
    p.add_argument("--owner", help="the GitHub organization or user that holds them")
    p.add_argument("--repo", metavar="OWNER/REPO", help="the repository that holds them")
    p.add_argument("--digest", metavar="ALG:HEX", help="look up this digest (no file needed)")
    p.add_argument("--hostname", metavar="HOST",
                   help="a GitHub Enterprise Server or ghe.com tenancy: its API is "
                   "https://HOST/api/v3 or https://api.HOST (unless GITHUB_API_URL is set)")
    p.add_argument("--digest-alg", choices=["sha256", "sha512"], default="sha256",
                   help="digest of ARTIFACT to look up (default sha256)")
    p.add_argument("--limit", type=int, default=30, metavar="N",
                   help="at most N attestations (default 30, as gh)")
    p.add_argument("--output", "-o", metavar="DIR",
                   help="folder to write ALG:HEX.jsonl in (default: the current folder)")
    add_quiet(p)
    p.set_defaults(func=run)
