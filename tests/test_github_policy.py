"""gh's and slsa-verifier's policy flags on real GitHub Actions certificates from
testdata/interop: --owner/--repo as a complete identity, --hostname, the issuer regexp,
--source-digest, --signer-digest, --deny-self-hosted-runners, --workflow-trigger,
--build-workflow-input, and verification by digest. Each passes with the value the
certificate (or provenance) holds and fails with another; each also works per step in a
policy file."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from attester.jsonio import dumps_compact
from attester.release import policyfile
from attester.signing import keys
from attester.signing.signers import sign_envelope
from attester.signing.signers.keyfile import KeyFileSigner
from attester.verify import checker
from attester.verify.checks.certpolicy import CertPolicy, api_for, issuer_for
from attester.verify.checks.statement import Demands

from conftest import interop_path

# sigstore-python's real GitHub Actions bundle: trailofbits/rfc8785.py release v0.1.2
COMMIT = "d8b4a6445f38c48b9137a8099706d9b8073146e4"
OTHER = "0" * 40


def _whl() -> list[object]:
    sig = interop_path("sigstore")
    return ["verify", sig / "sp_bundle_v3_github.whl.sigstore",
            "--artifact", sig / "sp_bundle_v3_github.whl",
            "--trusted-root", sig / "trusted_root.sigstore-production.json", "--offline"]


def _whl_sha256() -> str:
    return hashlib.sha256(interop_path("sigstore",
                                      "sp_bundle_v3_github.whl").read_bytes()).hexdigest()


@pytest.mark.parametrize(("flags", "ok", "needle"), [
    (["--owner", "trailofbits"], True, "owner: certificate says https://github.com/trailofbits"),
    # GitHub names are case-insensitive; gh compares them with strings.EqualFold
    (["--owner", "TrailOfBits"], True, "owner: certificate says https://github.com/trailofbits"),
    (["--owner", "trailofbit"], False, "certificate says 'https://github.com/trailofbits'"),
    (["--owner", "sigstore"], False, r"does not match (?i)https://github\.com/sigstore/.+"),
    (["--repo", "trailofbits/rfc8785.py"], True, "repo: certificate says"),
    (["--repo", "trailofbits/other"], False, "does not match"),
    (["--owner", "trailofbits", "--hostname", "ghe.example.com"], False,
     r"does not match (?i)https://ghe\.example\.com/trailofbits/.+"),
    (["--owner", "trailofbits", "--certificate-oidc-issuer-regexp",
      r"https://token\.actions\.githubusercontent\.com"], True, "(matches https://token"),
    (["--owner", "trailofbits", "--certificate-oidc-issuer-regexp", r"https://accounts\..*"],
     False, "policy wants one matching 'https://accounts\\\\..*'"),
    (["--owner", "trailofbits", "--source-digest", COMMIT], True,
     f"certificate source-digest: certificate says {COMMIT}"),
    (["--owner", "trailofbits", "--source-digest", OTHER], False,
     f"certificate says '{COMMIT}', policy wants '{OTHER}'"),
    (["--owner", "trailofbits", "--signer-digest", COMMIT.upper()], True,
     f"signer-digest: certificate says {COMMIT}"),
    (["--owner", "trailofbits", "--signer-digest", OTHER], False,
     f"signer-digest: certificate says '{COMMIT}', policy wants '{OTHER}'"),
    (["--owner", "trailofbits", "--deny-self-hosted-runners"], True,
     "runner-environment: certificate says github-hosted"),
    (["--owner", "trailofbits", "--workflow-trigger", "release"], True,
     "certificate workflow-trigger: certificate says release"),
    (["--owner", "trailofbits", "--workflow-trigger", "push"], False,
     "certificate says 'release', policy wants 'push'"),
])
def test_github_policy_flags_on_a_real_certificate(attest, flags, ok, needle) -> None:
    r = attest(*_whl(), *flags)
    assert r.code == (0 if ok else 1), r.err
    assert needle in (r.out if ok else r.err)


def test_owner_alone_defaults_the_issuer_and_hostname_changes_it(attest) -> None:
    r = attest(*_whl(), "--owner", "trailofbits", "--format", "json")
    checks = {c["check"]: c for c in r.json()["checks"]}
    assert checks["certificate-oidc-issuer"]["detail"] == \
        "issuer https://token.actions.githubusercontent.com"
    # an explicit issuer still wins over the default
    r = attest(*_whl(), "--owner", "trailofbits", "--certificate-oidc-issuer",
               "https://accounts.google.com")
    assert r.code == 1 and "policy wants 'https://accounts.google.com'" in r.err
    assert issuer_for("ghe.example.com") == "https://ghe.example.com/_services/token"
    assert api_for("ghe.example.com") == "https://ghe.example.com/api/v3"
    assert api_for("octo.ghe.com") == "https://api.octo.ghe.com"
    assert api_for(None) is None and api_for("GitHub.com") is None
    assert issuer_for("octo.ghe.com") == "https://token.actions.octo.ghe.com"


def test_bad_github_flags_are_usage_errors(attest) -> None:
    assert attest(*_whl(), "--owner", "a b").code == 2
    r = attest(*_whl(), "--owner", "trailofbits", "--source-digest", "abc")
    assert r.code == 2 and "a full commit hash" in r.err
    r = attest(*_whl(), "--owner", "trailofbits", "--certificate-oidc-issuer", "x",
               "--certificate-oidc-issuer-regexp", "y")
    assert r.code == 2 and "contradict each other" in r.err


def test_self_hosted_runner_is_denied() -> None:
    """No public bundle was signed on a self-hosted runner: a certificate with Fulcio's
    Runner Environment extension saying so stands in for one."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(minutes=10))
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.11"), b"\x0c\x0bself-hosted"),
                critical=False)
            .sign(key, hashes.SHA256()))
    [check] = CertPolicy(deny_self_hosted_runners=True).check(cert)
    assert not check.ok
    assert check.detail == "certificate says 'self-hosted', policy wants 'github-hosted'"


