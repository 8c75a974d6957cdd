"""Rego policies over a verified statement, evaluated by rego-cpp (``regopy``).

A policy is judged by the conventions users already write:

- cosign's (Sigstore policy-controller's) ``package sigstore``: ``isCompliant`` (a
  boolean), or ``result`` with ``allow`` (boolean), ``errors`` and ``warnings`` (lists);
- ``cosign verify-attestation --policy``'s ``package signature`` with ``allow``;
- witness's ``deny``: a string, or a set of messages, each a reason to refuse.

A module that defines none of these decides nothing and is refused when it is loaded
(exit 2), as is one that does not parse (naming its line). What it reads as ``input`` is
the verified statement, exactly as it was signed (``input.predicateType``,
``input.predicate``, ``input.subject``), plus ``input.signer``: who signed it, as the
signature check established (certificate identity, issuer and Fulcio extensions, or the
trusted key ids). Unverified bytes never reach a policy.

The language itself is rego-cpp's (through its Python binding); nothing here interprets
Rego. What is ours: finding the package's rules in the answer, and reading a parse
error's byte offset as a line (rego-cpp reports offsets).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from attester.errors import InputError, MissingExtraError
from attester.verify.checks.check import Check

#: The rules a module may decide with; see the module docstring.
RULES = ("isCompliant", "result", "allow", "deny")
#: input.signer is ours: a statement may not bring its own.
SIGNER_KEY = "signer"

# ``package a.b.c`` after comments and blank lines. rego-cpp parses the module (and refuses
# a broken one) before this is used; this only names the package whose rules we query.
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*$",
                      re.MULTILINE)
# rego-cpp's error list: (error N:FILE|OFFSET|LEN (errormsg N:MESSAGE) ...), lengths prefixed
_DEFINES = re.compile(r"^\s*(?:default\s+)?(?:" + "|".join(RULES) + r")\b", re.MULTILINE)
_ERROR = re.compile(r"\(error \d+:[^|]*\|(\d+)\|\d+\s*\(errormsg (\d+):")


def _regopy() -> Any:
    try:
        import regopy
    except ImportError:
        raise MissingExtraError("rego", "regopy") from None
    return regopy


def _interpreter(regopy: Any) -> Any:
    rego = regopy.Interpreter()
    # rego-cpp prints its errors on stdout unless told not to: that would corrupt
    # --format json. The errors come back in the exception / output anyway.
    rego.log_level = regopy.LogLevel.NONE
    return rego


def _first_error(text: str, source: str) -> tuple[int, str]:
    """(line, message) of the first error rego-cpp reports, from its byte offset."""
    m = _ERROR.search(text)
    if m is None:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return 0, (lines[0] if lines else "rego-cpp refused it")[:200]
    offset, length = int(m.group(1)), int(m.group(2))
    message = text[m.end():m.end() + length]
    line = source.encode("utf-8")[:offset].count(b"\n") + 1
    return line, message


@attrs.frozen
class RegoPolicy:
    """One Rego module, parsed once when loaded."""

    path: str
    package: str
    source: str = attrs.field(repr=False)

    @property
    def name(self) -> str:
        return f"rego {self.path}"


def parse(source: str, path: str) -> RegoPolicy:
    """Compile ``source`` now, so a broken policy is exit 2 naming its line before
    anything is verified."""
    regopy = _regopy()
    rego = _interpreter(regopy)
    try:
        rego.add_module(path, source)
    except regopy.RegoError as e:
        line, message = _first_error(str(e), source)
        where = f"{path}:{line}" if line else path
        raise InputError(f"rego policy {where}: {message}") from None
    m = _PACKAGE.search(source)
    if m is None:
        raise InputError(f"rego policy {path}: no package declaration")
    policy = RegoPolicy(path=path, package=m.group(1), source=source)
    # A module must decide through one of the known rules. Read from the source, since a
    # rule without a default is undefined until an input satisfies it.
    if not _DEFINES.search(source):
        raise InputError(f"rego policy {path}: package {policy.package} defines none of "
                         f"{', '.join(RULES)}: it decides nothing",
                         hint="cosign: package sigstore with isCompliant or result; "
                         "witness: deny rules that return messages")
    return policy


def load(path: str) -> RegoPolicy:
    from attester.jsonio import read_bytes

    raw = read_bytes(path, what="rego policy")
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"rego policy {path}: not UTF-8 text") from None
    return parse(source, path)


def _query(policy: RegoPolicy, value: Any) -> dict[str, Any]:
    """The package's document for ``input = value``; an evaluation error raises
    :class:`_EvalError`."""
    regopy = _regopy()
    rego = _interpreter(regopy)
    rego.add_module(policy.path, policy.source)
    try:
        rego.set_input(regopy.Input(value))
        out = rego.query(f"x := data.{policy.package}")
        ok = out.ok()
        text = str(out)
        results = out.results if ok else []
    except regopy.RegoError as e:
        ok, text, results = False, str(e), []
    except ValueError as e:  # regopy reads rego-cpp's answer as JSON, which it may not be:
        # error text, or (rego-cpp 1.5.2) sprintf("%s") of a default string left quoted
        raise _EvalError(f"rego-cpp's answer is not JSON ({e})") from None
    if not ok or not results:
        line, message = _first_error(text, policy.source)
        where = f"line {line}: " if line else ""
        raise _EvalError(where + (message if message != "<error>" else "rego-cpp refused it"))
    bindings = getattr(results[0], "bindings", None)
    doc = bindings.get("x") if isinstance(bindings, Mapping) else None
    return dict(doc) if isinstance(doc, Mapping) else {}


class _EvalError(Exception):
    pass


def _messages(value: Any) -> list[str]:
    """Messages of a deny rule: a string, a list or set of them, or (rego-cpp's reading
    of a pre-1.0 ``deny[msg] { ... }``) an object of message -> true."""
    if value is None or value is False:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [str(k) for k, v in value.items() if v is True]
    if isinstance(value, list):
        return [v if isinstance(v, str) else str(v) for v in value]
    return [f"deny is {value!r}"]


def decide(doc: Mapping[str, Any]) -> tuple[bool, list[str], list[str]]:
    """(allowed, reasons it is not, warnings) from the package's document. Every rule the
    package defines must allow."""
    errors: list[str] = []
    warnings: list[str] = []
    if "result" in doc:
        result = doc["result"]
        if not isinstance(result, Mapping):
            errors.append(f"result is {type(result).__name__}, not an object with allow")
        else:
            errs = _messages(result.get("errors"))
            warnings += _messages(result.get("warnings"))
            if result.get("allow") is not True:
                errors += errs or [f"result.allow is {result.get('allow')!r}, not true"]
            else:
                errors += errs
    for rule in ("isCompliant", "allow"):
        if rule in doc and doc[rule] is not True:
            errors.append(f"{rule} is {doc[rule]!r}, not true")
    if "deny" in doc:
        errors += _messages(doc["deny"])
    return not errors, errors, warnings


def evaluate(policy: RegoPolicy, statement: Mapping[str, Any],
             signer: Mapping[str, Any] | None) -> Check:
    """The policy's verdict on a verified statement and its signer: one check."""
    if SIGNER_KEY in statement:
        return Check(policy.name, False, f"the statement carries its own top-level "
                     f"{SIGNER_KEY!r}; policies read input.{SIGNER_KEY} as the verified "
                     "signer, so no statement may supply one")
    value = {**statement, SIGNER_KEY: dict(signer or {})}
    try:
        doc = _query(policy, value)
    except _EvalError as e:
        return Check(policy.name, False, f"evaluation failed: {e}")
    if not any(rule in doc for rule in RULES):
        return Check(policy.name, False, f"package {policy.package} decided nothing "
                     f"({', '.join(RULES)} all undefined)")
    ok, errors, warnings = decide(doc)
    if not ok:
        return Check(policy.name, False, "denied: " + "; ".join(errors))
    extra = f" (warnings: {'; '.join(warnings)})" if warnings else ""
    return Check(policy.name, True, f"package {policy.package} allows{extra}")
