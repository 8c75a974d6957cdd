"""``github-release://OWNER/REPO/TAG``: a GitHub release's assets, streamed and hashed.

Subject name = asset name. When the API reports an asset digest (``sha256:...``), the
bytes we hashed must agree with it. Assets are downloaded ``jobs`` at a time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import IO

import attrs
import requests
import requests.adapters

from attester.clients import githubapi
from attester.clients.httpget import CappedStream, get_stream
from attester.errors import StoreError, UsageError
from attester.hashing import HashTask
from attester.jsonio import Fields
from attester.parallel import DEFAULT_JOBS
from attester.stores.interface import Entry, require_unique_names


@attrs.frozen
class Asset:
    """One release asset as the API lists it, type-checked field by field."""

    id: int
    name: str
    size: int
    url: str
    state: str = "uploaded"
    digest: str = ""
    updated_at: str = ""
    browser_download_url: str = ""

    @classmethod
    def from_json(cls, f: Fields) -> Asset:
        name = f.text("name")
        if not name or "/" in name or name in (".", ".."):
            raise StoreError(f"{f.where}: field {f.path}.name {name[:100]!r} is not a file "
                             "name")
        return cls(id=f.count("id"), name=name, size=f.count("size"), url=f.text("url"),
                   state=f.text("state", "uploaded"), digest=f.text("digest", ""),
                   updated_at=f.text("updated_at", ""),
                   browser_download_url=f.text("browser_download_url", ""))


_URI = re.compile(r"^github-release://(?P<owner>[^/]+)/(?P<repo>[^/]+)/(?P<tag>.+)$")


@attrs.frozen
class GitHubReleaseStore:
    uri: str
    owner: str
    repo: str
    tag: str
    jobs: int = DEFAULT_JOBS
    session: requests.Session = attrs.field(eq=False, repr=False)

    @session.default
    def _session(self) -> requests.Session:
        session: requests.Session = githubapi.download_session(self.jobs)
        return session

    @classmethod
    def from_uri(cls, uri: str, *, jobs: int = DEFAULT_JOBS) -> GitHubReleaseStore:
        m = _URI.match(uri)
        if not m:
            raise UsageError(f"{uri!r}: expected github-release://OWNER/REPO/TAG")
        return cls(uri=uri, owner=m["owner"], repo=m["repo"], tag=m["tag"], jobs=jobs)

    def entries(self) -> Sequence[Entry]:
        base = f"/repos/{self.owner}/{self.repo}/releases"
        _, doc = githubapi.get_json(f"{base}/tags/{self.tag}", what=self.uri)
        release_id = Fields(doc, f"{self.uri}: GitHub API answer").count("id")
        out = []
        path = f"{base}/{release_id}/assets"
        for i, raw in enumerate(githubapi.paginate(path, list_item=None,
                                                   what=f"{self.uri} assets")):
            asset = Asset.from_json(Fields(raw, f"{self.uri} assets", f"[{i}]"))
            if asset.state != "uploaded":
                continue  # an upload that never finished is not an artifact
            out.append(Entry(name=asset.name, size=asset.size,
                             identity={"id": str(asset.id), "updated_at": asset.updated_at},
                             annotations={"downloadLocation": asset.browser_download_url},
                             handle=(asset.url, asset.digest)))
        if not out:
            raise StoreError(f"{self.uri}: the release has no uploaded assets")
        require_unique_names(out, self.uri)
        return out

    def one(self, asset: str) -> Entry:
        """The asset named ``asset``, exactly (``--artifact github-release://O/R/TAG/NAME``);
        a release without it is an error, never its other assets."""
        found = [e for e in self.entries() if e.name == asset]
        if not found:
            raise StoreError(f"{self.uri}: the release has no asset named {asset!r}")
        return found[0]

    def task(self, entry: Entry) -> HashTask:
        url, _ = entry.handle
        what = f"{self.uri}: asset {entry.name}"

        def opener() -> IO[bytes]:
            resp = get_stream(self.session, url, what=what,
                              headers=githubapi.download_headers(url))
            resp.raw.decode_content = True
            # Cut at the listed size: a server cannot make us read more than it listed.
            return CappedStream(resp.raw, entry.size, what=what)  # type: ignore[return-value]

        return HashTask(label=entry.name, size=entry.size, open=opener)

    def after_hash(self, entry: Entry, digest: Mapping[str, str]) -> None:
        _, api_digest = entry.handle
        alg, _, value = str(api_digest).partition(":")
        if value and alg in digest and digest[alg] != value.lower():
            raise StoreError(f"{self.uri}: asset {entry.name} hashes to {alg}:{digest[alg]} but "
                             f"the API says {api_digest}; the download was altered")

