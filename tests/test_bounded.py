"""Issue 16, items 4, 5, 9-13 and 15: bounded reads from every server, exact single
artifacts, checksums checked in every store, zip totals, YAML without aliases, referrer
tags that are not images. Each against the real servers (gcp-storage-emulator,
docker-registry, the GitHub replay server) or, where the point is a server that
misbehaves, the scripted stand-in of tests/hostile.py; each asserts exit code and line."""

from __future__ import annotations

import hashlib
import io
import json
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import TESTDATA
from hostile import Scripted, endless, gcs_object, json_answer
from replay import Replay

GH = TESTDATA / "api" / "github"
TOKEN = "ghp_replaytoken0123456789"
REL = "/repos/o/r/releases"


def traced(attest: Any, *args: Any) -> tuple[Any, int]:
    """``attest ARGS`` and the peak of Python memory it allocated (tracemalloc)."""
    tracemalloc.start()
    try:
        r = attest(*args)
        return r, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def one_line(r: Any) -> None:
    assert "internal error" not in r.err and "Traceback" not in r.err, r.err
    assert r.err.count("\n") == 1, r.err


def _sign(attest: Any, tmp_path: Path, statement: Path, subjects: list[str] | None = None) -> Path:
    """Sign ``statement`` (keeping only ``subjects`` when given) with a fresh key."""
    if not (tmp_path / "k.key").exists():
        assert attest("keygen", "--out", tmp_path / "k").code == 0
    doc = json.loads(statement.read_text())
    if subjects is not None:
        doc["subject"] = [s for s in doc["subject"] if s["name"] in subjects]
    statement.write_text(json.dumps(doc))
    out = statement.with_suffix(".intoto.json")
    r = attest("sign", statement, "--key", tmp_path / "k.key", "-o", out)
    assert r.code == 0, r.err
    return out


# -- item 4: a URI that names one object names exactly one --------------------------------

@pytest.mark.gcs
def test_missing_object_is_not_its_prefix(attest, gcs, repo, monkeypatch, tmp_path) -> None:
    bucket = gcs.bucket("one") if gcs.bucket("one").exists() else gcs.create_bucket("one")
    for name, data in {"v1/kubectl.sha256": b"digest", "v1/kubectl-debug": b"debug"}.items():
        bucket.blob(name).upload_from_string(data)
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts", "gs://one/v1/", "-o", tmp_path / "p.json")
    assert r.code == 0, r.err
    signed = _sign(attest, tmp_path, tmp_path / "p.json")
    verify = ("verify", signed, "--key", tmp_path / "k.pub", "--artifact")
    r = attest(*verify, "gs://one/v1/kubectl")  # its neighbours are attested; it is absent
    assert r.code == 2 and "gs://one/v1/kubectl: no such object" in r.err, r.err
    one_line(r)
    r = attest(*verify, "gs://one/v1/")
    assert r.code == 2 and "gs://one/v1/: names a folder, not one object" in r.err, r.err
    r = attest(*verify, "gs://one/v1/kubectl-debug")
    assert r.code == 0, r.err


