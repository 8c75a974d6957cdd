"""The one hashing engine every store uses.

Streams each input in :data:`CHUNK_SIZE` chunks into every requested hash in the same
pass (a file is never read twice), and hashes many inputs at once on threads, one per
core: OpenSSL-backed ``hashlib`` releases the GIL on updates this large, so threads
scale across cores without the pickling and start-up cost of processes. Each worker
pulls the next input (largest first) from one shared list. Memory is bounded by
workers x chunk size, whatever the file sizes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO

import attrs

from attester.errors import AttesterError, StoreError, UsageError

#: The read buffer, chosen by measurement (``bench/hash_bench.py`` sweeps 32 KiB-4 MiB
#: and 1, 2 and 4 workers; README's Speed section has the figures). On the 2-core AMD
#: EPYC (SHA-NI) over bench/'s 2.1 GB tree, five sweeps with 2 workers: CPU time (user +
#: system) 1.27-1.35 s at 32 KiB and 1.22-1.30 s at every size from 64 KiB to 4 MiB,
#: against 1.05 CPU-s for the SHA-256 compute limit (openssl speed: 2.03 GB/s per core).
#: Wall time on that shared machine moved 2x from run to run, in no order by size. A
#: quieter run of the same machine class (issue 13) took 1.09 s at 128 KiB and 1.52 s at
#: 1 MiB (a buffer that fits the core's cache is hashed straight after the copy out of
#: the page cache), and coreutils settled on 128 KiB for cp and cat by the same kind of
#: measurement (gnulib's ioblksize.h). So: 128 KiB, never slower here, and little memory.
CHUNK_SIZE = 128 << 10
SUPPORTED_ALGORITHMS = ("sha256", "sha384", "sha512")
DEFAULT_ALGORITHMS = ("sha256",)


@attrs.frozen
class HashTask:
    """One input to hash: ``open`` returns a binary stream, closed by the engine."""

    label: str
    size: int
    open: Callable[[], IO[bytes]]


def check_algorithms(algorithms: Sequence[str]) -> tuple[str, ...]:
    algs = tuple(dict.fromkeys(algorithms))
    for alg in algs:
        if alg not in SUPPORTED_ALGORITHMS:
            raise UsageError(
                f"unsupported digest {alg!r}; choose from {', '.join(SUPPORTED_ALGORITHMS)}"
            )
    if not algs:
        raise UsageError("at least one digest algorithm is needed")
    return algs


def hash_stream(stream: IO[bytes], algorithms: Sequence[str],
                buffer: bytearray | None = None,
                on_bytes: Callable[[int], None] | None = None) -> dict[str, str]:
    """Hash a stream to its end with every algorithm in one pass."""
    hashers = [hashlib.new(a) for a in algorithms]
    buf = buffer if buffer is not None else bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    while True:
        n = stream.readinto(view)  # type: ignore[attr-defined]
        if not n:
            break
        chunk = view[:n]
        for h in hashers:
            h.update(chunk)
        if on_bytes is not None:
            on_bytes(n)
    return {a: h.hexdigest() for a, h in zip(algorithms, hashers, strict=True)}


def hash_file(path: str, algorithms: Sequence[str] = DEFAULT_ALGORITHMS) -> dict[str, str]:
    with open_nofollow(path) as f:
        return hash_stream(f, algorithms)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def open_nofollow(path: str) -> IO[bytes]:
    """Open for reading, refusing a symlink swapped in after we checked the path."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    return os.fdopen(fd, "rb", buffering=0)


class DirRoot:
    """A folder opened once, and files under it opened through that handle only.

    A path under the root is opened one component at a time relative to its parent's
    handle (``openat``), each folder with ``O_DIRECTORY | O_NOFOLLOW`` and the file with
    ``O_NOFOLLOW``: a folder swapped for a symlink between listing and hashing (issue 16:
    it let a file outside the folder be attested) fails with ELOOP/ENOTDIR instead of
    being followed, and the root renamed or replaced afterwards changes nothing, so no
    byte outside the root is read. ``..`` and empty components are refused. The file is
    opened non-blocking (a fifo swapped in must not hang the run) and must be a regular
    file. Python has no ``openat2(RESOLVE_BENEATH)``; this walk is the portable form of
    it. The handles of the first :data:`MAX_CACHED_DIRS` folders are kept for the run
    (opened the same way), so a file costs one ``open`` more than by path, not one per
    level (bench/: 2,300 files in folders 3-4 deep cost 8% more CPU without them)."""

    MAX_CACHED_DIRS = 256

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        self._dirs: dict[str, int] = {}
        self._lock = threading.Lock()

    def open(self, rel: str) -> IO[bytes]:
        """The file at ``rel`` (``/``-separated, relative to the root)."""
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise OSError(errno.EINVAL, f"not a plain path under the root: {rel!r}")
        dirs = parts[:-1]
        known = len(dirs)  # the deepest folder already open
        while known and "/".join(dirs[:known]) not in self._dirs:
            known -= 1
        parent = self._dirs["/".join(dirs[:known])] if known else self.fd
        opened: list[int] = []
        try:
            for i in range(known, len(dirs)):
                parent = os.open(dirs[i], os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC,
                                 dir_fd=parent)
                with self._lock:
                    keep = (len(self._dirs) < self.MAX_CACHED_DIRS and self.fd >= 0
                            and self._dirs.setdefault("/".join(dirs[:i + 1]), parent) == parent)
                if not keep:
                    opened.append(parent)
            fd = os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK,
                         dir_fd=parent)
        finally:
            for d in opened:
                os.close(d)
        try:
            # O_NONBLOCK stays: reads of a regular file never block on it
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, f"not a regular file: {rel!r}")
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "rb", buffering=0)

    def close(self) -> None:
        with self._lock:
            fds = [self.fd, *self._dirs.values()]
            self.fd = -1
            self._dirs.clear()
        for fd in fds:
            if fd >= 0:
                os.close(fd)

    def __del__(self) -> None:
        self.close()


