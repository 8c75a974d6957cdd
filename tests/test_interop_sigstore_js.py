"""sigstore-js, an independent Sigstore implementation, in both directions: it verifies
what ``attest sign --keyless`` produced against the local Sigstore stand-in, and
``attest verify`` verifies what sigstore-js signed there. Offline, on loopback."""

from __future__ import annotations

import base64
import json

import pytest

import sigstore_js
from conftest import sign_keyless
from sigstore_standin import SigstoreStandIn

ME = "release-bot@example.com"


# -- (a) sigstore-js verifies attest's bundles ------------------------------------------------

@pytest.fixture
def attest_signed(attest, standin, repo, monkeypatch, tmp_path):
    monkeypatch.chdir(repo)
    return sign_keyless(attest, standin, repo, tmp_path, ME)


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


def _resign_checkpoint(other: SigstoreStandIn, bundle, name: str):
    """The bundle with its checkpoint signed by another log's key (``other``'s), named as
    the real log names it."""
    doc = json.loads(bundle.read_text())
    proof = doc["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["checkpoint"]["envelope"] = other.checkpoint(
        int(proof["treeSize"]), base64.b64decode(proof["rootHash"]), name=name)
    out = bundle.with_name("resigned.sigstore.json")
    out.write_text(json.dumps(doc))
    return out


def test_checkpoint_named_after_a_private_instance_verifies(attest, attest_signed,
                                                           standin) -> None:
    """Issue 17 item 9: a private instance (sigstore/scaffolding) names its checkpoints after
    its service, not the URL in the trusted root. What binds the checkpoint to the log is
    the log key's signature, so a checkpoint signed by the log's key under another name
    verifies. sigstore-js 3.1.1 disagrees: it matches the signer's name against the log's
    URL ("invalid checkpoint signature"); sigstore-python and sigstore-go check the key."""
    bundle, root = attest_signed
    args = ["--trusted-root", root, "--offline", "--certificate-identity", ME,
            "--certificate-oidc-issuer", standin.issuer,
            "--predicate-type", "https://slsa.dev/provenance/v1"]  # not an empty policy
    good = _rename_checkpoint(standin, bundle, standin.url.split("://")[1])
    assert sigstore_js.verify(good, root, ME, standin.issuer) == {"ok": True}
    renamed = _rename_checkpoint(standin, bundle, "rekor.rekor-system.svc")
    r = attest("verify", renamed, *args)
    assert r.code == 0, r.err
    assert sigstore_js.verify(renamed, root, ME, standin.issuer) == {
        "ok": False, "code": "TLOG_INCLUSION_PROOF_ERROR",
        "message": "invalid checkpoint signature"}
    # the same checkpoint signed by another log's key fails in both
    with SigstoreStandIn() as other:
        forged = _resign_checkpoint(other, bundle, standin.url.split("://")[1])
    r = attest("verify", forged, *args)
    assert r.code == 1 and "checkpoint carries no signature by the log's key" in r.err, r.err
    assert sigstore_js.verify(forged, root, ME, standin.issuer)["ok"] is False
    # and a checkpoint whose origin was rewritten after the log signed it fails in both
    doc = json.loads(good.read_text())
    proof = doc["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["checkpoint"]["envelope"] = proof["checkpoint"]["envelope"].replace(
        standin.url.split("://")[1], "rekor.attester.test")
    rewritten = bundle.with_name("rewritten.sigstore.json")
    rewritten.write_text(json.dumps(doc))
    r = attest("verify", rewritten, *args)
    assert r.code == 1 and "checkpoint: invalid signature" in r.err, r.err
    assert sigstore_js.verify(rewritten, root, ME, standin.issuer)["ok"] is False


# -- (b) attest verifies sigstore-js's bundles -------------------------------------------------

STATEMENT = json.dumps({
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [{"name": "app.bin", "digest": {"sha256": "ab" * 32}}],
    "predicateType": "https://slsa.dev/provenance/v1",
    "predicate": {"buildDefinition": {"buildType": "https://attester.dev/test/v1",
                                      "externalParameters": {}},
                  "runDetails": {"builder": {"id": "https://attester.dev/builders/test"}}},
}).encode()
ARTIFACT = b"the artifact sigstore-js signs as a message\n"


