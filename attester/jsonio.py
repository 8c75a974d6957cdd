"""Reading and writing JSON documents safely.

Reads are bounded (a truncated or huge file is an error naming the file, not a
MemoryError); writes are atomic (temp file in the same folder, fsync, rename), so a
crash never leaves half an attestation behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from attester.errors import InputError

#: Attestations and statements are small; anything bigger is almost surely a mistake.
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
#: No real attestation, bundle or policy nests deeper than a few dozen levels; the
#: standard parser recurses per level, so deeper input is refused before parsing.
MAX_DEPTH = 128
#: Longest integer literal accepted (digits): far above any real size or index, far below
#: CPython's int-conversion limit (4,300 digits), which would otherwise end in ValueError.
MAX_INT_DIGITS = 100


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
        except ValueError:  # a NUL byte: paths read from documents (policy files) are input
            raise InputError(f"{what} {path!r}: a file name cannot contain a NUL byte") from None
    if len(data) > limit:
        raise InputError(f"{what} {path}: larger than {limit} bytes, refusing to load it")
    return data


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # called for every object: a statement of 10,000 subjects has 20,000
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return out


class _NotJsonError(ValueError):
    """A literal RFC 8259 does not allow (NaN, Infinity) or a number too long to convert."""


def _no_constants(name: str) -> Any:
    raise _NotJsonError(f"{name} is not JSON (RFC 8259); other tools read it differently")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _NotJsonError(f"an integer of {len(text.lstrip('-'))} digits (more than "
                            f"{MAX_INT_DIGITS})")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_INT_DIGITS * 4:
        raise _NotJsonError(f"a number of {len(text)} characters")
    return float(text)


_TOKENS = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r'[^\[\]{}]+')
_AS_PARENS = str.maketrans("[{]}", "(())")


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects (brackets inside strings do not count).

    Done by the regex engine and str methods, not a Python loop per bracket: drop the
    strings, keep the brackets, then peel innermost pairs off, one round per level; a
    well-formed document comes out empty after exactly its depth in rounds. Anything
    else (unbalanced, or deeper than :data:`MAX_DEPTH`) gets the exact scan."""
    brackets = _STRING.sub("", text)
    unterminated = brackets.find('"')
    if unterminated >= 0:
        brackets = brackets[:unterminated]  # the rest is inside a string that never ends
    rest = _NOT_BRACKETS.sub("", brackets).translate(_AS_PARENS)
    rounds = 0
    while rest and rounds <= MAX_DEPTH:
        peeled = rest.replace("()", "")
        if len(peeled) == len(rest):
            break
        rest, rounds = peeled, rounds + 1
    return rounds if not rest else _nesting_depth_scan(text)


def _nesting_depth_scan(text: str) -> int:
    """The deepest nesting of arrays and objects, in one linear pass without recursion
    (escapes are consumed in pairs, brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = False
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok == '"':
            in_string = not in_string
        elif in_string or tok[0] == "\\":
            continue
        elif tok in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def check_depth(text: str, *, where: str) -> None:
    """Refuse input nested deeper than :data:`MAX_DEPTH` before a recursive parser sees it."""
    if text.count("[") + text.count("{") > MAX_DEPTH and nesting_depth(text) > MAX_DEPTH:
        raise InputError(f"{where}: nested more than {MAX_DEPTH} levels deep; refusing it")


def parse_json(data: bytes, *, where: str) -> Any:
    """Parse JSON, turning every failure into one line that says where.

    Stricter than :func:`json.loads` where tools disagree: duplicate keys, ``NaN`` and
    ``Infinity`` are refused, as are nesting deeper than :data:`MAX_DEPTH` and integers
    longer than :data:`MAX_INT_DIGITS` digits (bounded before the parser recurses)."""
    if not data.strip():
        raise InputError(f"{where}: empty, expected JSON")
    try:
        text = data.decode("utf-8")  # RFC 8259: JSON exchanged between systems is UTF-8
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    check_depth(text, where=where)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants,
                          parse_int=_bounded_int, parse_float=_bounded_float)
    except _DuplicateKeyError as e:
        raise InputError(f"{where}: duplicate key {e.key!r} in one object; ambiguous JSON "
                         "reads differently in different tools, refusing it") from None
    except _NotJsonError as e:
        raise InputError(f"{where}: {e}; refusing it") from None
    except RecursionError:  # a backstop: check_depth should have refused it already
        raise InputError(f"{where}: nested too deeply; refusing it") from None
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


def parse_yaml(source: Any, *, where: str, kind: str = "YAML", loader: Any = None) -> Any:
    """YAML (bytes, text or a stream) through a safe loader (the C one when PyYAML has it),
    every way the parser gives up as one InputError naming ``where``. Exceptions a custom
    ``loader`` raises of its own pass through to the caller."""
    import yaml

    safe = loader or getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(source, Loader=safe)  # noqa: S506 - a SafeLoader or a subclass
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark else ""
        raise InputError(f"{where}: not valid {kind}{line}") from None
    except RecursionError:  # PyYAML's composer recurses per nesting level
        raise InputError(f"{where}: nested too deeply; refusing it") from None
    except ValueError as e:  # e.g. an integer past CPython's 4,300-digit conversion limit
        raise InputError(f"{where}: unreadable value ({str(e).split(';')[0]})") from None


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
