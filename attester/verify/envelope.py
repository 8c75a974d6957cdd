"""Verification of a signed attestation, as an ordered list of explicit checks.

Order matters and each stage gates the next: signature over the exact payload bytes
-> payload type -> statement -> predicate type -> policy -> artifacts. Everything
fails closed: no trusted key, an empty policy, an unknown predicate type or a
subject without a digest is a failure, never a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from attester.errors import InputError, UsageError
from attester.jsonio import parse_json
from attester.model import intoto_types
from attester.model.models import SLSA_PROVENANCE_V01, SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1
from attester.model.statement import (
    KNOWN_PREDICATE_TYPES,
    KNOWN_STATEMENT_TYPES,
    PROVENANCE_TYPES,
    ParsedStatement,
    Subject,
)
from attester.model.subjects import ambiguous
from attester.signing import keys
from attester.signing.dsse import IN_TOTO_PAYLOAD_TYPE, Envelope
from attester.verify.checks import vsapolicy
from attester.verify.checks.policy import (
    Artifact,
    Check,
    Policy,
    algorithms_for,
    check_policy,
    check_store,
    match_artifact,
)


@attrs.frozen
class TrustedKey:
    label: str
    key: keys.PublicKey = attrs.field(repr=False)

    @property
    def keyid(self) -> str:
        return keys.keyid(self.key)


@attrs.frozen
class Report:
    attestation: str
    checks: tuple[Check, ...]
    statement: ParsedStatement | None = None
    #: JSON Lines: every line's own report (this report is the one that passed, if any)
    lines: tuple[Report, ...] = ()
    #: what was present but not checked, and why (shown, never counted as a check)
    notes: tuple[str, ...] = ()
    #: the document verified: (where, sha256 hex of the very bytes verified), digested
    #: once where they were read, so a summary written after (--vsa-out) names them (a
    #: second read of stdin recorded the digest of nothing)
    inputs: tuple[tuple[str, str], ...] = ()
    #: who signed the statement (a signer.Signer), as the signature check established it
    signer: Any = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def _signed_at(self) -> dict[str, str]:
        """When the log or a timestamp authority says it was signed, as the signature check
        verified it (its detail is the one place that time is stated)."""
        import re

        for c in self.checks:
            m = re.search(r"(logged in Rekor|timestamped) at (\d{4}-\d\d-\d\dT[\d:]+Z)",
                          c.detail)
            if c.ok and m:
                source = "transparency log" if m[1] == "logged in Rekor" else \
                    "timestamp authority"
                return {"signedAt": m[2], "timeSource": source}
        return {}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attestation": self.attestation,
            "verified": self.ok,
            "checks": [c.to_json() for c in self.checks],
        }
        if self.statement is not None:
            out["predicateType"] = self.statement.predicate_type
            out["subjects"] = len(self.statement.raw_subjects())
        if self.ok and self.statement is not None:  # only what verified, as gh prints it
            out["statement"] = dict(self.statement.raw)
            if self.signer is not None:
                out["signer"] = {**self.signer.to_json(), **self._signed_at()}
        if self.notes:
            out["notes"] = list(self.notes)
        if self.lines:
            out["lines"] = [dict(r.to_json(), line=n) for n, r in enumerate(self.lines, 1)]
        return out


def signed_by(env: Envelope, trusted: Sequence[TrustedKey]) -> list[TrustedKey]:
    """The distinct trusted keys with a valid signature over PAE(type, exact payload)."""
    message = env.pae()
    distinct = {tk.keyid: tk for tk in trusted}  # the same key named twice counts once
    return [tk for tk in distinct.values()
            if any(keys.verify(tk.key, s.sig, message) for s in env.signatures)]


def check_signatures(env: Envelope, trusted: Sequence[TrustedKey], threshold: int,
                     signers: Sequence[TrustedKey] | None = None) -> Check:
    """At least ``threshold`` distinct trusted keys signed PAE(type, exact payload)
    (``signers``: those :func:`signed_by` found, when already computed)."""
    if not env.signatures:
        return Check("signature", False, "envelope has no signatures")
    signed = [tk.label for tk in (signed_by(env, trusted) if signers is None else signers)]
    if len(signed) >= threshold:
        return Check("signature", True, f"signed by {', '.join(signed)}"
                     + (f" ({len(signed)} of threshold {threshold})" if threshold > 1 else ""))
    if not signed:
        return Check("signature", False,
                     f"no valid signature by a trusted key ({len(env.signatures)} signature(s) "
                     f"checked against {len(trusted)} key(s); payload or signature altered, "
                     "or signed by another key)")
    return Check("signature", False, f"only {len(signed)} trusted key(s) signed "
                 f"({', '.join(signed)}), threshold is {threshold}")


def check_statement(env: Envelope, policy: Policy, *, also_known: Sequence[str] = ()
                    ) -> tuple[list[Check], ParsedStatement | None]:
    """``also_known``: predicate types accepted without --predicate-type besides
    :data:`KNOWN_PREDICATE_TYPES` (a PEP 740 attestation's: PyPI's publish type)."""
    checks: list[Check] = []
    if env.payload_type != IN_TOTO_PAYLOAD_TYPE:
        checks.append(Check("payload-type", False, f"payloadType is {env.payload_type!r}, "
                            f"expected {IN_TOTO_PAYLOAD_TYPE!r}"))
        return checks, None
    checks.append(Check("payload-type", True, env.payload_type))
    try:
        doc = parse_json(env.payload, where="payload")
    except InputError as e:
        checks.append(Check("statement", False, e.message))
        return checks, None
    if not isinstance(doc, dict):
        checks.append(Check("statement", False, "payload is not a JSON object"))
        return checks, None
    stmt = ParsedStatement(doc)
    if stmt.type not in KNOWN_STATEMENT_TYPES:
        checks.append(Check("statement", False, f"_type is {stmt.type or 'missing'!r}, expected "
                            f"{' or '.join(KNOWN_STATEMENT_TYPES)}"))
        return checks, None
    raw = stmt.raw_subjects()
    subjects = stmt.subjects()
    if not raw:
        checks.append(Check("statement", False, "statement has no subjects"))
        return checks, None
    for i, s in enumerate(subjects):
        if not s.digest or len(subjects) != len(raw):
            checks.append(Check("statement", False,
                                f"subject {i} ({s.name or 'unnamed'}) has no digest"))
            return checks, None
    twice = ambiguous([(s.name, s.digest) for s in subjects])
    if twice is not None:  # verify would accept either file, the chain keep one of them
        checks.append(Check("statement", False, twice))
        return checks, None
    checks.append(Check("statement", True, f"{stmt.type} with {len(subjects)} subject(s)"))
    want = policy.predicate_type
    got = stmt.predicate_type
    if want is not None:
        ok = got == want
        detail = got if ok else f"predicateType is {got or 'missing'!r}, policy wants {want!r}"
    else:
        ok = got in KNOWN_PREDICATE_TYPES or got in also_known
        detail = got if ok else (f"unknown predicateType {got or 'missing'!r}; "
                                 "pass --predicate-type to accept it explicitly")
    checks.append(Check("predicate-type", ok, detail))
    if ok and got in PROVENANCE_TYPES:
        shape = check_predicate_shape(stmt)
        checks.append(shape)
        ok = shape.ok
    if ok and vsapolicy.is_vsa(got):  # every VSA version, however --predicate-type named it
        result = vsapolicy.result_check(stmt.predicate)
        checks.append(result)
        ok = result.ok
    if ok:
        problem = intoto_types.statement_problem(doc, strict=False)
        if problem is not None:
            checks.append(Check("in-toto-types", False, "the in-toto-attestation package's v1 "
                                f"types refuse the statement: {problem}"))
            ok = False
    return checks, (stmt if ok else None)


def _obj(required: Sequence[str] = (), **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": props}


_STR: dict[str, Any] = {"type": "string"}
_LIST_OF_OBJECTS: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
#: The core of each SLSA provenance type: what verification reads, with its JSON types.
#: Not the full schemas in schemas/ (which sign checks): real producers (GCB, sigstore's
#: test data) omit fields the spec calls required, and verify must read their provenance.
PREDICATE_SHAPES: dict[str, dict[str, Any]] = {
    SLSA_PROVENANCE_V1: _obj(
        ["buildDefinition", "runDetails"],
        buildDefinition=_obj(["buildType"], buildType=_STR,
                             externalParameters={"type": "object"},
                             resolvedDependencies=_LIST_OF_OBJECTS),
        runDetails=_obj(["builder"], builder=_obj(["id"], id=_STR))),
    SLSA_PROVENANCE_V02: _obj(
        ["builder", "buildType"], builder=_obj(["id"], id=_STR), buildType=_STR,
        invocation={"type": "object"}, materials=_LIST_OF_OBJECTS),
    SLSA_PROVENANCE_V01: _obj(
        ["builder"], builder=_obj(["id"], id=_STR), recipe=_obj(type=_STR),
        materials=_LIST_OF_OBJECTS),
}


def check_predicate_shape(stmt: ParsedStatement) -> Check:
    """A SLSA provenance predicate must have its type's shape: a string, or an object
    whose builder or build type is missing or of the wrong JSON type, is refused."""
    import jsonschema

    raw = stmt.raw.get("predicate")
    if not isinstance(raw, dict):
        kind = "missing" if raw is None else f"a JSON {type(raw).__name__}"
        return Check("predicate", False, f"predicate is {kind}, not an object, under "
                     f"{stmt.predicate_type}")
    validator = jsonschema.Draft202012Validator(PREDICATE_SHAPES[stmt.predicate_type])
    problems = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if problems:
        path = "/".join(str(p) for p in problems[0].absolute_path) or "(root)"
        return Check("predicate", False, f"predicate is not SLSA provenance of its type: "
                     f"{path}: {problems[0].message}")
    return Check("predicate", True, f"has the shape of {stmt.predicate_type}")


ArtifactHasher = Callable[[Sequence[str], tuple[str, ...]], list[Artifact]]
StoreHasher = Callable[[str, tuple[str, ...]], list[Artifact]]


@attrs.frozen
class Demands:
    """What the verifier must check beyond the signature."""

    policy: Policy
    artifacts: Sequence[str] = ()
    stores: Sequence[str] = ()
    require_complete: bool = False
    hash_artifacts: ArtifactHasher | None = attrs.field(default=None, eq=False)
    hash_store: StoreHasher | None = attrs.field(default=None, eq=False)
    #: predicate types this kind of document may carry without --predicate-type
    also_known: tuple[str, ...] = ()
    #: The caller matches the verified subjects against artifacts itself (``verify
    #: --attestations``: which artifacts an attestation covers is known only from them).
    subjects_checked_by_caller: bool = False
    #: The exact certificate identity the user pinned (--certificate-identity), if any:
    #: the cross-check lets such a signer attest other builds (crosscheck._dedicated_signer)
    pinned_identity: str | None = None
    #: who asks the policy's requirements, for their messages ("policy step stage"; the
    #: command line when empty)
    asked_by: str = ""

    def is_empty(self) -> bool:
        return (self.policy.is_empty() and not self.artifacts and not self.stores
                and not self.subjects_checked_by_caller)


#: Policy fields that exist only in policy files, not as ``attest verify`` flags.
_FILE_ONLY = ("source_ref_pattern",)
#: Policy fields whose flag is not simply the field's name.
_FLAG_OF = {"workflow_inputs": "--build-workflow-input", "verified_levels": "--verified-level"}


def policy_flags() -> list[str]:
    """Every ``attest verify`` flag that makes a policy, derived from :class:`Policy` so a
    new policy field is listed as soon as it exists."""
    return ["--artifact", "--digest", "--artifacts"] + [
        _FLAG_OF.get(f.name, f"--{f.name.replace('_', '-')}") for f in attrs.fields(Policy)
        if f.name not in _FILE_ONLY]


def empty_policy_error() -> UsageError:
    """An empty policy is a usage problem: there is nothing to trust the signature *for*.
    The same error (exit 2) for every document form: envelope, bundle, signed file."""
    return UsageError("empty policy: nothing to verify the signature for",
                      hint="give at least one of " + ", ".join(policy_flags()))


def check_payload(payload_type: str, payload: bytes, demands: Demands, signer: Any = None
                  ) -> tuple[list[Check], ParsedStatement | None]:
    """Everything after the signature: statement, predicate type, policy, artifacts.

    Every path that verifies a signature hands the verified payload here, with ``signer``
    (a signer.Signer: who the signature check says signed). So the certificate <->
    provenance cross-check and Rego policies run on every path, on verified bytes only."""
    env = Envelope(payload_type=payload_type, payload=payload)
    checks, stmt = check_statement(env, demands.policy, also_known=demands.also_known)
    if stmt is None:
        return checks, None
    if signer is not None and signer.kind == "certificate":
        from attester.verify.checks.crosscheck import cross_check

        checks.extend(cross_check(stmt, signer, pinned=demands.pinned_identity))
    checks.extend(check_policy(stmt, demands.policy, signer))
    subjects: list[Subject] = stmt.subjects()
    if demands.artifacts:
        assert demands.hash_artifacts is not None  # noqa: S101 - wiring, not input
        for art in demands.hash_artifacts(demands.artifacts, algorithms_for(subjects)):
            checks.append(match_artifact(subjects, art))
    for uri in demands.stores:
        assert demands.hash_store is not None  # noqa: S101 - wiring, not input
        found = demands.hash_store(uri, algorithms_for(subjects))
        checks.extend(check_store(subjects, uri, found,
                                  require_complete=demands.require_complete))
    return checks, stmt


def verify_envelope(env: Envelope, *, where: str, trusted: Sequence[TrustedKey],
                    threshold: int, demands: Demands) -> Report:
    """A keyed DSSE envelope: run every check in order; stop at the first stage that fails."""
    if demands.is_empty():
        raise empty_policy_error()
    from attester.verify.checks.signer import from_keys

    signers = signed_by(env, trusted) if env.signatures else []
    sig = check_signatures(env, trusted, threshold, signers)
    if not sig.ok:
        return Report(attestation=where, checks=(sig,))
    who = from_keys([tk.keyid for tk in signers], [tk.label for tk in signers])
    rest, stmt = check_payload(env.payload_type, env.payload, demands, who)
    return Report(attestation=where, checks=(sig, *rest), statement=stmt, signer=who)