@pytest.fixture
def github(monkeypatch) -> Iterator[Replay]:
    from test_github import serve_github

    with Replay() as r:
        serve_github(r)
        r.token = TOKEN
        monkeypatch.setenv("GITHUB_API_URL", r.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
        monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.001")
        monkeypatch.delenv("GH_TOKEN", raising=False)
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
        yield r


def test_one_release_asset_exactly(attest, github, repo, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(repo)
    release = "github-release://kubernetes/kubernetes/v1.31.0"
    r = attest("provenance", "local://", "--artifacts", release, "-o", tmp_path / "p.json")
    assert r.code == 0, r.err
    signed = _sign(attest, tmp_path, tmp_path / "p.json", ["kubernetes.tar.gz"])
    verify = ("verify", signed, "--key", tmp_path / "k.pub", "--artifact")
    assert attest(*verify, f"{release}/kubernetes.tar.gz").code == 0
    r = attest(*verify, f"{release}/kubernetes")  # a prefix of an asset's name
    assert r.code == 2 and f"{release}: the release has no asset named 'kubernetes'" in r.err
    one_line(r)
    r = attest(*verify, release)  # the whole release is not one artifact
    assert r.code == 2 and f"{release}: names a release, not one asset" in r.err, r.err


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Iterator[str]:
    from servers import oci_registry

    with oci_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


def test_one_image_exactly(attest, registry, repo, monkeypatch, tmp_path) -> None:
    from test_store_oci import push_image

    push_image(registry, "single/app", "v1")
    monkeypatch.chdir(repo)
    stmt = tmp_path / "s.json"
    r = attest("provenance", "local://", "--subject-digest", f"x=sha256:{'0' * 64}", "-o", stmt)
    assert r.code == 0, r.err
    signed = _sign(attest, tmp_path, stmt)
    verify = ("verify", signed, "--key", tmp_path / "k.pub", "--artifact")
    r = attest(*verify, f"oci://{registry}/single/app:v2")
    assert r.code == 2 and f"oci://{registry}/single/app:v2: not found at {registry}" in r.err
    one_line(r)
    r = attest(*verify, f"oci://{registry}/single/app")
    assert r.code == 2 and "names a repository, not one image" in r.err, r.err


# -- item 5: --subjects-from-checksums checks every store ---------------------------------

@pytest.mark.gcs
def test_lying_checksums_against_a_bucket(attest, gcs, repo, monkeypatch, tmp_path) -> None:
    bucket = gcs.bucket("sums") if gcs.bucket("sums").exists() else gcs.create_bucket("sums")
    bucket.blob("v1/kubectl").upload_from_string(b"the real kubectl")
    monkeypatch.chdir(repo)
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{hashlib.sha256(b'something else').hexdigest()}  kubectl\n")
    r = attest("provenance", "local://", "--subjects-from-checksums", sums,
               "--artifacts", "gs://sums/v1/")
    assert r.code == 2, r.err
    assert (f"checksums {sums}: kubectl has sha256:"
            f"{hashlib.sha256(b'the real kubectl').hexdigest()}, the file says") in r.err
    one_line(r)
    sums.write_text(f"{hashlib.sha256(b'the real kubectl').hexdigest()}  kubectl\n"
                    f"{'ab' * 32}  kubeadm\n")
    r = attest("provenance", "local://", "--subjects-from-checksums", sums,
               "--artifacts", "gs://sums/v1")
    assert r.code == 2
    assert "kubeadm is in none of the --artifacts stores (gs://sums/v1); its line cannot be " \
           "checked" in r.err
    sums.write_text(f"{hashlib.sha256(b'the real kubectl').hexdigest()}  kubectl\n")
    r = attest("provenance", "local://", "--subjects-from-checksums", sums,
               "--artifacts", "gs://sums/v1")
    assert r.code == 0, r.err
    assert [s["name"] for s in json.loads(r.out)["subject"]] == ["kubectl"]


def test_lying_checksums_against_a_release(attest, github, repo, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(repo)
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'cd' * 32}  kubernetes.tar.gz\n")
    r = attest("provenance", "local://", "--subjects-from-checksums", sums,
               "--artifacts", "github-release://kubernetes/kubernetes/v1.31.0")
    assert r.code == 2 and "kubernetes.tar.gz has sha256:" in r.err, r.err


# -- item 9: one pager ----------------------------------------------------------------------

def test_repeated_next_link_on_release_assets(attest, github, repo, monkeypatch) -> None:
    assets = "/repos/kubernetes/kubernetes/releases/170000001/assets"
    again = f'<{github.url}{assets}?per_page=100&page=2>; rel="next"'
    github.file(f"{assets}?per_page=100", "github/release-assets.json", headers={"Link": again})
    github.file(f"{assets}?per_page=100&page=2", "github/release-assets.json",
                headers={"Link": again})
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts",
               "github-release://kubernetes/kubernetes/v1.31.0")
    assert r.code == 2
    assert "assets: the server repeated a page cursor" in r.err, r.err
    one_line(r)


def test_empty_pages_that_say_next_end_the_attestation_listing(attest, github) -> None:
    digest = "sha256:" + "ab" * 32
    path = f"/repos/o/r/attestations/{digest}"

    def page(n: int) -> None:
        github.json(f"{path}?per_page=30" if n == 1 else f"{path}?page={n}",
                    {"attestations": []},
                    headers={"Link": f'<{github.url}{path}?page={n + 1}>; rel="next"'})
    for n in range(1, 6):
        page(n)
    r = attest("verify", "--digest", digest, "--repo", "o/r", "--offline")
    assert r.code == 2, r.err
    assert "attestations of o/r: the server sent 3 empty pages in a row that still say " \
           "there is a next one" in r.err
    one_line(r)


def test_link_leaving_the_api_host_is_not_followed(attest, github, repo, monkeypatch) -> None:
    assets = "/repos/kubernetes/kubernetes/releases/170000001/assets"
    github.file(f"{assets}?per_page=100", "github/release-assets.json",
                headers={"Link": '<http://203.0.113.9/steal>; rel="next"'})
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts",
               "github-release://kubernetes/kubernetes/v1.31.0")
    assert r.code == 2 and "leaves" in r.err and "refusing to follow it with the token" in r.err
    assert TOKEN not in r.err


