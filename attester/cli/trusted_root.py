"""``attest trusted-root``: a Sigstore trusted root for offline verification."""

from __future__ import annotations

import argparse

from attester.cli.common import add_quiet, say
from attester.cli.parsing import Subcommands


def run(args: argparse.Namespace) -> int:
    from attester.jsonio import write_output
    from attester.verify.sigstore import trustroot

    fetched = trustroot.fetch(args.instance, offline=args.offline)
    root = trustroot.check(fetched.data, f"trusted root from the {fetched.source}")
    write_output(fetched.data, args.output)
    where = args.output if args.output and args.output != "-" else "stdout"
    tsas = len(root.get_timestamp_authorities())
    say(args, f"wrote the {args.instance} trusted root to {where} "
        f"({len(root.get_fulcio_certs())} Fulcio certificate(s), {len(root._inner.tlogs)} "
        f"transparency log(s), {tsas} timestamp authorit{'y' if tsas == 1 else 'ies'}) "
        f"from the {fetched.source}")
    return 0


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("trusted-root", help="write a Sigstore trusted root for offline "
                       "verification", formatter_class=fmt,
                       description="Write the trusted root of Sigstore's public-good or "
                       "staging instance (from its TUF repository when the network allows, "
                       "else the copy embedded in the sigstore package) or of GitHub's own "
                       "trust domain (embedded copy), saying which. Verify with it later: "
                       "attest verify ... --trusted-root FILE --offline.",
                       epilog="examples:\n  attest trusted-root -o trusted_root.json\n"
                       "  attest trusted-root --instance github -o trusted_root.github.json\n"
                       "  attest trusted-root --instance staging --offline -o staging.json")
    p.add_argument("--instance", choices=["public-good", "staging", "github"],
                   default="public-good", help="whose trusted root (default public-good)")
    p.add_argument("--offline", action="store_true",
                   help="no network: write the embedded copy")
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    add_quiet(p)
    p.set_defaults(func=run)
