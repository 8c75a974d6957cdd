"""``attest verify --vsa-out``: a signed verification summary of what passed."""

from __future__ import annotations

import argparse
import hashlib
from typing import Any

from attester.cli.common import say, utc_now
from attester.errors import UsageError


def vsa_signer(args: argparse.Namespace) -> Any:
    """The --vsa-key signer, loaded before anything is verified: a key that cannot sign
    (a public key, a wrong passphrase) is refused up front, never after 'verified' was
    printed. None for --vsa-keyless (its token is fetched when it signs)."""
    from attester.signing.signers.keyfile import KeyFileSigner

    return KeyFileSigner.from_file(args.vsa_key) if args.vsa_out and args.vsa_key else None


def write_vsa(args: argparse.Namespace, report: Any, signer: Any = None) -> None:
    """Sign and write a VSA for what this run verified (only ever after a pass)."""
    from attester.jsonio import dumps_compact, dumps_pretty, read_bytes, write_output
    from attester.release import vsa
    from attester.signing.dsse import IN_TOTO_PAYLOAD_TYPE
    from attester.signing.signers import sign_envelope
    from attester.signing.signers.keyfile import KeyFileSigner

    stmt = report.statement
    if stmt is None:
        raise UsageError("--vsa-out summarizes a verified statement; this run verified none")
    if not report.inputs:  # every one-attestation path digests what it verified
        raise UsageError("--vsa-out: this run recorded no digest of the attestation it "
                         "verified")
    subjects = [(s.name, s.digest["sha256"]) for s in stmt.subjects() if "sha256" in s.digest]
    if not subjects:  # (redteam: subjects[0] below was an IndexError, "internal error")
        raise UsageError("--vsa-out: the verified statement names no subject by sha256, "
                         "which a verification summary's subject needs")
    from attester.model.statement import PROVENANCE_TYPES

    # SLSA Build L1 is "provenance exists and was verified": only SLSA provenance shows
    # it (redteam: an SBOM or any predicate verified with --vsa-out got a summary saying
    # SLSA_BUILD_LEVEL_1, which verify --verified-level SLSA_BUILD_LEVEL_1 then passed)
    levels = ("SLSA_BUILD_LEVEL_1",) if stmt.predicate_type in PROVENANCE_TYPES else ()
    flags = {k: v for k, v in sorted(vars(args).items())
             if k.startswith(("builder", "source", "build_type", "predicate", "certificate",
                              "owner", "repo", "signer")) and v}
    policy_uri = args.policy or "attest verify " + " ".join(f"--{k.replace('_', '-')}={v}"
                                                            for k, v in flags.items())
    digest = (vsa.policy_digest(flags) if not args.policy else
              hashlib.sha256(read_bytes(args.policy)).hexdigest())
    statement = vsa.build_vsa(
        subjects=subjects, resource_uri=(args.artifact or [subjects[0][0]])[0],
        policy_uri=policy_uri, policy_digest=digest,
        inputs=report.inputs, now=utc_now(), levels=levels)
    payload = dumps_pretty(statement.to_json())
    if args.vsa_keyless:
        from attester.signing.signers import keyless

        out = keyless.sign_statement(payload, token=keyless.identity_token(None),
                                     trust_config=args.vsa_trust_config, staging=args.staging)
    else:
        env = sign_envelope(IN_TOTO_PAYLOAD_TYPE, payload,
                            [signer or KeyFileSigner.from_file(args.vsa_key)])
        out = dumps_compact(env.to_json())
    write_output(out + b"\n", args.vsa_out)
    say(args, f"wrote a signed verification summary to {args.vsa_out}")
