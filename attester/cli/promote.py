"""``attest promote``: attest an image or file promotion (kpromo manifests)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from attester.cli.common import add_quiet, add_store_flags, say, store_options, utc_now
from attester.cli.parsing import Subcommands
from attester.errors import InputError, UsageError


def run(args: argparse.Namespace) -> int:
    from attester.jsonio import dumps_compact, dumps_pretty, write_output
    from attester.parallel import DEFAULT_JOBS, REGISTRY_JOBS
    from attester.release import promote

    if not args.manifest and not args.image:
        raise UsageError("nothing to promote", hint="pass --manifest FILE or --image SRC=DST")
    # No flag is silently ignored: whom to trust only means something when staging
    # provenance is checked, and a policy file names the stage signer itself.
    signer = [f for f, v in (("--key", args.key),
                             ("--certificate-identity", args.certificate_identity),
                             ("--certificate-oidc-issuer", args.certificate_oidc_issuer),
                             ("--trusted-root", args.trusted_root)) if v]
    if args.require_provenance == "off" and (signer or args.policy):
        raise UsageError(f"{(signer or ['--policy'])[0]} says whom staging provenance must "
                         "come from, but --require-provenance is off",
                         hint="add --require-provenance warn|require, or drop it")
    if args.policy and signer and signer[0] != "--trusted-root":
        raise UsageError(f"{signer[0]} does not apply next to --policy",
                         hint="the policy file names the stage signer")
    now = utc_now()
    builder = args.builder_id or promote.DEFAULT_PROMOTER_ID
    manifest = promote.Manifest.read(args.manifest) if args.manifest else None
    files = manifest is not None and isinstance(manifest.doc, dict) and (
        "filestores" in manifest.doc)
    _refuse_unused(args, files)
    if args.provenance and not files:
        raise UsageError("--provenance names staging attestations of files: a staged image's "
                         "are read from the registry", hint="drop --provenance, or promote a "
                         "file manifest (filestores)")
    if args.provenance and args.require_provenance == "off":
        raise UsageError("--provenance is checked only with --require-provenance warn|require")
    # Files and images pass the same gate: the stage signer (--key/--certificate-identity,
    # or the policy's stage step) and, with a policy, that step's rules.
    gate = _stage_gate(args) if args.require_provenance != "off" else None
    statements = []
    if manifest is not None and files:
        promos_f = promote.read_file_manifest(manifest, args.files)
        if gate is not None:
            if not args.provenance:
                raise UsageError("--require-provenance with a file manifest needs the staging "
                                 "attestations of the files",
                                 hint="pass --provenance FILE (repeatable)")
            promote.check_file_provenance(promos_f, args.provenance, args, *gate)
        statements = promote.file_statements(
            promos_f, promote.store_resolver(store_options(args), jobs=args.jobs or DEFAULT_JOBS,
                                             progress=not args.quiet),
            builder_id=builder,
            now=now, manifest=manifest)
    else:
        if manifest is not None:
            promos = promote.read_image_manifest(manifest, args.images)
        else:
            promos = promote.adhoc_images(args.image)
        if gate is not None:
            promote.check_staging_provenance(promos, args, *gate)
        statements = promote.image_statements(
            promos, promote.oci_resolver(insecure=args.insecure_registry,
                                        jobs=args.jobs or REGISTRY_JOBS,
                                        progress=not args.quiet),
            canonical_registry=args.canonical_registry, builder_id=builder, now=now,
            manifest=manifest, fmt=args.format)
    docs = [s.to_json() for s in statements]
    if args.output and args.output.endswith(("/", os.sep)):
        try:  # a trailing slash means a folder, even one that is not there yet
            Path(args.output).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"--output {args.output}: cannot create the folder: "
                             f"{e.strerror}") from None
    if args.output and Path(args.output).is_dir():
        from attester.jsonio import atomic_write

        written: dict[str, str] = {}  # file name -> the subject written there
        for doc in docs:
            subject = doc["subject"][0]["name"]
            name = subject.replace("/", "_").replace(":", "_")
            digest = next(iter(doc["subject"][0]["digest"].values()))[:12]
            file = f"{name}-{digest}.json"
            if file in written:  # checked before writing any: one would replace the other
                raise UsageError(f"--output {args.output}: the statements for {written[file]} "
                                 f"and {subject} would both be written to {file}",
                                 hint="write them to one file instead (-o promotion.jsonl)")
            written[file] = subject
        for file, doc in zip(written, docs, strict=True):
            atomic_write(Path(args.output) / file, dumps_pretty(doc))
        say(args, f"wrote {len(docs)} promotion statement(s) to {args.output}; {_gate_text(args)}")
    elif len(docs) == 1:
        write_output(dumps_pretty(docs[0]), args.output)
    else:
        write_output(b"".join(dumps_compact(d) + b"\n" for d in docs), args.output)
    if args.output and args.output != "-" and not Path(args.output).is_dir():
        say(args, f"wrote {args.output}: {len(docs)} promotion statement(s)"
            f"{' (JSON Lines)' if len(docs) > 1 else ''}; {_gate_text(args)}")
    return 0


def _refuse_unused(args: argparse.Namespace, files: bool) -> None:
    """A flag that does not apply to what is promoted is refused, never dropped: a file
    promotion has no images, registries or kpromo image predicate; an image promotion no
    files.yaml; ``--manifest`` and ``--image`` would be two promotions in one. (redteam:
    each was accepted and ignored, exit 0.)"""
    kind = "a file promotion (filestores)" if files else "an image promotion"
    unused = [("--image", bool(args.manifest and args.image), "the manifest names what is "
               "promoted: give --manifest or --image, not both")]
    if files:
        unused += [("--images", bool(args.images), "files.yaml is --files"),
                   ("--canonical-registry", bool(args.canonical_registry),
                    "it names image subjects"),
                   ("--format promo-tools", args.format != "slsa", "kpromo's predicate "
                    "describes images"),
                   ("--oci-platforms", bool(args.oci_platforms), "it lists image platforms")]
    else:
        unused += [("--files", bool(args.files), "images.yaml is --images"),
                   ("--oci-platforms", bool(args.oci_platforms), "images are promoted by "
                    "their index or manifest digest, as kpromo does")]
    for flag, given, why in unused:
        if given:
            raise UsageError(f"{flag} does not apply to {kind}", hint=why)


def _gate_text(args: argparse.Namespace) -> str:
    """What the status line says of --require-provenance (reached only when it passed)."""
    return {"require": "provenance gate passed: every staging artifact's attestation "
                       "verified (--require-provenance require)",
            "warn": "provenance checked in warn mode (--require-provenance warn: any failure "
                    "is a warning above)",
            }.get(args.require_provenance, "no provenance gate (--require-provenance off)")


def _stage_gate(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(trust, policy, predicate types) staging provenance must pass: the policy file's
    stage step, or the --key/--certificate-identity flags."""
    if not args.policy:
        return _provenance_trust(args), None, None
    from attester.release import policyfile

    pf = policyfile.load(args.policy)
    if "stage" not in pf.trusts:
        raise UsageError(f"policy {args.policy} names no stage signer to check staging "
                         "artifacts against")
    stage = pf.trusts["stage"]
    if args.trusted_root:  # the command line's root wins, as for audit
        import attrs

        stage = attrs.evolve(stage, trusted_root_path=args.trusted_root, offline=True)
    return stage, pf.step_policy("stage"), pf.predicate_types


