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
        data = _read_upto(sys.stdin.buffer, limit + 1)
    else:
        try:
            with open(path, "rb") as f:
                data = _read_upto(f, limit + 1)
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


def _read_upto(f: Any, n: int) -> bytes:
    """At most ``n`` bytes, read in pieces: ``f.read(n)`` allocates all ``n`` up front
    (256 MiB for every small policy file)."""
    parts = []
    left = n
    while left > 0:
        chunk = f.read(min(left, 1 << 20))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


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


#: Largest YAML document read (policy files, kpromo manifests): a 10,000-image manifest
#: is about 1 MiB.
MAX_YAML_BYTES = 16 << 20


def parse_yaml(source: Any, *, where: str, kind: str = "YAML", loader: Any = None) -> Any:
    """YAML (bytes, text or a stream) through a safe loader (the C one when PyYAML has it),
    every way the parser gives up as one InputError naming ``where``. Exceptions a custom
    ``loader`` raises of its own pass through to the caller.

    Anchors and aliases are refused before anything is built: an alias is expanded by
    whoever walks the document, so a 548-byte policy of nested aliases cost 1.6 GB (issue
    16). Nesting is held to :data:`MAX_DEPTH` by the same event scan (PyYAML's composer
    recurses per level)."""
    import yaml

    if hasattr(source, "read"):
        source = source.read(MAX_YAML_BYTES + 1)
    if len(source) > MAX_YAML_BYTES:
        raise InputError(f"{where}: larger than {MAX_YAML_BYTES} bytes, refusing to load it")
    safe = loader or getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _check_yaml_events(source, where=where)
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


def _check_yaml_events(source: str | bytes, *, where: str) -> None:
    """One pass over the parser's events (no document built): refuse any anchor or alias
    and nesting deeper than :data:`MAX_DEPTH`."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = 0
    for event in yaml.parse(source, Loader=loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            line = f" (line {mark.line + 1})" if mark else ""
            raise InputError(f"{where}: YAML anchors and aliases (&name, *name) are not "
                             f"accepted{line}; write the value out in full")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise InputError(f"{where}: nested more than {MAX_DEPTH} levels deep; "
                                 "refusing it")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def json_kind(value: Any) -> str:
    """How a JSON value reads in an error: 'a string', 'a list', 'null', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) \
        else "a value"


_ABSENT: Any = object()


class Fields:
    """A JSON object read field by field into typed values: every wrong shape is one
    :class:`InputError` naming the document (``where``) and the field's path. The typed
    ``from_json`` constructors of the attrs classes that hold server answers (release
    assets, run artifacts, image descriptors) are written with it."""

    def __init__(self, value: Any, where: str, path: str = "") -> None:
        if not isinstance(value, dict):
            raise InputError(f"{where}: {_at(path)}{json_kind(value)}, expected an object")
        self.value: dict[str, Any] = value
        self.where, self.path = where, path

    def _get(self, key: str, want: str, types: tuple[type, ...], default: Any) -> Any:
        value = self.value.get(key, _ABSENT)
        if value is _ABSENT or (value is None and default is not _ABSENT):
            if default is _ABSENT:
                raise InputError(f"{self.where}: field {self._name(key)!r} is missing")
            return default
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise InputError(f"{self.where}: field {self._name(key)!r} is {json_kind(value)}, "
                             f"expected {want}")
        return value

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def text(self, key: str, default: Any = _ABSENT) -> str:
        return self._get(key, "a string", (str,), default)  # type: ignore[no-any-return]

    def count(self, key: str, default: Any = _ABSENT) -> int:
        value = self._get(key, "a whole number", (int,), default)
        if isinstance(value, int) and value < 0:
            raise InputError(f"{self.where}: field {self._name(key)!r} is negative")
        return value  # type: ignore[no-any-return]

    def flag(self, key: str, default: Any = _ABSENT) -> bool:
        return self._get(key, "true or false", (bool,), default)  # type: ignore[no-any-return]

    def array(self, key: str, default: Any = _ABSENT) -> list[Any]:
        return self._get(key, "a list", (list,), default)  # type: ignore[no-any-return]

    def obj(self, key: str) -> Fields | None:
        """The nested object ``key`` (absent or null: None)."""
        value = self._get(key, "an object", (dict,), None)
        return None if value is None else Fields(value, self.where, self._name(key))

    def str_map(self, key: str) -> dict[str, str]:
        """An object of string values (annotations, labels); absent or null: empty."""
        value = self._get(key, "an object", (dict,), {})
        for k, v in value.items():
            if not isinstance(v, str):
                raise InputError(f"{self.where}: field {self._name(key)}.{k!s:.80} is "
                                 f"{json_kind(v)}, expected a string")
        return dict(value)

    def objects(self, key: str, default: Any = _ABSENT) -> list[Fields]:
        """A list of objects, each read with :class:`Fields`."""
        return [Fields(v, self.where, f"{self._name(key)}[{i}]")
                for i, v in enumerate(self.array(key, default))]


def _at(path: str) -> str:
    return f"field {path!r} is " if path else "the answer is "


def as_objects(value: Any, where: str, what: str = "") -> list[Fields]:
    """A JSON list whose every item is an object (a REST listing's page)."""
    if not isinstance(value, list):
        raise InputError(f"{where}: {_at(what)}{json_kind(value)}, expected a list")
    return [Fields(v, where, f"{what}[{i}]") for i, v in enumerate(value)]


def load_json(path: str | Path, *, what: str = "file") -> Any:
    return parse_json(read_bytes(path, what=what), where=f"{what} {path}")


def dumps_compact(obj: Any) -> bytes:
    """Deterministic bytes: sorted keys, no spaces, UTF-8. Used for payloads we sign."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def dumps_pretty(obj: Any) -> bytes:
    """Human-readable, still deterministic; ends with a newline."""
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def dumps_report(obj: Any) -> bytes:
    """A report for people and scripts (``--format json``): :func:`dumps_pretty` of the
    document with what UTF-8 cannot carry escaped as the text output escapes it
    (display.safe_json), so a file name that is not UTF-8 is ``\\xff`` in both, never
    a crash."""
    from attester.display import safe_json

    return dumps_pretty(safe_json(obj))


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
