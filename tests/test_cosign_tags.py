"""cosign's tag-based signatures (sha256-<hex>.sig) and attestations (.att), pushed to the real
docker-registry in cosign's layout (cosign specs/SIGNATURE_SPEC.md), and read by
`verify oci://` beside OCI referrers. Keyless material is made by the sigstore client against
the Sigstore stand-in (a real Fulcio certificate chain, a real Rekor SET), then laid out as
cosign lays it out: signature, certificate and Rekor bundle in layer annotations."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from test_store_oci import OCI_MANIFEST, push_blob, push_image, push_manifest

from servers import oci_registry

SIMPLE = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
IDENTITY = "release-bot@example.com"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with oci_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


def simple_signing(reg: str, repo: str, digest: str) -> bytes:
    return json.dumps({"critical": {"identity": {"docker-reference": f"{reg}/{repo}"},
                                    "image": {"docker-manifest-digest": digest},
                                    "type": "cosign container image signature"},
                       "optional": None}).encode()


def push_cosign_tag(reg: str, repo: str, digest: str, suffix: str,
                    layers: list[tuple[str, bytes, dict[str, str]]]) -> None:
    """A manifest tagged sha256-<hex>.<suffix>, one layer per signature, as cosign writes."""
    config = b"{}"
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": push_blob(reg, repo, config), "size": len(config)},
                "layers": [{"mediaType": mt, "size": len(data),
                            "digest": push_blob(reg, repo, data), "annotations": ann}
                           for mt, data, ann in layers]}
    push_manifest(reg, repo, digest.replace(":", "-") + "." + suffix,
                  json.dumps(manifest).encode(), OCI_MANIFEST)


def keyless_annotations(standin, payload: bytes, identity: str = IDENTITY) -> dict[str, str]:
    """Sign ``payload`` keyless against the stand-in with the sigstore client, and spread the
    bundle over cosign's annotations as cosign does."""
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext

    config = ClientTrustConfig.from_json(json.dumps(standin.trust_config()))
    ctx = SigningContext.from_trust_config(config)
    with ctx.signer(IdentityToken(standin.token(identity)), cache=True) as signer:
        bundle = json.loads(signer.sign_artifact(payload).to_json())
    material = bundle["verificationMaterial"]
    cert = material.get("certificate") or material["x509CertificateChain"]["certificates"][0]
    pem = x509.load_der_x509_certificate(base64.b64decode(cert["rawBytes"])).public_bytes(
        Encoding.PEM).decode()
    entry = material["tlogEntries"][0]
    rekor = {"SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
             "Payload": {"body": entry["canonicalizedBody"],
                         "integratedTime": int(entry["integratedTime"]),
                         "logIndex": int(entry["logIndex"]),
                         "logID": base64.b64decode(entry["logId"]["keyId"]).hex()}}
    return {"dev.cosignproject.cosign/signature": bundle["messageSignature"]["signature"],
            "dev.sigstore.cosign/certificate": pem,
            "dev.sigstore.cosign/chain": "",
            "dev.sigstore.cosign/bundle": json.dumps(rekor)}


@pytest.fixture
def root(standin, tmp_path) -> Path:
    path = tmp_path / "root.json"
    path.write_text(json.dumps(standin.trusted_root()))
    return path


@pytest.fixture
def verify_image(attest, standin, root):
    def run(ref: str, *extra: str):
        return attest("verify", f"oci://{ref}", "--insecure-registry", "--trusted-root", root,
                      "--certificate-identity", IDENTITY, "--certificate-oidc-issuer",
                      standin.issuer, *extra)

    return run


def test_keyless_sig_verifies_and_names_the_image(verify_image, registry, standin) -> None:
    digest, _ = push_image(registry, "k8s/kube-apiserver", "v1.31.0")
    payload = simple_signing(registry, "k8s/kube-apiserver", digest)
    push_cosign_tag(registry, "k8s/kube-apiserver", digest, "sig",
                    [(SIMPLE, payload, keyless_annotations(standin, payload))])
    r = verify_image(f"{registry}/k8s/kube-apiserver:v1.31.0")
    assert r.code == 0, r.err + r.out
    assert "cosign sha256-" in r.out and f"signed payload names {digest}" in r.out


