"""``attest policy init``: a policy file drafted from verified, known-good attestations.

Each attestation is verified first (its signature against the trusted root or the keys
given; any signer is accepted, since who signed is what the draft is to learn) and only the
verified statement and signer feed the draft. Per step, the draft pins what every
known-good attestation agrees on: the signer (certificate identity and issuer, or key), the
builder, the source repository, a ref pattern, the build type and the predicate types,
each line with a comment saying what it pins. ``attest verify ATTESTATION --policy FILE``
then passes on the same attestations and fails on a release signed elsewhere (a fork).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from attester.errors import InputError, UsageError
from attester.release.policyfile import STEP_NAMES


@attrs.frozen
class Known:
    """One verified known-good attestation."""

    where: str
    statement: Any
    signer: Any


def _permissive_identity(no_issuer: bool) -> Any:
    from attester.verify.checks import certpolicy

    if no_issuer:  # GitHub's release attestations: a certificate that names no issuer
        return certpolicy.identity(certificate_identity_regexp=".+")
    return certpolicy.identity(certificate_identity_regexp=".+", issuer_regexp=".+")


def verify_known(path: str, *, keys: Sequence[str], trusted_root: str | None,
                 offline: bool) -> Known:
    """The attestation at ``path`` verified (signature, log entry, statement), whoever
    signed it; refuses one that does not verify."""
    from attester.release.chain import peek_predicate_type
    from attester.verify import checker
    from attester.verify.checks.policy import Policy
    from attester.verify.checks.statement import Demands

    data, doc = checker.read_attestation(path)  # JSON Lines: the first line
    demands = Demands(policy=Policy(predicate_type=peek_predicate_type(doc) or "unknown"))
    report = None
    for no_issuer in (False, True):
        trust = checker.Trust.from_flags(list(keys), None if keys else
                                         _permissive_identity(no_issuer),
                                         trusted_root_path=trusted_root, offline=offline)
        try:
            report = checker.verify_document(data, doc, path, trust, demands)
        except UsageError:
            if no_issuer:
                raise
            continue
        failed = {c.name for c in report.failures()}
        if keys or failed != {"certificate-oidc-issuer"}:
            break
    assert report is not None  # noqa: S101 - the loop ran
    if not report.ok or report.statement is None or report.signer is None:
        bad = report.failures()[0] if report.failures() else None
        raise InputError(f"attestation {path} does not verify, so it cannot vouch for a "
                         "policy" + (f": {bad.name}: {bad.detail}" if bad else ""))
    return Known(where=path, statement=report.statement, signer=report.signer)


# -- what the known-good attestations agree on -------------------------------------------------

def _one(values: list[str]) -> str | None:
    distinct = sorted(set(values))
    return distinct[0] if len(distinct) == 1 and distinct[0] else None


# A workflow identity at a tag: the tag varies from release to release (a branch does not)
_REF = re.compile(r"@(refs/tags/)[^@]+$")


def _identity_pattern(identities: list[str]) -> tuple[str, str]:
    """(key, value) pinning the signer identities: exact when all are one (and not at a
    tag); else a full-match expression of each workflow seen, at any tag."""
    exact = _one(identities)
    if exact and not _REF.search(exact):
        return "certificate-identity", exact
    alternatives = []
    for ident in sorted(set(identities)):
        m = _REF.search(ident)
        if m:
            alternatives.append(re.escape(ident[:m.start()]) + "@" + re.escape(m.group(1))
                                + ".+")
        else:
            alternatives.append(re.escape(ident))
    alternatives = sorted(set(alternatives))
    rx = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
    return "certificate-identity-regexp", rx


def _ref_rule(refs: list[str]) -> tuple[str, str] | None:
    """(key, value) for the refs seen: one branch pins it; tags pin the tag shape seen."""
    if not refs or not all(refs):
        return None
    if all(r.startswith("refs/heads/") for r in refs) and _one(refs):
        return "source-branch", refs[0].removeprefix("refs/heads/")
    if all(r.startswith("refs/tags/") for r in refs):
        tags = [r.removeprefix("refs/tags/") for r in refs]
        if all(re.match(r"v\d", t) for t in tags):
            return "source-ref-pattern", r"refs/tags/v\d.*"
        return "source-ref-pattern", "refs/tags/.+"
    return "source-ref-pattern", "(?:" + "|".join(re.escape(r) for r in sorted(set(refs))) + ")"


def _q(value: str) -> str:
    return json.dumps(value)  # a JSON string is a YAML scalar, quoted and escaped


def draft_step(step: str, known: Sequence[Known], key_paths: dict[str, str]) -> list[str]:
    """The YAML lines of one step, each followed by what it pins."""
    from attester.model.statement import normalize_repo

    n = len(known)
    lines = [f"  {step}:"]
    signers = [k.signer for k in known]
    if all(s.kind == "key" for s in signers):
        paths = sorted({key_paths[label] for s in signers for label in s.keys
                        if label in key_paths})
        lines.append(f"    keys: [{', '.join(_q(p) for p in paths)}]")
        lines.append(f"    # pins the signer: the key(s) that signed all {n} attestation(s)")
    elif all(s.kind == "certificate" for s in signers):
        key, value = _identity_pattern([s.identity for s in signers])
        lines.append(f"    {key}: {_q(value)}")
        lines.append("    # pins the signer: the certificate identity (SAN) " + (
            "of every attestation" if key == "certificate-identity" else
            "of each workflow seen, at any tag"))
        issuer = _one([s.issuer for s in signers])
        if issuer:
            lines.append(f"    certificate-oidc-issuer: {_q(issuer)}")
            lines.append("    # pins who vouched for that identity (the OIDC issuer)")
        elif any(s.issuer for s in signers):
            raise UsageError(f"step {step}: the attestations name different OIDC issuers "
                             f"({', '.join(sorted({s.issuer for s in signers}))}); draft "
                             "each signer's step separately")
        else:  # policy files pin an identity with its issuer (schemas/policy.schema.json)
            raise UsageError(f"step {step}: the certificates name no OIDC issuer (GitHub's "
                             "release attestations): a policy file cannot pin such a signer",
                             hint="verify them with --certificate-identity and "
                             "--no-certificate-oidc-issuer")
    else:
        raise UsageError(f"step {step}: some attestations are signed by keys and some "
                         "keyless; draft each step separately (--step)")
    stmts = [k.statement for k in known]
    builder = _one([s.builder_id() for s in stmts])
    if builder:
        lines.append(f"    builder-id: {_q(builder)}")
        lines.append("    # pins the builder that ran the build")
    build_type = _one([s.build_type() for s in stmts])
    if build_type:
        lines.append(f"    build-type: {_q(build_type)}")
        lines.append("    # pins how it was built (the build type)")
    sources = [s.source() for s in stmts]
    repo = _one([normalize_repo(r) for r, _ in sources if r] if all(r for r, _ in sources)
                else [])
    if repo:
        lines.append(f"    source-uri: {_q(repo)}")
        lines.append("    # pins the source repository: a fork's release names another")
    rule = _ref_rule([ref for _, ref in sources])
    if rule:
        lines.append(f"    {rule[0]}: {_q(rule[1])}")
        lines.append("    # pins the " + ("branch releases are built from" if rule[0] ==
                                          "source-branch" else
                                          "source refs releases are built from (a full-match "
                                          "expression)"))
    types = sorted({s.predicate_type for s in stmts})
    lines.append(f"    predicate-types: [{', '.join(_q(t) for t in types)}]")
    lines.append("    # pins the kinds of statement this step may sign")
    return lines


def draft(known: Sequence[Known], *, step: str | None, key_paths: dict[str, str],
          trusted_root: str | None, output: str | None) -> str:
    """The policy file's text: one step per step seen (or ``step``), in release order."""
    from attester.release.chain import step_of

    if step is not None and step not in STEP_NAMES:
        raise UsageError(f"--step {step!r}: one of {', '.join(STEP_NAMES)}")
    by_step: dict[str, list[Known]] = {}
    for k in known:
        by_step.setdefault(step or step_of(k.statement) or "release", []).append(k)
    lines = ["# Drafted by 'attest policy init' from these verified attestations:"]
    lines += [f"#   {k.where}" for k in known]
    lines += ["# Review every line before relying on it: it pins what they all agree on.",
              "steps:"]
    for name in STEP_NAMES:
        if name in by_step:
            lines += draft_step(name, by_step[name], key_paths)
    if trusted_root:
        base = Path(output).parent if output and output != "-" else Path()
        rel = os.path.relpath(os.path.abspath(trusted_root), os.path.abspath(base))
        lines.append(f"trusted-root: {_q(rel)}")
        lines.append("# the Sigstore trusted root keyless signatures are checked against "
                     "(offline)")
    return "\n".join(lines) + "\n"
