"""``attest provenance``: describe a build as an in-toto statement."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import attrs

from attester.cli.common import add_quiet, add_store_flags, say, store_options, to_file, utc_now
from attester.cli.parsing import Subcommands
from attester.errors import InputError, UsageError


def _algorithms(extra: Sequence[str] | None) -> tuple[str, ...]:
    from attester.hashing import check_algorithms

    return check_algorithms(["sha256", *(extra or [])])


def _listed_subjects(args: argparse.Namespace, algorithms: tuple[str, ...]) -> list[Any]:
    """--subjects-from-checksums and --subject-digest; with --artifacts, each listed file
    found there is checked against its line (and the stores add no further subjects)."""
    from attester import checksums
    from attester.stores import collect_subjects, open_store
    from attester.stores.interface import relative_name

    found: dict[str, Any] = {}
    if args.subjects_from_checksums and args.artifacts:
        from attester.jsonio import read_bytes

        listed = {alg for path in args.subjects_from_checksums for _, alg, _ in
                  checksums.parse_checksums(read_bytes(path, what="checksums"),
                                            where=f"checksums {path}")}
        algs = tuple(dict.fromkeys([*algorithms, *sorted(listed)]))
        for uri in args.artifacts:
            for s in collect_subjects(open_store(uri, **store_options(args)), algs,
                                      progress=not args.quiet):
                # Keyed as the checksums file names them: relative to the store (a
                # gs:// subject's full URI would never meet its line, issue 16).
                found[relative_name(uri, s.name)] = s.digest
    out = []
    for path in args.subjects_from_checksums or []:
        out.extend(checksums.subjects_from_checksums(
            path, found=found, stores=list(args.artifacts or [])))
    out.extend(checksums.subjects_from_digests(args.subject_digest or []))
    return out


#: The build-source flags each source scheme honours (a plug-in scheme is not checked).
_SOURCE_FLAGS = {"cloudbuild": ("location", "wait", "wait_timeout", "allow_failed"),
                 "github": ("wait", "wait_timeout", "allow_failed"),
                 "env": ("allow_failed",), "local": ()}
_FLAG_DEFAULTS = {"location": None, "wait": False, "wait_timeout": 1200.0,
                  "allow_failed": False}


def _refuse_unused(args: argparse.Namespace) -> None:
    """A flag the build source (or the missing --step) cannot honour is refused, never
    dropped (redteam: --location, --wait, --allow-failed with local://, and
    --release-version without --step, were accepted and ignored)."""
    scheme = args.source.partition("://")[0]
    takes = _SOURCE_FLAGS.get(scheme)
    if takes is not None:
        for dest, default in _FLAG_DEFAULTS.items():
            if getattr(args, dest) != default and dest not in takes:
                flag = "--" + dest.replace("_", "-")
                raise UsageError(f"{flag} does not apply to {scheme}:// builds",
                                 hint=f"{scheme}:// takes " + (", ".join(
                                     "--" + t.replace("_", "-") for t in takes) or "none of "
                                     "--location, --wait, --wait-timeout, --allow-failed"))
    for dest in ("release_version", "build_version"):
        if getattr(args, dest) and not args.step:
            raise UsageError(f"--{dest.replace('_', '-')} records a release step's version: "
                             "it needs --step stage|release")


def run(args: argparse.Namespace) -> int:
    from attester.jsonio import dumps_pretty, load_json, write_output
    from attester.model import predicates
    from attester.snapshot import parse as parse_snapshot
    from attester.stores import collect_subjects, open_store
    from attester.stores.interface import first_duplicate
    from attester.watchers import open_watcher

    _refuse_unused(args)
    snapshot = None
    if args.snapshot:
        snapshot = parse_snapshot(load_json(args.snapshot, what="snapshot"),
                                  where=args.snapshot)
    options: dict[str, Any] = {"wait": args.wait, "wait_timeout": args.wait_timeout,
                               "allow_failed": args.allow_failed,
                               "read_manifest": not args.artifacts}
    if args.location:
        options["location"] = args.location
    if args.builder_id:
        options["builder_id"] = args.builder_id
    if snapshot is not None and args.source.startswith("local://"):
        options["started_on"] = snapshot.created_on
    watcher = open_watcher(args.source, **options)
    record = watcher.record(now=utc_now())
    if (record.internal_parameters or {}).get("workingTreeClean") is False:
        import sys

        from attester.display import safe

        # Said even with --quiet: the provenance will say so for as long as it exists.
        print(f"attest: note: {safe(args.source)}: the working tree has uncommitted changes; "
              "recorded as dirty (workingTreeClean: false): the artifacts may not be what "
              "the commit builds", file=sys.stderr)
    algorithms = _algorithms(args.digest)
    subjects: list[Any] = list(record.subjects)
    materials: list[Any] = []
    for uri in args.materials or []:
        for m in collect_subjects(open_store(uri, **store_options(args)), algorithms,
                                  progress=not args.quiet):
            materials.append(attrs.evolve(m, uri=m.name, name=""))
    if materials:
        record = record.with_dependencies(tuple(materials))
    if args.subjects_from_checksums or args.subject_digest:
        subjects.extend(_listed_subjects(args, algorithms))
    stores = args.artifacts or ([] if subjects else watcher.default_artifacts())
    if args.subjects_from_checksums:
        stores = []  # the stores only checked the listed files
    if args.subjects_from_sbom:
        from attester import sbom

        if not args.artifacts:
            raise UsageError("--subjects-from-sbom checks the SBOM against real files",
                             hint="pass --artifacts STORE_URI with the published files")
        files = sbom.sbom_files(args.subjects_from_sbom)
        if "sha512" in {a for _, d in files for a in d}:
            algorithms = _algorithms([*(args.digest or []), "sha512"])
        found: dict[str, Any] = {}
        for uri in stores:
            for s in collect_subjects(open_store(uri, **store_options(args)), algorithms,
                                      progress=not args.quiet):
                found[s.name] = s.digest
        subjects.extend(sbom.subjects_from_sbom(files, found, sbom=args.subjects_from_sbom))
        stores = []
    for uri in stores:
        baseline = snapshot.baseline(uri, where=args.snapshot) if snapshot else None
        subjects.extend(collect_subjects(open_store(uri, **store_options(args)), algorithms,
                                         baseline=baseline, progress=not args.quiet))
    if not subjects:
        if snapshot is not None:
            raise InputError("no subjects: nothing in the stores is new or changed since "
                             f"snapshot {args.snapshot}")
        if args.artifacts:
            raise InputError(f"no subjects: {', '.join(args.artifacts)} "
                             f"{'holds' if len(args.artifacts) == 1 else 'hold'} no files",
                             hint="is the build's output somewhere else?")
        raise UsageError("no subjects: the build named no artifacts",
                         hint="pass --artifacts URI, e.g. --artifacts file://dist")
    dupe = first_duplicate(s.name for s in subjects)
    if dupe is not None:
        raise InputError(f"two artifacts share the subject name {dupe!r}; "
                         "subject names must be unique")
    record = record.with_subjects(tuple(sorted(subjects, key=lambda s: s.name)))
    if args.step:
        from attester.release.steps import as_step

        record = as_step(record, args.step, release_version=args.release_version,
                         build_version=args.build_version,
                         locations=list(args.artifacts or []))
    statement = predicates.statement_for(record, args.slsa)
    doc = statement.to_json()
    write_output(dumps_pretty(doc), args.output)
    if to_file(args.output):
        say(args, f"wrote {args.output}: {len(doc['subject'])} subject(s), predicate "
            f"{doc['predicateType']}")
    return 0


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("provenance", help="describe a build as an in-toto statement",
                       formatter_class=fmt,
                       description="Watch a build (SOURCE) and write an in-toto Statement "
                       "with a SLSA provenance predicate whose subjects are the artifacts "
                       "found in each --artifacts store.",
                       epilog="sources: local:// (the current git checkout: it needs git and "
                       "at least one commit;\n"
                       "                   uncommitted changes are recorded as a dirty tree)\n"
                       "         github://OWNER/REPO/RUN_ID[/ATTEMPT] (extra [github])\n"
                       "         cloudbuild://PROJECT/BUILD_ID (extra [cloudbuild])\n"
                       "         env:// (the GitHub Actions job or Cloud Build step we run in)\n"
                       "stores:  file://DIR (every regular file under DIR)\n"
                       "         gs://BUCKET/PREFIX (objects under PREFIX; extra [gcs])\n"
                       "         oci://REGISTRY/REPO[:TAG|@sha256:D] (image manifests)\n"
                       "         github-release://OWNER/REPO/TAG (release assets; extra "
                       "[github])\n"
                       "         github-artifacts://OWNER/REPO/RUN_ID (files in run artifacts; "
                       "extra [github])\n\n"
                       "examples:\n  attest provenance local:// --artifacts file://dist "
                       "--output prov.json\n"
                       "  attest provenance local:// --artifacts file://dist --digest sha512 "
                       "--slsa 0.2 --output prov02.json")
    p.add_argument("source", metavar="SOURCE", help="the build to describe, e.g. local://")
    p.add_argument("--artifacts", action="append", metavar="URI",
                   help="store whose files become subjects (repeatable)")
    p.add_argument("--builder-id", help="builder id to record (local:// default: "
                   "https://attester.dev/builders/local/v1)")
    p.add_argument("--materials", action="append", metavar="URI",
                   help="store whose files the build consumed: recorded as resolved "
                   "dependencies with digests (repeatable)")
    p.add_argument("--location", help="cloudbuild://: the build's region (default global)")
    p.add_argument("--wait", action="store_true",
                   help="poll a running build until it finishes (else it is an error)")
    p.add_argument("--wait-timeout", type=float, default=1200.0, metavar="SECONDS",
                   help="give up waiting after this long (default 1200)")
    p.add_argument("--allow-failed", action="store_true",
                   help="attest a build that did not succeed (recorded as it was)")
    p.add_argument("--step", choices=["stage", "release"],
                   help="record this as a release step (build types "
                   "https://attester.dev/buildtypes/stage/v1 and .../release/v1)")
    p.add_argument("--release-version", metavar="V", help="with --step: e.g. v1.31.0")
    p.add_argument("--build-version", metavar="V",
                   help="with --step: e.g. v1.31.0-rc.1.5+abc123 (krel's build version)")
    p.add_argument("--subjects-from-sbom", metavar="SPDX",
                   help="subjects are the files this SPDX 2.x SBOM lists (tag-value or "
                   "JSON), each checked against --artifacts")
    p.add_argument("--subjects-from-checksums", action="append", metavar="SHA256SUMS",
                   help="subjects are the files a sha256sum/sha512sum-style file lists "
                   "(GoReleaser's checksums.txt); each file present beside it or in "
                   "--artifacts must match its line (repeatable)")
    p.add_argument("--subject-digest", action="append", metavar="NAME=sha256:HEX",
                   help="a subject the attester cannot read, by digest (repeatable)")
    p.add_argument("--snapshot", metavar="SNAPSHOT",
                   help="from 'attest start': only new or changed artifacts become subjects")
    p.add_argument("--digest", action="append", metavar="ALG", choices=["sha384", "sha512"],
                   help="also record this digest besides sha256 (repeatable)")
    p.add_argument("--slsa", choices=["1.0", "0.2"], default="1.0",
                   help="SLSA provenance version (default 1.0)")
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    add_quiet(p)
    add_store_flags(p)
    p.set_defaults(func=run)
