"""``github-artifacts://OWNER/REPO/RUN_ID``: the files inside a workflow run's artifacts.

Each artifact zip is downloaded streaming to a private temporary file (hashed on the
way, and checked against the API's digest when it gives one), then every file inside
becomes a subject named ``ARTIFACT/PATH``. Zip entries are untrusted input: absolute
or ``..`` paths (zip-slip), absurd compression ratios (zip bombs) and oversize entries
are refused before a byte is inflated.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import IO, Any

import attrs
import requests

from attester.clients import githubapi
from attester.clients.httpget import CappedStream, get_stream
from attester.errors import StoreError, UsageError
from attester.hashing import CHUNK_SIZE, HashTask
from attester.jsonio import Fields
from attester.stores.interface import Entry, require_unique_names

_URI = re.compile(r"^github-artifacts://(?P<owner>[^/]+)/(?P<repo>[^/]+)/(?P<run>\d+)/?$")
MAX_ENTRY_BYTES = 10 << 30
MAX_ZIP_BYTES = 20 << 30
#: Bytes all entries of one run's artifacts may inflate to, together: the per-entry cap
#: alone let a 2.2 MB zip of many entries inflate to 2 GiB (issue 16).
MAX_TOTAL_BYTES = 20 << 30
MAX_ENTRIES = 100_000
MAX_RATIO = 200  # deflate tops out near 1032:1 on pathological input; real files stay far below
RATIO_FLOOR = 1 << 20  # small entries may compress well; only judge ratios above 1 MiB


def check_member(info: zipfile.ZipInfo, where: str) -> str:
    """The entry's safe relative path, or an error naming it."""
    name = info.filename
    path = PurePosixPath(name)
    if not name.strip("/") or str(path) in (".", ""):
        raise StoreError(f"{where}: an entry has an empty name; refusing the archive")
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


def check_members(infos: Sequence[zipfile.ZipInfo], where: str, *,
                  archive_size: int | None = None) -> list[tuple[str, zipfile.ZipInfo]]:
    """(safe path, entry) of every file of one archive, refusing the archive as a whole
    when its entries together inflate past :data:`MAX_TOTAL_BYTES` or more than
    :data:`MAX_RATIO` times ``archive_size`` (many small entries each under the
    per-entry ratio floor made a 2.2 MB zip of 2 GiB, 937:1), or when two of them
    are one file on a case-insensitive or normalising file system (macOS, Windows): names
    equal once case-folded and NFC-normalised would be two subjects for one file."""
    if len(infos) > MAX_ENTRIES:
        raise StoreError(f"{where}: more than {MAX_ENTRIES} entries; refusing the archive")
    out = []
    total = 0
    folded: dict[str, str] = {}
    for info in infos:
        if not info.filename.strip("/"):  # before is_dir(), which indexes the name
            raise StoreError(f"{where}: an entry has an empty name; refusing the archive")
        if info.is_dir():
            continue
        rel = check_member(info, where)
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise StoreError(f"{where}: entries would inflate to more than {MAX_TOTAL_BYTES} "
                             "bytes together (zip bomb?); refusing the archive")
        if archive_size is not None and total > RATIO_FLOOR and \
                total > MAX_RATIO * max(archive_size, 1):
            raise StoreError(f"{where}: entries would inflate to more than {total} bytes from "
                             f"a {archive_size}-byte archive, over {MAX_RATIO}:1 together "
                             "(zip bomb?); refusing the archive")
        key = unicodedata.normalize("NFC", rel).casefold()
        if key in folded:
            raise StoreError(f"{where}: entries {folded[key]!r} and {rel!r} differ only by "
                             "case or Unicode normalisation (one file on macOS and Windows); "
                             "refusing the archive")
        folded[key] = rel
        out.append((rel, info))
    return out


@attrs.frozen
class Artifact:
    """One run artifact as the API lists it, type-checked field by field."""

    id: int
    name: str
    archive_download_url: str
    expired: bool = False
    digest: str = ""

    @classmethod
    def from_json(cls, f: Fields) -> Artifact:
        name = f.text("name")
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise StoreError(f"{f.where}: field {f.path}.name {name[:100]!r} is not a file "
                             "name")
        return cls(id=f.count("id"), name=name,
                   archive_download_url=f.text("archive_download_url"),
                   expired=f.flag("expired", False), digest=f.text("digest", ""))


@attrs.frozen
class GitHubArtifactsStore:
    uri: str
    owner: str
    repo: str
    run_id: int
    session: requests.Session = attrs.field(factory=githubapi.download_session, eq=False,
                                             repr=False)
    tmp: Any = attrs.field(factory=lambda: tempfile.TemporaryDirectory(prefix="attest-zip-"),
                           eq=False, repr=False)

    @classmethod
    def from_uri(cls, uri: str) -> GitHubArtifactsStore:
        m = _URI.match(uri)
        if not m:
            raise UsageError(f"{uri!r}: expected github-artifacts://OWNER/REPO/RUN_ID")
        return cls(uri=uri, owner=m["owner"], repo=m["repo"], run_id=int(m["run"]))

    def _artifacts(self) -> list[Artifact]:
        url = f"/repos/{self.owner}/{self.repo}/actions/runs/{self.run_id}/artifacts"
        return [Artifact.from_json(Fields(raw, self.uri, f"artifacts[{i}]")) for i, raw in
                enumerate(githubapi.paginate(url, list_item="artifacts", what=self.uri))]

    def _download(self, art: Artifact, index: int) -> str:
        where = f"{self.uri}: artifact {art.name}"
        resp = get_stream(self.session, art.archive_download_url, what=where,
                          headers=githubapi.download_headers(art.archive_download_url))
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
        alg, _, want = art.digest.partition(":")
        if alg == "sha256" and want and want.lower() != h.hexdigest():
            raise StoreError(f"{where}: the downloaded zip hashes to sha256:{h.hexdigest()} but "
                             f"the API says {art.digest}; refusing it")
        return path

    def entries(self) -> Sequence[Entry]:
        artifacts = [a for a in self._artifacts() if not a.expired]
        if not artifacts:
            raise StoreError(f"{self.uri}: the run has no unexpired artifacts")
        out: list[Entry] = []
        total = 0
        for i, art in enumerate(artifacts):
            path = self._download(art, i)
            where = f"{self.uri}: artifact {art.name}"
            try:
                zf = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, ValueError, OSError):
                raise StoreError(f"{where}: not a valid zip archive") from None
            for rel, info in check_members(zf.infolist(), where,
                                           archive_size=os.path.getsize(path)):
                total += info.file_size
                if total > MAX_TOTAL_BYTES:
                    raise StoreError(f"{self.uri}: the run's artifacts would inflate to more "
                                     f"than {MAX_TOTAL_BYTES} bytes together; refusing them")
                out.append(Entry(name=f"{art.name}/{rel}", size=info.file_size,
                                 identity={"artifact_id": str(art.id)},
                                 handle=(zf, info)))
        require_unique_names(out, self.uri)
        return out

    def task(self, entry: Entry) -> HashTask:
        zf, info = entry.handle

        def opener() -> IO[bytes]:
            try:  # cut at the size the entry declares: inflation past it is an error
                return CappedStream(zf.open(info), info.file_size,  # type: ignore[return-value]
                                    what=f"{self.uri}: {entry.name}")
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as e:
                raise StoreError(f"{self.uri}: {entry.name}: cannot read: {e}") from None

        return HashTask(label=entry.name, size=entry.size, open=opener)

    def after_hash(self, entry: Entry, digest: Mapping[str, str]) -> None:
        return None
