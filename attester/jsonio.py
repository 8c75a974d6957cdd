"""Reading and writing JSON documents safely.

Reads are bounded (a truncated or huge file is an error naming the file, not a
MemoryError); writes are atomic (temp file in the same folder, fsync, rename), so a
crash never leaves half an attestation behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from attester.errors import InputError

#: Attestations and statements are small; anything bigger is almost surely a mistake.
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024


def read_bytes(path: str | Path, *, what: str = "file", limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """Read a whole small file, refusing anything over ``limit`` bytes."""
    if str(path) == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        try:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            raise InputError(f"{what} {path}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{what} {path}: is a directory, expected a file") from None
        except OSError as e:
            raise InputError(f"{what} {path}: cannot read: {e.strerror}") from None
    if len(data) > limit:
        raise InputError(f"{what} {path}: larger than {limit} bytes, refusing to load it")
    return data


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def parse_json(data: bytes, *, where: str) -> Any:
    """Parse JSON, turning every failure into one line that says where."""
    if not data.strip():
        raise InputError(f"{where}: empty, expected JSON")
    try:
        text = data.decode("utf-8")  # RFC 8259: JSON exchanged between systems is UTF-8
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKeyError as e:
        raise InputError(f"{where}: duplicate key {e.key!r} in one object; ambiguous JSON "
                         "reads differently in different tools, refusing it") from None
    except json.JSONDecodeError as e:
        raise InputError(_json_error(where, text, e)) from None


def _json_error(where: str, text: str, e: json.JSONDecodeError) -> str:
    """'not valid JSON: <what> at line L column C', and whether the text just stops."""
    what = e.msg.removesuffix(" at")  # "Unterminated string starting at" ends mid-sentence
    line = f"{where}: not valid JSON: {what[:1].lower()}{what[1:]} at line {e.lineno} " \
           f"column {e.colno}"
    # An unterminated string, or an error at the very end, means the text stopped early.
    if e.msg.startswith("Unterminated string") or e.pos >= len(text.rstrip()):
        line += "; the file ends before the JSON does, it looks truncated"
    return line


def load_json(path: str | Path, *, what: str = "file") -> Any:
    return parse_json(read_bytes(path, what=what), where=f"{what} {path}")


def dumps_compact(obj: Any) -> bytes:
    """Deterministic bytes: sorted keys, no spaces, UTF-8. Used for payloads we sign."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def dumps_pretty(obj: Any) -> bytes:
    """Human-readable, still deterministic; ends with a newline."""
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def write_output(data: bytes, output: str | None, *, mode: int = 0o644) -> None:
    """Write to stdout when ``output`` is None or ``-``, else atomically to a file."""
    if output is None or output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    atomic_write(Path(output), data, mode=mode)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one.

    A path that exists and is not a regular file (``/dev/null``, a fifo, ``/dev/stdout``)
    is written to directly: renaming over it would replace the device itself.
    """
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        try:
            with open(path, "wb") as f:
                f.write(data)
        except OSError as e:
            raise InputError(f"cannot write {path}: {e.strerror}") from None
        return
    directory = path.parent if str(path.parent) else Path()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except FileNotFoundError:
        raise InputError(f"cannot write {path}: folder {directory} does not exist") from None
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise InputError(f"cannot write {path}: {e.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
