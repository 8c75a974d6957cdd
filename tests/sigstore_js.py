"""Run sigstore-js (installed by ``.ci/setup --test`` into .ci/node_modules) from tests:
the independent verifier and signer the interop tests compare attest with."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / ".ci" / "node_modules"
SCRIPTS = Path(__file__).resolve().parent / "js"


def node() -> list[str]:
    """The node command with sigstore-js on its module path; fails (never skips) when the
    test set-up did not install it."""
    exe = shutil.which("node")
    if exe is None or not (NODE_MODULES / "@sigstore" / "verify").is_dir():
        pytest.fail("sigstore-js is not installed: run `bash .ci/setup --test` (needs node "
                    "and npm)")
    return [exe]


def run(script: str, *args: str | Path, stdin: Any = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    return subprocess.run([*node(), str(SCRIPTS / script), *map(str, args)], env=env,
                          input=None if stdin is None else json.dumps(stdin),
                          capture_output=True, text=True, timeout=120, check=False)


def verify(bundle: Path, root: Path, identity: str, issuer: str | None,
           artifact: Path | None = None, *, no_tlog: bool = False,
           key: Path | None = None) -> dict[str, Any]:
    """sigstore-js's verdict on a bundle: {"ok": bool, "code"?, "message"?}. ``no_tlog``
    verifies for a trust domain without a transparency log (as GitHub's), as gh does;
    ``issuer`` None checks no issuer; ``key`` verifies a managed-key bundle with it."""
    args: list[str | Path] = [bundle, root, identity, issuer or "-"]
    if artifact is not None:
        args += ["--artifact", artifact]
    if no_tlog:
        args += ["--tlog-threshold", "0"]
    if key is not None:
        args += ["--key", key]
    r = run("verify.js", *args)
    assert r.returncode in (0, 1), r.stderr
    verdict: dict[str, Any] = json.loads(r.stdout)
    assert verdict["ok"] == (r.returncode == 0)
    return verdict
