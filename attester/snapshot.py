"""What storage held before a build: the tejolote start/continue flow.

``attest start`` records every entry of each store (its cheap identity, like a GCS
generation or an OCI digest, or else its sha256); ``attest provenance --snapshot``
then makes subjects only of what is new or changed since. This lets the attestation
be produced from *outside* the build for shared buckets that other builds also write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from attester.errors import InputError
from attester.model.models import rfc3339

SNAPSHOT_TYPE = "https://attester.dev/snapshot/v1"


@attrs.frozen
class Snapshot:
    created_on: dt.datetime
    #: store URI -> entry name -> identity
    stores: Mapping[str, Mapping[str, Mapping[str, str]]]

    def to_json(self) -> dict[str, Any]:
        return {
            "_type": SNAPSHOT_TYPE,
            "createdOn": rfc3339(self.created_on),
            "stores": [{"uri": uri, "entries": {n: dict(i) for n, i in sorted(entries.items())}}
                       for uri, entries in self.stores.items()],
        }

    def baseline(self, uri: str, *, where: str) -> Mapping[str, Mapping[str, str]]:
        if uri not in self.stores:
            known = ", ".join(self.stores) or "none"
            raise InputError(f"snapshot {where}: has no record of {uri} (it recorded: {known}); "
                             f"run 'attest start --artifacts {uri}' before the build")
        return self.stores[uri]


def parse(doc: Any, *, where: str) -> Snapshot:
    if not isinstance(doc, dict) or doc.get("_type") != SNAPSHOT_TYPE:
        raise InputError(f"snapshot {where}: not an attest snapshot (_type is not "
                         f"{SNAPSHOT_TYPE})")
    try:
        created = dt.datetime.strptime(doc["createdOn"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.timezone.utc)
        stores: dict[str, dict[str, dict[str, str]]] = {}
        for s in doc["stores"]:
            entries = s["entries"]
            if not isinstance(entries, dict):
                raise TypeError
            stores[str(s["uri"])] = {str(n): {str(k): str(v) for k, v in i.items()}
                                     for n, i in entries.items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InputError(f"snapshot {where}: malformed (expected createdOn and stores[].uri/"
                         "entries)") from None
    return Snapshot(created_on=created, stores=stores)


def unchanged(identity: Mapping[str, str] | None, recorded: Mapping[str, str] | None) -> bool:
    """Same entry as before: every field both sides have agrees (and they share one)."""
    if identity is None or recorded is None:
        return False
    common = set(identity) & set(recorded)
    return bool(common) and all(identity[k] == recorded[k] for k in common)

