"""Attestations from GitHub's attestation API (verify --owner/--repo with no ATTESTATION,
and attest download), through attester's REST client against a replay server shaped
like GitHub's REST API, serving real bundles from testdata/interop."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import cramjam
import pytest

from conftest import interop_path
from replay import Replay

TOKEN = "ghp_attestationreplay0123456789"


def _sig(name: str) -> Path:
    return interop_path("sigstore", name)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def api(monkeypatch) -> Iterator[Replay]:
    with Replay() as r:
        r.token = TOKEN
        monkeypatch.setenv("GITHUB_API_URL", r.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.01")
        monkeypatch.delenv("GH_TOKEN", raising=False)
        yield r


@pytest.fixture
def blobs() -> Iterator[Replay]:
    """Blob storage, where bundle_url points: another host, which gets no token."""
    with Replay() as r:
        yield r


def _answer(*items: dict) -> dict:
    """The API's answer: {"attestations": [{"bundle": {...}|null, "repository_id": N,
    "bundle_url": "..."|null}]} (docs.github.com, repos/list-attestations)."""
    return {"attestations": list(items)}


def _inline(bundle: Path) -> dict:
    return {"bundle": json.loads(bundle.read_text()), "repository_id": 768213997,
            "bundle_url": None}


WHL = "sp_bundle_v3_github.whl"
ROOT = "trusted_root.sigstore-production.json"


def _verify(*extra: object) -> list[object]:
    return ["verify", "--artifact", _sig(WHL), "--trusted-root", _sig(ROOT), *extra]


def test_repo_inline_bundle_verifies(attest, api) -> None:
    digest = f"sha256:{_sha256(_sig(WHL))}"
    api.json(f"/repos/trailofbits/rfc8785.py/attestations/{digest}",
             _answer(_inline(_sig(f"{WHL}.sigstore"))))
    r = attest(*_verify("--repo", "trailofbits/rfc8785.py"))
    assert r.code == 0, r.err
    assert "verified github:trailofbits/rfc8785.py attestation 1 of 1" in r.out
    assert "repo: certificate says https://github.com/trailofbits/rfc8785.py" in r.out
    assert api.log == [f"/repos/trailofbits/rfc8785.py/attestations/{digest}?per_page=30"]
    # the true value passes, another fails
    r = attest(*_verify("--repo", "trailofbits/rfc8785.py", "--source-digest", "0" * 40))
    assert r.code == 1 and "certificate source-digest" in r.err


def test_org_paginated_with_bundle_url_and_json_lists_each(attest, api, blobs) -> None:
    digest = f"sha256:{_sha256(_sig(WHL))}"
    path = f"/orgs/trailofbits/attestations/{digest}"
    # page 1: a bundle over another file (its signature fails for this one); page 2: the real one by URL
    api.json(f"{path}?per_page=30", _answer(_inline(_sig("sp_bundle_v3.txt.sigstore"))),
             headers={"Link": f'<{api.url}{path}?per_page=30&after=Y3Vyc29y>; rel="next"'})
    blob = _sig(f"{WHL}.sigstore").read_bytes()
    blobs.raw("/attestations/1.bin", bytes(cramjam.snappy.compress_raw(blob)))
    api.json(f"{path}?per_page=30&after=Y3Vyc29y", _answer(
        {"bundle": None, "repository_id": 768213997,
         "bundle_url": f"{blobs.url}/attestations/1.bin"}))
    r = attest(*_verify("--owner", "trailofbits", "--format", "json"))
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["verified"] is True
    assert doc["attestation"] == "github:trailofbits attestation 2 of 2"
    assert [a["verified"] for a in doc["attestations"]] == [False, True]
    first = doc["attestations"][0]
    assert first["attestation"] == "github:trailofbits attestation 1 of 2"
    assert [(c["check"], c["ok"]) for c in first["checks"]] == [("signature", False)]
    assert blobs.log == ["/attestations/1.bin"]
    # --limit 1 asks for one per page and examines only that one, which fails
    api.json(f"{path}?per_page=1", _answer(_inline(_sig("sp_bundle_v3.txt.sigstore"))),
             headers={"Link": f'<{api.url}{path}?per_page=1&after=Y3Vyc29y>; rel="next"'})
    r = attest(*_verify("--owner", "trailofbits", "--limit", "1"))
    assert r.code == 1
    assert "github:trailofbits attestation 1 of 1" in r.err
    assert api.log[-1] == f"{path}?per_page=1"


def test_user_account_after_org_404(attest, api) -> None:
    digest = f"sha256:{_sha256(_sig(WHL))}"
    api.json(f"/users/trailofbits/attestations/{digest}",
             _answer(_inline(_sig(f"{WHL}.sigstore"))))
    r = attest(*_verify("--owner", "trailofbits"))
    assert r.code == 0, r.err
    assert [p.split("?")[0] for p in api.log] == [
        f"/orgs/trailofbits/attestations/{digest}", f"/users/trailofbits/attestations/{digest}"]


def test_public_good_bundle_without_trusted_root_uses_the_public_good_root(attest, api
                                                                          ) -> None:
    digest = f"sha256:{_sha256(_sig(WHL))}"
    api.json(f"/repos/trailofbits/rfc8785.py/attestations/{digest}",
             _answer(_inline(_sig(f"{WHL}.sigstore"))))
    r = attest("verify", "--artifact", _sig(WHL), "--offline", "--repo",
               "trailofbits/rfc8785.py")  # sigstore's embedded public-good root
    assert r.code == 0, r.err


def test_hostname_moves_the_identity_but_github_api_url_still_wins(attest, api) -> None:
    digest = f"sha256:{_sha256(_sig(WHL))}"
    api.json(f"/orgs/trailofbits/attestations/{digest}",
             _answer(_inline(_sig(f"{WHL}.sigstore"))))
    r = attest(*_verify("--owner", "trailofbits", "--hostname", "ghe.example.com"))
    assert r.code == 1  # asked the replay (GITHUB_API_URL), anchored on ghe.example.com
    assert api.log == [f"/orgs/trailofbits/attestations/{digest}?per_page=30"]
    assert "does not match (?i)https://ghe\\.example\\.com/trailofbits/.+" in r.err


def test_by_digest_without_the_file(attest, api) -> None:
    digest = f"sha256:{_sha256(_sig(WHL))}"
    api.json(f"/repos/trailofbits/rfc8785.py/attestations/{digest}",
             _answer(_inline(_sig(f"{WHL}.sigstore"))))
    r = attest("verify", "--digest", digest, "--trusted-root", _sig(ROOT),
               "--repo", "trailofbits/rfc8785.py")
    assert r.code == 0, r.err


def test_none_found_is_a_verification_failure(attest, api) -> None:
    digest = f"sha256:{_sha256(_sig(WHL))}"
    api.json(f"/repos/trailofbits/rfc8785.py/attestations/{digest}", _answer())
    r = attest(*_verify("--repo", "trailofbits/rfc8785.py"))
    assert r.code == 1
    assert f"no attestations for {digest} in trailofbits/rfc8785.py" in r.err
    r = attest(*_verify("--owner", "nobody"))  # no org, no user: nothing attested
    assert r.code == 1 and "no attestations for" in r.err


def test_404_401_rate_limit_and_5xx(attest, api, monkeypatch) -> None:
    r = attest(*_verify("--repo", "trailofbits/missing"))
    assert r.code == 2 and "not found on GitHub (404)" in r.err
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong")
    r = attest(*_verify("--repo", "trailofbits/rfc8785.py"))
    assert r.code == 2 and "GitHub rejected the token (401)" in r.err
    assert "ghp_wrong" not in r.err
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    digest = f"sha256:{_sha256(_sig(WHL))}"
    path = f"/repos/trailofbits/rfc8785.py/attestations/{digest}"
    api.json(path, _answer(_inline(_sig(f"{WHL}.sigstore"))))
    api.fail(path, (429, {"Retry-After": "0"}), (502, {}))
    r = attest(*_verify("--repo", "trailofbits/rfc8785.py"))
    assert r.code == 0, r.err
    assert len(api.log) == 2 + 3  # 404, 401, then 429, 502 and the answer
    # GitHub's primary rate limit: 403 with its message and X-RateLimit-Remaining: 0
    api.json(path, {"message": "API rate limit exceeded for 127.0.0.1.",
                    "documentation_url": "https://docs.github.com/rest/rate-limit"},
             status=403, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"})
    r = attest(*_verify("--repo", "trailofbits/rfc8785.py"))
    assert r.code == 2 and "GitHub rate limit exceeded" in r.err
    api.json(path, _answer(_inline(_sig(f"{WHL}.sigstore"))))
    api.fail(path, *[(503, {})] * 10)
    r = attest(*_verify("--repo", "trailofbits/rfc8785.py"))
    assert r.code == 2 and "answered 503 repeatedly" in r.err


@pytest.mark.parametrize(("answer", "needle"), [
    ([1, 2], "no attestations list"),
    ({"attestations": "x"}, "no attestations list"),
    ({"attestations": [7]}, "not an object"),
    ({"attestations": [{"bundle": None, "bundle_url": None}]}, "neither bundle nor"),
    ({"attestations": [{"bundle": "x"}]}, "bundle is not an object"),
    ({"attestations": [{"bundle_url": "http://example.com/b"}]}, "not https"),
    ({"attestations": [{}] * 101}, "at most 30 were asked for"),  # --limit 30
])
def test_hostile_answers_are_refused(attest, api, answer, needle) -> None:
    digest = f"sha256:{_sha256(_sig(WHL))}"
    api.json(f"/repos/o/r/attestations/{digest}", answer)
    r = attest(*_verify("--repo", "o/r"))
    assert r.code == 2 and needle in r.err, r.err
    assert r.err.count("\n") == 1


def test_bundle_url_bombs_and_garbage_are_refused(attest, api, blobs) -> None:
    digest = f"sha256:{_sha256(_sig(WHL))}"
    # a snappy preamble claiming 1 GiB decompressed; and bytes that are not snappy
    blobs.raw("/bomb", bytes([0x80, 0x80, 0x80, 0x80, 0x04]) + b"\x00" * 16)
    blobs.raw("/garbage", b"\x05not snappy at all")
    for name, needle in (("bomb", "over the 16 MiB cap"), ("garbage", "not snappy")):
        api.json(f"/repos/o/r/attestations/{digest}",
                 _answer({"bundle": None, "bundle_url": f"{blobs.url}/{name}"}))
        r = attest(*_verify("--repo", "o/r"))
        assert r.code == 2 and needle in r.err, r.err


def test_bad_limit_and_scope_are_usage_errors(attest, api) -> None:
    assert attest(*_verify("--repo", "o/r", "--limit", "0")).code == 2
    assert "between 1 and 1000" in attest(*_verify("--repo", "o/r", "--limit", "1001")).err
    assert attest(*_verify("--repo", "justone")).code == 2


def test_download_writes_jsonl_that_verifies_offline(attest, api, blobs, tmp_path) -> None:
    digest = f"sha256:{_sha256(_sig(WHL))}"
    blob = _sig(f"{WHL}.sigstore").read_bytes()
    blobs.raw("/b1", bytes(cramjam.snappy.compress_raw(blob)))
    api.json(f"/repos/trailofbits/rfc8785.py/attestations/{digest}", _answer(
        _inline(_sig(f"{WHL}.sigstore")), {"bundle": None, "bundle_url": f"{blobs.url}/b1"}))
    r = attest("download", _sig(WHL), "--repo", "trailofbits/rfc8785.py", "-o", tmp_path)
    assert r.code == 0, r.err
    out = tmp_path / f"{digest}.jsonl"
    lines = out.read_bytes().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0]) == json.loads(blob) == json.loads(lines[1])
    r = attest("verify", out, "--artifact", _sig(WHL), "--trusted-root", _sig(ROOT),
               "--offline", "--owner", "trailofbits")
    assert r.code == 0, r.err
    r = attest("download", "--digest", "sha256:" + "1" * 64, "--repo", "trailofbits/rfc8785.py",
               "-o", tmp_path)
    assert r.code == 2  # 404 from the replay: nothing recorded there
    api.json(f"/repos/trailofbits/rfc8785.py/attestations/sha256:{'2' * 64}", _answer())
    r = attest("download", "--digest", "sha256:" + "2" * 64, "--repo",
               "trailofbits/rfc8785.py", "-o", tmp_path)
    assert r.code == 1 and "no attestations for sha256:2222" in r.err


def test_real_dsse_provenance_from_the_api(attest, api) -> None:
    """sigstore-js's npm provenance (a DSSE bundle with an intoto entry, signed by its
    GitHub release workflow) served by the API verifies with gh's --owner policy."""
    rw = interop_path("realworld")
    tgz = rw / "npm_sigstore-2.2.0.tgz"
    digest = f"sha256:{_sha256(tgz)}"
    api.json(f"/orgs/sigstore/attestations/{digest}",
             _answer(_inline(rw / "gh_sigstore.js-3.0.0.bundle.json")))
    base = ["verify", "--artifact", tgz, "--trusted-root", _sig(ROOT), "--owner", "sigstore"]
    r = attest(*base, "--source-digest", "d9093d4b3b99d9ee446633ac7074e43cea78c727",
               "--workflow-trigger", "push", "--deny-self-hosted-runners")
    assert r.code == 0, r.err
    assert "source-digest: provenance says d9093d4b" in r.out
    r = attest(*base, "--workflow-trigger", "release")
    assert r.code == 1 and "policy wants 'release'" in r.err


