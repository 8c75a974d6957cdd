"""The argument parser: usage errors as one line, with "did you mean" for typos."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TypeAlias

from attester.errors import UsageError


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like every other usage error
        self.print_usage(sys.stderr)
        raise UsageError(message, hint=_closest_choice(message))


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


def did_you_mean(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str | None:
    """The closest real flag for each mistyped one, e.g. 'did you mean --key?'."""
    import difflib

    known = [*_option_strings(parser), "--debug"]  # --debug is taken before parsing
    flags = [a.partition("=")[0] for a in extras if a.startswith("--")]
    guesses = [(f, difflib.get_close_matches(f, known, n=1, cutoff=0.6)) for f in flags]
    found = [(f, c[0]) for f, c in guesses if c]
    if not found:
        return None
    if len(flags) == 1:
        return f"did you mean {found[0][1]}?"
    return "; ".join(f"{f}: did you mean {c}?" for f, c in found)


#: What each command module's ``register`` adds its subparser to.
Subcommands: TypeAlias = "argparse._SubParsersAction[Parser]"
