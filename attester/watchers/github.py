"""``github://OWNER/REPO/RUN_ID[/ATTEMPT]``: a GitHub Actions workflow run, from the REST API.

Produces GitHub's own workflow build type (https://actions.github.io/buildtypes/workflow/v1)
field by field as ``actions/attest-build-provenance`` does, so policies written for
``gh attestation verify`` read ours the same way. The REST run object lacks two things
the OIDC token has: the full ref (rebuilt from ``head_branch`` and the event) and
``runner_environment`` (read from the jobs' runner group: "GitHub Actions" means
github-hosted). Both are documented in README.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs

from attester.clients import githubapi
from attester.errors import InputError, UsageError
from attester.model.models import BuildRecord, ResourceDescriptor
from attester.watchers.interface import wait_until_finished

BUILD_TYPE_GITHUB = "https://actions.github.io/buildtypes/workflow/v1"
_URI = re.compile(r"^github://(?P<owner>[^/]+)/(?P<repo>[^/]+)/(?P<run>\d+)(?:/(?P<attempt>\d+))?/?$")


def parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    text = str(value).replace("Z", "+00:00")
    # RFC 3339 allows any number of fraction digits (Cloud Build sends nanoseconds);
    # datetime.fromisoformat before 3.11 takes at most six.
    text = re.sub(r"(\.\d{1,6})\d*", r"\1", text)
    text = re.sub(r"\.(\d{1,5})(?=[+-])", lambda m: "." + m[1].ljust(6, "0"), text)
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"not an RFC 3339 timestamp: {value!r}") from None


_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def check_run(run: Any, where: str) -> None:
    """Type-check the fields of a workflow run the record is built from: each wrong shape
    is one line naming the field (the rest of the code reads them as these types)."""
    from attester.jsonio import Fields

    f = Fields(run, where)
    f.count("id")
    if not _SHA.match(f.text("head_sha")):
        raise InputError(f"{where}: field 'head_sha' is not a git commit id")
    if not f.text("path"):
        raise InputError(f"{where}: field 'path' is empty; a run names its workflow file")
    for key in ("event", "head_branch", "status", "conclusion", "run_started_at",
                "created_at", "updated_at"):
        f.text(key, "")
    f.count("run_attempt", 1)
    for pr in f.objects("pull_requests", []):
        pr.count("number")
    repository = f.obj("repository")
    if repository is not None:
        repository.count("id", 0)
        repository.text("html_url", "")
        owner = repository.obj("owner")
        if owner is not None:
            owner.count("id", 0)


def full_ref(run: Mapping[str, Any], is_tag: Callable[[str], bool]) -> str:
    """The ref the run was for. The REST run only has ``head_branch``, which is a tag's
    name for runs on tags; ``is_tag`` asks the repository whether it points at the run's
    commit as a tag."""
    event = run.get("event", "")
    branch = run.get("head_branch") or ""
    prs = run.get("pull_requests") or []
    if event in ("pull_request", "pull_request_target") and prs:
        return f"refs/pull/{prs[0]['number']}/merge"
    if not branch:
        return ""
    if event == "release" or is_tag(branch):
        return f"refs/tags/{branch}"
    return f"refs/heads/{branch}"


def runner_environment(jobs: Sequence[Mapping[str, Any]]) -> str:
    groups = {j.get("runner_group_name") for j in jobs if j.get("runner_group_name")}
    if not groups:
        return "unknown"
    return "github-hosted" if groups == {"GitHub Actions"} else "self-hosted"


def github_record(*, server: str, repository: str, ref: str, sha: str, workflow_path: str,
                  event: str, repository_id: str, owner_id: str, runner_env: str, run_id: str,
                  attempt: str, builder_ref: str | None = None,
                  started: dt.datetime | None = None,
                  finished: dt.datetime | None = None) -> BuildRecord:
    """The build record, shared by the API path and the in-job (env://) path."""
    repo_url = f"{server}/{repository}"
    return BuildRecord(
        builder_id=f"{server}/{builder_ref or f'{repository}/{workflow_path}@{ref}'}",
        build_type=BUILD_TYPE_GITHUB,
        external_parameters={"workflow": {"ref": ref, "repository": repo_url,
                                          "path": workflow_path}},
        internal_parameters={"github": {"event_name": event, "repository_id": repository_id,
                                        "repository_owner_id": owner_id,
                                        "runner_environment": runner_env}},
        resolved_dependencies=(ResourceDescriptor(uri=f"git+{repo_url}@{ref}",
                                                  digest={"gitCommit": sha}),),
        invocation_id=f"{repo_url}/actions/runs/{run_id}/attempts/{attempt}",
        started_on=started,
        finished_on=finished,
        config_source=ResourceDescriptor(uri=f"git+{repo_url}@{ref}", digest={"sha1": sha}),
        entry_point=workflow_path,
    )


@attrs.frozen
class GitHubWatcher:
    owner: str
    repo: str
    run_id: int
    attempt: int | None = None
    wait: bool = False
    wait_timeout: float = 1200.0
    allow_failed: bool = False
    poll_interval: float = 10.0
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> GitHubWatcher:
        m = _URI.match(uri)
        if not m:
            raise UsageError(f"{uri!r}: expected github://OWNER/REPO/RUN_ID[/ATTEMPT]")
        attempt = int(m["attempt"]) if m["attempt"] else None
        return cls(owner=m["owner"], repo=m["repo"], run_id=int(m["run"]), attempt=attempt,
                   **{k: v for k, v in options.items() if k in _OPTIONS})

    @property
    def uri(self) -> str:
        return f"github://{self.owner}/{self.repo}/{self.run_id}"

    def _fetch_run(self) -> dict[str, Any]:
        path = f"/repos/{self.owner}/{self.repo}/actions/runs/{self.run_id}"
        if self.attempt is not None:
            path += f"/attempts/{self.attempt}"
        _, data = githubapi.get_json(path, what=self.uri)
        if not isinstance(data, dict) or "head_sha" not in data:
            raise InputError(f"{self.uri}: the API returned something that is not a workflow run")
        check_run(data, f"{self.uri}: GitHub API answer")
        return data

    def run(self) -> dict[str, Any]:
        run = wait_until_finished(self._fetch_run,
                                  running=lambda status: status != "completed", uri=self.uri,
                                  noun="run", wait=self.wait, timeout=self.wait_timeout,
                                  interval=self.poll_interval, sleep=self.sleep)
        if run.get("conclusion") != "success" and not self.allow_failed:
            raise InputError(f"{self.uri}: the run concluded {run.get('conclusion')!r}, not "
                             "'success'; refusing to attest it", hint="--allow-failed overrides")
        return run

    def _tag_at(self, name: str, sha: str) -> bool:
        """Whether tag ``name`` exists and names ``sha`` (directly or as an annotated tag)."""
        from attester.errors import StoreError
        from attester.jsonio import Fields

        path = f"/repos/{self.owner}/{self.repo}/git/ref/tags/{name}"
        what = f"{self.uri} tag {name}"
        try:
            _, ref = githubapi.get_json(path, what=what)
        except StoreError:
            return False
        obj = Fields(ref, f"{what}: GitHub API answer").obj("object")
        if obj is not None and obj.text("type", "") == "tag":  # annotated: names the commit
            _, tag = githubapi.get_json(
                f"/repos/{self.owner}/{self.repo}/git/tags/{quote(obj.text('sha'), safe='')}",
                what=what)
            obj = Fields(tag, f"{what}: GitHub API answer").obj("object")
        return obj is not None and obj.text("sha", "") == sha

    def jobs(self, run: Mapping[str, Any]) -> list[dict[str, Any]]:
        attempt = run.get("run_attempt") or 1
        url = f"/repos/{self.owner}/{self.repo}/actions/runs/{self.run_id}/attempts/{attempt}/jobs"
        from attester.jsonio import Fields

        jobs = list(githubapi.paginate(url, list_item="jobs", what=f"{self.uri} jobs"))
        for i, job in enumerate(jobs):
            Fields(job, f"{self.uri} jobs", f"jobs[{i}]").text("runner_group_name", "")
        return jobs

    def record(self, *, now: dt.datetime) -> BuildRecord:
        run = self.run()
        jobs = self.jobs(run)
        repository = run.get("repository") or {}
        ref = full_ref(run, lambda name: self._tag_at(name, run["head_sha"]))
        return github_record(
            server=server_of(repository, f"{self.owner}/{self.repo}", uri=self.uri),
            repository=f"{self.owner}/{self.repo}", ref=ref,
            sha=run["head_sha"], workflow_path=(run.get("path") or "").split("@")[0],
            event=run.get("event") or "", repository_id=str(repository.get("id", "")),
            owner_id=str((repository.get("owner") or {}).get("id", "")),
            runner_env=runner_environment(jobs), run_id=str(run["id"]),
            attempt=str(run.get("run_attempt") or 1),
            started=parse_time(run.get("run_started_at") or run.get("created_at")),
            finished=parse_time(run.get("updated_at")),
        )

    def default_artifacts(self) -> list[str]:
        return [f"github-artifacts://{self.owner}/{self.repo}/{self.run_id}"]


def server_of(repository: Mapping[str, Any], full_name: str, *, uri: str) -> str:
    """The server URL as the API itself states it (``repository.html_url`` minus the
    repository), so a mirror or proxy at GITHUB_API_URL does not rewrite the builder id
    and workflow URIs; GITHUB_SERVER_URL (or the API URL's host) only when it is absent."""
    html = repository.get("html_url") if isinstance(repository, Mapping) else None
    if html is None:
        return githubapi.server_url()
    parts = str(html).rstrip("/").rsplit("/", 2)
    if not isinstance(html, str) or len(parts) != 3 or not parts[0].startswith("https://") \
            or f"{parts[1]}/{parts[2]}".lower() != full_name.lower():
        raise InputError(f"{uri}: the API names the repository's page {str(html)[:200]!r}, "
                         f"not https://HOST/{full_name}")
    return parts[0]


_OPTIONS = ("wait", "wait_timeout", "allow_failed", "poll_interval")
