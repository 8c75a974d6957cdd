"""``attest verify --artifacts STORE --attestations DIR``: a whole release in one process.

Every artifact of the stores is paired with the attestations that claim it, and each
attestation is verified once, against one trust and one policy:

- an attestation named for an artifact (``NAME.sigstore.json``, ``NAME.intoto.jsonl``,
  ``NAME.attestation``, ...) claims that artifact: it must verify and cover it (a subject
  of that name with its digest, else one with its digest; a signed-file bundle must sign
  exactly its bytes);
- any other attestation (``multiple.intoto.jsonl``, ``release.intoto.json``) claims the
  artifacts its verified subjects name: every one must be in the stores with the digest
  the subject gives, and it must claim at least one;
- an artifact passes when it has at least one claim and every claim on it holds; with
  ``require_complete`` an artifact without any fails.

Fail closed: an attestation that does not parse or verify, covers another artifact, names
an artifact the stores do not hold, or is ambiguous (two artifacts of one name) is a
failure with its own line; nothing is skipped silently. The artifacts are hashed on the
hashing engine in the background while the attestations are read and the verifier's
libraries load, and the attestations are then verified ``jobs`` at a time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from attester.errors import AttesterError, InputError, UsageError
from attester.verify.checks.policy import Artifact, Check, algorithms_for, match_artifact
from attester.verify.checks.report import Report
from attester.verify.checks.requirements import refused_check
from attester.verify.checks.statement import Demands

#: File names that mark an attestation, longest first: ``NAME`` + suffix claims ``NAME``.
#: ``.publish.attestation`` is what pypi-attestations writes for a distribution;
#: ``.provenance`` / ``.provenance.json`` hold PyPI's provenance object for a file.
SUFFIXES = (".publish.attestation", ".provenance.json", ".sigstore.json", ".intoto.jsonl",
            ".intoto.json", ".attestation", ".provenance", ".sigstore")


def stems(name: str) -> list[str]:
    """The artifact names an attestation file name can claim (longest suffix first), or
    ``[]`` when it is not an attestation's name."""
    return [name[:-len(s)] for s in SUFFIXES if name.endswith(s) and len(name) > len(s)]


def is_attestation_name(name: str) -> bool:
    return bool(stems(name))


@attrs.frozen
class Doc:
    """One attestation file: where it is shown, its bytes (or why there are none), and the
    artifact its name claims (None: a covering attestation, claims by subjects)."""

    where: str
    name: str
    data: bytes | None = attrs.field(repr=False)
    error: str | None = None
    claims: str | None = None
    problem: str | None = None  # pairing failed (ambiguous name)
    #: a local file, read when it is verified (and by the process that verifies it): a
    #: release's attestations are never all in memory at once
    listed: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class Claim:
    """What one attestation says about one artifact, checked."""

    attestation: str
    check: Check


@attrs.frozen
class ArtifactResult:
    name: str
    digest: Mapping[str, str]
    claims: tuple[Claim, ...]
    present: bool = True
    required: bool = False

    @property
    def status(self) -> str:
        if not self.present or any(not c.check.ok for c in self.claims):
            return "failed"
        if not self.claims:
            return "failed" if self.required else "unattested"
        return "ok"

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def failures(self) -> list[Claim]:
        bad = [c for c in self.claims if not c.check.ok]
        if not bad and self.status == "failed":
            return [Claim("", Check("attestation", False, "no attestation claims it "
                                    "(--require-complete)"))]
        return bad

    def to_json(self) -> dict[str, Any]:
        return {"artifact": self.name, "status": self.status, "verified": self.status == "ok",
                "digest": dict(self.digest),
                "claims": [dict(c.check.to_json(), attestation=c.attestation)
                           for c in self.claims]}


@attrs.frozen
class BatchReport:
    artifacts: tuple[ArtifactResult, ...]
    attestations: tuple[Report, ...]
    #: failures of an attestation as a whole (it does not verify, claims nothing)
    problems: tuple[Claim, ...]

    @property
    def ok(self) -> bool:
        return all(a.ok for a in self.artifacts) and not self.problems

    def to_json(self) -> dict[str, Any]:
        counts = {s: sum(a.status == s for a in self.artifacts)
                  for s in ("ok", "failed", "unattested")}
        return {"verified": self.ok,
                "summary": dict(counts, artifacts=len(self.artifacts),
                                attestations=len(self.attestations),
                                problems=len(self.problems)),
                "artifacts": [a.to_json() for a in self.artifacts],
                "problems": [dict(p.check.to_json(), attestation=p.attestation)
                             for p in self.problems],
                "attestations": [r.to_json() for r in self.attestations]}


