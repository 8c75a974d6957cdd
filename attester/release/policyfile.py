"""Policy files (YAML or JSON) for ``--chain`` and ``attest audit``: who signs each step.

    steps:
      stage:     {keys: [stage.pub], builder-id: https://cloudbuild.googleapis.com/GoogleHostedWorker}
      release:   {certificate-identity: ..., certificate-oidc-issuer: ...}
      promotion: {keys: [promoter.pub], rego: [promotion.rego]}
    source-uri: github.com/kubernetes/kubernetes
    trusted-root: trusted_root.json      # for keyless signers; implies offline

Paths are relative to the policy file. A policy that names no step, or a step with no
signer, trusts nothing and is refused.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import attrs

from attester.errors import InputError, UsageError
from attester.model.statement import normalize_repo
from attester.verify.checks.policy import Policy

STEP_NAMES = ("stage", "release", "promotion")
_POLICY_KEYS = {"builder-id": "builder_id", "build-type": "build_type",
                "source-uri": "source_uri", "source-ref": "source_ref",
                "source-branch": "source_branch", "source-tag": "source_tag",
                "source-ref-pattern": "source_ref_pattern",
                "source-versioned-tag": "source_versioned_tag"}

#: GitHub identity keys of a step (see certpolicy.identity)
_IDENTITY_KEYS = {"certificate-oidc-issuer-regexp": "issuer_regexp", "owner": "owner",
                  "repo": "repo", "hostname": "hostname", "signer-repo": "signer_repo",
                  "signer-workflow": "signer_workflow", "source-digest": "source_digest",
                  "signer-digest": "signer_digest",
                  "deny-self-hosted-runners": "deny_self_hosted_runners",
                  "workflow-trigger": "workflow_trigger"}


_REGEX_KEYS = ("source-ref-pattern", "certificate-identity-regexp",
               "certificate-oidc-issuer-regexp")


@attrs.frozen
class PolicyFile:
    path: str
    sha256: str
    trusts: dict[str, Any]
    policies: dict[str, Policy]
    source_uri: str | None
    #: step -> predicate types its attestations may have (absent: any known provenance)
    predicate_types: dict[str, tuple[str, ...]] = attrs.field(factory=dict)

    def step_policy(self, step: str) -> Policy:
        """What one attestation of ``step`` must meet when it is verified on its own (one
        file's ``verify --policy``, ``promote --require-provenance``): the step's keys and,
        unless the step names its own, the policy's top-level ``source-uri``. (--chain and
        audit check that on the stage link they follow to; verified alone, an attestation
        must show it itself. redteam: it was dropped, so a file built from another
        repository passed.)"""
        policy = self.policies.get(step) or Policy()
        if self.source_uri and policy.source_uri is None:
            policy = attrs.evolve(policy, source_uri=self.source_uri)
        return policy


class _DuplicateKeyError(Exception):
    def __init__(self, key: str, where: str) -> None:
        super().__init__(key)
        self.key, self.where = key, where


def _unique_keys_loader() -> Any:
    """PyYAML's SafeLoader, refusing a key given twice in one mapping. PyYAML keeps the
    last silently (and JSON parsers differ), so ``stage: {keys: [a.pub]}`` followed
    further down by ``stage: {keys: [b.pub]}`` would trust a key the reader never saw
    trusted (red-team finding). PyYAML has no option for it, hence the subclass."""
    import yaml

    class Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types here
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if not isinstance(key, str | int | float | bool):
                    continue  # unhashable keys fail in PyYAML's own construction
                if key in seen:
                    mark = key_node.start_mark
                    raise _DuplicateKeyError(str(key), f" at line {mark.line + 1}" if mark else "")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return Loader


#: Where the policy file's keys are documented (said in every policy error).
REFERENCE = "docs/policy.md"


def _unknown(what: str, name: object, allowed: list[str]) -> str:
    """"unknown step 'staging' (did you mean 'stage'?; allowed: ...)"."""
    import difflib

    close = difflib.get_close_matches(str(name), allowed, n=1, cutoff=0.5)
    if close:
        return f"unknown {what} {name!r} (did you mean {close[0]!r}?)"
    return f"unknown {what} {name!r} (allowed: {', '.join(allowed)})"


def _readable(problem: str) -> str:
    """The schema's "X is not valid under any of the given schemas" (its anyOf of signers)
    echoes the whole step; say what it means."""
    where, _, message = problem.partition(": ")
    if message.endswith("is not valid under any of the given schemas"):
        return (f"{where}: names no signer (keys, certificate-identity or -regexp with "
                "certificate-oidc-issuer, owner or repo)")
    return problem


def _check_names(doc: dict[str, Any]) -> list[str]:
    """Unknown top-level keys, step names and step keys, all at once, each with the closest
    allowed one (the schema alone says "Additional properties ... were unexpected")."""
    from attester.model import schemas

    schema = schemas.load("policy.schema.json")
    top_keys = list(schema["properties"])
    step_keys = list(schema["$defs"]["step"]["properties"])
    problems = [_unknown("key", k, top_keys) for k in doc if k not in top_keys]
    for step, spec in doc["steps"].items():
        if step not in STEP_NAMES:
            problems.append(_unknown("step", step, list(STEP_NAMES)))
        if isinstance(spec, dict):
            problems.extend(f"steps/{step}: " + _unknown("key", k, step_keys)
                            for k in spec if k not in step_keys)
    return problems


def _empty_values(doc: dict[str, Any]) -> list[str]:
    """Every key whose value is an empty string (a template's unset variable): the code
    takes "" for "not given", so `source-digest: ""` or a top-level `source-uri: ""`
    required nothing (redteam: such a policy passed any commit and any repository). As
    the command line's `--source-uri ""`, it is refused. A workflow input may be ""."""
    found: list[str] = []

    def walk(value: Any, where: str) -> None:
        if value == "":
            found.append(f"{where} is empty: give it a value, or leave the key out")
        elif isinstance(value, dict):
            for k, v in value.items():
                if k != "build-workflow-inputs":
                    walk(v, f"{where}/{k}" if where else str(k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}/{i}")

    walk(doc, "")
    return found


def load(path: str) -> PolicyFile:
    from attester.jsonio import parse_yaml, read_bytes
    from attester.verify import checker
    from attester.verify.checks import certpolicy

    raw = read_bytes(path, what="policy")
    try:
        doc = parse_yaml(raw, where=f"policy {path}", kind="YAML or JSON",
                         loader=_unique_keys_loader())
    except _DuplicateKeyError as e:
        raise InputError(f"policy {path}: duplicate key {e.key!r}{e.where}; a policy must "
                         "say each thing once") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), dict) or not doc["steps"]:
        raise InputError(f"policy {path}: names no steps; an empty policy trusts nothing")
    from attester.model import schemas

    # Every problem, not the first: a policy is fixed in one go. Unknown names are said
    # with the closest allowed one; the schema's "Additional properties" would not.
    problems = [*_check_names(doc), *_empty_values(doc), *(_readable(p) for p in schemas.errors(
        doc, "policy.schema.json") if "Additional properties are not allowed" not in p)]
    if problems:
        raise InputError(f"policy {path}: " + "; ".join(problems) + f" (reference: {REFERENCE})")
    base = Path(path).parent
    root = doc.get("trusted-root")
    root_path = str(base / root) if root else None
    trusts: dict[str, Any] = {}
    policies: dict[str, Policy] = {}
    predicate_types: dict[str, tuple[str, ...]] = {}
    for step, spec in doc["steps"].items():
        if step not in STEP_NAMES:
            raise InputError(f"policy {path}: unknown step {step!r} (use {', '.join(STEP_NAMES)})")
        if not isinstance(spec, dict):
            raise InputError(f"policy {path}: step {step} must be a mapping")
        key_paths = spec.get("keys") or []
        identity = certpolicy.identity(
            certificate_identity=spec.get("certificate-identity"),
            certificate_identity_regexp=spec.get("certificate-identity-regexp"),
            issuer=spec.get("certificate-oidc-issuer"),
            **{v: spec[k] for k, v in _IDENTITY_KEYS.items() if k in spec})
        if not key_paths and not identity.given():
            raise InputError(f"policy {path}: step {step} names no signer (keys, "
                             "certificate-identity, owner or repo)")
        trusts[step] = checker.Trust.from_flags(
            [base / k for k in key_paths], identity, labels=[str(k) for k in key_paths],
            trusted_root_path=root_path, offline=True, where=f"policy {path} step {step}")
        from attester.verify.checks import rego

        policies[step] = Policy(
            **{v: spec[k] for k, v in _POLICY_KEYS.items() if k in spec},
            rego=tuple(rego.load(str(base / r)) for r in spec.get("rego") or ()),
            source_digest=identity.extra.source_digest if identity.extra else None,
            workflow_trigger=spec.get("workflow-trigger"),
            workflow_inputs=tuple(sorted((str(k), str(v)) for k, v in
                                         (spec.get("build-workflow-inputs") or {}).items())))
        for rx_key in _REGEX_KEYS:  # compiled only at match time: an "internal error" there,
            pattern = spec.get(rx_key)  # or a signer that silently trusts nothing (red team)
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as e:
                raise InputError(f"policy {path}: step {step}: {rx_key} {pattern!r} is not "
                                 f"a regular expression ({e})") from None
        if spec.get("predicate-types"):
            predicate_types[step] = tuple(spec["predicate-types"])
    return PolicyFile(path=path, sha256=hashlib.sha256(raw).hexdigest(), trusts=trusts,
                      policies=policies, source_uri=doc.get("source-uri"),
                      predicate_types=predicate_types)


