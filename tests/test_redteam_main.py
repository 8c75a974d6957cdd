"""Red-team of attester as it stands on main (this session): each test reproduces an
input that made verification pass when it should fail, exit with the wrong code, crash
or leak, and asserts the exit code and message it now gets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_fail_closed import ARTIFACT, Release

from conftest import interop_path

#: a Sigstore bundle signed by a managed key over a file: no statement at all
FILE_BUNDLE = ("conformance", "managed-key-happy-path", "bundle.sigstore.json")


@pytest.fixture
def rel(tmp_path: Path) -> Release:
    return Release(tmp_path)


def clean(r: Any) -> None:
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err


# -- one unusable document among several (--chain, audit) ------------------------------

def test_chain_reads_every_document_when_one_cannot_be_checked(attest, rel) -> None:
    """A signature over a file among the --chain documents raised its unanswerable
    requirement for the whole chain (exit 2) before the good ones after it were read. It
    is now that document's problem, named (exit 1: every document given must verify),
    and the good links are still followed."""
    planted = rel.tmp / "planted.sigstore.json"
    shutil.copy(interop_path(*FILE_BUNDLE), planted)
    r = attest("verify", "--chain", planted, "--chain", rel.stage, "--chain", rel.release,
               "--policy", rel.policy, "--artifact", rel.artifact, "--format", "json")
    assert r.code == 1, (r.code, r.err)
    checks = {c["check"]: c for c in r.json()["checks"]}
    bad = checks[f"attestation {planted}"]
    assert not bad["ok"] and "cannot be checked as a release-chain link" in bad["detail"]
    assert "with no statement" in bad["detail"]
    assert all(c["ok"] for n, c in checks.items() if n.startswith("chain "))
    clean(r)
    # alone, it is the command's usage error (nothing could be checked)
    r = attest("verify", "--chain", planted, "--policy", rel.policy,
               "--artifact", rel.artifact)
    assert r.code == 2 and "with no statement" in r.err, r.err
    clean(r)


@pytest.mark.parametrize("planted", [
    pytest.param(json.dumps({"hello": "world"}), id="json-not-an-attestation"),
    pytest.param(interop_path(*FILE_BUNDLE).read_text(), id="signature-over-a-file"),
])
def test_audit_names_a_document_it_cannot_check_and_reads_the_rest(
        attest, rel, tmp_path, planted) -> None:
    """In a release folder, one planted document (JSON that is no attestation, a bundle
    over a file) aborted the whole audit (exit 2) unread; now it is an attestation
    problem row naming the file, and every artifact row is still worked out."""
    d = tmp_path / "v1"
    d.mkdir()
    for f in (rel.stage, rel.release):
        (d / f.name).write_bytes(f.read_bytes())
    (d / "kubectl").write_bytes(ARTIFACT)
    (d / "aaa.intoto.json").write_text(planted)
    r = attest("audit", d, "--policy", rel.policy, "--format", "json")
    assert r.code == 1, (r.code, r.err)
    doc = r.json()
    assert {row["artifact"]: row["verdict"] for row in doc["artifacts"]} == {"kubectl": "PASS"}
    assert any(p.startswith("attestation aaa.intoto.json: cannot be checked")
               for p in doc["attestationProblems"]), doc["attestationProblems"]
    clean(r)


def test_file_promotion_reads_every_provenance_when_one_cannot_be_checked(
        attest, rel, tmp_path, monkeypatch) -> None:
    """promote --require-provenance over files: a --provenance document that cannot be
    checked (JSON that is no attestation) was the command's error before the good staging
    attestation after it was read (exit 2); now the good one covers the file."""
    from test_redteam_chain import _file_promotion

    monkeypatch.chdir(rel.tmp)
    _file_promotion(rel, tmp_path, ("kubectl",))
    planted = rel.tmp / "planted.intoto.json"
    planted.write_text('{"hello": "world"}')
    base = ["promote", "--manifest", "fp.yaml", "--files", "files.yaml",
            "--require-provenance", "require", "--key", "stage.pub"]
    r = attest(*base, "--provenance", planted, "--provenance", rel.stage)
    assert r.code == 0, (r.code, r.err)
    # alone it is the command's usage error; and named where nothing covers a file
    r = attest(*base, "--provenance", planted)
    assert r.code == 2 and "neither a DSSE envelope nor a Sigstore bundle" in r.err, r.err
    _file_promotion(rel, tmp_path, ("kubectl", "evil"))
    r = attest(*base, "--provenance", planted, "--provenance", rel.stage)
    assert r.code == 1 and f"{planted} cannot be checked" in r.err, r.err
    clean(r)


# -- flags a mode cannot honour are refused, never dropped -------------------------------

@pytest.mark.parametrize(("extra", "clash"), [
    (["--npm-publish-key", "stage.pub"], "--npm-publish-key"),
    (["--rekor-url", "https://rekor.example"], "--rekor-url"),
    (["--staging"], "--staging"),
])
def test_one_file_with_a_policy_refuses_signer_flags_it_would_drop(
        attest, rel, monkeypatch, extra, clash) -> None:
    """verify ATTESTATION --policy FILE takes its signers and trusted root from the policy
    file: --npm-publish-key (a requirement refused, exit 2, without --policy), --rekor-url
    and --staging were accepted and dropped unread (exit 0)."""
    monkeypatch.chdir(rel.tmp)
    r = attest("verify", rel.stage, "--policy", rel.policy, "--artifact", rel.artifact, *extra)
    assert r.code == 2 and f"--policy and {clash} contradict each other" in r.err, r.err


def test_rekor_url_with_a_key_is_refused(attest, rel) -> None:
    """--rekor-url looks a bare envelope up in Rekor only for a keyless signer; with --key
    (cosign's --key --rekor-url checks the log) it was accepted and no log was asked."""
    r = attest("verify", rel.stage, "--key", rel.tmp / "stage.pub", "--artifact", rel.artifact,
               "--rekor-url", "https://rekor.example")
    assert r.code == 2 and "--rekor-url and --key contradict each other" in r.err, r.err


def test_rekor_url_is_checked_with_chain_too(attest, rel) -> None:
    """--chain took --rekor-url unchecked (plain http to any host, a query string), which
    a single file's verify refuses."""
    r = attest("verify", "--chain", rel.stage, "--artifact", rel.artifact,
               "--certificate-identity", "i", "--certificate-oidc-issuer", "u",
               "--rekor-url", "http://rekor.example")
    assert r.code == 2 and "--rekor-url http://rekor.example: use https://" in r.err, r.err


def test_one_file_with_a_policy_says_what_its_form_cannot_answer(attest, rel) -> None:
    """A signature over a file verified against a policy file's steps (which need a
    statement): every step's unanswerable requirement was swallowed into 'no step names a
    signer that can verify it' (exit 1); it is a requirement no evidence can answer
    (exit 2, naming why)."""
    r = attest("verify", interop_path(*FILE_BUNDLE), "--policy", rel.policy,
               "--artifact", interop_path("conformance", "a.txt"))
    assert r.code == 2 and "with no statement" in r.err, r.err
    clean(r)


# -- verify --artifacts STORE --attestations DIR -----------------------------------------

def test_batch_with_nothing_to_verify_is_not_a_pass(attest, rel, tmp_path) -> None:
    """An empty --attestations folder verified nothing and exited 0 ('1 without
    attestation; 0 attestation(s)'); stores that list no artifacts likewise. Both are
    now exit 2: nothing could be checked."""
    dist, atts = tmp_path / "dist", tmp_path / "atts"
    dist.mkdir()
    atts.mkdir()
    (dist / "kubectl").write_bytes(ARTIFACT)
    key = rel.tmp / "stage.pub"
    r = attest("verify", "--artifacts", f"file://{dist}", "--attestations", atts, "--key", key)
    assert r.code == 2 and f"--attestations {atts}: no attestations" in r.err, (r.code, r.err)
    clean(r)
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(rel.stage, atts / "kubectl.intoto.json")
    r = attest("verify", "--artifacts", f"file://{empty}", "--attestations", atts, "--key", key)
    assert r.code == 2 and "no artifacts to verify" in r.err, (r.code, r.err)
    # one folder holding both: the attestations are not artifacts
    r = attest("verify", "--artifacts", f"file://{atts}", "--attestations", atts, "--key", key)
    assert r.code == 2 and "no artifacts to verify" in r.err, (r.code, r.err)
    # and the same store with its artifact passes
    r = attest("verify", "--artifacts", f"file://{dist}", "--attestations", atts, "--key", key)
    assert r.code == 0, (r.code, r.out, r.err)


@pytest.mark.parametrize(("planted", "extra", "said"), [
    pytest.param(("sigstore", "sp_a.dsse.staging-rekor-v2.txt.sigstore.json"), [],
                 "is a Sigstore bundle: name its signer", id="keyless-bundle-with-only-a-key"),
    pytest.param(FILE_BUNDLE, ["--builder-id", "https://builder.example/v1",
                               "--offline"],
                 "with no statement", id="signature-over-a-file-and-a-builder-id"),
])
def test_batch_one_planted_document_is_its_own_failure(attest, rel, tmp_path, planted,
                                                       extra, said) -> None:
    """One document in the attestations folder that raises a usage error of its own made
    the whole release exit 2 with no verdict (the good attestation unreported); it is that
    document's failure, named (exit 1), and alone it is still exit 2."""
    dist, atts = tmp_path / "dist", tmp_path / "atts"
    dist.mkdir()
    atts.mkdir()
    (dist / "kubectl").write_bytes(ARTIFACT)
    shutil.copy(rel.stage, atts / "kubectl.intoto.json")
    shutil.copy(interop_path(*planted), atts / "zz.sigstore.json")
    args = ["--artifacts", f"file://{dist}", "--key", rel.tmp / "stage.pub", *extra,
            "--format", "json"]
    r = attest("verify", "--attestations", atts, *args)
    assert r.code == 1, (r.code, r.err)
    doc = r.json()
    assert {a["artifact"]: a["status"] for a in doc["artifacts"]} == {"kubectl": "ok"}
    assert [p["attestation"] for p in doc["problems"]] == [str(atts / "zz.sigstore.json")]
    assert said in doc["problems"][0]["detail"], doc["problems"]
    clean(r)
    (atts / "kubectl.intoto.json").unlink()
    r = attest("verify", "--attestations", atts, *args)
    assert r.code == 2 and said in r.err, (r.code, r.err)


# -- secrets: the GitHub token and ~/.netrc credentials stay with the API host -----------

@pytest.mark.parametrize("netrc", [False, True], ids=["token", "netrc"])
@pytest.mark.parametrize("store", ["release", "run-artifacts", "bundle_url"])
def test_github_token_goes_only_to_the_api_host(attest, monkeypatch, tmp_path, repo,
                                                store, netrc) -> None:
    """A release asset's 'url' and a run artifact's 'archive_download_url' come from the
    API's answer; the download sent 'Authorization: Bearer $GITHUB_TOKEN' to whatever host
    they named (plain http too), and requests added ~/.netrc credentials for it (a
    bundle_url as well). Now the token goes only to the API's own host, and no session
    reads ~/.netrc."""
    from test_github import GH, TOKEN, serve_github

    from replay import Replay

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NETRC", str(home / ".netrc"))
    with Replay() as api, Replay() as evil:
        if netrc:
            (home / ".netrc").write_text("machine 127.0.0.1 login netrc-user password "
                                         "netrc-secret-0123\n")
            (home / ".netrc").chmod(0o600)
        serve_github(api)
        monkeypatch.setenv("GITHUB_API_URL", api.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
        monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.01")
        monkeypatch.delenv("GH_TOKEN", raising=False)
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
        monkeypatch.chdir(repo)
        if store == "release":
            listing = json.loads((GH.parent / "github" / "release-assets.json").read_text())
            for asset in listing:
                asset["url"] = asset["url"].replace("{BASE}", evil.url)
                evil.raw(asset["url"].removeprefix(evil.url),
                         (GH / "blobs" / asset["name"]).read_bytes())
            api.json("/repos/kubernetes/kubernetes/releases/170000001/assets?per_page=100",
                     listing)
            r = attest("provenance", "local://", "--artifacts",
                       "github-release://kubernetes/kubernetes/v1.31.0")
            assert r.code == 0, r.err  # the assets are still read, and hashed as listed
        elif store == "run-artifacts":
            listing = json.loads((GH.parent / "github" / "artifacts-9000001.json").read_text())
            for art in listing["artifacts"]:
                art["archive_download_url"] = art["archive_download_url"].replace(
                    "{BASE}", evil.url)
            evil.raw("/repos/kubernetes/kubernetes/actions/artifacts/1840000001/zip",
                     (GH / "blobs" / "binaries.zip").read_bytes(), "application/zip")
            evil.raw("/repos/kubernetes/kubernetes/actions/artifacts/1840000002/zip",
                     (GH / "blobs" / "sbom.zip").read_bytes(), "application/zip")
            api.json("/repos/kubernetes/kubernetes/actions/runs/9000001/artifacts?per_page=100",
                     listing)
            r = attest("provenance", "github://kubernetes/kubernetes/9000001")
            assert r.code == 0, r.err
        else:
            bundle = interop_path("sigstore", "sp_a.dsse.staging-rekor-v2.txt.sigstore.json")
            import cramjam

            evil.raw("/bundle", bytes(cramjam.snappy.compress_raw(bundle.read_bytes())))
            digest = "sha256:" + "a" * 64
            api.json(f"/orgs/example/attestations/{digest}?per_page=30",
                     {"attestations": [{"bundle_url": evil.url + "/bundle"}]})
            r = attest("download", "--digest", digest, "--owner", "example",
                       "-o", tmp_path)
            assert r.code == 0, r.err
        assert evil.authorizations, "the hostile host was never asked"
        assert all(a == "" for a in evil.authorizations), evil.authorizations
        assert any(a == f"Bearer {TOKEN}" for a in api.authorizations)
        assert all("Basic" not in a for a in api.authorizations + evil.authorizations)


# -- JSON Lines in --chain and audit: every line is an attestation -----------------------

def _two_lines(path: Path, *docs: Path) -> Path:
    path.write_text("".join(json.dumps(json.loads(d.read_text())) + "\n" for d in docs))
    return path


@pytest.mark.parametrize("second", ["forged", "contradicting"])
def test_every_line_of_a_jsonl_file_is_checked_in_chain_and_audit(attest, rel, tmp_path,
                                                                    second) -> None:
    """--chain and audit verified only the first line of a .intoto.jsonl ('verifying the
    first'): a second line signed by nobody the policy trusts, or a stage attestation
    naming another digest for the same file (which as its own file fails 'chain
    consistency'), went unchecked and the audit passed. Each line is now an attestation,
    named 'PATH line N'."""
    from test_fail_closed import STAGE_TYPE, provenance, sign

    key = rel.keys["other" if second == "forged" else "stage"]
    other = sign(tmp_path / "other.intoto.json",
                 provenance(STAGE_TYPE, {"stage/v1.31.0/bin/kubectl": "b" * 64}), key)
    d = tmp_path / "v1"
    d.mkdir()
    _two_lines(d / "stage.intoto.jsonl", rel.stage, other)
    shutil.copy(rel.release, d / "release.intoto.json")
    (d / "kubectl").write_bytes(ARTIFACT)
    want = ("stage.intoto.jsonl line 2: not signed by any signer the policy trusts"
            if second == "forged" else "chain consistency")
    r = attest("audit", d, "--policy", rel.policy)
    assert r.code == 1 and want in r.out + r.err, (r.code, r.out, r.err)
    clean(r)
    r = attest("verify", "--chain", d / "stage.intoto.jsonl", "--chain",
               d / "release.intoto.json", "--policy", rel.policy, "--artifact", rel.artifact)
    assert r.code == 1 and want in r.err, (r.code, r.err)
    # a good second line is read too (it was ignored: the release had a gap)
    _two_lines(d / "stage.intoto.jsonl", rel.release, rel.stage)
    (d / "release.intoto.json").unlink()
    r = attest("audit", d, "--policy", rel.policy)
    assert r.code == 0, (r.code, r.out, r.err)


# -- a policy file's top-level source-uri, where one attestation is verified alone -------

EVIL_SOURCE = "source-uri: github.com/evil/other\n"


def test_one_file_against_a_policy_checks_its_source_uri(attest, rel) -> None:
    """verify ATTESTATION --policy FILE dropped the policy's top-level source-uri (only
    --chain and audit read it): a stage attestation built from another repository
    passed. A --source-uri contradicting it is exit 2, as with --chain."""
    rel.policy.write_text(rel.policy.read_text() + EVIL_SOURCE)
    r = attest("verify", rel.stage, "--policy", rel.policy, "--artifact", rel.artifact)
    assert r.code == 1 and "source-uri: source is 'git+https://github.com/kubernetes/" \
        "kubernetes', policy wants 'github.com/evil/other'" in r.err, (r.code, r.err)
    r = attest("verify", rel.stage, "--policy", rel.policy, "--artifact", rel.artifact,
               "--source-uri", "github.com/kubernetes/kubernetes")
    assert r.code == 2 and "contradicts the policy's source-uri" in r.err, (r.code, r.err)
    rel.policy.write_text(rel.policy.read_text().replace(
        EVIL_SOURCE, "source-uri: github.com/kubernetes/kubernetes\n"))
    r = attest("verify", rel.stage, "--policy", rel.policy, "--artifact", rel.artifact)
    assert r.code == 0, (r.code, r.err)


def test_promote_gate_checks_the_policy_source_uri(attest, rel, tmp_path, monkeypatch) -> None:
    """promote --require-provenance --policy took the stage step's keys but not the
    policy's top-level source-uri: staging provenance from another repository passed."""
    from test_redteam_chain import _file_promotion

    monkeypatch.chdir(rel.tmp)
    _file_promotion(rel, tmp_path, ("kubectl",))
    rel.policy.write_text(rel.policy.read_text() + EVIL_SOURCE)
    base = ["promote", "--manifest", "fp.yaml", "--files", "files.yaml",
            "--require-provenance", "require", "--policy", rel.policy,
            "--provenance", rel.stage]
    r = attest(*base)
    assert r.code == 1 and "policy wants 'github.com/evil/other'" in r.err, (r.code, r.err)
    rel.policy.write_text(rel.policy.read_text().replace(
        EVIL_SOURCE, "source-uri: github.com/kubernetes/kubernetes\n"))
    r = attest(*base)
    assert r.code == 0, (r.code, r.err)


# -- promote: flags a promotion cannot honour ---------------------------------------------

@pytest.mark.parametrize(("extra", "said"), [
    (["--images", "images.yaml"], "--images does not apply to a file promotion"),
    (["--canonical-registry", "registry.k8s.io"],
     "--canonical-registry does not apply to a file promotion"),
    (["--format", "promo-tools"], "--format promo-tools does not apply to a file promotion"),
    (["--oci-platforms"], "--oci-platforms does not apply to a file promotion"),
    (["--image", f"r.example/s/app@sha256:{'a' * 64}=r.example/p/app:v1"],
     "--image does not apply to a file promotion"),
])
def test_promote_refuses_flags_its_promotion_would_drop(attest, rel, tmp_path, monkeypatch,
                                                        extra, said) -> None:
    """A file promotion accepted --images (a file that need not exist), --canonical-registry,
    --format promo-tools and --oci-platforms, and --manifest took --image too, each
    dropped unread (exit 0)."""
    from test_redteam_chain import _file_promotion

    monkeypatch.chdir(rel.tmp)
    _file_promotion(rel, tmp_path, ("kubectl",))
    r = attest("promote", "--manifest", "fp.yaml", "--files", "files.yaml", "-o", "out.json",
               *extra)
    assert r.code == 2 and said in r.err, (r.code, r.err)
    assert not (rel.tmp / "out.json").exists()


def test_image_promotion_refuses_file_flags(attest) -> None:
    image = f"r.example/s/app@sha256:{'a' * 64}=r.example/p/app:v1"
    r = attest("promote", "--image", image, "--files", "files.yaml")
    assert r.code == 2 and "--files does not apply to an image promotion" in r.err, r.err
    r = attest("promote", "--image", image, "--oci-platforms")
    assert r.code == 2 and "--oci-platforms does not apply to an image promotion" in r.err


def test_audit_reads_a_bounded_images_txt(attest, rel, tmp_path) -> None:
    """audit read a release folder's images.txt whole, whatever its size (a hostile
    folder's 64 MiB file took ~200 MiB). It is read up to 16 MiB; more is an
    attestation problem naming it."""
    import tracemalloc

    from attester.release.audit import MAX_IMAGES_BYTES

    d = tmp_path / "v1"
    d.mkdir()
    for f in (rel.stage, rel.release):
        shutil.copy(f, d / f.name)
    (d / "kubectl").write_bytes(ARTIFACT)
    with open(d / "images.txt", "wb") as f:  # sparse: no disk, all of it read as zeros
        f.truncate(4 * MAX_IMAGES_BYTES)
    tracemalloc.start()
    try:
        r = attest("audit", d, "--policy", rel.policy, "--format", "json")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.code == 1, (r.code, r.err)
    assert any("images.txt" in p and f"larger than {MAX_IMAGES_BYTES} bytes" in p
               for p in r.json()["attestationProblems"]), r.json()["attestationProblems"]
    assert peak < 3 * MAX_IMAGES_BYTES, peak  # read in pieces, then joined: ~2.2x


def test_batch_honours_quiet(attest, rel, tmp_path) -> None:
    """--quiet silences verify's text report (README), but --attestations printed every
    artifact's line anyway: the flag was taken and ignored. Failures still print."""
    dist, atts = tmp_path / "dist", tmp_path / "atts"
    dist.mkdir()
    atts.mkdir()
    (dist / "kubectl").write_bytes(ARTIFACT)
    shutil.copy(rel.stage, atts / "kubectl.intoto.json")
    args = ["verify", "--artifacts", f"file://{dist}", "--attestations", atts,
            "--key", rel.tmp / "stage.pub", "--quiet"]
    r = attest(*args)
    assert r.code == 0 and r.out == "" and r.err == "", (r.out, r.err)
    (dist / "kubectl").write_bytes(b"changed\n")
    r = attest(*args)
    assert r.code == 1 and r.out == "" and "verification FAILED for kubectl" in r.err, r.err


# -- GitHub's attestation API: one broken entry among several ---------------------------

@pytest.mark.parametrize("broken", ["bundle_url 404", "bundle_url http", "not an object",
                                    "neither bundle nor bundle_url"])
def test_github_one_broken_entry_does_not_hide_a_good_one(attest, monkeypatch, broken) -> None:
    """An answer whose first entry has no usable bundle (its bundle_url 404s or is plain
    http, the entry is not an object or holds neither) aborted verify (exit 2) before the
    good inline bundle after it was read. It is that entry's failure; alone (or all of
    them) it is still exit 2, and `attest download` still refuses a partial copy."""
    from test_github_attestations import ROOT, TOKEN, WHL, _inline, _sha256, _sig

    from replay import Replay

    with Replay() as api, Replay() as blobs:
        api.token = TOKEN
        monkeypatch.setenv("GITHUB_API_URL", api.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.01")
        monkeypatch.delenv("GH_TOKEN", raising=False)
        bad = {"bundle_url 404": {"bundle": None, "bundle_url": f"{blobs.url}/gone"},
               "bundle_url http": {"bundle": None, "bundle_url": "http://example.com/b"},
               "not an object": 7,
               "neither bundle nor bundle_url": {"bundle": None, "bundle_url": None}}[broken]
        digest = f"sha256:{_sha256(_sig(WHL))}"
        path = f"/repos/trailofbits/rfc8785.py/attestations/{digest}"
        args = ["verify", "--artifact", _sig(WHL), "--trusted-root", _sig(ROOT),
                "--repo", "trailofbits/rfc8785.py", "--format", "json"]
        api.json(path, {"attestations": [bad, _inline(_sig(f"{WHL}.sigstore"))]})
        r = attest(*args)
        assert r.code == 0, (r.code, r.err)
        assert [c["verified"] for c in r.json()["attestations"]] == [False, True]
        api.json(path, {"attestations": [bad, bad]})
        r = attest(*args)
        assert r.code == 2, (r.code, r.err)
        api.json(path, {"attestations": [bad, _inline(_sig(f"{WHL}.sigstore"))]})
        r = attest("download", "--digest", digest, "--repo", "trailofbits/rfc8785.py")
        assert r.code == 2, (r.code, r.err)


def test_one_file_against_a_policy_reads_its_step_from_its_build_type(attest, rel) -> None:
    """verify ATTESTATION --policy FILE passed when any step's signer and rules passed: a
    release attestation signed with the stage key passed as 'stage' (the chain refuses
    it: a stage signer cannot vouch for a release). A release step's own build type now
    names the step whose signer it needs; third-party build types still pass any step
    (what 'attest policy init' drafts)."""
    from test_fail_closed import RELEASE_TYPE, SHA, STAGE_TYPE, provenance, sign

    forged = sign(rel.tmp / "release-by-stage.intoto.json", provenance(
        RELEASE_TYPE, {"bin/kubectl": SHA},
        [{"uri": "gs://staging/stage/v1.31.0/bin/kubectl", "digest": {"sha256": SHA}}]),
        rel.keys["stage"])
    r = attest("verify", forged, "--policy", rel.policy, "--artifact", rel.artifact)
    assert r.code == 1 and "is a release attestation (https://attester.dev/buildtypes/" \
        "release/v1); the stage signer cannot vouch for a release step" in r.err, r.err
    swapped = sign(rel.tmp / "stage-by-release.intoto.json",
                   provenance(STAGE_TYPE, {"kubectl": SHA}), rel.keys["release"])
    r = attest("verify", swapped, "--policy", rel.policy, "--artifact", rel.artifact)
    assert r.code == 1 and "the release signer cannot vouch for a stage step" in r.err
    for good in (rel.stage, rel.release):
        r = attest("verify", good, "--policy", rel.policy, "--artifact", rel.artifact)
        assert r.code == 0, (good, r.err)
    third = sign(rel.tmp / "third.intoto.json", provenance(
        "https://actions.github.io/buildtypes/workflow/v1", {"kubectl": SHA}), rel.keys["release"])
    r = attest("verify", third, "--policy", rel.policy, "--artifact", rel.artifact)
    assert r.code == 0, r.err


def test_one_jsonl_file_against_a_policy_finds_its_line_of_the_step(attest, rel,
                                                                    tmp_path) -> None:
    """JSON Lines under one file's --policy: the first passing line decided the step check,
    so a good stage line after a release line signed with the stage key was not found."""
    from test_fail_closed import RELEASE_TYPE, SHA, provenance, sign

    forged = sign(tmp_path / "f.intoto.json", provenance(
        RELEASE_TYPE, {"bin/kubectl": SHA},
        [{"uri": "gs://staging/stage/v1.31.0/bin/kubectl", "digest": {"sha256": SHA}}]),
        rel.keys["stage"])
    both = _two_lines(tmp_path / "both.intoto.jsonl", forged, rel.stage)
    r = attest("verify", both, "--policy", rel.policy, "--artifact", rel.artifact)
    assert r.code == 0, r.err
    only = _two_lines(tmp_path / "only.intoto.jsonl", forged, forged)
    r = attest("verify", only, "--policy", rel.policy, "--artifact", rel.artifact)
    assert r.code == 1 and "the stage signer cannot vouch for a release step" in r.err, r.err


def test_cosign_keyed_signature_counts_keys_not_their_labels(tmp_path) -> None:
    """A keyed cosign .sig counted the labels of the keys it verified under: one key given
    as two files met --threshold 2 with one signature (the requirement gate refuses a
    threshold for this form today; the count must not depend on it)."""
    from attester.signing import keys
    from attester.stores.cosign_tags import SIGNATURE_ANNOTATION, CosignLayer
    from attester.verify.cosign_signatures import check_keyed
    from attester.verify.envelope import TrustedKey

    key = keys.generate("ed25519")
    payload = b'{"critical": {}}'
    import base64

    layer = CosignLayer(tag="sha256-x.sig", index=0, media_type="x", payload=payload,
                        annotations={SIGNATURE_ANNOTATION: base64.b64encode(
                            keys.sign(key, payload)).decode()})
    twice = [TrustedKey(label="a.pub", key=key.public_key()),
             TrustedKey(label="copy-of-a.pub", key=key.public_key())]
    assert not check_keyed(layer, twice, 2).ok
    assert check_keyed(layer, twice, 1).ok


def test_audit_judges_a_symlink_under_its_own_name(attest, rel, tmp_path) -> None:
    """A release folder's symlink was judged under the name of the file it leads to: a
    link bin/kube-apiserver -> kubectl passed as 'bin/kube-apiserver', though the release
    attests another digest for that name (whoever downloads the folder gets kubectl's
    bytes under it). It is judged under its own name now; a link no subject names is
    still found by its digest."""
    import hashlib
    import os

    from test_fail_closed import RELEASE_TYPE, SHA, STAGE_TYPE, provenance, sign

    other = hashlib.sha256(b"kube-apiserver v1.31.0\n").hexdigest()
    sign(rel.stage, provenance(STAGE_TYPE, {"stage/v1.31.0/bin/kubectl": SHA,
                                            "stage/v1.31.0/bin/kube-apiserver": other}),
         rel.keys["stage"])
    sign(rel.release, provenance(RELEASE_TYPE, {"bin/kubectl": SHA, "bin/kube-apiserver": other}, [
        {"uri": "gs://staging/stage/v1.31.0/bin/kubectl", "digest": {"sha256": SHA}},
        {"uri": "gs://staging/stage/v1.31.0/bin/kube-apiserver", "digest": {"sha256": other}}]),
        rel.keys["release"])
    d = tmp_path / "v1"
    (d / "bin").mkdir(parents=True)
    for f in (rel.stage, rel.release):
        shutil.copy(f, d / f.name)
    (d / "bin" / "kubectl").write_bytes(ARTIFACT)
    os.symlink("kubectl", d / "bin" / "kube-apiserver")
    os.symlink("bin/kubectl", d / "kubectl-latest")
    r = attest("audit", d, "--policy", rel.policy, "--format", "json")
    assert r.code == 1, (r.code, r.out, r.err)
    verdicts = {row["artifact"]: row["verdict"] for row in r.json()["artifacts"]}
    assert verdicts == {"bin/kubectl": "PASS", "bin/kube-apiserver": "FAIL",
                        "kubectl-latest": "PASS"}, verdicts


def test_download_refuses_a_file_it_would_not_hash(attest, rel, monkeypatch) -> None:
    """attest download FILE --digest D looked D up and said 'for FILE', never hashing FILE
    (whose attestations those may not be); --digest-alg next to --digest was dropped."""
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")  # never asked: refused first
    digest = "sha256:" + "a" * 64
    r = attest("download", rel.artifact, "--digest", digest, "--repo", "o/r")
    assert r.code == 2 and "give ARTIFACT or --digest, not both" in r.err, r.err
    r = attest("download", "--digest", digest, "--digest-alg", "sha512", "--repo", "o/r")
    assert r.code == 2 and "--digest-alg applies to ARTIFACT" in r.err, r.err


@pytest.mark.parametrize("extra", [["--identity-token", "eyJ.e30.x"],
                                   ["--trust-config", "trust.json"], ["--staging"]])
def test_sign_with_a_key_refuses_keyless_flags(attest, rel, tmp_path, extra) -> None:
    """attest sign --key took --identity-token, --trust-config and --staging and signed
    with the key, dropping them (exit 0)."""
    from test_fail_closed import SHA, STAGE_TYPE, provenance

    stmt = tmp_path / "s.json"
    stmt.write_text(json.dumps(provenance(STAGE_TYPE, {"kubectl": SHA})))
    key = tmp_path / "k.key"
    from attester.signing import keys

    key.write_bytes(keys.private_pem(rel.keys["stage"], None))
    r = attest("sign", stmt, "--key", key, "-o", tmp_path / "out.json", *extra)
    assert r.code == 2 and f"{extra[0]} applies to --keyless signing" in r.err, r.err
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize(("extra", "said"), [
    (["--location", "us-central1"], "--location does not apply to local:// builds"),
    (["--wait"], "--wait does not apply to local:// builds"),
    (["--wait-timeout", "5"], "--wait-timeout does not apply to local:// builds"),
    (["--allow-failed"], "--allow-failed does not apply to local:// builds"),
    (["--release-version", "v1.0.0"], "--release-version records a release step's version"),
    (["--build-version", "v1.0.0"], "--build-version records a release step's version"),
])
def test_provenance_refuses_flags_its_source_would_drop(attest, repo, monkeypatch, extra,
                                                         said) -> None:
    """attest provenance local:// took the Cloud Build and GitHub flags (--location,
    --wait, --wait-timeout, --allow-failed) and --release-version/--build-version without
    --step, and wrote provenance without them (exit 0)."""
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts", "file://dist", *extra)
    assert r.code == 2 and said in r.err and r.out == "", (r.code, r.err)
