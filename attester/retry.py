"""Retries for remote services: exponential backoff with full jitter, honoring Retry-After.

Injectable (``sleep``, ``base_delay``) so tests are fast and deterministic.
"""

from __future__ import annotations

import email.utils
import os
import random
import time
from collections.abc import Callable

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
