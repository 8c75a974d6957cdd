"""attest verify: every failure path, each with its specific message and exit code."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from attester.jsonio import dumps_compact
from attester.model import schemas
from attester.signing import keys
from attester.signing.dsse import Envelope, Signature, pae

KUBECTL = b"kubectl v1.31.0\n"
SOURCE = "git+https://github.com/kubernetes/kubernetes"
STATEMENT: dict[str, Any] = {
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [{"name": "kubectl", "digest": {"sha256": hashlib.sha256(KUBECTL).hexdigest()}},
                {"name": "other", "digest": {"sha256": "ab" * 32}}],
    "predicateType": "https://slsa.dev/provenance/v1",
    "predicate": {
        "buildDefinition": {
            "buildType": "https://attester.dev/buildtypes/local/v1",
            "externalParameters": {"source": {"repository": SOURCE, "ref": "refs/tags/v1.31.0"}},
            "resolvedDependencies": [{"uri": SOURCE + "@refs/tags/v1.31.0",
                                      "digest": {"gitCommit": "a" * 40}}],
        },
        "runDetails": {"builder": {"id": "https://builder.example/v1"}},
    },
}
POLICY = ["--builder-id", "https://builder.example/v1",
          "--source-uri", "github.com/kubernetes/kubernetes",
          "--source-ref", "refs/tags/v1.31.0",
          "--build-type", "https://attester.dev/buildtypes/local/v1"]


class Kit:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.key = keys.generate("ecdsa-p256")
        self.pub = tmp / "release.pub"
        self.pub.write_bytes(keys.public_pem(self.key.public_key()))
        self.artifact = tmp / "dist" / "kubectl"
        self.artifact.parent.mkdir()
        self.artifact.write_bytes(KUBECTL)

    def envelope(self, statement: Any = None, *, payload: bytes | None = None,
                 payload_type: str = "application/vnd.in-toto+json",
                 signers: list[Any] | None = None, name: str = "att.intoto.json") -> Path:
        body = payload if payload is not None else dumps_compact(
            STATEMENT if statement is None else statement)
        sigs = tuple(Signature(sig=keys.sign(k, pae(payload_type, body)), keyid="")
                     for k in (signers if signers is not None else [self.key]))
        path = self.tmp / name
        path.write_text(json.dumps(Envelope(payload_type, body, sigs).to_json()))
        return path


@pytest.fixture
def kit(tmp_path: Path) -> Kit:
    return Kit(tmp_path)


def test_all_checks_pass(attest, kit) -> None:
    r = attest("verify", kit.envelope(), "--key", kit.pub, "--artifact", kit.artifact, *POLICY)
    assert r.code == 0, r.err
    assert "verified" in r.out
    for name in ("signature", "statement", "predicate-type", "builder-id", "source-uri",
                 "source-ref", "build-type", "artifact"):
        assert f"ok  {name}" in r.out


def test_json_report_lists_every_check_and_matches_schema(attest, kit) -> None:
    r = attest("verify", kit.envelope(), "--key", kit.pub, "--artifact", kit.artifact,
               "--format", "json", *POLICY)
    assert r.code == 0
    report = r.json()
    assert schemas.errors(report, "verification-report.schema.json") == []
    assert report["verified"] is True
    assert [c["check"] for c in report["checks"]] == [
        "signature", "payload-type", "statement", "predicate-type", "predicate", "builder-id",
        "build-type", "source-uri", "source-ref", f"artifact {kit.artifact}"]


def _fails(r, needle: str, code: int = 1) -> None:
    assert r.code == code, (r.code, r.err)
    assert needle in r.err, r.err
    assert r.err.count("\n") == 1, "one line, no traceback"


def test_no_key_is_usage_error(attest, kit) -> None:
    _fails(attest("verify", kit.envelope(), "--artifact", kit.artifact),
           "no trusted key or signer given", 2)


def test_empty_policy_is_a_usage_error(attest, kit) -> None:
    _fails(attest("verify", kit.envelope(), "--key", kit.pub), "empty policy", 2)


def test_untrusted_key(attest, kit) -> None:
    other = keys.generate("ed25519")
    _fails(attest("verify", kit.envelope(signers=[other]), "--key", kit.pub,
                  "--artifact", kit.artifact), "no valid signature by a trusted key")


def test_unsigned_envelope(attest, kit) -> None:
    _fails(attest("verify", kit.envelope(signers=[]), "--key", kit.pub,
                  "--artifact", kit.artifact), "envelope has no signatures")


def test_tampered_payload_detected_without_reserializing(attest, kit) -> None:
    path = kit.envelope()
    env = json.loads(path.read_text())
    body = base64.b64decode(env["payload"])
    env["payload"] = base64.b64encode(body.replace(b'"_type"', b' "_type"', 1)).decode()
    path.write_text(json.dumps(env))  # same JSON meaning, different bytes: must fail
    _fails(attest("verify", path, "--key", kit.pub, "--artifact", kit.artifact),
           "no valid signature")


def test_threshold(attest, kit, tmp_path) -> None:
    second = keys.generate("ed25519")
    pub2 = tmp_path / "second.pub"
    pub2.write_bytes(keys.public_pem(second.public_key()))
    one = kit.envelope()
    _fails(attest("verify", one, "--key", kit.pub, "--key", pub2, "--threshold", "2",
                  "--artifact", kit.artifact), "only 1 trusted key(s) signed")
    both = kit.envelope(signers=[kit.key, second], name="both.json")
    r = attest("verify", both, "--key", kit.pub, "--key", pub2, "--threshold", "2",
               "--artifact", kit.artifact)
    assert r.code == 0, r.err
    # The same key signing twice does not count as two keys.
    twice = kit.envelope(signers=[kit.key, kit.key], name="twice.json")
    _fails(attest("verify", twice, "--key", kit.pub, "--key", pub2, "--threshold", "2",
                  "--artifact", kit.artifact), "only 1 trusted key(s) signed")
    _fails(attest("verify", both, "--key", kit.pub, "--threshold", "2",
                  "--artifact", kit.artifact), "--threshold 2 must be between", 2)


def test_wrong_payload_type_even_if_signed(attest, kit) -> None:
    _fails(attest("verify", kit.envelope(payload_type="application/json"), "--key", kit.pub,
                  "--artifact", kit.artifact), "payloadType is 'application/json'")


def test_payload_not_json(attest, kit) -> None:
    _fails(attest("verify", kit.envelope(payload=b"{not json"), "--key", kit.pub,
                  "--artifact", kit.artifact), "statement: payload: not valid JSON")


def _mutated(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(STATEMENT)
    for k, v in changes.items():
        if v is None:
            doc.pop(k)
        else:
            doc[k] = v
    return doc


@pytest.mark.parametrize(("doc", "needle"), [
    (_mutated(_type="https://in-toto.io/Statement/v9"), "_type is 'https://in-toto.io/Statement/v9'"),
    (_mutated(subject=[]), "statement has no subjects"),
    (_mutated(subject=[{"name": "kubectl", "digest": {}}]), "subject 0 (kubectl) has no digest"),
    (_mutated(subject=[{"name": "kubectl"}]), "subject 0 (kubectl) has no digest"),
    (_mutated(predicateType="https://example.com/custom/v1"),
     "unknown predicateType 'https://example.com/custom/v1'"),
    (_mutated(predicateType=None), "unknown predicateType 'missing'"),
])
def test_statement_level_failures(attest, kit, doc, needle) -> None:
    _fails(attest("verify", kit.envelope(doc), "--key", kit.pub, "--artifact", kit.artifact),
           needle)


def test_unknown_predicate_type_accepted_only_when_named(attest, kit) -> None:
    doc = _mutated(predicateType="https://example.com/custom/v1")
    env = kit.envelope(doc)
    r = attest("verify", env, "--key", kit.pub, "--artifact", kit.artifact,
               "--predicate-type", "https://example.com/custom/v1")
    assert r.code == 0, r.err
    _fails(attest("verify", kit.envelope(), "--key", kit.pub, "--artifact", kit.artifact,
                  "--predicate-type", "https://example.com/custom/v1"),
           "policy wants 'https://example.com/custom/v1'")


@pytest.mark.parametrize(("flag", "value", "needle"), [
    ("--builder-id", "https://evil.example/v1", "builder-id: builder id is "
     "'https://builder.example/v1', policy wants 'https://evil.example/v1'"),
    ("--source-uri", "github.com/kubernetes/kubernetes-fork", "source-uri: source is "),
    ("--source-ref", "refs/heads/main", "source-ref: source ref is 'refs/tags/v1.31.0'"),
    ("--build-type", "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
     "build-type: build type is"),
])
def test_policy_failures(attest, kit, flag, value, needle) -> None:
    _fails(attest("verify", kit.envelope(), "--key", kit.pub, flag, value), needle)


@pytest.mark.parametrize("uri", ["https://github.com/kubernetes/kubernetes",
                                 "git+https://github.com/kubernetes/kubernetes.git",
                                 "github.com/kubernetes/kubernetes/"])
def test_source_uri_forms_are_equivalent(attest, kit, uri) -> None:
    r = attest("verify", kit.envelope(), "--key", kit.pub, "--source-uri", uri)
    assert r.code == 0, r.err


def test_artifact_digest_mismatch_by_name(attest, kit) -> None:
    kit.artifact.write_bytes(KUBECTL + b"backdoor")
    _fails(attest("verify", kit.envelope(), "--key", kit.pub, "--artifact", kit.artifact),
           f"artifact {kit.artifact}: digest mismatch: subject 'kubectl' has sha256:"
           f"{hashlib.sha256(KUBECTL).hexdigest()}, the file has sha256:"
           f"{hashlib.sha256(KUBECTL + b'backdoor').hexdigest()}")


def test_tampered_file_named_from_inside_its_folder(attest, kit, monkeypatch) -> None:
    """Issue 18 item 14: the subject is bin/app, the file typed as ``app`` from inside
    bin/: tampered, it is that subject's mismatch, not 'no subject covers it'."""
    good = b"app v1\n"
    doc = copy.deepcopy(STATEMENT)
    doc["subject"] = [{"name": "bin/app", "digest": {"sha256": hashlib.sha256(good).hexdigest()}}]
    env = kit.envelope(doc)
    (kit.tmp / "bin").mkdir()
    (kit.tmp / "bin" / "app").write_bytes(good)
    monkeypatch.chdir(kit.tmp / "bin")
    r = attest("verify", env, "--key", kit.pub, "--artifact", "app")
    assert r.code == 0, r.err
    assert "ok  artifact app: matches subject 'bin/app'" in r.out
    (kit.tmp / "bin" / "app").write_bytes(b"tampered")
    _fails(attest("verify", env, "--key", kit.pub, "--artifact", "app"),
           "artifact app: digest mismatch: subject 'bin/app' has sha256:"
           f"{hashlib.sha256(good).hexdigest()}, the file has sha256:"
           f"{hashlib.sha256(b'tampered').hexdigest()}")


