"""The ``attest`` command. The only place that turns errors into exit codes.

Exit codes: 0 success; 1 verification failed; 2 usage or input error. Every failure
is one line on stderr saying what and where; ``--debug`` adds the traceback.

Each command lives in its own module (``attester.cli.verify``...) with its flags beside its
handler; this module composes them and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from attester import __version__
from attester.cli.parsing import Parser, command_list, did_you_mean
from attester.errors import AttesterError, UsageError, missing_extra

__all__ = ["build_parser", "entry", "main", "parse_args"]

EXAMPLES = """\
examples (the release flow):
  attest keygen --type ecdsa-p256 --out release
  attest provenance local:// --artifacts file://dist --output prov.json
  attest sign prov.json --key release.key --output prov.intoto.json
  attest verify prov.intoto.json --key release.pub --artifact dist/bin/kubectl \\
      --source-uri github.com/example/project

exit codes: 0 ok, 1 verification failed, 2 usage or input error
"""

#: Command name -> its module under ``attester.cli``, in the order ``attest --help`` lists
#: them. A command line naming one imports only that one's module (10-20 ms less of a
#: start-up that every ``attest`` in a release job pays); help and typos import all.
COMMANDS = {"keygen": "keygen", "start": "start", "provenance": "provenance", "sign": "sign",
            "verify": "verify", "trusted-root": "trusted_root", "download": "download",
            "upload": "upload", "attach": "attach", "promote": "promote", "audit": "audit",
            "policy": "policy"}


def _strip_debug(argv: Sequence[str]) -> tuple[list[str], bool]:
    """Take ``--debug`` out wherever it is (before ``--``), as ``--help`` is accepted."""
    out: list[str] = []
    debug = False
    for i, arg in enumerate(argv):
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg == "--debug":
            debug = True
        else:
            out.append(arg)
    return out, debug


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse a command line; a flag the subcommand does not know is reported with that
    subcommand's usage and the closest flag it does know."""
    parser = build_parser(only=argv[0] if argv else None)
    args, extras = parser.parse_known_args(argv)
    if extras:
        sub = _subcommands(parser).get(getattr(args, "command", None) or "", parser)
        raise UsageError(f"{sub.prog}: unrecognized arguments: {' '.join(extras)}",
                         hint=did_you_mean(sub, extras) or f"see '{sub.prog} --help'")
    return args


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # see _option_strings: no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def build_parser(*, only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``only`` a command's name, that command alone."""
    import importlib

    fmt = argparse.RawDescriptionHelpFormatter
    parser = Parser(prog="attest", description="Produce, sign and verify SLSA provenance.",
                    epilog=EXAMPLES, formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"attest {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks on errors (accepted anywhere on the line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    for name in [only] if only in COMMANDS else COMMANDS:
        importlib.import_module(f"attester.cli.{COMMANDS[name]}").register(sub)
    return parser


#: Commands whose --format json is a verification report: an error is JSON there too.
JSON_REPORTS = ("verify", "audit")


def _wants_json(argv: Sequence[str]) -> bool:
    if not argv or argv[0] not in JSON_REPORTS:
        return False
    return "--format=json" in argv or any(
        a == "--format" and argv[i + 1:i + 2] == ["json"] for i, a in enumerate(argv))


def _fail(argv: Sequence[str], message: str, code: int, *, internal: bool = False) -> int:
    """One line on stderr; with --format json, the same as JSON on stdout, so a program
    reading stdout learns why there is no report (exit 2 as much as exit 1)."""
    print(f"attest: {'internal error' if internal else 'error'}: {message}", file=sys.stderr)
    if _wants_json(argv):
        import json

        print(json.dumps({"verified": False, "exitCode": code, "error": message}, indent=2))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    from attester.display import safe

    argv, debug = _strip_debug(list(sys.argv[1:] if argv is None else argv))
    if not argv:  # plain `attest`: what it can do, not a usage line
        print(f"usage: attest COMMAND [--help]\n\ncommands:\n{command_list(build_parser())}\n\n"
              "attest COMMAND --help shows its flags and examples", file=sys.stderr)
        return 2
    try:
        args = parse_args(argv)
    except UsageError as e:  # the command line itself: no traceback is of any use
        return _fail(argv, safe(e.diagnostics()), e.exit_code)
    args.debug = debug
    try:
        code: int = args.func(args)
        return code
    except AttesterError as e:
        if debug:
            traceback.print_exc()
        return _fail(argv, safe(e.diagnostics()), e.exit_code)
    except KeyboardInterrupt:
        print("attest: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 2
    except Exception as e:  # noqa: BLE001 - last resort: one line, not a traceback
        if debug:
            traceback.print_exc()
        extra = missing_extra(e) if isinstance(e, (ImportError, LookupError)) else None
        if extra is not None:  # an optional dependency not installed: say which extra
            return _fail(argv, safe(extra.diagnostics()), extra.exit_code)
        return _fail(argv, f"{type(e).__name__}: {safe(e)} (rerun with --debug)", 2,
                     internal=True)


def entry() -> NoReturn:
    """The ``attest`` command (and ``python -m attester``): :func:`main`, then leave
    without the interpreter's teardown. Everything a command writes is written, atomically,
    before it returns; what is left is freeing thousands of objects of the libraries a
    verification loads (sigstore, pydantic, cryptography), 30-50 ms of a 0.5 s
    ``verify --attestations`` run (bench/verify_many_bench.py). Both streams are flushed
    first; a reader that went away (``| head``) costs nothing more."""
    import contextlib
    import gc
    import os

    # A young-generation collection every 50,000 allocations instead of 700: start-up
    # builds hundreds of thousands of objects (pydantic models, attrs classes, certificate
    # objects) that are nearly all kept, so most collections found nothing; 5-10% of a
    # verify --attestations run (bench/verify_many_bench.py). Cycles are still collected.
    gc.set_threshold(50_000, 20, 20)
    try:
        code = main()
    except SystemExit as e:  # --help and --version end through argparse's sys.exit
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 2
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader went away (| head): what it read is all it wanted
    except (OSError, ValueError) as e:  # a full disk: the report is incomplete, say so
        code = code or 2
        with contextlib.suppress(OSError, ValueError):
            print(f"attest: error: writing the output failed: {e}", file=sys.stderr)
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)
