"""Bare DSSE envelopes (slsa-github-generator's .intoto.jsonl up to v1.10: no
certificate) verified by their Rekor entry, found online with --rekor-url in the local
Rekor stand-in's index; every answer of the log is checked before it is believed."""

from __future__ import annotations

import base64
import copy
import hashlib
import json

import pytest

from sigstore_standin import SigstoreStandIn

ME = "release-bot@example.com"
ARTIFACT = b"the released binary\n"
STATEMENT = json.dumps({
    "_type": "https://in-toto.io/Statement/v0.1",
    "subject": [{"name": "app.bin", "digest": {"sha256": hashlib.sha256(ARTIFACT).hexdigest()}}],
    "predicateType": "https://slsa.dev/provenance/v0.2",
    "predicate": {"builder": {"id": "https://github.com/slsa-framework/slsa-github-generator/"
                              ".github/workflows/generator_generic_slsa3.yml@refs/tags/v1.9.0"},
                  "buildType": "https://github.com/slsa-framework/slsa-github-generator/generic@v1",
                  "invocation": {}}}).encode()


@pytest.fixture
def case(standin, tmp_path):
    """(args for attest verify of a freshly logged bare envelope, the envelope's path)."""
    line = standin.bare_envelope(STATEMENT)
    att = tmp_path / "app.intoto.jsonl"
    att.write_bytes(line + b"\n")
    (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))
    (tmp_path / "app.bin").write_bytes(ARTIFACT)
    args = [att, "--rekor-url", standin.url, "--trusted-root", tmp_path / "root.json",
            "--certificate-identity", ME, "--certificate-oidc-issuer", standin.issuer,
            "--artifact", tmp_path / "app.bin"]
    return args, att


def _uuid_of(standin: SigstoreStandIn, line: bytes) -> str:
    (uuid,) = standin.index[f"sha256:{hashlib.sha256(line.strip()).hexdigest()}"]
    return uuid


def test_bare_envelope_verified_by_its_rekor_entry(attest, standin, case) -> None:
    args, att = case
    standin.requests.clear()
    r = attest("verify", *args)
    assert r.code == 0, r.err
    uuid = _uuid_of(standin, att.read_bytes())
    assert f"ok  signature: DSSE envelope with no certificate: its Rekor entry {uuid[:12]}" in r.out
    assert f"ok  certificate-identity: signed by {ME}" in r.out
    assert "ok  artifact" in r.out or "app.bin" in r.out
    assert standin.requests == ["/api/v1/index/retrieve", f"/api/v1/log/entries/{uuid}"]


def test_offline_keeps_its_clear_message(attest, case) -> None:
    args, _ = case
    offline = [a for a in args if a not in args[1:3]]
    r = attest("verify", *offline)
    assert r.code == 1
    assert "a bare DSSE envelope carries no certificate or transparency-log entry" in r.err
    assert "--rekor-url" in r.err
    r = attest("verify", *args, "--offline")
    assert r.code == 2 and "--rekor-url and --offline contradict each other" in r.err


@pytest.mark.parametrize("url", ["http://rekor.example.com", "ftp://127.0.0.1/",
                                 "https://rekor.sigstore.dev/?x=1", "rekor.sigstore.dev"])
def test_rekor_url_must_be_https_or_loopback(attest, case, url) -> None:
    args, _ = case
    r = attest("verify", *args[:1], "--rekor-url", url, *args[3:])
    assert r.code == 2 and f"--rekor-url {url}:" in r.err


def test_wrong_identity_fails(attest, standin, case) -> None:
    args, _ = case
    args = [*args[:5], "--certificate-identity", "someone@example.com", *args[7:]]
    r = attest("verify", *args)
    assert r.code == 1 and "policy wants someone@example.com" in r.err


def test_envelope_the_log_never_saw(attest, standin, case, tmp_path) -> None:
    args, att = case
    doc = json.loads(att.read_bytes())
    doc["payload"] = base64.b64encode(STATEMENT + b" ").decode()
    other = tmp_path / "other.intoto.jsonl"
    other.write_text(json.dumps(doc) + "\n")
    r = attest("verify", other, *args[1:])
    assert r.code == 1 and "holds no log entry for this envelope" in r.err


def test_entry_from_a_log_the_root_does_not_trust(attest, standin, case, tmp_path) -> None:
    args, _ = case
    with SigstoreStandIn() as other:
        (tmp_path / "root.json").write_text(json.dumps(other.trusted_root()))
    r = attest("verify", *args)
    assert r.code == 1 and "verifies: entry" in r.err and "signed entry timestamp" in r.err


