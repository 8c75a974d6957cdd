"""Artifact stores, chosen by URI scheme. Cloud SDKs are imported only when used."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attester import plugins
from attester.hashing import DEFAULT_ALGORITHMS, hash_tasks
from attester.model.models import ResourceDescriptor
from attester.stores.interface import Entry, Store, to_subject

#: scheme -> "module:factory"; the module is imported on first use only.
REGISTRY: dict[str, str] = {
    "file": "attester.stores.file:FileStore.from_uri",
    "gs": "attester.stores.gcs:GcsStore.from_uri",
    "oci": "attester.stores.oci:OciStore.from_uri",
    "github-release": "attester.stores.github_release:GitHubReleaseStore.from_uri",
    "github-artifacts": "attester.stores.github_artifacts:GitHubArtifactsStore.from_uri",
}


#: Command-line options each scheme understands; others are not passed to it.
OPTIONS: dict[str, tuple[str, ...]] = {"oci": ("insecure", "platforms", "jobs", "progress"),
                                       "gs": ("jobs",), "github-release": ("jobs",)}


def open_store(uri: str, **options: Any) -> Store:
    factory: Callable[..., Store] = plugins.load(REGISTRY, uri, kind="artifact store")
    wanted = OPTIONS.get(uri.partition("://")[0], ())
    return factory(uri, **{k: v for k, v in options.items() if k in wanted})


def open_one(uri: str, **options: Any) -> tuple[Store, Entry]:
    """The store and the one entry a single-artifact URI names (``verify --artifact``):
    ``gs://B/OBJECT``, ``oci://R/REPO:TAG`` or ``@sha256:D``,
    ``github-release://O/R/TAG/ASSET``, ``file://FILE``. Exactly that entry: a missing one
    is an error, never the entries its name is a prefix of (issue 16)."""
    from attester.errors import StoreError, UsageError

    scheme = uri.partition("://")[0]
    if scheme == "github-release":
        rest = uri.removeprefix("github-release://")
        head, _, asset = rest.rpartition("/")
        if head.count("/") < 2 or not asset:
            raise UsageError(f"{uri}: names a release, not one asset",
                             hint="name the asset: github-release://OWNER/REPO/TAG/ASSET, or "
                             "use --artifacts for every asset")
        store = open_store(f"github-release://{head}", **options)
        return store, store.one(asset)  # type: ignore[attr-defined]
    if scheme == "oci":
        store = open_store(uri, **{k: v for k, v in options.items() if k != "platforms"})
        ref = store.ref  # type: ignore[attr-defined]
        if not (ref.tag or ref.digest):
            raise UsageError(f"{uri}: names a repository, not one image",
                             hint="name the image by tag or digest, or use --artifacts")
        entries = list(store.entries())
    else:
        store = open_store(uri, **options)
        one = getattr(store, "one", None)
        if callable(one):
            return store, one()
        if scheme != "file":
            raise UsageError(f"{uri}: names many artifacts, not one",
                             hint=f"use --artifacts {uri}")
        entries = list(store.entries())
        root = getattr(store, "root", None)
        if root is not None and os.path.isdir(root):
            raise UsageError(f"{uri}: names a folder, not one file",
                             hint=f"use --artifacts {uri}")
    if len(entries) != 1:
        raise StoreError(f"{uri}: names {len(entries)} artifacts, expected exactly one")
    return store, entries[0]


def entries_to_hash(store: Store) -> list[Entry]:
    """``store.entries()`` when every entry will be hashed: a store that can (gs://)
    starts reading them while it is still listing."""
    ahead = getattr(store, "read_ahead", None)
    if callable(ahead):
        ahead()
    return list(store.entries())


def digest_entries(store: Store, entries: Sequence[Entry],
                   algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
                   *, progress: bool = False) -> list[Mapping[str, str]]:
    """Digests of ``entries``, each checked by its store once hashed (changed while read,
    or at odds with a digest the store itself claims)."""
    # A remote store's reads wait on the network: as many at once as it allows (--jobs).
    digests = hash_tasks([store.task(e) for e in entries], algorithms, progress=progress,
                         workers=getattr(store, "jobs", None))
    for entry, digest in zip(entries, digests, strict=True):
        store.after_hash(entry, digest)
    return list(digests)


def collect_subjects(store: Store, algorithms: Sequence[str] = DEFAULT_ALGORITHMS, *,
                     baseline: Mapping[str, Mapping[str, str]] | None = None,
                     progress: bool = False) -> tuple[ResourceDescriptor, ...]:
    """Subjects for every entry; with ``baseline`` (a snapshot) only new or changed ones.

    Entries with a cheap identity are compared before hashing; the others after.
    """
    from attester.snapshot import unchanged

    entries = list(store.entries()) if baseline is not None else entries_to_hash(store)
    if baseline is not None:
        entries = [e for e in entries if not unchanged(e.identity, baseline.get(e.name))]
    digests = digest_entries(store, entries, algorithms, progress=progress)
    pairs = zip(entries, digests, strict=True)
    if baseline is not None:
        pairs = ((e, d) for e, d in pairs  # type: ignore[assignment]
                 if e.identity is not None or not unchanged(d, baseline.get(e.name)))
    return tuple(to_subject(e, d) for e, d in pairs)


def snapshot_entries(store: Store, *, progress: bool = False) -> dict[str, Mapping[str, str]]:
    """name -> identity for every entry: the cheap one where the store has it, else sha256."""
    entries = list(store.entries())
    need = [e for e in entries if e.identity is None]
    digests = dict(zip((e.name for e in need),
                       digest_entries(store, need, ("sha256",), progress=progress), strict=True))
    return {e.name: (e.identity if e.identity is not None else digests[e.name])
            for e in entries}
