"""Issue 9: verification fails closed on every path. One test (or more) per numbered
item, each asserting the exit code and the message; plus issue 12's items 3 and 5."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from attester.jsonio import dumps_compact
from attester.signing import keys
from attester.signing.dsse import Envelope, Signature, pae

from conftest import interop_path

ARTIFACT = b"kubectl v1.31.0\n"
SHA = hashlib.sha256(ARTIFACT).hexdigest()
SOURCE = "git+https://github.com/kubernetes/kubernetes"
STAGE_TYPE = "https://attester.dev/buildtypes/stage/v1"
RELEASE_TYPE = "https://attester.dev/buildtypes/release/v1"


def provenance(build_type: str, subjects: dict[str, str], deps: list[dict[str, Any]] | None = None,
               predicate_type: str = "https://slsa.dev/provenance/v1") -> dict[str, Any]:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": n, "digest": {"sha256": d}} for n, d in subjects.items()],
        "predicateType": predicate_type,
        "predicate": {
            "buildDefinition": {
                "buildType": build_type,
                "externalParameters": {"source": {"repository": SOURCE,
                                                  "ref": "refs/tags/v1.31.0"}},
                "resolvedDependencies": deps if deps is not None else [
                    {"uri": SOURCE + "@refs/tags/v1.31.0", "digest": {"gitCommit": "a" * 40}}]},
            "runDetails": {"builder": {"id": "https://builder.example/v1"}}}}


def sign(path: Path, statement: Any, *signers: Any, payload: bytes | None = None) -> Path:
    body = payload if payload is not None else dumps_compact(statement)
    ptype = "application/vnd.in-toto+json"
    sigs = tuple(Signature(sig=keys.sign(k, pae(ptype, body))) for k in signers)
    path.write_text(json.dumps(Envelope(ptype, body, sigs).to_json()))
    return path


class Release:
    """Keys, a stage and a release attestation, a policy and the artifact: a small chain."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.keys = {}
        for role in ("stage", "release", "other"):
            k = keys.generate("ed25519")
            (tmp / f"{role}.pub").write_bytes(keys.public_pem(k.public_key()))
            self.keys[role] = k
        self.artifact = tmp / "kubectl"
        self.artifact.write_bytes(ARTIFACT)
        self.stage = sign(tmp / "stage.intoto.json",
                          provenance(STAGE_TYPE, {"stage/v1.31.0/bin/kubectl": SHA}),
                          self.keys["stage"])
        self.release = sign(tmp / "release.intoto.json", provenance(
            RELEASE_TYPE, {"bin/kubectl": SHA},
            [{"uri": "gs://staging/stage/v1.31.0/bin/kubectl", "digest": {"sha256": SHA}}]),
            self.keys["release"])
        self.policy = tmp / "policy.yaml"
        self.policy.write_text("steps:\n  stage: {keys: [stage.pub]}\n"
                               "  release: {keys: [release.pub]}\n")

    def chain(self, *extra: object) -> list[object]:
        return ["verify", "--chain", self.stage, "--chain", self.release, "--policy",
                self.policy, "--artifact", self.artifact, *extra]


@pytest.fixture
def rel(tmp_path: Path) -> Release:
    return Release(tmp_path)


def one_line(r: Any) -> None:
    assert r.err.count("\n") == 1, r.err
    assert "Traceback" not in r.err and "internal error" not in r.err


def test_the_small_chain_passes(attest, rel) -> None:
    r = attest(*rel.chain())
    assert r.code == 0, r.err
    assert "ok  chain stage" in r.out


# -- item 3: an empty policy is a usage error (exit 2) for every document form ---------

def test_empty_policy_keyed_is_exit_2_with_the_flags(attest, rel) -> None:
    r = attest("verify", rel.stage, "--key", rel.tmp / "stage.pub")
    assert r.code == 2
    assert "empty policy" in r.err and "--source-versioned-tag" in r.err
    assert "--artifact" in r.err and "--builder-id" in r.err
    one_line(r)


