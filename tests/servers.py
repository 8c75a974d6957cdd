"""Real servers on 127.0.0.1, started by the test suite itself."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        msg = f"{binary} is not installed (bash .ci/setup --test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@contextlib.contextmanager
def process(cmd: list[str], port: int, what: str, **kw: object) -> Iterator[None]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    try:
        wait_for_port(port, proc, what)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def gcs_emulator() -> Iterator[str]:
    exe = require("gcp-storage-emulator")
    port = free_port()
    with process([exe, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "-q"],
                 port, "gcp-storage-emulator"):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def oci_registry(root: Path) -> Iterator[str]:
    exe = require("docker-registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    with process([exe, "serve", str(config)], port, "docker-registry"):
        yield f"127.0.0.1:{port}"


__all__ = ["free_port", "gcs_emulator", "oci_registry", "sys"]
