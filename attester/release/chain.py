"""Following an artifact back through the release: promotion or release -> stage ->
source commit. Every link must match by digest, and each attestation must be signed by
the signer the policy names for its step.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from attester.digests import is_hex_digest
from attester.errors import AttesterError, InputError, UsageError
from attester.jsonio import parse_json
from attester.model.statement import PROVENANCE_TYPES, ParsedStatement, normalize_repo
from attester.model.subjects import last_segment, name_rule, names_match
from attester.release.steps import PROMO_TOOLS_PREDICATE, STEP_OF_BUILD_TYPE
from attester.verify import document
from attester.verify.checks.policy import Check, Policy
from attester.verify.checks.report import Report
from attester.verify.checks.requirements import UnansweredError
from attester.verify.checks.statement import Demands

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
    subjects: dict[str, str] = {}
    for s in stmt.subjects():  # a verified statement names each subject once
        if is_hex_digest("sha256", s.digest.get("sha256")):
            subjects.setdefault(s.name, s.digest["sha256"])
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


def peek_statement(doc: Any) -> ParsedStatement | None:
    """The statement an attestation *claims*, read before its signature is checked.

    Used only to pick which step's signer and policy to verify it with; the signature
    check that follows covers the payload it came from, and the step is read again from
    the verified statement."""
    payload = document.claimed_payload(doc)
    if not isinstance(payload, str):
        return None
    try:  # bounded like every other parse: no deep nesting, no NaN, no huge integers
        stmt = parse_json(base64.b64decode(payload), where="payload")
    except (InputError, ValueError, TypeError):
        return None
    return ParsedStatement(stmt) if isinstance(stmt, dict) else None


def peek_predicate_type(doc: Any) -> str:
    """The predicate type an attestation *claims* (see :func:`peek_statement`)."""
    stmt = peek_statement(doc)
    return stmt.predicate_type if stmt is not None else ""


def allowed_types(step: str, predicate_types: Mapping[str, Sequence[str]] | None
                  ) -> Sequence[str]:
    """The predicate types a link of ``step`` may have: the policy's, else provenance."""
    return (predicate_types or {}).get(step) or STEP_PREDICATE_TYPES.get(step, ())


#: Without ``predicate-types`` in the policy, what may count as each step's link: SLSA
#: provenance (and, for a promotion, kpromo's own predicate). An SBOM, a test result or
#: any other statement from the same signer is never provenance, whatever its fields say.
STEP_PREDICATE_TYPES: Mapping[str, tuple[str, ...]] = {
    "stage": PROVENANCE_TYPES, "release": PROVENANCE_TYPES,
    "promotion": (*PROVENANCE_TYPES, PROMO_TOOLS_PREDICATE)}


@attrs.frozen
class ChainResult:
    artifact: str
    checks: tuple[Check, ...]
    links: tuple[Link, ...] = ()

    @functools.cached_property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


@attrs.frozen
class Loaded:
    """The attestations of a chain, verified: the links, a problem for each one that did
    not verify, and those as they claim to be (to explain, never to cover)."""

    links: tuple[Link, ...]
    problems: tuple[Check, ...]
    failed: tuple[FailedLink, ...]

    def index(self, require_top: Sequence[str] = ()) -> ChainIndex:
        return ChainIndex(self.links, require_top, self.failed)


def load_links(docs: Sequence[tuple[str, bytes, Any]], trusts: Mapping[str, Any],
               policies: Mapping[str, Policy],
               predicate_types: Mapping[str, Sequence[str]] | None = None
               ) -> tuple[list[Link], list[Check]]:
    loaded = load_chain(docs, trusts, policies, predicate_types)
    return list(loaded.links), list(loaded.problems)


