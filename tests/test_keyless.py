"""Keyless signing end to end against a local Fulcio/Rekor stand-in, through the real
sigstore client; the bundle verifies offline and fails when any byte changes."""

from __future__ import annotations

import base64
import json

import pytest

from conftest import interop_path, sign_keyless
from sigstore_standin import SigstoreStandIn


@pytest.fixture
def signed(attest, standin, repo, monkeypatch, tmp_path):
    monkeypatch.chdir(repo)
    bundle, root = sign_keyless(attest, standin, repo, tmp_path, "release-bot@example.com")
    return bundle, root, standin


def _verify(attest, bundle, root, *extra):
    return attest("verify", bundle, "--trusted-root", root, "--offline",
                  "--certificate-identity", "release-bot@example.com",
                  "--certificate-oidc-issuer", extra[0] if extra else _verify.issuer,
                  "--artifact", "dist/bin/kubectl", *extra[1:])


def test_keyless_bundle_verifies_offline(attest, signed) -> None:
    bundle, root, standin = signed
    doc = json.loads(bundle.read_text())
    assert doc["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert doc["verificationMaterial"]["tlogEntries"][0]["kindVersion"] == {
        "kind": "dsse", "version": "0.0.1"}
    assert base64.b64decode(doc["dsseEnvelope"]["payload"]) == (bundle.parent / "p.json").read_bytes()
    assert "/api/v2/signingCert" in standin.requests and "/api/v1/log/entries" in standin.requests
    r = attest("verify", bundle, "--trusted-root", root, "--offline",
               "--certificate-identity", "release-bot@example.com",
               "--certificate-oidc-issuer", standin.issuer, "--artifact", "dist/bin/kubectl",
               "--builder-id", "https://attester.dev/builders/local/v1")
    assert r.code == 0, r.err
    assert "ok  certificate-identity: signed by release-bot@example.com" in r.out


