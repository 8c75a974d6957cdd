"""``env://``: the build we are running inside, detected from the CI environment.

Each detector returns ``None`` when its CI is absent and raises a precise error when
its CI is present but the environment is inconsistent (the ``id`` package's habit).

- GitHub Actions (``GITHUB_ACTIONS=true``): everything GitHub's own provenance takes
  from the OIDC token is also in ``GITHUB_*`` variables, so no network is needed. The
  one difference: the builder id uses ``GITHUB_WORKFLOW_REF`` (the top-level workflow),
  since ``job_workflow_ref`` of a reusable workflow is only in the token.
- Cloud Build: steps do not see the build id unless the step passes it, as
  ``env: ['BUILD_ID=$BUILD_ID', 'PROJECT_ID=$PROJECT_ID', 'LOCATION=$LOCATION']``.
  The rest (step images, source) is read through the API with the build's own
  credentials; the build is still running, so ``finishedOn`` is now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from attester.errors import InputError, UsageError
from attester.model.models import BuildRecord
from attester.watchers.cloudbuild import CloudBuildWatcher
from attester.watchers.github import github_record

GITHUB_REQUIRED = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_REPOSITORY_ID",
                   "GITHUB_REPOSITORY_OWNER_ID", "GITHUB_REF", "GITHUB_SHA",
                   "GITHUB_WORKFLOW_REF", "GITHUB_EVENT_NAME", "GITHUB_RUN_ID",
                   "GITHUB_RUN_ATTEMPT", "RUNNER_ENVIRONMENT")


def detect_github(env: Mapping[str, str], now: dt.datetime) -> BuildRecord | None:
    if env.get("GITHUB_ACTIONS") != "true":
        return None
    missing = [k for k in GITHUB_REQUIRED if not env.get(k)]
    if missing:
        raise InputError(f"env://: GITHUB_ACTIONS=true but {', '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} not set")
    repo = env["GITHUB_REPOSITORY"]
    workflow_ref = env["GITHUB_WORKFLOW_REF"]
    if not workflow_ref.startswith(repo + "/") or "@" not in workflow_ref:
        raise InputError(f"env://: GITHUB_WORKFLOW_REF={workflow_ref!r} is not a workflow of "
                         f"GITHUB_REPOSITORY={repo!r}")
    path = workflow_ref[len(repo) + 1:].split("@", 1)[0]
    return github_record(
        server=env["GITHUB_SERVER_URL"].rstrip("/"), repository=repo, ref=env["GITHUB_REF"],
        sha=env["GITHUB_SHA"], workflow_path=path, event=env["GITHUB_EVENT_NAME"],
        repository_id=env["GITHUB_REPOSITORY_ID"],
        owner_id=env["GITHUB_REPOSITORY_OWNER_ID"], runner_env=env["RUNNER_ENVIRONMENT"],
        run_id=env["GITHUB_RUN_ID"], attempt=env["GITHUB_RUN_ATTEMPT"],
        builder_ref=workflow_ref, finished=now,
    )


def detect_cloudbuild(env: Mapping[str, str], now: dt.datetime,
                      options: Mapping[str, Any]) -> BuildRecord | None:
    build_id, project = env.get("BUILD_ID"), env.get("PROJECT_ID")
    if not build_id and not project:
        return None
    if not (build_id and project):
        have, lack = ("BUILD_ID", "PROJECT_ID") if build_id else ("PROJECT_ID", "BUILD_ID")
        raise InputError(f"env://: {have} is set but {lack} is not; pass both to the step "
                         "(env: ['BUILD_ID=$BUILD_ID', 'PROJECT_ID=$PROJECT_ID'])")
    opts = {k: v for k, v in options.items() if k in ("allow_failed", "read_manifest")}
    watcher = CloudBuildWatcher(project=project, build_id=build_id,
                                location=env.get("LOCATION") or "global", allow_running=True,
                                **opts)
    return watcher.record(now=now)


@attrs.frozen
class EnvWatcher:
    env: Mapping[str, str]
    options: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> EnvWatcher:
        import os

        if uri.rstrip("/") != "env:":
            raise UsageError(f"{uri!r}: env:// takes no path")
        return cls(env=dict(os.environ), options=options)

    def record(self, *, now: dt.datetime) -> BuildRecord:
        detectors: list[Callable[[], BuildRecord | None]] = [
            lambda: detect_github(self.env, now),
            lambda: detect_cloudbuild(self.env, now, self.options),
        ]
        for detect in detectors:
            record = detect()
            if record is not None:
                return record
        raise InputError("env://: not running in a supported CI (looked for GitHub Actions: "
                         "GITHUB_ACTIONS=true; Cloud Build: BUILD_ID and PROJECT_ID)")

    def default_artifacts(self) -> list[str]:
        return []