def test_empty_policy_keyless_bundle_is_exit_2(attest) -> None:
    base = interop_path("sigstore")
    r = attest("verify", base / "sp_a.dsse.staging-rekor-v2.txt.sigstore.json",
               "--trusted-root", base / "trusted_root.sigstore-staging.json", "--offline",
               "--certificate-identity", "someone@example.com",
               "--certificate-oidc-issuer", "https://github.com/login/oauth")
    assert r.code == 2
    assert "empty policy" in r.err and "--source-versioned-tag" in r.err
    one_line(r)


# -- item 4: every command-line digest is validated -------------------------------------

@pytest.mark.parametrize(("spec", "needle"), [
    ("kubectl@sha256:", "a sha256 digest is exactly 64 hex digits (got 0 characters)"),
    ("kubectl@sha256:abc", "a sha256 digest is exactly 64 hex digits (got 3 characters)"),
    ("kubectl@sha256:" + "g" * 64, "a sha256 digest is exactly 64 hex digits"),
    ("kubectl@sha512:" + "a" * 64, "a sha512 digest is exactly 128 hex digits"),
    ("kubectl@sha512:" + "a" * 128, "--chain follows sha256 digests"),
])
def test_chain_artifact_digest_is_validated(attest, rel, spec, needle) -> None:
    args = rel.chain()
    args[-1] = spec
    r = attest(*args)
    assert r.code == 2 and needle in r.err, r.err
    one_line(r)


def test_subject_without_sha256_never_matches(attest, rel) -> None:
    """A stage subject with an empty sha256 is not a link anyone can match."""
    sign(rel.stage, provenance(STAGE_TYPE, {"kubectl": ""}), rel.keys["stage"])
    r = attest("verify", "--chain", rel.stage, "--policy", rel.policy,
               "--artifact", "kubectl@sha256:" + "0" * 64)
    assert r.code == 1 and "no stage attestation covers" in r.err


# -- item 5: the predicate of a provenance type must be provenance ----------------------

@pytest.mark.parametrize(("predicate", "needle"), [
    ("just a string", "predicate is a JSON str, not an object"),
    ({"buildDefinition": "x", "runDetails": {"builder": {"id": "b"}}},
     "predicate is not SLSA provenance of its type: buildDefinition"),
    ({"buildDefinition": {"buildType": "t"}, "runDetails": {"builder": {"id": 5}}},
     "runDetails/builder/id"),
])
def test_predicate_must_match_its_type(attest, rel, predicate, needle) -> None:
    stmt = provenance(STAGE_TYPE, {"kubectl": SHA})
    stmt["predicate"] = predicate
    env = sign(rel.tmp / "p.intoto.json", stmt, rel.keys["stage"])
    r = attest("verify", env, "--key", rel.tmp / "stage.pub", "--artifact", rel.artifact)
    assert r.code == 1 and needle in r.err, r.err
    one_line(r)


# -- item 6: NaN and Infinity are not JSON ------------------------------------------------

@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_payload_with_nan_or_infinity_is_refused(attest, rel, literal) -> None:
    body = dumps_compact(provenance(STAGE_TYPE, {"kubectl": SHA}))
    body = body.replace(b'"predicate":{', b'"predicate":{"x":' + literal + b",")
    env = sign(rel.tmp / "nan.intoto.json", None, rel.keys["stage"], payload=body)
    r = attest("verify", env, "--key", rel.tmp / "stage.pub", "--artifact", rel.artifact)
    assert r.code == 1
    assert f"{literal.decode()} is not JSON (RFC 8259)" in r.err
    one_line(r)


def test_envelope_file_with_nan_is_exit_2(attest, rel) -> None:
    doc = rel.stage.read_text().replace('"payloadType"', '"x": NaN, "payloadType"')
    (rel.tmp / "bad.json").write_text(doc)
    r = attest("verify", rel.tmp / "bad.json", "--key", rel.tmp / "stage.pub",
               "--artifact", rel.artifact)
    assert r.code == 2 and "NaN is not JSON" in r.err
    one_line(r)