def load_chain(docs: Sequence[tuple[str, bytes, Any]], trusts: Mapping[str, Any],
               policies: Mapping[str, Policy],
               predicate_types: Mapping[str, Sequence[str]] | None = None) -> Loaded:
    """Verify every attestation against the trust of the step it claims to be.

    An attestation that passes is verified once, with its claimed step's signer and
    policy; only one that fails is tried against the other steps' signers, to say why
    (a signer of another step, or no trusted signer at all)."""
    links: list[Link] = []
    problems: list[Check] = []
    failed: list[FailedLink] = []
    refused: list[AttesterError] = []
    for where, data, doc in docs:
        try:
            link = _load_fast(where, data, doc, trusts, policies, predicate_types)
            link_or_problem = link if link is not None else _load_explained(
                where, data, doc, trusts, policies, predicate_types)
        except (UsageError, InputError) as e:
            # One document that cannot be checked (a signature over a file where a statement
            # is needed, a requirement its form cannot answer, not an attestation at all) is
            # that document's problem, named: the others are still read, and a good one
            # still found. Only when no document could be used is it the command's (exit 2).
            # (redteam: the first refusal raised for the whole chain or audit, before the
            # documents after it were read.)
            refused.append(e)
            problems.append(Check(f"attestation {where}", False,
                                  f"cannot be checked as a release-chain link: {e.message}"))
            continue
        if link is None:
            if isinstance(link_or_problem, Check):
                problems.append(link_or_problem)
                claimed = peek_statement(doc)
                if claimed is not None and step_of(claimed):
                    failed.append(FailedLink(link_of(where, claimed, ""),
                                             link_or_problem.detail))
                continue
            link = link_or_problem
        links.append(link)
    if refused and len(refused) == len(docs):
        raise refused[0]
    return Loaded(tuple(links), tuple(problems), tuple(failed))


def _load_fast(where: str, data: bytes, doc: Any, trusts: Mapping[str, Any],
               policies: Mapping[str, Policy],
               predicate_types: Mapping[str, Sequence[str]] | None) -> Link | None:
    """The link, when the attestation passes its claimed step's signer and policy in one
    verification; None whenever anything is off (the caller then explains why)."""
    from attester.verify.checker import verify_document

    for step, predicate_type in _claims(doc):
        if step not in trusts or predicate_type not in allowed_types(step, predicate_types):
            continue
        policy = attrs.evolve(policies.get(step) or Policy(), predicate_type=predicate_type)
        try:
            report = verify_document(data, doc, where, trusts[step], Demands(
                policy=policy, asked_by=f"policy step {step}" if policies.get(step) else ""))
        except UsageError:
            return None
        stmt = report.statement
        # The claim was guessed before the signature check; what counts is the verified
        # statement, read by the verifier's own parser.
        if report.ok and stmt is not None and step_of(stmt) == step:
            return link_of(where, stmt, _signer(report))
    return None


_PREDICATE_TYPE = re.compile(rb'"predicateType"\s*:\s*"([^"\\]{1,200})"')


def _claims(doc: Any) -> list[tuple[str, str]]:
    """(step, predicate type) pairs an attestation may claim to be, most likely first.

    Found by searching the payload's bytes for the step build types and predicate types,
    not by parsing it: a release's statements run to megabytes, and the verification
    that follows parses them anyway (strictly). A guess that is wrong (or a payload that
    spells them with escapes) only sends the attestation down the slow path."""
    payload = document.claimed_payload(doc)
    if not isinstance(payload, str):
        return []
    try:
        raw = base64.b64decode(payload)
    except (ValueError, TypeError):
        return []
    types = list(dict.fromkeys(m.decode("utf-8", "replace")
                               for m in _PREDICATE_TYPE.findall(raw)))[:4]
    steps = [step for build_type, step in STEP_OF_BUILD_TYPE.items()
             if build_type.encode() in raw]
    if PROMO_TOOLS_PREDICATE in types and "promotion" not in steps:
        steps.append("promotion")
    return [(step, t) for step in steps for t in types]


