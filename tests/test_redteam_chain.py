"""Red-team of the release chain: an attacker who can write into the release folder or
sign with one step's key but not another's. Each test asserts the exit code and the
message of an attack (those that held are kept as regressions too)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from test_fail_closed import (
    ARTIFACT,
    RELEASE_TYPE,
    SHA,
    STAGE_TYPE,
    Release,
    provenance,
    sign,
)

from attester.signing import keys

EVIL = b"evil kubectl\n"
EVIL_SHA = hashlib.sha256(EVIL).hexdigest()


@pytest.fixture
def rel(tmp_path: Path) -> Release:
    return Release(tmp_path)


def clean(r: Any) -> None:
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err


def test_stage_signed_by_the_release_key_fails(attest, rel) -> None:
    sign(rel.stage, provenance(STAGE_TYPE, {"stage/v1.31.0/bin/kubectl": SHA}),
         rel.keys["release"])
    r = attest(*rel.chain())
    assert r.code == 1 and "stage attestation fails its step's policy" in r.err, r.err
    clean(r)


def test_release_depending_on_another_stage_digest_fails(attest, rel) -> None:
    sign(rel.release, provenance(RELEASE_TYPE, {"bin/kubectl": SHA}, [
        {"uri": "gs://staging/stage/v1.31.0/bin/kubectl", "digest": {"sha256": "b" * 64}}]),
        rel.keys["release"])
    r = attest(*rel.chain())
    assert r.code == 1 and "names no staged file with this digest" in r.err, r.err
    clean(r)


def test_two_stage_attestations_disagreeing_fail(attest, rel) -> None:
    other = sign(rel.tmp / "stage2.intoto.json",
                 provenance(STAGE_TYPE, {"stage/v1.31.0/bin/kubectl": "c" * 64}),
                 rel.keys["stage"])
    r = attest(*rel.chain("--chain", other))
    assert r.code == 1 and "chain consistency" in r.err, r.err
    clean(r)


def test_tampered_file_matching_by_name_only_fails(attest, rel) -> None:
    rel.artifact.write_bytes(EVIL)
    r = attest(*rel.chain())
    assert r.code == 1 and "says sha256:" in r.err, r.err
    clean(r)


def test_stage_key_alone_cannot_stand_in_for_the_release(attest, rel) -> None:
    """Whoever holds only the stage key signs a stage attestation for a file of their own:
    the policy names a release signer, so a file no release attestation covers fails."""
    evil = rel.tmp / "evil"
    evil.write_bytes(EVIL)
    st = sign(rel.tmp / "stage-evil.intoto.json",
              provenance(STAGE_TYPE, {"stage/v1.31.0/bin/evil": EVIL_SHA}), rel.keys["stage"])
    r = attest("verify", "--chain", st, "--chain", rel.release, "--policy", rel.policy,
               "--artifact", evil)
    assert r.code == 1, r.out + r.err
    clean(r)


def test_promotion_to_a_digest_no_stage_covers_fails(attest, rel) -> None:
    promo = sign(rel.tmp / "promo.intoto.json", provenance(
        "https://attester.dev/buildtypes/promotion/v1", {"registry.k8s.io/x": EVIL_SHA},
        [{"uri": "staging/x", "digest": {"sha256": EVIL_SHA}}]), rel.keys["other"])
    rel.policy.write_text("steps:\n  stage: {keys: [stage.pub]}\n"
                          "  release: {keys: [release.pub]}\n  promotion: {keys: [other.pub]}\n")
    r = attest("verify", "--chain", rel.stage, "--chain", promo, "--policy", rel.policy,
               "--artifact", f"registry.k8s.io/x@sha256:{EVIL_SHA}")
    assert r.code == 1 and "no stage attestation covers" in r.err, r.err
    clean(r)


@pytest.mark.parametrize(("policy", "needle"), [
    ("steps:\n  stage: {}\n  release: {keys: [release.pub]}\n", "steps/stage"),
    ("steps:\n  stage: {keys: []}\n  release: {keys: [release.pub]}\n", "should be non-empty"),
    ("steps:\n  stage:\n  release: {keys: [release.pub]}\n", "stage"),
    ("steps: {}\n", "names no steps"),
    ("steps:\n  stage: {keys: [other.pub]}\n  release: {keys: [release.pub]}\n"
     "  stage: {keys: [stage.pub]}\n", "duplicate key"),
    ("steps:\n  stage: {keys: [stage.pub], keys: [other.pub]}\n"
     "  release: {keys: [release.pub]}\n", "duplicate key"),
])
def test_policy_without_a_clear_signer_is_refused(attest, rel, policy, needle) -> None:
    rel.policy.write_text(policy)
    r = attest(*rel.chain())
    assert r.code == 2 and needle in r.err, r.err
    clean(r)


def test_policy_anchors_shared_by_steps(attest, rel) -> None:
    # anchors and aliases are refused outright (issue 16: expansion is unbounded)
    rel.policy.write_text("steps:\n  stage: &s {keys: [stage.pub]}\n  release: *s\n")
    r = attest(*rel.chain())
    assert r.code == 2, r.err
    assert "YAML anchors and aliases (&name, *name) are not accepted (line 2)" in r.err
    clean(r)


def test_policy_billion_laughs(attest, rel) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    rel.policy.write_text("\n".join(lines) + "\nsteps:\n  stage: {keys: [stage.pub]}\n")
    r = attest(*rel.chain())
    assert r.code == 2, r.err
    assert "anchors and aliases (&name, *name) are not accepted (line 1)" in r.err
    clean(r)


def test_threshold_same_key_in_two_files(attest, rel) -> None:
    (rel.tmp / "stage-copy.pub").write_bytes((rel.tmp / "stage.pub").read_bytes())
    r = attest("verify", rel.stage, "--key", rel.tmp / "stage.pub", "--key",
               rel.tmp / "stage-copy.pub", "--threshold", "2", "--artifact", rel.artifact)
    assert r.code != 0, r.out + r.err
    clean(r)


def test_threshold_same_signature_twice(attest, rel) -> None:
    sign(rel.stage, provenance(STAGE_TYPE, {"stage/v1.31.0/bin/kubectl": SHA}),
         rel.keys["stage"], rel.keys["stage"])
    r = attest("verify", rel.stage, "--key", rel.tmp / "stage.pub", "--key",
               rel.tmp / "release.pub", "--threshold", "2", "--artifact", rel.artifact)
    assert r.code == 1, r.out + r.err
    clean(r)


def test_audit_images_nobody_attested(attest, rel, tmp_path) -> None:
    d = tmp_path / "v1"
    d.mkdir()
    for f in (rel.stage, rel.release):
        (d / f.name).write_bytes(f.read_bytes())
    (d / "kubectl").write_bytes(ARTIFACT)
    (d / "images.txt").write_text(f"registry.k8s.io/evil@sha256:{EVIL_SHA}\n")
    r = attest("audit", d, "--policy", rel.policy, "--format", "json")
    assert r.code == 1, r.out + r.err
    clean(r)


def test_duplicate_step_names_the_line(attest, rel) -> None:
    rel.policy.write_text("steps:\n  stage: {keys: [other.pub]}\n  release: {keys: [release.pub]}\n"
                          "  stage: {keys: [stage.pub]}\n")
    r = attest(*rel.chain())
    assert r.code == 2 and "duplicate key 'stage' at line 4" in r.err, r.err
    assert r.err.count("\n") == 1


def test_stage_only_file_message_and_no_policy_mode(attest, rel) -> None:
    evil = rel.tmp / "evil"
    evil.write_bytes(EVIL)
    st = sign(rel.tmp / "stage-evil.intoto.json",
              provenance(STAGE_TYPE, {"stage/v1.31.0/bin/evil": EVIL_SHA}), rel.keys["stage"])
    r = attest("verify", "--chain", st, "--chain", rel.release, "--policy", rel.policy,
               "--artifact", evil)
    assert "no release attestation covers sha256:" + EVIL_SHA in r.err, r.err
    # a policy naming only the stage signer asks for nothing more
    rel.policy.write_text("steps:\n  stage: {keys: [stage.pub]}\n")
    r = attest("verify", "--chain", st, "--policy", rel.policy, "--artifact", evil)
    assert r.code == 0, r.err


def test_audit_stage_only_file_fails(attest, rel, tmp_path) -> None:
    d = tmp_path / "v1"
    d.mkdir()
    for f in (rel.stage, rel.release):
        (d / f.name).write_bytes(f.read_bytes())
    (d / "kubectl").write_bytes(ARTIFACT)
    (d / "evil").write_bytes(EVIL)
    sign(d / "stage-evil.intoto.json",
         provenance(STAGE_TYPE, {"stage/v1.31.0/bin/evil": EVIL_SHA}), rel.keys["stage"])
    r = attest("audit", d, "--policy", rel.policy, "--format", "json")
    assert r.code == 1, r.out + r.err
    verdicts = {row["artifact"]: row["verdict"] for row in r.json()["artifacts"]}
    assert verdicts == {"kubectl": "PASS", "evil": "FAIL"}


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from servers import oci_registry

    with oci_registry(tmp_path_factory.mktemp("reg")) as reg:
        yield reg


def test_referrer_attached_to_another_image_does_not_vouch(attest, rel, registry) -> None:
    """Anyone who can push to the staging registry attaches image A's (genuinely signed)
    attestation to image B: the referrer points at B, its statement names A."""
    from test_release_chain import push

    a = push(registry, "rt/app", "a", b'{"a":1}', b"layer a")
    b = push(registry, "rt/app", "b", b'{"b":1}', b"layer b")
    stmt = provenance(STAGE_TYPE, {f"{registry}/rt/app": a.removeprefix("sha256:")})
    att = sign(rel.tmp / "a.intoto.json", stmt, rel.keys["stage"])
    r = attest("attach", f"oci://{registry}/rt/app:b", att)  # attest's attach refuses it
    assert r.code == 2 and "attaching it there would mislead" in r.err, r.err
    from attester.stores.oci_referrers import Target, attach  # so push it as an attacker would

    attach(Target.resolve(f"oci://{registry}/rt/app:b", insecure=True), att.read_bytes(),
           predicate_type=stmt["predicateType"], is_bundle=False)
    r = attest("verify", f"oci://{registry}/rt/app:b", "--key", rel.tmp / "stage.pub")
    assert r.code == 1 and (f"digest mismatch: subject '{registry}/rt/app' has {a}, the file "
                            f"has {b}") in r.err, r.err
    clean(r)
    r = attest("verify", f"oci://{registry}/rt/app@{a}", "--key", rel.tmp / "stage.pub")
    assert r.code == 1 and "no attestation is attached" in r.err, r.err
    # and in the chain, B is followed by its own digest: no stage link covers it
    r = attest("verify", "--chain", att, "--key", rel.tmp / "stage.pub", "--artifact",
               f"oci://{registry}/rt/app:b", "--insecure-registry")
    assert r.code == 1 and "chain digest: " in r.err and a[7:19] in r.err, r.err
    clean(r)


def test_two_stage_attestations_disagreeing_on_the_source(attest, rel) -> None:
    stmt = provenance(STAGE_TYPE, {"stage/v1.31.0/bin/kubectl": SHA})
    stmt["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"] = {
        "gitCommit": "b" * 40}
    other = sign(rel.tmp / "stage2.intoto.json", stmt, rel.keys["stage"])
    r = attest(*rel.chain("--chain", other))
    assert r.code == 1 and "chain consistency" in r.err, r.err
    assert f"but {other} says git+https://github.com/kubernetes/kubernetes@{'b' * 40}" in r.err
    clean(r)


def test_one_attestation_naming_a_subject_twice(attest, rel) -> None:
    stmt = provenance(STAGE_TYPE, {"stage/v1.31.0/bin/kubectl": SHA})
    stmt["subject"].append({"name": "stage/v1.31.0/bin/kubectl", "digest": {"sha256": EVIL_SHA}})
    sign(rel.stage, stmt, rel.keys["stage"])
    r = attest(*rel.chain())  # ambiguous: refused, and the row says which file and why
    assert r.code == 1, r.err
    assert (f"chain stage: {rel.artifact.name} (sha256:{SHA[:12]}): {rel.stage} names it as "
            "stage/v1.31.0/bin/kubectl but fails the stage step: ") in r.err, r.err
    assert (f"subject 'stage/v1.31.0/bin/kubectl' is named twice with different digests "
            f"(sha256:{SHA}, sha256:{EVIL_SHA}): ambiguous") in r.err, r.err
    clean(r)


# -- issue 16 item 2: a subject is its name and its digest on every path ------------------

DEBUG = b"debugshell\n"
DEBUG_SHA = hashlib.sha256(DEBUG).hexdigest()


def _with_debugshell(rel: Release) -> None:
    """The release also ships debugshell, staged and published under its own name."""
    sign(rel.stage, provenance(STAGE_TYPE, {"stage/v1.31.0/bin/kubectl": SHA,
                                            "stage/v1.31.0/bin/debugshell": DEBUG_SHA}),
         rel.keys["stage"])
    sign(rel.release, provenance(RELEASE_TYPE, {"bin/kubectl": SHA, "bin/debugshell": DEBUG_SHA}, [
        {"uri": "gs://staging/stage/v1.31.0/bin/kubectl", "digest": {"sha256": SHA}},
        {"uri": "gs://staging/stage/v1.31.0/bin/debugshell", "digest": {"sha256": DEBUG_SHA}}]),
        rel.keys["release"])


def test_kubectl_holding_debugshell_bytes_fails_chain_and_audit(attest, rel, tmp_path) -> None:
    _with_debugshell(rel)
    assert attest(*rel.chain()).code == 0
    rel.artifact.write_bytes(DEBUG)  # a file named kubectl, the release's debugshell bytes
    message = (f"chain digest: kubectl: sha256:{DEBUG_SHA[:12]}… but the release attestation "
               f"{rel.release} says sha256:{SHA[:12]}… for bin/kubectl")
    r = attest(*rel.chain())
    assert r.code == 1 and message in r.err, r.err
    clean(r)
    r = attest("verify", rel.release, "--key", rel.tmp / "release.pub", "--artifact",
               rel.artifact)  # plain verify: the same rule, its own words
    assert r.code == 1 and (f"digest mismatch: subject 'bin/kubectl' has sha256:{SHA}, the "
                            f"file has sha256:{DEBUG_SHA}") in r.err, r.err
    d = tmp_path / "v1"
    d.mkdir()
    for f in (rel.stage, rel.release):
        (d / f.name).write_bytes(f.read_bytes())
    (d / "kubectl").write_bytes(DEBUG)
    (d / "debugshell").write_bytes(DEBUG)
    r = attest("audit", d, "--policy", rel.policy, "--format", "json")
    assert r.code == 1, r.out + r.err
    rows = {row["artifact"]: row for row in r.json()["artifacts"]}
    assert rows["debugshell"]["verdict"] == "PASS"
    assert rows["kubectl"]["verdict"] == "FAIL"
    assert rows["kubectl"]["firstFailure"] == message.replace(str(rel.release),
                                                              "release.intoto.json")


# -- issue 18 item 8: a present but failing attestation is named, not called a gap ---------

def test_stage_signed_by_another_key_is_named_in_every_row(attest, rel, tmp_path) -> None:
    sign(rel.stage, provenance(STAGE_TYPE, {"stage/v1.31.0/bin/kubectl": SHA}), rel.keys["other"])
    why = ("fails the stage step: not signed by any signer the policy trusts (the stage signer "
           "is stage.pub; no valid signature by a trusted key")
    r = attest(*rel.chain())
    assert r.code == 1, r.err
    assert (f"chain stage: kubectl (sha256:{SHA[:12]}): {rel.stage} names it as "
            f"stage/v1.31.0/bin/kubectl but {why}") in r.err, r.err
    assert "gap after" not in r.err
    d = tmp_path / "v1"
    d.mkdir()
    for f in (rel.stage, rel.release):
        (d / f.name).write_bytes(f.read_bytes())
    (d / "kubectl").write_bytes(ARTIFACT)
    r = attest("audit", d, "--policy", rel.policy)
    assert r.code == 1, r.out + r.err
    assert (f"chain stage: kubectl (sha256:{SHA[:12]}): stage.intoto.json names it as "
            f"stage/v1.31.0/bin/kubectl but {why}") in r.out, r.out
    assert "gap after" not in r.out


def test_stage_failing_its_source_ref_pattern_is_named(attest, rel) -> None:
    rel.policy.write_text("steps:\n  stage: {keys: [stage.pub], source-ref-pattern: "
                          "'^refs/tags/v2\\.'}\n  release: {keys: [release.pub]}\n")
    r = attest(*rel.chain())
    assert r.code == 1, r.err
    assert (f"chain stage: kubectl (sha256:{SHA[:12]}): {rel.stage} names it as "
            "stage/v1.31.0/bin/kubectl but fails the stage step: stage attestation fails its "
            "step's policy: source-ref") in r.err, r.err
    assert "gap after" not in r.err


def test_release_signed_by_another_key_is_named(attest, rel) -> None:
    sign(rel.release, provenance(RELEASE_TYPE, {"bin/kubectl": SHA}, [
        {"uri": "gs://staging/stage/v1.31.0/bin/kubectl", "digest": {"sha256": SHA}}]),
        rel.keys["other"])
    r = attest(*rel.chain())
    assert r.code == 1, r.err
    assert (f"chain release: kubectl (sha256:{SHA[:12]}): {rel.release} names it as "
            "bin/kubectl but fails the release step: not signed by any signer the policy "
            "trusts (the release signer is release.pub; ") in r.err, r.err


@pytest.mark.parametrize("step", [
    "{keys: [stage.pub], source-ref-pattern: '('}",
    "{certificate-identity-regexp: '(', certificate-oidc-issuer: https://x}",
    "{certificate-identity: a, certificate-oidc-issuer-regexp: '('}",
])
def test_policy_with_a_broken_regex_is_exit_2(attest, rel, step) -> None:
    key = step.split(": '('")[0].rsplit(" ", 1)[-1].lstrip("{")
    rel.policy.write_text(f"steps:\n  stage: {step}\n  release: {{keys: [release.pub]}}\n")
    r = attest(*rel.chain())
    assert r.code == 2 and f"step stage: {key} '(' is not a regular expression" in r.err, r.err
    assert r.err.count("\n") == 1
    clean(r)


def test_promote_requires_provenance_not_any_stage_signed_statement(attest, rel, registry,
                                                                    monkeypatch) -> None:
    """A VSA signed by the stage key, attached to a staging image, is no provenance."""
    from test_concurrency import image, manifest

    monkeypatch.chdir(rel.tmp)
    d = image(registry, ["vsa/staging/img00", "vsa/prod/img00"], 7)
    stmt = {"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": f"{registry}/vsa/staging/img00",
                         "digest": {"sha256": d.removeprefix("sha256:")}}],
            "predicateType": "https://slsa.dev/verification_summary/v1",
            "predicate": {"verifier": {"id": "https://x"}, "timeVerified": "2026-01-01T00:00:00Z",
                          "resourceUri": "x", "policy": {"uri": "x"},
                          "verificationResult": "PASSED", "verifiedLevels": ["SLSA_BUILD_LEVEL_3"],
                          "slsaVersion": "1.0"}}
    att = sign(rel.tmp / "vsa.intoto.json", stmt, rel.keys["stage"])
    ref = f"oci://{registry}/vsa/staging/img00@{d}"
    assert attest("attach", ref, att).code == 0
    assert attest("verify", ref, "--key", "stage.pub").code == 0  # it is a valid VSA
    m = manifest(rel.tmp / "m.yaml", registry, "vsa", [d])
    r = attest("promote", "--manifest", m, "--require-provenance", "require", "--key",
               "stage.pub", "--insecure-registry")
    assert r.code == 1 and "staging provenance does not verify" in r.err, r.err
    clean(r)
    r = attest("promote", "--manifest", m, "--require-provenance", "require", "--policy",
               rel.policy, "--insecure-registry")
    assert r.code == 1 and "staging provenance does not verify" in r.err, r.err
    # provenance attached next to it passes
    prov = sign(rel.tmp / "p.intoto.json", provenance(STAGE_TYPE, {
        f"{registry}/vsa/staging/img00": d.removeprefix("sha256:")}), rel.keys["stage"])
    assert attest("attach", ref, prov).code == 0
    r = attest("promote", "--manifest", m, "--require-provenance", "require", "--policy",
               rel.policy, "--insecure-registry")
    assert r.code == 0, r.err


# -- issue 16 item 3: file promotion obeys --require-provenance as images do ---------------

def _file_promotion(rel: Release, tmp_path: Path, names: tuple[str, ...]) -> tuple[Path, Path]:
    src, dst = tmp_path / "src", tmp_path / "dst"
    for d in (src, dst):
        d.mkdir(exist_ok=True)
        (d / "kubectl").write_bytes(ARTIFACT)
        (d / "evil").write_bytes(EVIL)
    (rel.tmp / "fp.yaml").write_text(f"filestores:\n- base: file://{src}\n  src: true\n"
                                     f"- base: file://{dst}\n")
    sums = {"kubectl": SHA, "evil": EVIL_SHA}
    (rel.tmp / "files.yaml").write_text("files:\n" + "".join(
        f"- name: {n}\n  sha256: {sums[n]}\n" for n in names))
    return src, dst


@pytest.mark.parametrize("signer", [["--key", "stage.pub"], ["--policy", "policy.yaml"]])
def test_file_promotion_requires_staging_provenance(attest, rel, tmp_path, monkeypatch,
                                                    signer) -> None:
    monkeypatch.chdir(rel.tmp)
    src, _ = _file_promotion(rel, tmp_path, ("kubectl", "evil"))
    base = ["promote", "--manifest", "fp.yaml", "--files", "files.yaml"]
    r = attest(*base, "--require-provenance", "require", *signer)
    assert r.code == 2 and ("--require-provenance with a file manifest needs the staging "
                            "attestations of the files") in r.err, r.err
    r = attest(*base, "--require-provenance", "require", *signer, "--provenance", rel.stage)
    assert r.code == 1 and r.out == "", r.out
    assert (f"file://{src}/evil: staging provenance does not verify: no staging attestation "
            f"covers it (sha256:{EVIL_SHA})") in r.err, r.err
    clean(r)
    r = attest(*base, "--require-provenance", "warn", *signer, "--provenance", rel.stage)
    assert r.code == 0 and f"attest: warning: file://{src}/evil: staging provenance" in r.err
    # only what the staging provenance covers: promoted and attested
    _file_promotion(rel, tmp_path, ("kubectl",))
    r = attest(*base, "--require-provenance", "require", *signer, "--provenance", rel.stage)
    assert r.code == 0, r.err
    # a staged file tampered after staging: its name decides, and its digest differs
    (src / "kubectl").write_bytes(EVIL)
    (rel.tmp / "files.yaml").write_text(f"files:\n- name: kubectl\n  sha256: {EVIL_SHA}\n")
    r = attest(*base, "--require-provenance", "require", *signer, "--provenance", rel.stage)
    assert r.code == 1 and (f"file://{src}/kubectl: staging provenance does not verify: "
                            "digest mismatch: subject 'stage/v1.31.0/bin/kubectl' has sha256:"
                            f"{SHA}, the file has sha256:{EVIL_SHA}") in r.err, r.err


def test_file_promotion_staging_provenance_by_another_signer(attest, rel, tmp_path,
                                                             monkeypatch) -> None:
    monkeypatch.chdir(rel.tmp)
    src, _ = _file_promotion(rel, tmp_path, ("kubectl",))
    rogue = sign(rel.tmp / "rogue.intoto.json",
                 provenance(STAGE_TYPE, {"stage/v1.31.0/bin/kubectl": SHA}), rel.keys["other"])
    r = attest("promote", "--manifest", "fp.yaml", "--files", "files.yaml",
               "--require-provenance", "require", "--key", "stage.pub", "--provenance", rogue)
    assert r.code == 1, r.err
    assert (f"file://{src}/kubectl: staging provenance does not verify: no staging attestation "
            f"covers it (sha256:{SHA}); {rogue} does not verify (signature: ") in r.err, r.err
    # and images refuse --provenance rather than ignore it
    r = attest("promote", "--image", f"r.example/s/app@sha256:{SHA}=r.example/p/app:v1",
               "--require-provenance", "require", "--key", "stage.pub", "--provenance", rogue)
    assert r.code == 2 and "--provenance names staging attestations of files" in r.err, r.err


# -- issue 16 item 7: the promotion statement digests the manifest bytes it parsed ---------

def test_promotion_records_the_digest_of_a_manifest_read_from_stdin(rel, tmp_path) -> None:
    import json
    import subprocess
    import sys

    _file_promotion(rel, tmp_path, ("kubectl",))
    manifest = (rel.tmp / "fp.yaml").read_bytes()
    r = subprocess.run([sys.executable, "-m", "attester", "promote", "--manifest", "-",
                        "--files", rel.tmp / "files.yaml"], input=manifest,
                       capture_output=True, check=False)
    assert r.returncode == 0, r.stderr
    recorded = json.loads(r.stdout)["predicate"]["buildDefinition"]["externalParameters"]
    assert recorded["manifest"] == {"path": "-", "sha256": hashlib.sha256(manifest).hexdigest()}
    assert recorded["manifest"]["sha256"] != hashlib.sha256(b"").hexdigest()


# -- issue 16 item 7: --vsa-out names the digest of the bytes it verified -----------------

def _vsa_inputs(path: Path) -> list[dict[str, Any]]:
    import base64
    import json

    env = json.loads(path.read_text())
    return json.loads(base64.b64decode(env["payload"]))["predicate"]["inputAttestations"]


def test_vsa_of_an_attestation_read_from_stdin(rel) -> None:
    import subprocess
    import sys

    data = rel.stage.read_bytes()
    r = subprocess.run([sys.executable, "-m", "attester", "verify", "-", "--key",
                        rel.tmp / "stage.pub", "--artifact", rel.artifact, "--vsa-out",
                        rel.tmp / "vsa.json", "--vsa-key", rel.tmp / "release.pub"],
                       input=data, capture_output=True, check=False)
    # a key that cannot sign is refused before anything is verified or printed
    assert r.returncode == 2 and r.stdout == b"", r.stdout
    assert b"release.pub: is a public key; signing needs the private key" in r.stderr
    key = keys.generate("ed25519")
    (rel.tmp / "vsa.key").write_bytes(keys.private_pem(key, None))
    r = subprocess.run([sys.executable, "-m", "attester", "verify", "-", "--key",
                        rel.tmp / "stage.pub", "--artifact", rel.artifact, "--vsa-out",
                        rel.tmp / "vsa.json", "--vsa-key", rel.tmp / "vsa.key"],
                       input=data, capture_output=True, check=False)
    assert r.returncode == 0, r.stderr
    assert _vsa_inputs(rel.tmp / "vsa.json") == [
        {"uri": "-", "digest": {"sha256": hashlib.sha256(data).hexdigest()}}]


def test_vsa_of_an_image_is_written(attest, rel, registry, monkeypatch) -> None:
    """verify oci://... --vsa-out printed 'verified', then exited 2 and wrote nothing."""
    from test_release_chain import push

    digest = push(registry, "vsa/app", "v1", b'{"v":1}', b"vsa layer")
    att = sign(rel.tmp / "img.intoto.json",
               provenance(STAGE_TYPE, {f"{registry}/vsa/app": digest.removeprefix("sha256:")}),
               rel.keys["stage"])
    assert attest("attach", f"oci://{registry}/vsa/app:v1", att, "--insecure-registry").code == 0
    key = keys.generate("ed25519")
    (rel.tmp / "vsa.key").write_bytes(keys.private_pem(key, None))
    out = rel.tmp / "image.vsa.json"
    r = attest("verify", f"oci://{registry}/vsa/app:v1", "--key", rel.tmp / "stage.pub",
               "--insecure-registry", "--vsa-out", out, "--vsa-key", rel.tmp / "vsa.key")
    assert r.code == 0, r.err
    assert f"wrote a signed verification summary to {out}" in r.err + r.out
    (inp,) = _vsa_inputs(out)
    assert inp["digest"] == {"sha256": hashlib.sha256(att.read_bytes()).hexdigest()}
    assert inp["uri"].startswith(f"oci://{registry}/vsa/app:v1")