# -- item 10: text output escapes control characters; the HTML report has a CSP ---------

def test_ansi_in_an_artifact_name_is_escaped(attest, rel) -> None:
    evil = rel.tmp / "kubectl\x1b[32m ok\r"
    evil.write_bytes(ARTIFACT)
    r = attest("verify", rel.stage, "--key", rel.tmp / "stage.pub", "--artifact", evil)
    assert r.code == 0, r.err
    assert "\x1b" not in r.out and "\r" not in r.out
    assert "kubectl\\x1b[32m ok\\x0d" in r.out
    other = rel.tmp / "x\x1b]0;owned\x07"
    other.write_bytes(b"not the artifact")
    r = attest("verify", rel.stage, "--key", rel.tmp / "stage.pub", "--artifact", other)
    assert r.code == 1 and "\x1b" not in r.err and "x\\x1b]0;owned\\x07" in r.err


def test_error_messages_are_escaped(attest, rel) -> None:
    r = attest("verify", rel.tmp / "missing\x1b[2J.json", "--key", rel.tmp / "stage.pub",
               "--artifact", rel.artifact)
    assert r.code == 2 and "\x1b" not in r.err and "missing\\x1b[2J.json" in r.err


# -- item 11: hostile shapes end as one precise line, never an internal error -----------

def test_deeply_nested_json_is_refused(attest, rel) -> None:
    (rel.tmp / "deep.json").write_text("[" * 100_000)
    r = attest("verify", rel.tmp / "deep.json", "--key", rel.tmp / "stage.pub",
               "--artifact", rel.artifact)
    assert r.code == 2 and "nested more than 128 levels deep" in r.err
    one_line(r)


def test_huge_integer_is_refused(attest, rel) -> None:
    (rel.tmp / "int.json").write_text('{"payload": ' + "9" * 5000 + "}")
    r = attest("verify", rel.tmp / "int.json", "--key", rel.tmp / "stage.pub",
               "--artifact", rel.artifact)
    assert r.code == 2 and "an integer of 5000 digits" in r.err
    one_line(r)


def deep_folder(top: Path, depth: int) -> list[Path]:
    """``top/d/d/.../d`` without recursion (os.makedirs and rmtree recurse per level)."""
    chain = [top]
    top.mkdir()
    for _ in range(depth):
        chain.append(chain[-1] / "d")
        chain[-1].mkdir()
    return chain


def remove_deep(chain: list[Path]) -> None:
    for p in reversed(chain):
        for f in p.iterdir():
            if not f.is_dir():
                f.unlink()
        p.rmdir()


def test_folder_nested_1100_deep_is_walked(attest, tmp_path) -> None:
    chain = deep_folder(tmp_path / "deep", 1100)
    (chain[-1] / "f").write_bytes(b"x")
    try:
        r = attest("start", "--artifacts", f"file://{chain[0]}", "-o", tmp_path / "snap.json")
        assert r.code == 0, r.err
        assert "recorded 1 existing artifact(s)" in r.err
    finally:
        remove_deep(chain)


# -- item 12: a key given twice is refused ----------------------------------------------

def test_sign_refuses_a_key_given_twice(attest, tmp_path) -> None:
    stmt = tmp_path / "s.json"
    stmt.write_text(json.dumps(provenance("https://example.com/build/v1", {"kubectl": SHA})))
    k = keys.generate("ecdsa-p256")
    (tmp_path / "a.key").write_bytes(keys.private_pem(k, None))
    (tmp_path / "copy.key").write_bytes(keys.private_pem(k, None))
    for second in ("a.key", "copy.key"):
        r = attest("sign", stmt, "--key", tmp_path / "a.key", "--key", tmp_path / second,
                   "-o", tmp_path / "out.json")
        assert r.code == 2 and "is the same key as" in r.err and "give each signing key once" \
            in r.err, r.err
        assert not (tmp_path / "out.json").exists()


