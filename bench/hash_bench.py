#!/usr/bin/env python3
"""Hashing speed of ``attest`` against reference tools and the machine's compute limit.

Generates a release-shaped tree once (default: 1,000 files of 1 MB and one 1 GB file,
~2.1 GB) and warms the page cache. Then, in one run:

1. The compute limit: ``openssl speed -evp sha256`` (and sha512) bytes per second on
   one core, times the cores: no reader of this tree can hash it faster.
2. A sweep of hashing's read buffer size (32 KiB .. 4 MiB) and worker count, each in a
   fresh process over the whole tree, interleaved and repeated: the figures behind the
   defaults in attester/hashing.py.
3. Interleaved rounds of, for sha256 and for the sha256+sha512 double digest:
     attest provenance local:// --artifacts file://TREE [--digest sha512]
     openssl dgst in two parallel processes (xargs -n 64 -P2), the same digests
   plus, once each, openssl in one process, sha256sum and in-toto-run --products.
   Printed: every round, best/median/worst, ratios, the ratio to the compute limit and
   attest's peak RSS. The machine may be shared: the spread says how far to trust it.
4. ``attest verify --artifacts`` of a signed statement with N subjects (default 10,000
   files) next to hashing those files alone with ``attest provenance``.

  python3 bench/hash_bench.py            # full size (needs ~2.1 GB of disk in .bench/)
  python3 bench/hash_bench.py --smoke    # tiny input: checks the bench runs, prints ratios
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ATTEST = [sys.executable, "-m", "attester"]
KIB = 1024
BUFFERS = (32 * KIB, 64 * KIB, 128 * KIB, 256 * KIB, 512 * KIB, 1024 * KIB, 4096 * KIB)

#: The engine alone, in a fresh process: hash every file of a tree with one buffer size
#: and worker count, as ``attest provenance`` would (same HashTask, same pool).
SWEEP = """
import os, sys
sys.path.insert(0, sys.argv[1])
from attester.hashing import HashTask, hash_tasks, open_nofollow
tree, chunk, workers, algs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(tree) for f in fs
               if not f.startswith("."))
tasks = [HashTask(label=p, size=os.path.getsize(p), open=lambda p=p: open_nofollow(p))
         for p in paths]
