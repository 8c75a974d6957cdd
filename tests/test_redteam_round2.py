"""Red-team round 2: keyless identity semantics, each finding a test that failed before.

Certificates are built here with the extensions under test (the checks read a certificate
that sigstore already authenticated; what a CA put in it is what is attacked)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from attester.verify.checks import certpolicy
from attester.verify.checks.publisher import Publisher

ACTIONS = "https://token.actions.githubusercontent.com"
SAN = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1"


def _der(value: str) -> bytes:
    raw = value.encode()
    assert len(raw) < 128
    return bytes([0x0C, len(raw)]) + raw


def _cert(exts: dict[str, bytes], san: str = SAN) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = dt.datetime.now(dt.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(key.public_key()).serial_number(1).not_valid_before(now)
         .not_valid_after(now + dt.timedelta(minutes=10))
         .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(san)]),
                        critical=True))
    for oid, value in exts.items():
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value),
                            critical=False)
    return b.sign(key, hashes.SHA256())


def _github(**over: bytes) -> dict[str, bytes]:
    """A GitHub Actions certificate's extensions, old and new OIDs agreeing."""
    exts = {"1.3.6.1.4.1.57264.1.1": ACTIONS.encode(), "1.3.6.1.4.1.57264.1.8": _der(ACTIONS),
            "1.3.6.1.4.1.57264.1.2": b"push", "1.3.6.1.4.1.57264.1.20": _der("push"),
            "1.3.6.1.4.1.57264.1.3": b"a" * 40, "1.3.6.1.4.1.57264.1.13": _der("a" * 40),
            "1.3.6.1.4.1.57264.1.5": b"acme/app",
            "1.3.6.1.4.1.57264.1.12": _der("https://github.com/acme/app"),
            "1.3.6.1.4.1.57264.1.6": b"refs/tags/v1",
            "1.3.6.1.4.1.57264.1.14": _der("refs/tags/v1")}
    exts.update({f"1.3.6.1.4.1.57264.1.{k.removeprefix('o')}": v for k, v in over.items()})
    return exts


def _failed(policy: object, cert: x509.Certificate) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in policy.check(cert) if not c.ok]  # type: ignore[attr-defined]


def test_agreeing_old_and_new_extensions_pass() -> None:
    policy = certpolicy.identity(certificate_identity=SAN, issuer=ACTIONS,
                                 workflow_trigger="push")
    assert _failed(policy, _cert(_github())) == []


@pytest.mark.parametrize(("oid", "value", "said"), [
    ("o1", b"https://accounts.google.com", "issuer"),
    ("o2", b"workflow_dispatch", "trigger"),
    ("o3", b"b" * 40, "source commit"),
    ("o5", b"evil/app", "source repository"),
    ("o6", b"refs/heads/dev", "source ref"),
])
def test_old_and_new_extensions_disagreeing_fail_the_certificate(oid, value, said) -> None:
    """Fulcio states issuer, trigger, commit, repository and ref twice (1.1-1.6 raw, their
    successors DER). Each check read one of the two (the new, else the old), so a
    certificate whose two disagreed passed on whichever was read: --certificate-oidc-issuer
    of 1.8's value passed with 1.1 naming another provider."""
    cert = _cert(_github(**{oid: value}))
    for policy in (certpolicy.identity(certificate_identity=SAN, issuer=ACTIONS),
                   certpolicy.identity(owner="acme"),
                   certpolicy.identity(publisher="github:acme/app")):
        failed = _failed(policy, cert)
        assert failed and failed[0].startswith("certificate: the certificate contradicts "
                                               f"itself: its {said} is "), failed


def test_a_der_value_with_bytes_past_its_length_is_not_read_as_that_length() -> None:
    """A v2 extension is a DER UTF8String; the reader took the length byte's count of text
    and ignored what followed, so 'token.actions.githubusercontent.com.evil.example' with
    the length of GitHub's issuer read as GitHub's issuer."""
    long = (ACTIONS + ".evil.example").encode()
    short = bytes([0x0C, len(ACTIONS)]) + long
    cert = _cert({"1.3.6.1.4.1.57264.1.8": short})
    failed = _failed(certpolicy.identity(certificate_identity=SAN, issuer=ACTIONS), cert)
    assert len(failed) == 1 and failed[0].startswith("certificate-oidc-issuer: ")
    pub = [c for c in Publisher.parse("github:acme/app").check(cert) if c.name ==
           "publisher issuer"]
    assert not pub[0].ok


# -- repositories: where the host ends ----------------------------------------------------

