"""Bounded concurrency for network round trips, results in input order.

Resolving a release's thousands of image references or bucket objects one at a time
spends nearly all its time waiting for answers; a few threads overlap those waits
(the work per answer is small, so the GIL is not the limit). Each item's failure is
kept with its item, so callers report errors in input order whatever the scheduling.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from attester.errors import AttesterError

#: Requests in flight at once by default (``--jobs``): 4, as go-containerregistry
#: (crane, ko, cosign) uses for registries. Measured on the 2-core machine: promotion on
#: the loopback registry takes the same time at 4, 8, 16 and 32 (bench/promote_bench.py);
#: servers built on Python's http.server (the GCS emulator, the replay server) close
#: each connection and queue only 5 more, so 8 at once already loses SYNs and stalls
#: 1 s each (bench/gcs_bench.py, bench/github_release_bench.py). Raise it for
#: far-away stores.
DEFAULT_JOBS = 4
#: Registries are real servers that answer many requests at once: ``promote`` of 1,000
#: images on 2 cores took 3.2 s at 4 in flight and 2.8 s at 12-16 against docker-registry
#: (bench/promote_bench.py), so a promotion keeps more in flight unless --jobs says. With
#: the lighter urllib3 client (session 4), 5 interleaved runs: 2.53 s at 12, 2.40 s at 16,
#: 2.41 s at 24.
REGISTRY_JOBS = 16

T = TypeVar("T")
R = TypeVar("R")


class NotRunError(AttesterError):
    """An item left undone because an earlier one failed (``stop_on_error``)."""


def map_ordered(fn: Callable[[T], R], items: Sequence[T], *,
                jobs: int = DEFAULT_JOBS,
                progress: tuple[str, str] | None = None,
                stop_on_error: bool = False) -> list[R | AttesterError]:
    """``fn`` over ``items`` with at most ``jobs`` running at once; each result, or the
    :class:`AttesterError` its call raised, at its item's position. Other exceptions
    are bugs and propagate. ``progress`` ("resolving", "references") draws the meter
    on a terminal.

    With ``stop_on_error``, items not yet started once one has failed are not run
    (:class:`NotRunError`): an unreachable registry then costs one item's retries, not every
    item's. Items start in input order, so every item before the first failure still
    runs, and :func:`first_error` names the same item whatever the scheduling."""
    from attester.hashing import Progress

    verb, noun = progress or ("", "")
    meter = Progress(len(items), 0, enabled=progress is not None, verb=verb, noun=noun)
    failed = threading.Event()

    def guarded(item: T) -> R | AttesterError:
        if failed.is_set():
            return NotRunError("not run: an earlier item failed")
        try:
            return fn(item)
        except AttesterError as e:
            if stop_on_error:
                failed.set()
            return e
        finally:
            meter.item_done()

    try:
        if jobs <= 1 or len(items) <= 1:
            return [guarded(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(jobs, len(items))) as pool:
            return list(pool.map(guarded, items))
    finally:
        meter.close()


def first_error(results: Sequence[object]) -> AttesterError | None:
    """The first failure in input order (never a :class:`NotRunError`, which only follows
    a failure)."""
    return next((r for r in results
                 if isinstance(r, AttesterError) and not isinstance(r, NotRunError)), None)


def jobs_arg(value: str) -> int:
    """argparse type for ``--jobs``: a whole number from 1 to 256."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError(f"{n} is outside 1..256")
    return n


#: Fewer items than this are not worth a process: forking and returning the results
#: costs a few milliseconds.
MIN_FORKED_ITEMS = 16


def map_forked(fn: Callable[[T], R], items: Sequence[T], *, processes: int
               ) -> list[R | AttesterError]:
    """``fn`` over ``items`` in up to ``processes`` processes: this one and children forked
    from it, each taking every ``processes``-th item; results (or the
    :class:`AttesterError` a call raised) in input order.

    For CPU-bound work in Python (signature checks hold the GIL: threads do not spread
    them over cores). A forked child shares everything already loaded (modules, the
    trusted root, the documents) and sends back only its results, pickled. Fail safe:
    without ``fork``, with other threads running (forking them is unsafe), for few items,
    or when a child fails or its results do not arrive whole, the items are run here."""
    import os
    import pickle

    def guarded(item: T) -> R | AttesterError:
        try:
            return fn(item)
        except AttesterError as e:
            return e

    n = min(processes, len(items) // (MIN_FORKED_ITEMS // 2) or 1, os.cpu_count() or 1)
    if n <= 1 or len(items) < MIN_FORKED_ITEMS or not hasattr(os, "fork") or \
            threading.active_count() > 1:
        return [guarded(i) for i in items]
    import gc

    results: list[Any] = [None] * len(items)
    children: list[tuple[int, int, range]] = []
    # Objects the collector would visit in a child are copied there page by page (copy on
    # write): keep everything allocated so far out of its reach while the children run.
    gc.freeze()
    for k in range(1, n):
        share = range(k, len(items), n)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute its share, send it, leave without cleanup
            code = 1
            try:
                gc.disable()
                os.close(r)
                data = pickle.dumps([guarded(items[i]) for i in share])
                with os.fdopen(w, "wb") as out:
                    out.write(data)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        children.append((pid, r, share))
    gc.unfreeze()
    for i in range(0, len(items), n):
        results[i] = guarded(items[i])
    for pid, r, share in children:
        with os.fdopen(r, "rb") as f:
            data = f.read()
        _, status = os.waitpid(pid, 0)
        got: list[R | AttesterError] | None = None
        if os.waitstatus_to_exitcode(status) == 0:
            try:
                got = pickle.loads(data)  # noqa: S301 - our own child's results
            except Exception:  # noqa: BLE001 - then computed here instead
                got = None
        if got is None or len(got) != len(share):
            got = [guarded(items[i]) for i in share]
        for i, res in zip(share, got, strict=True):
            results[i] = res
    return results
