"""Every case of testdata/interop/realworld, testdata/interop/sigstore and
testdata/interop/pypi gets its expected verdict offline, sockets blocked, with the flags its
MANIFEST names (as the realworld README maps them). PyPI's cases run once for each form the
same signature is given in (attestation object, provenance object, plain bundle), and once
more with --publisher where the MANIFEST names PyPI's publisher."""

from __future__ import annotations

import json

import pytest

from conftest import INTEROP, interop_path

SETS = ("realworld", "sigstore", "pypi")
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
             "sp-invalid-mediatype", "sp-v0.1-empty-cert-chain"}


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


def manifest_args(set_name: str, case: dict) -> list[object]:
    """The README's mapping: FILE, --artifact, --trusted-root, --offline, identity, issuer
    (or --no-certificate-oidc-issuer for null), the policy flags that are not null, and
    --npm-publish-key for npm documents that name the registry key."""
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
    assert no_network == [], "verification touched the network"

