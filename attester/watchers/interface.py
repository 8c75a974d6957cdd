"""The watcher plug-in interface: something that can describe a build."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any, Protocol

from attester.errors import InputError
from attester.model.models import BuildRecord


class Watcher(Protocol):
    """Reads one build and describes it as a :class:`BuildRecord` without subjects.

    Subjects come from stores (``--artifacts``) or from the build system itself.
    """

    def record(self, *, now: dt.datetime) -> BuildRecord: ...

    def default_artifacts(self) -> list[str]:
        """Stores to read subjects from when the user names none (e.g. the run's artifacts)."""


def wait_until_finished(fetch: Callable[[], dict[str, Any]], *, running: Callable[[str], bool],
                        uri: str, noun: str, wait: bool, timeout: float, interval: float,
                        sleep: Callable[[float], None]) -> dict[str, Any]:
    """Fetch a build until it is no longer running; without ``wait`` a running build is an
    error, since provenance describes finished builds."""
    deadline = time.monotonic() + timeout
    while True:
        build = fetch()
        status = str(build.get("status", "unknown"))
        if not running(status):
            return build
        if not wait:
            raise InputError(f"{uri}: the {noun} is still {status}; provenance describes "
                             "finished builds", hint="pass --wait to poll until it finishes")
        if time.monotonic() >= deadline:
            raise InputError(f"{uri}: still {status} after waiting {timeout:.0f}s")
        sleep(interval)
