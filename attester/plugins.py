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
        raise UsageError(f"{uri!r} is not a {kind} URI; expected one of {choices}")
    target = registry.get(scheme)
    if target is None:
        raise UsageError(f"unknown {kind} scheme {scheme + '://'!r} in {uri!r}; "
                         f"expected one of {choices}")
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