def size_text(done: int, total: int) -> str:
    """'12.3/40.0 kB', in the unit that fits the total (a few small files read '0.00/0.00
    GB' in gigabytes alone)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if total >= scale:
            return f"{done / scale:.1f}/{total / scale:.1f} {unit}"
    return f"{done}/{total} bytes"


class Progress:
    """A one-line progress meter on stderr, only when a person is watching.

    The one meter of every long-running command: files hashed (with bytes), or any other
    count of items (``verb``/``noun``: "resolving 3/40 references")."""

    def __init__(self, total_items: int, total_bytes: int, *, enabled: bool,
                 verb: str = "hashing", noun: str = "files") -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.total_items = total_items
        self.total_bytes = total_bytes
        self.verb, self.noun = verb, noun
        self.items = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._last = 0.0

    def add_bytes(self, n: int) -> None:
        if self.enabled:
            with self._lock:
                self.bytes += n
            self._draw()

    def item_done(self) -> None:
        if self.enabled:
            with self._lock:
                self.items += 1
            self._draw()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        size = f", {size_text(self.bytes, self.total_bytes)}" if self.verb == "hashing" else ""
        sys.stderr.write(f"\r{self.verb} {self.items}/{self.total_items} {self.noun}{size}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(force=True)
            sys.stderr.write("\n")


def default_workers() -> int:
    """One thread per core: hashing is CPU-bound once the page cache holds the files. On
    the 2-core machine 4 workers took as much CPU as 2 or a little more (1.27 vs 1.26 s
    median over 5 runs at 128 KiB) and were never consistently faster; 1 worker cannot
    use the second core."""
    return max(1, min(32, os.cpu_count() or 1))


def hash_tasks(tasks: Sequence[HashTask], algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
               *, workers: int | None = None, progress: bool = False,
               chunk_size: int | None = None) -> list[dict[str, str]]:
    """Digests of every task, in the order given; largest inputs start first.

    ``workers`` and ``chunk_size`` default to the measured choices above (bench/ sweeps
    them)."""
    algs = check_algorithms(algorithms)
    meter = Progress(len(tasks), sum(t.size for t in tasks), enabled=progress)
    local = threading.local()
    on_bytes = meter.add_bytes if meter.enabled else None

    def run(task: HashTask) -> dict[str, str]:
        buf = getattr(local, "buf", None)
        if buf is None:
            buf = local.buf = bytearray(chunk_size or CHUNK_SIZE)
        try:
            with task.open() as stream:
                digest = hash_stream(stream, algs, buf, on_bytes)
        except AttesterError:
            raise
        except Exception as e:  # noqa: BLE001 - any read failure is one clear line
            raise StoreError(f"{task.label}: read failed: {type(e).__name__}: {e}") from None
        meter.item_done()
        return digest

    n = min(workers or default_workers(), len(tasks))
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i].size)
    results: list[dict[str, str]] = [{} for _ in tasks]
    # Each worker pulls the next task from one shared iterator: no future, lock or
    # queue entry per file, which for 10,000 small files cost more than hashing them.
    pending = iter(enumerate(order))
    take = threading.Lock()
    failed: list[tuple[int, BaseException]] = []

    def worker() -> None:
        while not failed:
            with take:
                nxt = next(pending, None)
            if nxt is None:
                return
            rank, i = nxt
            try:
                results[i] = run(tasks[i])
            except BaseException as e:  # noqa: BLE001 - re-raised below, in the caller
                failed.append((rank, e))

    try:
        if n <= 1:
            worker()
        else:
            threads = [threading.Thread(target=worker, daemon=True) for _ in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        meter.close()
    if failed:
        raise min(failed, key=lambda f: f[0])[1]
    return results
