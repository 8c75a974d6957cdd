"""Check: everything after the signature, as an ordered list of explicit checks.

Order matters and each stage gates the next: payload type -> statement -> predicate type
-> predicate shape -> policy (and the certificate <-> provenance cross-check, Rego, VSA)
-> artifacts. Every path that authenticated a signature hands the verified payload to
:func:`check_payload`. Everything fails closed: an empty policy, an unknown predicate
type or a subject without a digest is a failure, never a pass.
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
