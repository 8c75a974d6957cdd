"""Build watchers, chosen by URI scheme."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attester import plugins
from attester.watchers.interface import Watcher

REGISTRY: dict[str, str] = {
    "local": "attester.watchers.local:LocalWatcher.from_uri",
    "github": "attester.watchers.github:GitHubWatcher.from_uri",
    "cloudbuild": "attester.watchers.cloudbuild:CloudBuildWatcher.from_uri",
    "env": "attester.watchers.env:EnvWatcher.from_uri",
}


def open_watcher(uri: str, **options: Any) -> Watcher:
    factory: Callable[..., Watcher] = plugins.load(REGISTRY, uri, kind="build source")
    return factory(uri, **options)
