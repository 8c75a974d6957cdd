"""A scripted HTTP stand-in for hostile servers (GitHub API, OCI registry, GCS JSON API).

The real servers (docker-registry, gcp-storage-emulator, the replay server) answer what a
well-behaved service answers; a hostile one answers what it likes: endless pages, a
repeated cursor, bodies far longer than listed, documents of the wrong shape or nested
100,000 deep. ``Scripted`` serves whatever its ``answer`` callable returns for each
request, streaming iterator bodies so a 100 MiB answer never sits in the test's memory.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Body = bytes | Iterable[bytes]
Answer = tuple[int, dict[str, str], Body, int | None]  # status, headers, body, length


def json_answer(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, body, len(body)


def endless(total: int, chunk: bytes = b"A" * 65536) -> Iterator[bytes]:
    """``total`` bytes, produced lazily."""
    sent = 0
    while sent < total:
        part = chunk[:total - sent]
        sent += len(part)
        yield part


class Scripted:
    def __init__(self, answer: Callable[[str, str, dict[str, list[str]]], Answer]) -> None:
        self.answer = answer
        self.log: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(min(length, 64 << 20))
                outer.log.append(f"{self.command} {self.path}")
                parts = urlsplit(self.path)
                status, headers, body, size = outer.answer(self.command, parts.path,
                                                           parse_qs(parts.query))
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    chunks = [body] if isinstance(body, bytes) else body
                    if size is None:
                        self.send_header("Transfer-Encoding", "chunked")
                    else:
                        self.send_header("Content-Length", str(size))
                    self.end_headers()
                    for chunk in chunks:
                        if size is None:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        else:
                            self.wfile.write(chunk)
                    if size is None:
                        self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_PUT = do_HEAD = do_PATCH = _handle

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                import sys

                outer.errors.append(repr(sys.exc_info()[1]))  # the client hung up, mostly

        self.errors: list[str] = []
        self.server = Server(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.host}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Scripted:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def gcs_object(url: str, bucket: str, name: str, size: int, data: bytes = b"",
               **extra: Any) -> dict[str, Any]:
    """An objects.list item as GCS writes it (mediaLink pinned to the generation)."""
    import base64
    import hashlib

    return {"kind": "storage#object", "bucket": bucket, "name": name, "size": str(size),
            "generation": "1", "md5Hash": base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode(),
            "mediaLink": f"{url}/download/storage/v1/b/{bucket}/o/{name}?generation=1&alt=media",
            **extra}
