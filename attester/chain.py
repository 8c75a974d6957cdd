"""Following an artifact back through the release: promotion or release -> stage ->
source commit. Every link must match by digest, and each attestation must be signed by
the signer the policy names for its step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from attester.digests import is_hex_digest
from attester.errors import UsageError
from attester.policy import Check, Policy
from attester.statement import ParsedStatement, normalize_repo
from attester.steps import PROMO_TOOLS_PREDICATE, STEP_OF_BUILD_TYPE
from attester.verify import Demands, Report

STEPS = ("stage", "release", "promotion")


@attrs.frozen
class Link:
    """One verified attestation, reduced to what the chain needs."""

    where: str
    step: str
    signer: str
    subjects: Mapping[str, str]  # name -> sha256
    dependencies: Mapping[str, str]  # uri -> sha256
    builder: str
    source: tuple[str, str, str]  # repo, ref, commit


def step_of(stmt: ParsedStatement) -> str:
    if stmt.predicate_type == PROMO_TOOLS_PREDICATE:
        return "promotion"
    return STEP_OF_BUILD_TYPE.get(stmt.build_type(), "")


def link_of(where: str, stmt: ParsedStatement, signer: str) -> Link:
    # Only well-formed sha256 digests take part in links: an empty or short one must never
    # be compared (it would match an artifact offered with an empty digest).
    subjects = {s.name: s.digest["sha256"] for s in stmt.subjects()
                if is_hex_digest("sha256", s.digest.get("sha256"))}
    deps: dict[str, str] = {}
    p = stmt.predicate
    raw = ((p.get("buildDefinition") or {}).get("resolvedDependencies")
           if isinstance(p.get("buildDefinition"), Mapping) else p.get("materials")) or []
    commit = ""
    for d in raw if isinstance(raw, list) else []:
        if not isinstance(d, Mapping):
            continue
        dg = d.get("digest")
        if not isinstance(dg, Mapping):
            continue
        if is_hex_digest("sha256", dg.get("sha256")):
            deps[str(d.get("uri") or d.get("name"))] = str(dg["sha256"]).lower()
        if not commit and (dg.get("gitCommit") or dg.get("sha1")):
            commit = str(dg.get("gitCommit") or dg.get("sha1"))
    if stmt.predicate_type == PROMO_TOOLS_PREDICATE:
        digest = str(p.get("digest", "")).removeprefix("sha256:").lower()
        if is_hex_digest("sha256", digest):
            deps[str(p.get("srcRef", ""))] = digest
    repo, ref = stmt.source()
    return Link(where=where, step=step_of(stmt), signer=signer, subjects=subjects,
                dependencies=deps, builder=stmt.builder_id(), source=(repo, ref, commit))


def _signer(report: Report) -> str:
    for name in ("certificate-identity", "signature"):
        check = next((c for c in report.checks if c.name == name), None)
        if check is not None:
            return check.detail
    return ""


def peek_predicate_type(doc: Any) -> str:
    """The predicate type an attestation *claims*, read before its signature is checked.

    Used only to ask the verifier for exactly that type; the signature check that
    follows covers the payload it came from."""
    import base64
    import json

    payload = doc.get("payload") if isinstance(doc, Mapping) else None
    if payload is None and isinstance(doc, Mapping):
        payload = (doc.get("dsseEnvelope") or {}).get("payload")
    try:
        stmt = json.loads(base64.b64decode(payload or ""))
    except (ValueError, TypeError):
        return ""
    return str(stmt.get("predicateType", "")) if isinstance(stmt, dict) else ""


@attrs.frozen
class ChainResult:
    artifact: str
    checks: tuple[Check, ...]
    links: tuple[Link, ...] = ()

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


def load_links(docs: Sequence[tuple[str, bytes, Any]], trusts: Mapping[str, Any],
               policies: Mapping[str, Policy],
               predicate_types: Mapping[str, Sequence[str]] | None = None
               ) -> tuple[list[Link], list[Check]]:
    """Verify every attestation against the trust of the step it claims to be."""
    from attester.checker import verify_document

    links: list[Link] = []
    problems: list[Check] = []
    for where, data, doc in docs:
        # First learn the step (any step's signer may open it), then demand that
        # step's own signer and policy: a stage signer cannot vouch for a promotion.
        opened: tuple[Report, str] | None = None
        claimed = peek_predicate_type(doc) or "unknown"
        for step, trust in trusts.items():
            try:
                report = verify_document(data, doc, where, trust,
                                         Demands(policy=Policy(predicate_type=claimed)))
            except UsageError:
                continue  # e.g. a keyed step's trust offered a keyless bundle: not its signer
            if report.ok and report.statement is not None:
                opened = (report, step)
                break
        if opened is None:
            problems.append(Check(f"attestation {where}", False,
                                  "not signed by any signer the policy trusts"))
            continue
        stmt = opened[0].statement
        assert stmt is not None  # noqa: S101 - checked just above
        step = step_of(stmt)
        if step not in trusts:
            problems.append(Check(f"attestation {where}", False,
                                  f"is a {step or 'non-release-step'} attestation "
                                  f"({stmt.build_type() or stmt.predicate_type}); the policy "
                                  "names no signer for it"))
            continue
        allowed = (predicate_types or {}).get(step)
        if allowed and stmt.predicate_type not in allowed:
            problems.append(Check(f"attestation {where}", False,
                                  f"{step} attestation has predicate type "
                                  f"{stmt.predicate_type!r}; the policy allows "
                                  f"{', '.join(allowed)}"))
            continue
        policy = attrs.evolve(policies.get(step) or Policy(),
                              predicate_type=stmt.predicate_type)
        report = verify_document(data, doc, where, trusts[step], Demands(policy=policy))
        if not report.ok:
            bad = report.failures()[0]
            problems.append(Check(f"attestation {where}", False,
                                  f"{step} attestation fails its step's policy: {bad.name}: "
                                  f"{bad.detail}"))
            continue
        links.append(link_of(where, stmt, _signer(report)))
    return links, problems


def follow(name: str, digest: str, links: Sequence[Link], *,
           source_uri: str | None = None) -> ChainResult:
    """The chain for one artifact, as checks: each link found, or what broke."""
    checks: list[Check] = []
    label = f"{name} (sha256:{digest[:12]})"
    conflict = _conflicts(links)
    if conflict:
        checks.append(conflict)
    top = [lk for lk in links if lk.step in ("promotion", "release")
           and digest in lk.subjects.values()]
    stage_digest = digest
    used: list[Link] = []
    if top:
        lk = top[0]
        used.append(lk)
        if lk.step == "promotion":
            dep = next((d for d in lk.dependencies.values() if d == digest), None)
            detail = (f"promoted from {next(u for u, d in lk.dependencies.items() if d == digest)}"
                      if dep else "")
            checks.append(Check("chain promotion", dep is not None,
                                f"{label}: {detail} ({lk.where}, {lk.signer})" if dep else
                                f"{label}: promotion attestation {lk.where} names no staging "
                                "source with this digest"))
        else:
            dep = next((u for u, d in lk.dependencies.items() if d == digest), None)
            checks.append(Check("chain release", dep is not None,
                                f"{label}: published from staged {dep} ({lk.where}, {lk.signer})"
                                if dep else f"{label}: release attestation {lk.where} names no "
                                "staged file with this digest"))
    stage = [lk for lk in links if lk.step == "stage" and stage_digest in lk.subjects.values()]
    if not stage:
        checks.append(Check("chain stage", False, f"{label}: no stage attestation covers "
                            f"sha256:{stage_digest} (gap after "
                            f"{used[0].step if used else 'the artifact'})"))
        return ChainResult(artifact=name, checks=tuple(checks), links=tuple(used))
    st = stage[0]
    used.append(st)
    subject = next(n for n, d in st.subjects.items() if d == stage_digest)
    checks.append(Check("chain stage", True, f"{label}: staged as {subject} ({st.where}, "
                        f"{st.signer})"))
    repo, ref, commit = st.source
    ok = bool(repo and commit)
    if ok and source_uri is not None:
        ok = normalize_repo(repo) == normalize_repo(source_uri)
    checks.append(Check("chain source", ok, f"{label}: built from {repo}@{commit}"
                        + (f" ({ref})" if ref else "") if ok else
                        f"{label}: stage attestation names source {repo or 'none'!r} "
                        f"commit {commit or 'none'!r}" + (f", policy wants {source_uri}"
                                                          if source_uri else "")))
    return ChainResult(artifact=name, checks=tuple(checks), links=tuple(used))


def _conflicts(links: Sequence[Link]) -> Check | None:
    """Two attestations of the same step that disagree on a subject's digest."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for lk in links:
        for name, digest in lk.subjects.items():
            key = (lk.step, name)
            if key in seen and seen[key][0] != digest:
                return Check("chain consistency", False,
                             f"{name}: {seen[key][1]} says sha256:{seen[key][0]} but "
                             f"{lk.where} says sha256:{digest} ({lk.step})")
            seen.setdefault(key, (digest, lk.where))
    return None
