"""Statements read through the in-toto-attestation package's own v1 types.

Our JSON Schemas (schemas/) say what attester writes; the reference implementation's
protobuf types say what the in-toto ecosystem can read. A statement must satisfy both, at
sign time (strictly: no field the types do not know) and at verify time (leniently: the
spec lets producers add fields, but every known field must have its type's shape).
"""

from __future__ import annotations

from typing import Any

from attester.model.models import SLSA_PROVENANCE_V1, STATEMENT_V1


def statement_problem(doc: dict[str, Any], *, strict: bool) -> str | None:
    """Why the package's v1 types refuse ``doc``, or None. Statements of other ``_type``s
    (v0.1) have no types in the package and are left to our schemas."""
    if doc.get("_type") != STATEMENT_V1:
        return None
    from google.protobuf import json_format
    from in_toto_attestation.v1.statement import Statement
    from in_toto_attestation.v1.statement_pb2 import Statement as StatementPB

    if doc.get("predicate") in (None, {}):
        # The v1 spec makes the predicate optional ("predicate: object, OPTIONAL"), and PyPI's
        # publish attestations (PEP 740) and actions/attest@v1 write null; the package's
        # Statement.validate() still demands one. Judge the rest without it: validate()
        # checks the predicate last, so its "Predicate object required" is then its only
        # possible complaint about an otherwise valid statement.
        doc = {k: v for k, v in doc.items() if k != "predicate"}
        optional = True
    else:
        optional = False
    subjects = doc.get("subject")
    if isinstance(subjects, list) and len(subjects) > 1:
        doc = {**doc, "subject": _one_per_shape(subjects)}
    try:
        pb = json_format.ParseDict(doc, StatementPB(), ignore_unknown_fields=not strict)
        stmt = Statement.copy_from_pb(pb)
        try:
            stmt.validate()
        except ValueError as e:
            if not (optional and str(e) == _PREDICATE_REQUIRED):
                raise
        if doc.get("predicateType") == SLSA_PROVENANCE_V1:
            from in_toto_attestation.predicates.provenance.v1 import provenance_pb2

            json_format.ParseDict(doc.get("predicate"), provenance_pb2.Provenance(),
                                  ignore_unknown_fields=not strict)
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as e:
        return _one_line(e)
    return None


#: Statement.validate()'s complaint about a missing predicate, which the spec does not make.
_PREDICATE_REQUIRED = "Predicate object required"


def _shape(value: Any) -> Any:
    """What the types' verdict on a subject depends on: its keys and JSON types, and for
    strings only whether they are empty (an empty name counts as unset). ``content`` is
    base64, so its value matters and is kept."""
    if isinstance(value, dict):
        return tuple(sorted((k, value[k] if k == "content" else _shape(value[k]))
                            for k in value))
    if isinstance(value, list):
        return ("list", tuple(_shape(v) for v in value))
    if isinstance(value, str):
        return "str" if value else ""
    return type(value).__name__


def _common_shape(s: Any) -> Any:
    """The shape of ``{"name": "...", "digest": {"ALG": "HEX", ...}}`` (nearly every
    subject), found without walking it; None for any other."""
    if type(s) is dict and len(s) == 2:
        name, digest = s.get("name"), s.get("digest")
        if type(name) is str and type(digest) is dict and \
                all(type(v) is str and v for v in digest.values()):
            return ("name+digest", bool(name), tuple(sorted(digest)))
    return None


def _one_per_shape(subjects: list[Any]) -> list[Any]:
    """The subjects the types would judge differently: one of each shape. json_format is
    pure Python (~20 µs a subject), and a release statement has 10,000 subjects of one
    shape: parsing each would cost verify more than hashing the files does. The verdict
    is the same, since parsing and Statement.validate() look at shapes only."""
    seen: dict[Any, Any] = {}
    for s in subjects:
        try:
            seen.setdefault(_common_shape(s) or _shape(s), s)
        except TypeError:  # a non-string content is unhashable: then judge every subject
            return subjects
    return list(seen.values())


def _one_line(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:297] + "..."
