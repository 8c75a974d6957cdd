"""Every case of testdata/interop/realworld and testdata/interop/sigstore gets its expected
verdict offline, sockets blocked, with the flags its MANIFEST names (as the realworld
README maps them)."""

from __future__ import annotations

import json

import pytest

from conftest import INTEROP, interop_path

SETS = ("realworld", "sigstore")
#: manifest field -> verify flag, passed only when the value is not null
POLICY_FLAGS = ("builder_id", "source_uri", "source_branch", "source_tag", "source_versioned_tag",
                "owner", "predicate_type")
#: malformed bundles: refused when loading (exit 2); every other invalid case fails (exit 1)
MALFORMED = {"gh-github-provenance-demo-missing-cert",
             "gh-github-provenance-demo-missing-verification-material",
             "sp-invalid-mediatype", "sp-v0.1-empty-cert-chain"}


def _cases() -> list[tuple[str, dict]]:
    out = []
    for name in SETS:
        m = INTEROP / name / "MANIFEST.json"
        cases = json.loads(m.read_text())["cases"] if m.exists() else [{"id": "MISSING"}]
        out += [(name, c) for c in cases]
    return out


def manifest_args(set_name: str, case: dict) -> list[object]:
    """The README's mapping: FILE, --artifact, --trusted-root, --offline, identity, issuer
    (or --no-certificate-oidc-issuer for null), the policy flags that are not null, and
    --npm-publish-key for npm documents that name the registry key."""
    base = interop_path(set_name, "MANIFEST.json").parent
    files = case["files"]
    args: list[object] = ["verify", base / (files.get("bundle") or files["provenance"]),
                          "--trusted-root", base / case["trusted_root"], "--offline"]
    if files.get("artifact"):
        args += ["--artifact", base / files["artifact"]]
    if set_name == "sigstore":  # its malformed cases name no signer: any will do
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
    else:
        assert r.code == (2 if case["id"] in MALFORMED else 1), (case["why"], r.err)
        assert all(line.startswith("attest: ") for line in r.err.splitlines()), r.err
    assert no_network == [], "verification touched the network"