def test_bundle_url_without_the_github_extra(attest, github, monkeypatch) -> None:
    import sys

    digest = "sha256:" + "ab" * 32
    github.json(f"/repos/o/r/attestations/{digest}?per_page=30",
                {"attestations": [{"bundle_url": f"{github.url}/blob/1"}]})
    github.raw("/blob/1", b"\x05hello")
    github.token = None  # blob storage is read without the token
    monkeypatch.setitem(sys.modules, "cramjam", None)  # makes `import cramjam` fail
    r = attest("verify", "--digest", digest, "--repo", "o/r")
    assert r.code == 2 and "pip install 'attester[github]'" in r.err, r.err
    one_line(r)


def _registry_answer(tags_page: Any) -> Any:
    def answer(method: str, path: str, query: dict[str, list[str]]) -> Any:
        if path == "/v2/":
            return json_answer({})
        if path.endswith("/tags/list"):
            return tags_page(query)
        return json_answer({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "no"}]}, 404)
    return answer


def test_endless_and_repeated_tag_pages(attest, tmp_path, monkeypatch) -> None:
    from attester.clients import pager

    # The page cap lowered to 50 so the test makes 50 requests, not 1000 (the real cap's
    # value is held to docs/limits.md below).
    monkeypatch.setattr(pager, "DEFAULT_LIMITS", pager.Limits(pages=50))

    def distinct(query: dict[str, list[str]]) -> Any:  # a new page, forever
        n = int(query.get("last", ["0"])[0]) + 1
        return json_answer({"tags": [f"t{n}"]},
                           headers={"Link": f'</v2/app/tags/list?n=1&last={n}>; rel="next"'})

    with Scripted(_registry_answer(distinct)) as srv:
        r = attest("start", "--artifacts", f"oci://{srv.host}/app", "-o", tmp_path / "s.json")
        assert r.code == 2, r.err
        assert f"oci://{srv.host}/app: tag list: more than 50 pages" in r.err
        one_line(r)
        assert len(srv.log) <= 52  # the cap, not the server, ended it

    def elsewhere(query: dict[str, list[str]]) -> Any:
        return json_answer({"tags": ["v1"]},
                           headers={"Link": '<http://203.0.113.9/v2/app/tags/list>; rel="next"'})

    with Scripted(_registry_answer(elsewhere)) as srv:
        r = attest("start", "--artifacts", f"oci://{srv.host}/app", "-o", tmp_path / "s.json")
        assert r.code == 2, r.err
        assert "tag list: next link 'http://203.0.113.9/v2/app/tags/list' leaves" in r.err
        one_line(r)

    def same(query: dict[str, list[str]]) -> Any:
        return json_answer({"tags": ["v1"]},
                           headers={"Link": '</v2/app/tags/list?n=1&last=v1>; rel="next"'})

    with Scripted(_registry_answer(same)) as srv:
        r = attest("start", "--artifacts", f"oci://{srv.host}/app", "-o", tmp_path / "s.json")
        assert r.code == 2 and "tag list: the server repeated a page cursor" in r.err, r.err
        assert len(srv.log) <= 4


