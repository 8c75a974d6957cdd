"""The artifact store plug-in interface.

A store lists what it holds (cheaply) and turns entries into hash tasks for the one
hashing engine. ``identity`` is what a snapshot records: a store that has a cheap
content identity (a GCS generation, an OCI digest) returns it; one that does not
returns ``None`` and snapshots fall back to digests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from attester.hashing import HashTask
from attester.model.models import ResourceDescriptor


@attrs.frozen
class Entry:
    """One artifact in a store. ``name`` is the subject name it gets."""

    name: str
    size: int
    identity: Mapping[str, str] | None = None
    annotations: Mapping[str, Any] = attrs.field(factory=dict)
    handle: Any = attrs.field(default=None, eq=False, repr=False)


class Store(Protocol):
    @property
    def uri(self) -> str: ...

    def entries(self) -> Sequence[Entry]: ...

    def task(self, entry: Entry) -> HashTask: ...

    def after_hash(self, entry: Entry, digest: Mapping[str, str]) -> None:
        """Raise :class:`StoreError` if ``entry`` changed while we hashed it, or if the
        digest disagrees with one the store itself claims."""


def to_subject(entry: Entry, digest: Mapping[str, str]) -> ResourceDescriptor:
    return ResourceDescriptor(name=entry.name, digest=digest,
                              annotations=dict(entry.annotations))


def first_duplicate(names: Iterable[str]) -> str | None:
    """The (alphabetically first) name that occurs more than once, if any."""
    counts = Counter(names)
    return min((n for n, c in counts.items() if c > 1), default=None)


def require_unique_names(entries: Sequence[Entry], what: str) -> None:
    """Subject names identify artifacts: two entries with one name would be ambiguous."""
    dupe = first_duplicate(e.name for e in entries)
    if dupe is not None:
        from attester.errors import StoreError

        raise StoreError(f"{what}: two artifacts share the name {dupe!r}")


def relative_name(uri: str, name: str) -> str:
    """An entry's name relative to the store URI it was listed from, as a checksums file
    names it: ``gs://B/v1/kubectl`` under ``gs://B/v1/`` (or ``gs://B/v1``, or the string
    prefix ``gs://B/v1/kube``) is ``kubectl``. Names already relative (file://,
    github-release://) are returned as they are."""
    for base in (uri.rstrip("/") + "/", uri[:uri.rfind("/") + 1]):
        if "://" in base and name.startswith(base) and len(name) > len(base):
            return name[len(base):]
    return name
