"""The release flow through the installed ``attest`` command, and sign's refusals (the
README's and docs' shell blocks run in tests/test_docs.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

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


def test_sign_never_writes_over_its_signing_key(repo, attest, monkeypatch) -> None:
    """`-o` naming the --key file (a slip of the shell's history) replaced the private key
    with the envelope (red team round 2): refused, the key left as it was."""
    monkeypatch.chdir(repo)
    assert attest("keygen", "--type", "ed25519", "--out", "k").code == 0
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    key = (repo / "k.key").read_bytes()
    r = attest("sign", "p.json", "--key", "k.key", "-o", "./k.key")
    assert r.code == 2, r.err
    assert "--output ./k.key is the signing key --key k.key" in r.err
    assert (repo / "k.key").read_bytes() == key