@pytest.mark.parametrize(("edit", "needle"), [
    (lambda body: body["spec"]["content"]["payloadHash"].update(value="0" * 64),
     "the intoto 0.0.1 entry logs another payload"),
    (lambda body: body["spec"].update(publicKey=base64.b64encode(
        json.dumps({"not": "a certificate"}).encode()).decode()), "malformed"),
])
def test_a_lying_log_is_caught(attest, standin, tmp_path, edit, needle) -> None:
    """The log signs what it logged, but what it logged is not this envelope's."""
    line = standin.bare_envelope(STATEMENT + b"\n", log_edit=edit)
    att = tmp_path / "lie.intoto.jsonl"
    att.write_bytes(line)
    (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))
    r = attest("verify", att, "--rekor-url", standin.url, "--trusted-root",
               tmp_path / "root.json", "--certificate-identity", ME,
               "--certificate-oidc-issuer", standin.issuer, "--predicate-type",
               "https://slsa.dev/provenance/v0.2")
    assert r.code == 1 and needle in r.err, r.err


def test_tampered_inclusion_proof_fails(attest, standin, case) -> None:
    args, att = case
    uuid = _uuid_of(standin, att.read_bytes())
    answer = copy.deepcopy(standin.by_uuid[uuid])
    proof = answer[uuid]["verification"]["inclusionProof"]
    proof["hashes"] = ["00" * 32, *proof["hashes"]]
    standin.overrides[f"/api/v1/log/entries/{uuid}"] = (200, json.dumps(answer).encode())
    try:
        r = attest("verify", *args)
    finally:
        standin.overrides.clear()
    assert r.code == 1 and "inclusion proof" in r.err, r.err


@pytest.mark.parametrize(("path", "answer", "code", "needle"), [
    ("/api/v1/index/retrieve", json.dumps(["a" * 64] * 2000).encode(), 2,
     "answered more than 65536 bytes"),
    ("/api/v1/index/retrieve", b'{"uuids": []}', 2, "answered no list of entry UUIDs"),
    ("/api/v1/index/retrieve", b'["../../etc/passwd"]', 2, "answered no list of entry UUIDs"),
    ("/api/v1/index/retrieve", b"not json", 2, "Rekor index search: the answer of http://"),
    ("/api/v1/index/retrieve", b'["' + b"a" * 64 + b'"]' + b" " * 3, 1, "malformed"),
    ("ENTRY", b'{"a": 1, "a": 2}', 1, "duplicate key 'a'"),
    ("ENTRY", b'{"logIndex": 1}', 1, "malformed"),
    ("ENTRY", b"[]", 1, "malformed"),
])
def test_hostile_answers_are_bounded_and_type_checked(attest, standin, case, path, answer,
                                                      code, needle) -> None:
    args, att = case
    if path == "ENTRY":
        path = f"/api/v1/log/entries/{_uuid_of(standin, att.read_bytes())}"
    standin.overrides[path] = (200, answer)
    try:
        r = attest("verify", *args)
    finally:
        standin.overrides.clear()
    assert r.code == code and needle in r.err, r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err


# -- a real entry: slsa-github-generator v1.2.0's bare envelope, logged in 2022 -----------------

REAL = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v1.2.0"


def test_real_bare_envelope_verified_by_its_real_entry(attest, standin, tmp_path) -> None:
    """The public-good Rekor's real answer, served on loopback, verifies the real envelope
    against the real production trusted root (the index is found by payload hash)."""
    from conftest import TESTDATA, interop_path

    root = interop_path("sigstore", "trusted_root.sigstore-production.json")
    answer = json.loads((TESTDATA / "rekor" / "slsa-generator-v1.2.0-entry.json").read_text())
    (uuid,) = answer
    standin.by_uuid[uuid] = answer
    standin.index["sha256:4f2e1442c2f32bd384dd69371e21aaf84c508bd8997261e772a249a06b1bb3db"] = [uuid]
    att = TESTDATA / "rekor" / "slsa-generator-v1.2.0.intoto.jsonl"
    args = [att, "--rekor-url", standin.url, "--trusted-root", root,
            "--certificate-identity", REAL,
            "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
            "--builder-id", REAL.split("@")[0],
            "--source-uri", "github.com/laurentsimon/slsa-on-github-test",
            "--digest", "sha256:482ce8c8f7e867da3a3c05a9aee637703e17470ed1cf882a9e5b405e8f82619d"]
    r = attest("verify", *args)
    assert r.code == 0, r.err
    assert "its Rekor entry 695781e26c80 (index 3188713)" in r.out
    assert "the certificate has no SCT; its log entry records it" in r.out
    assert "logged at 2022-08-15T17:04:13Z" in r.out
    # the same envelope with a tampered payload: the log holds no entry for it ...
    doc = json.loads(att.read_text())
    doc["payload"] = base64.b64encode(base64.b64decode(doc["payload"]).replace(
        b"v1.2.3", b"v9.2.3")).decode()
    bad = tmp_path / "bad.intoto.jsonl"
    bad.write_text(json.dumps(doc) + "\n")
    r = attest("verify", bad, *args[1:])
    assert r.code == 1 and "holds no log entry for this envelope" in r.err
    # ... and a log that answers with the real entry for it anyway is caught
    standin.index[f"sha256:{hashlib.sha256(base64.b64decode(doc['payload'])).hexdigest()}"] = [uuid]
    r = attest("verify", bad, *args[1:])
    assert r.code == 1 and "the intoto 0.0.1 entry logs another payload" in r.err
