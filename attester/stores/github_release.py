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
from attester.clients.httpget import get_stream
from attester.errors import StoreError, UsageError
from attester.hashing import HashTask
from attester.parallel import DEFAULT_JOBS
from attester.stores.interface import Entry, require_unique_names

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
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(10, self.jobs))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    @classmethod
    def from_uri(cls, uri: str, *, jobs: int = DEFAULT_JOBS) -> GitHubReleaseStore:
        m = _URI.match(uri)
        if not m:
            raise UsageError(f"{uri!r}: expected github-release://OWNER/REPO/TAG")
        return cls(uri=uri, owner=m["owner"], repo=m["repo"], tag=m["tag"], jobs=jobs)

    def entries(self) -> Sequence[Entry]:
        gh = githubapi.client()
        base = f"/repos/{self.owner}/{self.repo}/releases"
        _, release = githubapi.call(lambda: gh.requester.requestJsonAndCheck(
            "GET", f"{base}/tags/{self.tag}"), what=self.uri)
        out = []
        path = f"{base}/{release['id']}/assets"
        for raw in githubapi.paginate(gh, path, list_item=None, what=f"{self.uri} assets"):
            if raw.get("state", "uploaded") != "uploaded":
                continue  # an upload that never finished is not an artifact
            api_digest = raw.get("digest") or ""
            out.append(Entry(name=raw["name"], size=int(raw.get("size") or 0),
                             identity={"id": str(raw["id"]), "updated_at": str(raw.get(
                                 "updated_at", ""))},
                             annotations={"downloadLocation": raw.get("browser_download_url",
                                                                      "")},
                             handle=(raw["url"], api_digest)))
        if not out:
            raise StoreError(f"{self.uri}: the release has no uploaded assets")
        require_unique_names(out, self.uri)
        return out

    def task(self, entry: Entry) -> HashTask:
        url, _ = entry.handle

        def opener() -> IO[bytes]:
            resp = get_stream(self.session, url, what=f"{self.uri}: asset {entry.name}",
                              headers=githubapi.download_headers())
            resp.raw.decode_content = True
            return resp.raw  # type: ignore[return-value]

        return HashTask(label=entry.name, size=entry.size, open=opener)

    def after_hash(self, entry: Entry, digest: Mapping[str, str]) -> None:
        _, api_digest = entry.handle
        alg, _, value = str(api_digest).partition(":")
        if value and alg in digest and digest[alg] != value.lower():
            raise StoreError(f"{self.uri}: asset {entry.name} hashes to {alg}:{digest[alg]} but "
                             f"the API says {api_digest}; the download was altered")

