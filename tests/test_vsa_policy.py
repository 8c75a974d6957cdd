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