def _gcs_answer(listing: Any, media: Any = None) -> Any:
    def answer(method: str, path: str, query: dict[str, list[str]]) -> Any:
        if path.startswith("/download/") and media is not None:
            return media(path, query)
        if path.endswith("/o"):
            return listing(query)
        return json_answer({"error": {"code": 404, "message": "Not Found"}}, 404)
    return answer


def test_gcs_page_token_that_repeats(attest, repo, monkeypatch) -> None:
    def listing(query: dict[str, list[str]]) -> Any:
        return json_answer({"items": [{"name": "p/a", "size": "1", "generation": "1",
                                       "md5Hash": "x"}], "nextPageToken": "again"})

    with Scripted(_gcs_answer(listing)) as srv:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", srv.url)
        monkeypatch.chdir(repo)
        r = attest("provenance", "local://", "--artifacts", "gs://b/p/")
        assert r.code == 2, r.err
        assert "gs://b/p/: listing: the server repeated a page cursor (again)" in r.err
        one_line(r)
        assert sum("/o?" in line for line in srv.log) == 2  # the first page, and its repeat


def test_one_object_answered_with_the_wrong_shape(attest, repo, monkeypatch, tmp_path) -> None:
    """Found by the server mutation suite: object metadata that is a JSON string."""
    def answer(method: str, path: str, query: dict[str, list[str]]) -> Any:
        return json_answer("not an object")

    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--subject-digest", f"gs://b/p/k=sha256:{'0' * 64}",
               "-o", tmp_path / "s.json")
    assert r.code == 0, r.err
    signed = _sign(attest, tmp_path, tmp_path / "s.json")
    with Scripted(answer) as srv:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", srv.url)
        r = attest("verify", signed, "--key", tmp_path / "k.pub", "--artifact", "gs://b/p/k")
    assert r.code == 2, r.err
    assert "gs://b/p/k: object metadata: an object's metadata is malformed" in r.err
    one_line(r)


# -- item 10: bodies cut at their listed size -----------------------------------------------

def test_gcs_listing_page_over_the_cap(attest, repo, monkeypatch) -> None:
    def listing(query: dict[str, list[str]]) -> Any:
        return 200, {"Content-Type": "application/json"}, endless(200 << 20), None

    with Scripted(_gcs_answer(listing)) as srv:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", srv.url)
        monkeypatch.chdir(repo)
        r, peak = traced(attest, "provenance", "local://", "--artifacts", "gs://big/p/")
    assert r.code == 2, r.err
    assert "gs://big/p/: storage API answer (GET): more than 32 MiB; refusing it" in r.err
    one_line(r)
    assert peak < 64 << 20, peak  # about the 32 MiB cap, never the 200 MiB answer


def test_gcs_object_longer_than_listed(attest, repo, monkeypatch) -> None:
    data = b"11 bytes!!!"

    def listing(query: dict[str, list[str]]) -> Any:
        return json_answer({"items": [gcs_object(srv.url, "b", "p/kubectl", len(data), data)]})

    def media(path: str, query: dict[str, list[str]]) -> Any:
        return 200, {"Content-Type": "application/octet-stream"}, endless(100 << 20), 100 << 20

    with Scripted(_gcs_answer(listing, media)) as srv:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", srv.url)
        monkeypatch.chdir(repo)
        r, peak = traced(attest, "provenance", "local://", "--artifacts", "gs://b/p/")
    assert r.code == 2, r.err
    assert "gs://b/p/kubectl: changed while it was being hashed (listed with 11 bytes" in r.err
    one_line(r)
    assert peak < 16 << 20, peak  # the 100 MiB body was never held


def test_release_asset_longer_than_listed(attest, github, repo, monkeypatch) -> None:
    assets = "/repos/kubernetes/kubernetes/releases/170000001/assets"
    doc = json.loads((GH / "release-assets.json").read_text())[:1]
    doc[0]["size"] = 11
    doc[0].pop("digest")
    github.json(f"{assets}?per_page=100", doc)
    github.raw("/repos/kubernetes/kubernetes/releases/assets/190000001", b"x" * (8 << 20))
    monkeypatch.chdir(repo)
    r, peak = traced(attest, "provenance", "local://", "--artifacts",
             "github-release://kubernetes/kubernetes/v1.31.0")
    assert r.code == 2
    assert "asset kubernetes.tar.gz: longer than the 11 bytes listed" in r.err, r.err
    assert peak < 4 << 20, peak


