"""The one pagination loop of every listing a server answers page by page.

GitHub REST listings (release assets, run artifacts, jobs, attestations), OCI
``tags/list`` and GCS ``objects.list`` each hand out a cursor (a ``Link: rel="next"``
URL, a ``nextPageToken``) that the server alone controls. A hostile or broken server can
send endless pages, repeat a cursor, or answer empty pages that still say "next". So the
loop is bounded here, once (as go-containerregistry and PyGithub's ``PaginatedList`` keep
pagination in one primitive): at most :data:`MAX_PAGES` pages and :data:`MAX_ITEMS`
items, a cursor seen before ends the listing with an error, and empty pages count
against the page cap like any other (so ``--limit`` style counting cannot stall). Every
way out is one :class:`ServiceError` line naming the listing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Generic, TypeVar

import attrs

from attester.errors import ServiceError

T = TypeVar("T")
C = TypeVar("C", bound=Hashable)

#: Pages one listing may take. A release bucket of 100,000 objects is 100 GCS pages, a
#: 1,000-asset release 10 GitHub pages; the cap is far above both.
MAX_PAGES = 1000
#: Items one listing may yield (memory: a listing is held whole by its caller).
MAX_ITEMS = 200_000
#: Consecutive empty pages that still name a next page: a real server never sends one.
MAX_EMPTY_PAGES = 3


@attrs.frozen
class Limits:
    pages: int = MAX_PAGES
    items: int = MAX_ITEMS
    empty_pages: int = MAX_EMPTY_PAGES


DEFAULT_LIMITS = Limits()


@attrs.frozen
class Page(Generic[T, C]):
    """What one request answered: its items and the cursor of the next page (None: done)."""

    items: Sequence[T]
    next: C | None


def paginate(fetch: Callable[[C | None], Page[T, C]], *, what: str,
             limits: Limits | None = None, stop_after: int | None = None) -> Iterator[T]:
    """Every item of a paginated listing. ``fetch(None)`` is the first page, ``fetch(c)``
    the page cursor ``c`` names. ``stop_after`` ends the listing quietly once that many
    items came (``--limit``); the caps (``limits``, else :data:`DEFAULT_LIMITS`) end it
    with an error (the listing is incomplete)."""
    limits = limits or DEFAULT_LIMITS
    seen: set[C] = set()
    cursor: C | None = None
    pages = items = empty = 0
    while True:
        pages += 1
        if pages > limits.pages:
            raise ServiceError(f"{what}: more than {limits.pages} pages; refusing an endless "
                               "listing (narrow it, or the server is misbehaving)")
        page = fetch(cursor)
        for item in page.items:
            items += 1
            if items > limits.items:
                raise ServiceError(f"{what}: more than {limits.items} items; refusing an "
                                   "endless listing")
            yield item
            if stop_after is not None and items >= stop_after:
                return
        if page.next is None:
            return
        empty = 0 if page.items else empty + 1
        if empty >= limits.empty_pages:
            raise ServiceError(f"{what}: the server sent {empty} empty pages in a row that "
                               "still say there is a next one; refusing an endless listing")
        if page.next in seen or page.next == cursor:
            raise ServiceError(f"{what}: the server repeated a page cursor "
                               f"({_short(page.next)}); refusing an endless listing")
        if cursor is not None:
            seen.add(cursor)
        cursor = page.next


def _short(cursor: object) -> str:
    text = str(cursor)
    return text if len(text) <= 80 else text[:77] + "..."
