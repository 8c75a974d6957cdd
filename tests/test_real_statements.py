"""Policies read real provenance (GitHub's, Cloud Build's, from testdata/interop) the way the
tools they come from do: builder ids, sources, refs and build types of each layout."""

from __future__ import annotations

import pytest

from attester.jsonio import dumps_compact
from attester.signing import keys
from attester.signing.signers import sign_envelope
from attester.signing.signers.keyfile import KeyFileSigner

from conftest import interop_path

CASES = {
    "cli-cli_custom-issuer.statement.json": [
        "--builder-id", "https://github.com/too-legit/attest/.github/workflows/integration.yml@refs/heads/main",
        "--source-uri", "github.com/too-legit/attest", "--source-branch", "main",
        "--build-type", "https://actions.github.io/buildtypes/workflow/v1"],
    "cli-cli_reusable-workflow-attestation.statement.json": [
        "--builder-id", "https://github.com/actions/runner/github-hosted",
        "--source-uri", "https://github.com/malancas/attest-demo", "--source-ref", "refs/heads/main",
        "--build-type", "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"],
    "slsa-verifier_gcb_v0.1_GoogleHostedWorker@v0.3.statement.json": [
        "--builder-id", "https://cloudbuild.googleapis.com/GoogleHostedWorker",  # any version
        "--source-uri", "github.com/laurentsimon/gcb-tests",
        "--build-type", "https://cloudbuild.googleapis.com/CloudBuildYaml@v0.1"],
    "slsa-verifier_gcb_v1.0-valid.statement.json": [
        "--builder-id", "https://cloudbuild.googleapis.com/GoogleHostedWorker",
        "--source-uri", "github.com/khalkie/gcb-prod-prov", "--source-branch", "main",
        "--build-type", "https://cloud.google.com/build/gcb-buildtypes/google-worker/v1"],
}


def _signed(tmp_path, name: str):
    path = interop_path("provenance", name)
    key = keys.generate("ecdsa-p256")
    (tmp_path / "k.pub").write_bytes(keys.public_pem(key.public_key()))
    env = sign_envelope("application/vnd.in-toto+json", path.read_bytes(), [KeyFileSigner(key)])
    (tmp_path / "att.json").write_bytes(dumps_compact(env.to_json()))
    return tmp_path / "att.json", tmp_path / "k.pub"


@pytest.mark.parametrize("name", sorted(CASES))
def test_policies_read_real_layouts(attest, tmp_path, name) -> None:
    att, pub = _signed(tmp_path, name)
    r = attest("verify", att, "--key", pub, *CASES[name])
    assert r.code == 0, r.err
    r = attest("verify", att, "--key", pub, "--source-uri", "github.com/someone/else")
    assert r.code == 1 and "source-uri: source is" in r.err


def test_builder_version_forms_on_real_gcb(attest, tmp_path) -> None:
    att, pub = _signed(tmp_path, "slsa-verifier_gcb_v0.1_GoogleHostedWorker@v0.3.statement.json")
    base = "https://cloudbuild.googleapis.com/GoogleHostedWorker"
    assert attest("verify", att, "--key", pub, "--builder-id", f"{base}@v0.3").code == 0
    r = attest("verify", att, "--key", pub, "--builder-id", f"{base}@v0.2")
    assert r.code == 1 and "builder-id: builder id is" in r.err
