"""Every case of testdata/interop/realworld, testdata/interop/sigstore, testdata/interop/pypi
and testdata/interop/conformance (sigstore-conformance's whole bundle-verify suite) gets its
expected verdict offline, sockets blocked, with the flags its MANIFEST names (as each set's
README maps them). PyPI's cases run once for each form the
same signature is given in (attestation object, provenance object, plain bundle), and once
more with --publisher where the MANIFEST names PyPI's publisher."""

from __future__ import annotations

import json

import pytest

from conftest import INTEROP, interop_path

SETS = ("realworld", "sigstore", "pypi", "conformance")
#: PyPI cases: each of these files a case names is verified, with the same verdict
PYPI_FORMS = ("attestation", "provenance", "bundle")
#: manifest field -> verify flag, passed only when the value is not null
POLICY_FLAGS = ("builder_id", "source_uri", "source_branch", "source_tag", "source_versioned_tag",
                "owner", "predicate_type")
#: malformed bundles: refused when loading (exit 2); every other invalid case fails (exit 1)
#: PyPI's invalid cases: what the one failure line must name (pypi-attestations' reasons)
PYPI_FAILS = {"pa-rfc8785-whl-wrong-identity": "certificate identity is william@yossarian.net",
              "pa-rfc8785-whl-digest-mismatch": "digest mismatch",
              "pa-pypi-attestations-0.0.19-publish-staging-root": "signature: "}
MALFORMED = {"gh-github-provenance-demo-missing-cert",
             "gh-github-provenance-demo-missing-verification-material",
             "sp-invalid-mediatype", "sp-v0.1-empty-cert-chain",
             # conformance: the bundle, its key or its trusted root cannot be read
             "bundle-empty-certificate-chain_fail", "bundle-invalid-base64-signature_fail",
             "bundle-malformed-json_fail", "bundle-negative-log-index_fail",
             "bundle-unknown-version_fail", "trust-root-tlog-missing-validity-start_fail",
             "managed-key-wrong-key_fail",  # key.pub is not a PEM key ("...++++wrongkey==")
             # FreeTSA's reply with embedded certificates: rfc3161-client cannot decode it
             "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail"}

def _cases() -> list[tuple[str, dict]]:
    out = []
    for name in SETS:
        m = INTEROP / name / "MANIFEST.json"
        cases = json.loads(m.read_text())["cases"] if m.exists() else [{"id": "MISSING"}]
        if name == "pypi":
            cases = [_pypi_form(c, form) for c in cases for form in PYPI_FORMS
                     if form in c.get("files", {})]
            cases += [dict(c, id=c["id"] + "/publisher", publisher_flag=True)
                      for c in cases if c.get("publisher")]
        out += [(name, c) for c in cases]
    return out


def _pypi_form(case: dict, form: str) -> dict:
    """The case with ``form``'s file as the one verified."""
    return dict(case, id=f"{case['id']}/{form}", verified_file=case["files"][form])


def _publisher_flag(publisher: dict) -> str:
    """The MANIFEST's publisher (as PyPI states it) as --publisher says it."""
    kind = publisher["kind"].lower()
    if kind == "google":
        return f"google:{publisher['email']}"
    workflow = publisher.get("workflow") or publisher.get("workflow_filepath")
    return f"{kind}:{publisher['repository']}" + (f"@{workflow}" if workflow else "")


def conformance_args(case: dict) -> list[object]:
    """conformance/README.md's mapping: BUNDLE --artifact --trusted-root --offline, and
    --key KEY for managed-key bundles, else the identity and issuer."""
    base = interop_path("conformance", "MANIFEST.json").parent
    args: list[object] = ["verify", base / case["bundle"], "--artifact", base / case["artifact"],
                          "--trusted-root", base / case["trusted_root"], "--offline"]
    if case.get("key"):
        return [*args, "--key", base / case["key"]]
    return [*args, "--certificate-identity", case["identity"],
            "--certificate-oidc-issuer", case["issuer"]]


