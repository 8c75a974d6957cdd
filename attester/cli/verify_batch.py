"""``attest verify --artifacts STORE --attestations DIR``: a whole release in one call.

Which other flags apply is declared in :mod:`attester.cli.verify_modes` (``Mode.BATCH``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def warm_up(trust: Any) -> None:
    """What the first Sigstore bundle would load, loaded while the artifacts hash: the
    trusted root (parsed once) and the verifier's libraries."""
    if trust.identity is None:
        return
    from attester.verify.sigstore.trustroot import load_trusted_root

    load_trusted_root(trust.trusted_root_path, offline=trust.offline,
                      staging=trust.staging)
    import sigstore.verify  # noqa: F401 - imported now, in parallel with hashing


def verify_batch(args: argparse.Namespace, trust: Any, demands: Any) -> int:
    from attester.cli.common import store_options
    from attester.parallel import DEFAULT_JOBS
    from attester.verify import batch, checker

    def verify(data: bytes, where: str, d: Any, blob: Any) -> Any:
        return checker.verify_bytes(data, where, trust, d, blob=blob)

    report = batch.verify_release(
        args.artifacts, args.attestations, demands, verify, options=store_options(args),
        require_complete=args.require_complete, jobs=args.jobs or DEFAULT_JOBS,
        progress=not args.quiet,
        warm_up=lambda: warm_up(trust))
    print_batch(report, args.format, quiet=args.quiet)
    return 0 if report.ok else 1


def print_batch(report: Any, fmt: str, *, quiet: bool = False) -> None:
    """One line per artifact on stdout (or one object each, in JSON); every failure also
    on stderr, one line each, saying which attestation and which check."""
    from attester.display import safe
    from attester.jsonio import dumps_report

    if fmt == "json":
        sys.stdout.buffer.write(dumps_report(report.to_json()))
    out: list[str] = []
    err: list[str] = []
    for a in report.artifacts:
        if a.status == "ok":
            how = "; ".join(f"{c.attestation}: {c.check.detail}" for c in a.claims)
            out.append(f"ok    {safe(a.name)}: {safe(how)}")
        elif a.status == "unattested":
            out.append(f"none  {safe(a.name)}: no attestation claims it")
        else:
            bad = a.failures()
            first = bad[0]
            out.append(f"FAIL  {safe(a.name)}: " + (f"{safe(first.attestation)}: "
                       if first.attestation else "") +
                       f"{safe(first.check.name)}: {safe(first.check.detail)}")
            err.extend(f"attest: verification FAILED for {safe(a.name)}: " +
                       (f"{safe(c.attestation)}: " if c.attestation else "") +
                       f"{safe(c.check.name)}: {safe(c.check.detail)}" for c in bad)
    for p in report.problems:
        line = f"{safe(p.attestation)}: {safe(p.check.name)}: {safe(p.check.detail)}"
        out.append(f"FAIL  attestation {line}")
        err.append(f"attest: verification FAILED for attestation {line}")
    s = report.to_json()["summary"]
    out.append(f"{'verified' if report.ok else 'FAILED'}: {s['artifacts']} artifact(s), "
               f"{s['ok']} ok, {s['failed']} failed, {s['unattested']} without attestation; "
               f"{s['attestations']} attestation(s), {s['problems']} not usable")
    if fmt != "json" and not quiet:  # --quiet: the exit code and stderr's failures say it
        print("\n".join(out))
    if err:
        print("\n".join(err), file=sys.stderr)