def test_digest_instead_of_the_file(attest) -> None:
    base = _whl()[:2] + _whl()[4:]
    r = attest(*base, "--owner", "trailofbits", "--digest", f"sha256:{_whl_sha256()}")
    assert r.code == 0, r.err
    assert f"artifact sha256:{_whl_sha256()}: is the file the bundle signs" in r.out
    r = attest(*base, "--owner", "trailofbits", "--digest", f"sha256:{'1' * 64}")
    assert r.code == 1
    for bad, needle in [("sha256:", "exactly 64 hex digits"), ("md5:" + "0" * 32, "one of"),
                        ("sha256:" + "g" * 64, "exactly 64 hex digits"),
                        ("sha512:" + "0" * 64, "exactly 128 hex digits")]:
        r = attest(*base, "--owner", "trailofbits", "--digest", bad)
        assert r.code == 2 and needle in r.err, r.err


def _keyed(tmp_path, payload: bytes):
    key = keys.generate("ecdsa-p256")
    (tmp_path / "k.pub").write_bytes(keys.public_pem(key.public_key()))
    env = sign_envelope("application/vnd.in-toto+json", payload, [KeyFileSigner(key)])
    (tmp_path / "att.json").write_bytes(dumps_compact(env.to_json()))
    return ["verify", tmp_path / "att.json", "--key", tmp_path / "k.pub"]


def _gradle_statement() -> bytes:
    """slsa-github-generator's gradle builder provenance (a real statement, workflow
    inputs jdk-version=17), taken out of its bundle and re-signed with a test key."""
    bundle = json.loads(interop_path("realworld",
                                    "sv_gha_gradle-v2.1.0-push-v13.0.30.build.slsa").read_text())
    return base64.b64decode(bundle["dsseEnvelope"]["payload"])


GRADLE_COMMIT = "4d329c75e7ec1725f7c9ce917a8799d408d06be3"


@pytest.mark.parametrize(("flags", "ok", "needle"), [
    (["--build-workflow-input", "jdk-version=17",
      "--build-workflow-input", "directory=./e2e/gradle/workflow_dispatch"], True,
     "build-workflow-input jdk-version: provenance says 17"),
    (["--build-workflow-input", "rekor-log-public=false"], True, "provenance says false"),
    (["--build-workflow-input", "jdk-version=11"], False,
     "provenance says '17', policy wants '11'"),
    (["--build-workflow-input", "missing=1"], False, "records no workflow input 'missing'"),
    (["--source-digest", GRADLE_COMMIT], True, f"source-digest: provenance says {GRADLE_COMMIT}"),
    (["--source-digest", OTHER], False, f"provenance says '{GRADLE_COMMIT}'"),
    (["--workflow-trigger", "push"], True, "workflow-trigger: provenance says push"),
    (["--workflow-trigger", "workflow_dispatch"], False,
     "provenance says 'push', policy wants 'workflow_dispatch'"),
])
def test_provenance_side_flags_on_real_provenance(attest, tmp_path, flags, ok, needle) -> None:
    r = attest(*_keyed(tmp_path, _gradle_statement()), *flags)
    assert r.code == (0 if ok else 1), r.err
    assert needle in (r.out if ok else r.err)


def test_github_buildtype_provenance_commit_and_trigger(attest, tmp_path) -> None:
    stmt = interop_path("provenance",
                       "cli-cli_reusable-workflow-attestation.statement.json").read_bytes()
    pred = json.loads(stmt)["predicate"]
    commit = pred["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"]
    trigger = pred["buildDefinition"]["internalParameters"]["github"]["event_name"]
    base = _keyed(tmp_path, stmt)
    assert attest(*base, "--source-digest", commit, "--workflow-trigger", trigger).code == 0
    assert attest(*base, "--source-digest", OTHER).code == 1


