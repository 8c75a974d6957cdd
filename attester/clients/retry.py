"""Retries for remote services: exponential backoff with full jitter, honoring Retry-After.

:func:`send` is the one retry loop of every HTTP client we drive ourselves (registries,
the GitHub API and downloads, PyPI); the Google client retries in its own library,
configured from the same :class:`RetryPolicy` numbers. Injectable (``sleep``,
``base_delay``) so tests are fast and deterministic.
"""

from __future__ import annotations

import email.utils
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import attrs

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@attrs.frozen
class RetryPolicy:
    attempts: int = 5
    base_delay: float = attrs.field(factory=lambda: _env_float("ATTEST_RETRY_BASE_DELAY", 0.5))
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after:
            hinted = parse_retry_after(retry_after)
            if hinted is not None:
                return min(hinted, self.max_delay)
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(0, cap)  # noqa: S311 - jitter, not cryptography


def parse_retry_after(value: str) -> float | None:
    """Retry-After is delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Answer(Protocol):
    """What :func:`send` needs of a response (``requests``' and ``urllib3``'s are)."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    def close(self) -> None: ...


def status_code(resp: Any) -> int:
    """The status of a ``requests`` response (``urllib3``'s: pass ``status_of=...status``)."""
    return int(resp.status_code)


A = TypeVar("A", bound=Answer)


def send(request: Callable[[], A], policy: RetryPolicy, *,
         transient: tuple[type[Exception], ...],
         unreachable: Callable[[Exception], Exception],
         status_of: Callable[[A], int] = status_code) -> tuple[A, int]:
    """Call ``request`` until it answers with a status that is not retryable (429, 5xx) or
    the attempts run out; back off between tries, as told by Retry-After when sent.

    A ``transient`` exception (connection reset, timeout) is retried too; the last one is
    turned into ``unreachable(e)``. Returns the final answer, whatever its status, and the
    number of attempts it took: the caller decides what a 4xx means (an OCI registry's
    401 asks for a token, then the caller sends again through here).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            resp = request()
        except transient as e:
            if attempt < policy.attempts:
                policy.sleep(policy.delay(attempt))
                continue
            raise unreachable(e) from None
        if status_of(resp) in RETRYABLE_STATUS and attempt < policy.attempts:
            wait = policy.delay(attempt, resp.headers.get("Retry-After"))
            resp.close()  # give the connection back to the pool before waiting
            policy.sleep(wait)
            continue
        return resp, attempt
