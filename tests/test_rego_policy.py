"""--rego: Rego policies, as cosign and witness write them, over real verified provenance
(issue 19 item 1). Each test runs the CLI and asserts the exit code and its message."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import interop_path

RW = interop_path("realworld")
GCB = interop_path("gcb")

#: GitHub's own provenance of actions/attest-demo (actions/attest-build-provenance,
#: workflow/v1), a TSA-only bundle of GitHub's trust domain
DEMO = ["verify", RW / "gh_github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl",
        "--trusted-root", RW / "trusted_root.github.json", "--offline",
        "--artifact", RW / "gh_github_provenance_demo-0.0.12-py3-none-any.whl",
        "--certificate-identity",
        "https://github.com/actions/attest-demo/.github/workflows/build-python.yml@refs/heads/main",
        "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"]
#: slsa-github-generator's BYOB delegator (SLSA v1, intoto 0.0.2 entry), slsa-verifier's data
BYOB = ["verify", RW / "sv_gha_delegator-v2.0.0-push-v14.2.build.slsa",
        "--trusted-root", interop_path("sigstore", "trusted_root.sigstore-production.json"),
        "--offline", "--artifact", RW / "sv_gha_delegator-v2.0.0-binary-linux-amd64-push-v14.2",
        "--certificate-identity", "https://github.com/slsa-framework/slsa-github-generator/"
        ".github/workflows/delegator_generic_slsa3.yml@refs/tags/v2.0.0",
        "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"]

# Sigstore policy-controller's documented Rego attestation policy, copied verbatim from
# sigstore/policy-controller test/testdata/policy-controller/e2e/
# cip-keyless-with-attestations-rego.yaml (Apache-2.0): cosign's `package sigstore`,
# `default isCompliant = false` convention, in pre-1.0 Rego syntax.
COSIGN_DOCUMENTED = """\
package sigstore
default isCompliant = false
isCompliant {
  input.predicateType == "https://cosign.sigstore.dev/attestation/v1"
  input.predicate.Data == "foobar e2e test"
}
"""

# witness's documented Rego module, copied verbatim from in-toto/witness
# docs/concepts/policy.md ("The embedded rego policy above is:", Apache-2.0). witness runs it
# on a command-run attestor's JSON (input.cmd).
WITNESS_DOCUMENTED = """\
package commandrun.cmd

deny[msg] {
\tinput.cmd != ["go", "build", "-o=testapp", "."]
\tmsg := "unexpected cmd"
}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_cosign_documented_policy_denies_real_provenance(attest, tmp_path, no_network) -> None:
    policy = _write(tmp_path, "cip.rego", COSIGN_DOCUMENTED)
    r = attest(*DEMO, "--rego", policy)
    assert r.code == 1, r.err
    assert f"rego {policy}: denied: isCompliant is False, not true" in r.err


def test_cosign_convention_on_real_provenance_and_signer(attest, tmp_path, no_network) -> None:
    # The same convention, written for this provenance: what it says and who signed it.
    policy = _write(tmp_path, "gha.rego", """\
package sigstore
default isCompliant = false
isCompliant {
  input.predicateType == "https://slsa.dev/provenance/v1"
  input.predicate.buildDefinition.externalParameters.workflow.ref == "refs/heads/main"
  input.signer.kind == "certificate"
  input.signer.issuer == "https://token.actions.githubusercontent.com"
  input.signer.extensions.sourceRepositoryURI == "https://github.com/actions/attest-demo"
  input.signer.extensions.runnerEnvironment == "github-hosted"
}
""")
    r = attest(*DEMO, "--rego", policy)
    assert r.code == 0, r.err
    assert f"ok  rego {policy}: package sigstore allows" in r.out
    doc = attest(*DEMO, "--rego", policy, "--format", "json").json()
    assert {"check": f"rego {policy}", "ok": True,
            "detail": "package sigstore allows"} in doc["checks"]


def test_cosign_result_form_errors_and_warnings(attest, tmp_path, no_network) -> None:
    # policy-controller's other form: result with allow, errors and warnings (v1 syntax).
    deny = _write(tmp_path, "result.rego", """\
package sigstore
import rego.v1
errors contains msg if {
  input.predicate.runDetails.builder.id != "https://github.com/actions/runner/self-hosted"
  msg := sprintf("builder %s is not ours", [input.predicate.runDetails.builder.id])
}
warnings contains "no VSA yet"
result := {"allow": count(errors) == 0, "errors": errors, "warnings": warnings}
""")
    r = attest(*DEMO, "--rego", deny)
    assert r.code == 1
    assert "denied: builder https://github.com/actions/runner/github-hosted is not ours" in r.err
    allow = _write(tmp_path, "warn.rego", deny.read_text().replace("self-hosted", "github-hosted"))
    r = attest(*DEMO, "--rego", allow)
    assert r.code == 0, r.err
    assert "package sigstore allows (warnings: no VSA yet)" in r.out