hash_tasks(tasks, algs.split(","), workers=workers, chunk_size=chunk)
"""


def make_tree(tree: Path, small: int, small_size: int, big_size: int) -> int:
    marker = tree / f".complete-{small}-{small_size}-{big_size}"
    if marker.exists():
        return small * small_size + big_size
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "small").mkdir(parents=True)
    block = os.urandom(1 << 20)
    for i in range(small):
        (tree / "small" / f"file-{i:05d}.bin").write_bytes(
            (block * (small_size // len(block) + 1))[:small_size - 8] + i.to_bytes(8, "big"))
    with (tree / "kubernetes-server-linux-amd64.tar.gz").open("wb") as f:
        left = big_size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
            block = block[1:] + block[:1]
    marker.touch()
    return small * small_size + big_size


def files_of(tree: Path) -> list[str]:
    return sorted(str(p) for p in tree.rglob("*") if p.is_file() and not p.name.startswith("."))


def warm(paths: list[str]) -> None:
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 22):
                pass


#: CPU seconds (user + system) of every command timed, by command: on a shared machine
#: a command's CPU time moves far less than its wall-clock time.
CPU: dict[str, list[float]] = {}


def timed(cmd: list[str] | str, *, key: str = "", **kw: object) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.setdefault(key or str(cmd), []).append(
        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak RSS of one fresh run of cmd, read from a wrapper process's children."""
    code = ("import resource,subprocess,sys; subprocess.run(sys.argv[1:], check=True, "
            "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN)"
            ".ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout
    return int(out.strip()) / 1024


def openssl_rate(alg: str, seconds: int) -> float:
    """One core's bytes per second for ``alg`` on 16 KiB blocks (``openssl speed``)."""
    out = subprocess.run(["openssl", "speed", "-evp", alg, "-bytes", "16384", "-seconds",
                          str(seconds)], check=True, capture_output=True, text=True).stdout
    m = re.search(rf"^{alg}\s+([\d.]+)k\s*$", out, re.M)
    if not m:
        raise SystemExit(f"cannot read openssl speed's output for {alg}:\n{out}")
    return float(m.group(1)) * 1000


SMOKE = False


def verdict(ok: bool) -> str:
    return "not judged at smoke size" if SMOKE else ("MET" if ok else "MISSED")


def stats(xs: list[float]) -> str:
    return f"best {min(xs):.3f}s  median {statistics.median(xs):.3f}s  worst {max(xs):.3f}s"


def sweep(tree: Path, total: int, limit: float, reps: int, workers: tuple[int, ...],
          buffers: tuple[int, ...]) -> None:
    runs: dict[tuple[int, int], list[float]] = {(b, w): [] for b in buffers for w in workers}
    for _ in range(reps):
        for key in runs:  # one pass over every setting per repetition: interleaved
            runs[key].append(timed([sys.executable, "-c", SWEEP, str(ROOT), str(tree),
                                    str(key[0]), str(key[1]), "sha256"], key=f"sweep {key}"))
    print(f"\nbuffer/worker sweep, sha256, {reps} interleaved repetition(s) "
          f"(the engine alone, fresh process each):")
    print(f"{'buffer':>8}{'workers':>9}  {'best':>7}{'median':>8}{'worst':>8}"
          f"{'GB/s best':>11}{'x limit':>9}{'CPU s median':>14}")
    for (b, w), xs in runs.items():
        cpu = statistics.median(CPU[f"sweep {(b, w)}"])
        print(f"{b // KIB:>6}Ki{w:>9}  {min(xs):>7.3f}{statistics.median(xs):>8.3f}"
              f"{max(xs):>8.3f}{total / 1e9 / min(xs):>11.2f}{min(xs) / limit:>8.2f}x"
              f"{cpu:>14.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny input, one run each")
    ap.add_argument("--dir", type=Path, default=ROOT / ".bench",
                    help="where the tree is built and kept between runs")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the tools")
    ap.add_argument("--sweep-reps", type=int, default=3, help="repetitions of the sweep")
    ap.add_argument("--verify-files", type=int, default=10_000,
                    help="subjects in the verify comparison")
    a = ap.parse_args()
    global SMOKE
    SMOKE = a.smoke
    cores = os.cpu_count() or 1
    if a.smoke:
        small, small_size, big_size, rounds, nverify = 20, 64 << 10, 4 << 20, 1, 200
        reps, speed_secs, workers = 1, 1, (cores,)
        buffers: tuple[int, ...] = (128 * KIB, 1024 * KIB)
        base = Path(tempfile.mkdtemp(prefix="attest-bench-"))
    else:
        small, small_size, big_size, rounds, nverify = 1000, 1 << 20, 1 << 30, a.rounds, \
            a.verify_files
        reps, speed_secs, buffers = a.sweep_reps, 3, BUFFERS
        workers = tuple(sorted({1, cores, cores * 2}))
        base = a.dir
    tree = base / "tree"
    total = make_tree(tree, small, small_size, big_size)
    paths = files_of(tree)
    warm(paths)
    r256, r512 = openssl_rate("sha256", speed_secs), openssl_rate("sha512", speed_secs)
    limit = total / (r256 * cores)
    limit2 = total * (1 / r256 + 1 / r512) / cores
    print(f"tree: {len(paths)} files, {total / 1e9:.3f} GB; {cores} cores; {rounds} "
          f"interleaved round(s)")
    print(f"compute limit (openssl speed -evp, 16 KiB blocks): sha256 {r256 / 1e9:.2f} GB/s "
          f"x {cores} cores = {limit:.3f}s; sha256+sha512 ({r512 / 1e9:.2f} GB/s) = "
          f"{limit2:.3f}s")
    if a.smoke:
        print("smoke run: start-up dominates at this size, so the ratios below only show "
              "that every tool ran; run without --smoke for the real comparison")
    sweep(tree, total, limit, reps, workers, buffers)

    with tempfile.TemporaryDirectory() as tmp:
        listfile = Path(tmp) / "files"
        listfile.write_text("\0".join(paths))
        attest = [*ATTEST, "provenance", "local://", "--artifacts", f"file://{tree}",
                  "--quiet", "--output", os.devnull]
        xargs = f"xargs -0 -n 64 -a {listfile}"
        both = "sh -c 'openssl dgst -sha256 \"$@\" && openssl dgst -sha512 \"$@\"' sh"
        commands: dict[str, list[str] | str] = {
            "attest sha256": attest,
            "openssl x2 sha256": f"{xargs} -P2 openssl dgst -sha256",
            "attest sha256+512": [*attest, "--digest", "sha512"],
            "openssl x2 sha256+512": f"{xargs} -P2 {both}",
        }
        times: dict[str, list[float]] = {k: [] for k in commands}
        for r in range(rounds):
            names = list(commands)
            names = names[r % len(names):] + names[:r % len(names)]  # rotate the order
            for name in names:
                cmd = commands[name]
                times[name].append(timed(cmd, key=name, shell=isinstance(cmd, str), cwd=ROOT))
            print(f"  round {r + 1}: " + ", ".join(f"{k} {times[k][-1]:.3f}s" for k in commands))
        once: dict[str, float] = {
            "openssl x1 sha256": timed(f"{xargs} -P1 openssl dgst -sha256", shell=True),
            "sha256sum": timed(f"{xargs} -P1 sha256sum", shell=True),
        }
        if shutil.which("in-toto-run"):
            key = Path(tmp) / "bench.key"
            subprocess.run([*ATTEST, "keygen", "--type", "ed25519", "--out", str(key)[:-4]],
                           check=True, capture_output=True,
                           env={**os.environ, "ATTEST_PASSPHRASE": ""})
            once["in-toto-run"] = timed(
                ["in-toto-run", "-n", "bench", "--signing-key", str(key), "--products",
                 str(tree), "--no-command", "--metadata-directory", tmp])
        rss = peak_rss_mb(attest)
        rss2 = peak_rss_mb([*attest, "--digest", "sha512"])

        print(f"\n{'tool':<24}{'':>4}{'GB/s':>6}  wall; CPU (user + system)")
        for name, xs in times.items():
            print(f"{name:<24}{total / 1e9 / min(xs):>10.2f}  {stats(xs)}; CPU median "
                  f"{statistics.median(CPU[name]):.3f}s")
        for name, secs in once.items():
            print(f"{name:<24}{total / 1e9 / secs:>10.2f}  {secs:.3f}s (once)")
        print(f"attest peak RSS: sha256 {rss:.0f} MB, sha256+sha512 {rss2:.0f} MB "
              f"(target < 150 MB: {verdict(max(rss, rss2) < 150)})")
        for att, ref, lim in (("attest sha256", "openssl x2 sha256", limit),
                              ("attest sha256+512", "openssl x2 sha256+512", limit2)):
            best = min(times[ref]) / min(times[att])
            med = statistics.median(times[ref]) / statistics.median(times[att])
            per = [y / x for x, y in zip(times[att], times[ref], strict=True)]
            to_limit = min(times[att]) / lim
            cpu = statistics.median(CPU[ref]) / statistics.median(CPU[att])
            print(f"{att}: vs {ref} CPU {cpu:.2f}x; wall best-to-best {best:.2f}x, medians "
                  f"{med:.2f}x, per round "
                  f"{min(per):.2f}-{max(per):.2f}x (target >= 1.1x: "
                  f"{verdict(best >= 1.1)}); best run {to_limit:.2f}x the "
                  f"compute limit (target <= 1.5x: {verdict(to_limit <= 1.5)})")
        if "in-toto-run" in once:
            got = once["in-toto-run"] / min(times["attest sha256"])
            print(f"attest vs in-toto-run: {got:.2f}x (target >= 1.8x: "
                  f"{verdict(got >= 1.8)})")

        # verify of N subjects against N files, next to hashing them alone.
        vtree = base / f"verify-{nverify}"
        if not (vtree / ".complete").exists():
            shutil.rmtree(vtree, ignore_errors=True)
            vtree.mkdir(parents=True)
            for i in range(nverify):
                (vtree / f"f{i:05d}").write_bytes(os.urandom(4096))
            (vtree / ".complete").touch()
        stmt, env_path = Path(tmp) / "s.json", Path(tmp) / "s.intoto.json"
        keyp = Path(tmp) / "v"
        subprocess.run([*ATTEST, "keygen", "--out", str(keyp)], check=True, capture_output=True,
                       env={**os.environ, "ATTEST_PASSPHRASE": ""})
        hash_cmd = [*ATTEST, "provenance", "local://", "--artifacts", f"file://{vtree}", "-q",
                    "--output", str(stmt)]
        subprocess.run(hash_cmd, check=True, cwd=ROOT)
        subprocess.run([*ATTEST, "sign", str(stmt), "--key", f"{keyp}.key", "--output",
                        str(env_path)], check=True, capture_output=True,
                       env={**os.environ, "ATTEST_PASSPHRASE": ""})
        verify_cmd = [*ATTEST, "verify", str(env_path), "--key", f"{keyp}.pub", "--artifacts",
                      f"file://{vtree}", "--require-complete"]
        t_hash, t_verify = [], []
        for _ in range(rounds):
            t_hash.append(timed(hash_cmd, cwd=ROOT))
            t_verify.append(timed(verify_cmd))
        ratio = min(t_verify) / min(t_hash)
        print(f"verify {nverify} subjects: {stats(t_verify)}; hashing them alone: "
              f"{stats(t_hash)}; best-to-best {ratio:.2f} (target <= 1.15: "
              f"{verdict(ratio <= 1.15)})")
    if a.smoke:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
