"""Envelopes signed by securesystemslib verify exactly as shared/interop/keyed/MANIFEST says."""

from __future__ import annotations

import json

import pytest

from conftest import INTEROP, interop_path

KEYED = INTEROP / "keyed"


def _cases() -> list[dict[str, str]]:
    manifest = KEYED / "MANIFEST.json"
    if not manifest.exists():
        return [{"envelope": "MISSING", "key": "", "artifacts": "", "expect": "", "why": ""}]
    return json.loads(manifest.read_text())


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c['envelope']}-{c['key']}-"
                         f"{c['artifacts']}")
def test_keyed_manifest(attest, case) -> None:
    base = interop_path("keyed", "MANIFEST.json").parent
    artifacts = sorted((base / case["artifacts"]).iterdir())
    assert artifacts, "the case names artifacts"
    args = ["verify", base / case["envelope"], "--key", base / case["key"]]
    for a in artifacts:
        args += ["--artifact", a]
    r = attest(*args)
    assert r.code == (0 if case["expect"] == "pass" else 1), (case["why"], r.err)
    if case["expect"] == "fail":
        assert r.err.count("\n") == 1 and "verification FAILED" in r.err
        if "modified" in case["artifacts"]:
            assert "artifact" in r.err and "kubectl" in r.err and "digest mismatch" in r.err
        else:
            assert "signature: no valid signature by a trusted key" in r.err
    else:
        assert "verified" in r.out


def test_keyid_of_securesystemslib_envelopes_is_only_a_hint(attest) -> None:
    # sslib keyids are its own hash of its key dict; ours differ. Trust comes from the key.
    base = interop_path("keyed", "MANIFEST.json").parent
    env = json.loads((base / "ecdsa-p256.intoto.json").read_text())
    from attester.signing import keys

    ours = keys.keyid(keys.load_public(base / "ecdsa-p256.pub"))
    assert env["signatures"][0]["keyid"] != ours
    r = attest("verify", base / "ecdsa-p256.intoto.json", "--key", base / "ecdsa-p256.pub",
               "--artifact", base / "artifacts" / "kubectl")
    assert r.code == 0
