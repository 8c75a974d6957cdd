"""A release of a few hundred files (stage, release and file-promotion attestations made
by the real commands on local stores): the audit gives one correct row per file, and
the same verdicts ``verify --chain`` gives file by file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

N = 400


@pytest.fixture
def big_release(attest, repo, monkeypatch, tmp_path) -> Path:
    monkeypatch.chdir(repo)
    monkeypatch.setenv("ATTEST_PASSPHRASE", "")
    for role in ("stage", "release", "promoter"):
        assert attest("keygen", "--type", "ed25519", "--out", role).code == 0
    stage, promoted, rel = tmp_path / "stage", tmp_path / "promoted", tmp_path / "v1.0.0"
    for d in (stage, promoted, rel / "files"):
        d.mkdir(parents=True)
    for i in range(N):
        data = f"artifact {i}\n".encode() * (1 + i % 7)
        (stage / f"bin-{i:04d}").write_bytes(data)
        (rel / "files" / f"bin-{i:04d}").write_bytes(data)
    r = attest("provenance", "local://", "--step", "stage", "--release-version", "v1.0.0",
               "--artifacts", f"file://{stage}", "-o", "stage.json")
    assert r.code == 0, r.err
    r = attest("provenance", "local://", "--step", "release", "--release-version", "v1.0.0",
               "--materials", f"file://{stage}", "--artifacts", f"file://{rel / 'files'}",
               "-o", "release.json")
    assert r.code == 0, r.err
    # three files also promoted (kpromo's file promoter)
    for name in ("bin-0001", "bin-0002", "bin-0003"):
        (promoted / name).write_bytes((stage / name).read_bytes())
    Path("fp.yaml").write_text(f"filestores:\n- base: file://{stage}\n  src: true\n"
                               f"- base: file://{promoted}\n")
    Path("files.yaml").write_text("files:\n" + "".join(
        f"- name: {n}\n  sha256: {hashlib.sha256((stage / n).read_bytes()).hexdigest()}\n"
        for n in ("bin-0001", "bin-0002", "bin-0003")))
    r = attest("promote", "--manifest", "fp.yaml", "--files", "files.yaml")
    assert r.code == 0, r.err
    for i, line in enumerate(r.out.splitlines()):
        Path(f"promo-{i}.json").write_text(line)
        assert attest("sign", f"promo-{i}.json", "--key", "promoter.key", "-o",
                      rel / f"promo-{i}.intoto.json").code == 0
    for step in ("stage", "release"):
        assert attest("sign", f"{step}.json", "--key", f"{step}.key", "-o",
                      rel / f"{step}.intoto.json").code == 0
    Path("policy.yaml").write_text(
        "steps:\n  stage: {keys: [stage.pub], build-type: https://attester.dev/buildtypes/stage/v1}\n"
        "  release: {keys: [release.pub]}\n  promotion: {keys: [promoter.pub]}\n"
        "source-uri: github.com/example/project\n")
    return rel


def test_large_audit_rows(attest, big_release) -> None:
    rel = big_release
    (rel / "files" / "bin-0100").write_bytes(b"tampered")
    (rel / "files" / "unlisted").write_bytes(b"named by no attestation")
    r = attest("audit", rel, "--policy", "policy.yaml", "--format", "json")
    assert r.code == 1, r.err
    doc = r.json()
    assert doc["summary"] == {"artifacts": N + 1, "passed": N - 1, "failed": 2,
                              "attestationProblems": 0}
    rows = {a["artifact"]: a for a in doc["artifacts"]}
    assert sorted(rows) == sorted([f"files/bin-{i:04d}" for i in range(N)] + ["files/unlisted"])
    for i in range(N):
        row = rows[f"files/bin-{i:04d}"]
        if i == 100:
            continue
        want = hashlib.sha256(f"artifact {i}\n".encode() * (1 + i % 7)).hexdigest()
        assert row["sha256"] == want and row["verdict"] == "PASS", row
        # every row follows the release: its subject bin-NNNN is the file's path's tail
        # (files/bin-NNNN), the promotion's names another place (file://.../promoted/...)
        assert row["steps"] == ["release", "stage"]
        assert row["source"].startswith("git+https://github.com/example/project")
    good = hashlib.sha256(b"artifact 100\n" * 3).hexdigest()
    assert rows["files/bin-0100"]["firstFailure"] == (
        "chain digest: files/bin-0100: sha256:"
        f"{hashlib.sha256(b'tampered').hexdigest()[:12]}… but the release attestation "
        f"release.intoto.json says sha256:{good[:12]}… for bin-0100")
    assert "no stage attestation covers" in rows["files/unlisted"]["firstFailure"]


def test_chain_verdicts_match_the_audit(attest, big_release) -> None:
    """``verify --chain`` over the same attestations agrees with the audit, file by file."""
    rel = big_release
    (rel / "files" / "bin-0007").write_bytes(b"tampered")
    chain = [a for p in sorted(rel.glob("*.intoto.json")) for a in ("--chain", p)]
    files = [rel / "files" / f"bin-{i:04d}" for i in (0, 2, 7, 399)]
    r = attest("verify", *chain, "--policy", "policy.yaml",
               *[a for f in files for a in ("--artifact", f)], "--format", "json")
    assert r.code == 1
    checks = r.json()["checks"]
    assert [c["check"] for c in checks if not c["ok"]] == ["chain digest"]
    bad = next(c for c in checks if not c["ok"])["detail"]
    assert bad.startswith("bin-0007: sha256:") and "but the release attestation " in bad
    assert bad.endswith("says sha256:" + hashlib.sha256(b"artifact 7\n" * 1).hexdigest()[:12]
                        + "… for bin-0007")
    assert sum(c["check"] == "chain source" and c["ok"] for c in checks) == 3
    # files/bin-0002 is the release's subject bin-0002 (its path's tail), as in the audit;
    # the promotion names another place (file://.../promoted/bin-0002)
    assert any(c["check"] == "chain release" and c["detail"].startswith("bin-0002 (")
               for c in checks)


def test_step_guess_from_payload_bytes_never_decides(attest, repo, monkeypatch, tmp_path) -> None:
    """The fast path guesses a step from the payload's bytes; the verified statement
    decides. A build type spelled with JSON escapes (no guess) and a release statement
    with a subject named after the stage build type (a wrong guess tried first) both
    still give their own step's link."""
    from attester.release import chain, policyfile
    from attester.verify import checker

    monkeypatch.chdir(repo)
    monkeypatch.setenv("ATTEST_PASSPHRASE", "")
    for role in ("stage", "release"):
        assert attest("keygen", "--type", "ed25519", "--out", role).code == 0
    for step, extra in (("stage", ()), ("release", ("--materials", "file://dist"))):
        r = attest("provenance", "local://", "--step", step, *extra, "--artifacts",
                   "file://dist", "-o", f"{step}.json")
        assert r.code == 0, r.err
    stage_type = "https://attester.dev/buildtypes/stage/v1"
    text = Path("stage.json").read_text()
    escaped = text.replace(f'"{stage_type}"', '"' + stage_type.replace("/", "\\/") + '"')
    assert escaped != text
    Path("escaped.json").write_text(escaped)
    doc = json.loads(Path("release.json").read_text())
    doc["subject"].insert(0, {"name": stage_type, "digest": {"sha256": "ab" * 32}})
    Path("decoy.json").write_text(json.dumps(doc))
    Path("policy.yaml").write_text("steps:\n  stage: {keys: [stage.pub]}\n"
                                   "  release: {keys: [release.pub]}\n")
    pf = policyfile.load("policy.yaml")
    docs = []
    for name, key in (("escaped", "stage"), ("decoy", "release")):
        assert attest("sign", f"{name}.json", "--key", f"{key}.key", "-o",
                      f"{name}.intoto.json").code == 0
        docs.append((name, *checker.read_attestation(f"{name}.intoto.json")))
    assert chain._claims(docs[0][2]) == []
    assert [s for s, _ in chain._claims(docs[1][2])] == ["stage", "release"]
    links, problems = chain.load_links(docs, pf.trusts, pf.policies, pf.predicate_types)
    assert problems == [] and [lk.step for lk in links] == ["stage", "release"]
    assert links[1].subjects[stage_type] == "ab" * 32
