"""Value objects for what we produce: in-toto Statement v1 and SLSA provenance.

These are for *producing* documents, so they are strict: a subject without a digest
cannot be built. Verification parses incoming JSON leniently (see
:mod:`attester.model.statement`) and never round-trips it through these classes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
SLSA_PROVENANCE_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_PROVENANCE_V01 = "https://slsa.dev/provenance/v0.1"

#: Build types this project defines. Stable URIs; documented in README and schemas/.
BUILD_TYPE_LOCAL = "https://attester.dev/buildtypes/local/v1"
#: Builder id recorded by ``local://`` unless ``--builder-id`` says otherwise.
DEFAULT_LOCAL_BUILDER_ID = "https://attester.dev/builders/local/v1"


def rfc3339(when: dt.datetime) -> str:
    """UTC, second precision, ``Z`` suffix: the form SLSA examples and GitHub use."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest_set(value: Mapping[str, str]) -> Mapping[str, str]:
    return dict(sorted(value.items()))


@attrs.frozen
class ResourceDescriptor:
    """in-toto ResourceDescriptor: at least one of name, uri, digest."""

    name: str = ""
    uri: str = ""
    digest: Mapping[str, str] = attrs.field(factory=dict, converter=_digest_set)
    annotations: Mapping[str, Any] = attrs.field(factory=dict)
    media_type: str = ""
    download_location: str = ""

    def __attrs_post_init__(self) -> None:
        if not (self.name or self.uri or self.digest):
            raise ValueError("a resource descriptor needs a name, uri or digest")
        for alg, value in self.digest.items():
            if not alg or not value:
                raise ValueError(f"empty digest entry in {self.name or self.uri}")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.uri:
            out["uri"] = self.uri
        if self.digest:
            out["digest"] = dict(self.digest)
        if self.media_type:
            out["mediaType"] = self.media_type
        if self.download_location:
            out["downloadLocation"] = self.download_location
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@attrs.frozen
class Statement:
    """in-toto Statement v1. Every subject must carry a digest."""

    subjects: tuple[ResourceDescriptor, ...]
    predicate_type: str
    predicate: Mapping[str, Any]

    def __attrs_post_init__(self) -> None:
        if not self.subjects:
            raise ValueError("a statement needs at least one subject")
        for s in self.subjects:
            if not s.digest:
                raise ValueError(f"subject {s.name or s.uri!r} has no digest")
        if not self.predicate_type:
            raise ValueError("a statement needs a predicate type")

    def to_json(self) -> dict[str, Any]:
        return {
            "_type": STATEMENT_V1,
            "subject": [s.to_json() for s in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": dict(self.predicate),
        }


@attrs.frozen
class BuildRecord:
    """What a watcher saw of one build, before any format is chosen.

    Plain data: the predicate builders in :mod:`attester.model.predicates` are pure
    functions of this, so every format is testable without network.
    """

    builder_id: str
    build_type: str
    external_parameters: Mapping[str, Any]
    subjects: tuple[ResourceDescriptor, ...] = ()
    internal_parameters: Mapping[str, Any] = attrs.field(factory=dict)
    resolved_dependencies: tuple[ResourceDescriptor, ...] = ()
    byproducts: tuple[ResourceDescriptor, ...] = ()
    builder_version: Mapping[str, str] = attrs.field(factory=dict)
    invocation_id: str = ""
    started_on: dt.datetime | None = None
    finished_on: dt.datetime | None = None
    #: For SLSA v0.2's ``invocation.configSource``: where the build definition came from.
    config_source: ResourceDescriptor | None = None
    entry_point: str = ""

    def with_subjects(self, subjects: tuple[ResourceDescriptor, ...]) -> BuildRecord:
        return attrs.evolve(self, subjects=subjects)

    def with_dependencies(self, extra: tuple[ResourceDescriptor, ...]) -> BuildRecord:
        return attrs.evolve(self, resolved_dependencies=self.resolved_dependencies + extra)
