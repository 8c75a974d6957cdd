"""What the benches that race attest against a reference tool share: timing a command,
the spread of runs, and the ratio line. Not a bench itself (.ci/run skips bench/_*.py)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def compiled() -> None:
    """Byte-compile attester as ``pip install`` does, once, before anything is timed.

    Installed packages carry their bytecode (pip compiles them); an editable checkout
    run with PYTHONDONTWRITEBYTECODE=1 (as these sessions are) never writes it, and every
    ``attest`` process then compiles its ~100 modules again: 0.1-0.15 s of CPU each,
    which the reference tools (installed, compiled) never pay. Reading existing bytecode
    is not affected by that variable."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "attester")],
                   check=True, stdout=subprocess.DEVNULL)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall-clock seconds of ``cmd`` (run from the checkout) and its stdout."""
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT,
                         env=env).stdout
    return time.perf_counter() - t0, out


def spread(times: list[float]) -> str:
    return (f"median {statistics.median(times):.2f} s, min {min(times):.2f}, "
            f"max {max(times):.2f} over {len(times)} run(s)")


#: A smoke run (CI) only shows that both sides ran: start-up dominates, nothing is judged.
SMOKE = "--smoke" in sys.argv


def verdict(ok: bool) -> str:
    return "not judged at smoke size" if SMOKE else ("MET" if ok else "MISSED")


def ratio_line(reference: list[float], attest: list[float], target: float) -> str:
    """The reference's median over attest's, each interleaved run's ratio, the verdict."""
    ratio = statistics.median(reference) / statistics.median(attest)
    pairs = [r / a for r, a in zip(reference, attest, strict=True)]
    return (f"ratio of medians {ratio:.2f}x (per run {min(pairs):.2f}x .. {max(pairs):.2f}x); "
            f"target >= {target:g}x: {verdict(ratio >= target)}")