def test_artifact_no_subject_covers_it(attest, kit, tmp_path) -> None:
    stray = tmp_path / "stray.bin"
    stray.write_bytes(b"not attested")
    _fails(attest("verify", kit.envelope(), "--key", kit.pub, "--artifact", kit.artifact,
                  "--artifact", stray), f"artifact {stray}: no subject covers it")


def test_artifact_renamed_matches_by_digest(attest, kit, tmp_path) -> None:
    """No subject has the name: the digest finds it (a renamed download, as slsa-verifier's
    and gh's own artifacts are), and the report says so."""
    renamed = tmp_path / "kubectl-linux-amd64"
    renamed.write_bytes(KUBECTL)
    r = attest("verify", kit.envelope(), "--key", kit.pub, "--artifact", renamed)
    assert r.code == 0
    assert "matches subject 'kubectl' by digest" in r.out


def test_a_subject_with_the_name_decides(attest, kit, tmp_path) -> None:
    """Issue 16 item 2: a file with one subject's name and another's bytes fails (a file
    named kubectl holding debugshell's bytes must not pass as debugshell)."""
    other = tmp_path / "other"
    other.write_bytes(KUBECTL)
    sha = hashlib.sha256(KUBECTL).hexdigest()
    _fails(attest("verify", kit.envelope(), "--key", kit.pub, "--artifact", other),
           f"artifact {other}: digest mismatch: subject 'other' has sha256:{'ab' * 32}, "
           f"the file has sha256:{sha}")
    r = attest("verify", kit.envelope(), "--key", kit.pub, "--digest", f"sha256:{sha}")
    assert r.code == 0, r.err
    assert f"matches subject 'kubectl' by digest (sha256:{sha})" in r.out


