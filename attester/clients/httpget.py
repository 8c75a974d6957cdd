"""Streaming HTTP GETs with retries and one-line errors, for downloads from APIs."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

import requests
import urllib3
from requests.utils import parse_header_links

from attester.clients.retry import RetryPolicy, send
from attester.errors import ServiceError, StoreError


def get_stream(session: requests.Session, url: str, *, what: str,
               headers: Mapping[str, str] | None = None,
               retry: RetryPolicy | None = None) -> requests.Response:
    """GET ``url`` for streaming; retries 429/5xx and connection errors, then fails clearly.

    ``requests`` drops the Authorization header when a redirect leaves the host, so a
    token never follows a download to blob storage.
    """
    resp, attempts = send(
        lambda: session.get(url, headers=dict(headers or {}), stream=True, timeout=60),
        retry or RetryPolicy(), transient=(requests.RequestException,),
        unreachable=lambda e: ServiceError(f"{what}: cannot download: {type(e).__name__}"))
    if resp.status_code < 400:
        return resp
    resp.close()
    if resp.status_code == 404:
        raise StoreError(f"{what}: not found (404)")
    if resp.status_code in (401, 403):
        raise ServiceError(f"{what}: access denied ({resp.status_code})",
                           hint="set GITHUB_TOKEN or GH_TOKEN with read access")
    raise ServiceError(f"{what}: download failed with {resp.status_code} {resp.reason}"
                       + (f" after {attempts} attempts" if attempts > 1 else ""))


#: Cap on a body whose size nobody listed (an error page, a token answer).
MAX_UNLISTED_BYTES = 1 << 20
#: Seconds one capped answer may take to arrive. The socket timeout (60 s) bounds each
#: wait for a byte; this bounds a server that trickles a byte every 59 s.
MAX_ANSWER_SECONDS = 300.0


class Streamed(Protocol):
    """A streamed answer: ``requests.Response`` or the registry client's urllib3 view."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def raw(self) -> Any: ...


def read_capped(resp: Streamed, limit: int, *, what: str) -> bytes:
    """A response body of at most ``limit`` bytes, streamed (``stream=True``): never more
    than ``limit + 1`` bytes are read or held, whatever Content-Length says or omits, and
    never for longer than :data:`MAX_ANSWER_SECONDS`."""
    length = resp.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        raise ServiceError(f"{what}: {length} bytes, over the {_size(limit)} limit; "
                           "refusing it")
    try:
        if getattr(resp, "_content_consumed", False):  # not streamed: requests read it
            data = resp.content[:limit + 1]  # type: ignore[attr-defined]
        else:  # in pieces as they arrive: urllib3's read(n) holds copies and waits for all n
            buf = bytearray()
            deadline = time.monotonic() + MAX_ANSWER_SECONDS
            while len(buf) <= limit:
                piece = resp.raw.read1(min(1 << 20, limit + 1 - len(buf)), decode_content=True)
                if not piece:
                    break
                buf += piece
                if time.monotonic() > deadline:
                    raise ServiceError(f"{what}: still arriving after {MAX_ANSWER_SECONDS:.0f} "
                                       "s; refusing a server that trickles its answer")
            if len(buf) > limit:
                raise ServiceError(f"{what}: more than {_size(limit)}; refusing it")
            data = bytes(buf)
    except ServiceError:
        raise
    except Exception as e:  # noqa: BLE001 - urllib3 raises several kinds mid-body
        raise ServiceError(f"{what}: the answer broke off: {type(e).__name__}") from None
    if data is None:
        data = b""
    if len(data) > limit:
        raise ServiceError(f"{what}: more than {_size(limit)}; refusing it")
    return bytes(data)


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and not n % (1 << 20) else f"{n} bytes"


class CappedStream:
    """A body stream cut at the size a listing gave: more bytes than listed is an error
    after ``size + 1`` bytes, never a whole oversize body read (an asset listed as 11
    bytes and served as 100 MiB), and fewer is an error at the end."""

    def __init__(self, raw: Any, size: int, *, what: str) -> None:
        self.raw, self.size, self.what = raw, size, what
        self.pos = 0

    def readinto(self, view: memoryview) -> int:
        want = min(len(view), self.size + 1 - self.pos)
        if want <= 0:
            return 0
        n = self.raw.readinto(view[:want]) or 0
        self.pos += n
        if self.pos > self.size:
            raise StoreError(f"{self.what}: longer than the {self.size} bytes listed; the "
                             "server sent something else, refusing it")
        if n == 0 and self.pos < self.size:
            raise StoreError(f"{self.what}: {self.pos} bytes, shorter than the {self.size} "
                             "listed; the download broke off or the artifact changed")
        return n

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> CappedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: What a call through urllib3 raises when the connection, not the server, failed: retried
#: by :func:`attester.clients.retry.send` (registries, the GCS JSON API, small downloads).
URLLIB3_TRANSIENT = (urllib3.exceptions.HTTPError, OSError)


class StreamedAnswer:
    """A streamed ``urllib3`` answer under ``requests``' names (``status_code``, ``reason``,
    ``headers``, ``links``, ``raw`` for :func:`read_capped`): the clients that make
    thousands of calls (registries, GCS listings) use urllib3 directly, and their callers
    read answers the same way as ``requests``' ones."""

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self.raw = raw
        self.status_code = raw.status
        self.reason = raw.reason or ""
        self.headers = raw.headers

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """``Link`` header entries by ``rel``, as ``requests.Response.links`` gives them."""
        header = self.headers.get("Link", "")
        out: dict[str, dict[str, str]] = {}
        for link in parse_header_links(header) if header else []:
            out[link.get("rel") or link.get("url", "")] = link
        return out

    def close(self) -> None:
        """Give the connection back; one with body left unread is closed, not reused
        (as ``requests.Response.close`` does)."""
        self.raw.close()
        self.raw.release_conn()

    def __enter__(self) -> StreamedAnswer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