def _load_explained(where: str, data: bytes, doc: Any, trusts: Mapping[str, Any],
                    policies: Mapping[str, Policy],
                    predicate_types: Mapping[str, Sequence[str]] | None) -> Link | Check:
    """The slow path: which signer opens the attestation, and what its step then refuses."""
    from attester.verify.checker import verify_document

    # First learn the step (any step's signer may open it), then demand that
    # step's own signer and policy: a stage signer cannot vouch for a promotion.
    opened: tuple[Report, str] | None = None
    claimed = peek_predicate_type(doc) or "unknown"
    why = ""
    refused: list[UnansweredError] = []
    for step, trust in trusts.items():
        try:
            report = verify_document(data, doc, where, trust,
                                     Demands(policy=Policy(predicate_type=claimed)))
        except UnansweredError as e:  # a requirement of this step's signer this form cannot
            refused.append(e)    # answer: another step's signer may open it
            continue
        except UsageError:
            continue  # e.g. a keyed step's trust offered a keyless bundle: not its signer
        if report.ok and report.statement is not None:
            opened = (report, step)
            break
        why = why or next((c.detail for c in report.failures()), "")
    if opened is None and refused:
        raise refused[0]  # never "not signed": a requirement went unanswered (exit 2)
    if opened is None:
        step = step_of(peeked) if (peeked := peek_statement(doc)) is not None else ""
        signer = _signer_named(trusts.get(step))
        named = (step in trusts and bool(signer)
                 and len({id(t) for t in trusts.values()}) > 1)  # a policy, not one --key
        said = [f"the {step} signer is {signer}"] if named else []
        return Check(f"attestation {where}", False, "not signed by any signer the policy "
                     "trusts" + (f" ({'; '.join([*said, why])})" if said or why else ""))
    stmt = opened[0].statement
    assert stmt is not None  # noqa: S101 - checked just above
    step = step_of(stmt)
    if step not in trusts:
        return Check(f"attestation {where}", False,
                     f"is a {step or 'non-release-step'} attestation "
                     f"({stmt.build_type() or stmt.predicate_type}); the policy "
                     "names no signer for it")
    allowed = allowed_types(step, predicate_types)
    if stmt.predicate_type not in allowed:
        return Check(f"attestation {where}", False,
                     f"{step} attestation has predicate type {stmt.predicate_type!r}; " + (
                         f"the policy allows {', '.join(allowed)}"
                         if (predicate_types or {}).get(step) else
                         f"a {step} link must be provenance ({', '.join(allowed)}); list "
                         "others under the step's predicate-types in the policy"))
    policy = attrs.evolve(policies.get(step) or Policy(), predicate_type=stmt.predicate_type)
    report = verify_document(data, doc, where, trusts[step], Demands(
        policy=policy, asked_by=f"policy step {step}" if policies.get(step) else ""))
    if not report.ok or report.statement is None:
        bad = report.failures()[0] if report.failures() else Check("statement", False,
                                                                   "no statement")
        return Check(f"attestation {where}", False,
                     f"{step} attestation fails its step's policy: {bad.name}: {bad.detail}")
    return link_of(where, stmt, _signer(report))


def _signer_named(trust: Any) -> str:
    """Who a step's trust names, for a message: its keys, or its keyless identity."""
    if trust is None:
        return ""
    keys = [k.label.rsplit("/", 1)[-1] for k in getattr(trust, "keys", ())]
    if keys:
        return ", ".join(keys)
    identity = getattr(trust, "identity", None)
    return str(getattr(identity, "identity", "") or "") if identity is not None else ""


TOP_STEPS = ("promotion", "release")


@attrs.frozen
class FailedLink:
    """An attestation that did not verify, as it *claims* to be (read without trusting
    it): only to say, for an artifact it would have covered, which file that is and why
    it fails its step, instead of calling it a gap. It never covers anything."""

    link: Link
    why: str


