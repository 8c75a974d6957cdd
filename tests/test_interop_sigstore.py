"""Real Sigstore bundles (sigstore-python's test assets in testdata/interop) verify offline to the
verdicts the manifest gives, with sockets blocked."""

from __future__ import annotations

import json
import os

import pytest

from conftest import INTEROP, interop_path

SIG = INTEROP / "sigstore"


def _cases() -> list[dict]:
    m = SIG / "MANIFEST.json"
    if not m.exists():
        if os.environ.get("CI") == "true":  # collected before any test runs: fail loudly
            raise RuntimeError(f"interop data missing under CI: {m}")
        return [{"id": "MISSING"}]
    return json.loads(m.read_text())["cases"]


def _args(case: dict) -> list[object]:
    base = interop_path("sigstore", "MANIFEST.json").parent
    args: list[object] = ["verify", base / case["files"]["bundle"],
                          "--trusted-root", base / case["trusted_root"], "--offline"]
    if "artifact" in case["files"]:
        args += ["--artifact", base / case["files"]["artifact"]]
    elif case.get("predicate_type"):  # a DSSE bundle: an empty policy would be refused (exit 2)
        args += ["--predicate-type", case["predicate_type"]]
    args += ["--certificate-identity", case.get("certificate_identity") or "unknown@example.com",
             "--certificate-oidc-issuer",
             case.get("certificate_oidc_issuer") or "https://github.com/login/oauth"]
    return args


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["id"])
def test_sigstore_manifest_offline(attest, case, no_network) -> None:
    r = attest(*_args(case))
    if case["expected"] == "valid":
        assert r.code == 0, (case["why"], r.err)
        assert "ok  signature: Sigstore bundle" in r.out
    else:
        assert r.code in (1, 2), (case["why"], r.err)
        assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert no_network == [], "verification touched the network"


EXPECTED_MESSAGES = {
    "sp-bundle-v0.1-wrong-identity": (1, "certificate-identity: certificate identity is a@tny.town, "
                                         "policy wants bad@ident.example.com"),
    "sp-cve-2022-36056-inconsistent-tlog": (1, "transparency log entry is inconsistent with other materials"),
    "sp-invalid-mediatype": (2, "not a valid Sigstore bundle: failed to load bundle"),
    "sp-v0.1-empty-cert-chain": (2, "expected non-empty certificate chain in bundle"),
    "sp-no-tlog-entry": (1, "expected exactly one log entry in bundle"),
    "sp-v0.2-no-checkpoint": (1, "entry must contain inclusion proof, with checkpoint"),
    "sp-v0.3-no-signed-time": (1, "bundle must contain an inclusion promise or signed timestamp(s)"),
}


@pytest.mark.parametrize("case_id", sorted(EXPECTED_MESSAGES))
def test_each_invalid_bundle_has_its_own_message(attest, case_id) -> None:
    case = next(c for c in _cases() if c.get("id") == case_id)
    code, needle = EXPECTED_MESSAGES[case_id]
    r = attest(*_args(case))
    assert r.code == code, r.err
    assert needle in r.err


def _gha_case() -> dict:
    return next(c for c in _cases() if c.get("id") == "sp-bundle-gha-wheel-production-valid")


def test_github_certificate_policies(attest) -> None:
    args = _args(_gha_case())
    ok = attest(*args, "--owner", "trailofbits", "--repo", "trailofbits/rfc8785.py",
                "--signer-workflow", "trailofbits/rfc8785.py/.github/workflows/release.yml",
                "--signer-repo", "trailofbits/rfc8785.py")
    assert ok.code == 0, ok.err
    # GitHub names are case-insensitive: TrailOfBits is the same owner (as in gh)...
    ok = attest(*args, "--owner", "TrailOfBits", "--repo", "TrailOfBits/RFC8785.py",
                "--signer-repo", "trailofbits/RFC8785.py")
    assert ok.code == 0, ok.err
    # ...but not a prefix or a longer name
    r = attest(*args, "--owner", "trailofbit")
    assert r.code == 1 and "owner:" in r.err
    r = attest(*args, "--repo", "trailofbits/rfc8785.py-evil")
    assert r.code == 1 and "repo:" in r.err
    for flag, value, needle in [
        ("--owner", "evil-org", "owner: certificate says 'https://github.com/trailofbits'"),
        ("--repo", "trailofbits/other", "repo: certificate says"),
        ("--signer-workflow", "trailofbits/rfc8785.py/.github/workflows/ci.yml", "signer-workflow:"),
        ("--signer-repo", "evil/repo", "signer-repo:"),
    ]:
        r = attest(*args, flag, value)
        assert r.code == 1 and needle in r.err, (flag, r.err)


def test_identity_regexp_and_wrong_issuer(attest) -> None:
    case = _gha_case()
    args = _args(case)
    i = args.index("--certificate-identity")
    del args[i:i + 2]
    r = attest(*args, "--certificate-identity-regexp",
               r"https://github\.com/trailofbits/.*/release\.yml@refs/tags/v.*")
    assert r.code == 0, r.err
    r = attest(*args, "--certificate-identity-regexp", r"https://github\.com/evil/.*")
    assert r.code == 1 and "does not match" in r.err
    # cosign's unanchored habit fails closed, and the message says how to write it
    r = attest(*args, "--certificate-identity-regexp", r"^https://github\.com/trailofbits/")
    assert r.code == 1 and "must match the whole identity" in r.err, r.err
    j = args.index("--certificate-oidc-issuer")
    args[j + 1] = "https://accounts.google.com"
    r = attest(*args, "--certificate-identity-regexp", ".*")
    assert r.code == 1 and "certificate issuer is 'https://token.actions.githubusercontent.com'" in r.err