def test_cosign_verify_attestation_package_signature(attest, tmp_path, no_network) -> None:
    # `cosign verify-attestation --policy` queries data.signature.allow
    policy = _write(tmp_path, "sig.rego", """\
package signature
default allow = false
allow {
  input.predicate.runDetails.builder.id == "https://github.com/actions/runner/github-hosted"
}
""")
    assert attest(*DEMO, "--rego", policy).code == 0
    policy.write_text(policy.read_text().replace("github-hosted\"", "self-hosted\""))
    r = attest(*DEMO, "--rego", policy)
    assert r.code == 1 and "denied: allow is False, not true" in r.err


def test_witness_documented_policy_is_understood(attest, tmp_path, no_network) -> None:
    # witness's module as documented: its deny rule is read. A provenance statement has no
    # input.cmd (that is a command-run attestor's field), so it denies nothing: Rego's
    # undefined is not a denial, exactly as OPA (and witness) evaluate it.
    documented = _write(tmp_path, "witness.rego", WITNESS_DOCUMENTED)
    r = attest(*DEMO, "--rego", documented)
    assert r.code == 0, r.err
    assert "package commandrun.cmd allows" in r.out
    # The same module, its rule pointed at what a provenance records (adapted from the
    # documented example above): every message is reported.
    adapted = _write(tmp_path, "witness-adapted.rego", """\
package commandrun.cmd

deny[msg] {
\tinput.predicate.buildDefinition.externalParameters.workflow.path != ".github/workflows/release.yml"
\tmsg := "unexpected workflow"
}

deny[msg] {
\tinput.predicate.buildDefinition.internalParameters.github.event_name != "release"
\tmsg := "not built for a release"
}
""")
    r = attest(*DEMO, "--rego", adapted)
    assert r.code == 1
    assert "denied: " in r.err and "unexpected workflow" in r.err
    assert "not built for a release" in r.err
    # deny as one string, as witness also accepts
    one = _write(tmp_path, "one.rego", "package p\nimport rego.v1\n"
                 "deny := \"no\" if input.predicateType\n")
    r = attest(*DEMO, "--rego", one)
    assert r.code == 1 and "denied: no" in r.err


def test_policy_that_does_not_parse_is_exit_2_with_its_line(attest, tmp_path) -> None:
    bad = _write(tmp_path, "bad.rego", "package sigstore\n\nisCompliant if {\n  input.a ==\n}\n")
    r = attest(*DEMO, "--rego", bad)
    assert r.code == 2
    assert f"rego policy {bad}:4: " in r.err and "Traceback" not in r.err
    assert r.out == ""  # rego-cpp's own error printout is silenced
    unclosed = _write(tmp_path, "unclosed.rego", "package sigstore\nisCompliant if {\n")
    r = attest(*DEMO, "--rego", unclosed)
    assert r.code == 2 and f"rego policy {unclosed}:2: this is unclosed" in r.err


def test_policy_that_decides_nothing_is_refused(attest, tmp_path) -> None:
    p = _write(tmp_path, "none.rego", "package sigstore\nok := true\n")
    r = attest(*DEMO, "--rego", p)
    assert r.code == 2
    assert "defines none of isCompliant, result, allow, deny: it decides nothing" in r.err
    # a rule without a default that the input leaves undefined decides nothing: refused
    p = _write(tmp_path, "undef.rego", "package sigstore\nimport rego.v1\n"
               "isCompliant if input.predicateType == \"other\"\n")
    r = attest(*DEMO, "--rego", p)
    assert r.code == 1 and "decided nothing" in r.err


def test_missing_policy_file_and_evaluation_errors(attest, tmp_path) -> None:
    r = attest(*DEMO, "--rego", tmp_path / "absent.rego")
    assert r.code == 2 and "absent.rego" in r.err
    p = _write(tmp_path, "err.rego", "package sigstore\nimport rego.v1\n"
               "isCompliant if input.x\nisCompliant := false if input.predicateType\n")
    r = attest(*DEMO, "--rego", p)
    assert r.code in (1, 2) and "Traceback" not in r.err


