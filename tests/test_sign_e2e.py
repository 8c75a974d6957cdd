"""The README flow through the installed ``attest`` command, and sign's refusals."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from attester.model import schemas

from conftest import ROOT


def run(*args, cwd=None, env=None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("attest")
    cmd = [exe, *map(str, args)] if exe else [sys.executable, "-m", "attester", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=120, check=False)


def test_readme_flow_end_to_end(repo) -> None:
    env = {"ATTEST_PASSPHRASE": "s3cret-pass"}
    assert run("keygen", "--type", "ecdsa-p256", "--out", "release", cwd=repo, env=env).returncode == 0
    r = run("provenance", "local://", "--artifacts", "file://dist", "--output", "prov.json",
            cwd=repo)
    assert r.returncode == 0, r.stderr
    r = run("sign", "prov.json", "--key", "release.key", "--output", "prov.intoto.json",
            cwd=repo, env=env)
    assert r.returncode == 0, r.stderr
    env_doc = json.loads((repo / "prov.intoto.json").read_text())
    assert schemas.errors(env_doc, "dsse-envelope.schema.json") == []
    import base64
    # The payload is the statement file's exact bytes.
    assert base64.b64decode(env_doc["payload"]) == (repo / "prov.json").read_bytes()
    r = run("verify", "prov.intoto.json", "--key", "release.pub", "--artifact", "dist/bin/kubectl",
            "--builder-id", "https://attester.dev/builders/local/v1",
            "--source-uri", "github.com/example/project", "--source-ref", "refs/heads/main",
            cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "ok  artifact dist/bin/kubectl: matches subject 'bin/kubectl'" in r.stdout
    assert "s3cret-pass" not in (repo / "prov.intoto.json").read_text()
    (repo / "dist" / "bin" / "kubectl").write_bytes(b"tampered")
    r = run("verify", "prov.intoto.json", "--key", "release.pub", "--artifact", "dist/bin/kubectl",
            cwd=repo)
    assert r.returncode == 1
    assert r.stderr.startswith("attest: verification FAILED") and "digest mismatch" in r.stderr
    assert "Traceback" not in r.stderr


#: A shell block the README test does not run says why, on the line before it.
_BLOCK = re.compile(r"(?:<!-- not run by the README test: (?P<why>[^\n]*?) -->\n)?"
                    r"```(?:sh|bash)\n(?P<code>.*?)```", re.S)


def readme_shell_blocks() -> list[tuple[str, str | None]]:
    """(code, why it is not run) for every ``sh`` block of the README, in order."""
    text = (ROOT / "README.md").read_text()
    return [(m["code"], m["why"]) for m in _BLOCK.finditer(text)]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_every_readme_shell_block_runs_in_order(tmp_path) -> None:
    """Pasted in order into one shell, in a fresh checkout, every README block passes:
    the release flow, each command's example (verify's on the provenance the blocks
    before it made) and the whole 'Securing a release' walkthrough."""
    import shutil
    import signal

    from conftest import git

    blocks = readme_shell_blocks()
    skipped = [why for _, why in blocks if why is not None]
    assert all(why and why.strip() for why in skipped)
    runnable = [code for code, why in blocks if why is None]
    assert len(runnable) >= 8 and any("gcp-storage-emulator start" in c for c in runnable)
    checkout = tmp_path / "attester"  # a fresh checkout: every tracked file, as it is now
    for name in git(ROOT, "ls-files", "-z").split("\0"):
        if name and (ROOT / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    git(checkout, "init", "-q", "-b", "main")
    git(checkout, "remote", "add", "origin", "https://github.com/example/attester.git")
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "-m", "release")
    (checkout / ".venv").symlink_to(sys.prefix)  # the README's `source .venv/bin/activate`
    # The walkthrough's fixed ports, moved to free ones: other tests run servers too.
    script = "\n".join(runnable)
    for port in ("9023", "5000"):
        script = re.sub(rf"\b{port}\b", str(_free_port()), script)
    (tmp_path / "readme.sh").write_text(
        "set -e -o pipefail\ntrap 'kill $emulator $registry 2>/dev/null || true' EXIT\n" + script)
    env = {k: v for k, v in os.environ.items()
           if k not in ("ATTEST_PASSPHRASE", "STORAGE_EMULATOR_HOST", "VIRTUAL_ENV")}
    env["PATH"] = f"{os.path.dirname(sys.executable)}:{env.get('PATH', '')}"
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.Popen(["bash", str(tmp_path / "readme.sh")], cwd=checkout, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    assert proc.returncode == 0, f"stdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"
    assert "Traceback" not in err
    # start/--snapshot: only what the build added became a subject.
    assert [s["name"] for s in json.loads((checkout / "new.json").read_text())["subject"]] == \
        ["kubectl"]
    # verify --format json on the two-key envelope: every check passed.
    report = json.loads(out[out.index('{\n  "attestation"'):].split("\n}\n", 1)[0] + "\n}")
    assert report["verified"] is True and all(c["ok"] for c in report["checks"])
    checked = {c["check"] for c in report["checks"]}
    assert {"source-uri", "source-ref"} <= checked, checked
    # The walkthrough ran in its own folder, audited the release, and left the checkout alone.
    release = Path(re.search(r"the release's files are in (\S+)", out)[1])
    assert release.parent == tmp_path
    audit = (release / "audit.html").read_text()
    assert "2 artifact(s): 2 passed" in audit or audit.count("PASS") >= 2, audit[:2000]
    assert "/prod/app" in audit and "kubectl" in audit
    assert not (checkout / "stage.intoto.json").exists()


def test_sign_with_two_keys_and_wrong_passphrase(repo, attest, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    monkeypatch.setenv("ATTEST_PASSPHRASE", "first")
    assert attest("keygen", "--out", "a").code == 0
    monkeypatch.delenv("ATTEST_PASSPHRASE")
    assert attest("keygen", "--type", "ed25519", "--out", "b").code == 0
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    r = attest("sign", "p.json", "--key", "a.key")
    assert r.code == 2 and "a.key: is encrypted (set ATTEST_PASSPHRASE)" in r.err
    monkeypatch.setenv("ATTEST_PASSPHRASE", "wrong-one")
    r = attest("sign", "p.json", "--key", "a.key")
    assert r.code == 2 and "cannot decrypt" in r.err and "wrong-one" not in r.err
    monkeypatch.setenv("ATTEST_PASSPHRASE", "first")
    r = attest("sign", "p.json", "--key", "a.key", "--key", "b.key", "-o", "p.intoto.json")
    assert r.code == 0, r.err
    assert len(json.loads((repo / "p.intoto.json").read_text())["signatures"]) == 2
    r = attest("verify", "p.intoto.json", "--key", "a.pub", "--key", "b.pub", "--threshold", "2",
               "--artifact", "dist/kube-apiserver")
    assert r.code == 0, r.err


@pytest.mark.parametrize(("content", "needle"), [
    ('{"payloadType": "application/vnd.in-toto+json", "payload": "", "signatures": []}',
     "is already a DSSE envelope"),
    ('{"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType": "x", '
     '"predicate": {}}', "subject: [] should be non-empty"),
    ('{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a"}], '
     '"predicateType": "x", "predicate": {}}', "'digest' is a required property"),
    ('{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a", "digest": '
     '{"sha256": "' + "a" * 64 + '"}}], "predicateType": "https://slsa.dev/provenance/v1", '
     '"predicate": {"runDetails": {}}}', "predicate: does not match slsa-provenance-v1.schema.json: (root): 'buildDefinition' is a required"),
    ("[1, 2]", "expected a JSON object"),
    ("{", "not valid JSON"),
])
def test_sign_refuses_what_is_not_a_valid_statement(attest, tmp_path, content, needle) -> None:
    from attester.signing import keys
    k = keys.generate("ed25519")
    (tmp_path / "k.key").write_bytes(keys.private_pem(k, None))
    (tmp_path / "s.json").write_text(content)
    r = attest("sign", tmp_path / "s.json", "--key", tmp_path / "k.key", "-o", tmp_path / "out")
    assert r.code == 2, r.err
    assert needle in r.err
    assert not (tmp_path / "out").exists()


def test_sign_without_key_is_usage_error(attest, tmp_path) -> None:
    (tmp_path / "s.json").write_text("{}")
    r = attest("sign", tmp_path / "s.json")
    assert r.code == 2 and "nothing to sign with" in r.err


def test_help_teaches(attest) -> None:
    with pytest.raises(SystemExit) as e:
        attest("verify", "--help")
    assert e.value.code == 0


def test_repo_layout_is_as_designed() -> None:
    for name in ("pyproject.toml", "attester", "schemas", "tests", "testdata", "README.md",
                 ".ci/run"):
        assert (ROOT / name).exists(), name
