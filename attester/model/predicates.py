"""Pure functions from a :class:`BuildRecord` to SLSA provenance predicates."""

from __future__ import annotations

from typing import Any

from attester.model.models import (
    SLSA_PROVENANCE_V02,
    SLSA_PROVENANCE_V1,
    BuildRecord,
    Statement,
    rfc3339,
)


def slsa_v1(record: BuildRecord) -> dict[str, Any]:
    """SLSA Provenance v1.0 (https://slsa.dev/spec/v1.0/provenance)."""
    build_definition: dict[str, Any] = {
        "buildType": record.build_type,
        "externalParameters": dict(record.external_parameters),
    }
    if record.internal_parameters:
        build_definition["internalParameters"] = dict(record.internal_parameters)
    if record.resolved_dependencies:
        build_definition["resolvedDependencies"] = [
            d.to_json() for d in record.resolved_dependencies
        ]
    builder: dict[str, Any] = {"id": record.builder_id}
    if record.builder_version:
        builder["version"] = dict(record.builder_version)
    metadata: dict[str, Any] = {}
    if record.invocation_id:
        metadata["invocationId"] = record.invocation_id
    if record.started_on:
        metadata["startedOn"] = rfc3339(record.started_on)
    if record.finished_on:
        metadata["finishedOn"] = rfc3339(record.finished_on)
    run_details: dict[str, Any] = {"builder": builder}
    if metadata:
        run_details["metadata"] = metadata
    if record.byproducts:
        run_details["byproducts"] = [b.to_json() for b in record.byproducts]
    return {"buildDefinition": build_definition, "runDetails": run_details}


def slsa_v02(record: BuildRecord) -> dict[str, Any]:
    """SLSA Provenance v0.2, for consumers that have not moved to v1."""
    invocation: dict[str, Any] = {}
    if record.config_source is not None:
        cs: dict[str, Any] = {"uri": record.config_source.uri}
        if record.config_source.digest:
            cs["digest"] = dict(record.config_source.digest)
        if record.entry_point:
            cs["entryPoint"] = record.entry_point
        invocation["configSource"] = cs
    invocation["parameters"] = dict(record.external_parameters)
    if record.internal_parameters:
        invocation["environment"] = dict(record.internal_parameters)
    metadata: dict[str, Any] = {
        "completeness": {"parameters": True, "environment": False, "materials": False},
        "reproducible": False,
    }
    if record.invocation_id:
        metadata["buildInvocationId"] = record.invocation_id
    if record.started_on:
        metadata["buildStartedOn"] = rfc3339(record.started_on)
    if record.finished_on:
        metadata["buildFinishedOn"] = rfc3339(record.finished_on)
    materials = []
    for dep in record.resolved_dependencies:
        m: dict[str, Any] = {"uri": dep.uri or dep.name}
        if dep.digest:
            m["digest"] = dict(dep.digest)
        materials.append(m)
    out: dict[str, Any] = {
        "builder": {"id": record.builder_id},
        "buildType": record.build_type,
        "invocation": invocation,
        "metadata": metadata,
    }
    if materials:
        out["materials"] = materials
    return out


PREDICATE_BUILDERS = {"1.0": (SLSA_PROVENANCE_V1, slsa_v1), "0.2": (SLSA_PROVENANCE_V02, slsa_v02)}


def statement_for(record: BuildRecord, slsa_version: str = "1.0") -> Statement:
    """The in-toto Statement for a build, with the chosen SLSA predicate version."""
    predicate_type, build = PREDICATE_BUILDERS[slsa_version]
    return Statement(
        subjects=record.subjects, predicate_type=predicate_type, predicate=build(record)
    )
