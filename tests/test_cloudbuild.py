"""cloudbuild:// and env:// (Cloud Build) against a replay server speaking the Cloud Build
REST API, through the real google-cloud-build client; the artifact manifest from the GCS
emulator."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator

import pytest

from conftest import TESTDATA, assert_valid_statement, golden, interop_path
from replay import Replay

BUILDS = "/v1/projects/k8s-staging-releng/builds"
OK = "0c6b4f2e-7d7f-4a0e-9d43-2f3b5a2a9e11"
DIST = "file://" + str(TESTDATA / "dist")


@pytest.fixture
def gcb(monkeypatch) -> Iterator[Replay]:
    with Replay() as r:
        r.file(f"{BUILDS}/{OK}", "cloudbuild/build-success.json")
        for name in ("inline", "working", "failed"):
            r.file(f"{BUILDS}/{name}-1", f"cloudbuild/build-{name}.json")
        monkeypatch.setenv("ATTEST_CLOUDBUILD_ENDPOINT", r.url)
        monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.01")
        for k in ("BUILD_ID", "PROJECT_ID", "LOCATION", "GITHUB_ACTIONS"):
            monkeypatch.delenv(k, raising=False)
        yield r


@pytest.fixture
def staged(gcs):
    """The objects and artifact manifest the recorded build uploaded, in the emulator."""
    client = gcs
    bucket = client.bucket("k8s-staging-releng")
    if not bucket.exists():
        bucket = client.create_bucket("k8s-staging-releng")
    files = {"stage/v1.31.0/kubernetes.tar.gz": b"tarball" * 1000, "stage/v1.31.0/kubectl": b"kubectl"}
    lines = []
    for name, data in files.items():
        bucket.blob(name).upload_from_string(data)
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - as GCS does
        lines.append(json.dumps({"location": f"gs://k8s-staging-releng/{name}",
                                 "file_hash": [{"file_hash": [{"type": 2, "value": md5}]}]}))
    bucket.blob(f"stage/v1.31.0/artifacts-{OK}.json").upload_from_string("\n".join(lines) + "\n")
    return bucket, files


def test_triggered_build_golden_with_manifest_subjects(attest, gcb, staged) -> None:
    r = attest("provenance", f"cloudbuild://k8s-staging-releng/{OK}")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert_valid_statement(doc)
    golden("cloudbuild-triggered.json", doc)
    bd = doc["predicate"]["buildDefinition"]
    assert bd["buildType"] == "https://cloud.google.com/build/gcb-buildtypes/google-worker/v1"
    assert bd["externalParameters"]["buildConfigSource"] == {
        "path": "gcb/stage/cloudbuild.yaml", "ref": "refs/tags/v1.31.0",
        "repository": "git+https://github.com/kubernetes/release"}
    assert bd["externalParameters"]["substitutions"] == {"_RELEASE_VERSION": "v1.31.0",
                                                         "_TYPE": "official"}
    assert bd["resolvedDependencies"][0] == {
        "uri": "git+https://github.com/kubernetes/release@refs/tags/v1.31.0",
        "digest": {"gitCommit": "7c4b2a1d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b"}}
    # one dependency per distinct step image, with its digest
    assert [d["uri"].split("@")[0] for d in bd["resolvedDependencies"][1:]] == [
        "gcr.io/k8s-staging-releng/k8s-cloud-builder:v1.31.0-go1.22.5-bullseye.0",
        "gcr.io/cloud-builders/gsutil"]
    rd = doc["predicate"]["runDetails"]
    assert rd["builder"]["id"] == "https://cloudbuild.googleapis.com/GoogleHostedWorker"
    assert rd["metadata"]["invocationId"] == ("https://cloudbuild.googleapis.com/v1/projects/"
                                              f"k8s-staging-releng/locations/global/builds/{OK}")
    _, files = staged
    subjects = {s["name"]: s["digest"]["sha256"] for s in doc["subject"]}
    for name, data in files.items():
        assert subjects[f"gs://k8s-staging-releng/{name}"] == hashlib.sha256(data).hexdigest()
    assert subjects["https://us-central1-docker.pkg.dev/k8s-staging-releng/images/kube-apiserver:v1.31.0"] \
        == "c0ffee" + "0" * 57 + "1"
    assert "ghp_should_never_appear" not in r.out


def test_inline_build_records_steps_without_secrets(attest, gcb) -> None:
    r = attest("provenance", "cloudbuild://k8s-staging-releng/inline-1", "--artifacts", DIST)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert_valid_statement(doc)
    golden("cloudbuild-inline.json", doc)
    steps = doc["predicate"]["buildDefinition"]["externalParameters"]["buildConfig"]["steps"]
    assert steps[0]["entrypoint"] == "krel" and steps[0]["dir"] == "go/src/k8s.io/release"
    assert "GITHUB_TOKEN=[redacted]" in steps[0]["env"] and "TOOL_ORG=kubernetes" in steps[0]["env"]
    assert "secretEnv" not in steps[0]
    assert "ghp_should_never_appear" not in r.out


def test_manifest_object_changed_after_upload_is_refused(attest, gcb, staged) -> None:
    bucket, _ = staged
    bucket.blob("stage/v1.31.0/kubectl").upload_from_string(b"replaced later")
    r = attest("provenance", f"cloudbuild://k8s-staging-releng/{OK}")
    assert r.code == 2
    assert "gs://k8s-staging-releng/stage/v1.31.0/kubectl changed since the build uploaded it" in r.err
    bucket.blob("stage/v1.31.0/kubectl").upload_from_string(b"kubectl")


@pytest.mark.parametrize(("line", "needle"), [
    # a prefix of kubectl's name names no object (issue 16.4): never the objects under it
    (json.dumps({"location": "gs://k8s-staging-releng/stage/v1.31.0/kube"}),
     "manifest lists gs://k8s-staging-releng/stage/v1.31.0/kube, which does not exist"),
    ("[" * 100_000, "line 1: nested more than 128 levels deep"),
    (json.dumps({"location": 7}), "line 1: location is not a gs:// URI"),
])
def test_manifest_lines_name_one_object_each(attest, gcb, staged, line, needle) -> None:
    bucket, _ = staged
    manifest = bucket.blob(f"stage/v1.31.0/artifacts-{OK}.json")
    original = manifest.download_as_bytes()
    manifest.upload_from_string(line + "\n")
    try:
        r = attest("provenance", f"cloudbuild://k8s-staging-releng/{OK}")
    finally:
        manifest.upload_from_string(original)
    assert r.code == 2 and needle in r.err, r.err
    assert "internal error" not in r.err and r.err.count("\n") == 1


def test_retry_then_success_and_persistent_failure(attest, gcb) -> None:
    gcb.fail(f"{BUILDS}/inline-1", (429, {"Retry-After": "0"}), (502, {}))
    r = attest("provenance", "cloudbuild://k8s-staging-releng/inline-1", "--artifacts", DIST)
    assert r.code == 0, r.err
    assert sum(1 for line in gcb.log if "/inline-1" in line) == 3


def test_404_and_403(attest, gcb) -> None:
    r = attest("provenance", "cloudbuild://k8s-staging-releng/nope", "--artifacts", DIST)
    assert r.code == 2
    assert "cloudbuild://k8s-staging-releng/nope: build not found in project" in r.err
    gcb.fail(f"{BUILDS}/inline-1", (403, {}))
    r = attest("provenance", "cloudbuild://k8s-staging-releng/inline-1", "--artifacts", DIST)
    assert r.code == 2 and "access denied (403)" in r.err


def test_running_and_failed_builds(attest, gcb) -> None:
    r = attest("provenance", "cloudbuild://k8s-staging-releng/working-1", "--artifacts", DIST)
    assert r.code == 2 and "the build is still WORKING" in r.err and "--wait" in r.err
    r = attest("provenance", "cloudbuild://k8s-staging-releng/failed-1", "--artifacts", DIST)
    assert r.code == 2 and "ended FAILURE" in r.err
    r = attest("provenance", "cloudbuild://k8s-staging-releng/failed-1", "--artifacts", DIST,
               "--allow-failed")
    assert r.code == 0, r.err


def test_env_inside_cloud_build_step(attest, gcb, monkeypatch) -> None:
    monkeypatch.setenv("BUILD_ID", "working-1")
    monkeypatch.setenv("PROJECT_ID", "k8s-staging-releng")
    r = attest("provenance", "env://", "--artifacts", DIST)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["predicate"]["runDetails"]["metadata"]["invocationId"].endswith("/builds/working-1")
    assert "finishedOn" in doc["predicate"]["runDetails"]["metadata"]


def test_real_build_resource_from_shared(attest, gcb) -> None:
    """A real Build (knative-gcp's recorded quickstart) with a storage source."""
    path = interop_path("api", "knative-gcp_cloudbuildsource_README__build_quickstart.json")
    gcb.file("/v1/projects/PROJECT_ID/builds/BUILD_ID", str(path))
    r = attest("provenance", "cloudbuild://PROJECT_ID/BUILD_ID")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert_valid_statement(doc)
    real = json.loads(path.read_text())
    bd = doc["predicate"]["buildDefinition"]
    src = real["source"]["storageSource"]
    assert bd["externalParameters"]["sourceToBuild"]["storageSource"]["generation"] == src["generation"]
    dep_uris = [d["uri"] for d in bd["resolvedDependencies"]]
    assert f"gs://{src['bucket']}/{src['object']}#{src['generation']}" in dep_uris
    assert "gcr.io/cloud-builders/docker@" + real["results"]["buildStepImages"][0] in dep_uris
    assert {s["name"] for s in doc["subject"]} == {"https://" + i["name"] for i in real["results"]["images"]}
    assert doc["predicate"]["runDetails"]["metadata"]["startedOn"] == "2020-04-03T23:51:16Z"


def test_location_names_the_regional_build(attest, gcb) -> None:
    gcb.file("/v1/projects/k8s-staging-releng/locations/us-central1/builds/inline-1",
             "cloudbuild/build-inline.json")
    r = attest("provenance", "cloudbuild://k8s-staging-releng/inline-1", "--location",
               "us-central1", "--artifacts", DIST)
    assert r.code == 0, r.err
    internal = json.loads(r.out)["predicate"]["buildDefinition"]["internalParameters"]
    assert internal["systemSubstitutions"]["LOCATION"] == "us-central1"