def _other_step(report: Any, step: str) -> str:
    """The release step a verified statement's own build type names, when it is not
    ``step`` (empty for this step's, or a build type of no release step)."""
    from attester.release.chain import step_of

    claimed = step_of(report.statement) if report.statement is not None else ""
    return claimed if claimed and claimed != step else ""


def _merge(step_policy: Policy, flags: Policy) -> Policy:
    """The step's policy with the command line's policy flags on top (each flag given
    replaces the step's; Rego policies add up)."""
    given = {f.name: getattr(flags, f.name) for f in attrs.fields(Policy)
             if getattr(flags, f.name) not in (None, ()) and f.name != "rego"}
    return attrs.evolve(step_policy, **given, rego=(*step_policy.rego, *flags.rego))


def verify_one(path: str, pf: PolicyFile, demands: Any, *, trusted_root: str | None = None,
               blob: str | None = None) -> Any:
    """``attest verify ATTESTATION --policy FILE``: the attestation must pass one step of
    the policy: that step's signer, its requirements, one of its predicate types. The
    report says which step; when none passes, the report of a step whose signer signed it
    (its requirement failed), else the first step's."""
    from attester.release.chain import allowed_types
    from attester.verify import checker
    from attester.verify.checks.policy import Check
    from attester.verify.checks.report import Report
    from attester.verify.checks.requirements import UnansweredError

    flag, said = demands.policy.source_uri, pf.source_uri
    if flag and said and normalize_repo(flag) != normalize_repo(said):
        raise UsageError(f"--source-uri {flag} contradicts the policy's source-uri {said}")
    tried: list[Any] = []
    unanswered: list[UnansweredError] = []
    for step, trust in pf.trusts.items():
        if trusted_root:  # the command line's root wins, as for --chain and audit
            trust = attrs.evolve(trust, trusted_root_path=trusted_root, offline=True)
        base = _merge(pf.step_policy(step), demands.policy)
        kinds = [base.predicate_type] if base.predicate_type else \
            list(allowed_types(step, pf.predicate_types))
        for kind in kinds:
            step_demands = attrs.evolve(demands, policy=attrs.evolve(base, predicate_type=kind))
            try:
                report = checker.verify_path(path, trust, step_demands, blob=blob)
            except UnansweredError as e:  # a requirement this form cannot answer: said
                unanswered.append(e)      # (exit 2) when no step could check it at all
                continue
            except UsageError:
                continue  # e.g. a keyed step's trust offered a keyless bundle: not its signer
            if report.lines:  # JSON Lines: a passing line of this step (or no release step)
                line = next((r for r in report.lines if r.ok and not _other_step(r, step)),
                            None)
                report = report if line is None else attrs.evolve(line, lines=report.lines)
            stmt = report.statement
            claims = _other_step(report, step)
            if report.ok and stmt is not None and claims:
                # A release step's own build type says which step it is, and so whose
                # signer it needs, as --chain and audit read it (redteam: a release
                # attestation signed with the stage key passed as "stage", exit 0)
                report = attrs.evolve(report, checks=(Check(
                    "policy step", False, f"{step} of {pf.path}: is a {claims} attestation "
                    f"({stmt.build_type()}); the {step} signer cannot vouch for "
                    f"a {claims} step"), *report.checks))
                tried.append(report)
                continue
            named = Check("policy step", report.ok, f"{step} of {pf.path}" if report.ok else
                          f"{step} of {pf.path}: does not pass")
            report = attrs.evolve(report, checks=(named, *report.checks))
            if report.ok:
                return report
            tried.append(report)
    signed = [r for r in tried if any(c.name == "signature" and c.ok for c in r.checks)]
    if signed:
        return signed[0]
    if tried:
        return tried[0]
    if unanswered:  # never "no signer" (exit 1) for what could not be checked (redteam)
        raise unanswered[0]
    return Report(attestation=path, checks=(Check("policy", False, f"no step of {pf.path} "
                                                  "names a signer that can verify it"),))
