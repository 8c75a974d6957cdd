"""What the benches that race attest against a reference tool share: timing a command,
the spread of runs, and the ratio line. Not a bench itself (.ci/run skips bench/_*.py)."""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall-clock seconds of ``cmd`` (run from the checkout) and its stdout."""
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT,
                         env=env).stdout
    return time.perf_counter() - t0, out


def spread(times: list[float]) -> str:
    return (f"median {statistics.median(times):.2f} s, min {min(times):.2f}, "
            f"max {max(times):.2f} over {len(times)} run(s)")


def ratio_line(reference: list[float], attest: list[float], target: float) -> str:
    """The reference's median over attest's, each interleaved run's ratio, the verdict."""
    ratio = statistics.median(reference) / statistics.median(attest)
    pairs = [r / a for r, a in zip(reference, attest, strict=True)]
    return (f"ratio of medians {ratio:.2f}x (per run {min(pairs):.2f}x .. {max(pairs):.2f}x); "
            f"target >= {target:g}x: {'MET' if ratio >= target else 'MISSED'}")