def test_github_trust_domain_bundle_from_the_api(attest, api) -> None:
    """A private repository's provenance, signed in GitHub's own trust domain (no log, an
    RFC 3161 timestamp: cli/cli's test data), served by the API, verifies against
    GitHub's trusted root and fails against the public-good one."""
    rw = interop_path("realworld")
    whl = rw / "gh_github_provenance_demo-0.0.12-py3-none-any.whl"
    line = (rw / "gh_github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl").read_text()
    digest = f"sha256:{_sha256(whl)}"
    api.json(f"/repos/actions/attest-demo/attestations/{digest}", _answer(
        {"bundle": json.loads(line.splitlines()[0]), "repository_id": 763287532,
         "bundle_url": None}))
    base = ["verify", "--artifact", whl, "--repo", "actions/attest-demo", "--offline",
            "--source-digest", "a6c23b9806c593664f68637c8f9d45dfcf98b2db",
            "--workflow-trigger", "workflow_dispatch"]
    r = attest(*base, "--trusted-root", rw / "trusted_root.github.json")
    assert r.code == 0, r.err
    assert "workflow-trigger: provenance says workflow_dispatch" in r.out
    r = attest(*base, "--trusted-root", _sig(ROOT))
    assert r.code == 1
    # no --trusted-root: the leaf's issuer (GitHub's CA) picks GitHub's root, as gh does
    r = attest(*base)
    assert r.code == 0, r.err
    assert "by a trusted timestamp authority (the trusted root has no transparency log)" in r.out


