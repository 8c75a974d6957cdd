"""Adversarial regressions: inputs an attacker holding valid material for something else
could build, each of which once passed (or lied in its output) and must now fail."""

from __future__ import annotations

import copy
import json

from conftest import interop_path

GHA = "https://token.actions.githubusercontent.com"
PUBLISH = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
WHEEL_ID = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"


def _rw(name: str):
    return interop_path("realworld", name)


def _sg(name: str):
    return interop_path("sigstore", name)


def _publish_item() -> dict:
    doc = json.loads(_rw("sv_npm_gundam-visor-cli-v1-tag.tgz.json").read_text())
    return next(a for a in doc["attestations"] if a["predicateType"] == PUBLISH)


def test_npm_publish_is_not_vouched_for_a_signed_file_labelled_provenance(attest, tmp_path):
    """gundam-visor's real publish attestation next to a real message-signature bundle over
    an unrelated wheel, labelled "provenance": the signed file verified, and npm-publish then
    said "pkg:npm/gundam-visor@1.0.1 published by the npm registry" for the wheel, since
    nothing bound the publish attestation to it."""
    mixed = {"attestations": [_publish_item(), {
        "predicateType": "https://slsa.dev/provenance/v1",
        "bundle": json.loads(_sg("sp_bundle_v3_github.whl.sigstore").read_text())}]}
    doc = tmp_path / "npm.json"
    doc.write_text(json.dumps(mixed))
    args = ["verify", doc, "--artifact", _sg("sp_bundle_v3_github.whl"),
            "--trusted-root", _sg("trusted_root.sigstore-production.json"), "--offline",
            "--certificate-identity", WHEEL_ID, "--certificate-oidc-issuer", GHA]
    for extra in ([], ["--npm-publish-key", _rw("sg_npm_publish_key.pub")]):
        r = attest(*args, *extra)
        assert r.code == 2, r.out
        assert "npm attestation 1 is labelled SLSA provenance but holds no DSSE envelope" in r.err
        assert "published by the npm registry" not in r.out


def test_npm_publish_of_one_package_next_to_provenance_of_another(attest, tmp_path):
    """Real publish attestation of gundam-visor, real provenance of sigstore@2.2.0."""
    js = json.loads(_rw("gh_sigstore.js-2.2.0.bundle.json").read_text())
    doc = tmp_path / "npm.json"
    doc.write_text(json.dumps({"attestations": [_publish_item(), {
        "predicateType": "https://slsa.dev/provenance/v1", "bundle": js}]}))
    r = attest("verify", doc, "--artifact", _rw("npm_sigstore-2.2.0.tgz"),
               "--trusted-root", _sg("trusted_root.sigstore-production.json"), "--offline",
               "--certificate-identity",
               "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
               "--certificate-oidc-issuer", GHA,
               "--npm-publish-key", _rw("sg_npm_publish_key.pub"))
    assert r.code == 1
    assert ("npm-publish: publish attestation and provenance name different packages or "
            "digests (pkg:npm/gundam-visor@1.0.1 vs pkg:npm/sigstore@2.2.0)") in r.err


def test_npm_subjects_without_sha512_never_match():
    from attester.verify import npm_attestations

    assert npm_attestations._subjects({"subject": [{"name": "pkg:npm/a@1", "digest": {}}]}) == []
    assert npm_attestations._subjects({"subject": [{"name": "pkg:npm/a@1",
                                                    "digest": {"sha512": "AB"}}]}) == \
        [("pkg:npm/a@1", "ab")]