def test_github_api_answer_over_the_cap(attest, monkeypatch, repo) -> None:
    from attester.clients.githubapi import MAX_API_BYTES

    def answer(method: str, path: str, query: dict[str, list[str]]) -> Any:
        return 200, {"Content-Type": "application/json"}, endless(MAX_API_BYTES + 10), None

    with Scripted(answer) as srv:
        monkeypatch.setenv("GITHUB_API_URL", srv.url)
        monkeypatch.chdir(repo)
        r = attest("provenance", "local://", "--artifacts", "github-release://o/r/v1")
    assert r.code == 2 and "GitHub API answer: more than 64 MiB; refusing it" in r.err, r.err


def test_trickling_answer_is_cut_off(attest, monkeypatch, repo) -> None:
    import time

    from attester.clients import httpget

    monkeypatch.setattr(httpget, "MAX_ANSWER_SECONDS", 1.0)

    def trickle() -> Iterator[bytes]:
        for _ in range(200):  # 60 s in all, far past the (lowered) bound
            time.sleep(0.3)
            yield b" "

    def answer(method: str, path: str, query: dict[str, list[str]]) -> Any:
        return 200, {"Content-Type": "application/json"}, trickle(), None

    with Scripted(answer) as srv:
        monkeypatch.setenv("GITHUB_API_URL", srv.url)
        monkeypatch.chdir(repo)
        r = attest("provenance", "local://", "--artifacts", "github-release://o/r/v1")
    assert r.code == 2
    assert "GitHub API answer: still arriving after 1 s; refusing a server that trickles" \
        in r.err, r.err
    one_line(r)


# -- item 11: one reader, typed shapes ------------------------------------------------------

@pytest.mark.parametrize(("mutate", "needle"), [
    (lambda a: a.update(size="11"), "assets: field '[0].size' is a string, expected a whole"),
    (lambda a: a.update(name=["x"]), "assets: field '[0].name' is a list, expected a string"),
    (lambda a: a.update(name=""), "assets: field [0].name '' is not a file name"),
    (lambda a: a.update(url=None), "assets: field '[0].url' is null, expected a string"),
    (lambda a: a.pop("url"), "assets: field '[0].url' is missing"),
    (lambda a: a.update(id=True), "assets: field '[0].id' is true/false, expected a whole"),
])
def test_release_answers_of_the_wrong_type(attest, github, repo, monkeypatch, mutate,
                                           needle) -> None:
    assets = "/repos/kubernetes/kubernetes/releases/170000001/assets"
    doc = json.loads((GH / "release-assets.json").read_text())
    mutate(doc[0])
    github.json(f"{assets}?per_page=100", doc)
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts",
               "github-release://kubernetes/kubernetes/v1.31.0")
    assert r.code == 2 and needle in r.err, r.err
    assert "github-release://kubernetes/kubernetes/v1.31.0" in r.err
    one_line(r)


@pytest.mark.parametrize(("mutate", "needle"), [
    (lambda a: a.update(id="1840000001"), "field 'artifacts[0].id' is a string"),
    (lambda a: a.update(expired="no"), "field 'artifacts[0].expired' is a string, expected "
                                       "true or false"),
    (lambda a: a.update(archive_download_url={}), "field 'artifacts[0].archive_download_url' "
                                                  "is an object"),
])
def test_run_artifact_answers_of_the_wrong_type(attest, github, repo, monkeypatch, mutate,
                                                needle) -> None:
    path = "/repos/kubernetes/kubernetes/actions/runs/9000001/artifacts"
    doc = json.loads((GH / "artifacts-9000001.json").read_text())
    mutate(doc["artifacts"][0])
    github.json(f"{path}?per_page=100", doc)
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts",
               "github-artifacts://kubernetes/kubernetes/9000001")
    assert r.code == 2 and needle in r.err, r.err
    one_line(r)


