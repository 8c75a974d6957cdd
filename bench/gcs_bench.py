#!/usr/bin/env python3
"""``attest provenance --artifacts gs://`` against a plain sequential google-cloud-storage
loop (list, download, sha256), on gcp-storage-emulator on 127.0.0.1, in one run.

Fills a fresh in-memory emulator with N objects of 2 KB (default 2,000; the emulator
slows as a bucket grows, so each run starts from an empty one), then times, interleaved,
``--runs`` times each:
  attest provenance local:// --artifacts gs://bench/stage/
  the naive loop: for blob in client.list_blobs(...): sha256(blob.download_as_bytes())
and prints every run, the median, the spread and the ratio of medians (target: attest
>= 1.5x). Both run as fresh processes, so both pay their start-up.

  python3 bench/gcs_bench.py            # full size, 3 interleaved runs each
  python3 bench/gcs_bench.py --smoke    # 50 objects, one run: checks the bench runs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from _compare import compiled, ratio_line, spread, timed  # noqa: E402 - bench/ is sys.path[0]

ATTEST = [sys.executable, "-m", "attester"]

NAIVE = """
import hashlib, os
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
client = storage.Client(project="bench", credentials=AnonymousCredentials())
n = 0
for blob in client.list_blobs("bench", prefix="stage/"):
    hashlib.sha256(blob.download_as_bytes()).hexdigest()
    n += 1
print(n)
"""


def fill(n: int, size: int) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="bench", credentials=AnonymousCredentials())
    bucket = client.create_bucket("bench")
    payload = os.urandom(size)

    def one(i: int) -> None:
        bucket.blob(f"stage/v1.31.0/bin/file-{i:05d}").upload_from_string(
            payload[:-8] + i.to_bytes(8, "big"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="50 objects, one run each")
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--size", type=int, default=2048, help="bytes per object")
    ap.add_argument("--runs", type=int, default=3, help="interleaved runs of each")
    ap.add_argument("--jobs", type=int, default=0, help="attest --jobs (default: its own)")
    ap.add_argument("--jobs-sweep", default="", help="also time attest at these --jobs, "
                    "e.g. 2,4,16")
    a = ap.parse_args()
    compiled()  # attester's bytecode, as an installed package has it
    from servers import gcs_emulator

    n, runs = (50, 1) if a.smoke else (a.objects, a.runs)
    with gcs_emulator() as url:
        os.environ["STORAGE_EMULATOR_HOST"] = url
        t0 = time.perf_counter()
        fill(n, a.size)
        print(f"{n} objects of {a.size} bytes on gcp-storage-emulator (filled in "
              f"{time.perf_counter() - t0:.1f} s); {os.cpu_count()} cores; {runs} "
              "interleaved run(s)")
        if a.smoke:
            print("smoke run: start-up dominates at this size; the ratio only shows both ran")
        attest = [*ATTEST, "provenance", "local://", "--artifacts", "gs://bench/stage/",
                  "--quiet", "--output", os.devnull]
        if a.jobs:
            attest += ["--jobs", str(a.jobs)]
        naive = [sys.executable, "-c", NAIVE]
        # Each side once, untimed, its answer checked: the emulator's first pass over a
        # freshly filled bucket is slower for whoever comes first, and a timing of a
        # wrong answer would mean nothing.
        check = [a for a in attest if a not in ("--quiet", "--output", os.devnull)]
        subjects = json.loads(timed(check)[1])["subject"]
        if len(subjects) != n:
            raise SystemExit(f"attest listed {len(subjects)} objects, not {n}")
        if int(timed(naive)[1]) != n:
            raise SystemExit(f"the naive loop did not list {n} objects")
        t_attest: list[float] = []
        t_naive: list[float] = []
        sweep: dict[int, list[float]] = {}
        for i in range(runs):
            for tool in (("attest", "naive") if i % 2 == 0 else ("naive", "attest")):
                if tool == "attest":
                    t_attest.append(timed(attest)[0])
                    print(f"  run {i + 1} attest:     {t_attest[-1]:.2f} s")
                else:
                    secs, out = timed(naive)
                    if int(out) != n:
                        raise SystemExit(f"naive loop listed {out.strip()} objects, not {n}")
                    t_naive.append(secs)
                    print(f"  run {i + 1} naive loop: {t_naive[-1]:.2f} s")
            for jobs in [int(j) for j in a.jobs_sweep.split(",") if j]:
                cmd = attest[:-2] if a.jobs else attest
                sweep.setdefault(jobs, []).append(timed([*cmd, "--jobs", str(jobs)])[0])
                print(f"  run {i + 1} attest --jobs {jobs}: {sweep[jobs][-1]:.2f} s")
    print(f"attest provenance --artifacts gs://: {spread(t_attest)}")
    print(f"sequential google-cloud-storage loop: {spread(t_naive)}")
    for jobs, times in sweep.items():
        print(f"attest --jobs {jobs}: {spread(times)}; ratio of medians "
              f"{statistics.median(t_naive) / statistics.median(times):.2f}x")
    print(ratio_line(t_naive, t_attest, 1.5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