def manifest_args(set_name: str, case: dict) -> list[object]:
    """The README's mapping: FILE, --artifact, --trusted-root, --offline, identity, issuer
    (or --no-certificate-oidc-issuer for null), the policy flags that are not null, and
    --npm-publish-key for npm documents that name the registry key."""
    if set_name == "conformance":
        return conformance_args(case)
    base = interop_path(set_name, "MANIFEST.json").parent
    files = case["files"]
    verified = case.get("verified_file") or files.get("bundle") or files["provenance"]
    args: list[object] = ["verify", base / verified,
                          "--trusted-root", base / (case.get("trusted_root") or files["trusted_root"]),
                          "--offline"]
    if files.get("artifact"):
        args += ["--artifact", base / files["artifact"]]
    if case.get("publisher_flag"):  # the signer named as PyPI users name it
        args += ["--publisher", _publisher_flag(case["publisher"])]
    elif set_name == "sigstore":  # its malformed cases name no signer: any will do
        args += ["--certificate-identity", case.get("certificate_identity") or "unknown@example.com",
                 "--certificate-oidc-issuer",
                 case.get("certificate_oidc_issuer") or "https://github.com/login/oauth"]
    else:
        args += ["--certificate-identity", case["certificate_identity"]]
        if case.get("certificate_oidc_issuer"):
            args += ["--certificate-oidc-issuer", case["certificate_oidc_issuer"]]
        else:
            args += ["--no-certificate-oidc-issuer"]
    for field in POLICY_FLAGS:
        if case.get(field):
            args += ["--" + field.replace("_", "-"), case[field]]
    if files.get("publish_key"):
        args += ["--npm-publish-key", base / files["publish_key"]]
    return args


@pytest.mark.parametrize(("set_name", "case"), _cases(), ids=lambda v: v["id"] if isinstance(v, dict) else v)
def test_manifest_case_offline(attest, set_name, case, no_network) -> None:
    r = attest(*manifest_args(set_name, case))
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    if case["expected"] == "valid":
        assert r.code == 0, (case["why"], r.err)
        assert "ok  signature: Sigstore bundle" in r.out
        if set_name == "pypi" and not case["verified_file"].endswith(".sigstore"):
            assert "ok  pep740 subject: one subject" in r.out, r.out
        if case.get("verified_file", "").endswith(".provenance"):
            assert "ok  pypi publisher: certificate agrees with the publisher PyPI states, " \
                "github:trailofbits/pypi-attestations@release.yml" in r.out, r.out
        if case.get("publisher_flag"):
            assert "ok  publisher workflow: certificate Build Config URI https://github.com/" \
                "trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19" \
                in r.out, r.out
    else:
        assert r.code == (2 if case["id"] in MALFORMED else 1), (case["why"], r.err)
        assert all(line.startswith("attest: ") for line in r.err.splitlines()), r.err
        if set_name == "pypi":
            assert PYPI_FAILS[case["id"].split("/")[0]] in r.err, r.err
        if set_name == "conformance":
            assert CONFORMANCE_REASONS[case["id"]] in r.err, (case["why"], r.err)
    assert no_network == [], "verification touched the network"



def test_conformance_manifest_is_the_whole_suite() -> None:
    """All 70 cases are run, and every refused one has its reason pinned below."""
    cases = json.loads(interop_path("conformance", "MANIFEST.json").read_text())["cases"]
    assert len(cases) == 70
    assert {c["id"] for c in cases if c["expected"] == "invalid"} == set(CONFORMANCE_REASONS)
    assert all(c["id"].endswith("_fail") == (c["expected"] == "invalid") for c in cases)