# -- issue 12.3 and 12.5 ------------------------------------------------------------------

def test_chain_without_policy_hints_at_policy(attest, rel) -> None:
    r = attest("verify", "--chain", rel.stage, "--artifact", rel.artifact)
    assert r.code == 2 and "--policy" in r.err
    one_line(r)


def test_every_failed_check_is_printed_one_line_each(attest, rel) -> None:
    other = rel.tmp / "other"
    other.write_bytes(b"other")
    r = attest("verify", rel.stage, "--key", rel.tmp / "stage.pub", "--artifact", other,
               "--builder-id", "https://someone.else/v1", "--source-ref", "refs/tags/v9")
    assert r.code == 1
    lines = r.err.splitlines()
    assert len(lines) == 3, r.err
    assert all(ln.startswith(f"attest: verification FAILED for {rel.stage}: ") for ln in lines)
    assert [ln.split(": ")[2] for ln in lines] == ["builder-id", "source-ref",
                                                   f"artifact {other}"]
    assert "more failed check" not in r.err


def test_the_empty_policy_lists_only_real_verify_flags() -> None:
    """Every flag the empty-policy message names exists on ``attest verify``."""
    from attester.cli import build_parser
    from attester.verify.checks.statement import policy_flags

    verify = build_parser()._subparsers._group_actions[0].choices["verify"]  # type: ignore[union-attr]
    known = {o for a in verify._actions for o in a.option_strings}
    assert set(policy_flags()) <= known, set(policy_flags()) - known


# -- item 1: --chain applies every flag or refuses it (declared in cli/verify_modes) -----

def _verify_actions() -> list[Any]:
    from attester.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    return [a for a in sub.choices["verify"]._actions if a.dest != "help"]


def _with_flag(args: list[object], action: Any, value: str) -> list[object]:
    flag = action.option_strings[0] if action.option_strings else None
    if flag is None:  # the positional ATTESTATION
        return ["verify", value, *args[1:]]
    return [*args, flag] if action.nargs == 0 else [*args, flag, value]


def test_every_verify_flag_applies_in_chain_mode_or_is_refused(attest, rel) -> None:
    from attester.cli.verify_modes import VERIFY_FLAGS, Mode

    actions = _verify_actions()
    assert actions, "the verify parser has flags"
    for action in actions:
        dest = action.dest
        assert dest in VERIFY_FLAGS, f"{dest}: declare it in attester/cli/verify_modes.py"
        value = {"threshold": "2", "jobs": "3", "limit": "3", "artifacts": f"file://{rel.tmp}"}.get(dest, "x")
        if not VERIFY_FLAGS[dest].modes & Mode.CHAIN_POLICY:  # rel.chain() has --policy
            r = attest(*_with_flag(rel.chain(), action, value))
            assert r.code == 2, (dest, r.err)
            assert "does not apply to --chain" in r.err, (dest, r.err)
            shown = max(action.option_strings, key=len) if action.option_strings else "ATTESTATION"
            assert shown in r.err, (dest, r.err)
            one_line(r)


def test_signer_flags_apply_without_a_policy(attest, rel) -> None:
    keyed = ["verify", "--chain", rel.stage, "--chain", rel.release, "--artifact", rel.artifact,
             "--key", rel.tmp / "stage.pub", "--key", rel.tmp / "release.pub"]
    r = attest(*keyed)
    assert r.code == 0, r.err
    r = attest(*keyed[:7], "--key", rel.tmp / "other.pub")
    assert r.code == 1 and "not signed by any signer the policy trusts" in r.err
    # a keyless signer only: the bare envelopes cannot satisfy it
    r = attest(*keyed[:7], "--certificate-identity", "me@example.com",
               "--certificate-oidc-issuer", "https://accounts.google.com", "--offline")
    assert r.code == 1 and "not signed by any signer the policy trusts" in r.err


