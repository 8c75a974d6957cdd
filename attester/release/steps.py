"""The release steps attester defines build types for: stage, release and promotion.

Each wraps what a watcher saw of the build (kept whole, under ``build``) and adds what
the step means, so that a verifier can follow an artifact from the file a user
downloads or the image a user pulls back to the source commit. URIs are stable and
documented in README and ``schemas/``.
"""

from __future__ import annotations

from typing import Any

import attrs

from attester.model.models import BuildRecord

BUILD_TYPE_STAGE = "https://attester.dev/buildtypes/stage/v1"
BUILD_TYPE_RELEASE = "https://attester.dev/buildtypes/release/v1"
BUILD_TYPE_PROMOTION = "https://attester.dev/buildtypes/promotion/v1"
PROMO_TOOLS_PREDICATE = "https://k8s.io/promo-tools/promotion/v1"
STEP_OF_BUILD_TYPE = {BUILD_TYPE_STAGE: "stage", BUILD_TYPE_RELEASE: "release",
                      BUILD_TYPE_PROMOTION: "promotion"}


def as_step(record: BuildRecord, step: str, *, release_version: str | None,
            build_version: str | None, locations: list[str]) -> BuildRecord:
    """The record re-typed as a release step; the original build is kept verbatim."""
    build_type = {"stage": BUILD_TYPE_STAGE, "release": BUILD_TYPE_RELEASE}[step]
    params: dict[str, Any] = {"step": step}
    if release_version:
        params["releaseVersion"] = release_version
    if build_version:
        params["buildVersion"] = build_version
    params["stageLocation" if step == "stage" else "releaseLocation"] = locations
    external = {"release": params, "build": {"buildType": record.build_type,
                                             "externalParameters":
                                                 dict(record.external_parameters)}}
    return attrs.evolve(record, build_type=build_type, external_parameters=external)