def _provenance_trust(args: argparse.Namespace) -> Any:
    from attester.verify import checker
    from attester.verify.checks.identity import IdentityPolicy

    identity = IdentityPolicy(identity=args.certificate_identity,
                              issuer=args.certificate_oidc_issuer)
    trust = checker.Trust.from_flags(args.key or [], identity,
                                     trusted_root_path=args.trusted_root,
                                     offline=bool(args.trusted_root))
    if not trust.given():
        raise UsageError("--require-provenance needs whom to trust for the staging images",
                         hint="pass --key PUB or --certificate-identity/--certificate-oidc-"
                         "issuer")
    return trust


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("promote", help="attest an image or file promotion (kpromo manifests)",
                       formatter_class=fmt,
                       description="Resolve every source and destination of a kpromo "
                       "promotion, refuse any destination whose digest differs from the "
                       "source, and write one statement per digest (subjects: the production "
                       "references; dependency: the staging reference).",
                       epilog="examples:\n  attest promote --manifest promoter-manifest.yaml "
                       "--images images.yaml --canonical-registry registry.k8s.io -o out/\n"
                       "  attest promote --manifest filepromoter-manifest.yaml --files files.yaml")
    p.add_argument("--manifest", metavar="FILE", help="kpromo promoter (registries[, images]) "
                   "or file promoter (filestores) manifest")
    p.add_argument("--images", metavar="FILE", help="thin manifests: images.yaml")
    p.add_argument("--files", metavar="FILE", help="file promotion: files.yaml")
    p.add_argument("--image", action="append", metavar="SRC=DST",
                   help="ad hoc: [oci://]REGISTRY/REPO@sha256:D=[oci://]REGISTRY/REPO[:TAG] "
                   "(repeatable)")
    p.add_argument("--canonical-registry", metavar="R", help="also name subjects R/IMAGE, "
                   "e.g. registry.k8s.io")
    p.add_argument("--format", choices=["slsa", "promo-tools"], default="slsa",
                   help="slsa (default) or kpromo's https://k8s.io/promo-tools/promotion/v1")
    p.add_argument("--require-provenance", choices=["off", "warn", "require"], default="off",
                   help="check each staging image's attached attestation (or each staged "
                   "file against --provenance) first")
    p.add_argument("--policy", metavar="POLICY",
                   help="with --require-provenance: the policy file whose stage step "
                   "staging images must satisfy (reference: docs/policy.md)")
    p.add_argument("--provenance", action="append", metavar="FILE",
                   help="with --require-provenance and a file manifest: a staging "
                   "attestation (repeatable); each staged file must be one of their "
                   "subjects (images carry theirs in the registry)")
    p.add_argument("--key", action="append", metavar="PUB",
                   help="with --require-provenance: who signs staging attestations")
    p.add_argument("--certificate-identity", metavar="ID",
                   help="with --require-provenance: the keyless signer of staging "
                   "attestations (certificate SAN, exact)")
    p.add_argument("--certificate-oidc-issuer", metavar="URL",
                   help="with --certificate-identity: the OIDC issuer that vouched for it")
    p.add_argument("--trusted-root", metavar="FILE",
                   help="Sigstore trusted_root.json for keyless staging attestations "
                   "(implies no network)")
    p.add_argument("--builder-id", help="promoter identity (default "
                   "https://attester.dev/builders/promoter/v1)")
    p.add_argument("--output", "-o", metavar="FILE|DIR",
                   help="a file (one statement), a folder (one file each; a trailing / "
                   "creates it), or stdout (JSON lines)")
    add_store_flags(p)
    add_quiet(p)
    p.set_defaults(func=run)
