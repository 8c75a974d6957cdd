"""``github-artifacts://OWNER/REPO/RUN_ID``: the files inside a workflow run's artifacts.

Each artifact zip is downloaded streaming to a private temporary file (hashed on the
way, and checked against the API's digest when it gives one), then every file inside
becomes a subject named ``ARTIFACT/PATH``. Zip entries are untrusted input: absolute
or ``..`` paths (zip-slip), absurd compression ratios (zip bombs) and oversize entries
are refused before a byte is inflated.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import IO, Any

import attrs
import requests

from attester.clients import githubapi
from attester.clients.httpget import get_stream
from attester.errors import StoreError, UsageError
from attester.hashing import CHUNK_SIZE, HashTask
from attester.stores.interface import Entry, require_unique_names

_URI = re.compile(r"^github-artifacts://(?P<owner>[^/]+)/(?P<repo>[^/]+)/(?P<run>\d+)/?$")
MAX_ENTRY_BYTES = 10 << 30
MAX_ZIP_BYTES = 20 << 30
MAX_RATIO = 200  # deflate tops out near 1032:1 on pathological input; real files stay far below
RATIO_FLOOR = 1 << 20  # small entries may compress well; only judge ratios above 1 MiB


def check_member(info: zipfile.ZipInfo, where: str) -> str:
    """The entry's safe relative path, or an error naming it."""
    name = info.filename
    path = PurePosixPath(name)
    if "\\" in name or "\x00" in name or path.is_absolute() or ".." in path.parts or \
            re.match(r"^[A-Za-z]:", name):
        raise StoreError(f"{where}: entry {name!r} escapes the archive (zip-slip); refusing it")
    if info.file_size > MAX_ENTRY_BYTES:
        raise StoreError(f"{where}: entry {name!r} would inflate to {info.file_size} bytes, over "
                         f"the {MAX_ENTRY_BYTES} limit")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise StoreError(f"{where}: entry {name!r} has a compression ratio over {MAX_RATIO}:1 "
                         "(zip bomb?); refusing it")
    return str(path)


@attrs.frozen
class GitHubArtifactsStore:
    uri: str
    owner: str
    repo: str
    run_id: int
    session: requests.Session = attrs.field(factory=requests.Session, eq=False, repr=False)
    tmp: Any = attrs.field(factory=lambda: tempfile.TemporaryDirectory(prefix="attest-zip-"),
                           eq=False, repr=False)

    @classmethod
    def from_uri(cls, uri: str) -> GitHubArtifactsStore:
        m = _URI.match(uri)
        if not m:
            raise UsageError(f"{uri!r}: expected github-artifacts://OWNER/REPO/RUN_ID")
        return cls(uri=uri, owner=m["owner"], repo=m["repo"], run_id=int(m["run"]))

    def _artifacts(self) -> list[dict[str, Any]]:
        gh = githubapi.client()
        url = f"/repos/{self.owner}/{self.repo}/actions/runs/{self.run_id}/artifacts"
        return list(githubapi.paginate(gh, url, list_item="artifacts", what=self.uri))

    def _download(self, art: dict[str, Any], index: int) -> str:
        where = f"{self.uri}: artifact {art['name']}"
        resp = get_stream(self.session, art["archive_download_url"], what=where,
                          headers=githubapi.download_headers())
        path = f"{self.tmp.name}/{index}.zip"
        h = hashlib.sha256()
        total = 0
        with resp, open(path, "wb") as f:
            for chunk in resp.iter_content(CHUNK_SIZE):
                total += len(chunk)
                if total > MAX_ZIP_BYTES:
                    raise StoreError(f"{where}: archive larger than {MAX_ZIP_BYTES} bytes")
                h.update(chunk)
                f.write(chunk)
        alg, _, want = str(art.get("digest") or "").partition(":")
        if alg == "sha256" and want and want.lower() != h.hexdigest():
            raise StoreError(f"{where}: the downloaded zip hashes to sha256:{h.hexdigest()} but "
                             f"the API says {art['digest']}; refusing it")
        return path

    def entries(self) -> Sequence[Entry]:
        artifacts = [a for a in self._artifacts() if not a.get("expired")]
        if not artifacts:
            raise StoreError(f"{self.uri}: the run has no unexpired artifacts")
        out: list[Entry] = []
        for i, art in enumerate(artifacts):
            path = self._download(art, i)
            where = f"{self.uri}: artifact {art['name']}"
            try:
                zf = zipfile.ZipFile(path)
            except zipfile.BadZipFile:
                raise StoreError(f"{where}: not a valid zip archive") from None
            for info in zf.infolist():
                if info.is_dir():
                    continue
                rel = check_member(info, where)
                out.append(Entry(name=f"{art['name']}/{rel}", size=info.file_size,
                                 identity={"artifact_id": str(art["id"])},
                                 handle=(zf, info)))
        require_unique_names(out, self.uri)
        return out

    def task(self, entry: Entry) -> HashTask:
        zf, info = entry.handle

        def opener() -> IO[bytes]:
            try:
                return zf.open(info)  # type: ignore[no-any-return]
            except (zipfile.BadZipFile, OSError) as e:
                raise StoreError(f"{self.uri}: {entry.name}: cannot read: {e}") from None

        return HashTask(label=entry.name, size=entry.size, open=opener)

    def after_hash(self, entry: Entry, digest: Mapping[str, str]) -> None:
        return None
