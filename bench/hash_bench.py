#!/usr/bin/env python3
"""Hashing speed of ``attest`` against reference tools, on the same tree, in one run.

Generates a release-shaped tree once (default: 1,000 files of 1 MB and one 1 GB file,
~2 GB), warms the page cache, then times best-of-3:
  attest provenance local:// --artifacts file://TREE
  in-toto-run --products TREE          (the in-toto reference implementation)
  openssl dgst -sha256, one process and two in parallel (xargs -P2)
  sha256sum
and prints throughput, ratios and attest's peak RSS. It also times ``attest verify
--artifacts`` of a signed statement with N subjects (default 10,000 files) next to
hashing those files alone with ``attest provenance``.

  python3 bench/hash_bench.py            # full size (needs ~2.1 GB of disk in .bench/)
  python3 bench/hash_bench.py --smoke    # tiny input: checks the bench runs, prints ratios
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ATTEST = [sys.executable, "-m", "attester"]


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


def best_of(cmd: list[str] | str, runs: int, **kw: object) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
        best = min(best, time.perf_counter() - t0)
    return best


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak RSS of one fresh run of cmd, read from a wrapper process's children."""
    code = ("import resource,subprocess,sys; subprocess.run(sys.argv[1:], check=True, "
            "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN)"
            ".ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout
    return int(out.strip()) / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny input, one run each")
    ap.add_argument("--dir", type=Path, default=ROOT / ".bench")
    ap.add_argument("--verify-files", type=int, default=10_000)
    a = ap.parse_args()
    if a.smoke:
        small, small_size, big_size, runs, nverify = 20, 64 << 10, 4 << 20, 1, 200
        base = Path(tempfile.mkdtemp(prefix="attest-bench-"))
    else:
        small, small_size, big_size, runs, nverify = 1000, 1 << 20, 1 << 30, 3, a.verify_files
        base = a.dir
    tree = base / "tree"
    total = make_tree(tree, small, small_size, big_size)
    paths = files_of(tree)
    warm(paths)
    print(f"tree: {len(paths)} files, {total / 1e9:.3f} GB; best of {runs}; {os.cpu_count()} cores")
    if a.smoke:
        print("smoke run: start-up dominates at this size, so the ratios below only show "
              "that every tool ran; run without --smoke for the real comparison")

    with tempfile.TemporaryDirectory() as tmp:
        listfile = Path(tmp) / "files"
        listfile.write_text("\0".join(paths))
        attest_cmd = [*ATTEST, "provenance", "local://", "--artifacts", f"file://{tree}",
                      "--quiet", "--output", os.devnull]
        results: dict[str, float] = {}
        results["attest"] = best_of(attest_cmd, runs, cwd=ROOT)
        if shutil.which("in-toto-run"):
            key = Path(tmp) / "bench.key"
            subprocess.run([*ATTEST, "keygen", "--type", "ed25519", "--out", str(key)[:-4]],
                           check=True, capture_output=True, env={**os.environ, "ATTEST_PASSPHRASE": ""})
            results["in-toto-run"] = best_of(
                ["in-toto-run", "-n", "bench", "--signing-key", str(key), "--products", str(tree),
                 "--no-command", "--metadata-directory", tmp], runs)
        xargs = f"xargs -0 -n 64 -a {listfile}"
        results["openssl x1"] = best_of(f"{xargs} -P1 openssl dgst -sha256", runs, shell=True)
        results["openssl x2"] = best_of(f"{xargs} -P2 openssl dgst -sha256", runs, shell=True)
        results["sha256sum"] = best_of(f"{xargs} -P1 sha256sum", runs, shell=True)
        rss = peak_rss_mb(attest_cmd)

        print(f"{'tool':<14}{'seconds':>10}{'GB/s':>8}{'attest speed-up':>18}")
        for name, secs in results.items():
            print(f"{name:<14}{secs:>10.3f}{total / 1e9 / secs:>8.2f}{secs / results['attest']:>17.2f}x")
        print(f"attest peak RSS: {rss:.0f} MB")
        targets = [("in-toto-run", 1.8), ("openssl x2", 1.1)]
        for name, want in targets:
            if name in results:
                got = results[name] / results["attest"]
                print(f"target attest vs {name}: >= {want}x, measured {got:.2f}x "
                      f"{'MET' if got >= want else 'MISSED'}")
        print(f"target peak RSS < 150 MB: measured {rss:.0f} MB {'MET' if rss < 150 else 'MISSED'}")

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
                        str(env_path)], check=True, env={**os.environ, "ATTEST_PASSPHRASE": ""})
        t_hash = best_of(hash_cmd, runs, cwd=ROOT)
        t_verify = best_of([*ATTEST, "verify", str(env_path), "--key", f"{keyp}.pub",
                            "--artifacts", f"file://{vtree}", "--require-complete"], runs)
        ratio = t_verify / t_hash
        print(f"verify {nverify} subjects: {t_verify:.3f}s; hashing them alone: {t_hash:.3f}s; "
              f"ratio {ratio:.2f} (target <= 1.15: {'MET' if ratio <= 1.15 else 'MISSED'})")
    if a.smoke:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
