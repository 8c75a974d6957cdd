"""The Rego policies of docs/policy-cookbook.md (issue 19 item 6), taken from the page as
written: each passes the release its recipe is about (the docs test runs that) and here
also refuses what it exists to refuse, with its message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import ROOT, interop_path

PAGE = ROOT / "docs" / "policy-cookbook.md"
RW = interop_path("realworld")
PROD = interop_path("sigstore", "trusted_root.sigstore-production.json")
MAVEN = ["verify", RW / "sv_gha_maven-v2.0.0-push-v14.build.slsa", "--artifact",
         RW / "sv_gha_maven-v2.0.0-binary-linux-amd64-push-v14", "--trusted-root", PROD,
         "--offline", "--certificate-identity", "https://github.com/slsa-framework/"
         "slsa-github-generator/.github/workflows/delegator_lowperms-generic_slsa3.yml"
         "@refs/tags/v2.0.0", "--certificate-oidc-issuer",
         "https://token.actions.githubusercontent.com"]
GRADLE = ["verify", RW / "sv_gha_gradle-v2.1.0-push-v13.0.30.build.slsa", "--artifact",
          RW / "sv_gha_gradle-v2.1.0-binary-linux-amd64-push-v13.0.30", "--trusted-root", PROD,
          "--offline", "--certificate-identity", "https://github.com/slsa-framework/"
          "slsa-github-generator/.github/workflows/delegator_lowperms-generic_slsa3.yml"
          "@refs/tags/v2.1.0", "--certificate-oidc-issuer",
          "https://token.actions.githubusercontent.com"]
#: actions/attest-build-provenance's provenance of actions/attest-demo, built from main
DEMO = ["verify", RW / "gh_github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl",
        "--trusted-root", RW / "trusted_root.github.json", "--offline",
        "--artifact", RW / "gh_github_provenance_demo-0.0.12-py3-none-any.whl",
        "--certificate-identity", "https://github.com/actions/attest-demo/.github/workflows/"
        "build-python.yml@refs/heads/main",
        "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"]
VSA = ["verify", ROOT / "testdata" / "vsa" / "gke-gce-pre.bcid-vsa.jsonl", "--key",
       ROOT / "testdata" / "vsa" / "vsa_signing_public_key.pem"]


def policies() -> dict[str, str]:
    """Every ``cat > NAME.rego <<'EOF' ... EOF`` of the page."""
    text = PAGE.read_text()
    found = dict(re.findall(r"cat > (\w+\.rego) <<'EOF'\n(.*?)\nEOF\n", text, re.S))
    assert set(found) == {"signer.rego", "tags.rego", "reusable.rego", "hermetic.rego",
                          "deps.rego", "vsa.rego"}, sorted(found)
    return found


@pytest.fixture
def rego(tmp_path):
    texts = policies()

    def write(name: str) -> Path:
        path = tmp_path / name
        path.write_text(texts[name])
        return path

    return write


@pytest.mark.parametrize(("name", "passes"), [
    ("signer.rego", MAVEN), ("tags.rego", MAVEN), ("reusable.rego", MAVEN),
    ("hermetic.rego", MAVEN), ("deps.rego", MAVEN), ("vsa.rego", VSA)])
def test_each_recipe_passes_its_release(attest, rego, name, passes, no_network) -> None:
    r = attest(*passes, "--rego", rego(name))
    assert r.code == 0, r.err
    assert f"rego {rego(name)}: package " in r.out


@pytest.mark.parametrize(("name", "fails", "message"), [
    # the demo is signed by its own workflow, not slsa-github-generator's
    ("signer.rego", DEMO, "denied: isCompliant is False, not true"),
    # built from a branch
    ("tags.rego", DEMO, "certificate ref refs/heads/main is not a version tag"),
    # another release tag's workflow run
    ("reusable.rego", GRADLE, "denied: isCompliant is False, not true"),
    # a dependency from outside the allow-list
    ("deps.rego", DEMO, "dependency git+https://github.com/actions/attest-demo@refs/heads/main "
                        "is not on the allow-list"),
    # a provenance is no VSA
    ("vsa.rego", MAVEN, "denied: isCompliant is False, not true"),
])
def test_each_recipe_refuses_what_it_is_for(attest, rego, name, fails, message,
                                            no_network) -> None:
    r = attest(*fails, "--rego", rego(name))
    assert r.code == 1, r.out
    assert message in r.err, r.err


def test_hermetic_recipe_refuses_unpinned_inputs_and_unknown_runners(attest, rego, tmp_path
                                                                     ) -> None:
    # a statement signed with a key: no runner environment to show, and an input not
    # pinned by digest
    stmt = json.loads((interop_path("keyed") / "statement.json").read_text())
    stmt["predicate"]["buildDefinition"]["resolvedDependencies"].append(
        {"uri": "https://example.com/tool.tar.gz"})
    (tmp_path / "s.json").write_text(json.dumps(stmt))
    assert attest("keygen", "--out", tmp_path / "k").code == 0
    r = attest("sign", tmp_path / "s.json", "--key", tmp_path / "k.key", "-o", tmp_path / "s.dsse")
    assert r.code == 0, r.err
    r = attest("verify", tmp_path / "s.dsse", "--key", tmp_path / "k.pub", "--rego",
               rego("hermetic.rego"))
    assert r.code == 1
    assert "dependency https://example.com/tool.tar.gz is not pinned by digest" in r.err
    assert "runner is unstated, not github-hosted" in r.err
