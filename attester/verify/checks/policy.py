"""What a verifier demands of a statement, and the pure checks that apply it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from attester.hashing import SUPPORTED_ALGORITHMS
from attester.model import subjects as subjects_model
from attester.model.statement import ParsedStatement, Subject, normalize_repo
from attester.verify.checks.check import (
    Check as Check,  # re-exported: many callers take it from here
)


@attrs.frozen
class Policy:
    builder_id: str | None = None
    source_uri: str | None = None
    source_ref: str | None = None
    source_branch: str | None = None
    source_tag: str | None = None
    source_versioned_tag: str | None = None
    source_ref_pattern: str | None = None
    build_type: str | None = None
    predicate_type: str | None = None
    #: GitHub facts a provenance records (and a certificate too: see certpolicy)
    source_digest: str | None = None
    workflow_trigger: str | None = None
    workflow_inputs: tuple[tuple[str, str], ...] = ()
    #: what a VSA must say (see vsapolicy)
    verifier_id: str | None = None
    resource_uri: str | None = None
    verified_levels: tuple[str, ...] = ()
    #: Rego policies (rego.RegoPolicy) the verified statement and its signer must pass
    rego: tuple[Any, ...] = ()

    def is_empty(self) -> bool:
        return not any(attrs.astuple(self))

    def about_statement(self) -> list[str]:
        """The flags that need a provenance statement to be checked against (the source
        flags can also be answered by a CI certificate)."""
        flags = {"workflow_inputs": "--build-workflow-input",
                 "verified_levels": "--verified-level"}
        return [flags.get(f.name, f"--{f.name.replace('_', '-')}") for f in attrs.fields(Policy)
                if getattr(self, f.name) not in (None, ()) and f.name not in SOURCE_FLAGS
                and f.name not in CERTIFICATE_ANSWERS]

    def about_source(self) -> bool:
        return any(getattr(self, f) is not None for f in SOURCE_FLAGS)


def builder_id_matches(got: str, want: str) -> bool:
    """slsa-verifier's rule: ``want`` without ``@`` names the builder at any version;
    ``@vX.Y.Z`` and ``@refs/tags/vX.Y.Z`` are the same version."""
    if got == want:
        return True
    got_name, _, got_ver = got.rpartition("@") if "@" in got else (got, "", "")
    if "@" not in want:
        return got_name == want
    want_name, _, want_ver = want.rpartition("@")

    def norm(v: str) -> str:
        return v.removeprefix("refs/tags/")

    return got_name == want_name and norm(got_ver) == norm(want_ver) and bool(got_ver)


_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?([-+].*)?$")


def versioned_tag_matches(ref: str, want: str) -> bool:
    """slsa-verifier's --source-versioned-tag: ``v1.2`` accepts tags v1.2.x, ``v1`` v1.x.y."""
    if not ref.startswith("refs/tags/"):
        return False
    got_m, want_m = _SEMVER.match(ref.removeprefix("refs/tags/")), _SEMVER.match(want)
    if not got_m or not want_m:
        return False
    for g, w in zip(got_m.groups()[:3], want_m.groups()[:3], strict=True):
        if w is None:
            break
        if g is None or int(g) != int(w):
            return False
    # A pre-release is not the release: it matches only when the policy names it.
    return got_m.group(4) == want_m.group(4)


#: Flags a CI certificate answers as well (checked there by certpolicy.CertPolicy)
CERTIFICATE_ANSWERS = ("source_digest", "workflow_trigger")
SOURCE_FLAGS = ("source_uri", "source_ref", "source_branch", "source_tag",
                "source_versioned_tag", "source_ref_pattern")


def source_checks(repo: str, ref: str, policy: Policy, *, prefix: str = "",
                  what: str = "source") -> list[Check]:
    """The source flags against one (repository, ref) claim, wherever it comes from: the
    provenance, or a Fulcio certificate's Source Repository URI/Ref extensions."""
    checks: list[Check] = []
    if policy.source_uri is not None:
        want_repo = normalize_repo(policy.source_uri)
        ok = bool(repo) and normalize_repo(repo) == want_repo
        checks.append(Check(prefix + "source-uri", ok, f"{what} is {repo!r}" if ok else
                            f"{what} is {repo or 'missing'!r}, policy wants {want_repo!r}"))
    ref_rules: list[tuple[str, str | None, Callable[[str], bool], str]] = [
        ("source-ref", policy.source_ref, lambda w: ref == w, "{}"),
        ("source-branch", policy.source_branch, lambda w: ref == f"refs/heads/{w}",
         "refs/heads/{}"),
        ("source-tag", policy.source_tag, lambda w: ref == f"refs/tags/{w}", "refs/tags/{}"),
        ("source-versioned-tag", policy.source_versioned_tag,
         lambda w: versioned_tag_matches(ref, w), "a tag matching {}"),
        ("source-ref-pattern", policy.source_ref_pattern,
         lambda w: re.fullmatch(w, ref) is not None, "a ref matching {}")]
    for name, want, rule, shape in ref_rules:
        if want is not None:
            ok = bool(ref) and rule(want)
            checks.append(Check(prefix + name, ok, f"{what} ref is {ref!r}" if ok else
                                f"{what} ref is {ref or 'missing'!r}, policy wants "
                                f"{shape.format(want)}"))
    return checks


