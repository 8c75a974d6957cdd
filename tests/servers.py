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
from typing import Any

import pytest


def send(handler: Any, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    """Answer an http.server request with ``body`` (JSON unless a Content-Type is given)."""
    handler.send_response(status)
    for k, v in {"Content-Type": "application/json", **(headers or {})}.items():
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


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


class FaultProxy:
    """A loopback HTTP proxy in front of a real server that first answers from ``script``.

    Each scripted (status, headers) answers one request; then requests pass through.
    With ``keep_host`` the client's Host header is passed on, so a server that builds
    links from it (the GCS emulator's mediaLink) links back through the proxy.
    """

    def __init__(self, upstream: str, *, keep_host: bool = False) -> None:
        import http.server
        import threading

        import requests

        outer = self
        self.upstream = upstream
        self.script: list[tuple[int, dict[str, str]]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if outer.script:
                    code, headers = outer.script.pop(0)
                    send(self, code, b'{"error": {"code": %d, "message": "injected"}}' % code,
                         headers)
                    return
                skip = {"content-length", "connection"} | (set() if keep_host else {"host"})
                fwd = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                r = requests.request(self.command, f"http://{outer.upstream}{self.path}",
                                     headers=fwd, data=body, timeout=30)
                drop = {"content-length", "transfer-encoding", "connection", "content-encoding"}
                send(self, r.status_code, r.content,
                     {k: v for k, v in r.headers.items() if k.lower() not in drop})

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


__all__ = ["FaultProxy", "free_port", "gcs_emulator", "oci_registry", "send", "sys"]
