"""Shared fixtures: the interop data in testdata/interop, the CLI run in-process, git repos."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from attester.cli import main
from attester.model import schemas

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT / "testdata"
# Third-party vectors, copied from testdata/interop so a clone stands alone
# (tests/test_interop_copies.py keeps the copies equal to the originals when those exist).
INTEROP = TESTDATA / "interop"
# Where new cases land first; absent on a lone clone.
SHARED_INTEROP = Path(os.environ.get("ATTEST_SHARED", ROOT.parent / "shared")) / "interop"


def interop_path(*parts: str) -> Path:
    """A path in testdata/interop; a missing one is a failure (the copies ship with the repo)."""
    path = INTEROP.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"interop data missing: {path}")
    return path


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def attest(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``attest ARGS`` in-process, returning exit code, stdout and stderr."""

    def run(*args: str | Path) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z"}
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git checkout with a GitHub-like remote and a dist/ of built artifacts."""
    r = tmp_path / "project"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "remote", "add", "origin", "https://github.com/example/project.git")
    (r / "main.go").write_text("package main\n")
    git(r, "add", "main.go")
    git(r, "commit", "-q", "-m", "init")
    dist = r / "dist"
    (dist / "bin").mkdir(parents=True)
    (dist / "bin" / "kubectl").write_bytes(b"kubectl\n")
    (dist / "kube-apiserver").write_bytes(b"apiserver\n" * 1000)
    return r


def assert_valid_statement(doc: Any) -> None:
    """Our schemas and the in-toto-attestation package's v1 types both accept it."""
    assert schemas.errors(doc, "in-toto-statement-v1.schema.json") == []
    from google.protobuf import json_format
    from in_toto_attestation.v1.statement import Statement
    from in_toto_attestation.v1.statement_pb2 import Statement as StatementPB

    pb = json_format.ParseDict(doc, StatementPB(), ignore_unknown_fields=False)
    Statement.copy_from_pb(pb).validate()
    if doc["predicateType"] == "https://slsa.dev/provenance/v1":
        from in_toto_attestation.predicates.provenance.v1 import provenance_pb2

        json_format.ParseDict(doc["predicate"], provenance_pb2.Provenance())
        assert schemas.errors(doc["predicate"], "slsa-provenance-v1.schema.json") == []
    elif doc["predicateType"] == "https://slsa.dev/provenance/v0.2":
        assert schemas.errors(doc["predicate"], "slsa-provenance-v0.2.schema.json") == []


def golden(name: str, doc: dict) -> None:
    """Compare to the reviewed statement in testdata/golden (ATTEST_REGOLD=1 rewrites it)."""
    path = TESTDATA / "golden" / name
    if os.environ.get("ATTEST_REGOLD") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    assert doc == json.loads(path.read_text())


@pytest.fixture(scope="module")
def emulator():
    """gcp-storage-emulator on 127.0.0.1, one per test module."""
    from servers import gcs_emulator

    with gcs_emulator() as url:
        yield url


@pytest.fixture
def gcs(emulator, monkeypatch):
    """A google-cloud-storage client on the emulator; STORAGE_EMULATOR_HOST set for attest."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test", credentials=AnonymousCredentials())


def on_terminal(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``attest CMD`` with stderr on a pseudo-terminal; (exit code, what it drew)."""
    import pty
    import sys

    master, slave = pty.openpty()
    proc = subprocess.run([sys.executable, "-m", "attester", *cmd], cwd=cwd, stderr=slave,
                          stdout=subprocess.DEVNULL, timeout=60, check=False,
                          env={**os.environ, **(env or {})})
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO once the slave side is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.returncode, out.decode(errors="replace")


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test loudly."""
    attempts: list[object] = []

    def refuse(self, address, *a, **k):
        attempts.append(address)
        raise OSError(f"network blocked by the test: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a))
    return attempts


@pytest.fixture(scope="module")
def standin():
    """The Sigstore stand-in (OIDC, Fulcio, Rekor v1/v2, TSA on 127.0.0.1), one per module."""
    from sigstore_standin import SigstoreStandIn

    with SigstoreStandIn() as s:
        yield s


def sign_keyless(attest, standin, repo: Path, tmp_path: Path, identity: str) -> tuple[Path, Path]:
    """`attest provenance` of repo's dist/ signed keyless as ``identity`` against the
    stand-in: (the bundle, the stand-in's trusted root). The token never shows in output."""
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    token = standin.token(identity)
    r = attest("sign", "p.json", "--keyless", "--identity-token", token,
               "--trust-config", tmp_path / "trust.json", "-o", "p.sigstore.json")
    assert r.code == 0, r.err
    assert token not in r.out + r.err
    return repo / "p.sigstore.json", tmp_path / "root.json"