def test_keyed_envelope_signer_is_its_key_id(attest, tmp_path) -> None:
    from attester.signing import keys

    keyed = interop_path("keyed")
    kid = keys.keyid(keys.load_public(keyed / "ecdsa-p256.pub"))
    policy = _write(tmp_path, "key.rego", f"""\
package sigstore
import rego.v1
default isCompliant := false
isCompliant if {{
  input.signer.kind == "key"
  "{kid}" in input.signer.keyids
  input.predicate.runDetails.builder.id == "https://cloudbuild.googleapis.com/GoogleHostedWorker"
}}
""")
    args = ["verify", keyed / "ecdsa-p256.intoto.json", "--key", keyed / "ecdsa-p256.pub"]
    r = attest(*args, "--rego", policy)
    assert r.code == 0, r.err
    policy.write_text(policy.read_text().replace(kid, "0" * 64))
    r = attest(*args, "--rego", policy)
    assert r.code == 1 and "isCompliant is False" in r.err
    # a tampered payload never reaches the policy
    r = attest("verify", keyed / "ecdsa-p256.tampered-payload.intoto.json", "--key",
               keyed / "ecdsa-p256.pub", "--rego", policy)
    assert r.code == 1 and "signature: no valid signature" in r.err
    assert f"rego {policy}" not in r.out + r.err


def test_cloud_build_provenance_is_judged_by_rego(attest, tmp_path) -> None:
    policy = _write(tmp_path, "gcb.rego", """\
package sigstore
import rego.v1
default isCompliant := false
isCompliant if {
  input.signer.kind == "key"
  startswith(input.signer.keys[0], "Google Cloud Build key")
  input.predicate.builder.id == "https://cloudbuild.googleapis.com/GoogleHostedWorker@v0.2"
}
""")
    image = ("v0.2/gcloud-container-github@sha256:1a033b002f89ed2b8ea733162497fb70f1a4049a7f8"
             "602d6a33682b4ad9921fd")
    r = attest("verify", GCB / "v0.2" / "gcloud-container-github.json", "--artifact", image,
               "--rego", policy)
    assert r.code == 0, r.err
    assert f"rego {policy}: package sigstore allows" in r.out
    policy.write_text(policy.read_text().replace("@v0.2", "@v9"))
    r = attest("verify", GCB / "v0.2" / "gcloud-container-github.json", "--artifact", image,
               "--rego", policy)
    assert r.code == 1 and "isCompliant is False" in r.err


def test_rego_refused_for_a_signature_pair(attest, tmp_path) -> None:
    p = _write(tmp_path, "p.rego", COSIGN_DOCUMENTED)
    r = attest("verify", "--signature", "a.sig", "--certificate", "a.cert", "--artifact", "a",
               "--certificate-identity", "x@example.com", "--certificate-oidc-issuer",
               "https://accounts.google.com", "--rego", p)
    assert r.code == 2 and "--rego" in r.err


def test_missing_regopy_names_the_extra(attest, tmp_path, monkeypatch) -> None:
    p = _write(tmp_path, "p.rego", COSIGN_DOCUMENTED)
    monkeypatch.setitem(sys.modules, "regopy", None)
    r = attest(*DEMO, "--rego", p)
    assert r.code == 2 and "pip install 'attester[rego]'" in r.err


@pytest.mark.parametrize("args", [DEMO, BYOB], ids=["workflow-v1", "byob"])
def test_rego_reads_the_verified_statement_exactly(attest, tmp_path, args, no_network) -> None:
    # input is the statement as signed, with input.signer beside it: the subject list and
    # the predicate type arrive untouched
    policy = _write(tmp_path, "exact.rego", """\
package sigstore
import rego.v1
default isCompliant := false
isCompliant if {
  startswith(input._type, "https://in-toto.io/Statement/v")
  count(input.subject) >= 1
  input.subject[0].digest.sha256
  object.keys(input) == {"_type", "subject", "predicateType", "predicate", "signer"}
}
""")
    r = attest(*args, "--rego", policy)
    assert r.code == 0, r.err


def test_an_answer_rego_cpp_garbles_fails_closed(attest, tmp_path) -> None:
    # rego-cpp 1.5.2 leaves sprintf("%s") of a default string quoted inside its JSON
    # answer: the policy's verdict cannot be read, so the verification fails (never passes)
    p = _write(tmp_path, "quirk.rego", "package p\nimport rego.v1\n"
               "deny contains sprintf(\"runner %s\", [object.get({}, \"x\", \"unstated\")]) "
               "if true\n")
    r = attest(*DEMO, "--rego", p)
    assert r.code == 1
    assert "evaluation failed: rego-cpp's answer is not JSON" in r.err