def check_policy(stmt: ParsedStatement, policy: Policy, signer: Any = None) -> list[Check]:
    """Every requirement of ``policy`` on a verified statement; ``signer`` (a
    signer.Signer) is who signed it, which Rego policies read as input.signer."""
    checks: list[Check] = []
    if policy.verifier_id or policy.resource_uri or policy.verified_levels:
        from attester.verify.checks.vsapolicy import is_vsa, vsa_checks

        if not is_vsa(stmt.predicate_type):
            checks.append(Check("vsa", False, f"--verifier-id, --resource-uri and "
                                f"--verified-level apply to a VSA; this is "
                                f"{stmt.predicate_type!r}"))
        else:
            checks.extend(vsa_checks(stmt.predicate, verifier_id=policy.verifier_id,
                                     resource_uri=policy.resource_uri,
                                     levels=policy.verified_levels))
    if policy.builder_id is not None:
        got = stmt.builder_id()
        ok = builder_id_matches(got, policy.builder_id)
        checks.append(Check("builder-id", ok, f"builder id is {got!r}" if ok else
                            f"builder id is {got or 'missing'!r}, policy wants "
                            f"{policy.builder_id!r}"))
    if policy.build_type is not None:
        got = stmt.build_type()
        checks.append(Check("build-type", got == policy.build_type,
                            f"build type is {got!r}" if got == policy.build_type else
                            f"build type is {got or 'missing'!r}, policy wants "
                            f"{policy.build_type!r}"))
    repo, ref = stmt.source()
    checks.extend(source_checks(repo, ref, policy))
    if policy.source_digest or policy.workflow_trigger or policy.workflow_inputs:
        from attester.verify.checks.certpolicy import statement_checks

        checks.extend(statement_checks(stmt.predicate, source_digest=policy.source_digest,
                                       workflow_trigger=policy.workflow_trigger,
                                       inputs=policy.workflow_inputs))
    if policy.rego:
        from attester.verify.checks import rego

        who = signer.to_json() if signer is not None else None
        checks.extend(rego.evaluate(p, stmt.raw, who) for p in policy.rego)
    return checks


@attrs.frozen
class Artifact:
    """An artifact offered for verification: how the user named it, and its digests.
    ``by_digest``: given as a digest alone (``--digest``), so no name to match."""

    name: str
    digest: Mapping[str, str]
    by_digest: bool = False


def _agree(subject: Mapping[str, str], artifact: Mapping[str, str]) -> bool | None:
    return subjects_model.agree(subject, artifact)


def _show(digest: Mapping[str, str]) -> str:
    return subjects_model.show(digest)


def match_artifact(subjects: Sequence[Subject], artifact: Artifact) -> Check:
    """The subject with the artifact's name and digest (the one rule every path uses:
    :func:`attester.model.subjects.match`)."""
    name = f"artifact {artifact.name}"
    found = subjects_model.match(((s.name, s.digest) for s in subjects),
                                 "" if artifact.by_digest else artifact.name, artifact.digest)
    if found.subject is not None:
        how = " by digest" if artifact.by_digest or found.by_digest else ""
        return Check(name, True, f"matches subject {found.subject[0]!r}{how} "
                     f"({_show(artifact.digest)})")
    return Check(name, False, found.why(artifact.digest))


def algorithms_for(subjects: Sequence[Subject]) -> tuple[str, ...]:
    """Which digests to compute for artifacts: those the subjects actually use."""
    used = {a for s in subjects for a in s.digest}
    algs = tuple(a for a in SUPPORTED_ALGORITHMS if a in used)
    return algs or ("sha256",)


def check_store(subjects: Sequence[Subject], store_uri: str, found: Sequence[Artifact],
                *, require_complete: bool) -> list[Check]:
    """Every subject is in the store with its digest; with ``require_complete``, every
    file in the store is a subject. One summary check when all is well."""
    name = f"artifacts {store_uri}"
    by_name = {a.name: a for a in found}
    failures: list[Check] = []
    # Subjects named by location (gs://..., REGISTRY/REPO...) belong to the store whose
    # location they start with; an attestation may cover several stores. Relative names
    # (file://) have no location, so all subjects are in scope.
    prefix = store_uri.removeprefix("oci://")
    scoped = [s for s in subjects if s.name.startswith(prefix)]
    elsewhere = len(subjects) - len(scoped) if scoped else 0
    subjects = scoped or list(subjects)
    for s in subjects:
        art = by_name.get(s.name)
        if art is None:
            failures.append(Check(name, False, f"subject {s.name!r} is missing from the store"))
            continue
        agree = _agree(s.digest, art.digest)
        if agree is None:
            failures.append(Check(name, False, f"subject {s.name!r} has no digest in "
                                  f"{', '.join(SUPPORTED_ALGORITHMS)} to compare with"))
        elif not agree:
            failures.append(Check(name, False, f"digest mismatch for {s.name!r}: store has "
                                  f"{_show(art.digest)}, subject says {_show(s.digest)}"))
    uncovered = sorted(set(by_name) - {s.name for s in subjects})
    if require_complete:
        failures.extend(Check(name, False, f"{n!r} is in the store but no subject covers it")
                        for n in uncovered)
    if failures:
        return failures
    extra = f"; {len(uncovered)} other file(s) in the store not attested" if uncovered else ""
    if elsewhere:
        extra += f"; {elsewhere} subject(s) of other locations not checked here"
    return [Check(name, True, f"all {len(subjects)} subject(s) present with matching "
                  f"digests{extra}")]