def test_chain_threshold_applies(attest, rel) -> None:
    """Issue 9.1: a one-signature envelope no longer passes --threshold 2."""
    args = ["verify", "--chain", rel.stage, "--chain", rel.release, "--artifact", rel.artifact,
            "--key", rel.tmp / "stage.pub", "--key", rel.tmp / "release.pub", "--threshold", "2"]
    r = attest(*args)
    assert r.code == 1 and "threshold is 2" in r.err, r.err
    r = attest(*args[:-1], "3")
    assert r.code == 2 and "--threshold 3 must be between 1 and the number of --key" in r.err


def test_chain_source_uri_applies_next_to_policy(attest, rel) -> None:
    r = attest(*rel.chain("--source-uri", "github.com/kubernetes/kubernetes"))
    assert r.code == 0, r.err
    r = attest(*rel.chain("--source-uri", "github.com/someone/else"))
    assert r.code == 1 and "policy wants github.com/someone/else" in r.err
    rel.policy.write_text(rel.policy.read_text() + "source-uri: github.com/kubernetes/kubernetes\n")
    r = attest(*rel.chain("--source-uri", "github.com/someone/else"))
    assert r.code == 2 and "contradicts the policy's source-uri" in r.err


def test_chain_digest_format_and_quiet_apply(attest, rel) -> None:
    args = rel.chain()[:-2]
    r = attest(*args, "--digest", f"sha256:{SHA}", "--format", "json", "--quiet")
    assert r.code == 0, r.err
    assert r.json()["verified"] is True
    r = attest(*args, "--digest", "sha256:" + "0" * 64)
    assert r.code == 1 and "no stage attestation covers" in r.err


def test_vsa_flags_without_vsa_out_are_refused(attest, rel) -> None:
    r = attest("verify", rel.stage, "--key", rel.tmp / "stage.pub", "--artifact", rel.artifact,
               "--vsa-key", rel.tmp / "x.key")
    assert r.code == 2 and "--vsa-key needs --vsa-out" in r.err


def test_threshold_without_keys_is_refused(attest, rel) -> None:
    r = attest("verify", rel.stage, "--certificate-identity", "a", "--certificate-oidc-issuer",
               "b", "--artifact", rel.artifact, "--threshold", "2")
    assert r.code == 2 and "--threshold 2 must be between 1" in r.err


# -- item 2: only provenance counts as a release-step link -----------------------------

def _other_attestation(rel: Release) -> Path:
    stmt = provenance(STAGE_TYPE, {"stage/v1.31.0/bin/kubectl": SHA},
                      predicate_type="https://example.com/some-other-attestation/v1")
    stmt["predicate"] = {"buildType": STAGE_TYPE,
                         "materials": [{"uri": SOURCE, "digest": {"sha1": "a" * 40}}],
                         "invocation": {"configSource": {"uri": SOURCE + "@refs/tags/v1"}}}
    return sign(rel.tmp / "other.intoto.json", stmt, rel.keys["stage"])


def test_other_predicate_type_is_not_a_stage_link(attest, rel) -> None:
    fake = _other_attestation(rel)
    r = attest("verify", "--chain", fake, "--chain", rel.release, "--policy", rel.policy,
               "--artifact", rel.artifact)
    assert r.code == 1
    assert ("stage attestation has predicate type 'https://example.com/some-other-attestation"
            "/v1'; a stage link must be provenance") in r.err
    # plain verify rejects the same file too
    r = attest("verify", fake, "--key", rel.tmp / "stage.pub", "--artifact", rel.artifact)
    assert r.code == 1 and "unknown predicateType" in r.err


