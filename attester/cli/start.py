"""``attest start``: what the stores hold before a build, for ``provenance --snapshot``."""

from __future__ import annotations

import argparse

from attester.cli.common import add_quiet, add_store_flags, say, store_options, to_file, utc_now
from attester.cli.parsing import Subcommands
from attester.errors import UsageError


def run(args: argparse.Namespace) -> int:
    from attester.jsonio import dumps_pretty, write_output
    from attester.snapshot import Snapshot
    from attester.stores import open_store, snapshot_entries

    if not args.artifacts:
        raise UsageError("nothing to record", hint="pass --artifacts URI (repeatable)")
    created = utc_now()
    stores = {uri: snapshot_entries(open_store(uri, **store_options(args)),
                                    progress=not args.quiet)
              for uri in args.artifacts}
    write_output(dumps_pretty(Snapshot(created_on=created, stores=stores).to_json()),
                 args.output)
    total = sum(len(v) for v in stores.values())
    written = f"wrote {args.output}: " if to_file(args.output) else ""
    say(args, f"{written}recorded {total} existing artifact(s) in {len(stores)} store(s)")
    return 0


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("start", help="record what storage holds before a build",
                       formatter_class=fmt,
                       description="Record every artifact each store holds now (GCS "
                       "generation, OCI digest, or sha256 of files), so that 'attest "
                       "provenance --snapshot' attests only what the build adds or changes.",
                       epilog="example (with gs://BUCKET/PREFIX/ the same):\n"
                       "  attest start --artifacts file://dist --output before.json\n"
                       "  echo built > dist/new-tool     # ... the build runs ...\n"
                       "  attest provenance local:// --artifacts file://dist --snapshot "
                       "before.json")
    p.add_argument("--artifacts", action="append", metavar="URI",
                   help="store to record (repeatable)")
    p.add_argument("--output", "-o", metavar="SNAPSHOT", help="write here (default: stdout)")
    add_quiet(p)
    add_store_flags(p)
    p.set_defaults(func=run)
