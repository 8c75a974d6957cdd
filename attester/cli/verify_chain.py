"""``attest verify --chain``: follow artifacts back through the release steps.

Also which verify flags were given, which ``--chain`` refuses each of.
"""

from __future__ import annotations

import argparse
import functools
import os
from typing import Any

import attrs

from attester.cli.report import print_report
from attester.errors import UsageError

#: What ``--chain`` does with every other ``attest verify`` flag: each either applies (see
#: README) or is refused here, naming it; none is ever silently ignored (a test walks them).
#: Refused always: requirements that differ per release step belong under that step in
#: the policy file, and the store/VSA/signature-pair modes verify one attestation.
CHAIN_REFUSED = {
    "attestation": "name every attestation with --chain",
    "artifacts": "--chain follows single artifacts: pass each with --artifact (or use "
                 "'attest audit DIR' for a whole folder)",
    "require_complete": "--chain follows single artifacts: use 'attest audit DIR'",
    "oci_platforms": "--chain follows the image digest given; it lists no platforms",
    "signature": "a signature pair is verified on its own, not in a chain",
    "certificate": "a signature pair is verified on its own, not in a chain",
    "vsa_out": "a verification summary describes one verified attestation, not a chain",
    "vsa_key": "a verification summary describes one verified attestation, not a chain",
    "vsa_keyless": "a verification summary describes one verified attestation, not a chain",
    "vsa_trust_config": "a verification summary describes one verified attestation",
    "builder_id": "set builder-id under its step in the --policy file",
    "source_ref": "set source-ref under its step in the --policy file",
    "source_branch": "set source-branch under its step in the --policy file",
    "source_tag": "set source-tag under its step in the --policy file",
    "source_versioned_tag": "set source-versioned-tag under its step in the --policy file",
    "build_type": "set build-type under its step in the --policy file",
    "predicate_type": "set predicate-types under its step in the --policy file",
    "source_digest": "set it under its step in the --policy file",
    "workflow_trigger": "set it under its step in the --policy file",
    "build_workflow_input": "set it under its step in the --policy file",
    "npm_publish_key": "npm's publish attestation is verified for one package, not a chain",
    "jobs": "--chain resolves each artifact once; --jobs sizes --artifacts store reads",
    "limit": "--chain reads the attestations named by --chain, none from an API",
    "verifier_id": "a verification summary's requirements apply to verifying that VSA",
    "resource_uri": "a verification summary's requirements apply to verifying that VSA",
    "verified_level": "a verification summary's requirements apply to verifying that VSA",
}


#: Refused next to --policy, which names each step's signer: these name one signer for
#: every step, which is what --chain uses them for without a policy.
CHAIN_SIGNER_FLAGS = ("key", "certificate_identity", "certificate_identity_regexp",
                      "certificate_oidc_issuer", "certificate_oidc_issuer_regexp", "owner",
                      "repo", "signer_workflow", "signer_repo", "hostname", "signer_digest",
                      "deny_self_hosted_runners", "staging", "threshold",
                      "no_certificate_oidc_issuer", "rekor_url")


def flag(dest: str) -> str:
    """The flag as typed on the command line, for a Namespace attribute."""
    return {"attestation": "ATTESTATION", "build_workflow_input": "--build-workflow-input",
            "certificate_oidc_issuer": "--certificate-oidc-issuer"}.get(
                dest, "--" + dest.replace("_", "-"))


@functools.cache
def _verify_defaults() -> dict[str, Any]:
    from attester.cli import build_parser  # the package composes the parser from this one

    sub = build_parser()._subparsers
    assert sub is not None  # noqa: S101 - the parser always has subcommands
    verify = sub._group_actions[0].choices["verify"]  # type: ignore[index]
    return {a.dest: a.default for a in verify._actions}


def given(args: argparse.Namespace, dest: str) -> bool:
    """The flag was set to something other than its default."""
    value = getattr(args, dest, None)
    return value is not None and value is not False and value != _verify_defaults().get(dest)