def test_rekor_v2_entry_never_claims_an_unsigned_integrated_time(attest, tmp_path):
    """A Rekor v2 entry has no SET, so its integratedTime is signed by nobody and sigstore
    ignores it; the report printed it as "logged in Rekor at ..." all the same."""
    bundle = json.loads(_sg("sp_a.dsse.staging-rekor-v2.txt.sigstore.json").read_text())
    forged = copy.deepcopy(bundle)
    forged["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = "1000000000"
    path = tmp_path / "forged.sigstore.json"
    path.write_text(json.dumps(forged))
    r = attest("verify", path, "--trusted-root", _sg("trusted_root.sigstore-staging.json"),
               "--offline", "--predicate-type", "https://slsa.dev/provenance/v1",
               "--certificate-identity",
               "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
               ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
               "--certificate-oidc-issuer", GHA)
    assert r.code == 0, r.err  # the signature is still valid: only the claim was false
    assert "2001-09-09" not in r.out
    assert "signing time from its RFC 3161 timestamp" in r.out


# -- bundles without a log entry (GitHub's trust domain) -------------------------------------

DEMO_ID = "https://github.com/actions/attest-demo/.github/workflows/build-python.yml@refs/heads/main"


def _demo_args(path):
    return ["verify", path, "--artifact", _rw("gh_github_provenance_demo-0.0.12-py3-none-any.whl"),
            "--trusted-root", _rw("trusted_root.github.json"), "--offline",
            "--certificate-identity", DEMO_ID, "--certificate-oidc-issuer", GHA]


def _demo() -> dict:
    line = _rw("gh_github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl").read_text()
    return json.loads(line.splitlines()[0])


def test_timestamp_only_bundle_with_lists_for_objects_is_an_input_error(attest, tmp_path):
    """A list where the timestamps or the certificate chain object belongs was an internal
    error (AttributeError) in the no-log-entry reader."""
    for edit in (lambda vm: vm.__setitem__("timestampVerificationData", [1]),
                 lambda vm: (vm.pop("certificate"), vm.__setitem__("x509CertificateChain", [1]))):
        doc = _demo()
        edit(doc["verificationMaterial"])
        if "x509CertificateChain" in doc["verificationMaterial"]:  # v0.3 refuses any chain
            doc["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2"
        path = tmp_path / "b.json"
        path.write_text(json.dumps(doc))
        r = attest(*_demo_args(path))
        assert r.code == 2, r.err
        assert "not a valid Sigstore bundle (certificate, timestamps or content malformed)" in r.err
        assert "internal error" not in r.err


def test_malformed_tlog_entries_are_not_read_as_no_log_entry(attest, tmp_path):
    """``"tlogEntries": {}`` or ``0`` was taken for "no log entry" and verified by its
    timestamp alone; only an absent or empty list means that."""
    for value in ({}, 0, ""):
        doc = _demo()
        doc["verificationMaterial"]["tlogEntries"] = value
        path = tmp_path / "b.json"
        path.write_text(json.dumps(doc))
        r = attest(*_demo_args(path))
        assert r.code == 2, (value, r.out)
        assert "not a valid Sigstore bundle" in r.err and "tlogEntries" in r.err
    doc = _demo()
    doc["verificationMaterial"]["tlogEntries"] = []
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc))
    r = attest(*_demo_args(path))
    assert r.code == 0, r.err
    assert "timestamped at" in r.out and "the trusted root has no transparency log" in r.out


def test_bundles_read_outside_sigstore_refuse_an_unknown_media_type(attest, tmp_path):
    """intoto 0.0.2 and timestamp-only bundles bypass sigstore's loader, which refuses an
    unknown mediaType (sigstore-python's test_invalid_bundle_version); they accepted any."""
    js = json.loads(_rw("gh_sigstore.js-2.2.0.bundle.json").read_text())
    demo = _demo()
    intoto_args = ["--artifact", _rw("npm_sigstore-2.2.0.tgz"),
                   "--trusted-root", _sg("trusted_root.sigstore-production.json"), "--offline",
                   "--certificate-identity",
                   "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
                   "--certificate-oidc-issuer", GHA]
    for media in ("this is completely wrong", None, 3):
        for doc, run in ((js, lambda p: attest("verify", p, *intoto_args)),
                         (demo, lambda p: attest(*_demo_args(p)))):
            bad = copy.deepcopy(doc)
            bad["mediaType"] = media
            path = tmp_path / "b.json"
            path.write_text(json.dumps(bad))
            r = run(path)
            assert r.code == 2, (media, r.out)
            assert "not a valid Sigstore bundle: unsupported mediaType" in r.err


