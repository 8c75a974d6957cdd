"""Promotion attestations from kpromo's manifests (image and file promotion).

kpromo copies images from a staging registry to production registries by digest, and
files from a staging bucket to production buckets by sha256. Its own records are per
image with no chain back. Here every source and destination is resolved (registries
through the distribution API, files through the stores), a destination whose digest
differs from the source's is refused, and one statement per digest is written whose
subjects are the production references and whose resolved dependency is the staging
one: the link ``attest verify --chain`` follows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from attester.display import safe
from attester.errors import AttesterError, InputError, UsageError, VerificationError
from attester.model.models import BuildRecord, ResourceDescriptor, Statement, rfc3339
from attester.model.predicates import statement_for
from attester.parallel import DEFAULT_JOBS, REGISTRY_JOBS, first_error, map_ordered
from attester.release.steps import BUILD_TYPE_PROMOTION, PROMO_TOOLS_PREDICATE

DEFAULT_PROMOTER_ID = "https://attester.dev/builders/promoter/v1"


@attrs.frozen
class ImagePromotion:
    name: str
    digest: str
    tags: tuple[str, ...]
    source: str
    destinations: tuple[str, ...]


@attrs.frozen
class FilePromotion:
    name: str
    sha256: str
    source: str
    destinations: tuple[str, ...]


@attrs.frozen
class Manifest:
    """A kpromo manifest, read once: its parsed document and the sha256 of the very bytes
    parsed, which the promotion statement records (read a second time, a manifest given
    on stdin was recorded as the digest of nothing). The document is shared: read it,
    never modify it."""

    path: str
    sha256: str
    doc: Any = attrs.field(eq=False, repr=False)

    @classmethod
    def read(cls, path: str | Manifest) -> Manifest:
        """``path`` (``-`` for stdin) parsed with the C parser when PyYAML has it (a
        1,000-image manifest takes 0.6 s in the pure-Python one)."""
        from attester.jsonio import parse_yaml, read_bytes

        if isinstance(path, Manifest):
            return path
        data = read_bytes(path, what="manifest")
        return cls(path=path, sha256=hashlib.sha256(data).hexdigest(),
                   doc=parse_yaml(data, where=f"manifest {path}"))


def _src_and_dsts(entries: Any, key: str, path: str) -> tuple[str, list[str]]:
    if not isinstance(entries, list) or not entries:
        raise InputError(f"manifest {path}: no {key} listed")
    src = [e[key if key == "base" else "name"] for e in entries
           if isinstance(e, dict) and e.get("src")]
    dsts = [e[key if key == "base" else "name"] for e in entries
            if isinstance(e, dict) and not e.get("src")]
    if len(src) != 1:
        raise InputError(f"manifest {path}: expected exactly one entry with src: true, "
                         f"found {len(src)}")
    if not dsts:
        raise InputError(f"manifest {path}: no destination besides the source")
    return str(src[0]).rstrip("/"), [str(d).rstrip("/") for d in dsts]


def read_image_manifest(manifest: str | Manifest, images: str | None) -> list[ImagePromotion]:
    """kpromo's promoter-manifest.yaml (registries, and images unless thin) + images.yaml."""
    m = Manifest.read(manifest)
    doc, manifest = m.doc, m.path
    if not isinstance(doc, dict):
        raise InputError(f"manifest {manifest}: expected a mapping with 'registries'")
    src, dsts = _src_and_dsts(doc.get("registries"), "name", manifest)
    image_list = Manifest.read(images).doc if images else doc.get("images")
    where = images or manifest
    if not isinstance(image_list, list) or not image_list:
        raise InputError(f"manifest {where}: no images listed (thin manifests need --images)")
    out = []
    for img in image_list:
        if not isinstance(img, dict) or "name" not in img or not isinstance(img.get("dmap"),
                                                                             dict):
            raise InputError(f"manifest {where}: each image needs a name and a dmap")
        for digest, tags in img["dmap"].items():
            if not str(digest).startswith("sha256:") or len(str(digest)) != 71:
                raise InputError(f"manifest {where}: {img['name']}: {digest!r} is not a "
                                 "sha256 digest")
            out.append(ImagePromotion(name=str(img["name"]), digest=str(digest),
                                      tags=tuple(str(t) for t in (tags or [])),
                                      source=src, destinations=tuple(dsts)))
    return out