def test_artifact_name_at_digest(attest) -> None:
    base = _whl()[:2] + _whl()[4:]
    r = attest(*base, "--owner", "trailofbits", "--artifact", f"rfc8785.whl@sha256:{_whl_sha256()}")
    assert r.code == 0, r.err
    r = attest(*base, "--owner", "trailofbits", "--artifact", "rfc8785.whl@sha256:")
    assert r.code == 2 and "exactly 64 hex digits" in r.err


POLICY = """\
trusted-root: {root}
steps:
  stage:
    owner: trailofbits
    source-digest: '{digest}'
    signer-digest: '{signer}'
    deny-self-hosted-runners: true
    workflow-trigger: {trigger}
    certificate-oidc-issuer-regexp: 'https://token\\.actions\\.githubusercontent\\.com'
"""


@pytest.mark.parametrize(("values", "ok", "failing"), [
    ({"digest": COMMIT, "signer": COMMIT, "trigger": "release"}, True, None),
    ({"digest": OTHER, "signer": COMMIT, "trigger": "release"}, False,
     "certificate source-digest"),
    ({"digest": COMMIT, "signer": OTHER, "trigger": "release"}, False, "signer-digest"),
    ({"digest": COMMIT, "signer": COMMIT, "trigger": "push"}, False,
     "certificate workflow-trigger"),
])
def test_github_flags_per_step_in_a_policy_file(tmp_path, values, ok, failing) -> None:
    sig = interop_path("sigstore")
    pol = tmp_path / "policy.yaml"
    pol.write_text(POLICY.format(root=sig / "trusted_root.sigstore-production.json", **values))
    pf = policyfile.load(str(pol))
    bundle = sig / "sp_bundle_v3_github.whl.sigstore"
    data = bundle.read_bytes()
    report = checker.verify_document(
        data, json.loads(data), str(bundle), pf.trusts["stage"],
        Demands(policy=pf.policies["stage"]), blob=str(sig / "sp_bundle_v3_github.whl"))
    assert report.ok is ok, report.failures()
    if failing:
        assert [c.name for c in report.failures()] == [failing]


def test_workflow_inputs_per_step_in_a_policy_file(tmp_path) -> None:
    key = keys.generate("ecdsa-p256")
    (tmp_path / "k.pub").write_bytes(keys.public_pem(key.public_key()))
    pol = tmp_path / "policy.yaml"
    for want, ok in (("17", True), ("11", False)):
        pol.write_text("steps:\n  stage:\n    keys: [k.pub]\n    workflow-trigger: push\n"
                       f"    source-digest: {GRADLE_COMMIT}\n"
                       f"    build-workflow-inputs: {{jdk-version: '{want}'}}\n")
        pf = policyfile.load(str(pol))
        env = sign_envelope("application/vnd.in-toto+json", _gradle_statement(),
                            [KeyFileSigner(key)])
        data = dumps_compact(env.to_json())
        report = checker.verify_document(data, json.loads(data), "gradle", pf.trusts["stage"],
                                         Demands(policy=pf.policies["stage"]))
        assert report.ok is ok
        assert {c.name for c in report.checks} >= {"source-digest", "workflow-trigger",
                                                   "build-workflow-input jdk-version"}


def test_policy_file_rejects_a_github_key_of_the_wrong_type(tmp_path) -> None:
    pol = tmp_path / "policy.yaml"
    pol.write_text("steps:\n  stage:\n    owner: o\n    deny-self-hosted-runners: 'yes'\n")
    from attester.errors import InputError

    with pytest.raises(InputError, match="policy"):
        policyfile.load(str(pol))


@pytest.mark.parametrize(("step", "ok"), [
    ("repo: trailofbits/rfc8785.py", True),
    ("repo: trailofbits/other", False),
    ("signer-workflow: trailofbits/rfc8785.py/.github/workflows/release.yml", True),
    ("signer-workflow: trailofbits/rfc8785.py/.github/workflows/other.yml", False),
    ("signer-repo: trailofbits/rfc8785.py", True),
    ("{owner: trailofbits, hostname: ghe.example.com}", False),
])
def test_github_identity_keys_in_a_policy_file(tmp_path, step, ok) -> None:
    sig = interop_path("sigstore")
    pol = tmp_path / "policy.yaml"
    body = (step[:-1] if step.startswith("{") else "{" + step) + \
        ", source-uri: github.com/trailofbits/rfc8785.py}"  # a policy beyond the signer
    pol.write_text(f"trusted-root: {sig / 'trusted_root.sigstore-production.json'}\n"
                   f"steps:\n  stage: {body}\n")
    pf = policyfile.load(str(pol))
    bundle = sig / "sp_bundle_v3_github.whl.sigstore"
    data = bundle.read_bytes()
    report = checker.verify_document(
        data, json.loads(data), str(bundle), pf.trusts["stage"],
        Demands(policy=pf.policies["stage"]), blob=str(sig / "sp_bundle_v3_github.whl"))
    assert report.ok is ok, report.failures()