def test_sha512_digest_of_npm_provenance_from_the_api(attest, api) -> None:
    rw = interop_path("realworld")
    tgz = rw / "npm_sigstore-2.2.0.tgz"
    sha512 = hashlib.sha512(tgz.read_bytes()).hexdigest()
    api.json(f"/orgs/sigstore/attestations/sha512:{sha512}",
             _answer(_inline(rw / "gh_sigstore.js-3.0.0.bundle.json")))
    base = ["verify", "--trusted-root", _sig(ROOT), "--owner", "sigstore"]
    r = attest(*base, "--digest", f"sha512:{sha512}")
    assert r.code == 0, r.err
    assert f"matches subject 'pkg:npm/sigstore@2.2.0' by digest (sha512:{sha512})" in r.out
    other = "0" * 128
    api.json(f"/orgs/sigstore/attestations/sha512:{other}",
             _answer(_inline(rw / "gh_sigstore.js-3.0.0.bundle.json")))
    r = attest(*base, "--digest", f"sha512:{other}")
    assert r.code == 1 and "no subject covers it" in r.err


@pytest.mark.registry
def test_image_attestations_by_the_manifest_digest(attest, api, repo, monkeypatch,
                                                   tmp_path) -> None:
    """--artifact oci://IMAGE (and download oci://IMAGE) look the image up by its manifest
    digest, as gh does, and the image must be a subject."""
    from test_store_oci import push_image

    from servers import oci_registry

    monkeypatch.chdir(repo)
    (tmp_path / "registry").mkdir()
    with oci_registry(tmp_path / "registry") as reg:
        digest, _ = push_image(reg, "staging/app", "v1")
        image = f"oci://{reg}/staging/app:v1"
        assert attest("provenance", "local://", "--artifacts", image, "-o", "p.json").code == 0
        assert attest("keygen", "--out", "k").code == 0
        assert attest("sign", "p.json", "--key", "k.key", "-o", "p.intoto.json").code == 0
        envelope = json.loads((repo / "p.intoto.json").read_text())
        api.json(f"/orgs/example/attestations/{digest}",
                 _answer({"bundle": envelope, "repository_id": 1, "bundle_url": None}))
        r = attest("verify", "--artifact", image, "--owner", "example", "--key", "k.pub")
        assert r.code == 0, r.err
        assert f"matches subject '{reg}/staging/app:v1'" in r.out
        r = attest("download", image, "--owner", "example", "-o", tmp_path)
        assert r.code == 0, r.err
        assert (tmp_path / f"{digest}.jsonl").read_text().count("\n") == 1
        other, _ = push_image(reg, "staging/other", "v1")
        api.json(f"/orgs/example/attestations/{other}",
                 _answer({"bundle": envelope, "repository_id": 1, "bundle_url": None}))
        r = attest("verify", "--artifact", f"oci://{reg}/staging/other:v1", "--owner",
                   "example", "--key", "k.pub")
        assert r.code == 1 and "no subject covers it" in r.err


def test_rego_judges_attestations_from_the_api(attest, api, tmp_path) -> None:
    """Rego policies (issue 19 item 2) run on what GitHub's API served, once verified."""
    rw = interop_path("realworld")
    tgz = rw / "npm_sigstore-2.2.0.tgz"
    digest = f"sha256:{_sha256(tgz)}"
    api.json(f"/orgs/sigstore/attestations/{digest}",
             _answer(_inline(rw / "gh_sigstore.js-3.0.0.bundle.json")))
    policy = tmp_path / "p.rego"
    policy.write_text("package sigstore\nimport rego.v1\ndefault isCompliant := false\n"
                      "isCompliant if input.signer.extensions.buildTrigger == \"push\"\n")
    base = ["verify", "--artifact", tgz, "--trusted-root", _sig(ROOT), "--owner", "sigstore"]
    r = attest(*base, "--rego", policy)
    assert r.code == 0, r.err
    assert f"rego {policy}: package sigstore allows" in r.out
    policy.write_text(policy.read_text().replace('"push"', '"release"'))
    r = attest(*base, "--rego", policy)
    assert r.code == 1 and "isCompliant is False" in r.err
