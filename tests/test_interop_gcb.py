"""Cloud Build's signed provenance (slsa-verifier's GCB test set, testdata/interop/gcb): every
MANIFEST case gets slsa-verifier's verdict, and every refusal names the check slsa-verifier's
error stands for. Offline, sockets blocked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import interop_path

GCB = interop_path("gcb")
CASES = json.loads((GCB / "MANIFEST.json").read_text())["cases"]

#: slsa-verifier's error -> the checks of ours that may report it (exit 1), or exit 2
FAILING_CHECK = {
    "serrors.ErrorNoValidSignature": {"signature"},
    "serrors.ErrorInvalidFormat": {"kind"},
    "serrors.ErrorMismatchBuilderID": {"builder-id"},
    "serrors.ErrorVerifierNotSupported": {"builder-id"},
    "serrors.ErrorMismatchHash": {"subject", "resource-uri", "image-summary"},
    "serrors.ErrorMismatchIntoto": {"text-copy"},
    "serrors.ErrorMismatchSource": {"source-uri"},
    "serrors.ErrorMismatchTag": {"source-tag"},
    "serrors.ErrorMismatchVersionedTag": {"source-versioned-tag"},
}
EXIT_2 = {"serrors.ErrorMutableImage": ("without a digest",),
          "serrors.ErrorInvalidDssePayload": ("no provenance", "not valid JSON")}


def _args(case: dict) -> list[str]:
    args = ["verify", str(GCB / case["files"]["provenance"]), "--artifact", case["image"],
            "--format", "json"]
    for key, flag in (("builder_id", "--builder-id"), ("source_uri", "--source-uri"),
                      ("source_tag", "--source-tag"),
                      ("source_versioned_tag", "--source-versioned-tag")):
        if case.get(key):
            args += [flag, case[key]]
    return args


def test_manifest_counts() -> None:
    assert len(CASES) == 143
    assert sum(c["expected"] == "valid" for c in CASES) == 42


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_gcb_case(attest, no_network, case) -> None:
    r = attest(*_args(case))
    assert "internal error" not in r.err and "Traceback" not in r.err
    if case["expected"] == "valid":
        assert r.code == 0, r.err + r.out
        report = r.json()
        builder = next(c for c in report["checks"] if c["check"] == "builder-id")
        assert any(b in builder["detail"] for b in case["returned_builder_id_must_match"])
        return
    error = case["upstream_error"]
    if error in EXIT_2 and r.code == 2:
        assert any(why in r.err for why in EXIT_2[error]), r.err
        return
    assert r.code == 1, (r.code, r.err)
    failed = {c["check"] for c in r.json()["checks"] if not c["ok"]}
    assert failed & FAILING_CHECK[error], (error, failed)


def test_google_keys_are_the_only_signers(attest, tmp_path) -> None:
    """--key names a signer the document cannot have: refused, not ignored."""
    case = next(c for c in CASES if c["expected"] == "valid")
    key = interop_path("keyed", "ecdsa-p256.pub")
    r = attest(*_args(case), "--key", key)
    assert r.code == 2 and "Google's Cloud Build keys" in r.err


def test_branch_is_refused_not_skipped(attest) -> None:
    """Cloud Build provenance records no branch: --source-branch cannot be answered (exit 2)."""
    case = next(c for c in CASES if c["expected"] == "valid")
    r = attest(*_args(case), "--source-branch", "main")
    assert r.code == 2 and "cannot answer --source-branch" in r.err


def test_empty_policy_is_refused(attest) -> None:
    r = attest("verify", str(GCB / "v0.3" / "gcloud-container-github.json"))
    assert r.code == 2 and "policy" in r.err.lower(), r.err


def test_hostile_shapes_are_input_errors(attest, tmp_path) -> None:
    case = next(c for c in CASES if c["expected"] == "valid")
    doc = json.loads((GCB / case["files"]["provenance"]).read_text())
    for mutate, field in ((lambda d: d["provenance_summary"].update(provenance={}), "provenance"),
                          (lambda d: d["provenance_summary"]["provenance"][0].update(envelope=[]),
                           "envelope"),
                          (lambda d: d["provenance_summary"]["provenance"][0]["envelope"].update(
                              signatures=[1]), "signatures[0]"),
                          (lambda d: d.update(image_summary="x"), "image_summary")):
        bad = json.loads(json.dumps(doc))
        mutate(bad)
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(bad))
        r = attest("verify", path, "--artifact", case["image"])
        assert r.code == 2 and field in r.err, (field, r.err)


def test_signature_over_other_payload_fails(attest, tmp_path) -> None:
    """A payload changed after signing (here: another subject digest) fails the signature,
    whatever the unsigned copies say."""
    import base64

    case = next(c for c in CASES if c["expected"] == "valid" and c["id"].startswith("v0.3"))
    doc = json.loads((GCB / case["files"]["provenance"]).read_text())
    env = doc["provenance_summary"]["provenance"][0]["envelope"]
    stmt = json.loads(base64.b64decode(env["payload"]))
    stmt["subject"][0]["digest"]["sha256"] = "0" * 64
    env["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(doc))
    r = attest("verify", path, "--artifact", case["image"])
    assert r.code == 1 and "no provenance entry is signed" in r.err


def test_shipped_keys_are_slsa_verifiers() -> None:
    """The keys attest ships are byte for byte the ones in slsa-verifier's set (and all of
    them: a key left out of the package would fail real provenance of that region)."""
    shipped = Path(__file__).resolve().parent.parent / "attester" / "verify" / "gcb_keys"
    theirs = {p.stem: p.read_bytes() for p in (GCB / "keys").glob("*.key")}
    ours = {p.stem: p.read_bytes() for p in shipped.glob("*.pem")}
    theirs.pop("global-pae")  # the same bytes as global-pae-provenanceSigner_1
    assert ours == theirs