def test_other_predicate_type_accepted_only_when_the_policy_lists_it(attest, rel) -> None:
    fake = _other_attestation(rel)
    rel.policy.write_text("steps:\n  stage: {keys: [stage.pub], predicate-types: "
                          "[https://example.com/some-other-attestation/v1]}\n"
                          "  release: {keys: [release.pub]}\n")
    r = attest("verify", "--chain", fake, "--chain", rel.release, "--policy", rel.policy,
               "--artifact", rel.artifact)
    assert r.code == 0, r.err


def test_audit_ignores_other_predicate_types_as_links(attest, rel, tmp_path) -> None:
    d = tmp_path / "release-dir"
    d.mkdir()
    _other_attestation(rel).rename(d / "stage.intoto.json")
    rel.release.rename(d / "release.intoto.json")
    (d / "kubectl").write_bytes(ARTIFACT)
    r = attest("audit", d, "--policy", rel.policy, "--format", "json")
    assert r.code == 1
    doc = r.json()
    assert doc["artifacts"][0]["verdict"] == "FAIL"
    assert any("a stage link must be provenance" in p for p in doc["attestationProblems"])


# -- item 9: hostile entries in a release folder are FAIL rows, never an abort ---------

def _release_folder(rel: Release, tmp_path: Path) -> Path:
    d = tmp_path / "v1.31.0"
    d.mkdir()
    for f in (rel.stage, rel.release):
        (d / f.name).write_bytes(f.read_bytes())
    (d / "kubectl").write_bytes(ARTIFACT)
    return d


def test_audit_of_a_clean_folder_passes(attest, rel, tmp_path) -> None:
    d = _release_folder(rel, tmp_path)
    (d / "kubectl-link").symlink_to("kubectl")  # an in-folder link is resolved once
    r = attest("audit", d, "--policy", rel.policy, "--format", "json")
    assert r.code == 0, r.err
    assert {row["artifact"]: row["verdict"] for row in r.json()["artifacts"]} == {
        "kubectl": "PASS", "kubectl-link": "PASS"}


@pytest.mark.parametrize("fmt", ["text", "json", "html"])
def test_audit_turns_hostile_entries_into_fail_rows(attest, rel, tmp_path, fmt) -> None:
    d = _release_folder(rel, tmp_path)
    os.mkdir(os.path.join(os.fsencode(d), b"bad-\xff-dir"))
    with open(os.path.join(os.fsencode(d), b"name-\xff\xfe"), "wb") as f:
        f.write(ARTIFACT)
    (d / "outside").symlink_to(rel.artifact)
    (d / "dangling").symlink_to(d / "nowhere")
    os.mkfifo(d / "a-fifo")
    (d / "evil\x1b[32m ok").write_bytes(b"x")
    (d / "images.txt").write_text("not an image reference\n")
    (d / "broken.intoto.json").write_text('{"payload": ' + "[" * 10_000)
    chain = deep_folder(d / "deep", 1100)
    (chain[-1] / "f").write_bytes(b"deep")
    out = tmp_path / f"audit.{fmt}"
    try:
        r = attest("audit", d, "--policy", rel.policy, "--format", fmt, "--output", out)
    finally:
        remove_deep(chain)
    assert r.code == 1, r.err
    assert "internal error" not in r.err and "Traceback" not in r.err
    assert "\x1b" not in r.err
    page = out.read_bytes().decode("utf-8")
    assert "\x1b" not in page
    if fmt == "json":  # the escapes as a reader of the JSON sees them
        doc = json.loads(page)
        page = "\n".join([*(f"{row['artifact']} {row['firstFailure']}" for row in doc["artifacts"]),
                          *doc["attestationProblems"]])
    for needle in ("name-\\xff\\xfe", "file name is not valid UTF-8", "symlink points outside",
                   "broken symlink", "not a regular file", "line 1: expected REGISTRY/REPO",
                   "nested more than", "d/d/d/d"):
        assert needle in page, (needle, page[:2000])
    if fmt == "json":
        verdicts = {row["artifact"]: row["verdict"] for row in doc["artifacts"]}
        assert verdicts["kubectl"] == "PASS"
        assert verdicts["outside"] == verdicts["dangling"] == verdicts["a-fifo"] == "FAIL"
        from attester.model import schemas

        assert schemas.errors(doc, "audit-report.schema.json") == []
    if fmt == "html":
        assert "Content-Security-Policy" in page and "default-src 'none'" in page
        assert "<script" not in page