def test_github_answer_nested_100000_deep(attest, github, repo, monkeypatch) -> None:
    github.raw("/repos/kubernetes/kubernetes/releases/tags/v1.31.0", b"[" * 100_000,
               "application/json")
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts",
               "github-release://kubernetes/kubernetes/v1.31.0")
    assert r.code == 2
    assert "GitHub API answer: nested more than 128 levels deep; refusing it" in r.err, r.err
    one_line(r)


def _index_registry(index: bytes) -> Any:
    digest = "sha256:" + hashlib.sha256(index).hexdigest()

    def answer(method: str, path: str, query: dict[str, list[str]]) -> Any:
        if path.endswith("/manifests/v1"):
            return 200, {"Content-Type": "application/vnd.oci.image.index.v1+json",
                         "Docker-Content-Digest": digest}, index, len(index)
        return json_answer({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "x"}]}, 404)
    return answer


@pytest.mark.parametrize(("platform", "needle"), [
    ("linux/amd64", "field 'manifests[0].platform' is a string, expected an object"),
    (["linux"], "field 'manifests[0].platform' is a list, expected an object"),
    ({"os": 7}, "field 'manifests[0].platform.os' is a number, expected a string"),
])
def test_index_platform_of_the_wrong_shape(attest, tmp_path, platform, needle) -> None:
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 2,
         "digest": "sha256:" + "ab" * 32, "platform": platform}]}).encode()
    with Scripted(_index_registry(index)) as srv:
        r = attest("start", "--artifacts", f"oci://{srv.host}/app:v1", "--oci-platforms",
                   "-o", tmp_path / "s.json")
    assert r.code == 2 and needle in r.err, r.err
    assert f"oci://{srv.host}/app:v1: image index" in r.err
    one_line(r)


def test_index_nested_100000_deep(attest, tmp_path) -> None:
    with Scripted(_index_registry(b'{"manifests": ' + b"[" * 100_000)) as srv:
        r = attest("start", "--artifacts", f"oci://{srv.host}/app:v1", "--oci-platforms",
                   "-o", tmp_path / "s.json")
    assert r.code == 2 and "image index: nested more than 128 levels deep" in r.err, r.err
    one_line(r)


@pytest.mark.parametrize(("doc", "needle"), [
    ([{"payload": "e30=", "payloadType": "x"}], "attach signed attestations only"),
    ({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "dsseEnvelope": []},
     "field 'dsseEnvelope' is a list, expected an object"),
    ({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
      "dsseEnvelope": {"payload": "W10=", "payloadType": "x", "signatures": []}},
     "payload: the answer is a list, expected an object"),
    ({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
      "dsseEnvelope": {"payload": "eyJzdWJqZWN0Ijp7fX0=", "payloadType": "x"}},
     "payload: field 'subject' is an object, expected a list"),
    ({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
      "dsseEnvelope": {"payload": "eyJzdWJqZWN0IjpbW11dfQ==", "payloadType": "x"}},
     "payload: field 'subject[0]' is a list, expected an object"),
])
def test_attach_given_lists_where_objects_belong(attest, tmp_path, doc, needle) -> None:
    att = tmp_path / "att.json"
    att.write_text(json.dumps(doc))
    r = attest("attach", "oci://127.0.0.1:1/app:v1", att)
    assert r.code == 2 and needle in r.err, r.err
    one_line(r)


# -- item 12: zip stores --------------------------------------------------------------------

def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo("x")
            info.filename = name  # zipfile's own writer cannot name an entry "" otherwise
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


@pytest.mark.parametrize(("entries", "needle"), [
    ({"": b"x"}, "an entry has an empty name; refusing the archive"),
    ({"kubectl": b"a", "KUBECTL": b"b"}, "entries 'kubectl' and 'KUBECTL' differ only by case "
                                         "or Unicode normalisation"),
    ({"caf\u00e9": b"a", "cafe\u0301": b"b"}, "differ only by case or Unicode normalisation"),
])
def test_zip_names_that_are_one_file(attest, github, entries, needle) -> None:
    github.raw("/repos/kubernetes/kubernetes/actions/artifacts/1840000001/zip", _zip(entries))
    path = "/repos/kubernetes/kubernetes/actions/runs/9000001/artifacts"
    doc = json.loads((GH / "artifacts-9000001.json").read_text())
    doc["artifacts"] = doc["artifacts"][:1]
    doc["artifacts"][0].pop("digest")
    github.json(f"{path}?per_page=100", doc)
    r = attest("start", "--artifacts", "github-artifacts://kubernetes/kubernetes/9000001",
               "-o", "-")
    assert r.code == 2 and needle in r.err, r.err
    one_line(r)


