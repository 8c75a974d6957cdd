"""Text meant for a terminal, made safe: names, URIs and messages come from hostile input.

A file name, subject or URI carrying an ANSI escape sequence, a carriage return or a
bidirectional override could fake "ok" lines or rewrite the terminal; a name that is not
UTF-8 (a lone surrogate after ``surrogateescape``) would abort the write. Every such
character is shown as a visible escape instead. Written by hand: the standard library's
``repr`` quotes and escapes non-ASCII letters too, which would garble real names.
"""

from __future__ import annotations

import unicodedata
from typing import Any

#: Unicode categories that are never printed raw: controls, format characters (bidi
#: overrides, zero-width joiners), surrogates, private use and unassigned code points.
_HIDDEN = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def _escape(ch: str) -> str:
    n = ord(ch)
    if 0xDC80 <= n <= 0xDCFF:  # a byte that is not UTF-8, kept by surrogateescape: the byte
        return f"\\x{n - 0xDC00:02x}"
    if n <= 0xFF:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n <= 0xFFFF else f"\\U{n:08x}"


def safe(text: object) -> str:
    """``text`` with every control or invisible character escaped (``\\x1b``, ``\\u202e``);
    a backslash stays as it is, so ordinary Windows-ish names read naturally."""
    s = str(text)
    if s.isprintable():  # the common case: nothing to do
        return s
    return "".join(ch if ch == " " or unicodedata.category(ch) not in _HIDDEN else _escape(ch)
                   for ch in s)


def utf8_safe(text: str) -> str:
    """``text`` with what UTF-8 cannot carry (lone surrogates: a byte that is not UTF-8,
    kept by ``surrogateescape``) escaped as :func:`safe` shows it (``\\xff``); the rest
    as it is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(_escape(ch) if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text


def safe_json(value: Any) -> Any:
    """A JSON-able document whose every string (keys too) can be written as UTF-8: a name
    that is not UTF-8 is escaped as the text output shows it (``\\xff``), instead of
    aborting ``--format json``. Other characters stay: JSON escapes controls itself."""
    if isinstance(value, str):
        return utf8_safe(value)
    if isinstance(value, dict):
        return {utf8_safe(k) if isinstance(k, str) else k: safe_json(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe_json(v) for v in value]
    return value


def safe_lines(text: str) -> str:
    """Like :func:`safe`, but keeps the newlines that separate lines."""
    return "\n".join(safe(line) for line in text.split("\n"))
