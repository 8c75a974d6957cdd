"""verify of a VSA checks --verifier-id, --resource-uri and --verified-level as
slsa-verifier verify-vsa does, on the real BCID VSA from slsa-verifier's test data."""

from __future__ import annotations

import base64
import json

import pytest

from conftest import TESTDATA

VSA = TESTDATA / "vsa" / "gke-gce-pre.bcid-vsa.jsonl"
KEY = TESTDATA / "vsa" / "vsa_signing_public_key.pem"
VERIFIER = "https://bcid.corp.google.com/verifier/bcid_package_enforcer/v0.1"
RESOURCE = "gce_image://gke-node-images:gke-12615-gke1418000-cos-101-17162-463-29-c-cgpv1-pre"


@pytest.mark.parametrize(("flags", "ok", "needle"), [
    (["--verifier-id", VERIFIER, "--resource-uri", RESOURCE, "--verified-level", "BCID_L1",
      "--verified-level", "SLSA_BUILD_LEVEL_2"], True, f"verifier-id: VSA says {VERIFIER}"),
    (["--verified-level", "SLSA_BUILD_LEVEL_1"], True,
     "verified-level SLSA_BUILD_LEVEL_1: VSA says BCID_L1, SLSA_BUILD_LEVEL_2"),
    (["--verified-level", "SLSA_BUILD_LEVEL_3"], False,
     "policy wants SLSA_BUILD_LEVEL_3 or higher"),
    (["--verified-level", "SLSA_SOURCE_LEVEL_1"], False, "policy wants SLSA_SOURCE_LEVEL_1"),
    (["--verified-level", "BCID_L2"], False, "VSA says BCID_L1, SLSA_BUILD_LEVEL_2, policy "
     "wants BCID_L2"),
    (["--verifier-id", "https://attester.dev/verifier/v1"], False,
     f"VSA says verifier '{VERIFIER}', policy wants 'https://attester.dev/verifier/v1'"),
    (["--resource-uri", "gce_image://other"], False, "policy wants 'gce_image://other'"),
])
def test_vsa_policy_on_a_real_vsa(attest, flags, ok, needle) -> None:
    r = attest("verify", VSA, "--key", KEY, *flags)
    assert r.code == (0 if ok else 1), r.err
    assert needle in (r.out if ok else r.err)


