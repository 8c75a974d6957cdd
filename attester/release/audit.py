"""``attest audit``: an auditor's offline check of a downloaded release.

RELEASE_DIR holds the files a user would download, the attestations (``*.intoto.json``,
``*.intoto.jsonl``, ``*.sigstore.json``) and optionally ``images.txt`` (one
``REGISTRY/REPO@sha256:DIGEST`` per line). Every artifact's chain is followed back to
its source commit with no network at all; the report has one row per artifact and a
summary, as text, JSON or one self-contained HTML file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import gc
import html
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import attrs

from attester.digests import is_hex_digest
from attester.display import safe
from attester.errors import InputError
from attester.hashing import DirRoot, HashTask, hash_tasks
from attester.model.models import rfc3339
from attester.release.chain import ChainResult, Link, load_chain
from attester.verify.checks.policy import Check

ATTESTATION_SUFFIXES = (".intoto.json", ".intoto.jsonl", ".sigstore.json", ".sigstore")


@attrs.frozen
class Row:
    artifact: str
    digest: str
    result: ChainResult

    @property
    def stage(self) -> Link | None:
        return next((lk for lk in self.result.links if lk.step == "stage"), None)

    @property
    def source(self) -> str:
        stage = self.stage
        return f"{stage.source[0]}@{stage.source[2]}" if stage else ""

    @property
    def first_failure(self) -> str:
        bad = next((c for c in self.result.checks if not c.ok), None)
        return f"{bad.name}: {bad.detail}" if bad else ""

    def to_json(self) -> dict[str, Any]:
        links = self.result.links
        stage = self.stage
        return {
            "artifact": self.artifact, "sha256": self.digest,
            "verdict": "PASS" if self.result.ok else "FAIL",
            "steps": [lk.step for lk in links],
            "signers": [lk.signer for lk in links],
            "builder": stage.builder if stage else "",
            "source": f"{stage.source[0]}@{stage.source[2]}" if stage else "",
            "firstFailure": self.first_failure,
        }


@attrs.frozen
class AuditReport:
    release_dir: str
    policy: str
    rows: tuple[Row, ...]
    problems: tuple[Check, ...]
    when: dt.datetime

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r.result.ok for r in self.rows) and not self.problems

    def summary(self) -> dict[str, int]:
        """The counts alone (without building every row's document)."""
        passed = sum(r.result.ok for r in self.rows)
        return {"artifacts": len(self.rows), "passed": passed,
                "failed": len(self.rows) - passed, "attestationProblems": len(self.problems)}

    def to_json(self) -> dict[str, Any]:
        return {
            "releaseDir": self.release_dir, "policy": self.policy,
            "auditedOn": rfc3339(self.when), "verdict": "PASS" if self.ok else "FAIL",
            "summary": self.summary(),
            "artifacts": [r.to_json() for r in self.rows],
            "attestationProblems": [f"{c.name}: {c.detail}" for c in self.problems],
        }


def shown(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (kept by ``surrogateescape``) become
    visible ``\\xNN`` escapes, so every report format can be written."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@attrs.frozen
class Scan:
    """What a release folder holds. ``hostile`` entries (a name that is not UTF-8, a link
    leading outside or nowhere, a fifo, an unreadable file or folder) become FAIL rows:
    a file an attacker ships must never abort the audit."""

    attestations: list[str]
    files: list[tuple[str, str, int]]  # (name, path to read, size)
    images: list[tuple[str, str]]
    hostile: list[tuple[str, str]]  # (name as shown, why it fails)
    problems: list[Check]
    #: a symlink's name -> the name of the file it leads to (in the folder), read through
    #: it. The link is judged under its own name, the one a download of the folder gives
    #: the file (redteam: judged under its target's, a link kube-apiserver -> kubectl
    #: passed as kube-apiserver); a name no subject has is then found by its digest.
    aliases: dict[str, str] = attrs.field(factory=dict)


def scan(release_dir: str, *, exclude: tuple[str, ...] = ()) -> Scan:
    """Walk the folder (iteratively: a tree thousands of levels deep must not exhaust
    the recursion limit); files in ``exclude`` (the policy) are not artifacts."""
    root = Path(release_dir)
    if not root.is_dir():
        raise InputError(f"release {release_dir}: not a folder")
    real_root = os.path.realpath(root)
    # os.scandir's entries carry their type and cache their stat: at 10,000 files,
    # pathlib's rglob, sorting Path objects and a realpath per entry cost more than
    # hashing the files. Symlinks alone are resolved (once, within the folder).
    skip = {_identity(x) for x in exclude} - {None}
    found: list[tuple[tuple[str, ...], str, os.DirEntry[str]]] = []
    out = Scan([], [], [], [], [])
    stack: list[tuple[str, tuple[str, ...]]] = [(str(root), ())]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as e:
            out.hostile.append((shown("/".join(prefix) or "."),
                                f"folder cannot be listed: {e.strerror}"))
            continue
        for item in entries:
            parts = (*prefix, item.name)
            if not item.is_symlink() and item.is_dir(follow_symlinks=False):
                stack.append((item.path, parts))
            else:
                found.append((parts, item.path, item))
    for parts, path, entry in sorted(found, key=lambda f: f[0]):
        rel = "/".join(parts)
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            out.hostile.append((shown(rel), "file name is not valid UTF-8; no attestation "
                                "can name it"))
            continue
        read_path = path
        try:
            if entry.is_symlink():
                target = os.path.realpath(path)
                if os.path.commonpath([real_root, target]) != real_root:
                    out.hostile.append((rel, "symlink points outside the release folder"))
                    continue
                st = os.stat(target)
                if stat.S_ISDIR(st.st_mode):
                    continue  # its files are listed under their own names
                read_path = target
                out.aliases[rel] = os.path.relpath(target, real_root).replace(os.sep, "/")
            else:
                st = os.stat(path, follow_symlinks=False)
        except OSError:
            out.hostile.append((rel, "broken symlink" if entry.is_symlink() else
                                "cannot be read"))
            continue
        if (st.st_dev, st.st_ino) in skip:
            continue
        if not stat.S_ISREG(st.st_mode):
            out.hostile.append((rel, "not a regular file (a fifo, socket or device)"))
            continue
        if not os.access(read_path, os.R_OK):
            out.hostile.append((rel, "cannot be read (permission denied)"))
            continue
        if rel.endswith(ATTESTATION_SUFFIXES):
            out.attestations.append(read_path)
        elif rel == "images.txt":
            try:
                out.images.extend(_images(Path(read_path)))
            except InputError as e:
                out.problems.append(Check("images.txt", False, e.message))
        else:
            out.files.append((rel, read_path, st.st_size))
    return out


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


#: Largest images.txt an audit reads (a line per image: some 150,000 images). The release
#: folder is hostile: it was read whole, whatever its size (redteam).
MAX_IMAGES_BYTES = 16 << 20


def _images(path: Path) -> list[tuple[str, str]]:
    from attester.jsonio import read_bytes

    out = []
    data = read_bytes(path, what=path.name, limit=MAX_IMAGES_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path.name}: not UTF-8 text") from None
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        ref, sep, digest = line.replace(" ", "@").partition("@sha256:")
        if not sep or not ref or not is_hex_digest("sha256", digest):
            raise InputError(f"{path.name}: line {n}: expected REGISTRY/REPO@sha256:<64 hex>")
        out.append((ref, digest.lower()))
    return out


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """An audit builds tens of thousands of small acyclic objects (parsed statements,
    checks, rows, report lines): reference counting frees them, while the cyclic
    collector's full passes over the growing heap cost ~15% of a 10,000-file audit's CPU
    time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def audit(release_dir: str, policy_path: str, *, trusted_root: str | None = None,
          now: dt.datetime, progress: bool = False) -> AuditReport:
    with _cyclic_gc_paused():
        return _audit(release_dir, policy_path, trusted_root=trusted_root, now=now,
                      progress=progress)


def _audit(release_dir: str, policy_path: str, *, trusted_root: str | None,
           now: dt.datetime, progress: bool) -> AuditReport:
    from attester.jsonio import parse_json
    from attester.release import policyfile
    from attester.verify.checker import attestation_documents

    pf = policyfile.load(policy_path)
    trusts = pf.trusts
    if trusted_root:
        trusts = {k: attrs.evolve(t, trusted_root_path=trusted_root, offline=True)
                  for k, t in trusts.items()}
    try:  # every file is read through this handle of the folder, never by its path
        root = DirRoot(release_dir)
    except OSError as e:
        raise InputError(f"release {release_dir}: cannot open the folder: "
                         f"{e.strerror}") from None
    found = scan(release_dir, exclude=(policy_path,))
    attestations, files, images = found.attestations, found.files, found.images
    if not attestations:
        raise InputError(f"release {release_dir}: holds no attestations (*.intoto.json, "
                         "*.sigstore.json)")
    # Linear in the release's size: each file hashed once, on the shared thread pool, in
    # the background while the attestations are read and each verified once; their
    # subjects and dependencies indexed by digest once; each artifact then followed by
    # lookups in the index.
    tasks = [HashTask(label=path, size=size, open=_opener(root, found.aliases.get(name, name)))
             for name, path, size in files]
    hashed: list[list[dict[str, str]]] = []
    failed: list[BaseException] = []

    def hash_all() -> None:
        try:
            hashed.append(hash_tasks(tasks, ("sha256",), progress=progress))
        except BaseException as e:  # noqa: BLE001 - re-raised below, in the caller
            failed.append(e)

    hasher = threading.Thread(target=hash_all, name="audit-hashing", daemon=True)
    hasher.start()
    try:
        docs = []
        unreadable: list[Check] = []
        for path in attestations:
            where = shown(os.path.relpath(path, release_dir))
            try:  # an attestation an attacker mangled is a problem row, not an abort
                held = attestation_documents(path)
            except InputError as e:
                unreadable.append(Check(f"attestation {where}", False, e.message))
                continue
            for at, data in held:  # each line of a JSON Lines file is one attestation
                at = where + at[len(path):]
                try:
                    docs.append((at, data, parse_json(data, where=f"attestation {at}")))
                except InputError as e:
                    unreadable.append(Check(f"attestation {at}", False, e.message))
        loaded = load_chain(docs, trusts, pf.policies, pf.predicate_types)
        problems = [*found.problems, *unreadable, *loaded.problems]
        index = loaded.index(tuple(trusts))  # the top steps the policy names must cover
    finally:
        hasher.join()  # an attestation's error, if any, is the one reported
    if failed:
        raise failed[0]
    digests = hashed[0]
    rows = [Row(name, d["sha256"], index.follow(name, d["sha256"], source_uri=pf.source_uri))
            for (name, _, _), d in zip(files, digests, strict=True)]
    rows.extend(Row(ref, digest, index.follow(ref, digest, source_uri=pf.source_uri))
                for ref, digest in images)
    rows.extend(Row(name, "", ChainResult(artifact=name, checks=(
        Check("release entry", False, f"{name}: {why}"),))) for name, why in found.hostile)
    return AuditReport(release_dir=release_dir, policy=policy_path, rows=tuple(rows),
                       problems=tuple(problems), when=now)


def _opener(root: DirRoot, rel: str) -> Callable[[], IO[bytes]]:
    def opener() -> IO[bytes]:
        try:
            return root.open(rel)
        except FileNotFoundError:
            raise InputError(f"{rel}: disappeared while the release was audited") from None
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise InputError(f"{rel}: a folder or file on its path was replaced by a "
                                 "symlink during the audit; refusing to read outside "
                                 f"{root.path}") from None
            raise InputError(f"{rel}: cannot read: {e.strerror}") from None

    return opener


def render_text(report: AuditReport) -> str:
    # Straight from the rows (not through to_json): one line per artifact, 10,000 of them.
    passed = sum(r.result.ok for r in report.rows)
    lines = [f"audit of {report.release_dir} against {report.policy}: "
             f"{'PASS' if report.ok else 'FAIL'} ({passed}/{len(report.rows)} artifacts pass, "
             f"{len(report.problems)} attestation problem(s))"]
    for row in report.rows:
        mark = "ok  " if row.result.ok else "FAIL"
        failure = row.first_failure
        steps = " -> ".join(lk.step for lk in reversed(row.result.links)) or (
            "attested with another digest" if failure.startswith("chain digest")
            else "no attestation")
        lines.append(f"  {mark} {row.artifact}  [{steps}]  {row.source}")
        if failure:
            lines.append(f"       {failure}")
    lines.extend(f"  attestation problem: {c.name}: {c.detail}" for c in report.problems)
    # Every field may come from the release folder (file names) or an attestation:
    # escape control characters so a name cannot fake an "ok" line.
    return "\n".join(safe(line) for line in lines) + "\n"


#: The report is one self-contained page: its own inline style, and nothing else (no
#: scripts, frames, fetches or forms), whatever a file name smuggles in.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
       "form-action 'none'")


def render_html(report: AuditReport) -> str:
    doc = report.to_json()
    s = doc["summary"]
    def esc(text: str) -> str:  # control characters shown, markup escaped
        return html.escape(safe(text))

    rows = []
    for r in doc["artifacts"]:
        cls = "pass" if r["verdict"] == "PASS" else "fail"
        rows.append(
            f"<tr class='{cls}'><td>{esc(r['artifact'])}<br><code>{esc(r['sha256'][:16])}…"
            f"</code></td><td class='verdict'>{r['verdict']}</td>"
            f"<td>{esc(' → '.join(reversed(r['steps'])) or '—')}</td>"
            f"<td>{'<br>'.join(esc(x) for x in r['signers']) or '—'}</td>"
            f"<td>{esc(r['builder']) or '—'}</td><td><code>{esc(r['source']) or '—'}</code></td>"
            f"<td>{esc(r['firstFailure'])}</td></tr>")
    problems = "".join(f"<li>{esc(p)}</li>" for p in doc["attestationProblems"])
    verdict_cls = "pass" if doc["verdict"] == "PASS" else "fail"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>attest audit: {esc(report.release_dir)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #1b1f24; }}
h1 {{ font-size: 1.4em; }} .summary {{ font-size: 1.1em; margin: 1em 0; }}
.badge {{ padding: .2em .6em; border-radius: .3em; color: white; font-weight: bold; }}
.badge.pass {{ background: #1a7f37; }} .badge.fail {{ background: #cf222e; }}
table {{ border-collapse: collapse; width: 100%; font-size: .9em; }}
th, td {{ border: 1px solid #d0d7de; padding: .4em .6em; text-align: left; vertical-align: top; }}
th {{ background: #f6f8fa; }} tr.fail td.verdict {{ color: #cf222e; font-weight: bold; }}
tr.pass td.verdict {{ color: #1a7f37; font-weight: bold; }}
code {{ font-size: .85em; word-break: break-all; }}
</style></head><body>
<h1>Release audit: {esc(report.release_dir)}</h1>
<p class="summary"><span class="badge {verdict_cls}">{doc['verdict']}</span>
 {s['passed']} of {s['artifacts']} artifacts pass · {s['failed']} fail ·
 {s['attestationProblems']} attestation problem(s) · policy <code>{esc(report.policy)}</code>
 · audited {doc['auditedOn']} with no network</p>
<table><thead><tr><th>Artifact</th><th>Verdict</th><th>Steps</th><th>Signers</th>
<th>Builder</th><th>Source commit</th><th>First failing check</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
{f'<h2>Attestation problems</h2><ul>{problems}</ul>' if problems else ''}
</body></html>
"""


def render(report: AuditReport, fmt: str) -> bytes:
    with _cyclic_gc_paused():
        return _render(report, fmt)


def render_json(report: AuditReport) -> bytes:
    """The JSON report, indented, with one artifact row per line.

    The standard library's encoder leaves its C implementation whenever it indents (4x
    slower: a tenth of a second at 10,000 rows, as long as the rest of the audit's extra
    work), so the rows are encoded compactly, each on its own line, inside the indented
    document; with sorted keys "artifacts" is the document's first key."""
    import json

    from attester.display import safe_json
    from attester.jsonio import dumps_pretty

    doc = safe_json(report.to_json())  # names as the text report shows them (\xff...)
    rows = doc.pop("artifacts")
    head = dumps_pretty({"artifacts": [], **doc}).decode()
    marker = '{\n  "artifacts": [],'
    assert head.startswith(marker)  # noqa: S101 - sort_keys puts it first
    encoder = json.JSONEncoder(sort_keys=True, ensure_ascii=False)  # one for every row
    body = ",\n    ".join(map(encoder.encode, rows))
    artifacts = f'{{\n  "artifacts": [\n    {body}\n  ],' if rows else marker
    return (artifacts + head[len(marker):]).encode()


def _render(report: AuditReport, fmt: str) -> bytes:
    if fmt == "json":
        return render_json(report)
    if fmt == "html":
        return render_html(report).encode()
    return render_text(report).encode()