#: why attest refuses each conformance _fail case: the reason its README gives, not another
CONFORMANCE_REASONS = {
    'bundle-empty-certificate-chain_fail': 'expected non-empty certificate chain',
    'bundle-from-wrong-instance_fail': 'failed to build timestamp certificate chain',
    'bundle-invalid-base64-signature_fail': 'Invalid base64-encoded string',
    'bundle-malformed-json_fail': 'it looks truncated',
    'bundle-negative-log-index_fail': 'Value exceeds uint64 domain: -1',
    'bundle-unknown-version_fail': 'mediaType Input should be',
    'bundle-with-root-cert_fail': 'certificate chain contains a root CA certificate',
    'checkpoint-bad-keyhint_fail': "checkpoint carries no signature by the log's key",
    'checkpoint-wrong-roothash_fail': 'Inclusion proof contains invalid root hash',
    'dsse-invalid-sig_fail': 'DSSE: invalid signature',
    'dsse-mismatch-envelope_fail': 'log entry payload hash does not match bundle',
    'dsse-mismatch-sig_fail': 'log entry signatures do not match bundle',
    'inclusion-proof-corrupted-hash_fail': 'inclusion proof contains invalid root hash',
    'incorrect-public-key_fail': 'inclusion proof contains invalid root hash',
    'integrated-time-in-future_fail': 'cert is not valid at validation time',
    'intoto-expired-certificate_fail': 'certificate does not chain to the trusted root at 2023-02-01',
    'intoto-log-entry-mismatch_fail': 'intoto 0.0.2 log entry: logged signature differs',
    'intoto-missing-inclusion-proof_fail': 'must carry an inclusion proof with checkpoint',
    'intoto-set-outside-signing-cert-validity_fail': 'certificate does not chain to the trusted root at 2023-02-02',
    'intoto-tsa-timestamp-outside-cert-validity_fail': 'certificate was not valid at the timestamped time',
    'invalid-checkpoint-signature_fail': 'checkpoint: invalid signature',
    'invalid-ct-key_fail': 'failed to verify SCT on signing certificate',
    'invalid-inclusion-proof_fail': 'entry must contain inclusion proof',
    'managed-key-no-key_fail': 'the bundle is signed by a key, not a certificate',
    'managed-key-wrong-key_fail': 'managed-key-wrong-key_fail/key.pub: not a PEM public key',
    'message-digest-mismatch_fail': 'Bundle message digest mismatch',
    'rekor2-checkpoint-missing-log-signature_fail': 'malformed log checkpoint',
    'rekor2-checkpoint-missing-origin_fail': 'malformed LogCheckpoint',
    'rekor2-checkpoint-missing-root-hash_fail': 'malformed LogCheckpoint',
    'rekor2-checkpoint-missing-size_fail': 'malformed LogCheckpoint',
    'rekor2-checkpoint-no-matching-signature_fail': 'checkpoint: invalid signature',
    'rekor2-dsse-invalid-sig_fail': 'DSSE: invalid signature',
    'rekor2-dsse-mismatch-envelope_fail': 'transparency log entry is inconsistent',
    'rekor2-dsse-mismatch-sig_fail': 'transparency log entry is inconsistent',
    'rekor2-no-inclusion-proof_fail': 'inclusionProof Field required',
    'rekor2-no-timestamp_fail': 'must contain an inclusion promise or signed timestamp',
    'rekor2-timestamp-outside-trust-root-tsa-validity_fail': 'not enough sources of verified time',
    'rekor2-timestamp-outside-tsa-cert-validity_fail': 'not enough sources of verified time',
    'rekor2-timestamp-payload-mismatch_fail': 'not enough sources of verified time',
    'rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail': 'Invalid Timestamp Response',
    'rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail': 'not enough sources of verified time',
    'rekor2-timestamp-with-incorrect-time_fail': 'cert is not valid at validation time',
    'set-invalid-signature_fail': 'SET: invalid inclusion promise',
    'signature-mismatch_fail': 'Signature is invalid for input',
    'trust-root-tlog-missing-validity-start_fail': 'validFor.start Field required',
    'wrong-hashedrekord-artifact_fail': 'transparency log entry is inconsistent',
    'wrong-hashedrekord-cert-and-sig_fail': 'transparency log entry is inconsistent',
    'wrong-hashedrekord-entry_fail': 'transparency log entry is inconsistent',
    'wrong-material_fail': 'Bundle message digest mismatch',
}