def _js_sign(standin: SigstoreStandIn, tmp_path, name: str, **request) -> tuple:
    message = request.get("message", False)
    payload = ARTIFACT if message else STATEMENT
    r = sigstore_js.run("sign.js", stdin={"fulcioURL": standin.url, "token": standin.token(ME),
                                          "payload": base64.b64encode(payload).decode(),
                                          **request})
    assert r.returncode == 0, r.stderr
    bundle = tmp_path / f"{name}.sigstore.json"
    bundle.write_text(r.stdout)
    root = tmp_path / "root.json"
    root.write_text(json.dumps(standin.trusted_root()))
    artifact = tmp_path / "artifact.txt"
    artifact.write_bytes(ARTIFACT)
    return bundle, root, artifact if message else None


CASES = {
    # name: (sign.js request given the stand-in, expected kind/version of the log entry)
    "dsse-0.0.1": (lambda s: {"rekorURL": s.url}, {"kind": "dsse", "version": "0.0.1"}),
    "intoto-0.0.2": (lambda s: {"rekorURL": s.url, "entryType": "intoto"},
                     {"kind": "intoto", "version": "0.0.2"}),
    "dsse-0.0.1+tsa": (lambda s: {"rekorURL": s.url, "tsaURL": s.url},
                       {"kind": "dsse", "version": "0.0.1"}),
    "message-hashedrekord-0.0.1": (lambda s: {"rekorURL": s.url, "message": True},
                                   {"kind": "hashedrekord", "version": "0.0.1"}),
    "rekor-v2-dsse-0.0.2+tsa": (lambda s: {"rekorURL": s.url2, "rekorMajorVersion": 2,
                                           "tsaURL": s.url},
                                {"kind": "dsse", "version": "0.0.2"}),
    "rekor-v2-message-hashedrekord-0.0.2+tsa": (
        lambda s: {"rekorURL": s.url2, "rekorMajorVersion": 2, "tsaURL": s.url,
                   "message": True},
        {"kind": "hashedrekord", "version": "0.0.2"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_attest_verifies_sigstore_js_bundle(attest, standin, tmp_path, case) -> None:
    request, kind = CASES[case]
    bundle, root, artifact = _js_sign(standin, tmp_path, case, **request(standin))
    doc = json.loads(bundle.read_text())
    assert [e["kindVersion"] for e in doc["verificationMaterial"]["tlogEntries"]] == [kind]
    assert ("rfc3161Timestamps" in doc["verificationMaterial"].get(
        "timestampVerificationData", {})) == ("tsa" in case)
    # sigstore-js agrees with itself: the reference verdict
    assert sigstore_js.verify(bundle, root, ME, standin.issuer, artifact) == {"ok": True}
    args = ["verify", bundle, "--trusted-root", root, "--offline",
            "--certificate-identity", ME, "--certificate-oidc-issuer", standin.issuer]
    if artifact is not None:
        args += ["--artifact", artifact]
    else:  # the statement's builder: a policy for the payload, and a check that it was read
        args += ["--builder-id", "https://attester.dev/builders/test"]
    r = attest(*args)
    assert r.code == 0, r.err
    assert "ok  signature: Sigstore bundle" in r.out
    assert f"ok  certificate-identity: signed by {ME}" in r.out
    # ... and a tampered copy fails in both
    doc = json.loads(bundle.read_text())
    if artifact is not None:
        artifact.write_bytes(ARTIFACT + b"tampered")
    else:
        payload = bytearray(base64.b64decode(doc["dsseEnvelope"]["payload"]))
        payload[payload.index(b"ab" * 32) + 5] ^= 1
        doc["dsseEnvelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    bad = bundle.with_name(f"bad-{case}.sigstore.json")
    bad.write_text(json.dumps(doc))
    assert sigstore_js.verify(bad, root, ME, standin.issuer, artifact)["ok"] is False
    r = attest(*[bad if a == bundle else a for a in args])
    assert r.code == 1, r.err


def test_timestamp_only_bundle_in_a_domain_without_logs(attest, standin, tmp_path) -> None:
    """sigstore-js's bundle with only an RFC 3161 timestamp (no log entry, as GitHub's
    private-repository attestations): verified when the trusted root has no transparency
    log (as GitHub's trust domain), refused against a root that has one, by both verifiers."""
    bundle, root, _ = _js_sign(standin, tmp_path, "tsa-only", tsaURL=standin.url)
    doc = json.loads(bundle.read_text())
    assert doc["verificationMaterial"].get("tlogEntries", []) == []
    no_logs = tmp_path / "root-no-logs.json"
    no_logs.write_text(json.dumps({**standin.trusted_root(), "tlogs": []}))
    assert sigstore_js.verify(bundle, no_logs, ME, standin.issuer, no_tlog=True) == {"ok": True}
    policy = ["--builder-id", "https://attester.dev/builders/test"]
    r = attest("verify", bundle, "--trusted-root", no_logs, "--offline",
               "--certificate-identity", ME, "--certificate-oidc-issuer", standin.issuer, *policy)
    assert r.code == 0, r.err
    assert sigstore_js.verify(bundle, root, ME, standin.issuer)["ok"] is False
    r = attest("verify", bundle, "--trusted-root", root, "--offline",
               "--certificate-identity", ME, "--certificate-oidc-issuer", standin.issuer, *policy)
    assert r.code == 1, r.err


# -- sigstore-js on the real-world sets in testdata/interop ---------------------------------------------

#: Invalid for a policy sigstore-js does not check (tag, builder, artifact in the subjects):
#: its signature-level verdict is "ok", and attest fails them on the policy.
POLICY_ONLY = {"sv-gha-gradle-v2.1.0-push-v13.0.30-wrong-tag",
               "sv-gha-maven-v2.0.0-push-v14-wrong-versioned-tag",
               "sv-gha-container-based-v2.0.0-wd-untrusted-builder-id",
               "gh-github-release-attestation-artifact-not-in-subjects"}
#: Where sigstore-js 3.1.1 and attest disagree (README: "They agree on every case ..."):
#: DSSE bundles logged in Rekor v2 as hashedrekord 0.0.2 over SHA-256(PAE), as
#: sigstore-python and sigstore-rust write them. The logged digest is that of exactly the
#: bytes the signature covers, so attest (like sigstore-python and sigstore-rust) accepts
#: them; sigstore-js compares it with the payload's digest and refuses.
DISAGREE = {"sp-dsse-slsa-v1-staging-rekor-v2-valid": "digest mismatch",
            "sr-conda-attestation-staging-rekor-v2-valid": "digest mismatch"}


def _shared_cases() -> list[tuple[str, dict]]:
    from conftest import INTEROP

    out = []
    for name in ("sigstore", "realworld"):
        m = INTEROP / name / "MANIFEST.json"
        cases = json.loads(m.read_text())["cases"] if m.exists() else [{"id": "MISSING"}]
        out += [(name, c) for c in cases]
    return out


@pytest.mark.parametrize(("set_name", "case"), _shared_cases(),
                         ids=lambda v: v["id"] if isinstance(v, dict) else v)
def test_sigstore_js_on_shared_cases(set_name, case, tmp_path) -> None:
    from conftest import interop_path

    base = interop_path(set_name, "MANIFEST.json").parent
    files = case["files"]
    text = (base / (files.get("bundle") or files["provenance"])).read_text()
    try:
        doc = json.loads(text)
    except ValueError:  # JSON Lines: its (single) bundle
        doc = json.loads(text.splitlines()[0])
    if "attestations" in doc:  # npm's registry document: the Fulcio-signed provenance
        doc = next(a["bundle"] for a in doc["attestations"] if "slsa.dev" in a["predicateType"])
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(doc))
    root_path = base / case["trusted_root"]
    root = json.loads(root_path.read_text())
    artifact = base / files["artifact"] if files.get("artifact") and \
        "dsseEnvelope" not in doc else None
    args: list = [bundle, root_path, case.get("certificate_identity") or "unknown@example.com",
                  case.get("certificate_oidc_issuer") or "-"]
    if artifact is not None:
        args += ["--artifact", artifact]
    if not root.get("tlogs"):
        args += ["--tlog-threshold", "0"]
    if not root.get("ctlogs"):
        args += ["--ctlog-threshold", "0"]
    r = sigstore_js.run("verify.js", *args)
    verdict = json.loads(r.stdout)
    if case["id"] in DISAGREE:
        assert case["expected"] == "valid"
        assert verdict["ok"] is False and DISAGREE[case["id"]] in verdict["message"], verdict
    elif case["id"] in POLICY_ONLY:
        assert case["expected"] == "invalid" and verdict == {"ok": True}
    else:
        assert verdict["ok"] == (case["expected"] == "valid"), verdict


def test_intoto_entry_checkpoint_bound_by_the_log_key(attest, standin, tmp_path) -> None:
    """The intoto 0.0.2 path (npm and BYOB bundles) binds the checkpoint the same way: the
    log key's signature, whatever name it carries."""
    bundle = tmp_path / "intoto.sigstore.json"
    bundle.write_text(json.dumps(standin.intoto_bundle(STATEMENT, email=ME)))
    root = tmp_path / "root.json"
    root.write_text(json.dumps(standin.trusted_root()))
    args = ["--trusted-root", root, "--offline", "--certificate-identity", ME,
            "--certificate-oidc-issuer", standin.issuer,
            "--builder-id", "https://attester.dev/builders/test"]
    assert attest("verify", bundle, *args).code == 0
    renamed = _rename_checkpoint(standin, bundle, "rekor.rekor-system.svc")
    assert attest("verify", renamed, *args).code == 0
    with SigstoreStandIn() as other:
        forged = _resign_checkpoint(other, bundle, standin.url.split("://")[1])
    r = attest("verify", forged, *args)
    assert r.code == 1 and "checkpoint carries no signature by the log's key" in r.err, r.err
    assert sigstore_js.verify(forged, root, ME, standin.issuer)["ok"] is False


def test_real_checkpoint_bound_by_key_not_host(attest, tmp_path) -> None:
    """sigstore-python's real staging bundle still verifies when the trusted root names its
    log at another host with the same key (a private instance's situation): its checkpoint
    (`rekor.sigstage.dev - ...`) is signed by that key. sigstore-js refuses it (it matches
    the name against the URL); the same root with another key for that log fails."""
    from conftest import interop_path

    base = interop_path("sigstore", "MANIFEST.json").parent
    bundle, artifact = base / "sp_bundle_v3.txt.sigstore", base / "sp_bundle_v3.txt"
    root = json.loads((base / "trusted_root.sigstore-staging.json").read_text())
    moved = tmp_path / "root.json"
    for tlog in root["tlogs"]:
        if tlog["baseUrl"] == "https://rekor.sigstage.dev":
            tlog["baseUrl"] = "https://rekor.elsewhere.example"
    moved.write_text(json.dumps(root))
    who = ["william@yossarian.net", "https://github.com/login/oauth"]
    assert sigstore_js.verify(bundle, moved, *who, artifact) == {
        "ok": False, "code": "TLOG_INCLUSION_PROOF_ERROR",
        "message": "invalid checkpoint signature"}
    args = ["--offline", "--artifact", artifact, "--certificate-identity", who[0],
            "--certificate-oidc-issuer", who[1]]
    r = attest("verify", bundle, "--trusted-root", moved, *args)
    assert r.code == 0, r.err


#: sigstore-conformance cases where sigstore-js 3.1.1 and attest (and the suite) disagree:
#: the Rekor v2 hashedrekord-over-DSSE encoding (as in DISAGREE above), and a trusted root
#: whose log key has no validity start, which sigstore-js reads as unbounded.
CONFORMANCE_DISAGREE = {"rekor2-dsse-happy-path": "digest mismatch",
                        "trust-root-tlog-missing-validity-start_fail": None}


def _conformance_cases() -> list[dict]:
    from conftest import INTEROP

    m = INTEROP / "conformance" / "MANIFEST.json"
    return json.loads(m.read_text())["cases"] if m.exists() else [{"id": "MISSING"}]


@pytest.mark.parametrize("case", _conformance_cases(), ids=lambda c: c["id"])
def test_sigstore_js_on_conformance_cases(case) -> None:
    """sigstore-js gives the suite's verdict on every sigstore-conformance case (managed-key
    cases with their key), but for the two it is known to differ on."""
    from conftest import interop_path

    base = interop_path("conformance", "MANIFEST.json").parent
    bundle = base / case["bundle"]
    try:
        dsse = "dsseEnvelope" in json.loads(bundle.read_text())
    except ValueError:
        dsse = False
    verdict = sigstore_js.verify(bundle, base / case["trusted_root"], case["identity"],
                                 case["issuer"], None if dsse else base / case["artifact"],
                                 key=base / case["key"] if case["key"] else None)
    valid = case["expected"] == "valid"
    if case["id"] in CONFORMANCE_DISAGREE:
        assert verdict["ok"] is not valid, verdict
        assert (CONFORMANCE_DISAGREE[case["id"]] or "") in verdict.get("message", ""), verdict
    else:
        assert verdict["ok"] is valid, verdict
