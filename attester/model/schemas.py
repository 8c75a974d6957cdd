"""JSON Schemas for every document attester writes (the files in ``schemas/``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from attester.errors import InputError
from attester.model.models import (
    BUILD_TYPE_LOCAL,
    SLSA_PROVENANCE_V01,
    SLSA_PROVENANCE_V02,
    SLSA_PROVENANCE_V1,
    STATEMENT_V01,
)

PREDICATE_SCHEMAS = {
    SLSA_PROVENANCE_V1: "slsa-provenance-v1.schema.json",
    SLSA_PROVENANCE_V02: "slsa-provenance-v0.2.schema.json",
    SLSA_PROVENANCE_V01: "slsa-provenance-v0.1.schema.json",
    "https://slsa.dev/verification_summary/v1": "vsa-v1.schema.json",
    "https://k8s.io/promo-tools/promotion/v1": "promo-tools-promotion-v1.schema.json",
}
#: Build types this project defines: their buildDefinition is checked too.
BUILD_TYPE_SCHEMAS = {
    BUILD_TYPE_LOCAL: "buildtype-local-v1.schema.json",
    "https://attester.dev/buildtypes/stage/v1": "buildtype-stage-v1.schema.json",
    "https://attester.dev/buildtypes/release/v1": "buildtype-release-v1.schema.json",
    "https://attester.dev/buildtypes/promotion/v1": "buildtype-promotion-v1.schema.json",
}


def schema_dir() -> Path:
    """Installed wheels carry the schemas inside the package; a checkout has them at the top."""
    here = Path(__file__).resolve().parent.parent  # attester/
    for candidate in (here / "_schemas", here.parent / "schemas"):
        if candidate.is_dir():
            return candidate
    raise InputError("attester's schemas/ folder is missing from this installation")


@functools.cache
def load(name: str) -> dict[str, Any]:
    with (schema_dir() / name).open(encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema


@functools.cache
def _registry() -> Any:
    """Every schema under its ``$id``, so relative ``$ref``s between them resolve offline."""
    from referencing import Registry, Resource

    resources = []
    for path in sorted(schema_dir().glob("*.json")):
        resource = Resource.from_contents(load(path.name))
        resources.append((resource.id() or path.name, resource))
    return Registry().with_resources(resources)


def errors(doc: Any, name: str) -> list[str]:
    """Every violation of schema ``name`` in ``doc``, as 'path: message' lines."""
    import jsonschema  # imported here: only sign and tests validate, not the hashing path

    validator = jsonschema.Draft202012Validator(load(name), registry=_registry())
    out = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in err.absolute_path) or "(root)"
        out.append(f"{path}: {err.message}")
    return out


def validate(doc: Any, name: str, *, where: str) -> None:
    problems = errors(doc, name)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"{where}: does not match {name}: {problems[0]}{more}")


def validate_statement(doc: Any, *, where: str) -> None:
    """Our Statement schema, plus the predicate's own schema when we know it."""
    legacy = doc.get("_type") == STATEMENT_V01
    validate(doc, "in-toto-statement-v0.1.schema.json" if legacy else
             "in-toto-statement-v1.schema.json", where=where)
    schema = PREDICATE_SCHEMAS.get(doc.get("predicateType", ""))
    predicate = doc.get("predicate")  # optional in v1: SLSA's schemas refuse its absence
    if schema:
        validate(predicate, schema, where=f"{where}: predicate")
    build = predicate.get("buildDefinition") if isinstance(predicate, dict) else None
    if isinstance(build, dict) and build.get("buildType") in BUILD_TYPE_SCHEMAS:
        validate(build, BUILD_TYPE_SCHEMAS[build["buildType"]],
                 where=f"{where}: buildDefinition")
    from attester.model.intoto_types import statement_problem

    problem = statement_problem(doc, strict=True)
    if problem is not None:
        raise InputError(f"{where}: the in-toto-attestation package's v1 types refuse it: "
                         f"{problem}")
