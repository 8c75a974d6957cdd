"""What every command shares: the clock, status lines, and the store flags."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def say(args: argparse.Namespace, message: str) -> None:
    """A status line on stderr (what was written, how much), unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        from attester.display import safe

        print(safe(message), file=sys.stderr)  # names in it come from the command line


def add_quiet(p: argparse._ActionsContainer) -> None:
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress meter and no status line on stderr (errors still print)")


def to_file(output: str | None) -> bool:
    return output is not None and output != "-"


def store_options(args: argparse.Namespace) -> dict[str, Any]:
    from attester.parallel import DEFAULT_JOBS

    return {"insecure": getattr(args, "insecure_registry", False),
            "platforms": getattr(args, "oci_platforms", False),
            "jobs": getattr(args, "jobs", None) or DEFAULT_JOBS,
            "progress": not getattr(args, "quiet", False)}


def add_store_flags(p: argparse._ActionsContainer) -> None:
    from attester.parallel import DEFAULT_JOBS, REGISTRY_JOBS, jobs_arg

    p.add_argument("--oci-platforms", action="store_true",
                   help="oci://: also list each platform manifest of a multi-arch index")
    p.add_argument("--insecure-registry", action="store_true",
                   help="oci://: allow plain HTTP to a non-loopback registry")
    p.add_argument("--jobs", type=jobs_arg, default=None, metavar="N",
                   help="registries and remote stores (oci://, gs://, github-release://): "
                   f"requests in flight at once (default {DEFAULT_JOBS}; {REGISTRY_JOBS} for "
                   "the images of a promotion)")
