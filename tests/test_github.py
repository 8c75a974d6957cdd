"""github://, env:// (GitHub Actions), github-release:// and github-artifacts:// against a
local server replaying recorded GitHub REST responses, through attester's REST client."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from attester.errors import StoreError
from attester.stores.github_artifacts import check_member

from conftest import TESTDATA, assert_valid_statement, golden
from replay import Replay

GH = TESTDATA / "api" / "github"
RUNS = "/repos/kubernetes/kubernetes/actions/runs"
TOKEN = "ghp_replaytoken0123456789"


def serve_github(r: Replay) -> None:
    for run in (9000001, 9000002, 9000003):
        r.file(f"{RUNS}/{run}", f"github/run-{run}.json")
        r.file(f"{RUNS}/{run}/attempts/1", f"github/run-{run}.json")
    jobs = f"{RUNS}/9000001/attempts/1/jobs"
    r.file(f"{jobs}?per_page=100", "github/jobs-9000001-page1.json",
           headers={"Link": f'<{{BASE}}{jobs}?per_page=100&page=2>; rel="next", '
                            f'<{{BASE}}{jobs}?per_page=100&page=2>; rel="last"'.replace("{BASE}", r.url)})
    r.file(f"{jobs}?per_page=100&page=2", "github/jobs-9000001-page2.json")
    r.json(f"{RUNS}/9000003/attempts/1/jobs?per_page=100", {"total_count": 0, "jobs": []})
    r.file(f"{RUNS}/9000001/artifacts?per_page=100", "github/artifacts-9000001.json")
    r.raw("/repos/kubernetes/kubernetes/actions/artifacts/1840000001/zip",
          (GH / "blobs" / "binaries.zip").read_bytes(), "application/zip")
    r.raw("/repos/kubernetes/kubernetes/actions/artifacts/1840000002/zip",
          (GH / "blobs" / "sbom.zip").read_bytes(), "application/zip")
    r.file("/repos/kubernetes/kubernetes", "github/repo.json")
    r.file("/repos/kubernetes/kubernetes/releases/tags/v1.31.0", "github/release-v1.31.0.json")
    r.file("/repos/kubernetes/kubernetes/releases/170000001/assets?per_page=100",
           "github/release-assets.json")
    r.raw("/repos/kubernetes/kubernetes/releases/assets/190000001",
          (GH / "blobs" / "kubernetes.tar.gz").read_bytes())
    r.raw("/repos/kubernetes/kubernetes/releases/assets/190000002",
          (GH / "blobs" / "kubernetes-src.tar.gz").read_bytes())


@pytest.fixture
def github(monkeypatch) -> Iterator[Replay]:
    with Replay() as r:
        serve_github(r)
        r.token = TOKEN
        monkeypatch.setenv("GITHUB_API_URL", r.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
        monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.01")
        monkeypatch.delenv("GH_TOKEN", raising=False)
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
        yield r


def test_workflow_run_provenance_golden(attest, github) -> None:
    r = attest("provenance", "github://kubernetes/kubernetes/9000001")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert_valid_statement(doc)
    golden("github-run-9000001.json", doc)
    p = doc["predicate"]
    # GitHub's own layout, field by field.
    assert p["buildDefinition"]["buildType"] == "https://actions.github.io/buildtypes/workflow/v1"
    assert p["buildDefinition"]["externalParameters"] == {"workflow": {
        "ref": "refs/tags/v1.31.0", "repository": "https://github.com/kubernetes/kubernetes",
        "path": ".github/workflows/release.yml"}}
    assert p["buildDefinition"]["internalParameters"] == {"github": {
        "event_name": "release", "repository_id": "20580498", "repository_owner_id": "13629408",
        "runner_environment": "github-hosted"}}
    assert p["runDetails"]["builder"]["id"] == ("https://github.com/kubernetes/kubernetes/"
                                                ".github/workflows/release.yml@refs/tags/v1.31.0")
    assert p["runDetails"]["metadata"]["invocationId"] == (
        "https://github.com/kubernetes/kubernetes/actions/runs/9000001/attempts/1")
    # both pages of the 120 jobs were read (runner environment comes from them)
    assert any("page=2" in line for line in github.log)
    # default subjects: the files inside the run's artifacts
    names = sorted(s["name"] for s in doc["subject"])
    assert names == ["binaries/SHA256SUMS", "binaries/linux/amd64/kubectl",
                     "binaries/linux/arm64/kubectl", "sbom/kubernetes.spdx.json"]
    assert TOKEN not in r.out + r.err


def test_slsa_v02_of_a_run(attest, github) -> None:
    r = attest("provenance", "github://kubernetes/kubernetes/9000001", "--slsa", "0.2")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert_valid_statement(doc)
    assert doc["predicate"]["invocation"]["configSource"]["entryPoint"] == \
        ".github/workflows/release.yml"


def test_verify_our_github_provenance_with_gh_style_policy(attest, github, tmp_path) -> None:
    assert attest("keygen", "--out", tmp_path / "k").code == 0
    assert attest("provenance", "github://kubernetes/kubernetes/9000001", "-o",
                  tmp_path / "p.json").code == 0
    assert attest("sign", tmp_path / "p.json", "--key", tmp_path / "k.key",
                  "-o", tmp_path / "p.intoto.json").code == 0
    r = attest("verify", tmp_path / "p.intoto.json", "--key", tmp_path / "k.pub",
               "--source-uri", "github.com/kubernetes/kubernetes",
               "--source-ref", "refs/tags/v1.31.0",
               "--builder-id", "https://github.com/kubernetes/kubernetes/.github/workflows/"
               "release.yml@refs/tags/v1.31.0")
    assert r.code == 0, r.err


def test_retries_429_and_502_then_succeeds(attest, github) -> None:
    github.fail(f"{RUNS}/9000001", (429, {"Retry-After": "1"}), (502, {}))
    r = attest("provenance", "github://kubernetes/kubernetes/9000001")
    assert r.code == 0, r.err
    assert github.log.count(f"{RUNS}/9000001") == 3


def test_404_run_and_401_token(attest, github, monkeypatch) -> None:
    r = attest("provenance", "github://kubernetes/kubernetes/123")
    assert r.code == 2
    assert "github://kubernetes/kubernetes/123: not found on GitHub (404)" in r.err
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong_token")
    r = attest("provenance", "github://kubernetes/kubernetes/9000001")
    assert r.code == 2
    assert "GitHub rejected the token (401)" in r.err
    assert "ghp_wrong_token" not in r.err


def test_persistent_5xx_is_a_clear_failure(attest, github) -> None:
    github.fail(f"{RUNS}/9000001", *[(503, {})] * 10)
    r = attest("provenance", "github://kubernetes/kubernetes/9000001")
    assert r.code == 2
    assert "GitHub API answered 503 repeatedly; giving up" in r.err


def test_running_and_failed_runs(attest, github) -> None:
    r = attest("provenance", "github://kubernetes/kubernetes/9000002")
    assert r.code == 2 and "the run is still in_progress" in r.err and "--wait" in r.err
    r = attest("provenance", "github://kubernetes/kubernetes/9000002", "--wait",
               "--wait-timeout", "0")
    assert r.code == 2 and "still in_progress after waiting" in r.err
    r = attest("provenance", "github://kubernetes/kubernetes/9000003", "--artifacts",
               "file://" + str(TESTDATA / "dist"))
    assert r.code == 2 and "concluded 'failure'" in r.err
    r = attest("provenance", "github://kubernetes/kubernetes/9000003", "--allow-failed",
               "--artifacts", "file://" + str(TESTDATA / "dist"))
    assert r.code == 0, r.err


def test_wait_polls_until_the_run_completes(github) -> None:
    from attester.watchers.github import GitHubWatcher

    done = json.loads((GH / "run-9000001.json").read_text())
    sleeps: list[float] = []

    def finish(_: float) -> None:
        sleeps.append(_)
        github.json(f"{RUNS}/9000002", {**done, "id": 9000002})

    w = GitHubWatcher(owner="kubernetes", repo="kubernetes", run_id=9000002, wait=True,
                      poll_interval=5, sleep=finish)
    assert w.run()["status"] == "completed"
    assert sleeps == [5]


def test_release_store(attest, github, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts",
               "github-release://kubernetes/kubernetes/v1.31.0")
    assert r.code == 0, r.err
    import hashlib
    subjects = {s["name"]: s["digest"]["sha256"] for s in json.loads(r.out)["subject"]}
    assert subjects == {
        "kubernetes.tar.gz": hashlib.sha256((GH / "blobs/kubernetes.tar.gz").read_bytes()).hexdigest(),
        "kubernetes-src.tar.gz": hashlib.sha256((GH / "blobs/kubernetes-src.tar.gz").read_bytes()).hexdigest()}


def test_release_asset_disagreeing_with_api_digest_is_refused(attest, github, repo, monkeypatch):
    size = (GH / "blobs/kubernetes.tar.gz").stat().st_size  # as listed: only the digest differs
    github.raw("/repos/kubernetes/kubernetes/releases/assets/190000001", b"s" * size)
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts",
               "github-release://kubernetes/kubernetes/v1.31.0")
    assert r.code == 2
    assert "asset kubernetes.tar.gz hashes to sha256:" in r.err and "the API says" in r.err
    github.raw("/repos/kubernetes/kubernetes/releases/assets/190000001", b"swapped in transit")
    r = attest("provenance", "local://", "--artifacts",
               "github-release://kubernetes/kubernetes/v1.31.0")
    assert r.code == 2
    assert f"asset kubernetes.tar.gz: 18 bytes, shorter than the {size} listed" in r.err


def test_artifact_zip_digest_mismatch_is_refused(attest, github) -> None:
    github.raw("/repos/kubernetes/kubernetes/actions/artifacts/1840000001/zip",
               (GH / "blobs" / "sbom.zip").read_bytes(), "application/zip")
    r = attest("provenance", "github://kubernetes/kubernetes/9000001")
    assert r.code == 2
    assert "artifact binaries: the downloaded zip hashes to" in r.err


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(("name", "data", "needle"), [
    ("../../etc/cron.d/evil", b"x", "escapes the archive (zip-slip)"),
    ("/etc/passwd", b"x", "escapes the archive (zip-slip)"),
    ("dir\\..\\..\\x", b"x", "escapes the archive (zip-slip)"),
    ("bomb.bin", b"\0" * (50 << 20), "compression ratio over 200:1"),
])
def test_hostile_zips_are_refused(attest, github, name, data, needle) -> None:
    github.json(f"{RUNS}/9000001/artifacts?per_page=100", {"total_count": 1, "artifacts": [
        {"id": 1, "name": "evil", "size_in_bytes": 1, "expired": False,
         "archive_download_url": f"{github.url}/evil.zip"}]})
    github.raw("/evil.zip", _zip([(name, data)]), "application/zip")
    r = attest("provenance", "github://kubernetes/kubernetes/9000001")
    assert r.code == 2, r.err
    assert needle in r.err


def test_oversize_entry_is_refused() -> None:
    info = zipfile.ZipInfo("huge")
    info.file_size, info.compress_size = 11 << 30, 11 << 30
    with pytest.raises(StoreError, match="over the"):
        check_member(info, "x")


# -- env:// inside a GitHub Actions job ------------------------------------------------

GHA_ENV = {
    "GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "kubernetes/kubernetes", "GITHUB_REPOSITORY_ID": "20580498",
    "GITHUB_REPOSITORY_OWNER_ID": "13629408", "GITHUB_REF": "refs/tags/v1.31.0",
    "GITHUB_SHA": "b46a3f887ca979b1a5d14fd39cb1af43e7e5d12d",
    "GITHUB_WORKFLOW_REF": "kubernetes/kubernetes/.github/workflows/release.yml@refs/tags/v1.31.0",
    "GITHUB_EVENT_NAME": "release", "GITHUB_RUN_ID": "9000001", "GITHUB_RUN_ATTEMPT": "1",
    "RUNNER_ENVIRONMENT": "github-hosted",
}


def test_env_in_github_actions_matches_the_api_path(attest, github, monkeypatch, tmp_path) -> None:
    api = json.loads(attest("provenance", "github://kubernetes/kubernetes/9000001",
                            "--artifacts", "file://" + str(TESTDATA / "dist")).out)
    for k, v in GHA_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")  # no network needed in-job
    r = attest("provenance", "env://", "--artifacts", "file://" + str(TESTDATA / "dist"))
    assert r.code == 0, r.err
    env = json.loads(r.out)
    assert env["predicate"]["buildDefinition"] == api["predicate"]["buildDefinition"]
    assert env["predicate"]["runDetails"]["builder"] == api["predicate"]["runDetails"]["builder"]
    assert env["predicate"]["runDetails"]["metadata"]["invocationId"] == \
        api["predicate"]["runDetails"]["metadata"]["invocationId"]
    assert env["subject"] == api["subject"]


def test_env_detection_errors(attest, monkeypatch) -> None:
    for k in [*GHA_ENV, "BUILD_ID", "PROJECT_ID"]:
        monkeypatch.delenv(k, raising=False)
    r = attest("provenance", "env://", "--artifacts", "file://" + str(TESTDATA / "dist"))
    assert r.code == 2 and "not running in a supported CI" in r.err
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    r = attest("provenance", "env://", "--artifacts", "file://" + str(TESTDATA / "dist"))
    assert r.code == 2 and "GITHUB_ACTIONS=true but GITHUB_SERVER_URL" in r.err
    for k, v in GHA_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GITHUB_WORKFLOW_REF", "someone/else/.github/workflows/x.yml@refs/heads/main")
    r = attest("provenance", "env://", "--artifacts", "file://" + str(TESTDATA / "dist"))
    assert r.code == 2 and "is not a workflow of GITHUB_REPOSITORY" in r.err
    monkeypatch.delenv("GITHUB_ACTIONS")
    monkeypatch.setenv("BUILD_ID", "abc")
    r = attest("provenance", "env://", "--artifacts", "file://" + str(TESTDATA / "dist"))
    assert r.code == 2 and "BUILD_ID is set but PROJECT_ID is not" in r.err


def test_real_recorded_pygithub_run_maps(github, monkeypatch) -> None:
    """A real GitHub response (PyGithub's recorded fixture in testdata/interop) through our mapping."""
    from conftest import interop_path

    api = interop_path("api")
    github.token = None
    github.file("/repos/PyGithub/PyGithub/actions/runs/3881497935",
                str(api / "pygithub_WorkflowRun.setUp__actions_runs_3881497935.json"))
    jobs = json.loads((api / "pygithub_WorkflowRun.test_jobs__actions_runs_3881497935_jobs.json").read_text())
    run = json.loads((api / "pygithub_WorkflowRun.setUp__actions_runs_3881497935.json").read_text())
    github.json(f"/repos/PyGithub/PyGithub/actions/runs/3881497935/attempts/{run['run_attempt']}/jobs"
                "?per_page=100", jobs)
    import datetime as dt

    from attester.watchers.github import GitHubWatcher
    rec = GitHubWatcher.from_uri("github://PyGithub/PyGithub/3881497935", allow_failed=True
                                 ).record(now=dt.datetime.now(dt.timezone.utc))
    assert rec.resolved_dependencies[0].digest["gitCommit"] == run["head_sha"]
    assert rec.external_parameters["workflow"]["path"] == run["path"]
    assert rec.internal_parameters["github"]["repository_id"] == str(run["repository"]["id"])
    assert rec.invocation_id.endswith(f"/actions/runs/{run['id']}/attempts/{run['run_attempt']}")
    Path  # noqa: B018 - keep import used for type clarity


def test_explicit_attempt(attest, github) -> None:
    r = attest("provenance", "github://kubernetes/kubernetes/9000001/1")
    assert r.code == 0, r.err
    assert f"{RUNS}/9000001/attempts/1" in github.log
    r = attest("provenance", "github://kubernetes/kubernetes/9000001/7")
    assert r.code == 2 and "not found on GitHub (404)" in r.err


def test_runs_on_tags_and_branches_get_their_full_ref(attest, github) -> None:
    """The REST run only names the branch or tag; the repository says which it is."""
    run = json.loads((GH / "run-9000001.json").read_text())
    sha = run["head_sha"]
    github.json(f"{RUNS}/9000004", {**run, "id": 9000004, "event": "push", "head_branch": "v1.31.1"})
    github.json(f"{RUNS}/9000004/attempts/1/jobs?per_page=100", {"total_count": 0, "jobs": []})
    github.json("/repos/kubernetes/kubernetes/git/ref/tags/v1.31.1", {
        "ref": "refs/tags/v1.31.1", "object": {"type": "tag", "sha": "a" * 40}})
    github.json(f"/repos/kubernetes/kubernetes/git/tags/{'a' * 40}", {
        "tag": "v1.31.1", "object": {"type": "commit", "sha": sha}})
    github.json(f"{RUNS}/9000005", {**run, "id": 9000005, "event": "push", "head_branch": "v2"})
    github.json(f"{RUNS}/9000005/attempts/1/jobs?per_page=100", {"total_count": 0, "jobs": []})
    dist = "file://" + str(TESTDATA / "dist")

    def ref_of(run_id: int) -> str:
        r = attest("provenance", f"github://kubernetes/kubernetes/{run_id}", "--artifacts", dist)
        assert r.code == 0, r.err
        return json.loads(r.out)["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["ref"]

    assert ref_of(9000004) == "refs/tags/v1.31.1"   # annotated tag at the run's commit
    assert ref_of(9000005) == "refs/heads/v2"       # version-like, but a branch: no such tag


def test_server_url_comes_from_the_api_answer_not_the_api_host(attest, github,
                                                               monkeypatch) -> None:
    """A proxy or mirror at GITHUB_API_URL (here 127.0.0.1) does not become the server
    of the builder id, workflow and invocation: repository.html_url says where it is."""
    monkeypatch.delenv("GITHUB_SERVER_URL")
    r = attest("provenance", "github://kubernetes/kubernetes/9000001")
    assert r.code == 0, r.err
    p = json.loads(r.out)["predicate"]
    assert p["runDetails"]["builder"]["id"].startswith("https://github.com/kubernetes/")
    assert p["runDetails"]["metadata"]["invocationId"].startswith(
        "https://github.com/kubernetes/kubernetes/actions/runs/9000001")
    assert "127.0.0.1" not in r.out
    # a GitHub Enterprise Server answers with its own host
    run = json.loads((GH / "run-9000001.json").read_text())
    run["repository"]["html_url"] = "https://ghe.example.com/kubernetes/kubernetes"
    github.json(f"{RUNS}/9000001", run)
    r = attest("provenance", "github://kubernetes/kubernetes/9000001")
    assert r.code == 0, r.err
    wf = json.loads(r.out)["predicate"]["buildDefinition"]["externalParameters"]["workflow"]
    assert wf["repository"] == "https://ghe.example.com/kubernetes/kubernetes"
    # an answer naming another repository, or no https page, is refused
    for bad in ("https://github.com/evil/kubernetes", "http://github.com/kubernetes/kubernetes"):
        run["repository"]["html_url"] = bad
        github.json(f"{RUNS}/9000001", run)
        r = attest("provenance", "github://kubernetes/kubernetes/9000001")
        assert r.code == 2 and "the API names the repository's page" in r.err