# -- items 7 and 11 on Sigstore bundles (the stand-in's Fulcio and Rekor) ---------------

def _keyless(attest, standin, rel: Release, bundle: dict[str, Any], name: str) -> Any:
    (rel.tmp / "root.json").write_text(json.dumps(standin.trusted_root()))
    (rel.tmp / name).write_text(json.dumps(bundle))
    return attest("verify", rel.tmp / name, "--trusted-root", rel.tmp / "root.json",
                  "--offline", "--certificate-identity", "release-bot@example.com",
                  "--certificate-oidc-issuer", standin.issuer, "--artifact", rel.artifact)


def _dsse_bundle(attest, standin, rel: Release) -> dict[str, Any]:
    stmt = rel.tmp / "s.json"
    stmt.write_text(json.dumps(provenance("https://example.com/build/v1", {"kubectl": SHA})))
    (rel.tmp / "trust.json").write_text(json.dumps(standin.trust_config()))
    r = attest("sign", stmt, "--keyless", "--identity-token", standin.token(),
               "--trust-config", rel.tmp / "trust.json", "-o", rel.tmp / "b.sigstore.json")
    assert r.code == 0, r.err
    return json.loads((rel.tmp / "b.sigstore.json").read_text())


def test_dsse_bundle_with_two_signatures_is_refused(attest, standin, rel) -> None:
    bundle = _dsse_bundle(attest, standin, rel)
    assert _keyless(attest, standin, rel, bundle, "ok.json").code == 0
    sigs = bundle["dsseEnvelope"]["signatures"]
    sigs.append(dict(sigs[0]))
    r = _keyless(attest, standin, rel, bundle, "two.json")
    assert r.code == 2 and "envelope must contain exactly one signature" in r.err, r.err
    one_line(r)


def test_intoto_bundle_with_a_list_as_inclusion_promise(attest, standin, rel) -> None:
    bundle = standin.intoto_bundle(dumps_compact(provenance(STAGE_TYPE, {"kubectl": SHA})))
    assert _keyless(attest, standin, rel, bundle, "ok.json").code == 0
    bundle["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"] = [1]
    r = _keyless(attest, standin, rel, bundle, "list.json")
    assert r.code == 1 and "no signed entry timestamp" in r.err, r.err
    one_line(r)


def test_relabelled_intoto_bundle_cannot_switch_off_its_proof(attest, standin, rel) -> None:
    """Item 7: mediaType is unsigned. A v0.2 bundle relabelled v0.1 still has its
    inclusion proof checked; v0.1 may rely on the SET alone only when it carries no proof
    (then it is held to exactly what a genuine v0.1 bundle is: Rekor's signed promise)."""
    bundle = standin.intoto_bundle(dumps_compact(provenance(STAGE_TYPE, {"kubectl": SHA})))
    bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1"
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    entry["inclusionProof"]["rootHash"] = base64.b64encode(b"\0" * 32).decode()
    r = _keyless(attest, standin, rel, bundle, "relabel.json")
    assert r.code == 1, r.err
    del entry["inclusionProof"]["checkpoint"]
    r = _keyless(attest, standin, rel, bundle, "relabel-nocheckpoint.json")
    assert r.code == 1, r.err
    del entry["inclusionProof"]
    r = _keyless(attest, standin, rel, bundle, "relabel-noproof.json")
    assert r.code == 0, r.err
    bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2"
    r = _keyless(attest, standin, rel, bundle, "v02-noproof.json")
    assert r.code == 1 and "inclusion proof" in r.err, r.err


