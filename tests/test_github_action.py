"""The GitHub Action (.github/actions/attest/action.yml) run as a job runs it: each step's
shell script under ``bash --noprofile --norc -eo pipefail`` with its ``env`` evaluated
from the inputs, in a job-like environment (GITHUB_* variables, GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY files), against a replay of GitHub's API, the Sigstore stand-in and
Debian's docker-registry. The install step is skipped: attester is already installed."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_github import GHA_ENV

from attester.signing import keys

from conftest import ROOT, TESTDATA
from replay import Replay

ACTION = ROOT / ".github" / "actions" / "attest" / "action.yml"
TOKEN = "ghp_actionreplay0123456789"
_EXPR = re.compile(r"\$\{\{\s*([a-z]+)\.([A-Za-z0-9_-]+)\s*\}\}")


def run_action(inputs: dict[str, str], job_env: dict[str, str], workdir: Path
               ) -> tuple[dict[str, str], str, subprocess.CompletedProcess[str]]:
    """Run the action's steps; (outputs, job summary, last step's process)."""
    action = yaml.safe_load(ACTION.read_text())
    given = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    unknown = set(inputs) - set(given)
    assert not unknown, f"not inputs of the action: {unknown}"
    given.update(inputs)
    out_file, summary_file = workdir / "github_output", workdir / "step_summary"
    out_file.write_text("")
    summary_file.write_text("")
    context = {"github": {"action_path": str(ACTION.parent), "token": job_env["GITHUB_TOKEN"]}}

    def evaluate(text: str) -> str:
        def one(m: re.Match[str]) -> str:
            scope, name = m[1], m[2]
            if scope == "inputs":
                return evaluate(given[name])
            return context[scope][name]

        return _EXPR.sub(one, text)

    env = {**job_env, "GITHUB_OUTPUT": str(out_file), "GITHUB_STEP_SUMMARY": str(summary_file),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = None
    for step in action["runs"]["steps"]:
        if step["name"] == "Install attester":
            continue
        assert step["shell"] == "bash"
        step_env = {k: evaluate(str(v)) for k, v in (step.get("env") or {}).items()}
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                               step["run"]], cwd=workdir, env={**env, **step_env},
                              capture_output=True, text=True, check=False)
        if proc.returncode:
            break
    assert proc is not None
    outputs = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if line)
    return outputs, summary_file.read_text(), proc


@pytest.fixture
def job(tmp_path) -> dict[str, str]:
    """What the runner exports to a job's steps (no ambient tokens from this machine)."""
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR")}
    (tmp_path / "dist").mkdir()
    for f in (TESTDATA / "dist").rglob("*"):
        if f.is_file():
            target = tmp_path / "dist" / f.relative_to(TESTDATA / "dist")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.read_bytes())
    return {**keep, **GHA_ENV, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": "http://127.0.0.1:9",
            "ATTEST_RETRY_BASE_DELAY": "0.01"}


def test_keyed_provenance_and_job_summary(attest, job, tmp_path) -> None:
    key = keys.generate("ecdsa-p256")
    (tmp_path / "release.key").write_bytes(keys.private_pem(key, None))
    (tmp_path / "release.pub").write_bytes(keys.public_pem(key.public_key()))
    outputs, summary, proc = run_action({"artifacts": "file://dist", "key": "release.key",
                                         "output": "prov.intoto.json"}, job, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert outputs["attestation"] == "prov.intoto.json"
    assert "attestation-url" not in outputs  # a keyed envelope is not uploaded
    r = attest("verify", tmp_path / "prov.intoto.json", "--key", tmp_path / "release.pub",
               "--artifact", tmp_path / "dist" / "bin" / "kubectl", "--source-uri",
               "github.com/kubernetes/kubernetes", "--workflow-trigger", "release")
    assert r.code == 0, r.err
    assert "## Attestation" in summary and "| bin/kubectl | `sha256:" in summary
    assert "- written to `prov.intoto.json`" in summary


def test_checksums_input(job, tmp_path) -> None:
    sums = subprocess.run(["sha256sum", "kubectl"], cwd=tmp_path / "dist" / "bin", check=True,
                          capture_output=True, text=True).stdout
    (tmp_path / "checksums.txt").write_text(sums.replace("kubectl", "dist/bin/kubectl"))
    outputs, summary, proc = run_action({"subject-checksums": "checksums.txt"}, job, tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / outputs["attestation"]).read_text())
    assert [s["name"] for s in doc["subject"]] == ["dist/bin/kubectl"]
    assert "| dist/bin/kubectl |" in summary


