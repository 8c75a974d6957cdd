#!/usr/bin/env python3
"""``attest promote`` of a kpromo manifest against ``skopeo inspect --raw`` of the same
references, on Debian's docker-registry on 127.0.0.1, in one run.

Builds (once, kept in .bench/) a registry holding N images (default 1,000), each in
its own staging and production repository as kpromo lays them out, the production one
tagged, and a promoter manifest naming them. Then times, interleaved, ``--runs`` times:
  attest promote --manifest promoter-manifest.yaml      (resolves 3 references per image)
  skopeo inspect --raw docker://REF, 8 processes at a time, over the same references
and prints every run, the median, the spread and the ratio of medians (the issue's
target: attest >= 8x). ``--jobs-sweep 4,16,32`` also times attest at those --jobs.

  python3 bench/promote_bench.py            # full size, 3 interleaved runs each
  python3 bench/promote_bench.py --smoke    # 20 images, one run: checks the bench runs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from _compare import compiled, ratio_line, spread  # noqa: E402 - bench/ is sys.path[0]

ATTEST = [sys.executable, "-m", "attester"]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_blob(s: requests.Session, reg: str, repo: str, data: bytes) -> None:
    r = s.post(f"http://{reg}/v2/{repo}/blobs/uploads/", timeout=30)
    r.raise_for_status()
    loc = r.headers["Location"]
    url = loc if loc.startswith("http") else f"http://{reg}{loc}"
    s.put(url + ("&" if "?" in url else "?") + f"digest={_digest(data)}", data=data,
          headers={"Content-Type": "application/octet-stream"}, timeout=30).raise_for_status()


def populate(reg: str, n: int) -> list[tuple[str, str]]:
    """N images (name, digest): staging/img-i by digest, prod/img-i tagged v1.0.0."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = b"one layer shared by every image of the bench"
    s = requests.Session()
    s.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))
    _push_blob(s, reg, "staging/img-0000", config)
    _push_blob(s, reg, "staging/img-0000", layer)

    def one(i: int) -> tuple[str, str]:
        name = f"img-{i:04d}"
        body = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": _digest(layer), "size": len(layer)}],
            "annotations": {"bench.image": name}}).encode()
        digest = _digest(body)
        for repo, ref in ((f"staging/{name}", digest), (f"prod/{name}", "v1.0.0")):
            if repo != "staging/img-0000":
                for blob in (config, layer):  # cross-repository mount: no upload
                    s.post(f"http://{reg}/v2/{repo}/blobs/uploads/?mount={_digest(blob)}"
                           "&from=staging/img-0000", timeout=30).raise_for_status()
            s.put(f"http://{reg}/v2/{repo}/manifests/{ref}", data=body, timeout=30,
                  headers={"Content-Type": OCI_MANIFEST}).raise_for_status()
        return name, digest

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(n)))


def write_manifest(path: Path, reg: str, images: list[tuple[str, str]]) -> list[str]:
    """The kpromo manifest, and the references promote resolves for it."""
    lines = ["registries:", f"- name: {reg}/staging", "  src: true", f"- name: {reg}/prod",
             "images:"]
    refs = []
    for name, digest in images:
        lines += [f"- name: {name}", "  dmap:", f'    "{digest}": ["v1.0.0"]']
        refs += [f"{reg}/staging/{name}@{digest}", f"{reg}/prod/{name}@{digest}",
                 f"{reg}/prod/{name}:v1.0.0"]
    path.write_text("\n".join(lines) + "\n")
    return refs


def time_attest(manifest: Path, jobs: int | None) -> float:
    cmd = [*ATTEST, "promote", "--manifest", str(manifest)]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - t0


def time_skopeo(refs: list[str]) -> float:
    def one(ref: str) -> None:
        subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                       check=True, stdout=subprocess.DEVNULL)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, refs))
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="20 images, one run each")
    ap.add_argument("--images", type=int, default=1000, help="images in the manifest")
    ap.add_argument("--runs", type=int, default=3, help="interleaved runs of each tool")
    ap.add_argument("--jobs-sweep", default="", help="also time attest at these --jobs, "
                    "e.g. 4,8,16,32")
    ap.add_argument("--dir", type=Path, default=ROOT / ".bench")
    a = ap.parse_args()
    compiled()  # attester's bytecode, as an installed package has it
    from servers import oci_registry

    n, runs = (20, 1) if a.smoke else (a.images, a.runs)
    base = Path(tempfile.mkdtemp(prefix="attest-bench-")) if a.smoke else \
        a.dir / f"promote-{n}"
    base.mkdir(parents=True, exist_ok=True)
    have_skopeo = shutil.which("skopeo") is not None
    try:
        with oci_registry(base) as reg:
            listing = base / "images.json"
            if listing.exists():
                images = [tuple(x) for x in json.loads(listing.read_text())]
            else:
                t0 = time.perf_counter()
                images = populate(reg, n)
                listing.write_text(json.dumps(images))
                print(f"pushed {n} images in {time.perf_counter() - t0:.1f} s")
            # The registry's port changes per run; the stored content does not.
            manifest = base / "promoter-manifest.yaml"
            refs = write_manifest(manifest, reg, images)  # type: ignore[arg-type]
            print(f"{n} images, {len(refs)} references on docker-registry {reg}; "
                  f"{os.cpu_count()} cores; {runs} interleaved run(s)")
            if a.smoke:
                print("smoke run: start-up dominates at this size; the ratio only shows both "
                      "ran")
            t_attest: list[float] = []
            t_skopeo: list[float] = []
            for i in range(runs):
                order = ["attest", "skopeo"] if i % 2 == 0 else ["skopeo", "attest"]
                for tool in order:
                    if tool == "attest":
                        t_attest.append(time_attest(manifest, None))
                        print(f"  run {i + 1} attest promote: {t_attest[-1]:.2f} s")
                    elif have_skopeo:
                        t_skopeo.append(time_skopeo(refs))
                        print(f"  run {i + 1} skopeo x8:      {t_skopeo[-1]:.2f} s")
            print(f"attest promote: {spread(t_attest)}")
            if not have_skopeo:
                print("skopeo is not installed (bash .ci/setup --test installs it): "
                      "no reference time")
            else:
                print(f"skopeo inspect --raw, 8 at a time: {spread(t_skopeo)}")
                print(ratio_line(t_skopeo, t_attest, 8))
            for jobs in [int(j) for j in a.jobs_sweep.split(",") if j]:
                times = [time_attest(manifest, jobs) for _ in range(runs)]
                print(f"attest promote --jobs {jobs}: {spread(times)}")
    finally:
        if a.smoke:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
