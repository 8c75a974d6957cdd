"""``attest verify --chain``: follow artifacts back through the release steps.

Which verify flags ``--chain`` takes is declared in :mod:`attester.cli.verify_modes`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import attrs

from attester.cli.report import print_report
from attester.errors import UsageError


def _chain_artifact(spec: str, insecure: bool, *, progress: bool = False) -> tuple[str, str]:
    """(name, sha256 hex) of what the chain starts from: a file, oci://REF, NAME@sha256:D
    or a bare sha256:D (``--digest``; its name is then the digest itself)."""
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
    # the path as typed: its tail picks the subject (dl/linux/amd64/kubectl is not the
    # subject linux/arm64/kubectl), as for plain verify
    return spec, checker.sha256_of(spec, progress=progress).hex()


def verify_chain(args: argparse.Namespace, identity: Any) -> int:
    from attester.model.statement import normalize_repo
    from attester.release import chain
    from attester.verify import checker
    from attester.verify.checks.policy import Check
    from attester.verify.checks.report import Report

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
        trust = checker.Trust.from_flags(
            args.key or [], identity, threshold=args.threshold,
            trusted_root_path=args.trusted_root, offline=args.offline, staging=args.staging,
            rekor_url=args.rekor_url)
        if not trust.given():
            raise UsageError("no trusted key or signer given", hint="pass --policy, or --key")
        trusts = dict.fromkeys(chain.STEPS, trust)
        policies, source_uri, predicate_types = {}, args.source_uri, {}
    if getattr(args, "rego", None):  # --rego applies to every step's attestations
        from attester.verify.checks import rego
        from attester.verify.checks.policy import Policy

        extra = tuple(rego.load(path) for path in args.rego)
        policies = {step: attrs.evolve(policies.get(step) or Policy(),
                                       rego=(*(policies.get(step) or Policy()).rego, *extra))
                    for step in trusts}
    from attester.jsonio import parse_json

    docs = []
    for path in args.chain:  # each line of a JSON Lines file is one attestation
        for where, data in checker.attestation_documents(path):
            docs.append((where, data, parse_json(data, where=f"attestation {where}")))
    loaded = chain.load_chain(docs, trusts, policies, predicate_types)
    checks: list[Check] = list(loaded.problems)
    # built once: each artifact is then followed by lookups; with a policy, a top step it
    # names must cover each artifact (see ChainIndex)
    index = loaded.index(tuple(trusts) if args.policy else ())
    for spec in args.artifact:
        name, digest = _chain_artifact(spec, args.insecure_registry, progress=not args.quiet)
        checks.extend(index.follow(name, digest, source_uri=source_uri,
                                   by_digest=name == f"sha256:{digest}",
                                   shown=os.path.basename(name) if name == spec else name
                                   ).checks)
    report = Report(attestation="chain", checks=tuple(checks))
    return print_report(report, args.format, ok_title="verified the chain",
                        fail_title="verification FAILED",
                        mode=getattr(args, "policy_mode", "enforce"), quiet=args.quiet)