def test_any_changed_byte_fails(attest, signed) -> None:
    bundle, root, standin = signed
    doc = json.loads(bundle.read_text())
    payload = bytearray(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    payload[payload.index(b"sha256") + 12] ^= 1
    doc["dsseEnvelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    bad = bundle.with_name("bad.sigstore.json")
    bad.write_text(json.dumps(doc))
    r = attest("verify", bad, "--trusted-root", root, "--offline", "--certificate-identity",
               "release-bot@example.com", "--certificate-oidc-issuer", standin.issuer,
               "--artifact", "dist/bin/kubectl")
    assert r.code == 1 and "signature" in r.err
    doc = json.loads(bundle.read_text())
    doc["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = "1700000000"
    bad.write_text(json.dumps(doc))
    r = attest("verify", bad, "--trusted-root", root, "--offline", "--certificate-identity",
               "release-bot@example.com", "--certificate-oidc-issuer", standin.issuer,
               "--artifact", "dist/bin/kubectl")
    assert r.code == 1


def test_wrong_identity_and_foreign_root(attest, signed, tmp_path) -> None:
    bundle, root, standin = signed
    r = attest("verify", bundle, "--trusted-root", root, "--offline", "--certificate-identity",
               "someone-else@example.com", "--certificate-oidc-issuer", standin.issuer,
               "--artifact", "dist/bin/kubectl")
    assert r.code == 1 and "policy wants someone-else@example.com" in r.err
    with SigstoreStandIn() as other:
        (tmp_path / "other.json").write_text(json.dumps(other.trusted_root()))
        r = attest("verify", bundle, "--trusted-root", tmp_path / "other.json", "--offline",
                   "--certificate-identity", "release-bot@example.com",
                   "--certificate-oidc-issuer", standin.issuer, "--artifact", "dist/bin/kubectl")
    assert r.code == 1


def test_bad_tokens_are_refused(attest, standin, repo, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(repo)
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    r = attest("sign", "p.json", "--keyless", "--identity-token", "not.a.jwt",
               "--trust-config", tmp_path / "trust.json")
    assert r.code == 2 and "identity token rejected" in r.err
    expired = standin.token(lifetime=-60)
    r = attest("sign", "p.json", "--keyless", "--identity-token", expired,
               "--trust-config", tmp_path / "trust.json")
    assert r.code == 2 and expired not in r.err
    with SigstoreStandIn() as other:  # a token from an issuer Fulcio does not trust
        r = attest("sign", "p.json", "--keyless", "--identity-token", other.token(),
                   "--trust-config", tmp_path / "trust.json")
    assert r.code == 2 and "keyless signing failed" in r.err


def test_token_from_environment(attest, standin, repo, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(repo)
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", standin.token("env@example.com"))
    r = attest("sign", "p.json", "--keyless", "--trust-config", tmp_path / "trust.json",
               "-o", "p.sigstore.json")
    assert r.code == 0, r.err


# -- bundles logged as intoto 0.0.2 (verified by our own code; sigstore refuses them) ------

STATEMENT = json.dumps({"_type": "https://in-toto.io/Statement/v1",
                        "subject": [{"name": "pkg.tgz", "digest": {"sha512": "ab" * 64}}],
                        "predicateType": "https://slsa.dev/provenance/v1",
                        "predicate": {"buildDefinition": {"buildType": "https://x/y",
                                                          "externalParameters": {}},
                                      "runDetails": {"builder": {"id": "https://b/1"}}}}).encode()


def _intoto_case(standin, tmp_path, mutate=None):
    bundle = standin.intoto_bundle(STATEMENT)
    if mutate:
        mutate(bundle)
    (tmp_path / "b.sigstore.json").write_text(json.dumps(bundle))
    (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))
    return ["verify", tmp_path / "b.sigstore.json", "--trusted-root", tmp_path / "root.json",
            "--offline", "--certificate-identity", "release-bot@example.com",
            "--certificate-oidc-issuer", standin.issuer, "--builder-id", "https://b/1"]


def test_intoto_v002_bundle_verifies(attest, standin, tmp_path) -> None:
    r = attest(*_intoto_case(standin, tmp_path))
    assert r.code == 0, r.err
    assert "intoto 0.0.2 entry" in r.out and "ok  builder-id" in r.out


def _edit_body(bundle, fn):
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
    fn(body)
    entry["canonicalizedBody"] = base64.b64encode(json.dumps(body).encode()).decode()


@pytest.mark.parametrize(("mutate", "needle"), [
    (lambda b: b["dsseEnvelope"].update(payload=base64.b64encode(STATEMENT + b" ").decode()),
     "payload hash does not match"),
    (lambda b: b["verificationMaterial"]["tlogEntries"][0].update(integratedTime="1600000000"),
     "SET: invalid inclusion promise"),
    (lambda b: _edit_body(b, lambda body: body["spec"]["content"]["payloadHash"].update(value="0" * 64)),
     "SET: invalid inclusion promise"),
    (lambda b: b["verificationMaterial"]["tlogEntries"][0].pop("inclusionPromise"),
     "no signed entry timestamp, so no signing time can be trusted"),
    (lambda b: b["verificationMaterial"]["tlogEntries"][0].pop("inclusionProof"),
     "bundles after v0.1 must carry an inclusion proof with checkpoint"),
])
def test_intoto_v002_tampering_fails(attest, standin, tmp_path, mutate, needle) -> None:
    r = attest(*_intoto_case(standin, tmp_path, mutate))
    assert r.code == 1, r.err
    assert needle in r.err


def test_intoto_v002_from_another_log_or_ca_fails(attest, standin, tmp_path) -> None:
    args = _intoto_case(standin, tmp_path)
    with SigstoreStandIn() as other:
        (tmp_path / "root.json").write_text(json.dumps(other.trusted_root()))
    r = attest(*args)
    assert r.code == 1 and "intoto 0.0.2 log entry" in r.err


def _other_cert_pem() -> bytes:
    """A real Fulcio certificate that is not the bundle's (from testdata/interop's interop set)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    doc = json.loads(interop_path("realworld",
                                 "sg_sigstore.js@2.0.0-provenance.sigstore.json").read_text())
    raw = doc["verificationMaterial"]["x509CertificateChain"]["certificates"][0]["rawBytes"]
    return x509.load_der_x509_certificate(base64.b64decode(raw)).public_bytes(Encoding.PEM)


@pytest.mark.parametrize(("edit", "needle"), [
    (lambda body: body["spec"]["content"]["envelope"]["signatures"][0].update(
        publicKey=base64.b64encode(b"another certificate").decode()),
     "logged signature or certificate is malformed"),
    (lambda body: body["spec"]["content"]["envelope"]["signatures"][0].update(
        publicKey=base64.b64encode(_other_cert_pem()).decode()),
     "logged certificate differs from the bundle's"),
    (lambda body: body["spec"]["content"]["envelope"]["signatures"][0].update(
        sig=base64.b64encode(base64.b64encode(b"0" * 70)).decode()),
     "logged signature differs from the bundle's"),
    (lambda body: body["spec"]["content"]["payloadHash"].update(value="0" * 64),
     "payload hash does not match the bundle's envelope"),
    (lambda body: body["spec"]["content"]["envelope"].update(payloadType="text/plain"),
     "logged payload type differs"),
])
def test_intoto_v002_entry_inconsistent_with_bundle(attest, standin, tmp_path, edit, needle):
    bundle = standin.intoto_bundle(STATEMENT, log_edit=edit)
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))
    r = attest("verify", tmp_path / "b.json", "--trusted-root", tmp_path / "root.json",
               "--offline", "--certificate-identity", "release-bot@example.com",
               "--certificate-oidc-issuer", standin.issuer, "--builder-id", "https://b/1")
    assert r.code == 1 and needle in r.err, r.err


def test_intoto_v01_bundle_with_only_a_signed_entry_timestamp(attest, standin, tmp_path) -> None:
    def old_style(bundle):
        bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1"
        bundle["verificationMaterial"]["tlogEntries"][0].pop("inclusionProof")

    r = attest(*_intoto_case(standin, tmp_path, old_style))
    assert r.code == 0, r.err
    assert "intoto 0.0.2 entry" in r.out


def test_ambient_github_actions_credentials(attest, standin, repo, monkeypatch, tmp_path) -> None:
    """In a GitHub Actions job the token comes from ACTIONS_ID_TOKEN_REQUEST_URL, through
    the `id` package the sigstore client uses."""
    monkeypatch.chdir(repo)
    monkeypatch.delenv("SIGSTORE_ID_TOKEN", raising=False)
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{standin.url}/oidc/token")
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", raising=False)
    r = attest("sign", "p.json", "--keyless", "--trust-config", tmp_path / "trust.json")
    assert r.code == 2 and "ambient OIDC credentials are present but unusable" in r.err
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", standin.actions_request_token)
    r = attest("sign", "p.json", "--keyless", "--trust-config", tmp_path / "trust.json",
               "-o", "p.sigstore.json")
    assert r.code == 0, r.err
    assert standin.actions_request_token not in r.out + r.err


def test_chain_with_a_keyless_stage_and_a_keyed_release(attest, standin, repo, monkeypatch,
                                                        tmp_path) -> None:
    monkeypatch.chdir(repo)
    (repo / "trust.json").write_text(json.dumps(standin.trust_config()))
    (repo / "root.json").write_text(json.dumps(standin.trusted_root()))
    assert attest("provenance", "local://", "--step", "stage", "--artifacts", "file://dist",
                  "-o", "stage.json").code == 0
    r = attest("sign", "stage.json", "--keyless", "--identity-token",
               standin.token("stager@example.com"), "--trust-config", "trust.json",
               "-o", "stage.sigstore.json")
    assert r.code == 0, r.err
    assert attest("keygen", "--out", "release").code == 0
    assert attest("provenance", "local://", "--step", "release", "--materials", "file://dist",
                  "--artifacts", "file://dist", "-o", "release.json").code == 0
    assert attest("sign", "release.json", "--key", "release.key", "-o", "release.intoto.json").code == 0
    # release first: the keyed step's trust is offered the keyless bundle, and passes on it
    (repo / "policy.yaml").write_text(
        "steps:\n  release: {keys: [release.pub]}\n"
        f"  stage: {{certificate-identity: stager@example.com, certificate-oidc-issuer: '{standin.issuer}'}}\n"
        "trusted-root: root.json\n")
    r = attest("verify", "--chain", "stage.sigstore.json", "--chain", "release.intoto.json",
               "--policy", "policy.yaml", "--artifact", "dist/bin/kubectl")
    assert r.code == 0, r.err
    assert "signed by stager@example.com" in r.out
    (repo / "policy.yaml").write_text(
        "steps:\n  release: {keys: [release.pub]}\n"
        f"  stage: {{certificate-identity: someone@example.com, certificate-oidc-issuer: '{standin.issuer}'}}\n"
        "trusted-root: root.json\n")
    r = attest("verify", "--chain", "stage.sigstore.json", "--chain", "release.intoto.json",
               "--policy", "policy.yaml", "--artifact", "dist/bin/kubectl")
    assert r.code == 1 and "stage.sigstore.json" in r.err


def test_vsa_signed_keyless(attest, standin, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    (repo / "trust.json").write_text(json.dumps(standin.trust_config()))
    (repo / "root.json").write_text(json.dumps(standin.trusted_root()))
    assert attest("keygen", "--out", "k").code == 0
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    assert attest("sign", "p.json", "--key", "k.key", "-o", "p.intoto.json").code == 0
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", standin.token("verifier@example.com"))
    r = attest("verify", "p.intoto.json", "--key", "k.pub", "--artifact", "dist/bin/kubectl",
               "--vsa-out", "vsa.sigstore.json", "--vsa-keyless", "--vsa-trust-config", "trust.json")
    assert r.code == 0, r.err
    r = attest("verify", "vsa.sigstore.json", "--trusted-root", "root.json", "--offline",
               "--certificate-identity", "verifier@example.com",
               "--certificate-oidc-issuer", standin.issuer, "--artifact", "dist/bin/kubectl")
    assert r.code == 0, r.err
    assert "ok  vsa-result: verification summary says PASSED" in r.out
