"""Plug-ins chosen by URI scheme, imported lazily so heavy SDKs load only when used."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from attester.errors import UsageError


def load(registry: Mapping[str, str], uri: str, *, kind: str) -> Any:
    """The factory registered for ``uri``'s scheme (``"module:attr.attr"``)."""
    scheme, sep, _ = uri.partition("://")
    choices = ", ".join(f"{s}://" for s in registry)
    if not sep:
        article = "an" if kind[:1] in "aeiou" else "a"
        raise UsageError(f"{uri!r} is not {article} {kind} URI; expected one of {choices}",
                         hint=_path_hint(registry, uri))
    target = registry.get(scheme)
    if target is None:
        raise UsageError(f"unknown {kind} scheme {scheme + '://'!r} in {uri!r}; "
                         f"expected one of {choices}")
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _path_hint(registry: Mapping[str, str], uri: str) -> str | None:
    """A bare path most likely means the scheme that reads local paths."""
    if "file" in registry:
        return f"for a local path write file://{uri}"
    if "local" in registry:
        return f"for a checkout at that path write local://{uri}"
    return None