def test_intoto_bundle_timestamps_are_verified_not_ignored(attest, tmp_path):
    """The intoto 0.0.2 reader ignored timestampVerificationData: a bundle carrying a
    timestamp from a TSA the root does not trust (GitHub's, taken from the real release
    bundle) or garbage still passed; sigstore fails such a bundle."""
    js = json.loads(_rw("gh_sigstore.js-2.2.0.bundle.json").read_text())
    foreign = json.loads(_rw("gh_github_release_bundle.json").read_text())[
        "verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
    args = ["--artifact", _rw("npm_sigstore-2.2.0.tgz"),
            "--trusted-root", _sg("trusted_root.sigstore-production.json"), "--offline",
            "--certificate-identity",
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
            "--certificate-oidc-issuer", GHA]
    for stamp in (foreign, {"signedTimestamp": "AAAA"}):
        bad = copy.deepcopy(js)
        bad["verificationMaterial"]["timestampVerificationData"] = {"rfc3161Timestamps": [stamp]}
        path = tmp_path / "b.json"
        path.write_text(json.dumps(bad))
        r = attest("verify", path, *args)
        assert r.code == 1, r.out
        assert ("intoto 0.0.2 log entry: timestamp could not be verified against the trusted "
                "root's timestamp authorities") in r.err
    # the npm registry's keyed publish attestation goes through the same reader
    doc = json.loads(_rw("sv_npm_gundam-visor-cli-v1-tag.tgz.json").read_text())
    publish = next(a for a in doc["attestations"] if a["predicateType"] == PUBLISH)
    publish["bundle"]["verificationMaterial"]["timestampVerificationData"] = {
        "rfc3161Timestamps": [foreign]}
    path = tmp_path / "npm.json"
    path.write_text(json.dumps(doc))
    r = attest("verify", path, "--artifact", _rw("sv_npm_gundam-visor-cli-v1-tag.tgz"),
               "--trusted-root", _sg("trusted_root.sigstore-production.json"), "--offline",
               "--certificate-identity",
               "https://github.com/ramonpetgrave64/gundam-visor/.github/workflows/npm-publish.yml@refs/tags/v1.0.1",
               "--certificate-oidc-issuer", GHA, "--npm-publish-key", _rw("sg_npm_publish_key.pub"))
    assert r.code == 1
    assert "npm-publish:" in r.err and "timestamp could not be verified" in r.err


def test_npm_provenance_label_must_match_the_signed_statement(attest, tmp_path):
    """The container's predicateType is unsigned: any other attestation of the same signer
    about the same package could be labelled SLSA provenance and stand in for it. The real
    v1 provenance relabelled v0.2 shows the label is now checked against what is signed."""
    doc = json.loads(_rw("sv_npm_gundam-visor-cli-v1-tag.tgz.json").read_text())
    for item in doc["attestations"]:
        if item["predicateType"] != PUBLISH:
            item["predicateType"] = "https://slsa.dev/provenance/v0.2"
    path = tmp_path / "npm.json"
    path.write_text(json.dumps(doc))
    args = ["--artifact", _rw("sv_npm_gundam-visor-cli-v1-tag.tgz"),
            "--trusted-root", _sg("trusted_root.sigstore-production.json"), "--offline",
            "--certificate-identity",
            "https://github.com/ramonpetgrave64/gundam-visor/.github/workflows/npm-publish.yml@refs/tags/v1.0.1",
            "--certificate-oidc-issuer", GHA]
    r = attest("verify", path, *args)
    assert r.code == 1
    assert ("npm-provenance: the attestation labelled https://slsa.dev/provenance/v0.2 signs a "
            "'https://slsa.dev/provenance/v1' statement") in r.err
    r = attest("verify", _rw("sv_npm_gundam-visor-cli-v1-tag.tgz.json"), *args)
    assert r.code == 0, r.err
    assert "ok  npm-provenance: the signed statement is https://slsa.dev/provenance/v1" in r.out


def test_intoto_body_must_say_it_is_intoto_0_0_2():
    """The bundle's kindVersion is unsigned; the logged body's own kind and apiVersion
    were not compared (an intoto-shaped body of another kind was read as intoto 0.0.2)."""
    import base64

    import pytest

    from attester.errors import VerificationError
    from attester.verify.sigstore import intoto_entry

    doc = json.loads(_rw("gh_sigstore.js-2.2.0.bundle.json").read_text())
    b = intoto_entry.parse(doc, where="b")
    assert b is not None
    intoto_entry._verify_body(b, "b")  # the real body is consistent
    body = json.loads(base64.b64decode(b.entry["canonicalizedBody"]))
    for kind, version in (("dsse", "0.0.2"), ("intoto", "0.0.1")):
        edited = dict(body, kind=kind, apiVersion=version)
        entry = dict(b.entry, canonicalizedBody=base64.b64encode(
            json.dumps(edited).encode()).decode())
        with pytest.raises(VerificationError, match=r"entry body is not an intoto 0\.0\.2 record"):
            intoto_entry._verify_body(intoto_entry.IntotoBundle(
                media_type=b.media_type, certificate=b.certificate, entry=entry,
                payload_type=b.payload_type, payload=b.payload, signatures=b.signatures,
                keyids=b.keyids), "b")