def test_subject_named_twice_with_two_digests_is_refused(attest, kit) -> None:
    """Issue 16 item 2: which file such a statement means is unknowable; it was accepted
    for either (verify) or the last one named (--chain)."""
    doc = copy.deepcopy(STATEMENT)
    doc["subject"].append({"name": "kubectl", "digest": {"sha256": "cd" * 32}})
    sha = hashlib.sha256(KUBECTL).hexdigest()
    _fails(attest("verify", kit.envelope(doc), "--key", kit.pub, "--artifact", kit.artifact),
           f"statement: subject 'kubectl' is named twice with different digests (sha256:{sha}, "
           f"sha256:{'cd' * 32}): ambiguous")
    doc["subject"][-1]["digest"] = {"sha256": sha}  # the same twice is one subject
    r = attest("verify", kit.envelope(doc), "--key", kit.pub, "--artifact", kit.artifact)
    assert r.code == 0, r.err


def test_sha512_only_subject_is_compared_with_sha512(attest, kit) -> None:
    doc = _mutated(subject=[{"name": "kubectl",
                             "digest": {"sha512": hashlib.sha512(KUBECTL).hexdigest()}}])
    r = attest("verify", kit.envelope(doc), "--key", kit.pub, "--artifact", kit.artifact)
    assert r.code == 0, r.err
    assert "sha512:" in r.out


