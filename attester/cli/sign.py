"""``attest sign``: a statement's exact bytes into a DSSE envelope or Sigstore bundle."""

from __future__ import annotations

import argparse
import os

from attester.cli.common import add_quiet, say, to_file
from attester.cli.parsing import Subcommands
from attester.errors import InputError, UsageError


def run(args: argparse.Namespace) -> int:
    from attester.jsonio import dumps_compact, parse_json, read_bytes, write_output
    from attester.model import schemas
    from attester.signing.dsse import IN_TOTO_PAYLOAD_TYPE, looks_like_envelope
    from attester.signing.signers import sign_envelope
    from attester.signing.signers.keyfile import KeyFileSigner

    if not args.key and not args.keyless and not args.kms:
        raise UsageError("nothing to sign with", hint="pass --key KEY, --kms URI or --keyless")
    if to_file(args.output) and os.path.exists(args.output):  # never written over a key
        for key in args.key or []:
            if os.path.exists(key) and os.path.samefile(key, args.output):
                raise UsageError(f"--output {args.output} is the signing key --key {key}: "
                                 "writing the envelope there would destroy the key",
                                 hint="name the signed file, e.g. -o statement.intoto.json")
    if (args.key or args.kms) and args.keyless:
        raise UsageError("--key and --keyless are exclusive: a Sigstore bundle holds one "
                         "signature")
    if not args.keyless:  # keyless-only flags next to a key: refused, never dropped (redteam)
        unused = next((flag for flag, given in (("--identity-token", args.identity_token),
                                                ("--trust-config", args.trust_config),
                                                ("--staging", args.staging)) if given), None)
        if unused is not None:
            raise UsageError(f"{unused} applies to --keyless signing; a key signs without it",
                             hint="drop it, or sign with --keyless")
    payload = read_bytes(args.statement, what="statement")
    doc = parse_json(payload, where=f"statement {args.statement}")
    if looks_like_envelope(doc):
        raise InputError(f"statement {args.statement}: is already a DSSE envelope; "
                         "sign the statement it wraps")
    if not isinstance(doc, dict):
        raise InputError(f"statement {args.statement}: expected a JSON object")
    schemas.validate_statement(doc, where=f"statement {args.statement}")
    pep740 = args.format == "pep740"
    if pep740:
        from attester.model.pep740 import statement_problem

        if not args.keyless:
            raise UsageError("--format pep740 writes a keyless signature: pass --keyless",
                             hint="PyPI accepts PEP 740 attestations signed by its trusted "
                             "publishers' OIDC identities")
        problem = statement_problem(doc)
        if problem is not None:
            raise InputError(f"statement {args.statement}: not for PyPI: {problem}")
    if args.keyless:
        from attester.signing.signers import keyless

        token = keyless.identity_token(args.identity_token)
        bundle = keyless.sign_statement(payload, token=token, trust_config=args.trust_config,
                                        staging=args.staging, rekor_v1=pep740)
        if pep740:
            from attester.signing.pep740 import from_bundle

            write_output(from_bundle(bundle) + b"\n", args.output)
            if to_file(args.output):
                say(args, f"wrote {args.output}: PEP 740 attestation, 1 keyless signature "
                    "logged in Rekor (for twine upload --attestations)")
            return 0
        write_output(bundle + b"\n", args.output)
        if to_file(args.output):
            say(args, f"wrote {args.output}: Sigstore bundle, 1 keyless signature logged "
                "in Rekor")
        return 0
    from attester.signing.signers.interface import Signer
    from attester.signing.signers.kms import KmsSigner

    signers: list[Signer] = [KeyFileSigner.from_file(k) for k in args.key or []]
    signers += [KmsSigner.from_uri(u) for u in args.kms or []]
    named = [*(args.key or []), *(args.kms or [])]
    seen: dict[str, str] = {}
    for name, signer in zip(named, signers, strict=True):
        if signer.keyid in seen:  # two signatures by one key would pass as two signers
            raise UsageError(f"{name} is the same key as {seen[signer.keyid]} (keyid "
                             f"{signer.keyid}); give each signing key once")
        seen[signer.keyid] = name
    # Sign the file's exact bytes: what was reviewed is what gets signed.
    env = sign_envelope(IN_TOTO_PAYLOAD_TYPE, payload, list(signers))
    write_output(dumps_compact(env.to_json()) + b"\n", args.output)
    if to_file(args.output):
        say(args, f"wrote {args.output}: DSSE envelope, {len(signers)} signature(s) "
            f"(keyid {', '.join(s.keyid for s in signers)})")
    return 0


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("sign", help="sign a statement into a DSSE envelope",
                       formatter_class=fmt,
                       description="Validate STATEMENT, then sign its exact bytes into a "
                       "DSSE envelope (payloadType application/vnd.in-toto+json).",
                       epilog="example:\n  attest sign prov.json --key release.key "
                       "--output prov.intoto.json")
    p.add_argument("statement", metavar="STATEMENT",
                   help="in-toto statement JSON, e.g. from 'attest provenance'")
    p.add_argument("--key", action="append", metavar="KEY",
                   help="PEM private key (repeatable: one signature each); passphrase "
                   "from ATTEST_PASSPHRASE")
    p.add_argument("--kms", action="append", metavar="URI",
                   help="key held in a KMS: gcpkms://projects/P/locations/L/keyRings/R/"
                   "cryptoKeys/K/cryptoKeyVersions/V, awskms:..., azurekms:..., "
                   "hv:NAME[/VERSION] (HashiCorp Vault transit; newest version without "
                   "one) (repeatable; extra [kms])")
    p.add_argument("--keyless", action="store_true",
                   help="Sigstore keyless: sign as the CI's OIDC identity; writes a Sigstore "
                   "bundle (name it *.sigstore.json)")
    p.add_argument("--identity-token", metavar="JWT",
                   help="OIDC token for --keyless (else SIGSTORE_ID_TOKEN, else ambient CI "
                   "credentials)")
    p.add_argument("--staging", action="store_true", help="--keyless against Sigstore staging")
    p.add_argument("--trust-config", metavar="FILE",
                   help="--keyless against a custom Sigstore instance (ClientTrustConfig JSON)")
    p.add_argument("--format", choices=["pep740"],
                   help="pep740: with --keyless, write a PEP 740 attestation object instead of "
                   "the Sigstore bundle, for PyPI (name it DIST.publish.attestation for twine "
                   "upload --attestations); the statement must have one subject, the dist")
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    add_quiet(p)
    p.set_defaults(func=run)
