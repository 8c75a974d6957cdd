"""The PyGithub client as attester uses it (the ``github`` extra).

Honors ``GITHUB_API_URL`` (GitHub Enterprise, tests) and ``GITHUB_TOKEN``/``GH_TOKEN``;
retries 429/5xx honoring Retry-After; turns PyGithub's exceptions into ours. The token
is never part of any message.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from attester.clients.retry import RETRYABLE_STATUS
from attester.errors import MissingExtraError, ServiceError, StoreError

DEFAULT_API_URL = "https://api.github.com"
T = TypeVar("T")


def api_url() -> str:
    return os.environ.get("GITHUB_API_URL", DEFAULT_API_URL).rstrip("/")


def token() -> str | None:
    return os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or None


def server_url() -> str:
    """github.com for the public API; the host of a GitHub Enterprise API URL otherwise."""
    if os.environ.get("GITHUB_SERVER_URL"):
        return os.environ["GITHUB_SERVER_URL"].rstrip("/")
    url = api_url()
    if url == DEFAULT_API_URL:
        return "https://github.com"
    return url.removesuffix("/api/v3")


def client(base_url: str | None = None) -> Any:
    """PyGithub on ``base_url`` (default: GITHUB_API_URL, else api.github.com)."""
    try:
        import github
        from urllib3.util.retry import Retry
    except ImportError:
        raise MissingExtraError("github", "PyGithub") from None
    base = float(os.environ.get("ATTEST_RETRY_BASE_DELAY", "0.5"))
    retry = Retry(total=5, connect=5, read=3, backoff_factor=base,
                  status_forcelist=sorted(RETRYABLE_STATUS), allowed_methods=["GET"],
                  respect_retry_after_header=True, raise_on_status=False)
    tok = token()
    return github.Github(base_url=base_url or api_url(),
                         auth=github.Auth.Token(tok) if tok else None, retry=retry,
                         per_page=100, seconds_between_requests=None, timeout=60)


def call(fn: Callable[[], T], *, what: str) -> T:
    """Run one PyGithub call, mapping its failures to attester's errors."""
    import github
    import requests

    try:
        return fn()
    except github.BadCredentialsException:
        raise ServiceError(f"{what}: GitHub rejected the token (401)",
                           hint="check GITHUB_TOKEN / GH_TOKEN") from None
    except github.UnknownObjectException:
        raise StoreError(f"{what}: not found on GitHub (404); check the owner, repository "
                         "and id, and that the token can read it") from None
    except github.RateLimitExceededException:
        raise ServiceError(f"{what}: GitHub rate limit exceeded; retry later or set "
                           "GITHUB_TOKEN") from None
    except github.GithubException as e:
        raise ServiceError(f"{what}: GitHub API answered {e.status}"
                           + (" repeatedly; giving up" if e.status in RETRYABLE_STATUS else "")
                           ) from None
    except requests.RequestException as e:
        raise ServiceError(f"{what}: cannot reach {api_url()}: {type(e).__name__}") from None


def paginate(gh: Any, path: str, *, list_item: str | None, what: str) -> Iterator[Any]:
    """Every item of a paginated REST list, following ``Link: rel="next"``.

    Done on PyGithub's requester rather than its PaginatedList: list items there are
    lazy objects whose ``raw_data`` re-fetches each item, one request per job.
    """
    url: str | None = path
    params: dict[str, Any] | None = {"per_page": 100}
    while url:
        headers, data = call(functools.partial(gh.requester.requestJsonAndCheck, "GET", url,
                                               parameters=params), what=what)
        items = data.get(list_item) if list_item and isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ServiceError(f"{what}: unexpected API answer (no {list_item or 'list'})")
        yield from items
        url, params = _next_link(headers.get("link") or headers.get("Link") or ""), None


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        segs = part.split(";")
        if len(segs) >= 2 and any(s.strip() == 'rel="next"' for s in segs[1:]):
            return segs[0].strip().strip("<>")
    return None


def download_headers() -> dict[str, str]:
    headers = {"Accept": "application/octet-stream", "X-GitHub-Api-Version": "2022-11-28"}
    tok = token()
    if tok:
        headers["Authorization"] = f"Bearer {tok}"
    return headers