def _gradle_with_source(uri: str) -> bytes:
    import base64
    import json

    from conftest import interop_path

    bundle = json.loads(interop_path(
        "realworld", "sv_gha_gradle-v2.1.0-push-v13.0.30.build.slsa").read_text())
    stmt = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    stmt["predicate"]["buildDefinition"]["resolvedDependencies"][0]["uri"] = uri
    return json.dumps(stmt).encode()


def _keyed(tmp_path, payload: bytes) -> list[object]:
    from attester.jsonio import dumps_compact
    from attester.signing import keys
    from attester.signing.signers import sign_envelope
    from attester.signing.signers.keyfile import KeyFileSigner

    key = keys.generate("ecdsa-p256")
    (tmp_path / "k.pub").write_bytes(keys.public_pem(key.public_key()))
    env = sign_envelope("application/vnd.in-toto+json", payload, [KeyFileSigner(key)])
    (tmp_path / "att.json").write_bytes(dumps_compact(env.to_json()))
    return ["verify", tmp_path / "att.json", "--key", tmp_path / "k.pub"]


@pytest.mark.parametrize("host", ["evil.example#@github.com", "evil.example?@github.com",
                                  "evil.example\\@github.com"])
def test_a_source_whose_host_is_another_passes_no_source_uri(attest, tmp_path, host) -> None:
    """normalize_repo dropped everything up to the last '@' before the first '/' as user
    info, so https://evil.example#@github.com/o/r (host evil.example, '@github.com/o/r' its
    fragment) compared as github.com/o/r: --source-uri passed (exit 0)."""
    uri = f"git+https://{host}/slsa-framework/example-package@refs/tags/v13.0.30"
    r = attest(*_keyed(tmp_path, _gradle_with_source(uri)),
               "--source-uri", "github.com/slsa-framework/example-package")
    assert r.code == 1, r.out
    assert "source-uri" in r.err and "policy wants 'github.com/slsa-framework/" in r.err
    # user info before the host is still dropped, as slsa-verifier does
    uri = "git+https://git@github.com/slsa-framework/example-package@refs/tags/v13.0.30"
    r = attest(*_keyed(tmp_path, _gradle_with_source(uri)),
               "--source-uri", "github.com/slsa-framework/example-package")
    assert r.code == 0, r.err


# -- secrets: the github.com token stays with github.com ----------------------------------