def test_bundle_for_another_artifact_fails(attest, tmp_path) -> None:
    case = _gha_case()
    other = tmp_path / "other.whl"
    other.write_bytes(b"not the wheel")
    args = _args(case)
    args[args.index("--artifact") + 1] = other
    r = attest(*args)
    assert r.code == 1 and "signature" in r.err


def test_issuer_is_required_for_keyless(attest) -> None:
    args = _args(_gha_case())
    j = args.index("--certificate-oidc-issuer")
    del args[j:j + 2]
    r = attest(*args)
    assert r.code == 2 and "needs --certificate-oidc-issuer" in r.err


def test_dsse_bundle_statement_checks(attest) -> None:
    case = next(c for c in _cases() if c.get("id") == "sp-dsse-slsa-v1-staging-rekor-v2-valid")
    r = attest(*_args(case), "--builder-id",
               "https://github.com/sigstore-conformance/rekor2-dsse-hashedrekord-regen",
               "--format", "json")
    assert r.code == 0, r.err
    checks = {c["check"]: c for c in r.json()["checks"]}
    assert checks["predicate-type"]["detail"] == "https://slsa.dev/provenance/v1"
    assert checks["builder-id"]["ok"]
    r = attest(*_args(case), "--builder-id", "https://github.com/someone/else")
    assert r.code == 1 and "builder-id: builder id is" in r.err


def test_blob_bundle_cannot_satisfy_provenance_policy(attest) -> None:
    r = attest(*_args(_gha_case()), "--builder-id", "x")
    assert r.code == 2 and "--builder-id cannot be checked: " in r.err, r.err
    assert "is a Sigstore bundle that signs a file, with no statement, and --builder-id " \
        "needs a SLSA provenance statement" in r.err


def test_jsonl_with_bare_dsse_and_no_key_says_what_is_missing(attest, tmp_path) -> None:
    env = json.loads(interop_path("keyed", "ecdsa-p256.intoto.json").read_text())
    jsonl = tmp_path / "x.intoto.jsonl"
    jsonl.write_text(json.dumps(env) + "\n")
    r = attest("verify", jsonl, "--certificate-identity", "a", "--certificate-oidc-issuer", "b",
               "--offline", "--predicate-type", "https://slsa.dev/provenance/v1")
    assert r.code == 1
    assert "carries no certificate or transparency-log entry" in r.err
    pub = interop_path("keyed", "ecdsa-p256.pub")
    art = interop_path("keyed", "artifacts", "kubectl")
    r = attest("verify", jsonl, "--key", pub, "--artifact", art)
    assert r.code == 0, r.err


def test_bare_signature_and_certificate_pair(attest, tmp_path) -> None:
    """A cosign-style FILE.sig + FILE.cert cut from a real bundle: the signature and the
    identity check out, but with no log entry nothing proves when it was signed."""
    case = _gha_case()
    base = interop_path("sigstore", "MANIFEST.json").parent
    bundle = json.loads((base / case["files"]["bundle"]).read_text())
    vm = bundle["verificationMaterial"]
    cert_b64 = (vm.get("certificate") or vm["x509CertificateChain"]["certificates"][0])["rawBytes"]
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    pem = x509.load_der_x509_certificate(__import__("base64").b64decode(cert_b64)).public_bytes(Encoding.PEM)
    (tmp_path / "a.cert").write_bytes(__import__("base64").b64encode(pem))  # cosign writes base64(PEM)
    (tmp_path / "a.sig").write_text(bundle["messageSignature"]["signature"])
    args = ["verify", "--signature", tmp_path / "a.sig", "--certificate", tmp_path / "a.cert",
            "--certificate-identity", case["certificate_identity"],
            "--certificate-oidc-issuer", case["certificate_oidc_issuer"]]
    r = attest(*args, "--artifact", base / case["files"]["artifact"], "--format", "json")
    assert r.code == 1
    checks = {c["check"]: c for c in r.json()["checks"]}
    assert checks["signature"]["ok"] and checks["certificate-identity"]["ok"]
    assert not checks["transparency-log"]["ok"]
    assert "nothing proves the short-lived certificate was valid" in checks["transparency-log"]["detail"]
    other = tmp_path / "other"
    other.write_bytes(b"x")
    r = attest(*args, "--artifact", other)
    assert r.code == 1 and "signature does not match the artifact" in r.err


def test_source_flags_checked_against_the_certificate(attest) -> None:
    """For a signed file the CI certificate answers the source flags (as gh does)."""
    args = _args(_gha_case())
    r = attest(*args, "--source-uri", "github.com/trailofbits/rfc8785.py",
               "--source-tag", "v0.1.2", "--source-versioned-tag", "v0.1")
    assert r.code == 0, r.err
    assert "ok  certificate source-uri: certificate source is 'https://github.com/trailofbits/rfc8785.py'" in r.out
    r = attest(*args, "--source-uri", "github.com/trailofbits/other")
    assert r.code == 1 and "certificate source-uri: certificate source is" in r.err
    r = attest(*args, "--source-branch", "main")
    assert r.code == 1 and "certificate source-branch: certificate source ref is 'refs/tags/v0.1.2'" in r.err
    email = next(c for c in _cases() if c.get("id") == "sp-bundle-v3-valid")
    r = attest(*_args(email), "--source-uri", "github.com/x/y")
    assert r.code == 1 and "certificate carries no Source Repository extensions" in r.err
