"""``local://``: a build done in the current git checkout.

Records the checkout (remote URL with any credentials removed, HEAD commit, the ref
HEAD is on, whether the working tree was clean) under attester's local build type.
Nobody vouches for a local build but the person who signs it; the builder id says so.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs

from attester.errors import InputError
from attester.model.models import (
    BUILD_TYPE_LOCAL,
    DEFAULT_LOCAL_BUILDER_ID,
    BuildRecord,
    ResourceDescriptor,
)

_SCP_LIKE = re.compile(r"^(?P<user>[^@/]+@)?(?P<host>[^:/]+):(?P<path>(?!//).+)$")


def _git(cwd: Path, *args: str, check: bool = True) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True,
                              text=True, check=False, timeout=60)
    except FileNotFoundError:
        raise InputError("local://: git is not installed") from None
    if proc.returncode != 0:
        if check:
            detail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            raise InputError(f"local://: git {' '.join(args)} in {cwd}: {detail}")
        return ""
    return proc.stdout.strip()


def normalize_remote(url: str, top: Path) -> str:
    """A ``git+`` URI for a remote, never carrying credentials."""
    if "://" in url:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        if parts.scheme in ("http", "https"):
            return "git+" + urlunsplit((parts.scheme, host, parts.path, "", ""))
        if parts.scheme == "file":
            return "git+" + urlunsplit(("file", "", parts.path, "", ""))
        user = "git@" if parts.username == "git" else ""
        return "git+" + urlunsplit((parts.scheme, user + host, parts.path, "", ""))
    m = _SCP_LIKE.match(url)
    if m and not os.path.exists(url):
        return f"git+ssh://{m['user'] or ''}{m['host']}/{m['path']}"
    path = Path(url)
    if not path.is_absolute():
        path = (top / path).resolve()
    return "git+file://" + str(path)


@attrs.frozen
class LocalWatcher:
    checkout: Path
    builder_id: str = DEFAULT_LOCAL_BUILDER_ID
    started_on: dt.datetime | None = None

    @classmethod
    def from_uri(cls, uri: str, *, builder_id: str | None = None,
                 started_on: dt.datetime | None = None, **_: Any) -> LocalWatcher:
        rest = uri.removeprefix("local://")
        return cls(checkout=Path(rest or "."), builder_id=builder_id or DEFAULT_LOCAL_BUILDER_ID,
                   started_on=started_on)

    def record(self, *, now: dt.datetime) -> BuildRecord:
        if not self.checkout.is_dir():
            raise InputError(f"local://: {self.checkout} is not a folder")
        inside = _git(self.checkout, "rev-parse", "--show-toplevel", check=False)
        if not inside:
            raise InputError(f"local://: {self.checkout.resolve()} is not inside a git "
                             "checkout; local:// records the commit the build was made from",
                             hint="run attest in the checkout, or name it as local://PATH")
        top = Path(inside)
        commit = _git(top, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
        if not commit:
            raise InputError(f"local://: the git checkout {top} has no commit yet; "
                             "local:// records the commit the build was made from",
                             hint="commit the sources first")
        remote = _git(top, "remote", "get-url", "origin", check=False)
        if not remote:
            first = _git(top, "remote", check=False).splitlines()
            remote = _git(top, "remote", "get-url", first[0], check=False) if first else ""
        repository = normalize_remote(remote, top) if remote else "git+file://" + str(top)
        ref = _git(top, "symbolic-ref", "-q", "HEAD", check=False)
        if not ref:
            tags = _git(top, "tag", "--points-at", "HEAD", check=False).splitlines()
            ref = f"refs/tags/{sorted(tags)[0]}" if tags else ""
        dirty = bool(_git(top, "status", "--porcelain", "--untracked-files=no"))
        source = {"repository": repository, "ref": ref} if ref else {"repository": repository}
        dep_uri = f"{repository}@{ref}" if ref else repository
        dependency = ResourceDescriptor(uri=dep_uri, digest={"gitCommit": commit},
                                        annotations={"dirty": dirty})
        return BuildRecord(
            builder_id=self.builder_id,
            build_type=BUILD_TYPE_LOCAL,
            external_parameters={"source": source},
            internal_parameters={"workingTreeClean": not dirty},
            resolved_dependencies=(dependency,),
            invocation_id="",
            started_on=self.started_on,
            finished_on=now,
            config_source=ResourceDescriptor(uri=dep_uri, digest={"sha1": commit}),
        )

    def default_artifacts(self) -> list[str]:
        return []
