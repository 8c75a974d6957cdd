#!/usr/bin/env python3
"""``attest provenance --artifacts github-release://`` against a plain sequential PyGithub
loop (list the assets, download each, sha256), on the replay server (tests/replay.py)
on 127.0.0.1, in one run.

Serves a release of N assets (default 1,000, GitHub's limit per release, of 64 KiB,
listed 100 a page as the API does), then times, interleaved, ``--runs`` times each:
  attest provenance local:// --artifacts github-release://bench/release/v1.0.0
  the naive loop: for asset in release.get_assets(): sha256(requests.get(asset.url))
and prints every run, the median, the spread and the ratio of medians. Both run as
fresh processes, so both pay their start-up.

  python3 bench/github_release_bench.py            # full size, 3 interleaved runs each
  python3 bench/github_release_bench.py --smoke    # 20 assets, one run
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from _compare import compiled, ratio_line, spread, timed  # noqa: E402 - bench/ is sys.path[0]

ATTEST = [sys.executable, "-m", "attester"]
REPO = "/repos/bench/release"

NAIVE = """
import hashlib, os, requests, github
gh = github.Github(base_url=os.environ["GITHUB_API_URL"], per_page=100, lazy=True)
release = gh.get_repo("bench/release").get_release("v1.0.0")
session = requests.Session()
n = 0
for asset in release.get_assets():
    r = session.get(asset.url, headers={"Accept": "application/octet-stream"}, timeout=60)
    r.raise_for_status()
    hashlib.sha256(r.content).hexdigest()
    n += 1
print(n)
"""


def serve(r: Any, n: int, size: int) -> None:
    """The release, its asset pages and every asset's bytes on the replay server."""
    r.json(f"{REPO}/releases/tags/v1.0.0", {
        "id": 1, "tag_name": "v1.0.0", "name": "v1.0.0", "draft": False, "prerelease": False,
        "url": f"{{BASE}}{REPO}/releases/1", "assets_url": f"{{BASE}}{REPO}/releases/1/assets",
        "upload_url": "", "html_url": "", "tarball_url": "", "zipball_url": "", "body": "",
        "created_at": "2024-08-13T16:30:00Z", "published_at": "2024-08-13T16:30:00Z",
        "author": {"login": "bot", "id": 1}, "assets": []})
    block = os.urandom(size)
    assets = []
    for i in range(n):
        data = block[:-8] + i.to_bytes(8, "big")
        r.raw(f"{REPO}/releases/assets/{1000 + i}", data)
        assets.append({
            "url": f"{{BASE}}{REPO}/releases/assets/{1000 + i}", "id": 1000 + i,
            "name": f"kubernetes-{i:04d}.tar.gz", "label": "", "state": "uploaded",
            "content_type": "application/octet-stream", "size": len(data),
            "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "download_count": 0,
            "created_at": "2024-08-13T16:30:00Z", "updated_at": "2024-08-13T16:30:02Z",
            "browser_download_url": f"https://github.com/bench/release/releases/download/"
                                    f"v1.0.0/kubernetes-{i:04d}.tar.gz",
            "uploader": {"login": "bot", "id": 1}})
    pages = [assets[i:i + 100] for i in range(0, n, 100)]
    url = r.url
    for p, page in enumerate(pages, start=1):
        query = "per_page=100" + (f"&page={p}" if p > 1 else "")
        link = (f'<{url}{REPO}/releases/1/assets?per_page=100&page={p + 1}>; rel="next"'
                if p < len(pages) else "")
        r.json(f"{REPO}/releases/1/assets?{query}", page,
               headers={"Link": link} if link else None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="20 assets, one run each")
    ap.add_argument("--assets", type=int, default=1000)
    ap.add_argument("--size", type=int, default=64 << 10, help="bytes per asset")
    ap.add_argument("--runs", type=int, default=3, help="interleaved runs of each")
    a = ap.parse_args()
    compiled()  # attester's bytecode, as an installed package has it
    from replay import Replay

    n, runs = (20, 1) if a.smoke else (a.assets, a.runs)
    with Replay() as replay:
        serve(replay, n, a.size)
        env = {**os.environ, "GITHUB_API_URL": replay.url}
        env.pop("GITHUB_TOKEN", None)
        env.pop("GH_TOKEN", None)
        print(f"{n} assets of {a.size} bytes on the replay server {replay.url}; "
              f"{os.cpu_count()} cores; {runs} interleaved run(s)")
        if a.smoke:
            print("smoke run: start-up dominates at this size; the ratio only shows both ran")
        attest = [*ATTEST, "provenance", "local://", "--artifacts",
                  "github-release://bench/release/v1.0.0", "--quiet", "--output", os.devnull]
        naive = [sys.executable, "-c", NAIVE]
        t_attest: list[float] = []
        t_naive: list[float] = []
        for i in range(runs):
            for tool in (("attest", "naive") if i % 2 == 0 else ("naive", "attest")):
                if tool == "attest":
                    t_attest.append(timed(attest, env)[0])
                    print(f"  run {i + 1} attest:     {t_attest[-1]:.2f} s")
                else:
                    secs, out = timed(naive, env)
                    if int(out) != n:
                        raise SystemExit(f"naive loop saw {out.strip()} assets, not {n}")
                    t_naive.append(secs)
                    print(f"  run {i + 1} naive loop: {t_naive[-1]:.2f} s")
    print(f"attest provenance --artifacts github-release://: {spread(t_attest)}")
    print(f"sequential PyGithub + requests loop: {spread(t_naive)}")
    print(ratio_line(t_naive, t_attest, 1.5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
