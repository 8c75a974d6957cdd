"""``file://DIR``: every regular file under a folder, named relative to it."""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import attrs

from attester.display import safe
from attester.errors import StoreError
from attester.hashing import DirRoot, HashTask, open_nofollow
from attester.stores.interface import Entry


def _name(rel: str, where: str) -> str:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise StoreError(f"{where}: file name is not valid UTF-8") from None
    return rel.replace(os.sep, "/")


@attrs.frozen
class FileStore:
    uri: str
    root: Path

    @classmethod
    def from_uri(cls, uri: str) -> FileStore:
        path = uri.removeprefix("file://") if uri.startswith("file://") else uri
        if not path:
            raise StoreError(f"{uri}: no folder given")
        return cls(uri=uri, root=Path(path))

    def entries(self) -> Sequence[Entry]:
        root = self.root
        try:
            st = os.stat(root)
        except FileNotFoundError:
            raise StoreError(f"{self.uri}: no such file or folder") from None
        except OSError as e:
            raise StoreError(f"{self.uri}: cannot read: {e.strerror}") from None
        if stat.S_ISREG(st.st_mode):
            return [Entry(name=_name(root.name, str(root)), size=st.st_size, handle=str(root))]
        real_root = os.path.realpath(root)
        try:  # every file is read through this handle of the root, never by its path
            handle = DirRoot(str(root))
        except OSError as e:
            raise StoreError(f"{self.uri}: cannot open the folder: {e.strerror}") from None
        out: list[Entry] = []
        self._walk(str(root), "", real_root, out, handle)
        out.sort(key=lambda e: e.name)
        return out

    def _walk(self, top: str, prefix: str, real_root: str, out: list[Entry],
              handle: DirRoot) -> None:
        """Walk with an explicit stack, not recursion: a folder tree nested thousands of
        levels deep (hostile input) must not exhaust Python's recursion limit."""
        stack = [(top, prefix)]
        while stack:
            folder, prefix = stack.pop()
            try:
                with os.scandir(folder) as it:
                    items = sorted(it, key=lambda d: d.name)
            except OSError as e:
                raise StoreError(f"{folder}: cannot list: {e.strerror}") from None
            for item in items:
                rel = prefix + item.name
                if item.is_symlink():
                    self._symlink(item.path, rel, real_root, out, handle)
                elif item.is_dir(follow_symlinks=False):
                    stack.append((item.path, rel + "/"))
                elif item.is_file(follow_symlinks=False):
                    size = item.stat(follow_symlinks=False).st_size
                    out.append(Entry(name=_name(rel, item.path), size=size,
                                     handle=(handle, rel.replace(os.sep, "/"))))
                else:
                    print(f"attest: skipping {safe(item.path)}: not a regular file",
                          file=sys.stderr)

    def _symlink(self, path: str, rel: str, real_root: str, out: list[Entry],
                 handle: DirRoot) -> None:
        target = os.path.realpath(path)
        if os.path.commonpath([real_root, target]) != real_root:
            raise StoreError(
                f"{path}: symlink points outside {self.root} (to {target}); refusing to "
                "attest a file the artifact folder does not contain"
            )
        try:
            st = os.stat(target)
        except OSError:
            raise StoreError(f"{path}: broken symlink") from None
        if stat.S_ISREG(st.st_mode):  # read as the file it leads to, under the root
            inside = os.path.relpath(target, real_root).replace(os.sep, "/")
            out.append(Entry(name=_name(rel, path), size=st.st_size, handle=(handle, inside)))
        # A link to a folder inside the root: its files are already listed under their
        # real names; following it could also loop.

    def task(self, entry: Entry) -> HashTask:
        if isinstance(entry.handle, tuple):
            handle, rel = entry.handle
            path = os.path.join(str(self.root), rel)

            def open_it() -> IO[bytes]:
                return handle.open(rel)  # type: ignore[no-any-return]
        else:  # the URI names one file
            path = str(entry.handle)

            def open_it() -> IO[bytes]:
                return open_nofollow(path)

        def opener() -> IO[bytes]:
            try:
                return open_it()
            except FileNotFoundError:
                raise StoreError(f"{path}: disappeared while hashing") from None
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise StoreError(f"{path}: a folder or file on its path was replaced by "
                                     f"a symlink while hashing; refusing to read outside "
                                     f"{self.root}") from None
                raise StoreError(f"{path}: cannot read: {e.strerror}") from None

        return HashTask(label=path, size=entry.size, open=opener)

    def after_hash(self, entry: Entry, digest: Mapping[str, str]) -> None:
        return None