def test_github_token_does_not_go_to_another_api_host(monkeypatch) -> None:
    """verify --hostname GHES (and download --hostname) call https://GHES/api/v3 (base_url);
    request_json sent GITHUB_TOKEN/GH_TOKEN, github.com's token, to that host. Now, as gh
    does, another host gets GH_ENTERPRISE_TOKEN (or GITHUB_ENTERPRISE_TOKEN) or none;
    GITHUB_API_URL's own host (a job on GHES) still gets GITHUB_TOKEN."""
    from attester.clients import githubapi

    from replay import Replay

    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_dotcom_secret_0123")
    monkeypatch.setenv("GH_TOKEN", "ghp_dotcom_secret_4567")
    for name in ("GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with Replay() as ghes:
        ghes.json("/api/v3/x", {})
        githubapi.get_json("/x", what="t", base_url=ghes.url + "/api/v3")
        assert ghes.authorizations == [""]
        monkeypatch.setenv("GITHUB_ENTERPRISE_TOKEN", "ghes_secret")
        githubapi.get_json("/x", what="t", base_url=ghes.url + "/api/v3")
        assert ghes.authorizations[-1] == "Bearer ghes_secret"
        monkeypatch.setenv("GITHUB_API_URL", ghes.url + "/api/v3")
        githubapi.get_json("/x", what="t")
        assert ghes.authorizations[-1] == "Bearer ghp_dotcom_secret_0123"


# -- --vsa-out: what the summary claims ---------------------------------------------------

def _signed_statement(tmp_path, stmt: dict) -> list[object]:
    import json

    from attester.jsonio import dumps_compact
    from attester.signing import keys
    from attester.signing.signers import sign_envelope
    from attester.signing.signers.keyfile import KeyFileSigner

    key = keys.generate("ecdsa-p256")
    (tmp_path / "k.pub").write_bytes(keys.public_pem(key.public_key()))
    (tmp_path / "k.key").write_bytes(keys.private_pem(key, None))
    env = sign_envelope("application/vnd.in-toto+json", json.dumps(stmt).encode(),
                        [KeyFileSigner(key)])
    (tmp_path / "att.json").write_bytes(dumps_compact(env.to_json()))
    return ["verify", tmp_path / "att.json", "--key", tmp_path / "k.pub",
            "--vsa-out", tmp_path / "vsa.json", "--vsa-key", tmp_path / "k.key"]


def _vsa_levels(tmp_path) -> list[str]:
    import base64
    import json

    env = json.loads((tmp_path / "vsa.json").read_text())
    return json.loads(base64.b64decode(env["payload"]))["predicate"]["verifiedLevels"]


SBOM = "https://spdx.dev/Document"


def test_a_vsa_of_no_provenance_claims_no_slsa_build_level(attest, tmp_path) -> None:
    """--vsa-out wrote verifiedLevels [SLSA_BUILD_LEVEL_1] whatever was verified: an SBOM
    (any predicate) got a summary that verify --verified-level SLSA_BUILD_LEVEL_1 passed,
    though no provenance was ever checked."""
    stmt = {"_type": "https://in-toto.io/Statement/v1", "predicateType": SBOM,
            "subject": [{"name": "app", "digest": {"sha256": "ab" * 32}}], "predicate": {}}
    r = attest(*_signed_statement(tmp_path, stmt), "--predicate-type", SBOM)
    assert r.code == 0, r.err
    assert _vsa_levels(tmp_path) == []
    r = attest("verify", tmp_path / "vsa.json", "--key", tmp_path / "k.pub",
               "--verified-level", "SLSA_BUILD_LEVEL_1")
    assert r.code == 1 and "VSA says no levels, policy wants SLSA_BUILD_LEVEL_1" in r.err


def test_vsa_out_of_a_provenance_still_says_build_level_1(attest, tmp_path) -> None:
    import base64
    import json

    from conftest import interop_path

    bundle = json.loads(interop_path(
        "realworld", "sv_gha_gradle-v2.1.0-push-v13.0.30.build.slsa").read_text())
    stmt = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    r = attest(*_signed_statement(tmp_path, stmt), "--source-uri",
               "github.com/slsa-framework/example-package")
    assert r.code == 0, r.err
    assert _vsa_levels(tmp_path) == ["SLSA_BUILD_LEVEL_1"]


def test_vsa_out_of_a_statement_without_sha256_subject_is_a_usage_error(attest, tmp_path
                                                                        ) -> None:
    """A statement naming its subject only by sha512 (npm's) passed, then --vsa-out
    crashed: 'internal error: IndexError' (exit 2 with no message saying why)."""
    stmt = {"_type": "https://in-toto.io/Statement/v1", "predicateType": SBOM,
            "subject": [{"name": "pkg", "digest": {"sha512": "a" * 128}}], "predicate": {}}
    r = attest(*_signed_statement(tmp_path, stmt), "--predicate-type", SBOM)
    assert r.code == 2
    assert "--vsa-out: the verified statement names no subject by sha256" in r.err
    assert "internal error" not in r.err and not (tmp_path / "vsa.json").exists()


# -- SAN kinds: which names are identities ------------------------------------------------

def _cert_with_sans(names: list[x509.GeneralName]) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(minutes=10))
            .add_extension(x509.SubjectAlternativeName(names), critical=True)
            .add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8"),
                _der("https://accounts.example")), critical=False)
            .sign(key, hashes.SHA256()))


def test_only_fulcios_username_othername_is_an_identity() -> None:
    """Every otherName SAN was read as an identity: a certificate whose e-mail is
    mallory's but that carries a UPN (1.3.6.1.4.1.311.20.2.3) otherName saying
    release-bot@example.com passed --certificate-identity release-bot@example.com."""
    policy = certpolicy.identity(certificate_identity="release-bot@example.com",
                                 issuer="https://accounts.example")
    upn = x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"),
                         _der("release-bot@example.com"))
    failed = _failed(policy, _cert_with_sans([x509.RFC822Name("mallory@example.com"), upn]))
    assert failed == ["certificate-identity: certificate identity is mallory@example.com, "
                      "policy wants release-bot@example.com"]
    username = x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7"),
                              _der("release-bot!fulcio.example"))
    policy = certpolicy.identity(certificate_identity="release-bot!fulcio.example",
                                 issuer="https://accounts.example")
    assert _failed(policy, _cert_with_sans([username])) == []


# -- policy files: an empty value requires nothing -----------------------------------------

