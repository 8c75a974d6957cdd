"""Streaming HTTP GETs with retries and one-line errors, for downloads from APIs."""

from __future__ import annotations

from collections.abc import Mapping

import requests

from attester.errors import ServiceError, StoreError
from attester.retry import RETRYABLE_STATUS, RetryPolicy


def get_stream(session: requests.Session, url: str, *, what: str,
               headers: Mapping[str, str] | None = None,
               retry: RetryPolicy | None = None) -> requests.Response:
    """GET ``url`` for streaming; retries 429/5xx and connection errors, then fails clearly.

    ``requests`` drops the Authorization header when a redirect leaves the host, so a
    token never follows a download to blob storage.
    """
    policy = retry or RetryPolicy()
    for attempt in range(1, policy.attempts + 1):
        try:
            resp = session.get(url, headers=dict(headers or {}), stream=True, timeout=60)
        except requests.RequestException as e:
            if attempt < policy.attempts:
                policy.sleep(policy.delay(attempt))
                continue
            raise ServiceError(f"{what}: cannot download: {type(e).__name__}") from None
        if resp.status_code in RETRYABLE_STATUS and attempt < policy.attempts:
            policy.sleep(policy.delay(attempt, resp.headers.get("Retry-After")))
            resp.close()
            continue
        if resp.status_code == 404:
            raise StoreError(f"{what}: not found (404)")
        if resp.status_code in (401, 403):
            raise ServiceError(f"{what}: access denied ({resp.status_code})",
                               hint="set GITHUB_TOKEN or GH_TOKEN with read access")
        if resp.status_code >= 400:
            raise ServiceError(f"{what}: download failed with {resp.status_code} {resp.reason}"
                               + (f" after {attempt} attempts" if attempt > 1 else ""))
        return resp
    raise AssertionError("unreachable")  # pragma: no cover