def test_one_platform_s_bytes_under_another_platform_s_path(attest, rel, tmp_path) -> None:
    """Issue 16 item 2: --chain matches the path as typed (its tail), as plain verify
    does: linux/amd64/kubectl holding the arm64 build is not the arm64 subject."""
    arm = b"kubectl arm64\n"
    arm_sha = hashlib.sha256(arm).hexdigest()
    subjects = {"stage/v1.31.0/bin/linux/amd64/kubectl": SHA,
                "stage/v1.31.0/bin/linux/arm64/kubectl": arm_sha}
    sign(rel.stage, provenance(STAGE_TYPE, subjects), rel.keys["stage"])
    sign(rel.release, provenance(RELEASE_TYPE, {
        "bin/linux/amd64/kubectl": SHA, "bin/linux/arm64/kubectl": arm_sha}, [
        {"uri": f"gs://staging/{n}", "digest": {"sha256": d}} for n, d in subjects.items()]),
        rel.keys["release"])
    amd64 = tmp_path / "dl" / "linux" / "amd64" / "kubectl"
    amd64.parent.mkdir(parents=True)
    amd64.write_bytes(ARTIFACT)
    base = ["verify", "--chain", rel.stage, "--chain", rel.release, "--policy", rel.policy]
    r = attest(*base, "--artifact", amd64)
    assert r.code == 0, r.err
    assert f"kubectl (sha256:{SHA[:12]}): published from staged gs://staging/stage/v1.31.0/" \
           "bin/linux/amd64/kubectl" in r.out
    amd64.write_bytes(arm)
    r = attest(*base, "--artifact", amd64)
    assert r.code == 1, r.out
    assert (f"chain digest: kubectl: sha256:{arm_sha[:12]}… but the release attestation "
            f"{rel.release} says sha256:{SHA[:12]}… for bin/linux/amd64/kubectl") in r.err, r.err
