"""``attest attach``: a signed attestation as an OCI 1.1 referrer of an image."""

from __future__ import annotations

import argparse
import base64

from attester.cli.common import add_quiet, add_store_flags, say
from attester.cli.parsing import Subcommands
from attester.errors import InputError


def run(args: argparse.Namespace) -> int:
    from attester.jsonio import parse_json, read_bytes
    from attester.signing.dsse import looks_like_envelope, parse_envelope
    from attester.stores.oci_referrers import Target, attach
    from attester.verify import bundles

    data = read_bytes(args.attestation, what="attestation")
    doc = parse_json(data, where=f"attestation {args.attestation}")
    is_bundle = bundles.looks_like_bundle(doc)
    if is_bundle:
        payload = parse_json(base64.b64decode(doc.get("dsseEnvelope", {}).get("payload", ""))
                             or b"{}", where=args.attestation)
    elif looks_like_envelope(doc):
        payload = parse_json(parse_envelope(doc, where=args.attestation).payload,
                             where=f"attestation {args.attestation} payload")
    else:
        raise InputError(f"attestation {args.attestation}: attach signed attestations only "
                         "(a DSSE envelope or a Sigstore bundle)")
    target = Target.resolve(args.image, insecure=args.insecure_registry)
    digests = {s.get("digest", {}).get("sha256") for s in payload.get("subject", [])
               if isinstance(s, dict)}
    if target.digest.removeprefix("sha256:") not in digests:
        raise InputError(f"attestation {args.attestation} does not name {target.name} as a "
                         "subject; attaching it there would mislead")
    digest = attach(target, data, predicate_type=str(payload.get("predicateType", "")),
                    is_bundle=is_bundle)
    say(args, f"attached {args.attestation} to {target.name} as {digest}")
    return 0


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("attach", help="attach a signed attestation to an image (OCI 1.1 "
                       "referrer)", formatter_class=fmt,
                       description="Push ATTESTATION (DSSE envelope or Sigstore bundle) as an "
                       "OCI 1.1 referrer of the image; 'attest verify oci://REF' finds it.",
                       epilog="example:\n  attest attach "
                       "oci://registry.example/staging/app:v1.31.0 stage.intoto.json")
    p.add_argument("image", metavar="oci://REF",
                   help="the image, by tag or digest, e.g. oci://REGISTRY/REPO:TAG")
    p.add_argument("attestation", metavar="ATTESTATION",
                   help="signed attestation naming the image's digest as a subject")
    add_quiet(p)
    add_store_flags(p)
    p.set_defaults(func=run)
