"""The argument parser: usage errors as one line, with "did you mean" for typos."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TypeAlias

from attester.errors import UsageError


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like every other usage error
        raise UsageError(f"{self.prog}: {message}",
                         hint=_closest_choice(message) or f"see '{self.prog} --help'")


def command_list(parser: argparse.ArgumentParser) -> str:
    """The commands and what each does, as ``attest --help`` lists them."""
    for action in parser._actions:  # see _option_strings: no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return "\n".join(f"  {c.dest:<14}{c.help}" for c in action._choices_actions)
    return ""


def _closest_choice(message: str) -> str | None:
    """'did you mean 'verify'?' for argparse's "invalid choice: 'verfy' (choose from ...)"."""
    import difflib
    import re

    m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if not m:
        return None
    choices = re.findall(r"'([^']*)'", m[2])
    close = difflib.get_close_matches(m[1], choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    # argparse offers no public list of a parser's flags (3.14's suggest_on_error only
    # covers choices); its actions are the one place they are all kept.
    return [o for a in parser._actions for o in a.option_strings if o.startswith("--")]


#: What gh, cosign and slsa-verifier call our flags: a user typing theirs gets ours.
OTHER_TOOLS = {
    "--public-key": "--key",                    # slsa-verifier verify-vsa, sigstore-python
    "--public-key-path": "--key",               # slsa-verifier
    "--type": "--predicate-type",               # cosign verify-attestation
    "--cert-identity": "--certificate-identity",  # gh attestation verify
    "--cert-identity-regex": "--certificate-identity-regexp",
    "--certificate-identity-regex": "--certificate-identity-regexp",
    "--cert-oidc-issuer-regex": "--certificate-oidc-issuer-regexp",
    "--custom-trusted-root": "--trusted-root",  # gh
    "--bundle-from-oci": "oci://IMAGE as ATTESTATION",
    "--print-provenance": "--print-statement",  # slsa-verifier
    "--attestation-path": "--bundle",           # slsa-verifier verify-vsa, verify-npm-package
    "--attestations-path": "--bundle",
    "--output": "--format",                     # gh -o/--format json
    "-o": "--format",
}


def _guess(flag: str, value: str | None, known: list[str]) -> str | None:
    import difflib

    other = OTHER_TOOLS.get(flag)
    if other and (other in known or not other.startswith("-")):
        return f"{other} {value}" if other == "--format" and value else other
    close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str | None:
    """The closest real flag for each mistyped one, e.g. 'did you mean --key?', knowing the
    names other tools give the same flag (``--public-key`` is ``--key``)."""
    known = [*_option_strings(parser), "--debug"]  # --debug is taken before parsing
    flags: list[tuple[str, str | None]] = []
    for i, arg in enumerate(extras):
        if arg.startswith("-") and arg != "-":
            name, eq, value = arg.partition("=")
            following = extras[i + 1] if i + 1 < len(extras) else None
            nxt = value if eq else following
            flags.append((name, nxt if nxt and not nxt.startswith("-") else None))
    guesses = [(f, _guess(f, v, known)) for f, v in flags]
    found = [(f, c) for f, c in guesses if c]
    if not found:
        return None
    if len(flags) == 1:
        return f"did you mean {found[0][1]}?"
    return "; ".join(f"{f}: did you mean {c}?" for f, c in found)


#: What each command module's ``register`` adds its subparser to.
Subcommands: TypeAlias = "argparse._SubParsersAction[Parser]"
