"""A local HTTP server replaying recorded API responses, for the real client libraries.

Routes map a path (optionally with its query string) to a response: JSON from a file
in testdata/api (``{BASE}`` in it becomes this server's URL, so pagination links and
download URLs come back here) or raw bytes. Faults can be queued per path (a 429 with
Retry-After, a 502) and a token can be required, as the real APIs do.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from servers import send


def _key(path: str) -> str:
    """Path plus query with parameters sorted: clients order them as they like."""
    parts = urlsplit(path)
    query = urlencode(sorted(parse_qsl(parts.query)))
    return f"{parts.path}?{query}" if query else parts.path


API = Path(__file__).resolve().parent.parent / "testdata" / "api"


class Replay:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.faults: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.token: str | None = None
        self.log: list[str] = []
        #: (path, body) of every POST, in order (routes answer POSTs as they do GETs)
        self.posted: list[tuple[str, bytes]] = []
        #: the Authorization header of every request, in order ("" when none was sent)
        self.authorizations: list[str] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                replay.log.append(self.path)
                replay.handle(self)

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                replay.posted.append((self.path, self.rfile.read(min(size, 64 << 20))))
                replay.log.append(f"POST {self.path}")
                replay.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Replay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- configuration ----------------------------------------------------------------
    def json(self, path: str, doc: Any, status: int = 200,
             headers: dict[str, str] | None = None) -> None:
        body = json.dumps(doc).replace("{BASE}", self.url).encode()
        self.routes[_key(path)] = (status, {"Content-Type": "application/json",
                                            **(headers or {})}, body)

    def file(self, path: str, name: str, status: int = 200,
             headers: dict[str, str] | None = None) -> None:
        """Serve testdata/api/NAME (or an absolute path) at ``path``."""
        src = Path(name) if Path(name).is_absolute() else API / name
        self.json(path, json.loads(src.read_text()), status, headers)

    def raw(self, path: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        self.routes[_key(path)] = (200, {"Content-Type": content_type}, body)

    def fail(self, path: str, *faults: tuple[int, dict[str, str]]) -> None:
        self.faults.setdefault(_key(path), []).extend(faults)

    # -- serving ------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        self.authorizations.append(h.headers.get("Authorization", ""))
        if self.token is not None:
            auth = h.headers.get("Authorization", "")
            if auth not in (f"token {self.token}", f"Bearer {self.token}"):
                return self._send(h, 401, {"Content-Type": "application/json"},
                                  b'{"message": "Bad credentials", "documentation_url": '
                                  b'"https://docs.github.com/rest"}')
        for key in (_key(h.path), parts.path):
            queued = self.faults.get(key)
            if queued:
                code, headers = queued.pop(0)
                return self._send(h, code, {"Content-Type": "application/json", **headers},
                                  b'{"message": "injected fault"}')
        route = self.routes.get(_key(h.path)) or self.routes.get(parts.path)
        if route is None:
            return self._send(h, 404, {"Content-Type": "application/json"},
                              b'{"message": "Not Found", "error": {"code": 404, '
                              b'"message": "not found", "status": "NOT_FOUND"}}')
        status, headers, body = route
        return self._send(h, status, headers, body)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str],
              body: bytes) -> None:
        send(h, status, body, headers)