def refuse_chain_flags(args: argparse.Namespace) -> None:
    """Every flag --chain cannot apply is a usage error naming it (issue: none ignored)."""
    for dest, why in CHAIN_REFUSED.items():
        if given(args, dest):
            raise UsageError(f"{flag(dest)} applies to one attestation, not to --chain",
                             hint=why)
    if args.policy:
        for dest in CHAIN_SIGNER_FLAGS:
            if given(args, dest):
                raise UsageError(f"{flag(dest)} does not apply next to --policy",
                                 hint="the policy file names each step's signer")


def _chain_artifact(spec: str, insecure: bool, *, progress: bool = False) -> tuple[str, str]:
    """(name, sha256 hex) of what the chain starts from: a file, oci://REF, or NAME@sha256:D."""
    from attester.verify import checker

    if spec.startswith("oci://"):
        from attester.stores.oci_referrers import Target

        t = Target.resolve(spec, insecure=insecure)
        return f"{t.ref.registry}/{t.ref.repository}", t.digest.removeprefix("sha256:")
    from attester.digests import artifact_ref

    ref = artifact_ref(spec)
    if ref is not None:
        if ref[1] != "sha256":
            raise UsageError(f"--chain follows sha256 digests; {spec} names {ref[1]}")
        return ref[0], ref[2]
    return os.path.basename(spec), checker.sha256_of(spec, progress=progress).hex()


def verify_chain(args: argparse.Namespace, identity: Any) -> int:
    from attester.model.statement import normalize_repo
    from attester.release import chain
    from attester.verify import checker
    from attester.verify.envelope import Report
    from attester.verify.policy import Check

    if not args.artifact:
        raise UsageError("--chain follows an artifact back: pass --artifact PATH|oci://REF")
    if args.policy:
        from attester.release import policyfile

        pf = policyfile.load(args.policy)
        trusts, policies, source_uri = pf.trusts, pf.policies, pf.source_uri
        predicate_types: dict[str, Any] = dict(pf.predicate_types)
        if args.trusted_root:  # the command line's root wins, as for 'attest audit'
            trusts = {k: attrs.evolve(t, trusted_root_path=args.trusted_root, offline=True)
                      for k, t in trusts.items()}
        if args.source_uri:
            if source_uri and normalize_repo(source_uri) != normalize_repo(args.source_uri):
                raise UsageError(f"--source-uri {args.source_uri} contradicts the policy's "
                                 f"source-uri {source_uri}")
            source_uri = args.source_uri
    else:
        if args.threshold < 1 or args.threshold > max(len(args.key or []), 1):
            raise UsageError(f"--threshold {args.threshold} must be between 1 and the "
                             f"number of --key given ({len(args.key or [])})")
        if args.rekor_url and args.offline:
            raise UsageError("--rekor-url looks entries up online; it contradicts --offline")
        trust = checker.Trust.from_flags(
            args.key or [], identity, threshold=args.threshold,
            trusted_root_path=args.trusted_root, offline=args.offline, staging=args.staging,
            rekor_url=args.rekor_url)
        if not trust.given():
            raise UsageError("no trusted key or signer given", hint="pass --policy, or --key")
        trusts = dict.fromkeys(chain.STEPS, trust)
        policies, source_uri, predicate_types = {}, args.source_uri, {}
    docs = []
    for path in args.chain:
        data, doc = checker.read_attestation(path)
        docs.append((path, data, doc))
    links, problems = chain.load_links(docs, trusts, policies, predicate_types)
    checks: list[Check] = list(problems)
    # built once: each artifact is then followed by lookups; with a policy, a top step it
    # names must cover each artifact (see ChainIndex)
    index = chain.ChainIndex(links, tuple(trusts) if args.policy else ())
    for spec in args.artifact:
        name, digest = _chain_artifact(spec, args.insecure_registry, progress=not args.quiet)
        checks.extend(index.follow(name, digest, source_uri=source_uri).checks)
    report = Report(attestation="chain", checks=tuple(checks))
    print_report(report, args.format, ok_title="verified the chain",
                 fail_title="verification FAILED")
    return 0 if report.ok else 1