@pytest.mark.parametrize(("policy", "named"), [
    ("steps: {stage: {keys: [k.pub], source-digest: ''}}", "steps/stage/source-digest"),
    ("steps: {stage: {keys: [k.pub], owner: ''}}", "steps/stage/owner"),
    ("steps: {stage: {keys: [k.pub], workflow-trigger: ''}}", "steps/stage/workflow-trigger"),
    ("steps: {stage: {keys: [k.pub]}}\nsource-uri: ''", "source-uri"),
])
def test_an_empty_policy_value_is_refused_not_dropped(attest, tmp_path, policy, named
                                                      ) -> None:
    """The code reads "" as "not given": a policy file templated with an unset variable
    (`source-digest: "${SHA}"`, a top-level `source-uri: ""`) required nothing, and an
    attestation of any commit or repository passed (exit 0). The command line refused
    `--source-uri ""` already; the policy file now does too (exit 2, naming the key)."""
    import base64
    import json

    from conftest import interop_path

    bundle = json.loads(interop_path(
        "realworld", "sv_gha_gradle-v2.1.0-push-v13.0.30.build.slsa").read_text())
    stmt = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    args = _signed_statement(tmp_path, stmt)[:2]
    (tmp_path / "policy.yaml").write_text(policy + "\n")
    r = attest(*args, "--policy", tmp_path / "policy.yaml",
               "--builder-id", stmt["predicate"]["runDetails"]["builder"]["id"])
    assert r.code == 2, r.out
    assert f"{named} is empty: give it a value, or leave the key out" in r.err
    # a workflow input may be required to be empty
    (tmp_path / "policy.yaml").write_text(
        "steps: {stage: {keys: [k.pub], build-workflow-inputs: {rekor-log-public: ''}}}\n")
    r = attest(*args, "--policy", tmp_path / "policy.yaml")
    assert r.code == 1 and "provenance says 'false', policy wants ''" in r.err


# -- --repo/--signer-repo/--signer-workflow: OWNER/REPO, as gh -----------------------------

def _actions_cert(repo: str) -> x509.Certificate:
    wf = f"https://github.com/{repo}/.github/workflows/release.yml@refs/heads/main"
    return _cert({"1.3.6.1.4.1.57264.1.8": _der(ACTIONS), "1.3.6.1.4.1.57264.1.9": _der(wf),
                  "1.3.6.1.4.1.57264.1.12": _der(f"https://github.com/{repo}")}, san=wf)


def test_a_bare_owner_is_no_signer_repo(attest) -> None:
    """--signer-repo acme (an owner, not OWNER/REPO) was anchored as a prefix, so a workflow
    of any repository of acme passed it; gh refuses the form. Now exit 2 naming --owner."""
    from attester.errors import UsageError

    other = _actions_cert("acme/anything")
    good = certpolicy.identity(signer_repo="acme/reusable")
    assert _failed(good, other)  # the intended repository pins it
    for flags in ({"signer_repo": "acme"}, {"repo": "acme"},
                  {"signer_workflow": "acme/reusable"}):
        with pytest.raises(UsageError, match="OWNER/REPO"):
            certpolicy.identity(**flags)
    r = attest("verify", "x.json", "--signer-repo", "acme", "--builder-id", "b")
    assert r.code == 2 and "--signer-repo 'acme': not a GitHub OWNER/REPO" in r.err


def test_signer_workflow_in_ghs_host_form() -> None:
    """gh takes --signer-workflow [HOST/]OWNER/REPO/PATH; HOST/... was read as an owner
    named HOST and matched nothing."""
    cert = _actions_cert("acme/app")
    for wf in ("github.com/acme/app/.github/workflows/release.yml",
               "https://github.com/acme/app/.github/workflows/release.yml",
               "acme/app/.github/workflows/release.yml"):
        assert _failed(certpolicy.identity(signer_workflow=wf), cert) == [], wf
    assert _failed(certpolicy.identity(
        signer_workflow="github.com/acme/app/.github/workflows/other.yml"), cert)


def test_a_publisher_naming_only_the_workflows_folder_is_refused() -> None:
    """--publisher github:O/R@.github/workflows/ passed the "nothing after '@'" check, then
    lost the folder prefix and became github:O/R: any workflow of the repository."""
    from attester.errors import UsageError

    with pytest.raises(UsageError, match="nothing after '@'"):
        Publisher.parse("github:acme/app@.github/workflows/")
    assert Publisher.parse("github:acme/app@.github/workflows/release.yml").workflow == \
        "release.yml"


@pytest.mark.parametrize("host", ["ghe.example@evil.example", "https://ghe.example.com",
                                  "ghe.example.com/api", "ghe.example.com#x"])
def test_hostname_is_a_host_name(attest, host) -> None:
    """--hostname became part of the API URL, the Actions issuer and the SAN prefix as
    given: 'ghe.example@evil.example' made the API https://ghe.example@evil.example/api/v3,
    a request to evil.example; a scheme or path made them nonsense. Now exit 2."""
    from attester.errors import UsageError

    with pytest.raises(UsageError, match="a host name"):
        certpolicy.identity(owner="acme", hostname=host)
    r = attest("verify", "--artifact", "x.bin", "--owner", "acme", "--hostname", host)
    assert r.code == 2 and f"--hostname {host!r}: a host name" in r.err
    assert certpolicy.api_for("GHE.example.com:8443") == "https://ghe.example.com:8443/api/v3"
