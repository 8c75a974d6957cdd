#!/usr/bin/env python3
"""Verifying a whole release: ``attest verify --artifacts --attestations`` (one process)
against ``sigstore verify identity`` of the sigstore package over the same files (one
process) and against one ``attest verify`` process per file, in one run.

Writes N files (default 200) of log-uniform sizes from 1 KB to 5 MB (about 100 MB), signs
them all with ``sigstore sign`` in one process against the Sigstore stand-in
(tests/sigstore_standin.py: Fulcio, Rekor, OIDC on 127.0.0.1), giving each its keyless
bundle NAME.sigstore.json, then times, interleaved, ``--runs`` times each:
  attest verify --artifacts file://DIR --attestations DIR --trusted-root ROOT --offline
      --certificate-identity ID --certificate-oidc-issuer ISSUER
  sigstore --trust-config TRUST verify identity --offline --cert-identity ID
      --cert-oidc-issuer ISSUER FILE ...          (the same trust, identity and issuer)
and once, one ``attest verify FILE.sigstore.json --artifact FILE ...`` process per file.
Both sides are offline, and both are fresh processes, so start-up counts. Prints every
run (wall and CPU seconds), the medians, attest's peak RSS and the ratios (targets:
>= 1.5x sigstore, >= 20x the per-file loop, peak RSS < 200 MB), and the load average.

  python3 bench/verify_many_bench.py            # 200 files, 5 interleaved runs each
  python3 bench/verify_many_bench.py --smoke    # 8 small files, one run: checks the bench
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from _compare import compiled, ratio_line, verdict  # noqa: E402 - bench/ is sys.path[0]

from sigstore_standin import SigstoreStandIn  # noqa: E402

ATTEST = [sys.executable, "-m", "attester"]
SIGSTORE = [str(Path(sys.executable).with_name("sigstore"))]
IDENTITY = "release-bot@example.com"


def measured(cmd: list[str]) -> tuple[float, float, int, str]:
    """(wall s, CPU s of the process, its peak RSS in KiB, stdout) of one run of ``cmd``."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed (exit {p.returncode}):\n{text[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, text


def make_release(folder: Path, n: int, low: int, high: int) -> int:
    """N files of log-uniform sizes in [low, high] bytes; their total size."""
    rng = random.Random(20)
    folder.mkdir(parents=True)
    total = 0
    for i in range(n):
        size = int(10 ** rng.uniform(math.log10(low), math.log10(high)))
        (folder / f"pkg-{i:03d}.tar.gz").write_bytes(os.urandom(size))
        total += size
    return total


def sign_all(standin: SigstoreStandIn, work: Path, files: list[Path]) -> None:
    t0 = time.perf_counter()
    p = subprocess.run([*SIGSTORE, "--trust-config", str(work / "trust.json"), "sign",
                        "--identity-token", standin.token(IDENTITY), *map(str, files)],
                       capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"sigstore sign failed:\n{p.stderr[-2000:]}")
    print(f"signed {len(files)} files with one `sigstore sign` in "
          f"{time.perf_counter() - t0:.1f} s")


def show(name: str, runs: list[tuple[float, float]]) -> str:
    walls = [w for w, _ in runs]
    cpus = [c for _, c in runs]
    return (f"{name:<34} wall median {statistics.median(walls):.3f} s "
            f"(min {min(walls):.3f}, max {max(walls):.3f}), CPU median "
            f"{statistics.median(cpus):.3f} s over {len(runs)} run(s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="8 files of 1-20 KB, one run")
    args = ap.parse_args()
    compiled()  # attester's bytecode, as an installed package has it
    n, low, high, runs = args.files, 1000, 5_000_000, args.runs
    if args.smoke:
        n, low, high, runs = 8, 1000, 20_000, 1
    with tempfile.TemporaryDirectory(prefix="verify-many-") as tmp, SigstoreStandIn() as standin:
        work = Path(tmp)
        dist = work / "dist"
        total = make_release(dist, n, low, high)
        files = sorted(dist.iterdir())
        print(f"{n} files, {total / 1e6:.1f} MB ({min(f.stat().st_size for f in files)} B "
              f"to {max(f.stat().st_size for f in files) / 1e6:.2f} MB)")
        (work / "trust.json").write_text(json.dumps(standin.trust_config()))
        (work / "root.json").write_text(json.dumps(standin.trusted_root()))
        sign_all(standin, work, files)
        trust = ["--trusted-root", str(work / "root.json"), "--offline",
                 "--certificate-identity", IDENTITY, "--certificate-oidc-issuer",
                 standin.issuer]
        attest = [*ATTEST, "verify", "--artifacts", f"file://{dist}", "--attestations",
                  str(dist), *trust, "--quiet"]
        sigstore = [*SIGSTORE, "--trust-config", str(work / "trust.json"), "verify",
                    "identity", "--offline", "--cert-identity", IDENTITY,
                    "--cert-oidc-issuer", standin.issuer, *map(str, files)]
        # page cache warm, and each side's answer checked once before timing
        _, _, _, out = measured([a for a in attest if a != "--quiet"])  # --quiet prints nothing
        assert f"verified: {n} artifact(s), {n} ok" in out, out[-500:]
        measured(sigstore)
        a_runs: list[tuple[float, float]] = []
        s_runs: list[tuple[float, float]] = []
        peak = 0
        load0 = os.getloadavg()[0]
        for i in range(runs):
            w, c, rss, _ = measured(attest)
            a_runs.append((w, c))
            peak = max(peak, rss)
            w2, c2, _, _ = measured(sigstore)
            s_runs.append((w2, c2))
            print(f"run {i + 1}: attest {a_runs[-1][0]:.3f} s (CPU {c:.3f}), sigstore "
                  f"{w2:.3f} s (CPU {c2:.3f}): {w2 / a_runs[-1][0]:.2f}x")
        t0 = time.perf_counter()
        cpu_loop = 0.0
        for f in files:
            _, c, _, _ = measured([*ATTEST, "verify", f"{f}.sigstore.json", "--artifact",
                                   str(f), *trust, "--quiet"])
            cpu_loop += c
        loop = time.perf_counter() - t0
        load1 = os.getloadavg()[0]
    print(show("attest verify --attestations", a_runs))
    print(show("sigstore verify identity", s_runs))
    print(f"{'attest verify, one process per file':<34} {loop:.2f} s once "
          f"(CPU {cpu_loop:.2f} s, {loop / n:.3f} s per file)")
    print("vs sigstore: " + ratio_line([w for w, _ in s_runs], [w for w, _ in a_runs], 1.5))
    cpu_ratio = statistics.median([c for _, c in s_runs]) / statistics.median(
        [c for _, c in a_runs])
    print(f"  CPU: sigstore needs {cpu_ratio:.2f}x attest's")
    median_a = statistics.median([w for w, _ in a_runs])
    print(f"vs one process per file: {loop / median_a:.1f}x; target >= 20x: "
          f"{verdict(loop / median_a >= 20)}")
    print(f"attest peak RSS {peak / 1024:.0f} MB; target < 200 MB: "
          f"{verdict(peak < 200 * 1024)}")
    print(f"load average {load0:.1f} before the rounds, {load1:.1f} after; "
          f"{os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
