"""Issue 16.14: --format json on verify, --chain and audit never crashes on a name that is
not UTF-8: the output is valid JSON, naming it as the text output does (``\\xff``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from conftest import interop_path

KEYED = interop_path("keyed", "MANIFEST.json").parent
NAME = os.fsdecode(b"k\xffctl")  # a file name that is not UTF-8 (kept by surrogateescape)


def _valid_json(out: str) -> dict:
    out.encode("utf-8")  # strict: no lone surrogate reached the output
    return json.loads(out)


def test_verify_json_names_a_non_utf8_attestation(attest, tmp_path) -> None:
    att = tmp_path / os.fsdecode(b"a\xffb.intoto.json")
    shutil.copy(KEYED / "ecdsa-p256.intoto.json", att)
    args = ["verify", att, "--key", KEYED / "ecdsa-p256.pub", "--predicate-type",
            "https://slsa.dev/provenance/v1"]
    r = attest(*args, "--format", "json")
    assert r.code == 0, r.err
    doc = _valid_json(r.out)
    assert doc["attestation"].endswith("a\\xffb.intoto.json") and doc["verified"] is True
    text = attest(*args)
    assert text.code == 0 and f"verified {tmp_path}/a\\xffb.intoto.json" in text.out


def _release(tmp_path: Path) -> tuple[Path, Path]:
    rel = tmp_path / "rel"
    rel.mkdir()
    shutil.copy(KEYED / "ecdsa-p256.intoto.json", rel / "stage.intoto.json")
    shutil.copy(KEYED / "artifacts" / "kubectl", rel / NAME)
    shutil.copy(KEYED / "ecdsa-p256.pub", tmp_path / "k.pub")
    policy = tmp_path / "policy.yaml"
    policy.write_text("steps:\n  stage: {keys: [k.pub]}\n")
    return rel, policy


def test_chain_json_names_a_non_utf8_artifact(attest, tmp_path) -> None:
    rel, policy = _release(tmp_path)
    args = ["verify", "--chain", rel / "stage.intoto.json", "--policy", policy,
            "--artifact", rel / NAME]
    r = attest(*args, "--format", "json")
    assert r.code == 1, r.err
    doc = _valid_json(r.out)
    assert doc["verified"] is False
    chain = [c for c in doc["checks"] if c["check"] == "chain stage"]
    assert chain and chain[0]["detail"].startswith("k\\xffctl (sha256:"), doc
    text = attest(*args)
    assert text.code == 1 and "chain stage: k\\xffctl (sha256:" in text.err


def test_audit_json_names_a_non_utf8_folder_and_file(attest, tmp_path) -> None:
    rel, policy = _release(tmp_path)
    odd = tmp_path / os.fsdecode(b"r\xffel")
    rel.rename(odd)
    r = attest("audit", odd, "--policy", policy, "--format", "json")
    assert r.code == 1, r.err
    doc = _valid_json(r.out)
    assert doc["releaseDir"].endswith("r\\xffel")
    assert [a["artifact"] for a in doc["artifacts"]] == ["k\\xffctl"]
    text = attest("audit", odd, "--policy", policy)
    assert text.code == 1 and "k\\xffctl" in text.out