def test_keyless_sig_of_another_identity_fails(verify_image, registry, standin) -> None:
    digest, _ = push_image(registry, "k8s/kube-proxy", "v1.31.0")
    payload = simple_signing(registry, "k8s/kube-proxy", digest)
    push_cosign_tag(registry, "k8s/kube-proxy", digest, "sig",
                    [(SIMPLE, payload, keyless_annotations(standin, payload, "mallory@x.com"))])
    r = verify_image(f"{registry}/k8s/kube-proxy:v1.31.0")
    assert r.code == 1 and "mallory@x.com" in r.err + r.out


def test_signature_copied_from_another_image_fails(verify_image, registry, standin) -> None:
    """A valid signature of image A placed under image B's tag signs A, not B."""
    a, _ = push_image(registry, "k8s/pause", "3.9")
    b, _ = push_image(registry, "k8s/pause", "3.10", arch="arm64")
    payload = simple_signing(registry, "k8s/pause", a)
    push_cosign_tag(registry, "k8s/pause", b, "sig",
                    [(SIMPLE, payload, keyless_annotations(standin, payload))])
    r = verify_image(f"{registry}/k8s/pause:3.10")
    assert r.code == 1 and f"names '{a}', not this image ({b})" in r.err + r.out


def test_tampered_payload_or_rekor_bundle_fails(verify_image, registry, standin) -> None:
    digest, _ = push_image(registry, "k8s/etcd", "3.5")
    payload = simple_signing(registry, "k8s/etcd", digest)
    ann = keyless_annotations(standin, payload)
    other = json.loads(payload)
    other["optional"] = {"tampered": "yes"}
    rekor = json.loads(ann["dev.sigstore.cosign/bundle"])
    rekor["Payload"]["integratedTime"] += 1  # the SET covers it
    push_cosign_tag(registry, "k8s/etcd", digest, "sig", [
        (SIMPLE, json.dumps(other).encode(), ann),
        (SIMPLE, payload, {**ann, "dev.sigstore.cosign/bundle": json.dumps(rekor)})])
    r = verify_image(f"{registry}/k8s/etcd:3.5", "--format", "json")
    assert r.code == 1, r.out
    assert "verified" in r.out and r.json()["verified"] is False


def test_keyed_sig_and_att(attest, registry, tmp_path, repo, monkeypatch) -> None:
    """cosign sign --key / cosign attest --key: the signature over the payload's exact
    bytes, and the .att DSSE envelope, both checked with --key."""
    from attester.signing import keys

    monkeypatch.chdir(repo)
    assert attest("keygen", "--out", tmp_path / "cosign").code == 0
    key = keys.load_private(tmp_path / "cosign.key", None)
    digest, _ = push_image(registry, "k8s/coredns", "1.11")
    payload = simple_signing(registry, "k8s/coredns", digest)
    sig = base64.b64encode(keys.sign(key, payload)).decode()
    push_cosign_tag(registry, "k8s/coredns", digest, "sig",
                    [(SIMPLE, payload, {"dev.cosignproject.cosign/signature": sig})])
    ref = f"oci://{registry}/k8s/coredns:1.11"
    r = attest("verify", ref, "--insecure-registry", "--key", tmp_path / "cosign.pub")
    assert r.code == 0, r.err + r.out
    assert "cosign signature valid" in r.out
    # a policy about provenance cannot be answered by a signature: the .att must answer it
    r = attest("verify", ref, "--insecure-registry", "--key", tmp_path / "cosign.pub",
               "--builder-id", "https://attester.dev/builders/local/v1")
    assert r.code == 2, r.err
    assert "--builder-id cannot be checked: " in r.err and "is a cosign signature by a key, " \
        "over the image only, and --builder-id needs a SLSA provenance statement" in r.err
    statement = {"_type": "https://in-toto.io/Statement/v1",
                 "subject": [{"name": f"{registry}/k8s/coredns",
                              "digest": {"sha256": digest.removeprefix("sha256:")}}],
                 "predicateType": "https://slsa.dev/provenance/v1",
                 "predicate": {"buildDefinition": {
                     "buildType": "https://example.com/cosign-attest/v1",
                     "externalParameters": {}, "resolvedDependencies": []},
                     "runDetails": {"builder": {"id": "https://attester.dev/builders/local/v1"},
                                    "metadata": {}}}}
    body = json.dumps(statement).encode()
    (tmp_path / "s.json").write_bytes(body)
    r = attest("sign", tmp_path / "s.json", "--key", tmp_path / "cosign.key", "-o",
               tmp_path / "s.intoto.json")
    assert r.code == 0, r.err
    envelope = (tmp_path / "s.intoto.json").read_bytes()
    push_cosign_tag(registry, "k8s/coredns", digest, "att",
                    [(DSSE, envelope, {"dev.cosignproject.cosign/signature": "",
                                       "predicateType": "https://slsa.dev/provenance/v1"})])
    r = attest("verify", ref, "--insecure-registry", "--key", tmp_path / "cosign.pub",
               "--builder-id", "https://attester.dev/builders/local/v1")
    assert r.code == 0, r.err + r.out
    assert "cosign sha256-" in r.out and ".att" in r.out


