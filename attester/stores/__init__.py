"""Artifact stores, chosen by URI scheme. Cloud SDKs are imported only when used."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attester import plugins
from attester.hashing import DEFAULT_ALGORITHMS, hash_tasks
from attester.models import ResourceDescriptor
from attester.stores.interface import Entry, Store, to_subject

#: scheme -> "module:factory"; the module is imported on first use only.
REGISTRY: dict[str, str] = {
    "file": "attester.stores.file:FileStore.from_uri",
    "gs": "attester.stores.gcs:GcsStore.from_uri",
    "oci": "attester.stores.oci:OciStore.from_uri",
}


#: Command-line options each scheme understands; others are not passed to it.
OPTIONS: dict[str, tuple[str, ...]] = {"oci": ("insecure", "platforms")}


def open_store(uri: str, **options: Any) -> Store:
    factory: Callable[..., Store] = plugins.load(REGISTRY, uri, kind="artifact store")
    wanted = OPTIONS.get(uri.partition("://")[0], ())
    return factory(uri, **{k: v for k, v in options.items() if k in wanted})


def digest_entries(store: Store, entries: Sequence[Entry],
                   algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
                   *, progress: bool = False) -> list[Mapping[str, str]]:
    """Digests for ``entries``; stores that already know a digest skip hashing."""
    todo = [i for i, e in enumerate(entries) if e.digest is None]
    computed = hash_tasks([store.task(entries[i]) for i in todo], algorithms,
                          progress=progress)
    out: list[Mapping[str, str]] = [e.digest or {} for e in entries]
    for i, digest in zip(todo, computed, strict=True):
        store.verify_unchanged(entries[i])
        out[i] = digest
    return out


def collect_subjects(store: Store, algorithms: Sequence[str] = DEFAULT_ALGORITHMS, *,
                     only: Callable[[Entry], bool] | None = None,
                     progress: bool = False) -> tuple[ResourceDescriptor, ...]:
    entries = [e for e in store.entries() if only is None or only(e)]
    digests = digest_entries(store, entries, algorithms, progress=progress)
    return tuple(to_subject(e, d) for e, d in zip(entries, digests, strict=True))
