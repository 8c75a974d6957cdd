"""The GitHub REST API as attester uses it.

Honors ``GITHUB_API_URL`` (GitHub Enterprise, tests) and ``GITHUB_TOKEN``/``GH_TOKEN``;
retries 429/5xx honoring Retry-After. Every call goes through :func:`request_json`
(:func:`get_json`, and :func:`paginate` on the one pager): the body streamed and cut at
:data:`MAX_API_BYTES`, parsed by jsonio's bounded reader. Written on ``requests`` rather
than PyGithub, which reads every body whole and parses it recursively (a 100,000-deep
answer was a RecursionError) and pages without a cap (issue 16). The token is never part
of any message and never leaves the API host.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from attester.clients import pager
from attester.clients.pager import Limits, Page
from attester.clients.retry import RETRYABLE_STATUS
from attester.errors import ServiceError, StoreError, unreachable_reason

DEFAULT_API_URL = "https://api.github.com"


def api_url() -> str:
    return os.environ.get("GITHUB_API_URL", DEFAULT_API_URL).rstrip("/")


def token() -> str | None:
    return os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or None


def token_for(base: str) -> str | None:
    """The token for the API at ``base``, as gh chooses it: GITHUB_TOKEN/GH_TOKEN belong to
    github.com and its ghe.com tenancies, or to GITHUB_API_URL's host where that is set (a
    job on GitHub Enterprise Server, whose GITHUB_TOKEN is that server's); any other host
    (``--hostname`` naming a GitHub Enterprise Server) gets GH_ENTERPRISE_TOKEN/
    GITHUB_ENTERPRISE_TOKEN or nothing. (redteam: the github.com token went to whatever
    host --hostname named.)"""
    target = urlsplit(base)
    host = (target.hostname or "").lower()
    configured = urlsplit(api_url())
    if (target.scheme, target.netloc) == (configured.scheme, configured.netloc) or \
            (target.scheme == "https" and (host == "api.github.com"
                                           or host.endswith(".ghe.com"))):
        return token()
    return (os.environ.get("GH_ENTERPRISE_TOKEN") or os.environ.get("GITHUB_ENTERPRISE_TOKEN")
            or None)


def server_url() -> str:
    """github.com for the public API; the host of a GitHub Enterprise API URL otherwise."""
    if os.environ.get("GITHUB_SERVER_URL"):
        return os.environ["GITHUB_SERVER_URL"].rstrip("/")
    url = api_url()
    if url == DEFAULT_API_URL:
        return "https://github.com"
    return url.removesuffix("/api/v3")


#: Largest answer one GitHub API request may send (a page of 100 items is a few hundred
#: KiB; attestation pages with inline bundles a few MiB). PyGithub reads every body whole
#: and parses it recursively, which is why reads go through :func:`get_json` below.
MAX_API_BYTES = 64 << 20


def _session() -> Any:
    import requests

    with _LOCK:
        if not _SESSIONS:
            session = requests.Session()
            session.trust_env = False  # the token goes to GITHUB_API_URL, nowhere else
            _SESSIONS.append(session)
        return _SESSIONS[0]


_LOCK = threading.Lock()
_SESSIONS: list[Any] = []


def _absolute(path_or_url: str, base: str) -> str:
    """An API path joined to ``base``; an absolute URL (a next link) must stay on the API's
    scheme and host, since the token travels with it."""
    if "://" not in path_or_url:
        return base + "/" + path_or_url.lstrip("/")
    url, api = urlsplit(path_or_url), urlsplit(base)
    if (url.scheme, url.netloc) != (api.scheme, api.netloc):
        raise ServiceError(f"GitHub API link {path_or_url[:200]!r} leaves {base}; refusing "
                           "to follow it with the token")
    return path_or_url


def get_json(path: str, *, what: str, params: Mapping[str, Any] | None = None,
             base_url: str | None = None) -> tuple[Mapping[str, str], Any]:
    """GET one API document: retried on 429/5xx (Retry-After honored), the body streamed
    and cut at :data:`MAX_API_BYTES`, parsed by the one bounded JSON reader. Returns the
    response headers and the parsed document."""
    return request_json("GET", path, what=what, params=params, base_url=base_url)


def request_json(method: str, path: str, *, what: str, params: Mapping[str, Any] | None = None,
                 body: Any = None, base_url: str | None = None
                 ) -> tuple[Mapping[str, str], Any]:
    """One API call (``body`` sent as JSON), its answer read as :func:`get_json` reads it.
    A POST is sent once more only when the server asked for a retry (429/5xx) or the
    connection failed before an answer."""
    import requests

    from attester.clients.httpget import read_capped
    from attester.clients.retry import RetryPolicy, send
    from attester.jsonio import parse_json

    base = (base_url or api_url()).rstrip("/")
    url = _absolute(path, base)
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
               "User-Agent": "attester"}
    tok = token_for(base)
    if tok:
        headers["Authorization"] = f"Bearer {tok}"
    session = _session()
    # A write is sent again only when the server said to (429/5xx): never twice on a
    # connection that dropped after the request may have landed.
    policy = RetryPolicy() if method == "GET" else RetryPolicy(attempts=1)
    resp, attempts = send(
        lambda: session.request(method, url, headers=headers, params=dict(params or {}),
                                json=body, stream=True, timeout=60),
        policy, transient=(requests.RequestException,),
        unreachable=lambda e: ServiceError(f"{what}: cannot reach {base}: "
                                           f"{unreachable_reason(e)}"))
    with resp:
        body = read_capped(resp, MAX_API_BYTES, what=f"{what}: GitHub API answer")
    if resp.status_code >= 400:
        raise _status_error(resp.status_code, resp.headers, body, what, attempts)
    return resp.headers, parse_json(body, where=f"{what}: GitHub API answer")


def _status_error(status: int, headers: Mapping[str, str], body: bytes, what: str,
                  attempts: int) -> Exception:
    if status == 401:
        return ServiceError(f"{what}: GitHub rejected the token (401)",
                            hint="check GITHUB_TOKEN / GH_TOKEN")
    if status == 404:
        return StoreError(f"{what}: not found on GitHub (404); check the owner, repository "
                          "and id, and that the token can read it")
    if status in (403, 429) and (headers.get("X-RateLimit-Remaining") == "0"
                                 or b"rate limit" in body[:4096].lower()):
        return ServiceError(f"{what}: GitHub rate limit exceeded; retry later or set "
                            "GITHUB_TOKEN")
    return ServiceError(f"{what}: GitHub API answered {status}"
                        + (" repeatedly; giving up" if status in RETRYABLE_STATUS
                           and attempts > 1 else ""))


def paginate(path: str, *, list_item: str | None, what: str, per_page: int = 100,
             stop_after: int | None = None, base_url: str | None = None,
             limits: Limits | None = None) -> Iterator[Any]:
    """Every item of a paginated REST list (``Link: rel="next"``), through the one pager:
    page and item caps, a repeated link or endless empty pages end it with an error.
    ``list_item`` names the list in an object answer (``artifacts``); None: the answer is
    the list. An answer of another shape is one error naming ``what``."""

    def fetch(url: str | None) -> Page[Any, str]:
        headers, data = get_json(url or path, what=what, base_url=base_url,
                                 params=None if url else {"per_page": per_page})
        items = (data.get(list_item) if isinstance(data, dict) else None) if list_item \
            else data
        if not isinstance(items, list):
            raise ServiceError(f"{what}: unexpected API answer (no "
                               f"{list_item + ' ' if list_item else ''}list)")
        if len(items) > per_page:
            raise ServiceError(f"{what}: the API answered {len(items)} items on one page; at "
                               f"most {per_page} were asked for")
        return Page(items=items, next=_next_link(headers.get("link") or ""))

    return pager.paginate(fetch, what=what, limits=limits, stop_after=stop_after)


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        segs = part.split(";")
        if len(segs) >= 2 and any(s.strip() == 'rel="next"' for s in segs[1:]):
            return segs[0].strip().strip("<>")
    return None


def download_headers(url: str) -> dict[str, str]:
    """Headers to download ``url``, an asset's or a run artifact's URL as an API answer gave
    it: the token only when that URL is on the API's own scheme and host. (redteam: the
    token went to whatever host the answer named, plain http included.) GitHub's own
    answers name the API host; its redirect to blob storage drops the header."""
    headers = {"Accept": "application/octet-stream", "X-GitHub-Api-Version": "2022-11-28"}
    tok = token()
    target, api = urlsplit(url), urlsplit(api_url())
    if tok and (target.scheme, target.netloc) == (api.scheme, api.netloc):
        headers["Authorization"] = f"Bearer {tok}"
    return headers


def download_session(pool: int = 10) -> Any:
    """A session for downloads an API answer points to: nothing from the environment, so
    no ~/.netrc credentials are added for whichever host the answer (or its redirect)
    names, as requests does by default (the API's own session is kept so too)."""
    import requests
    import requests.adapters

    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(10, pool))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
