"""Bundle shapes real signers write beyond what the ``sigstore`` library loads: TSA-only
bundles in GitHub's trust domain, roots without logs, bundles omitting proto3 defaults."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from conftest import interop_path
from sigstore_standin import SigstoreStandIn

RELEASE_SAN = "https://dotcom.releases.github.com"


def _rw(name: str):
    return interop_path("realworld", name)


def _release_args(bundle, *extra):
    return ["verify", bundle, "--artifact", _rw("gh_github_release_artifact.zip"),
            "--trusted-root", _rw("trusted_root.github.json"), "--offline",
            "--certificate-identity", RELEASE_SAN,
            "--predicate-type", "https://in-toto.io/attestation/release/v0.1", *extra]


def test_github_release_attestation_verifies_by_its_timestamp(attest) -> None:
    r = attest(*_release_args(_rw("gh_github_release_bundle.json"),
                              "--no-certificate-oidc-issuer", "--source-tag", "v6",
                              "--source-uri", "github.com/bdehamer/delme"))
    assert r.code == 0, r.err
    assert "by a trusted timestamp authority (the trusted root has no transparency log)" in r.out
    assert "ok  certificate-oidc-issuer: certificate names no issuer" in r.out
    assert "ok  source-tag: source ref is 'refs/tags/v6'" in r.out


def test_no_issuer_is_a_policy_not_a_wildcard(attest) -> None:
    r = attest(*_release_args(_rw("gh_github_release_bundle.json"),
                              "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"))
    assert r.code == 1 and "certificate issuer is 'missing'" in r.err
    # no issuer flag: a certificate that names no issuer is judged on its SAN alone (the
    # interop MANIFEST's rule for GitHub release attestations)...
    r = attest(*_release_args(_rw("gh_github_release_bundle.json")))
    assert r.code == 0, r.err
    assert "ok  certificate-oidc-issuer: certificate names no issuer; its CA vouches" in r.out
    r = attest(*_release_args(_rw("gh_github_release_bundle.json"), "--no-certificate-oidc-issuer",
                              "--certificate-oidc-issuer", "https://x"))
    assert r.code == 2 and "contradict" in r.err
    # a certificate that names an issuer fails a no-issuer policy
    demo = _rw("gh_github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl")
    r = attest("verify", demo, "--artifact", _rw("gh_github_provenance_demo-0.0.12-py3-none-any.whl"),
               "--trusted-root", _rw("trusted_root.github.json"), "--offline",
               "--certificate-identity",
               "https://github.com/actions/attest-demo/.github/workflows/build-python.yml@refs/heads/main",
               "--no-certificate-oidc-issuer")
    assert r.code == 1
    assert "certificate issuer is 'https://token.actions.githubusercontent.com', policy wants none" in r.err
    # ...while one that names an issuer still needs the policy to say which (exit 2)
    r = attest("verify", demo, "--artifact", _rw("gh_github_provenance_demo-0.0.12-py3-none-any.whl"),
               "--trusted-root", _rw("trusted_root.github.json"), "--offline",
               "--certificate-identity",
               "https://github.com/actions/attest-demo/.github/workflows/build-python.yml@refs/heads/main")
    assert r.code == 2 and "needs --certificate-oidc-issuer" in r.err
    assert "this certificate names 'https://token.actions.githubusercontent.com'" in r.err


def _edited_release(tmp_path, edit):
    doc = json.loads(_rw("gh_github_release_bundle.json").read_text())
    edit(doc)
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc))
    return path


def _payload_edit(doc) -> None:
    env = doc["dsseEnvelope"]
    env["payload"] = base64.b64encode(base64.b64decode(env["payload"]).replace(b"v6", b"v7")).decode()


def test_tsa_only_bundle_tampering_fails(attest, tmp_path) -> None:
    cases = [
        (_payload_edit, 1, "signature does not verify"),
        (lambda d: d["verificationMaterial"].pop("timestampVerificationData"), 1,
         "neither a log entry nor a signed timestamp"),
        (lambda d: d["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
         .update(signedTimestamp=base64.b64encode(b"\x30\x03\x02\x01\x00").decode()), 1,
         "timestamp could not be verified"),
        (lambda d: d["verificationMaterial"].pop("certificate"), 2, "no signing certificate"),
        (lambda d: d.pop("dsseEnvelope"), 2, "neither a DSSE envelope nor a message signature"),
    ]
    for edit, code, needle in cases:
        r = attest(*_release_args(_edited_release(tmp_path, edit), "--no-certificate-oidc-issuer"))
        assert r.code == code and needle in r.err, (needle, r.err)
        assert r.err.startswith("attest: ") and "Traceback" not in r.err


def test_timestamp_alone_is_not_enough_when_the_root_has_a_log(attest) -> None:
    root = interop_path("sigstore", "trusted_root.sigstore-production.json")
    args = _release_args(_rw("gh_github_release_bundle.json"), "--no-certificate-oidc-issuer")
    args[args.index("--trusted-root") + 1] = root
    r = attest(*args)
    assert r.code == 1 and "expected exactly one log entry in bundle" in r.err


def test_logged_bundle_against_a_root_without_logs_fails(attest) -> None:
    case = _rw("sg_sigstore.js@2.0.0-provenance.sigstore.json")
    r = attest("verify", case, "--artifact", _rw("npm_sigstore-2.0.0.tgz"),
               "--trusted-root", _rw("trusted_root.github.json"), "--offline",
               "--certificate-identity-regexp", "^https://github.com/sigstore/",
               "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com")
    assert r.code == 1, r.err
    assert "the trusted root has no transparency log to check it against" in r.err


def test_github_root_loads_without_tlogs_and_ctlogs() -> None:
    from attester.verify.sigstore.trustroot import load_trusted_root

    doc = json.loads(_rw("trusted_root.github.json").read_text())
    assert "tlogs" not in doc and "ctlogs" not in doc
    root = load_trusted_root(str(_rw("trusted_root.github.json")), offline=True,
                             staging=False)
    assert len(root.get_timestamp_authorities()) == 6 and root._inner.tlogs == []


def test_bundle_omitting_proto3_defaults_loads(attest, repo, monkeypatch, tmp_path) -> None:
    """A fresh log's first entry has logIndex 0 and an inclusion proof with no hashes: the
    values sigstore-js leaves out of its JSON."""
    monkeypatch.chdir(repo)
    with SigstoreStandIn() as standin:
        (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
        (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))
        assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
        r = attest("sign", "p.json", "--keyless", "--identity-token",
                   standin.token("release-bot@example.com"), "--trust-config", tmp_path / "trust.json",
                   "-o", "p.sigstore.json")
        assert r.code == 0, r.err
        issuer = standin.issuer
    doc = json.loads((repo / "p.sigstore.json").read_text())
    entry = doc["verificationMaterial"]["tlogEntries"][0]
    assert int(entry.get("logIndex", 0)) == 0 and entry["inclusionProof"].get("hashes", []) == []
    entry.pop("logIndex", None)
    entry["inclusionProof"].pop("logIndex", None)
    entry["inclusionProof"].pop("hashes", None)
    (repo / "omitted.sigstore.json").write_text(json.dumps(doc))
    args = ["--trusted-root", tmp_path / "root.json", "--offline",
            "--certificate-identity", "release-bot@example.com", "--certificate-oidc-issuer", issuer,
            "--artifact", "dist/bin/kubectl"]
    r = attest("verify", "omitted.sigstore.json", *args)
    assert r.code == 0, r.err
    # filling defaults never invents evidence: the proof itself stays required
    entry.pop("inclusionProof")
    (repo / "noproof.sigstore.json").write_text(json.dumps(doc))
    r = attest("verify", "noproof.sigstore.json", *args)
    # missing evidence: verification fails (exit 1), as conformance rekor2-no-inclusion-proof
    assert r.code == 1 and "inclusionProof Field required" in r.err


# -- npm registry attestations ({"attestations": [...]}) -----------------------------------

def _npm_args(doc, *extra):
    return ["verify", doc, "--artifact", _rw("sv_npm_gundam-visor-cli-v1-tag.tgz"),
            "--trusted-root", interop_path("sigstore", "trusted_root.sigstore-production.json"),
            "--offline", "--certificate-identity",
            "https://github.com/ramonpetgrave64/gundam-visor/.github/workflows/npm-publish.yml@refs/tags/v1.0.1",
            "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com", *extra]


def test_npm_provenance_and_publish_attestation(attest) -> None:
    doc = _rw("sv_npm_gundam-visor-cli-v1-tag.tgz.json")
    r = attest(*_npm_args(doc, "--npm-publish-key", _rw("sg_npm_publish_key.pub"),
                          "--source-tag", "v1.0.1"))
    assert r.code == 0, r.err
    assert "matches subject 'pkg:npm/gundam-visor@1.0.1' by digest (sha512:8d9d7972" in r.out
    assert "ok  npm-publish: pkg:npm/gundam-visor@1.0.1 published by the npm registry" in r.out
    # the provenance alone, without the registry key
    r = attest(*_npm_args(doc))
    assert r.code == 0 and "ok  npm-publish:" not in r.out
    assert "attest: note: the npm registry's publish attestation was not checked" in r.err
    r = attest(*_npm_args(doc), "--format", "json")
    assert r.code == 0 and r.json()["notes"][0].startswith("the npm registry's publish")
    assert "note" not in r.err
    # another tarball is not the package
    r = attest(*_npm_args(doc)[:2], "--artifact", _rw("npm_sigstore-2.2.0.tgz"), *_npm_args(doc)[4:])
    assert r.code == 1 and "no subject covers it" in r.err


def test_npm_publish_attestation_needs_the_registry_key(attest, tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = tmp_path / "other.pub"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    doc = _rw("sv_npm_gundam-visor-cli-v1-tag.tgz.json")
    r = attest(*_npm_args(doc, "--npm-publish-key", other))
    assert r.code == 1 and "npm-publish:" in r.err and "logged public key is not the trusted key" in r.err
    data = json.loads(doc.read_text())
    publish = data["attestations"][0]["bundle"]["dsseEnvelope"]
    stmt = json.loads(base64.b64decode(publish["payload"]))
    stmt["predicate"]["version"] = "9.9.9"
    publish["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    (tmp_path / "npm.json").write_text(json.dumps(data))
    r = attest(*_npm_args(tmp_path / "npm.json", "--npm-publish-key", _rw("sg_npm_publish_key.pub")))
    assert r.code == 1 and "npm-publish:" in r.err and "payload hash does not match" in r.err
    data["attestations"].pop(0)
    (tmp_path / "npm.json").write_text(json.dumps(data))
    r = attest(*_npm_args(tmp_path / "npm.json", "--npm-publish-key", _rw("sg_npm_publish_key.pub")))
    assert r.code == 1 and "holds no npm publish attestation" in r.err
    r = attest(*_npm_args(_rw("gh_sigstore.js-2.2.0.bundle.json"), "--npm-publish-key",
                          _rw("sg_npm_publish_key.pub")))
    assert r.code == 2 and "--npm-publish-key cannot be checked: " in r.err, r.err
    assert "and --npm-publish-key needs npm's publish attestation" in r.err


# -- JSON Lines: several attestations, one per line -----------------------------------------

def _jsonl(tmp_path, *lines: str):
    path = tmp_path / "sha256-x.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _compact(name: str) -> str:
    return json.dumps(json.loads(_rw(name).read_text()))


def _sigstore_js_args(path, *extra):
    return ["verify", path, "--artifact", _rw("npm_sigstore-2.2.0.tgz"),
            "--trusted-root", interop_path("sigstore", "trusted_root.sigstore-production.json"),
            "--offline", "--certificate-identity",
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
            "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com", *extra]


def test_jsonl_passes_when_one_line_verifies(attest, tmp_path) -> None:
    path = _jsonl(tmp_path, _compact("sg_sigstore.js@2.0.0-provenance.sigstore.json"),
                  '{"not": "a bundle"', _compact("gh_sigstore.js-2.2.0.bundle.json"))
    r = attest(*_sigstore_js_args(path))
    assert r.code == 0, r.err
    assert f"verified {path} line 3" in r.out
    assert f"note: {path} line 1: artifact" in r.err and "no subject covers it" in r.err
    assert f"note: {path} line 2: attestation:" in r.err
    r = attest(*_sigstore_js_args(path, "--format", "json"))
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["verified"] and doc["attestation"].endswith("line 3")
    assert [(x["line"], x["verified"]) for x in doc["lines"]] == [(1, False), (2, False), (3, True)]
    from attester.model import schemas

    assert schemas.errors(doc, "verification-report.schema.json") == []
    assert "not JSON" in doc["lines"][1]["checks"][0]["detail"] or \
        "truncated" in doc["lines"][1]["checks"][0]["detail"]


def test_jsonl_fails_when_no_line_verifies(attest, tmp_path) -> None:
    path = _jsonl(tmp_path, _compact("sg_sigstore.js@2.0.0-provenance.sigstore.json"), "{}x")
    r = attest(*_sigstore_js_args(path))
    assert r.code == 1
    assert f"verification FAILED for {path} line 1: artifact" in r.err
    # every line unreadable: an input error (exit 2), naming the first
    path = _jsonl(tmp_path, "{}", '{"payload": 1}')
    r = attest(*_sigstore_js_args(path))
    assert r.code == 2 and "line 1" in r.err


# -- attest trusted-root --------------------------------------------------------------------

def test_trusted_root_command_writes_roots_that_verify(attest, tmp_path) -> None:
    r = attest("trusted-root", "--instance", "github", "--offline", "-o", tmp_path / "gh.json")
    assert r.code == 0, r.err
    assert "from the embedded copy in attester" in r.err and "0 transparency log(s)" in r.err
    assert (tmp_path / "gh.json").read_bytes() == _rw("trusted_root.github.json").read_bytes()
    args = _release_args(_rw("gh_github_release_bundle.json"), "--no-certificate-oidc-issuer")
    args[args.index("--trusted-root") + 1] = tmp_path / "gh.json"
    assert attest(*args).code == 0
    r = attest("trusted-root", "--offline", "-o", tmp_path / "pg.json")
    assert r.code == 0, r.err
    assert "public-good trusted root" in r.err and "embedded copy in sigstore" in r.err
    args = _sigstore_js_args(_rw("gh_sigstore.js-2.2.0.bundle.json"))
    args[args.index("--trusted-root") + 1] = tmp_path / "pg.json"
    r = attest(*args)
    assert r.code == 0, r.err
    r = attest("trusted-root", "--instance", "staging", "--offline")
    assert r.code == 0 and json.loads(r.out)["mediaType"].startswith(
        "application/vnd.dev.sigstore.trustedroot")
    r = attest("trusted-root", "--instance", "elsewhere")
    assert r.code == 2


# -- Rekor v2 dsse 0.0.2 (sigstore-conformance's real staging bundle) -----------------------

REKOR2_DSSE = Path(__file__).parent.parent / "testdata" / "sigstore" / "rekor2-dsse-happy-path.sigstore.json"
BEACON = ("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
          ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main")


def _rekor2_args(bundle, root=None):
    return ["verify", bundle, "--offline", "--trusted-root",
            root or _rw("trusted_root.sigstore-staging.sigstore-rust.json"),
            "--certificate-identity", BEACON,
            "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
            "--predicate-type", "https://slsa.dev/provenance/v1"]


def test_rekor_v2_dsse_entry_verifies(attest) -> None:
    doc = json.loads(REKOR2_DSSE.read_text())
    assert doc["verificationMaterial"]["tlogEntries"][0]["kindVersion"] == {"kind": "dsse", "version": "0.0.2"}
    r = attest(*_rekor2_args(REKOR2_DSSE), "--builder-id",
               "https://github.com/loosebazooka/aa-test/.github/workflows/provenance.yaml@refs/heads/main",
               "--format", "json")
    checks = {c["check"]: c for c in r.json()["checks"]}
    sig = checks["signature"]
    assert sig["ok"], sig
    assert "Sigstore bundle (Rekor v2 dsse 0.0.2 entry): DSSE signature valid" in sig["detail"]
    assert "signing time from its RFC 3161 timestamp" in sig["detail"]
    # sigstore-conformance signs loosebazooka/aa-test's provenance with its own beacon
    # workflow: the certificate names the beacon's repository, commit and run. Pinned
    # exactly, the beacon (its repository's own workflow) may attest another build: the
    # cross-check passes, saying so (crosscheck._dedicated_signer).
    cross = checks["certificate-provenance"]
    assert cross["ok"] and "pinned exactly" in cross["detail"], cross
    assert "loosebazooka/aa-test" in cross["detail"]
    assert r.code == 0, r.err
    # Matched by a pattern, the same signer is no dedicated one: the cross-check refuses
    args = _rekor2_args(REKOR2_DSSE)
    i = args.index("--certificate-identity")
    args[i:i + 2] = ["--certificate-identity-regexp", "https://github.com/sigstore-conformance/.*"]
    r = attest(*args, "--format", "json")
    failed = sorted(c["check"] for c in r.json()["checks"] if not c["ok"])
    assert failed == ["certificate-provenance commit", "certificate-provenance repository",
                      "certificate-provenance run"], failed
    assert r.code == 1


def test_rekor_v2_dsse_entry_tampering_fails(attest, tmp_path) -> None:
    doc = json.loads(REKOR2_DSSE.read_text())
    env = doc["dsseEnvelope"]
    env["payload"] = base64.b64encode(base64.b64decode(env["payload"]).replace(b"a.txt", b"b.txt")).decode()
    (tmp_path / "b.json").write_text(json.dumps(doc))
    r = attest(*_rekor2_args(tmp_path / "b.json"))
    assert r.code == 1 and "signature" in r.err
    r = attest(*_rekor2_args(REKOR2_DSSE, interop_path("sigstore",
                                                      "trusted_root.sigstore-production.json")))
    assert r.code == 1


def test_rekor_v2_dsse_body_must_match_the_envelope() -> None:
    """The entry body names the payload hash and the signature: another envelope under the
    same (valid) log entry is refused."""
    import pytest
    from sigstore.errors import VerificationError
    from sigstore.models import Bundle

    from attester.verify.sigstore import rekor_v2_dsse

    doc = json.loads(REKOR2_DSSE.read_text())
    rekor_v2_dsse._check_body(Bundle.from_json(json.dumps(doc)))  # the real one is consistent
    env = doc["dsseEnvelope"]
    env["payload"] = base64.b64encode(b"{}").decode()
    with pytest.raises(VerificationError, match="inconsistent with other materials"):
        rekor_v2_dsse._check_body(Bundle.from_json(json.dumps(doc)))
    doc = json.loads(REKOR2_DSSE.read_text())
    sig = base64.b64decode(doc["dsseEnvelope"]["signatures"][0]["sig"])
    doc["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(sig[:-1] + b"\x00").decode()
    with pytest.raises(VerificationError, match="inconsistent with other materials"):
        rekor_v2_dsse._check_body(Bundle.from_json(json.dumps(doc)))


def test_npm_publish_key_is_refused_where_it_cannot_apply(attest, tmp_path) -> None:
    key = _rw("sg_npm_publish_key.pub")
    doc = _rw("sv_npm_gundam-visor-cli-v1-tag.tgz.json")
    r = attest("verify", "--chain", doc, "--artifact", _rw("sv_npm_gundam-visor-cli-v1-tag.tgz"),
               "--key", key, "--npm-publish-key", key)
    assert r.code == 2 and "--npm-publish-key does not apply to --chain" in r.err
    r = attest("verify", "--signature", key, "--certificate", key, "--artifact", key,
               "--certificate-identity", "x", "--certificate-oidc-issuer", "y",
               "--npm-publish-key", key)
    assert r.code == 2 and "--npm-publish-key does not apply to a signature pair" in r.err


def test_intoto_proof_is_checked_whatever_the_media_type_says(attest, tmp_path) -> None:
    """Relabelling a real v0.2 bundle as v0.1 does not switch off its inclusion proof."""
    doc = json.loads(_rw("sv_gha_gradle-v2.1.0-push-v13.0.30.build.slsa").read_text())
    doc["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1"
    proof = doc["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["hashes"][0] = base64.b64encode(b"\0" * 32).decode()
    cases = [(dict(proof), "inclusion proof"),
             ({k: v for k, v in proof.items() if k != "checkpoint"}, "inclusion proof without a checkpoint"),
             (["not", "a", "proof"], "malformed inclusion proof")]
    for bad, needle in cases:
        doc["verificationMaterial"]["tlogEntries"][0]["inclusionProof"] = bad
        (tmp_path / "b.json").write_text(json.dumps(doc))
        r = attest("verify", tmp_path / "b.json", "--trusted-root",
                   interop_path("sigstore", "trusted_root.sigstore-production.json"),
                   "--offline", "--certificate-identity-regexp", ".*", "--certificate-oidc-issuer",
                   "https://token.actions.githubusercontent.com", "--predicate-type",
                   "https://slsa.dev/provenance/v1")
        assert r.code == 1 and needle in r.err, (needle, r.err)