def test_keyless_signed_and_uploaded_to_the_attestation_api(attest, job, tmp_path,
                                                            standin) -> None:
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))
    with Replay() as api:
        api.token = TOKEN
        api.json("/repos/kubernetes/kubernetes/attestations", {"id": 4242}, status=201)
        token = standin.token("release-bot@example.com")
        job = {**job, "GITHUB_API_URL": api.url, "SIGSTORE_ID_TOKEN": token}
        outputs, summary, proc = run_action(
            {"artifacts": "file://dist", "keyless": "true", "trust-config": "trust.json",
             "output": "prov.sigstore.json"}, job, tmp_path)
        assert proc.returncode == 0, proc.stderr
        [(path, body)] = api.posted
    assert path == "/repos/kubernetes/kubernetes/attestations"
    bundle = json.loads((tmp_path / "prov.sigstore.json").read_text())
    assert json.loads(body) == {"bundle": bundle}
    url = "https://github.com/kubernetes/kubernetes/attestations/4242"
    assert outputs["attestation-url"] == url
    assert f"- stored in GitHub's attestation API: {url}" in summary
    assert token not in proc.stdout + proc.stderr + summary + body.decode()
    assert TOKEN not in proc.stdout + proc.stderr + summary
    r = attest("verify", tmp_path / "prov.sigstore.json", "--trusted-root",
               tmp_path / "root.json", "--offline", "--certificate-identity",
               "release-bot@example.com", "--certificate-oidc-issuer", standin.issuer,
               "--artifact", tmp_path / "dist" / "bin" / "kubectl")
    assert r.code == 0, r.err


def test_upload_failure_fails_the_step(job, tmp_path, standin) -> None:
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    with Replay() as api:
        api.token = TOKEN
        job = {**job, "GITHUB_API_URL": api.url, "GITHUB_TOKEN": "ghp_not_the_token",
               "SIGSTORE_ID_TOKEN": standin.token("release-bot@example.com")}
        _, summary, proc = run_action({"artifacts": "file://dist", "keyless": "true",
                                       "trust-config": "trust.json",
                                       "github-token": "ghp_not_the_token"}, job, tmp_path)
    assert proc.returncode == 2
    assert "GitHub rejected the token (401)" in proc.stderr
    assert "ghp_not_the_token" not in proc.stderr
    assert summary == ""


@pytest.mark.registry
def test_push_to_registry_attaches_to_the_image(attest, job, tmp_path) -> None:
    from test_store_oci import push_image

    from servers import oci_registry

    key = keys.generate("ecdsa-p256")
    (tmp_path / "release.key").write_bytes(keys.private_pem(key, None))
    (tmp_path / "release.pub").write_bytes(keys.public_pem(key.public_key()))
    (tmp_path / "registry").mkdir()
    with oci_registry(tmp_path / "registry") as reg:
        digest, _ = push_image(reg, "staging/app", "v1")
        image = f"oci://{reg}/staging/app@{digest}"
        outputs, summary, proc = run_action({"artifacts": image, "key": "release.key",
                                             "push-to-registry": image}, job, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert f"- attached to `{image}`" in summary
        r = attest("verify", image, "--key", tmp_path / "release.pub", "--source-uri",
                   "github.com/kubernetes/kubernetes")
        assert r.code == 0, r.err
    env = json.loads((tmp_path / outputs["attestation"]).read_text())
    stmt = json.loads(base64.b64decode(env["payload"]))
    assert stmt["subject"][0]["digest"]["sha256"] == digest.removeprefix("sha256:")


def test_push_to_registry_needs_a_signature(job, tmp_path) -> None:
    _, _, proc = run_action({"artifacts": "file://dist",
                             "push-to-registry": "oci://127.0.0.1:9/x@sha256:" + "0" * 64},
                            job, tmp_path)
    assert proc.returncode == 2
    assert "push-to-registry needs a signed attestation" in proc.stderr