def test_hostile_cosign_tags_are_clear_failures(verify_image, registry, standin) -> None:
    digest, _ = push_image(registry, "k8s/hostile", "v1")
    payload = simple_signing(registry, "k8s/hostile", digest)
    ann = keyless_annotations(standin, payload)
    push_cosign_tag(registry, "k8s/hostile", digest, "sig", [
        (SIMPLE, payload, {**ann, "dev.sigstore.cosign/bundle": "[1, 2]"}),
        (SIMPLE, payload, {**ann, "dev.sigstore.cosign/certificate": "not a cert"}),
        (SIMPLE, b"[]", ann),
        (SIMPLE, payload, {k: v for k, v in ann.items() if k != "dev.sigstore.cosign/bundle"})])
    r = verify_image(f"{registry}/k8s/hostile:v1", "--format", "json")
    assert r.code == 1, r.err
    assert "internal error" not in r.err and "Traceback" not in r.err
    assert r.json()["verified"] is False


def keyless_attestation(standin, statement: bytes, identity: str = IDENTITY,
                        logged_payload: bytes | None = None) -> tuple[bytes, dict[str, str]]:
    """``cosign attest`` keyless: a DSSE envelope signed with a Fulcio certificate, logged in
    Rekor as intoto 0.0.1 (hash of the envelope, hash of the payload, the certificate), the
    Rekor answer in the bundle annotation."""
    import hashlib

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
           .sign(key, hashes.SHA256()))
    _, resp = standin.fulcio("Bearer " + standin.token(identity), json.dumps({
        "certificateSigningRequest": base64.b64encode(
            csr.public_bytes(serialization.Encoding.PEM)).decode()}).encode())
    pem = resp["signedCertificateEmbeddedSct"]["chain"]["certificates"][0]
    ptype = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %b %d %b" % (len(ptype), ptype.encode(), len(statement), statement)
    envelope = json.dumps({"payloadType": ptype,
                           "payload": base64.b64encode(statement).decode(),
                           "signatures": [{"keyid": "", "sig": base64.b64encode(
                               key.sign(pae, ec.ECDSA(hashes.SHA256()))).decode()}]}).encode()
    body = {"apiVersion": "0.0.1", "kind": "intoto", "spec": {
        "content": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(envelope).hexdigest()},
                    "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(
                        logged_payload or statement).hexdigest()}},
        "publicKey": base64.b64encode(pem.encode()).decode()}}
    (entry,) = standin.log(body).values()
    rekor = {"SignedEntryTimestamp": entry["verification"]["signedEntryTimestamp"],
             "Payload": {"body": entry["body"], "integratedTime": entry["integratedTime"],
                         "logIndex": entry["logIndex"], "logID": entry["logID"]}}
    return envelope, {"dev.cosignproject.cosign/signature": "",
                      "dev.sigstore.cosign/certificate": pem,
                      "dev.sigstore.cosign/chain": "",
                      "dev.sigstore.cosign/bundle": json.dumps(rekor),
                      "predicateType": "https://slsa.dev/provenance/v1"}


def _provenance(registry: str, repo: str, digest: str, builder: str) -> bytes:
    return json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": f"{registry}/{repo}",
                     "digest": {"sha256": digest.removeprefix("sha256:")}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://example.com/cosign-attest/v1",
                                          "externalParameters": {},
                                          "resolvedDependencies": []},
                      "runDetails": {"builder": {"id": builder}, "metadata": {}}}}).encode()