@pytest.mark.parametrize(("text", "needle"), [
    ("steps: " + "[" * 5000, "not valid YAML or JSON (line 1)"),  # libyaml gives up first
    ("steps: {stage: {keys: [" + "9" * 5000 + "]}}", "unreadable value (Exceeds the limit"),
])
def test_hostile_policy_and_manifest_files(attest, rel, text, needle) -> None:
    rel.policy.write_text(text)
    r = attest(*rel.chain())
    assert r.code == 2 and needle in r.err, r.err
    one_line(r)
    r = attest("promote", "--manifest", rel.policy)  # the C parser words it its own way
    assert r.code == 2 and f"manifest {rel.policy}:" in r.err, r.err
    one_line(r)


def test_manifest_nested_as_deep_as_the_parser_allows(attest, tmp_path) -> None:
    """Nesting is bounded before anything is built (128 levels, as for JSON); 128 still
    parse, and what reads the parsed manifest must not fail on them either."""
    m = tmp_path / "deep.yaml"
    m.write_text("registries:\n- name: a\n  src: true\n- name: b\nimages: "
                 + "[" * 800 + "]" * 800 + "\n")
    r = attest("promote", "--manifest", m)
    assert r.code == 2 and f"manifest {m}: nested more than 128 levels deep" in r.err, r.err
    m.write_text("registries:\n- name: a\n  src: true\n- name: b\nimages: "
                 + "[" * 127 + "]" * 127 + "\n")
    r = attest("promote", "--manifest", m)
    assert r.code == 2 and f"manifest {m}: each image needs a name and a dmap" in r.err, r.err


def test_status_lines_escape_names(attest, tmp_path) -> None:
    stmt = tmp_path / "s.json"
    stmt.write_text(json.dumps(provenance("https://example.com/build/v1", {"kubectl": SHA})))
    k = keys.generate("ed25519")
    (tmp_path / "a.key").write_bytes(keys.private_pem(k, None))
    out = tmp_path / "out\x1b[2K.json"
    r = attest("sign", stmt, "--key", tmp_path / "a.key", "-o", out)
    assert r.code == 0, r.err
    assert "\x1b" not in r.err and "out\\x1b[2K.json" in r.err


@pytest.mark.parametrize(("extra", "needle"), [
    (["--key", "k.pub"], "--key says whom staging provenance must come from, but "
                         "--require-provenance is off"),
    (["--policy", "policy.yaml"], "--policy says whom staging provenance must come from"),
    (["--require-provenance", "require", "--policy", "policy.yaml", "--key", "k.pub"],
     "--key does not apply next to --policy"),
])
def test_promote_refuses_trust_flags_it_would_ignore(attest, rel, extra, needle) -> None:
    r = attest("promote", "--image", "127.0.0.1:1/a@sha256:" + "a" * 64 + "=127.0.0.1:1/b:v1",
               *extra)
    assert r.code == 2 and needle in r.err, r.err
    one_line(r)


def test_bundle_certificate_without_key_usage_is_an_input_error(attest, tmp_path) -> None:
    """Found by the mutation suite (seed 22): sigstore's loader let cryptography's
    ExtensionNotFound through for a leaf certificate without keyUsage."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(k.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(k, hashes.SHA256()))
    base = interop_path("sigstore")
    doc = json.loads((base / "sp_bundle.txt.sigstore").read_text())
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    doc["verificationMaterial"]["x509CertificateChain"]["certificates"] = [{"rawBytes": der}]
    (tmp_path / "b.sigstore").write_text(json.dumps(doc))
    r = attest("verify", tmp_path / "b.sigstore", "--trusted-root",
               base / "trusted_root.sigstore-production.json", "--offline",
               "--certificate-identity", "a@tny.town", "--certificate-oidc-issuer",
               "https://github.com/login/oauth", "--artifact", base / "sp_bundle.txt")
    assert r.code == 2 and "not a valid Sigstore bundle: ExtensionNotFound" in r.err, r.err
    one_line(r)
