"""``attest attach``: a signed attestation as an OCI 1.1 referrer of an image."""

from __future__ import annotations

import argparse
import base64

from attester.cli.common import add_quiet, say
from attester.cli.parsing import Subcommands
from attester.errors import InputError, UsageError


def run(args: argparse.Namespace) -> int:
    from attester.jsonio import Fields, parse_json, read_bytes
    from attester.signing.dsse import parse_envelope
    from attester.stores.oci_referrers import Target, attach
    from attester.verify import document

    if args.attestation.startswith("oci://") and not args.image.startswith("oci://"):
        raise UsageError("the image comes first: attest attach oci://REF ATTESTATION",
                         hint=f"attest attach {args.attestation} {args.image}")
    if not args.image.startswith("oci://"):
        raise UsageError(f"{args.image}: name the image as oci://REGISTRY/REPO[:TAG|@DIGEST]")
    where = f"attestation {args.attestation}"
    data = read_bytes(args.attestation, what="attestation")
    doc = parse_json(data, where=where)
    form = document.classify(doc)
    is_bundle = isinstance(form, document.SigstoreBundle)
    if is_bundle:
        envelope = Fields(doc, where).obj("dsseEnvelope")
        if envelope is None:
            raise InputError(f"{where}: a bundle without a dsseEnvelope; attach attestations, "
                             "not signatures of a file")
        try:
            raw = base64.b64decode(envelope.text("payload"), validate=True)
        except ValueError:
            raise InputError(f"{where}: field 'dsseEnvelope.payload' is not base64") from None
        payload = parse_json(raw, where=f"{where} payload")
    elif isinstance(form, document.DsseEnvelope):
        payload = parse_json(parse_envelope(doc, where=where).payload, where=f"{where} payload")
    else:
        raise InputError(f"{where}: attach signed attestations only (a DSSE envelope or a "
                         "Sigstore bundle)")
    statement = Fields(payload, f"{where} payload")
    digests = set()
    for subject in statement.objects("subject"):
        found = subject.obj("digest")
        digests.add(found.text("sha256", "") if found is not None else "")
    predicate_type = statement.text("predicateType", "")
    target = Target.resolve(args.image, insecure=args.insecure_registry)
    if target.digest.removeprefix("sha256:") not in digests:
        raise InputError(f"attestation {args.attestation} does not name {target.name} as a "
                         "subject; attaching it there would mislead")
    digest = attach(target, data, predicate_type=predicate_type, is_bundle=is_bundle)
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
    # Only the flag attach reads: it lists no platforms and makes one push (--oci-platforms
    # and --jobs were accepted here and never read).
    p.add_argument("--insecure-registry", action="store_true",
                   help="allow plain HTTP to a non-loopback registry")
    p.set_defaults(func=run)
