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

    try:
        pb = json_format.ParseDict(doc, StatementPB(), ignore_unknown_fields=not strict)
        Statement.copy_from_pb(pb).validate()
        if doc.get("predicateType") == SLSA_PROVENANCE_V1:
            from in_toto_attestation.predicates.provenance.v1 import provenance_pb2

            json_format.ParseDict(doc.get("predicate"), provenance_pb2.Provenance(),
                                  ignore_unknown_fields=not strict)
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as e:
        return _one_line(e)
    return None


def _one_line(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:297] + "..."