def _one_artifact(github: Replay, data: bytes) -> None:
    github.raw("/repos/kubernetes/kubernetes/actions/artifacts/1840000001/zip", data)
    path = "/repos/kubernetes/kubernetes/actions/runs/9000001/artifacts"
    doc = json.loads((GH / "artifacts-9000001.json").read_text())
    doc["artifacts"] = doc["artifacts"][:1]
    doc["artifacts"][0].pop("digest")
    github.json(f"{path}?per_page=100", doc)


def test_zip_total_inflation_ratio_is_capped(attest, github) -> None:
    # 40 entries of 1 MiB of zeros: each under the per-entry ratio floor, together 1000:1.
    data = _zip({f"part{i:02d}": bytes(1 << 20) for i in range(40)})
    assert len(data) < 100_000
    _one_artifact(github, data)
    r = attest("start", "--artifacts", "github-artifacts://kubernetes/kubernetes/9000001",
               "-o", "-")
    assert r.code == 2
    assert "-byte archive, over 200:1 together (zip bomb?); refusing the archive" in r.err, r.err
    one_line(r)


def test_zip_total_inflation_is_capped(attest, github, monkeypatch) -> None:
    import os

    from attester.stores import github_artifacts

    # The cap lowered so the test inflates megabytes, not gigabytes; the bytes do not
    # compress, so only the total cap can refuse them.
    monkeypatch.setattr(github_artifacts, "MAX_TOTAL_BYTES", 4 << 20)
    _one_artifact(github, _zip({f"part{i}": os.urandom(1 << 20) for i in range(5)}))
    r = attest("start", "--artifacts", "github-artifacts://kubernetes/kubernetes/9000001",
               "-o", "-")
    assert r.code == 2
    assert "entries would inflate to more than 4194304 bytes together (zip bomb?)" in r.err
    one_line(r)


# -- item 13: YAML without anchors and aliases ----------------------------------------------

BILLION = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
                    + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]"
                       for i in range(1, 9)]) + "\n"


def test_yaml_aliases_refused_in_manifests(attest, tmp_path) -> None:
    m = tmp_path / "promoter-manifest.yaml"
    m.write_text(BILLION + "registries: []\nimages: []\n")
    r, peak = traced(attest, "promote", "--manifest", m)
    assert r.code == 2
    assert f"manifest {m}: YAML anchors and aliases (&name, *name) are not accepted (line 1)" \
        in r.err, r.err
    one_line(r)
    assert peak < 64 << 20, peak  # imports included; the expansion alone took 1.6 GB
    m.write_text("registries: &r [{name: a, src: true}]\nimages: []\n")
    r = attest("promote", "--manifest", m)
    assert r.code == 2 and "anchors and aliases" in r.err


# -- item 15: referrer tags are never images ------------------------------------------------

def test_fallback_and_cosign_tags_are_not_images(attest, registry, repo, monkeypatch,
                                                 tmp_path) -> None:
    from test_store_oci import push_image, push_manifest

    image, _ = push_image(registry, "ref/app", "v1")
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts", f"oci://{registry}/ref/app:v1",
               "-o", tmp_path / "p.json")
    assert r.code == 0, r.err
    signed = _sign(attest, tmp_path, tmp_path / "p.json")
    r = attest("attach", f"oci://{registry}/ref/app:v1", signed)  # writes sha256-<hex>
    assert r.code == 0, r.err
    _, body = push_image(registry, "ref/app", "scratch")
    hexd = image.removeprefix("sha256:")
    for tag in (f"{hexd}.sig", f"{hexd}.att"):  # cosign's tags, as cosign names them
        push_manifest(registry, "ref/app", f"sha256-{tag}", body,
                      "application/vnd.oci.image.manifest.v1+json")
    r = attest("provenance", "local://", "--artifacts", f"oci://{registry}/ref/app")
    assert r.code == 0, r.err
    names = sorted(s["name"] for s in json.loads(r.out)["subject"])
    assert names == [f"{registry}/ref/app:scratch", f"{registry}/ref/app:v1"]
    r = attest("verify", signed, "--key", tmp_path / "k.pub", "--artifacts",
               f"oci://{registry}/ref/app", "--require-complete")
    assert r.code == 1, r.err  # scratch is uncovered: the fallback tag no longer is
    assert "sha256-" not in r.err and "ref/app:scratch" in r.err + r.out


