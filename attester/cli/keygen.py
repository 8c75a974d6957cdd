"""``attest keygen``: a signing key pair, or the public half of a KMS key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attester.cli.common import add_quiet, say
from attester.cli.parsing import Subcommands
from attester.errors import UsageError


def run(args: argparse.Namespace) -> int:
    from attester.jsonio import atomic_write
    from attester.signing import keys

    prefix = Path(args.out)
    key_path, pub_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    if args.kms:
        from attester.signing.signers.kms import KmsSigner

        if pub_path.exists() and not args.force:
            raise UsageError(f"{pub_path} already exists", hint="pass --force")
        kms = KmsSigner.from_uri(args.kms)
        atomic_write(pub_path, keys.public_pem(kms.public))
        say(args, f"wrote {pub_path}: the public key of {args.kms} (keyid {kms.keyid})")
        return 0
    if not args.force:
        for p in (key_path, pub_path):
            if p.exists():
                raise UsageError(f"{p} already exists; refusing to overwrite a key",
                                 hint="pass --force or choose another --out")
    key = keys.generate(args.type)
    passphrase = keys.passphrase_from_env()
    atomic_write(key_path, keys.private_pem(key, passphrase), mode=0o600)
    atomic_write(pub_path, keys.public_pem(key.public_key()), mode=0o644)
    state = "encrypted with ATTEST_PASSPHRASE" if passphrase else "NOT encrypted"
    # Two status lines, each escaped on its own (one string would show its \n as \x0a).
    say(args, f"wrote {key_path} ({args.type}, {state}) and {pub_path}")
    say(args, f"keyid {keys.keyid(key.public_key())}")
    if not passphrase:  # a warning, not a status line: --quiet keeps it
        from attester.display import safe

        print(f"attest: warning: {safe(key_path)} is not encrypted: anyone who can read it can "
              "sign as you (set ATTEST_PASSPHRASE to encrypt it, as cosign prompts to)",
              file=sys.stderr)
    return 0


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("keygen", help="create a signing key pair", formatter_class=fmt,
                       description="Write PREFIX.key (PKCS#8 PEM, encrypted when "
                       "ATTEST_PASSPHRASE is set) and PREFIX.pub (PEM public key).",
                       epilog="examples:\n  attest keygen --out signer   "
                       "# signer.key, NOT encrypted: keep it secret\n"
                       "  ATTEST_PASSPHRASE='a long passphrase' attest keygen --type ed25519 "
                       "--out second")
    p.add_argument("--type", default="ecdsa-p256",
                   choices=["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072"],
                   help="key algorithm (default: ecdsa-p256, as cosign)")
    p.add_argument("--out", default="attest", metavar="PREFIX",
                   help="write PREFIX.key and PREFIX.pub (default: attest)")
    p.add_argument("--force", action="store_true", help="overwrite existing key files")
    p.add_argument("--kms", metavar="URI", help="write only PREFIX.pub: the public key of "
                   "this KMS key (see 'attest sign --kms')")
    add_quiet(p)
    p.set_defaults(func=run)
