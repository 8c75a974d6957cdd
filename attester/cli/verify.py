"""``attest verify``: one attestation, a signature pair, GitHub's API, or ``--chain``."""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from typing import Any

from attester.cli import verify_modes
from attester.cli.common import store_options
from attester.cli.parsing import Subcommands
from attester.cli.report import print_report
from attester.cli.verify_batch import verify_batch
from attester.cli.verify_chain import verify_chain
from attester.cli.verify_github import verify_from_github
from attester.cli.verify_options import DESCRIPTION, EXAMPLES, USAGE, add_arguments
from attester.cli.verify_vsa import vsa_signer, write_vsa
from attester.errors import UsageError


def _identity(args: argparse.Namespace) -> Any:
    from attester.verify.checks import certpolicy

    return certpolicy.identity(
        certificate_identity=args.certificate_identity,
        certificate_identity_regexp=args.certificate_identity_regexp,
        issuer=args.certificate_oidc_issuer, issuer_regexp=args.certificate_oidc_issuer_regexp,
        owner=args.owner, repo=args.repo, signer_workflow=args.signer_workflow,
        signer_repo=args.signer_repo, hostname=args.hostname,
        source_digest=args.source_digest, signer_digest=args.signer_digest,
        deny_self_hosted_runners=args.deny_self_hosted_runners,
        workflow_trigger=args.workflow_trigger, publisher=args.publisher)


def _no_issuer(args: argparse.Namespace, identity: Any) -> Any:
    """--no-certificate-oidc-issuer: the certificate must name no issuer (GitHub release
    attestations); it replaces any issuer flag (verify_modes refuses both together)."""
    import attrs

    if not getattr(args, "no_certificate_oidc_issuer", False):
        return identity
    return attrs.evolve(identity, issuer=None, no_issuer=True)


def _with_digests(args: argparse.Namespace) -> list[str]:
    """--artifact plus each --digest ALG:HEX (validated now, before anything is fetched)."""
    from attester.digests import parse

    for d in args.digest or []:
        parse(d, what="--digest")
    return [*(args.artifact or []), *("@" + d for d in args.digest or [])]


def _load_rego(args: argparse.Namespace) -> tuple[Any, ...]:
    """Every --rego FILE, parsed now: one that does not parse is exit 2 before anything
    is fetched or verified."""
    from attester.verify.checks import rego

    return tuple(rego.load(path) for path in args.rego or ())


def _not_an_artifact(path: str) -> None:
    """A file that is not JSON named as ATTESTATION is the artifact, given the other way
    round (gh's ``verify FILE``): say so, rather than that it is not UTF-8 or not JSON."""
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return  # the reader says what is wrong with it
    # A file named as a document (bad.json) is a broken document: its reader says how.
    named_as_document = path.lower().endswith((".json", ".jsonl", ".sigstore", ".attestation",
                                               ".provenance", ".slsa"))
    if head and head[:1] not in (b"{", b"[") and not named_as_document:
        raise UsageError(f"ATTESTATION {path}: this looks like the artifact, not an "
                         "attestation (it is not JSON)",
                         hint="name the attestation and pass the file with --artifact, or "
                         f"as gh and cosign: attest verify {path} --bundle ATTESTATION")