# -- docs/limits.md states the limits the code enforces -------------------------------------

def test_limits_page_states_every_limit() -> None:
    from attester import jsonio
    from attester.clients import githubapi, httpget, pager
    from attester.stores import gcs, github_artifacts, oci, oci_referrers
    from attester.watchers import cloudbuild

    page = (TESTDATA.parent / "docs" / "limits.md").read_text()
    stated = {
        "| pages per listing | 1000 |": pager.MAX_PAGES == 1000,
        "| items per listing | 200,000 |": pager.MAX_ITEMS == 200_000,
        "still say \"next\" | 3 |": pager.MAX_EMPTY_PAGES == 3,
        "(one page, one object) | 64 MiB |": githubapi.MAX_API_BYTES == 64 << 20,
        "object metadata) | 32 MiB |": gcs.MAX_API_BYTES == 32 << 20,
        "tag list page | 4 MiB": oci.MAX_MANIFEST_BYTES == 4 << 20,
        "blob in a registry | 16 MiB |": oci_referrers.MAX_ATTESTATION_BYTES == 16 << 20,
        "token answers) | 1 MiB |": httpget.MAX_UNLISTED_BYTES == 1 << 20,
        "must also arrive within\n300 s": httpget.MAX_ANSWER_SECONDS == 300,
        "zip download | 20 GiB |": github_artifacts.MAX_ZIP_BYTES == 20 << 30,
        "(`cloudbuild://`) | 16 MiB |": cloudbuild.MAX_MANIFEST_BYTES == 16 << 20,
        "bundle) | 256 MiB |": jsonio.MAX_DOCUMENT_BYTES == 256 << 20,
        "kpromo manifest) | 16 MiB |": jsonio.MAX_YAML_BYTES == 16 << 20,
        "| 128 levels, checked before parsing |": jsonio.MAX_DEPTH == 128,
        "| integer literal | 100 digits |": jsonio.MAX_INT_DIGITS == 100,
        "| one entry | 10 GiB |": github_artifacts.MAX_ENTRY_BYTES == 10 << 30,
        "(entries over 1 MiB) | 200:1 |": github_artifacts.MAX_RATIO == 200
        and github_artifacts.RATIO_FLOOR == 1 << 20,
        "together | 20 GiB |": github_artifacts.MAX_TOTAL_BYTES == 20 << 30,
        "| entries per archive | 100,000 |": github_artifacts.MAX_ENTRIES == 100_000,
    }
    for row, agrees in stated.items():
        assert row in page, f"docs/limits.md no longer states {row!r}"
        assert agrees, f"docs/limits.md states {row!r}, the code enforces another value"


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("repository", "kubernetes/kubernetes", "field 'repository' is a string, expected an object"),
    ("path", None, "field 'path' is null, expected a string"),
    ("head_sha", [], "field 'head_sha' is a list, expected a string"),
    ("run_attempt", "1", "field 'run_attempt' is a string, expected a whole number"),
])
def test_workflow_run_of_the_wrong_shape(attest, github, field, value, needle) -> None:
    run = json.loads((GH / "run-9000001.json").read_text())
    run[field] = value
    for path in ("/repos/kubernetes/kubernetes/actions/runs/9000001",
                 "/repos/kubernetes/kubernetes/actions/runs/9000001/attempts/1"):
        github.json(path, run)
    r = attest("provenance", "github://kubernetes/kubernetes/9000001")
    assert r.code == 2 and needle in r.err, r.err
    assert "github://kubernetes/kubernetes/9000001: GitHub API answer" in r.err
    one_line(r)