@attrs.frozen
class _Listed:
    store: Any
    entry: Any

    @property
    def shown(self) -> str:
        """A file's path as the user would type it; a remote entry's URI."""
        root = getattr(self.store, "root", None)
        return os.path.join(str(root), self.entry.name) if root is not None and \
            os.path.isdir(str(root)) else str(self.entry.name)


def _store_uri(spec: str) -> str:
    return spec if "://" in spec else f"file://{spec}"


def _same(a: Any, b: Any) -> bool:
    ra, rb = getattr(a, "root", None), getattr(b, "root", None)
    if ra is not None and rb is not None:
        return bool(os.path.realpath(ra) == os.path.realpath(rb))
    return str(a.uri) == str(b.uri)


def _read(listed: _Listed) -> tuple[bytes | None, str | None]:
    """An attestation's bytes, bounded as every document (jsonio's limit)."""
    from attester.jsonio import MAX_DOCUMENT_BYTES

    try:
        with listed.store.task(listed.entry).open() as stream:
            data = stream.read(MAX_DOCUMENT_BYTES + 1)
    except AttesterError as e:
        return None, e.message
    except OSError as e:
        return None, f"cannot read: {e.strerror or e}"
    if len(data) > MAX_DOCUMENT_BYTES:
        return None, f"larger than {MAX_DOCUMENT_BYTES} bytes, refusing to load it"
    return bytes(data), None


class _Digests:
    """Every artifact's digests, computed in the background; more algorithms on demand
    (a subject that gives only sha512, as npm's)."""

    def __init__(self, listed: Sequence[_Listed], progress: bool) -> None:
        self._listed = {x.entry.name: x for x in listed}
        self._digests: dict[str, dict[str, str]] = {}
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(listed, progress),
                                        daemon=True)
        self._thread.start()

    def _run(self, listed: Sequence[_Listed], progress: bool) -> None:
        from attester.stores import digest_entries

        try:
            by_store: dict[int, list[_Listed]] = {}
            for x in listed:
                by_store.setdefault(id(x.store), []).append(x)
            for group in by_store.values():
                found = digest_entries(group[0].store, [x.entry for x in group],
                                       ("sha256",), progress=progress)
                for x, d in zip(group, found, strict=True):
                    self._digests[x.entry.name] = dict(d)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            self._error = e

    def wait(self) -> dict[str, dict[str, str]]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digests

    def of(self, name: str, algorithms: Sequence[str]) -> dict[str, str]:
        from attester.stores import digest_entries

        have = self.wait()[name]
        missing = tuple(a for a in algorithms if a not in have)
        if missing:
            x = self._listed[name]
            more = digest_entries(x.store, [x.entry], missing)[0]
            with self._lock:
                have.update(more)
        return have


class _OnDemand(Mapping[str, str]):
    """An artifact's digests, each computed when first asked for: a signed-file bundle
    may sign sha384 or sha512 of it."""

    def __init__(self, name: str, digests: _Digests) -> None:
        self._name = name
        self._digests = digests

    def __getitem__(self, alg: str) -> str:
        from attester.hashing import SUPPORTED_ALGORITHMS

        if alg not in SUPPORTED_ALGORITHMS:
            raise KeyError(alg)
        return self._digests.of(self._name, (alg,))[alg]

    def __contains__(self, alg: object) -> bool:
        from attester.hashing import SUPPORTED_ALGORITHMS

        return alg in SUPPORTED_ALGORITHMS

    def __iter__(self) -> Any:
        return iter(self._digests.of(self._name, ("sha256",)))

    def __len__(self) -> int:
        return len(self._digests.of(self._name, ("sha256",)))


def _pair(docs: list[_Listed], names: Sequence[str]) -> list[tuple[_Listed, str | None,
                                                                      str | None]]:
    """Each attestation with the artifact its name claims (or None), or why it is
    ambiguous."""
    exact = set(names)
    by_base: dict[str, list[str]] = {}
    for n in names:
        by_base.setdefault(n.rsplit("/", 1)[-1], []).append(n)
    out: list[tuple[_Listed, str | None, str | None]] = []
    for d in docs:
        claimed: str | None = None
        problem: str | None = None
        for stem in stems(d.entry.name):
            if stem in exact:
                claimed = stem
                break
            found = by_base.get(stem.rsplit("/", 1)[-1], [])
            if len(found) == 1:
                claimed = found[0]
                break
            if len(found) > 1:
                problem = (f"its name could claim {', '.join(repr(f) for f in found[:3])}: "
                           "ambiguous; lay the attestations out as the artifacts are")
                break
        out.append((d, claimed, problem))
    return out