def _print_statements(report: Any, every: list[Any] | None) -> None:
    """--print-statement (slsa-verifier's --print-provenance): each statement whose
    signature and policy verified, one JSON object per line, and nothing else."""
    from attester.jsonio import dumps_pretty

    seen: set[bytes] = set()
    for r in (report, *getattr(report, "lines", ()), *(every or ())):
        if r.ok and r.statement is not None:
            text = dumps_pretty(dict(r.statement.raw))
            if text not in seen:
                seen.add(text)
                sys.stdout.buffer.write(text)
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    from attester.verify import checker
    from attester.verify.checks import certpolicy, vsapolicy
    from attester.verify.checks.policy import Policy
    from attester.verify.checks.statement import Demands

    mode = verify_modes.check(args)  # every flag this mode cannot take: exit 2, naming it
    Mode = verify_modes.Mode  # noqa: N806 - the enum, named as in verify_modes
    identity = _no_issuer(args, _identity(args))
    args.artifact = _with_digests(args)
    rego = _load_rego(args)
    where = args.attestation
    # A plain attestation file is judged by verify_document, which knows the documents that
    # carry their own trust (Cloud Build's provenance, signed by Google's keys).
    if not args.key and not identity.given() and mode not in (Mode.CHAIN_POLICY, Mode.FILE):
        if mode == Mode.CHAIN:
            raise UsageError("no trusted signer given: --chain needs to know who signs each "
                             "release step", hint="pass --policy POLICY naming each step's "
                             "signer (see README), or --key PUB trusted for every step")
        raise UsageError("no trusted key or signer given: verification needs something to trust",
                         hint="pass --key PUB, or --certificate-identity and "
                         "--certificate-oidc-issuer for keyless signatures")
    opts = store_options(args)
    policy = Policy(builder_id=args.builder_id, source_uri=args.source_uri,
                    source_ref=args.source_ref, source_branch=args.source_branch,
                    source_tag=args.source_tag, source_versioned_tag=args.source_versioned_tag,
                    build_type=args.build_type, predicate_type=args.predicate_type,
                    source_digest=identity.extra.source_digest if identity.extra else None,
                    workflow_trigger=args.workflow_trigger,
                    workflow_inputs=certpolicy.workflow_inputs(args.build_workflow_input),
                    verifier_id=args.verifier_id, resource_uri=args.resource_uri,
                    verified_levels=vsapolicy.check_levels(args.verified_level or []),
                    rego=rego)
    if mode == Mode.BATCH:
        return verify_batch(args, checker.Trust.from_flags(
            args.key or [], identity, threshold=args.threshold,
            trusted_root_path=args.trusted_root, offline=args.offline, staging=args.staging),
            Demands(policy=policy, pinned_identity=args.certificate_identity))
    demands = Demands(
        policy=policy, pinned_identity=args.certificate_identity,
        artifacts=args.artifact or [], stores=args.artifacts or [],
        require_complete=args.require_complete,
        hash_artifacts=functools.partial(checker.hash_artifacts, options=opts,
                                         progress=not args.quiet),
        hash_store=functools.partial(checker.hash_store, options=opts, progress=not args.quiet))
    every: list[Any] | None = None
    if mode in verify_modes.CHAINS:
        return verify_chain(args, identity)
    signer = vsa_signer(args)  # before verifying: never 'verified' and then exit 2
    if mode == Mode.PAIR:
        if len(args.artifact or []) != 1:
            raise UsageError("a signature pair needs --signature FILE.sig, --certificate "
                             "FILE.cert and one --artifact FILE")
        report = checker.verify_blob_pair(args.signature, args.certificate, args.artifact[0],
                                          identity)
    elif mode == Mode.GITHUB:
        report, every = verify_from_github(args, identity, demands)
    else:
        trust = checker.Trust.from_flags(
            args.key or [], identity, threshold=args.threshold,
            trusted_root_path=args.trusted_root, offline=args.offline, staging=args.staging,
            rekor_url=args.rekor_url, npm_publish_key=args.npm_publish_key)
        if mode == Mode.PYPI:
            from attester.verify.pypi_release import verify_pypi

            report, every = verify_pypi(where, trust, demands, index=args.index_url)
        elif mode == Mode.OCI:
            from attester.verify.image import verify_image

            report = verify_image(where, trust, demands, insecure=args.insecure_registry,
                                  limit=args.limit)
        else:
            _not_an_artifact(where)
            blob = args.artifact[0] if args.artifact and len(args.artifact) == 1 else None
            if args.policy:  # one attestation file against a policy file's steps
                from attester.release import policyfile

                report = policyfile.verify_one(where, policyfile.load(args.policy), demands,
                                               trusted_root=args.trusted_root, blob=blob)
            else:
                report = checker.verify_path(where, trust, demands, blob=blob)
    with contextlib.redirect_stdout(sys.stderr) if args.print_statement else \
            contextlib.nullcontext():  # --print-statement: stdout holds the statements alone
        code = print_report(report, args.format, ok_title=f"verified {report.attestation}",
                            fail_title=f"verification FAILED for {report.attestation}",
                            every=every, mode=args.policy_mode, quiet=args.quiet)
    if args.print_statement and report.ok:
        _print_statements(report, every)
    if report.ok:  # never a VSA for what only --policy-mode warn let pass
        if args.vsa_out:
            write_vsa(args, report, signer)
        return 0
    if code == 0:
        return 0
    return 1


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("verify", help="verify a signed attestation and artifacts",
                       formatter_class=fmt, usage=USAGE, description=DESCRIPTION,
                       epilog=EXAMPLES)
    add_arguments(p)
    p.set_defaults(func=run)