def read_file_manifest(manifest: str | Manifest, files: str | None) -> list[FilePromotion]:
    m = Manifest.read(manifest)
    doc, manifest = m.doc, m.path
    if not isinstance(doc, dict) or "filestores" not in doc:
        raise InputError(f"manifest {manifest}: expected 'filestores'")
    src, dsts = _src_and_dsts(doc["filestores"], "base", manifest)
    listing = Manifest.read(files).doc if files else doc
    entries = listing.get("files") if isinstance(listing, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InputError(f"manifest {files or manifest}: no files listed")
    out = []
    for f in entries:
        if not isinstance(f, dict) or not f.get("name") or len(str(f.get("sha256", ""))) != 64:
            raise InputError(f"manifest {files or manifest}: each file needs a name and a "
                             "sha256")
        out.append(FilePromotion(name=str(f["name"]), sha256=str(f["sha256"]).lower(),
                                 source=src, destinations=tuple(dsts)))
    return out


#: Resolves references (``REGISTRY/REPO:TAG`` or ``@sha256:...``, or file URIs), all at
#: once so the round trips overlap: each to its sha256, or the error resolving it raised.
Resolver = Callable[[Sequence[str]], Mapping[str, "str | AttesterError"]]


class _Expected:
    """Every reference a promotion must resolve to a given digest, checked in manifest
    order after they were all resolved together: the error reported first is the same
    whatever order the answers came in."""

    def __init__(self) -> None:
        self.wanted: dict[str, tuple[str, str]] = {}  # ref -> (what, digest)

    def add(self, what: str, ref: str, want: str) -> None:
        self.wanted.setdefault(ref, (what, want))

    def check(self, resolve: Resolver) -> None:
        got = resolve(list(self.wanted))
        errors: list[AttesterError] = []
        for ref, (what, want) in self.wanted.items():
            result = got[ref]
            if isinstance(result, AttesterError):
                errors.append(result)
            elif result != want:
                errors.append(VerificationError(
                    f"{what}: {ref} has digest {result}, the source has {want}; refusing to "
                    "attest a promotion that changed the artifact"))
        error = first_error(errors)
        if error is not None:
            raise error


def _promotion(*, builder_id: str, manifest: str, manifest_digest: str,
               params: Mapping[str, Any], names: Sequence[str], source: str, sha256: str,
               now: dt.datetime) -> Statement:
    """One promotion statement: production names as subjects, the staging source as the
    resolved dependency, all with the one digest."""
    record = BuildRecord(
        builder_id=builder_id, build_type=BUILD_TYPE_PROMOTION,
        external_parameters={"manifest": {"path": manifest, "sha256": manifest_digest},
                             **params},
        subjects=tuple(ResourceDescriptor(name=n, digest={"sha256": sha256})
                       for n in dict.fromkeys(names)),
        resolved_dependencies=(ResourceDescriptor(uri=source, digest={"sha256": sha256}),),
        finished_on=now)
    return statement_for(record)


def image_statements(promos: Sequence[ImagePromotion], resolve: Resolver, *,
                     canonical_registry: str | None, builder_id: str, now: dt.datetime,
                     manifest: Manifest | None, fmt: str) -> list[Statement]:
    out = []
    if manifest is not None:
        manifest_path, manifest_digest = manifest.path, manifest.sha256
    else:  # --image SRC=DST: the command line is the manifest
        manifest_path = "(command line --image)"
        manifest_digest = hashlib.sha256(json.dumps(
            [attrs.asdict(p) for p in promos], sort_keys=True).encode()).hexdigest()
    expected = _Expected()
    for p in promos:
        expected.add("staging", f"{p.source}/{p.name}@{p.digest}", p.digest)
        for dst in p.destinations:
            for ref in [f"{dst}/{p.name}@{p.digest}", *(f"{dst}/{p.name}:{t}" for t in p.tags)]:
                expected.add("promotion", ref, p.digest)
    expected.check(resolve)
    for p in promos:
        src_ref = f"{p.source}/{p.name}@{p.digest}"
        refs = [f"{dst}/{p.name}" for dst in p.destinations]
        hexd = p.digest.removeprefix("sha256:")
        names = ([f"{canonical_registry.rstrip('/')}/{p.name}"] if canonical_registry else [])
        names += refs
        if fmt == "promo-tools":
            for dst_ref in refs:
                out.append(Statement(
                    subjects=(ResourceDescriptor(name=dst_ref, digest={"sha256": hexd}),),
                    predicate_type=PROMO_TOOLS_PREDICATE,
                    predicate={"srcRef": f"{p.source}/{p.name}", "dstRef": dst_ref,
                               "digest": p.digest, "timestamp": rfc3339(now),
                               "builderId": builder_id}))
            continue
        out.append(_promotion(
            builder_id=builder_id, manifest=manifest_path, manifest_digest=manifest_digest,
            params={"image": p.name, "tags": list(p.tags), "source": f"{p.source}/{p.name}",
                    "destinations": refs},
            names=names, source=src_ref, sha256=hexd, now=now))
    return out


def file_statements(promos: Sequence[FilePromotion], resolve: Resolver, *, builder_id: str,
                    now: dt.datetime, manifest: Manifest) -> list[Statement]:
    expected = _Expected()
    for p in promos:
        expected.add("staging", f"{p.source}/{p.name}", p.sha256)
        for d in p.destinations:
            expected.add("promotion", f"{d}/{p.name}", p.sha256)
    expected.check(resolve)
    out = []
    for p in promos:
        src = f"{p.source}/{p.name}"
        dsts = [f"{d}/{p.name}" for d in p.destinations]
        out.append(_promotion(
            builder_id=builder_id, manifest=manifest.path, manifest_digest=manifest.sha256,
            params={"file": p.name, "source": src, "destinations": dsts},
            names=dsts, source=src, sha256=p.sha256, now=now))
    return out


def oci_resolver(*, insecure: bool, jobs: int = DEFAULT_JOBS, progress: bool = False
                 ) -> Resolver:
    """Image references resolved ``jobs`` at a time through one client per registry."""
    from attester.stores.oci import Clients

    clients = Clients(insecure=insecure, jobs=jobs)

    def resolve(refs: Sequence[str]) -> Mapping[str, str | AttesterError]:
        return dict(zip(refs, map_ordered(lambda r: clients.digest(f"oci://{r}"), refs,
                                          stop_on_error=True,
                                          jobs=jobs, progress=_meter(progress, "references")),
                        strict=True))

    return resolve


def _meter(progress: bool, noun: str) -> tuple[str, str] | None:
    return ("resolving", noun) if progress else None


def store_resolver(options: Mapping[str, Any], jobs: int = DEFAULT_JOBS,
                   progress: bool = False) -> Resolver:
    """File URIs resolved ``jobs`` at a time, each through its store (hashed)."""
    from attester.stores import collect_subjects, open_store

    def one(uri: str) -> str:
        if "://" not in uri:
            raise UsageError(f"file store base {uri!r} needs a scheme (gs://, file://)")
        quiet = {**options, "progress": False}  # one meter, resolve's, counts the files
        subjects = [s for s in collect_subjects(open_store(uri, **quiet))
                    if uri.endswith("/" + s.name) or s.name in (uri, uri.rsplit("/", 1)[-1])]
        if len(subjects) != 1:
            raise InputError(f"{uri}: not found")
        return str(subjects[0].digest["sha256"])

    def resolve(uris: Sequence[str]) -> Mapping[str, str | AttesterError]:
        return dict(zip(uris, map_ordered(one, uris, jobs=jobs, stop_on_error=True,
                                          progress=_meter(progress, "files")), strict=True))

    return resolve


def adhoc_images(pairs: Sequence[str]) -> list[ImagePromotion]:
    """``SRC=DST`` pairs: REGISTRY/REPO@sha256:D=REGISTRY/REPO[:TAG], each side with or
    without ``oci://``."""
    from attester.stores.oci import Reference

    out = []
    for pair in pairs:
        src, sep, dst = pair.partition("=")
        if not sep:
            raise UsageError(f"--image {pair!r}: expected SRC=DST")
        s, d = (Reference.parse("oci://" + ref.removeprefix("oci://")) for ref in (src, dst))
        if not s.digest:
            raise UsageError(f"--image {pair!r}: name the source by digest (@sha256:...)")
        s_repo, _, name = s.repository.rpartition("/")
        d_repo, _, d_name = d.repository.rpartition("/")
        if name != d_name:
            raise UsageError(f"--image {pair!r}: source and destination image names differ")
        out.append(ImagePromotion(name=name, digest=s.digest, tags=(d.tag,) if d.tag else (),
                                  source=f"{s.registry}/{s_repo}".rstrip("/"),
                                  destinations=(f"{d.registry}/{d_repo}".rstrip("/"),)))
    return out


def check_staging_provenance(promos: Sequence[ImagePromotion], args: Any, trust: Any,
                             policy: Any = None,
                             predicate_types: Mapping[str, Sequence[str]] | None = None
                             ) -> None:
    """``--require-provenance``: each staging image must carry a passing attestation (signed
    by the stage signer, and meeting the stage step's policy when a policy file is given)."""
    import sys

    from attester.stores.oci import Clients
    from attester.verify.checks.policy import Check, Policy
    from attester.verify.checks.report import Report
    from attester.verify.checks.requirements import UnansweredError
    from attester.verify.checks.statement import Demands
    from attester.verify.image import verify_image

    jobs = getattr(args, "jobs", None) or REGISTRY_JOBS
    clients = Clients(insecure=args.insecure_registry, jobs=jobs)
    base = policy or Policy()
    kinds = _provenance_kinds(policy, predicate_types)
    uris = [f"oci://{p.source}/{p.name}@{p.digest}" for p in promos]

    def verify(uri: str, kind: str) -> Any:
        try:
            return verify_image(uri, trust, Demands(policy=attrs.evolve(base, predicate_type=kind)),
                                insecure=args.insecure_registry, clients=clients)
        except UnansweredError as e:
            if not e.no_statement():
                raise  # a requirement of the stage policy the attachments cannot answer: exit 2
            # only signatures attached (a cosign .sig): the image has no staging provenance,
            # which is what this gate fails (or warns) on
            return Report(attestation=uri, checks=(Check("provenance", False, e.message),))

    def one(uri: str) -> Any:
        reports = [verify(uri, kind) for kind in kinds[:1]]
        for kind in kinds[1:]:  # the next type only when the first found none that passes
            if reports[-1].ok:
                break
            reports.append(verify(uri, kind))
        return next((r for r in reports if r.ok), reports[0])

    reports = map_ordered(one, uris, jobs=jobs,
                          stop_on_error=True, progress=None if getattr(args, "quiet", False) else
                          ("verifying staging provenance of", "images"))
    for uri, report in zip(uris, reports, strict=True):  # in manifest order
        if isinstance(report, AttesterError):
            raise report
        if report.ok:
            continue
        bad = report.failures()[0]
        message = f"{uri}: staging provenance does not verify: {bad.name}: {bad.detail}"
        if args.require_provenance == "require":
            raise VerificationError(message)
        print(f"attest: warning: {safe(message)}", file=sys.stderr)


def _provenance_kinds(policy: Any, predicate_types: Mapping[str, Sequence[str]] | None
                      ) -> list[str]:
    """What counts as staging provenance: the policy's predicate type, else the stage
    step's (SLSA provenance unless the policy lists others). A VSA or any other statement
    the stage key signed is no staging provenance (red-team finding)."""
    from attester.release.chain import allowed_types

    if policy is not None and policy.predicate_type:
        return [policy.predicate_type]
    return list(allowed_types("stage", predicate_types))


def check_file_provenance(promos: Sequence[FilePromotion], attestations: Sequence[str],
                          args: Any, trust: Any, policy: Any = None,
                          predicate_types: Mapping[str, Sequence[str]] | None = None) -> None:
    """``--require-provenance`` for a file promotion: each staged file must be a subject
    (name and digest, :func:`attester.model.subjects.match`) of a staging attestation
    given with ``--provenance`` that passes (signed by the stage signer, meeting the
    stage step's policy when a policy file is given): the gate images pass through."""
    import sys

    from attester.model.subjects import match
    from attester.verify.checker import read_attestation, verify_document
    from attester.verify.checks.policy import Policy
    from attester.verify.checks.statement import Demands

    base = policy or Policy()
    kinds = _provenance_kinds(policy, predicate_types)
    subjects: list[tuple[str, Mapping[str, str]]] = []
    refused: list[str] = []
    unusable: list[AttesterError] = []
    for path in attestations:
        reports = []
        try:
            data, doc = read_attestation(path)
            for kind in kinds:  # the next type only when the first did not pass
                reports.append(verify_document(data, doc, path, trust, Demands(
                    policy=attrs.evolve(base, predicate_type=kind))))
                if reports[-1].ok:
                    break
        except (UsageError, InputError) as e:
            # one --provenance document that cannot be checked is named where an artifact
            # it might have covered fails; the others are still read (redteam: the first
            # one's error was the command's, exit 2, and a good one after it never read)
            unusable.append(e)
            refused.append(f"{path} cannot be checked ({e.message})")
            continue
        good = next((r for r in reports if r.ok and r.statement is not None), None)
        if good is None:
            bad = reports[0].failures()[0] if reports[0].failures() else None
            refused.append(f"{path} does not verify" + (f" ({bad.name}: {bad.detail})"
                                                        if bad else ""))
            continue
        assert good.statement is not None  # noqa: S101 - checked just above
        subjects.extend((s.name, s.digest) for s in good.statement.subjects())
    if unusable and len(unusable) == len(attestations):
        raise unusable[0]  # no document could be checked: the command's error (exit 2)
    for p in promos:  # in manifest order
        uri = f"{p.source}/{p.name}"
        found = match(subjects, uri, {"sha256": p.sha256})
        if found.ok:
            continue
        why = found.why({"sha256": p.sha256}) if found.named else (
            f"no staging attestation covers it (sha256:{p.sha256})")
        message = f"{uri}: staging provenance does not verify: {why}" + (
            f"; {'; '.join(refused)}" if refused else "")
        if args.require_provenance == "require":
            raise VerificationError(message)
        print(f"attest: warning: {safe(message)}", file=sys.stderr)