Verifier = Callable[[bytes, str, Demands, Artifact | None], Report]


def verify_release(artifact_stores: Sequence[str], attestation_stores: Sequence[str],
                   demands: Demands, verify: Verifier, *, options: Mapping[str, Any],
                   require_complete: bool, jobs: int, progress: bool = False,
                   warm_up: Callable[[], None] | None = None) -> BatchReport:
    """Pair, hash and verify. ``verify(data, where, demands, blob)`` verifies one
    attestation file's bytes (checker.verify_bytes with the trust bound); ``warm_up`` runs
    while the artifacts hash (load the trusted root and the verifier's libraries)."""
    from attester.parallel import map_forked
    from attester.stores import open_store

    stores = [open_store(_store_uri(u), **options) for u in artifact_stores]
    att_stores: list[Any] = []
    for u in attestation_stores:
        s = open_store(_store_uri(u), **options)
        if not any(_same(s, o) for o in [*stores, *att_stores]):
            att_stores.append(s)
    artifacts: list[_Listed] = []
    doc_list: list[_Listed] = []
    for s in stores:
        for e in s.entries():
            (doc_list if is_attestation_name(e.name) else artifacts).append(_Listed(s, e))
    for s in att_stores:
        doc_list.extend(_Listed(s, e) for e in s.entries())
    # Nothing to verify is not a pass (redteam: an empty --attestations folder, or stores
    # holding no artifacts, verified nothing and exited 0): the run could not check.
    if not artifacts:
        raise InputError(f"--artifacts {', '.join(artifact_stores)}: no artifacts to verify "
                         "(every file listed is an attestation, or none is listed)")
    if not doc_list:
        raise InputError(f"--attestations {', '.join(attestation_stores)}: no attestations "
                         "(" + ", ".join("NAME" + s for s in SUFFIXES) + ") to verify the "
                         "artifacts with")
    problems: list[Claim] = []
    names = [a.entry.name for a in artifacts]
    dupes = {n for n in names if names.count(n) > 1} if len(set(names)) != len(names) else set()
    unique = [a for a in artifacts if a.entry.name not in dupes]
    digests = _Digests(unique, progress)
    paired = _pair(doc_list, [a.entry.name for a in unique])
    docs: list[Doc] = []
    for listed, claimed, problem in paired:
        if not is_attestation_name(listed.entry.name):
            problems.append(Claim(listed.shown, Check("attestation", False, (
                "not an attestation's file name (NAME" + ", NAME".join(SUFFIXES) + ")"))))
            continue
        local = getattr(listed.store, "root", None) is not None
        data, error = _read(listed) if problem is None and not local else (None, None)
        docs.append(Doc(where=listed.shown, name=listed.entry.name, data=data, error=error,
                        claims=claimed, problem=problem, listed=listed if local else None))
    if warm_up is not None:
        warm_up()
    digests.wait()

    def lookup(names_: Sequence[str], algorithms: tuple[str, ...]) -> list[Artifact]:
        return [Artifact(name=n, digest=digests.of(n, algorithms)) for n in names_]

    def one(doc: Doc) -> Report:
        if doc.problem is not None:
            return Report(attestation=doc.where, checks=(Check("attestation", False,
                                                               doc.problem),))
        data, error = doc.data, doc.error
        if data is None and doc.listed is not None:
            data, error = _read(doc.listed)
        if data is None:
            return Report(attestation=doc.where, checks=(Check("attestation", False,
                                                               str(error)),))
        if doc.claims is not None:
            d = attrs.evolve(demands, artifacts=[doc.claims], hash_artifacts=lookup)
            blob = Artifact(name=doc.claims, digest=_OnDemand(doc.claims, digests))
        else:
            d = attrs.evolve(demands, subjects_checked_by_caller=True)
            blob = None
        try:
            return verify(data, doc.where, d, blob)
        except UsageError as e:
            if doc.claims is None and "signs one file" in e.message:
                return Report(attestation=doc.where, checks=(Check(
                    "attestation", False, f"signs one file, {stems(doc.name)[0]!r} by its "
                    "name, which is not in the artifact stores (missing artifact)"),))
            raise
        except AttesterError as e:  # this attestation's failure, not the whole run's
            return Report(attestation=doc.where, checks=(Check("attestation", False,
                                                               e.message),))

    # Signature checks are CPU-bound and hold the GIL: spread over processes, not threads.
    results = map_forked(one, docs, processes=jobs)
    reports: list[Report] = []
    refused: list[UsageError] = []
    for doc, r in zip(docs, results, strict=True):
        if isinstance(r, AttesterError) and not isinstance(r, UsageError):
            raise r
        if isinstance(r, UsageError):
            # One document's usage error (a keyless bundle when only --key is given, a
            # signature over a file where --builder-id needs a statement) is that
            # document's failure, named; only when every document raised one is it the
            # run's (exit 2). (redteam: one planted document made the release exit 2, no
            # verdicts, the good attestations unreported.)
            refused.append(r)
            r = Report(attestation=doc.where, checks=(refused_check(r),))
        reports.append(r)
    if refused and len(refused) == len(docs):
        raise refused[0]
    return _combine(unique, dupes, docs, reports, digests, require_complete, problems)


