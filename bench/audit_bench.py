#!/usr/bin/env python3
"""``attest audit`` of a whole release next to ``attest verify --artifacts
--require-complete`` over the same files, in one run.

Builds (once, in .bench/) a release folder as an auditor downloads it: N files (4 KB
each by default, --file-size; 10,000 by default, --files), M = N/100 promoted images listed in images.txt, a stage
attestation covering the files and the staging images, a release attestation
publishing the files, and one promotion attestation per image, each signed by its
step's key. Stage and release statements are made by ``attest provenance`` itself; the
image subjects and promotion statements are written here in the shape ``attest
promote`` gives them (no registry needed), and everything is signed in-process, so
generation takes seconds.

Then times, interleaved round by round (the machine may be shared: the spread says how
much to trust the figures):
  attest audit RELEASE --policy policy.yaml                (the text report)
  attest audit RELEASE --policy policy.yaml --format json  (10,000 rows of JSON)
  attest verify release.intoto.json --key release.pub --artifacts file://RELEASE/files
         --require-complete
and prints each run, best and spread, the ratio (target <= 1.5x at 10,000 files) and
the audit's peak RSS (target < 300 MB).

  python3 bench/audit_bench.py                # 10,000 files, 5 rounds
  python3 bench/audit_bench.py --files 5000   # another size
  python3 bench/audit_bench.py --smoke        # 200 files, one round: prints its ratios
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ATTEST = [sys.executable, "-m", "attester"]
ENV = {**os.environ, "ATTEST_PASSPHRASE": ""}
PROMOTION_BUILD_TYPE = "https://attester.dev/buildtypes/promotion/v1"


def run(cmd: list[str], **kw: object) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=ENV, **kw)  # type: ignore[call-overload]


def sign(statement: dict[str, object], key: Path, out: Path) -> None:
    """What ``attest sign`` does, in-process (hundreds of promotions would otherwise
    cost a process start each)."""
    from attester.jsonio import dumps_compact
    from attester.signing.dsse import IN_TOTO_PAYLOAD_TYPE
    from attester.signing.signers import sign_envelope
    from attester.signing.signers.keyfile import KeyFileSigner

    env = sign_envelope(IN_TOTO_PAYLOAD_TYPE, dumps_compact(statement),
                        [KeyFileSigner.from_file(key)])
    out.write_bytes(dumps_compact(env.to_json()) + b"\n")


def promotion(src: str, dst: str, digest: str) -> dict[str, object]:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": dst, "digest": {"sha256": digest}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": PROMOTION_BUILD_TYPE,
                "externalParameters": {"image": dst.rsplit("/", 1)[-1], "source": src,
                                       "destinations": [dst]},
                "resolvedDependencies": [{"uri": f"{src}@sha256:{digest}",
                                          "digest": {"sha256": digest}}]},
            "runDetails": {"builder": {"id": "https://attester.dev/builders/promoter/v1"}}}}


def build_release(base: Path, n_files: int, size: int) -> Path:
    """The release folder (reused when already built at this size)."""
    rel, marker = base / f"release-{n_files}-{size}", base / f".complete-{n_files}-{size}"
    if marker.exists():
        return rel
    shutil.rmtree(rel, ignore_errors=True)
    keys, files, work = base / "keys", rel / "files", base / f"work-{n_files}"
    shutil.rmtree(work, ignore_errors=True)
    for d in (keys, files, work):
        d.mkdir(parents=True, exist_ok=True)
    block = os.urandom(size)
    for i in range(n_files):
        (files / f"bin-{i:05d}").write_bytes(block[8:] + i.to_bytes(8, "big"))
    for role in ("stage", "release", "promoter"):
        if not (keys / f"{role}.key").exists():
            run([*ATTEST, "keygen", "--type", "ed25519", "--out", str(keys / role)],
                stderr=subprocess.DEVNULL)
    # local:// needs a git checkout: a throwaway one stands for the release repository
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "remote", "add", "origin",
                    "https://github.com/kubernetes/kubernetes.git"], check=True)
    subprocess.run(["git", "-C", str(work), "-c", "user.name=b", "-c", "user.email=b@b",
                    "commit", "-q", "--allow-empty", "-m", "v1.0.0"], check=True)
    run([*ATTEST, "provenance", "local://", "--step", "stage", "--release-version", "v1.0.0",
         "--artifacts", f"file://{files}", "-q", "-o", str(work / "stage.json")], cwd=work)
    run([*ATTEST, "provenance", "local://", "--step", "release", "--release-version", "v1.0.0",
         "--materials", f"file://{files}", "--artifacts", f"file://{files}", "-q",
         "-o", str(work / "release.json")], cwd=work)
    stage = json.loads((work / "stage.json").read_text())
    images = []
    for k in range(max(2, n_files // 100)):
        digest = hashlib.sha256(f"image {k}".encode()).hexdigest()
        src, dst = f"gcr.io/k8s-staging-bench/img-{k}", f"registry.k8s.io/img-{k}"
        stage["subject"].append({"name": src, "digest": {"sha256": digest}})
        images.append(f"{dst}@sha256:{digest}")
        sign(promotion(src, dst, digest), keys / "promoter.key", rel / f"promo-{k}.intoto.json")
    sign(stage, keys / "stage.key", rel / "stage.intoto.json")
    sign(json.loads((work / "release.json").read_text()), keys / "release.key",
         rel / "release.intoto.json")
    (rel / "images.txt").write_text("\n".join(images) + "\n")
    (base / "policy.yaml").write_text(
        f"steps:\n  stage: {{keys: [{keys}/stage.pub]}}\n  release: {{keys: [{keys}/release.pub]}}"
        f"\n  promotion: {{keys: [{keys}/promoter.pub]}}\n"
        "source-uri: github.com/kubernetes/kubernetes\n")
    shutil.rmtree(work)
    marker.touch()
    return rel


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall-clock seconds, and CPU seconds (user + system): on a shared machine the CPU
    time of a command moves far less than its wall-clock time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    run(cmd)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def peak_rss_mb(cmd: list[str]) -> float:
    code = ("import resource,subprocess,sys; subprocess.run(sys.argv[1:], check=True, "
            "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN)"
            ".ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True,
                         text=True, env=ENV).stdout
    return int(out.strip()) / 1024


def spread(xs: list[float]) -> str:
    return (f"best {min(xs):.3f}s, median {statistics.median(xs):.3f}s, "
            f"worst {max(xs):.3f}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="200 files, one round (what CI runs)")
    ap.add_argument("--files", type=int, default=10_000, help="files in the release")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    ap.add_argument("--file-size", type=int, default=4096,
                    help="bytes per file (default 4096: per-file work dominates, the hard case)")
    ap.add_argument("--dir", type=Path, default=ROOT / ".bench",
                    help="where the release is built and kept between runs")
    a = ap.parse_args()
    n, rounds = (200, 1) if a.smoke else (a.files, a.rounds)
    base = Path(tempfile.mkdtemp(prefix="attest-audit-bench-")) if a.smoke else a.dir / "audit"
    base.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rel = build_release(base, n, a.file_size)
    print(f"release: {n} files of {a.file_size} bytes + {max(2, n // 100)} images, stage + release + "
          f"{max(2, n // 100)} promotion attestations (ready in {time.perf_counter() - t0:.1f}s); "
          f"{os.cpu_count()} cores, {rounds} interleaved round(s)")
    if a.smoke:
        print("smoke run: process start-up dominates at this size; the ratio only shows "
              "both commands ran")
    keys = base / "keys"
    audit = [*ATTEST, "audit", str(rel), "--policy", str(base / "policy.yaml")]
    commands = {"audit": audit, "audit json": [*audit, "--format", "json"]}
    verify = [*ATTEST, "verify", str(rel / "release.intoto.json"), "--key",
              str(keys / "release.pub"), "--artifacts", f"file://{rel / 'files'}",
              "--require-complete"]
    commands["verify"] = verify
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for r in range(rounds):
        # rotate the order, so that no command always inherits another's cache state
        names = list(commands)[r % 3:] + list(commands)[:r % 3]
        for name in names:
            wall, used = timed(commands[name])
            times[name].append(wall)
            cpu[name].append(used)
        print(f"  round {r + 1}: " + ", ".join(f"{k} {times[k][-1]:.3f}s ({cpu[k][-1]:.2f}s CPU)"
                                              for k in commands))
    rss = peak_rss_mb(audit)
    for name in commands:
        print(f"{name + ':':<8} wall {spread(times[name])}; CPU median "
              f"{statistics.median(cpu[name]):.3f}s")
    for name in ("audit", "audit json"):
        best = min(times[name]) / min(times["verify"])
        per_round = [x / y for x, y in zip(times[name], times["verify"], strict=True)]
        cpu_ratio = statistics.median(cpu[name]) / statistics.median(cpu["verify"])
        print(f"ratio {name}/verify: wall best-to-best {best:.2f}x, per round "
              f"{min(per_round):.2f}-{max(per_round):.2f}x, CPU {cpu_ratio:.2f}x " + (
                  f"(target <= 1.5x: {'MET' if best <= 1.5 else 'MISSED'})" if n == 10_000
                  else "(the 1.5x target is set at 10,000 files)"))
    print(f"audit peak RSS: {rss:.0f} MB (target < 300 MB: {'MET' if rss < 300 else 'MISSED'})")
    if a.smoke:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