def test_raw_p1363_signature_is_still_bound_to_the_payload(attest, tmp_path) -> None:
    env = json.loads(VSA.read_text())
    payload = json.loads(base64.b64decode(env["payload"]))
    payload["predicate"]["verifiedLevels"] = ["SLSA_BUILD_LEVEL_3"]
    env["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    (tmp_path / "vsa.json").write_text(json.dumps(env))
    r = attest("verify", tmp_path / "vsa.json", "--key", KEY, "--verified-level",
               "SLSA_BUILD_LEVEL_3")
    assert r.code == 1 and "no valid signature" in r.err


def test_vsa_flags_on_provenance_fail_and_bad_levels_are_usage_errors(attest) -> None:
    from conftest import interop_path

    keyed = interop_path("keyed")
    r = attest("verify", keyed / "ecdsa-p256.intoto.json", "--key", keyed / "ecdsa-p256.pub",
               "--verified-level", "SLSA_BUILD_LEVEL_1")
    assert r.code == 1 and "apply to a VSA" in r.err
    r = attest("verify", VSA, "--key", KEY, "--verified-level", "level two")
    assert r.code == 2 and "expected a level such as SLSA_BUILD_LEVEL_2" in r.err


# -- issue 16.6: every VSA version says PASSED; levels are exact ASCII tokens -----------------

def _signed_vsa(tmp_path, predicate_type: str, predicate: dict):
    """A VSA statement signed with a fresh key: (envelope path, public key path)."""
    from attester.signing import dsse, keys

    key = keys.generate("ed25519")
    pub = tmp_path / "vsa.pub"
    pub.write_bytes(keys.public_pem(key.public_key()))
    stmt = {"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "app.tgz", "digest": {"sha256": "a" * 64}}],
            "predicateType": predicate_type, "predicate": predicate}
    payload = json.dumps(stmt).encode()
    sig = keys.sign(key, dsse.pae(dsse.IN_TOTO_PAYLOAD_TYPE, payload))
    env = tmp_path / "vsa.intoto.json"
    env.write_text(json.dumps({"payloadType": dsse.IN_TOTO_PAYLOAD_TYPE,
                               "payload": base64.b64encode(payload).decode(),
                               "signatures": [{"keyid": "", "sig": base64.b64encode(sig).decode()}]}))
    return env, pub


V02 = "https://slsa.dev/verification_summary/v0.2"
V1 = "https://slsa.dev/verification_summary/v1"


@pytest.mark.parametrize(("ptype", "field"), [
    (V02, "verification_result"), ("https://slsa.dev/verification_summary/v0.1",
                                   "verification_result"),
    ("https://slsa.dev/verification_summary/v1-rc2", "verificationResult"),
    (V1, "verificationResult")])
def test_every_vsa_version_must_say_passed(attest, tmp_path, ptype, field) -> None:
    predicate = {"verifier": {"id": VERIFIER}, field: "FAILED"}
    env, pub = _signed_vsa(tmp_path, ptype, predicate)
    r = attest("verify", env, "--key", pub, "--predicate-type", ptype)
    assert r.code == 1, r.err
    assert "vsa-result: verification summary says 'FAILED', not PASSED" in r.err
    env, pub = _signed_vsa(tmp_path, ptype, {"verifier": {"id": VERIFIER}})
    r = attest("verify", env, "--key", pub, "--predicate-type", ptype)
    assert r.code == 1 and "vsa-result: verification summary says nothing, not PASSED" in r.err
    env, pub = _signed_vsa(tmp_path, ptype, {"verifier": {"id": VERIFIER}, field: "PASSED"})
    r = attest("verify", env, "--key", pub, "--predicate-type", ptype, "--verifier-id", VERIFIER)
    assert r.code == 0, r.err
    assert "vsa-result: verification summary says PASSED" in r.out


def test_v02_vsa_fields_are_read_in_their_own_names(attest, tmp_path) -> None:
    env, pub = _signed_vsa(tmp_path, V02, {
        "verifier": {"id": VERIFIER}, "verification_result": "PASSED",
        "resource_uri": RESOURCE, "policy_level": "SLSA_LEVEL_3"})
    r = attest("verify", env, "--key", pub, "--predicate-type", V02, "--resource-uri", RESOURCE,
               "--verified-level", "SLSA_LEVEL_3")
    assert r.code == 0, r.err
    r = attest("verify", env, "--key", pub, "--predicate-type", V02, "--verified-level",
               "SLSA_LEVEL_4")
    assert r.code == 1 and "VSA says SLSA_LEVEL_3, policy wants SLSA_LEVEL_4" in r.err


def test_a_fullwidth_digit_is_not_a_level(attest, tmp_path) -> None:
    env, pub = _signed_vsa(tmp_path, V1, {"verifier": {"id": VERIFIER},
                                          "verificationResult": "PASSED",
                                          "verifiedLevels": ["SLSA_BUILD_LEVEL_\uff13"]})
    r = attest("verify", env, "--key", pub, "--verified-level", "SLSA_BUILD_LEVEL_3")
    assert r.code == 1, r.err
    assert ("verified-level SLSA_BUILD_LEVEL_3: VSA says SLSA_BUILD_LEVEL_\\uff13, policy "
            "wants SLSA_BUILD_LEVEL_3 or higher") in r.err
    r = attest("verify", env, "--key", pub, "--verified-level", "SLSA_BUILD_LEVEL_\uff13")
    assert r.code == 2 and "expected a level such as SLSA_BUILD_LEVEL_2 (ASCII capitals" in r.err


def test_a_level_of_thousands_of_digits_is_a_clear_error(attest, tmp_path) -> None:
    huge = "SLSA_BUILD_LEVEL_" + "9" * 5000
    env, pub = _signed_vsa(tmp_path, V1, {"verifier": {"id": VERIFIER},
                                          "verificationResult": "PASSED",
                                          "verifiedLevels": [huge]})
    r = attest("verify", env, "--key", pub, "--verified-level", "SLSA_BUILD_LEVEL_1")
    assert r.code == 1, r.err
    assert "VSA says SLSA_BUILD_LEVEL_9999" in r.err and "(5017 characters), policy wants " \
        "SLSA_BUILD_LEVEL_1 or higher" in r.err
    assert "internal error" not in r.err and r.err.count("\n") == 1
    r = attest("verify", env, "--key", pub, "--verified-level", huge)
    assert r.code == 2 and "at most 128 characters" in r.err and "(5017 characters)" in r.err
    r = attest("verify", env, "--key", pub, "--verified-level", "SLSA_BUILD_LEVEL_1234567")
    assert r.code == 2
    assert "a level number has at most 6 digits (SLSA_TRACK_LEVEL_N)" in r.err
