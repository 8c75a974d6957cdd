"""attest policy init (issue 19 item 4): a policy drafted from verified known-good
attestations passes on them with attest verify --policy, and fails on a release from a
fork or another builder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import git, interop_path

RW = interop_path("realworld")
ROOT = interop_path("sigstore", "trusted_root.sigstore-production.json")
#: slsa-github-generator BYOB releases of slsa-framework/example-package (slsa-verifier's data)
BYOB = {"maven": ("sv_gha_maven-v2.0.0-push-v14.build.slsa",
                  "sv_gha_maven-v2.0.0-binary-linux-amd64-push-v14"),
        "gradle": ("sv_gha_gradle-v2.1.0-push-v13.0.30.build.slsa",
                   "sv_gha_gradle-v2.1.0-binary-linux-amd64-push-v13.0.30"),
        "delegator": ("sv_gha_delegator-v2.0.0-push-v14.2.build.slsa",
                      "sv_gha_delegator-v2.0.0-binary-linux-amd64-push-v14.2"),
        "container": ("sv_gha_container-based-v2.0.0-workflow_dispatch.intoto.build.slsa",
                      "sv_gha_container-based-v2.0.0-binary-linux-amd64-workflow_dispatch")}


def _verify(attest, policy, name: str):
    att, art = BYOB[name]
    return attest("verify", RW / att, "--policy", policy, "--artifact", RW / art)


def test_draft_from_real_releases_passes_on_them(attest, tmp_path, no_network) -> None:
    policy = tmp_path / "policy.yaml"
    r = attest("policy", "init", *(RW / BYOB[n][0] for n in ("maven", "gradle", "delegator")),
               "--trusted-root", ROOT, "--offline", "-o", policy)
    assert r.code == 0, r.err
    text = policy.read_text()
    step = yaml.safe_load(text)["steps"]["release"]
    assert step["certificate-oidc-issuer"] == "https://token.actions.githubusercontent.com"
    assert step["source-uri"] == "github.com/slsa-framework/example-package"
    assert step["source-ref-pattern"] == r"refs/tags/v\d.*"
    assert step["predicate-types"] == ["https://slsa.dev/provenance/v1"]
    assert "delegator_generic_slsa3" in step["certificate-identity-regexp"]
    # every line says what it pins
    assert "# pins the source repository: a fork's release names another" in text
    assert "# pins the signer: the certificate identity (SAN)" in text
    for name in ("maven", "gradle", "delegator"):
        r = _verify(attest, policy, name)
        assert r.code == 0, (name, r.err)
        assert "ok  policy step: release of" in r.out
    # a release of another builder (the container-based one) was never known-good
    r = _verify(attest, policy, "container")
    assert r.code == 1
    assert "certificate-identity: certificate identity https://github.com/slsa-framework/" \
        "slsa-github-generator/.github/workflows/builder_container-based_slsa3.yml" in r.err


def test_draft_pins_one_identity_exactly_and_the_branch(attest, tmp_path, no_network) -> None:
    demo = RW / "gh_github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl"
    r = attest("policy", "init", demo, "--trusted-root", RW / "trusted_root.github.json",
               "--offline")
    assert r.code == 0, r.err
    step = yaml.safe_load(r.out)["steps"]["release"]
    assert step["certificate-identity"] == ("https://github.com/actions/attest-demo/.github/"
                                            "workflows/build-python.yml@refs/heads/main")
    assert step["source-branch"] == "main"
    assert step["builder-id"] == "https://github.com/actions/runner/github-hosted"


@pytest.fixture
def releases(attest, standin, repo, monkeypatch, tmp_path):
    """A known-good keyless release of github.com/example/project, and a fork's release
    (same tooling, its own repository), both signed through the Sigstore stand-in."""
    monkeypatch.chdir(repo)
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))

    def release(name: str, owner: str, identity: str) -> str:
        git(repo, "remote", "set-url", "origin", f"https://github.com/{owner}/project.git")
        assert attest("provenance", "local://", "--artifacts", "file://dist", "-o",
                      f"{name}.json").code == 0
        token = standin.token(identity, github={"repository": f"{owner}/project",
                                                "ref": "refs/heads/main",
                                                "sha": git(repo, "rev-parse", "HEAD")})
        r = attest("sign", f"{name}.json", "--keyless", "--identity-token", token,
                   "--trust-config", tmp_path / "trust.json", "-o", f"{name}.sigstore.json")
        assert r.code == 0, r.err
        return f"{name}.sigstore.json"

    good = release("good", "example", "release-bot@example.com")
    fork = release("fork", "fork", "release-bot@example.com")
    return good, fork, tmp_path / "root.json"


def test_release_from_a_fork_fails_the_drafted_policy(attest, releases) -> None:
    good, fork, root = releases
    r = attest("policy", "init", good, "--trusted-root", root, "-o", "drafted.yaml")
    assert r.code == 0, r.err
    step = yaml.safe_load(Path("drafted.yaml").read_text())["steps"]["release"]
    assert step["certificate-identity"] == "release-bot@example.com"
    assert step["source-uri"] == "github.com/example/project"
    r = attest("verify", good, "--policy", "drafted.yaml", "--artifact", "dist/bin/kubectl")
    assert r.code == 0, r.err
    # the fork signs with the very same identity, yet names its own repository
    r = attest("verify", fork, "--policy", "drafted.yaml", "--artifact", "dist/bin/kubectl")
    assert r.code == 1
    assert "source-uri: source is 'git+https://github.com/fork/project.git', policy wants " \
        "'github.com/example/project'" in r.err


def test_draft_for_keyed_attestations_pins_the_key(attest, tmp_path) -> None:
    keyed = interop_path("keyed")
    policy = tmp_path / "keyed.yaml"
    r = attest("policy", "init", keyed / "ecdsa-p256.intoto.json", "--key",
               keyed / "ecdsa-p256.pub", "--step", "stage", "-o", policy)
    assert r.code == 0, r.err
    step = yaml.safe_load(policy.read_text())["steps"]["stage"]
    assert (policy.parent / step["keys"][0]).resolve() == (keyed / "ecdsa-p256.pub").resolve()
    assert step["builder-id"] == "https://cloudbuild.googleapis.com/GoogleHostedWorker"
    r = attest("verify", keyed / "ecdsa-p256.intoto.json", "--policy", policy)
    assert r.code == 0, r.err
    r = attest("verify", keyed / "ed25519.intoto.json", "--policy", policy)
    assert r.code == 1 and "signature: no valid signature by a trusted key" in r.err
    # the policy names the signer: a --key beside it is refused
    r = attest("verify", keyed / "ecdsa-p256.intoto.json", "--policy", policy, "--key",
               keyed / "ecdsa-p256.pub")
    assert r.code == 2 and "--key" in r.err and "--policy" in r.err


def test_an_attestation_that_does_not_verify_cannot_vouch(attest, tmp_path) -> None:
    keyed = interop_path("keyed")
    r = attest("policy", "init", keyed / "ecdsa-p256.tampered-payload.intoto.json", "--key",
               keyed / "ecdsa-p256.pub")
    assert r.code == 2
    assert "does not verify, so it cannot vouch for a policy: signature:" in r.err
    assert r.out == ""


def test_a_signer_without_issuer_is_refused_not_drafted_loose(attest, tmp_path) -> None:
    # GitHub's release attestations: a certificate with no issuer; a policy file pins an
    # identity with its issuer, so nothing is drafted that verify would then refuse
    r = attest("policy", "init", RW / "gh_github_release_bundle.json", "--trusted-root",
               RW / "trusted_root.github.json", "--offline", "-o", tmp_path / "p.yaml")
    assert r.code == 2
    assert "the certificates name no OIDC issuer" in r.err
    assert not (tmp_path / "p.yaml").exists()