class ChainIndex:
    """Every link's subjects and dependencies indexed by digest, built once, so that
    following an artifact is a few lookups whatever the size of the release (an audit
    of N files is then O(N), not O(N x subjects)). A subject covers an artifact when its
    name and digest both match (:func:`attester.model.subjects.match`'s rule)."""

    def __init__(self, links: Sequence[Link], require_top: Sequence[str] = (),
                 failed: Sequence[FailedLink] = ()) -> None:
        self.links = tuple(links)
        self.failed = tuple(failed)
        self._failed_index: tuple[dict[str, list[tuple[int, str]]],
                                  list[dict[str, list[str]]]] | None = None
        # The top steps (release, promotion) the policy names a signer for: an artifact
        # must then be covered by one of them. Otherwise whoever holds only the stage key
        # could publish any file by signing a stage attestation for it (red-team finding).
        self.require_top = tuple(s for s in TOP_STEPS if s in require_top)
        self.conflict = _conflicts(self.links)
        # digest -> every (link, subject name) naming it, in list order
        self._by_digest: dict[str, list[tuple[int, str]]] = {}
        # per link: digest -> its dependencies with that digest
        self._deps: list[dict[str, list[str]]] = []
        # last path segment of a subject name -> (link, subject name, digest): to say
        # which attestation names a tampered file with another digest (built when first
        # needed: a release that passes never asks)
        self._names: dict[str, list[tuple[int, str, str]]] | None = None
        self._sources: dict[tuple[int, str | None], tuple[bool, str]] = {}
        self._rules: dict[str, Callable[[str], bool] | None] = {}
        # digest -> two stage links naming different sources (repo, commit) for it
        self._source_conflict: dict[str, tuple[int, int]] = {}
        first_stage: dict[str, int] = {}
        origins = [_origin(lk) if lk.step == "stage" else ("", "") for lk in self.links]
        for i, lk in enumerate(self.links):
            deps: dict[str, list[str]] = {}
            for uri, d in lk.dependencies.items():
                deps.setdefault(d, []).append(uri)
            self._deps.append(deps)
            for name, d in lk.subjects.items():
                self._by_digest.setdefault(d, []).append((i, name))
                if lk.step == "stage":
                    first = first_stage.setdefault(d, i)
                    # a second stage attestation of the same digest naming another source
                    # (e.g. an old one copied in): which one is true is unknowable, and the
                    # verdict must not depend on the order files are read (red-team finding)
                    if origins[i] != origins[first]:
                        self._source_conflict.setdefault(d, (first, i))

    def _name_index(self) -> dict[str, list[tuple[int, str, str]]]:
        if self._names is None:
            self._names = {}
            for i, lk in enumerate(self.links):
                for n, d in lk.subjects.items():
                    self._names.setdefault(last_segment(n), []).append((i, n, d))
        return self._names

    def _rule(self, name: str) -> Callable[[str], bool] | None:
        """Which subject names are this artifact's (:func:`name_rule`, over every link of
        every step): None when none is, and its digest alone then finds it."""
        if name not in self._rules:  # asked for the artifact, then for its staged source
            self._rules[name] = name_rule(
                (n for _, n, _ in self._name_index().get(last_segment(name), ())), name)
        return self._rules[name]

    def _covering(self, steps: Sequence[str], name: str, digest: str
                  ) -> tuple[int, str] | None:
        """The first link of ``steps`` with a subject that is this artifact: its name
        (when any subject has that name) and its digest."""
        unset: Any = object()
        rule = unset
        for i, subject in self._by_digest.get(digest, ()):
            if self.links[i].step not in steps:
                continue
            if names_match(subject, name):  # the path's tail: its name whatever the rule
                return i, subject
            if rule is unset:  # worked out only when needed (most names match above)
                rule = self._rule(name)
            if rule is None or rule(subject):
                return i, subject
        return None

    def _failing_index(self) -> tuple[dict[str, list[tuple[int, str]]],
                                      list[dict[str, list[str]]]]:
        """The failed links' subjects by digest, and each one's names by last segment:
        built once, when a row first needs them (a 10,000-file release whose stage
        attestation fails must not cost 10,000 x 10,000 comparisons)."""
        if self._failed_index is None:
            by_digest: dict[str, list[tuple[int, str]]] = {}
            names: list[dict[str, list[str]]] = []
            for k, f in enumerate(self.failed):
                segments: dict[str, list[str]] = {}
                for n, d in f.link.subjects.items():
                    by_digest.setdefault(d, []).append((k, n))
                    segments.setdefault(last_segment(n), []).append(n)
                names.append(segments)
            self._failed_index = (by_digest, names)
        return self._failed_index

    def _failing(self, steps: Sequence[str], name: str, digest: str, label: str
                 ) -> Check | None:
        """An attestation of ``steps`` that would cover the artifact but did not verify:
        which file, and why it fails its step (not a gap: it is there)."""
        if not self.failed:
            return None
        by_digest, names = self._failing_index()
        for k, subject in by_digest.get(digest, ()):
            f = self.failed[k]
            if f.link.step not in steps:
                continue
            rule = name_rule(names[k].get(last_segment(name), ()), name)
            if rule is None or rule(subject):
                return Check(f"chain {f.link.step}", False,
                             f"{label}: {f.link.where} names it as "
                             f"{subject} but fails the {f.link.step} step: {f.why}")
        return None

    def same_name(self, name: str) -> tuple[Link, str, str] | None:
        """The subject an artifact of this name was published as, by the topmost step that
        names it (:func:`name_rule`: ``kubectl`` or ``bin/kubectl`` and
        ``gs://bucket/release/v1/bin/kubectl``; a downloaded ``v1/files/kubectl`` and a
        subject ``kubectl``)."""
        rule = self._rule(name)
        if rule is None:
            return None
        candidates = [(self.links[i], n, d)
                      for i, n, d in self._name_index().get(last_segment(name), ()) if rule(n)]
        order = {"promotion": 0, "release": 1, "stage": 2}
        candidates.sort(key=lambda c: order.get(c[0].step, 3))  # stable: list order kept
        return candidates[0] if candidates else None

    def follow(self, name: str, digest: str, *, source_uri: str | None = None,
               by_digest: bool = False, shown: str | None = None) -> ChainResult:
        """The chain for one artifact, as checks: each link found, or what broke.
        ``by_digest``: the artifact was given as a digest alone (``--digest``), so its
        first link is found by digest; every link after it still by name and digest.
        ``shown``: how the messages name the artifact (default ``name``, the path its
        subject is matched by)."""
        checks: list[Check] = []
        shown = shown or name
        label = f"{shown} (sha256:{digest[:12]})"
        if by_digest:  # the topmost subject with this digest names it
            named = sorted(self._by_digest.get(digest, ()),
                           key=lambda c: TOP_STEPS.index(self.links[c[0]].step)
                           if self.links[c[0]].step in TOP_STEPS else len(TOP_STEPS))
            name = named[0][1] if named else name
        if self.conflict:
            checks.append(self.conflict)
        used: list[Link] = []
        staged_as = name  # what the stage must name: the artifact, or its top link's source
        top = self._covering(TOP_STEPS, name, digest)
        if top is not None:
            i, subject = top
            lk = self.links[i]
            used.append(lk)
            # the staged file the top link names with this digest, and the same file name
            sources = self._deps[i].get(digest, ())
            dep = next((u for u in sources if last_segment(u) == last_segment(subject)), None)
            # a source with this digest under another name is no source of this file
            renamed = "" if dep is not None or not sources else (
                f" and this name (only {sources[0]})")
            if lk.step == "promotion":
                checks.append(Check("chain promotion", dep is not None,
                                    f"{label}: promoted from {dep} ({lk.where}, {lk.signer})"
                                    if dep is not None else
                                    f"{label}: promotion attestation {lk.where} names no "
                                    f"staging source with this digest{renamed}"))
            else:
                checks.append(Check("chain release", dep is not None,
                                    f"{label}: published from staged {dep} ({lk.where}, "
                                    f"{lk.signer})" if dep is not None else
                                    f"{label}: release attestation {lk.where} names no staged "
                                    f"file with this digest{renamed}"))
            staged_as = dep or subject
        # only said when a stage covers it: without one the chain has failed already
        top_checks = [] if used or not self.require_top else [
            self._failing(self.require_top, name, digest, label) or Check(
                "chain top", False, f"{label}: no {' or '.join(self.require_top)} "
                f"attestation covers sha256:{digest}; the policy names that step's signer, "
                "so a stage attestation alone does not vouch for it")]
        staged = self._covering(("stage",), staged_as, digest)
        if staged is None:
            other = None if used else self.same_name(name)
            failing = self._failing(("stage",) if used else STEPS, staged_as, digest, label)
            if failing is not None:
                checks.append(failing)
            elif other is not None:
                lk, subject, said = other
                checks.append(Check("chain digest", False,
                                    f"{shown}: sha256:{digest[:12]}… but the {lk.step} "
                                    f"attestation {lk.where} says sha256:{said[:12]}… for "
                                    f"{subject}"))
            else:
                checks.append(Check("chain stage", False, f"{label}: no stage attestation "
                                    f"covers sha256:{digest} (gap after " + (
                                        f"{used[0].step}, which names it {staged_as})"
                                        if used and staged_as != name else
                                        f"{used[0].step if used else 'the artifact'})")))
            return ChainResult(artifact=shown, checks=tuple(checks), links=tuple(used))
        i, subject = staged
        st = self.links[i]
        used.append(st)
        checks.append(Check("chain stage", True, f"{label}: staged as {subject} ({st.where}, "
                            f"{st.signer})"))
        ok, said = self._source(i, source_uri)
        checks.append(Check("chain source", ok, f"{label}: {said}"))
        if digest in self._source_conflict:
            a, b = (self.links[j] for j in self._source_conflict[digest])
            checks.append(Check("chain consistency", False,
                                f"{label}: {a.where} says built from {a.source[0]}@"
                                f"{a.source[2]} but {b.where} says {b.source[0]}@{b.source[2]}"))
        return ChainResult(artifact=shown, checks=(*checks, *top_checks), links=tuple(used))

    def _source(self, stage_index: int, source_uri: str | None) -> tuple[bool, str]:
        """Whether a stage link's source is what the policy wants, and the words for it:
        worked out once per stage attestation, not once per artifact."""
        key = (stage_index, source_uri)
        if key not in self._sources:
            repo, ref, commit = self.links[stage_index].source
            ok = bool(repo and commit)
            if ok and source_uri is not None:
                ok = normalize_repo(repo) == normalize_repo(source_uri)
            self._sources[key] = (ok, f"built from {repo}@{commit}" + (f" ({ref})" if ref else "")
                                  if ok else f"stage attestation names source "
                                  f"{repo or 'none'!r} commit {commit or 'none'!r}"
                                  + (f", policy wants {source_uri}" if source_uri else ""))
        return self._sources[key]


def _origin(lk: Link) -> tuple[str, str]:
    """A stage link's source repository (normalized) and commit."""
    return normalize_repo(lk.source[0]) if lk.source[0] else "", lk.source[2].lower()


def follow(name: str, digest: str, links: Sequence[Link] | ChainIndex, *,
           source_uri: str | None = None, require_top: Sequence[str] = ()) -> ChainResult:
    """The chain for one artifact; pass a :class:`ChainIndex` when following many."""
    index = links if isinstance(links, ChainIndex) else ChainIndex(links, require_top)
    return index.follow(name, digest, source_uri=source_uri)


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
