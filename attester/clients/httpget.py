"""Streaming HTTP GETs with retries and one-line errors, for downloads from APIs."""

from __future__ import annotations

from collections.abc import Mapping

import requests

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
