"""The watcher plug-in interface: something that can describe a build."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from attester.models import BuildRecord


class Watcher(Protocol):
    """Reads one build and describes it as a :class:`BuildRecord` without subjects.

    Subjects come from stores (``--artifacts``) or from the build system itself.
    """

    def record(self, *, now: dt.datetime) -> BuildRecord: ...

    def default_artifacts(self) -> list[str]:
        """Stores to read subjects from when the user names none (e.g. the run's artifacts)."""
