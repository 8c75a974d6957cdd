"""``attest upload``: a Sigstore bundle into GitHub's attestation API."""

from __future__ import annotations

import argparse
import os

from attester.cli.common import add_quiet, say
from attester.cli.parsing import Subcommands
from attester.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """Store a Sigstore bundle in GitHub's attestation API (as actions/attest does)."""
    from attester.clients import githubapi
    from attester.jsonio import read_bytes
    from attester.verify import github_attestations

    repo = args.repo or os.environ.get("GITHUB_REPOSITORY", "")
    if "/" not in repo.strip("/"):
        raise UsageError("which repository? pass --repo OWNER/REPO (in a job: "
                         "GITHUB_REPOSITORY)")
    data = read_bytes(args.bundle, what="bundle")
    ident = github_attestations.upload(data, repo, where=f"bundle {args.bundle}")
    print(f"{githubapi.server_url()}/{repo}/attestations/{ident}")
    say(args, f"uploaded {args.bundle} to {repo} as attestation {ident}")
    return 0


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("upload", help="store a Sigstore bundle in GitHub's attestation "
                       "API (as actions/attest)", formatter_class=fmt,
                       description="POST the bundle to /repos/OWNER/REPO/attestations, "
                       "where 'gh attestation verify' and 'attest verify --owner' find it. "
                       "Needs a token with attestations: write (GITHUB_TOKEN / GH_TOKEN). "
                       "Prints the attestation's URL.",
                       epilog="example:\n  attest upload prov.sigstore.json --repo "
                       "example/project")
    p.add_argument("bundle", metavar="BUNDLE", help="a Sigstore bundle (attest sign --keyless)")
    p.add_argument("--repo", metavar="OWNER/REPO",
                   help="the repository to store it in (default: GITHUB_REPOSITORY)")
    add_quiet(p)
    p.set_defaults(func=run)