def _combine(artifacts: Sequence[_Listed], dupes: set[str], docs: Sequence[Doc],
             reports: Sequence[Report], digests: _Digests, require_complete: bool,
             problems: list[Claim]) -> BatchReport:
    claims: dict[str, list[Claim]] = {a.entry.name: [] for a in artifacts}
    missing: dict[str, list[Claim]] = {}
    for doc, report in zip(docs, reports, strict=True):
        if doc.claims is not None:
            # Fail closed: a pass counts only with the check that tied it to the artifact.
            # A document of several attestations (a PyPI provenance object) numbers each
            # one's checks (Check.numbered); any of them failing is in failures().
            checks = report.failures() or [
                c for c in report.checks if c.unnumbered == f"artifact {doc.claims}"] or \
                [Check("artifact", False, "the attestation verified, but no check tied it "
                       "to this artifact")]
            claims[doc.claims].append(Claim(doc.where, checks[0]))
            continue
        if not report.ok:
            problems.extend(Claim(doc.where, c) for c in report.failures()[:1] or [
                Check("attestation", False, "no check ran")])
            continue
        covered = _cover(doc, report, digests, claims, missing)
        if not covered:
            problems.append(Claim(doc.where, Check(
                "attestation", False, "its name claims no artifact and none of its "
                "subjects is in the artifact stores")))
    for name in sorted(dupes):
        missing.setdefault(name, []).append(Claim("", Check(
            "artifact", False, "two artifacts have this name (in different stores): "
            "ambiguous")))
    known = digests.wait()
    out = [ArtifactResult(name=a.entry.name, digest=known.get(a.entry.name, {}),
                          claims=tuple(claims[a.entry.name]), required=require_complete)
           for a in artifacts]
    out += [ArtifactResult(name=n, digest={}, claims=tuple(c), present=False)
            for n, c in missing.items()]
    out.sort(key=lambda a: a.name)
    return BatchReport(artifacts=tuple(out), attestations=tuple(reports),
                       problems=tuple(problems))


def _cover(doc: Doc, report: Report, digests: _Digests,
           claims: dict[str, list[Claim]], missing: dict[str, list[Claim]]) -> bool:
    """A covering attestation's verified subjects, each matched to the artifact of its
    name: present with the subject's digest, or a failure (absent, another digest)."""
    statements = [r.statement for r in (report.lines or (report,))
                  if r.ok and r.statement is not None]
    names = list(claims)
    by_base: dict[str, list[str]] = {}
    for n in names:
        by_base.setdefault(n.rsplit("/", 1)[-1], []).append(n)
    seen: dict[str, Check] = {}
    for stmt in statements:
        for s in stmt.subjects():
            if not s.name:
                continue
            target = s.name if s.name in claims else None
            if target is None:
                found = [n for n in by_base.get(s.name.rsplit("/", 1)[-1], [])
                         if n == s.name or n.endswith("/" + s.name)
                         or s.name.endswith("/" + n)]
                target = found[0] if len(found) == 1 else None
                if len(found) > 1:
                    seen.setdefault("\0" + s.name, Check(
                        "artifact", False, f"subject {s.name!r} could name "
                        f"{', '.join(repr(f) for f in found[:3])}: ambiguous"))
                    continue
            if target is None:
                seen.setdefault("\0" + s.name, Check(
                    "artifact", False, f"subject {s.name!r} is not in the artifact stores "
                    "(missing artifact)"))
                continue
            check = match_artifact([s], Artifact(name=target, digest=digests.of(
                target, algorithms_for([s]))))
            prev = seen.get(target)
            if prev is None or (prev.ok and not check.ok):
                seen[target] = check
    for key, check in seen.items():
        if key.startswith("\0"):
            missing.setdefault(key[1:], []).append(Claim(doc.where, check))
        else:
            claims[key].append(Claim(doc.where, check))
    return any(not k.startswith("\0") for k in seen)