def test_keyless_att_verifies_with_its_policy(verify_image, registry, standin) -> None:
    digest, _ = push_image(registry, "k8s/scheduler", "v1")
    stmt = _provenance(registry, "k8s/scheduler", digest, "https://example.com/builder")
    envelope, ann = keyless_attestation(standin, stmt)
    push_cosign_tag(registry, "k8s/scheduler", digest, "att", [(DSSE, envelope, ann)])
    r = verify_image(f"{registry}/k8s/scheduler:v1", "--builder-id",
                     "https://example.com/builder")
    assert r.code == 0, r.err + r.out
    assert "cosign attestation valid" in r.out
    r = verify_image(f"{registry}/k8s/scheduler:v1", "--builder-id", "https://evil.example")
    assert r.code == 1 and "https://evil.example" in r.err + r.out


def test_keyless_att_logged_for_another_payload_fails(verify_image, registry, standin) -> None:
    digest, _ = push_image(registry, "k8s/controller", "v1")
    stmt = _provenance(registry, "k8s/controller", digest, "https://example.com/builder")
    envelope, ann = keyless_attestation(standin, stmt, logged_payload=b"something else")
    push_cosign_tag(registry, "k8s/controller", digest, "att", [(DSSE, envelope, ann)])
    r = verify_image(f"{registry}/k8s/controller:v1", "--builder-id",
                     "https://example.com/builder")
    assert r.code == 1 and "Rekor entry is about another payload" in r.err + r.out


def copy_image(reg: str, src: str, dst: str, digest: str, tag: str) -> None:
    """What the promoter copies before it attests: manifest and blobs, same digest."""
    import requests

    body = requests.get(f"http://{reg}/v2/{src}/manifests/{digest}", timeout=10,
                        headers={"Accept": OCI_MANIFEST}).content
    manifest = json.loads(body)
    for desc in [manifest["config"], *manifest["layers"]]:
        blob = requests.get(f"http://{reg}/v2/{src}/blobs/{desc['digest']}", timeout=10).content
        push_blob(reg, dst, blob)
    push_manifest(reg, dst, tag, body, OCI_MANIFEST)


def test_promote_require_provenance_reads_cosign_att(attest, registry, tmp_path, repo,
                                                     monkeypatch) -> None:
    """kpromo-style gate: a staged image whose provenance is a cosign .att passes; one with
    only a cosign .sig (a signature, no provenance) does not."""
    from attester.signing import keys

    monkeypatch.chdir(repo)
    assert attest("keygen", "--out", tmp_path / "stage").code == 0
    key = keys.load_private(tmp_path / "stage.key", None)
    digest, _ = push_image(registry, "staging/app", "v1")
    (tmp_path / "s.json").write_bytes(_provenance(registry, "staging/app", digest,
                                                  "https://example.com/builder"))
    assert attest("sign", tmp_path / "s.json", "--key", tmp_path / "stage.key", "-o",
                  tmp_path / "s.intoto.json").code == 0
    push_cosign_tag(registry, "staging/app", digest, "att",
                    [(DSSE, (tmp_path / "s.intoto.json").read_bytes(), {})])
    copy_image(registry, "staging/app", "prod/app", digest, "v1")
    r = attest("promote", "--image", f"{registry}/staging/app@{digest}={registry}/prod/app:v1",
               "--require-provenance", "require", "--key", tmp_path / "stage.pub",
               "--insecure-registry", "-o", tmp_path / "promotion.json")
    assert r.code == 0, r.err
    other, _ = push_image(registry, "staging/app", "v2", arch="arm64")
    payload = simple_signing(registry, "staging/app", other)
    push_cosign_tag(registry, "staging/app", other, "sig", [
        (SIMPLE, payload, {"dev.cosignproject.cosign/signature":
                           base64.b64encode(keys.sign(key, payload)).decode()})])
    copy_image(registry, "staging/app", "prod/app", other, "v2")
    r = attest("promote", "--image", f"{registry}/staging/app@{other}={registry}/prod/app:v2",
               "--require-provenance", "require", "--key", tmp_path / "stage.pub",
               "--insecure-registry", "-o", tmp_path / "promotion2.json")
    assert r.code == 1 and "staging provenance does not verify" in r.err, r.err
