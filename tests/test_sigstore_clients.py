"""Issue 17, "Sigstore clients": what other Sigstore clients publish verifies, on real
sigstore-conformance bundles (testdata/interop/conformance) and, where no real vector
exists, on bundles from the local Sigstore stand-in; sigstore-js gives its verdict too."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

import sigstore_js
from conftest import interop_path

BEACON = ("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
          ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main")
GHA = "https://token.actions.githubusercontent.com"
ME = "release-bot@example.com"


def _conf(*parts: str):
    return interop_path("conformance", *parts)


def _keyless(case: str, root=None) -> list[object]:
    return ["verify", _conf(case, "bundle.sigstore.json"), "--artifact", _conf("a.txt"),
            "--trusted-root", root or _conf("trusted_root.sigstore-production.json"),
            "--offline", "--certificate-identity", BEACON, "--certificate-oidc-issuer", GHA]


# -- item 6: managed-key bundles ------------------------------------------------------------

def test_managed_key_bundle_verifies_with_its_key(attest, no_network) -> None:
    case = "managed-key-happy-path"
    r = attest("verify", _conf(case, "bundle.sigstore.json"), "--artifact", _conf("a.txt"),
               "--key", _conf(case, "key.pub"), "--offline",
               "--trusted-root", _conf("trusted_root.sigstore-production.json"))
    assert r.code == 0, r.err
    assert f"signed by {_conf(case, 'key.pub')}: signature over the artifact valid" in r.out
    # an identity cannot stand in for the key
    r = attest(*_keyless(case))
    assert r.code == 1 and "the bundle is signed by a key, not a certificate" in r.err
    assert no_network == []


def test_managed_key_bundle_refuses_another_key_and_another_file(attest, tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = tmp_path / "other.pub"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    case = "managed-key-and-trusted-root"
    base = ["verify", _conf(case, "bundle.sigstore.json"), "--offline",
            "--trusted-root", _conf(case, "trusted_root.json")]
    r = attest(*base, "--artifact", _conf("a.txt"), "--key", other)
    assert r.code == 1 and "signed by a key that is not trusted" in r.err, r.err
    wrong = tmp_path / "b.txt"
    wrong.write_bytes(b"another file\n")
    r = attest(*base, "--artifact", wrong, "--key", _conf(case, "key.pub"))
    assert r.code == 1 and "Bundle message digest mismatch" in r.err, r.err
    r = attest(*base, "--artifact", _conf("a.txt"), "--key", _conf(case, "key.pub"))
    assert r.code == 0, r.err
    # fail closed: one signature cannot answer a threshold of two keys (the requirement
    # model says so up front, exit 2; keyed_bundle's own check is the backstop)
    r = attest(*base, "--artifact", _conf("a.txt"), "--key", _conf(case, "key.pub"),
               "--key", other, "--threshold", "2")
    assert r.code == 2 and "--threshold 2 cannot be checked" in r.err, r.err


def test_managed_key_digest_flag(attest) -> None:
    """--digest stands in for the file, in the algorithm the bundle signs."""
    case = "managed-key-happy-path"
    sha256 = hashlib.sha256(_conf("a.txt").read_bytes()).hexdigest()
    base = ["verify", _conf(case, "bundle.sigstore.json"), "--key", _conf(case, "key.pub"),
            "--offline", "--trusted-root", _conf("trusted_root.sigstore-production.json")]
    assert attest(*base, "--digest", f"sha256:{sha256}").code == 0
    r = attest(*base, "--digest", "sha512:" + hashlib.sha512(b"x").hexdigest())
    assert r.code == 2 and "this bundle signs a sha256 digest" in r.err, r.err


# -- item 8: trusted roots --------------------------------------------------------------------

def test_root_whose_ca_names_no_common_name_loads(attest, tmp_path) -> None:
    root = json.loads(_conf("trusted_root.sigstore-production.json").read_text())
    for field in ("certificateAuthorities", "timestampAuthorities"):
        for ca in root[field]:
            ca["subject"].pop("commonName", None)
    root["certificateAuthorities"][0].pop("subject")
    path = tmp_path / "root.json"
    path.write_text(json.dumps(root))
    r = attest(*_keyless("happy-path-v0.3", path))
    assert r.code == 0, r.err


def test_tsa_validity_end_is_inclusive(attest, tmp_path) -> None:
    """The timestamp equals the TSA's validFor.end (2025-06-12T12:02:20Z): inside it. One
    second earlier it is outside, and nothing else proves the signing time."""
    case = "trust-root-tsa-validity-end-inclusive"
    r = attest(*_keyless(case, _conf(case, "trusted_root.json")))
    assert r.code == 0, r.err
    root = json.loads(_conf(case, "trusted_root.json").read_text())
    assert root["timestampAuthorities"][0]["validFor"]["end"] == "2025-06-12T12:02:20Z"
    root["timestampAuthorities"][0]["validFor"]["end"] = "2025-06-12T12:02:19Z"
    path = tmp_path / "root.json"
    path.write_text(json.dumps(root))
    r = attest(*_keyless(case, path))
    assert r.code == 1 and "not enough sources of verified time" in r.err, r.err


# -- item 10: intoto 0.0.2 entries --------------------------------------------------------------

from test_interop_sigstore_js import STATEMENT  # noqa: E402 - one test statement for both


def _go_client_hash(body: dict) -> None:
    """The entry's ``hash`` as a client that serialises the envelope its own way writes it
    (Go's encoding/json of the envelope with ``"keyid": ""``, not RFC 8785): Rekor never
    checks it, so it differs from what attest would compute."""
    content = body["spec"]["content"]
    sig = content["envelope"]["signatures"][0]
    go_json = json.dumps({"payloadType": content["envelope"]["payloadType"],
                          "signatures": [{"keyid": "", "sig": sig["sig"]}]}).encode()
    content["hash"] = {"algorithm": "sha256", "value": hashlib.sha256(go_json).hexdigest()}


def test_intoto_entry_hash_written_otherwise_verifies(attest, standin, tmp_path) -> None:
    doc = standin.intoto_bundle(STATEMENT, email=ME, log_edit=_go_client_hash)
    doc["dsseEnvelope"]["signatures"][0]["keyid"] = ""  # as sigstore@1.3.0's envelope
    bundle = tmp_path / "go.sigstore.json"
    bundle.write_text(json.dumps(doc))
    root = tmp_path / "root.json"
    root.write_text(json.dumps(standin.trusted_root()))
    args = ["--trusted-root", root, "--offline", "--certificate-identity", ME,
            "--certificate-oidc-issuer", standin.issuer,
            "--builder-id", "https://attester.dev/builders/test"]
    r = attest("verify", bundle, *args)
    assert r.code == 0, r.err
    assert "ok  signature: Sigstore bundle (intoto 0.0.2 entry)" in r.out
    assert sigstore_js.verify(bundle, root, ME, standin.issuer) == {"ok": True}
    # what binds the entry still binds it: another payload hash fails
    bad = standin.intoto_bundle(STATEMENT, email=ME, log_edit=lambda b: (
        _go_client_hash(b), b["spec"]["content"]["payloadHash"].update(value="0" * 64)))
    bundle.write_text(json.dumps(bad))
    r = attest("verify", bundle, *args)
    assert r.code == 1 and "payload hash does not match the bundle's envelope" in r.err


# -- item 11: v0.3 with a certificate chain -----------------------------------------------------

def test_v03_bundle_with_a_certificate_chain_is_refused(attest, tmp_path) -> None:
    """The bundle spec makes a v0.3 bundle carry `certificate`; sigstore-python, -go and
    -js refuse a one-element x509CertificateChain there (sigstore-java accepts it). attest
    refuses it (exit 2) with the rule named; the same bundle with `certificate` verifies."""
    doc = json.loads(_conf("happy-path-v0.3", "bundle.sigstore.json").read_text())
    vm = doc["verificationMaterial"]
    vm["x509CertificateChain"] = {"certificates": [vm.pop("certificate")]}
    path = tmp_path / "chain.sigstore.json"
    path.write_text(json.dumps(doc))
    args = _keyless("happy-path-v0.3")
    args[1] = path
    r = attest(*args)
    assert r.code == 2, r.err
    assert "a v0.3 bundle carries its certificate as verificationMaterial.certificate" in r.err
    verdict = sigstore_js.verify(path, _conf("trusted_root.sigstore-production.json"), BEACON,
                                 GHA, _conf("a.txt"))
    assert verdict["ok"] is False, verdict
    assert attest(*_keyless("happy-path-v0.3")).code == 0


def test_bundle_carrying_its_own_root_ca_is_refused(attest) -> None:
    r = attest("verify", _conf("bundle-with-root-cert_fail", "bundle.sigstore.json"),
               "--artifact", _conf("bundle-with-root-cert_fail", "artifact"), "--offline",
               "--trusted-root", _conf("trusted_root.sigstore-production.json"),
               "--certificate-identity", BEACON, "--certificate-oidc-issuer", GHA)
    assert r.code == 1 and "certificate chain contains a root CA certificate" in r.err
    # sigstore's own warning about it is said as attest's, not as a bare line
    assert all(line.startswith("attest: ") for line in r.err.splitlines()), r.err




# -- item 7: message signatures by P-384, P-521 and RSA-4096 certificates -----------------------

ARTIFACT = b"release artifact signed by a non-P-256 key\n"


def _key(kind: str):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if kind == "rsa-4096":
        return rsa.generate_private_key(public_exponent=65537, key_size=4096)
    return ec.generate_private_key({"p-256": ec.SECP256R1(), "p-384": ec.SECP384R1(),
                                    "p-521": ec.SECP521R1()}[kind])


@pytest.mark.parametrize(("kind", "alg"), [("p-384", "sha384"), ("p-521", "sha512"),
                                           ("rsa-4096", "sha256"), ("p-256", "sha256"),
                                           ("p-384", "sha256"), ("rsa-4096", "sha512")])
def test_message_signature_by_other_keys_and_digests(attest, standin, tmp_path, kind,
                                                     alg) -> None:
    """Issue 17 item 7: sigstore-java and cosign sign files with P-384/SHA-384, P-521/SHA-512
    and RSA PKCS#1 v1.5 certificates; attest hashed SHA-256 only ("digest mismatch") and
    gave RSA keys to ECDSA (a TypeError shown as a failed verification)."""
    bundle = tmp_path / "b.sigstore.json"
    bundle.write_text(json.dumps(standin.message_bundle(ARTIFACT, _key(kind), alg, email=ME)))
    root = tmp_path / "root.json"
    root.write_text(json.dumps(standin.trusted_root()))
    artifact = tmp_path / "artifact.txt"
    artifact.write_bytes(ARTIFACT)
    base = ["verify", bundle, "--trusted-root", root, "--offline",
            "--certificate-identity", ME, "--certificate-oidc-issuer", standin.issuer]
    r = attest(*base, "--artifact", artifact)
    assert r.code == 0, r.err
    assert f"ok  signature: Sigstore bundle: signature over the artifact ({alg}) valid" in r.out
    assert sigstore_js.verify(bundle, root, ME, standin.issuer, artifact) == {"ok": True}
    # --digest in the algorithm the bundle signs stands in for the file
    r = attest(*base, "--digest", f"{alg}:{hashlib.new(alg, ARTIFACT).hexdigest()}")
    assert r.code == 0, r.err
    other = "sha512" if alg != "sha512" else "sha384"
    r = attest(*base, "--digest", f"{other}:{hashlib.new(other, ARTIFACT).hexdigest()}")
    assert r.code == 2 and f"this bundle signs a {alg} digest" in r.err, r.err
    # another file fails, on the digest
    artifact.write_bytes(ARTIFACT + b"tampered")
    r = attest(*base, "--artifact", artifact)
    assert r.code == 1 and "Bundle message digest mismatch" in r.err, r.err
    assert "TypeError" not in r.err


def test_message_signature_tampered_signature_fails(attest, standin, tmp_path) -> None:
    doc = standin.message_bundle(ARTIFACT, _key("rsa-4096"), "sha256", email=ME)
    sig = bytearray(base64.b64decode(doc["messageSignature"]["signature"]))
    sig[-1] ^= 1
    doc["messageSignature"]["signature"] = base64.b64encode(bytes(sig)).decode()
    bundle = tmp_path / "b.sigstore.json"
    bundle.write_text(json.dumps(doc))
    root = tmp_path / "root.json"
    root.write_text(json.dumps(standin.trusted_root()))
    artifact = tmp_path / "artifact.txt"
    artifact.write_bytes(ARTIFACT)
    r = attest("verify", bundle, "--trusted-root", root, "--offline", "--artifact", artifact,
               "--certificate-identity", ME, "--certificate-oidc-issuer", standin.issuer)
    assert r.code == 1 and "Signature is invalid for input" in r.err, r.err


def test_username_identity_of_a_private_instance(attest, standin, tmp_path) -> None:
    """A private instance's Fulcio (sigstore/scaffolding) certifies a username identity as
    an otherName SAN, a DER UTF8String: it is matched as its text ("foo!HOST"), not as the
    encoded bytes (sigstore-go's othernameBundle.json had "\\x0c\\x0efoo!oidc.local")."""
    from cryptography.hazmat.primitives.asymmetric import ec

    doc = standin.message_bundle(ARTIFACT, ec.generate_private_key(ec.SECP256R1()),
                                 username="foo")
    bundle = tmp_path / "b.sigstore.json"
    bundle.write_text(json.dumps(doc))
    root = tmp_path / "root.json"
    root.write_text(json.dumps(standin.trusted_root()))
    who = "foo!" + standin.url.split("://")[1]
    base = ["verify", bundle, "--trusted-root", root, "--offline", "--digest",
            "sha256:" + hashlib.sha256(ARTIFACT).hexdigest(),
            "--certificate-oidc-issuer", standin.issuer]
    r = attest(*base, "--certificate-identity", who)
    assert r.code == 0 and f"ok  certificate-identity: signed by {who}" in r.out, r.err
    r = attest(*base, "--certificate-identity", "bar!" + standin.url.split("://")[1])
    assert r.code == 1 and f"certificate identity is {who}, policy wants bar!" in r.err, r.err


def _pub(tmp_path, key, name: str = "signer.pub"):
    from cryptography.hazmat.primitives import serialization

    path = tmp_path / name
    path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


@pytest.mark.parametrize("kind", ["dsse-0.0.1", "hashedrekord-0.0.1", "hashedrekord-0.0.2"])
def test_managed_key_bundle_kinds(attest, standin, tmp_path, kind) -> None:
    """Item 6 beyond the conformance cases: a managed key's DSSE bundle (dsse 0.0.1) and its
    signed files on Rekor v1 and v2; sigstore-js (given the key) agrees on each."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    if kind == "dsse-0.0.1":
        doc = standin.keyed_bundle(key, payload=STATEMENT)
    else:
        doc = standin.keyed_bundle(key, data=ARTIFACT, rekor_v2=kind.endswith("0.0.2"))
    bundle = tmp_path / "keyed.sigstore.json"
    bundle.write_text(json.dumps(doc))
    root = tmp_path / "root.json"
    root.write_text(json.dumps(standin.trusted_root()))
    artifact = tmp_path / "artifact.txt"
    artifact.write_bytes(ARTIFACT)
    dsse = kind.startswith("dsse")
    base = ["verify", bundle, "--trusted-root", root, "--offline"]
    base += ["--builder-id", "https://attester.dev/builders/test"] if dsse else \
        ["--artifact", artifact]
    r = attest(*base, "--key", _pub(tmp_path, key))
    assert r.code == 0, r.err
    assert f"ok  signature: Sigstore bundle signed by {tmp_path / 'signer.pub'}" in r.out
    verdict = sigstore_js.verify(bundle, root, "-", "-", None if dsse else artifact,
                                 key=_pub(tmp_path, key))
    assert verdict["ok"] is True, verdict
    other = _pub(tmp_path, ec.generate_private_key(ec.SECP256R1()), "other.pub")
    r = attest(*base, "--key", other)
    assert r.code == 1 and "signed by a key that is not trusted" in r.err, r.err
    # the envelope or signature swapped for another signed by the same key fails on the log
    if dsse:
        swapped = standin.keyed_bundle(key, payload=STATEMENT.replace(b"app.bin", b"app.exe"))
        doc["dsseEnvelope"] = swapped["dsseEnvelope"]
        needle = "log entry signature does not match the bundle's"
    else:
        swapped = standin.keyed_bundle(key, data=ARTIFACT + b"2")
        doc["messageSignature"]["signature"] = swapped["messageSignature"]["signature"]
        needle = "log entry signature does not match the bundle's"
    bundle.write_text(json.dumps(doc))
    r = attest(*base, "--key", _pub(tmp_path, key))
    assert r.code == 1 and needle in r.err, r.err
    if kind.endswith("0.0.2"):  # Rekor v2 without its timestamp: no verified time at all
        doc = standin.keyed_bundle(key, data=ARTIFACT, rekor_v2=True)
        del doc["verificationMaterial"]["timestampVerificationData"]
        bundle.write_text(json.dumps(doc))
        r = attest(*base, "--key", _pub(tmp_path, key))
        assert r.code == 1 and "inclusion promise or signed timestamp" in r.err, r.err
