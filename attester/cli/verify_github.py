"""Attestations from GitHub's attestation API, for ``verify`` and ``download``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from attester.errors import UsageError


def github_scope(args: argparse.Namespace) -> Any:
    """Whose attestations to ask for: --owner and/or --repo (checked to be OWNER/REPO)."""
    from attester.verify.github_attestations import Scope

    if args.repo and "/" not in args.repo.strip("/"):
        raise UsageError(f"--repo {args.repo!r}: expected OWNER/REPO")
    return Scope(owner=args.owner, repo=args.repo)


def api_for(hostname: str | None) -> str | None:
    """--hostname names the API too (as gh's), unless GITHUB_API_URL says where it is."""
    from attester.verify.checks import certpolicy

    return None if os.environ.get("GITHUB_API_URL") else certpolicy.api_for(hostname)


def verify_from_github(args: argparse.Namespace, identity: Any, demands: Any
                       ) -> tuple[Any, list[Any]]:
    """No ATTESTATION, an artifact and --owner/--repo: ask GitHub's attestation API, as
    ``gh attestation verify`` does, and pass when one attestation verifies."""
    from attester.verify import checker, github_attestations

    scope = github_scope(args)
    github_attestations.check_limit(args.limit)
    blob, digest = github_attestations.digest_for(args.artifact,
                                                  insecure=args.insecure_registry)
    fetched = github_attestations.fetch(scope, digest, limit=args.limit,
                                        api_url=api_for(args.hostname))
    trust = checker.Trust.from_flags(
        args.key or [], identity, threshold=args.threshold,
        trusted_root_path=args.trusted_root, offline=args.offline, staging=args.staging)
    report, every = github_attestations.verify_fetched(fetched, trust, demands, blob=blob,
                                                       digest=digest, scope=scope)
    return report, every