def test_subject_with_only_unsupported_digest_fails(attest, kit) -> None:
    doc = _mutated(subject=[{"name": "kubectl", "digest": {"md5": "0" * 32}}])
    _fails(attest("verify", kit.envelope(doc), "--key", kit.pub, "--artifact", kit.artifact),
           "subject 'kubectl' has no digest in sha256, sha384, sha512 to compare with")


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "empty, expected JSON"),
    (b'{"payloadType": "application/vnd.in-toto+json", "payl', "not valid JSON: unterminated string starting at line 1 column 49; "
     "the file ends before the JSON does, it looks truncated"),
    (b'{"payloadType": "x",, "payload": ""}', "not valid JSON: expecting property name "
     "enclosed in double quotes at line 1 column 21\n"),
    (b"\xff\xfe", "not UTF-8"),
    (b'{"_type": "https://in-toto.io/Statement/v1"}', "neither a DSSE envelope nor a Sigstore bundle"),
    (b'{"payloadType": "x", "payload": "%%%", "signatures": []}', "payload: not valid base64"),
])
def test_malformed_attestation_files(attest, kit, tmp_path, content, needle) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    _fails(attest("verify", bad, "--key", kit.pub, "--artifact", kit.artifact), needle, 2)
    assert str(bad) in attest("verify", bad, "--key", kit.pub, "--artifact", kit.artifact).err


def test_missing_inputs_are_input_errors(attest, kit, tmp_path) -> None:
    _fails(attest("verify", tmp_path / "nope.json", "--key", kit.pub, "--artifact", kit.artifact),
           "attestation", 2)
    _fails(attest("verify", kit.envelope(), "--key", kit.pub, "--artifact", tmp_path / "gone"),
           "gone: no such file", 2)
    _fails(attest("verify", kit.envelope(), "--key", kit.pub, "--artifact", kit.artifact.parent),
           "is a folder", 2)
    _fails(attest("verify", kit.envelope(), "--key", tmp_path / "nokey.pub",
                  "--artifact", kit.artifact), "nokey.pub: no such file", 2)


def test_bad_flag_is_usage_error(attest) -> None:
    r = attest("verify", "--no-such-flag")
    assert r.code == 2
    assert "attest: error:" in r.err


def test_debug_shows_traceback(attest, kit, tmp_path) -> None:
    r = attest("--debug", "verify", tmp_path / "nope.json", "--key", kit.pub, "--builder-id", "x")
    assert r.code == 2
    assert "Traceback" in r.err


def test_policy_file_without_chain_is_not_silently_ignored(attest, kit, tmp_path) -> None:
    # one attestation against a policy file's steps (issue 19): the file names the signer,
    # so a --key beside it is refused rather than one of them ignored
    (tmp_path / "p.yaml").write_text("steps: {stage: {keys: [x.pub]}}\n")
    r = attest("verify", kit.envelope(), "--key", kit.pub, "--artifact", kit.artifact,
               "--policy", tmp_path / "p.yaml")
    assert r.code == 2 and "--policy and --key contradict each other" in r.err


def test_the_same_key_twice_does_not_meet_a_threshold_of_two(attest, kit, tmp_path) -> None:
    import shutil
    copy = tmp_path / "copy.pub"
    shutil.copy(kit.pub, copy)
    _fails(attest("verify", kit.envelope(), "--key", kit.pub, "--key", copy, "--threshold", "2",
                  "--artifact", kit.artifact), "only 1 trusted key(s) signed")


def test_duplicate_keys_in_a_signed_payload_are_refused(attest, kit) -> None:
    body = dumps_compact(STATEMENT)[:-1] + b',"predicateType":"https://example.com/evil"}'
    _fails(attest("verify", kit.envelope(payload=body), "--key", kit.pub, "--artifact",
                  kit.artifact), "duplicate key 'predicateType'")


def test_a_fifo_artifact_is_refused_not_hung_on(attest, kit, tmp_path) -> None:
    import os
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _fails(attest("verify", kit.envelope(), "--key", kit.pub, "--artifact", fifo),
           f"artifact {fifo}: not a regular file", 2)
