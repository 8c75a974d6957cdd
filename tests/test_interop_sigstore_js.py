"""sigstore-js, an independent Sigstore implementation, in both directions: it verifies
what ``attest sign --keyless`` produced against the local Sigstore stand-in, and
``attest verify`` verifies what sigstore-js signed there. Offline, on loopback."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import sigstore_js

from sigstore_standin import SigstoreStandIn

ME = "release-bot@example.com"


@pytest.fixture(scope="module")
def standin() -> Iterator[SigstoreStandIn]:
    with SigstoreStandIn() as s:
        yield s


# -- (a) sigstore-js verifies attest's bundles ------------------------------------------------

@pytest.fixture
def attest_signed(attest, standin, repo, monkeypatch, tmp_path):
    monkeypatch.chdir(repo)
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    r = attest("sign", "p.json", "--keyless", "--identity-token", standin.token(ME),
               "--trust-config", tmp_path / "trust.json", "-o", "p.sigstore.json")
    assert r.code == 0, r.err
    return repo / "p.sigstore.json", tmp_path / "root.json"


def test_sigstore_js_verifies_attest_keyless_bundle(attest_signed, standin) -> None:
    bundle, root = attest_signed
    assert sigstore_js.verify(bundle, root, ME, standin.issuer) == {"ok": True}


def test_sigstore_js_refuses_wrong_identity_and_tampered_copies(attest_signed, standin) -> None:
    bundle, root = attest_signed
    verdict = sigstore_js.verify(bundle, root, "someone@example.com", standin.issuer)
    assert verdict["ok"] is False and verdict["code"] == "UNTRUSTED_SIGNER_ERROR"
    doc = json.loads(bundle.read_text())
    payload = bytearray(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    payload[payload.index(b"sha256") + 12] ^= 1
    doc["dsseEnvelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    bad = bundle.with_name("bad.sigstore.json")
    bad.write_text(json.dumps(doc))
    verdict = sigstore_js.verify(bad, root, ME, standin.issuer)
    assert verdict["ok"] is False, verdict


def _rename_checkpoint(standin: SigstoreStandIn, bundle, name: str):
    """The bundle with its checkpoint re-signed by the log's own key under another name."""
    doc = json.loads(bundle.read_text())
    proof = doc["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["checkpoint"]["envelope"] = standin.checkpoint(
        int(proof["treeSize"]), base64.b64decode(proof["rootHash"]), name=name)
    out = bundle.with_name(f"renamed-{len(name)}.sigstore.json")
    out.write_text(json.dumps(doc))
    return out


def test_checkpoint_naming_another_log_fails_in_both(attest, attest_signed, standin) -> None:
    """Real Rekor names its checkpoints after its host; one signed by the right key but
    naming another log is refused by sigstore-js and by attest alike."""
    bundle, root = attest_signed
    good = _rename_checkpoint(standin, bundle, standin.url.split("://")[1])
    assert sigstore_js.verify(good, root, ME, standin.issuer) == {"ok": True}
    bad = _rename_checkpoint(standin, bundle, "rekor.attester.test")
    verdict = sigstore_js.verify(bad, root, ME, standin.issuer)
    assert verdict == {"ok": False, "code": "TLOG_INCLUSION_PROOF_ERROR",
                       "message": "invalid checkpoint signature"}
    r = attest("verify", bad, "--trusted-root", root, "--offline", "--certificate-identity", ME,
               "--certificate-oidc-issuer", standin.issuer,
               "--predicate-type", "https://slsa.dev/provenance/v1")  # not an empty policy
    assert r.code == 1
    assert "checkpoint origin 'rekor.attester.test - " in r.err and "is not the log" in r.err
