"""The ``attest`` command. The only place that turns errors into exit codes.

Exit codes: 0 success; 1 verification failed; 2 usage or input error. Every failure
is one line on stderr saying what and where; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import functools
import hashlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from attester import __version__
from attester.display import safe
from attester.errors import AttesterError, InputError, UsageError

EXAMPLES = """\
examples (the release flow):
  attest keygen --type ecdsa-p256 --out release
  attest provenance local:// --artifacts file://dist --output prov.json
  attest sign prov.json --key release.key --output prov.intoto.json
  attest verify prov.intoto.json --key release.pub --artifact dist/kubectl \\
      --source-uri github.com/example/project

exit codes: 0 ok, 1 verification failed, 2 usage or input error
"""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _say(args: argparse.Namespace, message: str) -> None:
    """A status line on stderr (what was written, how much), unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        from attester.display import safe

        print(safe(message), file=sys.stderr)  # names in it come from the command line


def _add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress meter and no status line on stderr (errors still print)")


def _to_file(output: str | None) -> bool:
    return output is not None and output != "-"


# -- keygen -------------------------------------------------------------------------

def cmd_keygen(args: argparse.Namespace) -> int:
    from attester import keys
    from attester.jsonio import atomic_write

    prefix = Path(args.out)
    key_path, pub_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    if args.kms:
        from attester.signers.kms import KmsSigner

        if pub_path.exists() and not args.force:
            raise UsageError(f"{pub_path} already exists", hint="pass --force")
        kms = KmsSigner.from_uri(args.kms)
        atomic_write(pub_path, keys.public_pem(kms.public))
        _say(args, f"wrote {pub_path}: the public key of {args.kms} (keyid {kms.keyid})")
        return 0
    if not args.force:
        for p in (key_path, pub_path):
            if p.exists():
                raise UsageError(f"{p} already exists; refusing to overwrite a key",
                                 hint="pass --force or choose another --out")
    key = keys.generate(args.type)
    passphrase = keys.passphrase_from_env()
    atomic_write(key_path, keys.private_pem(key, passphrase), mode=0o600)
    atomic_write(pub_path, keys.public_pem(key.public_key()), mode=0o644)
    state = "encrypted with ATTEST_PASSPHRASE" if passphrase else "NOT encrypted"
    _say(args, f"wrote {key_path} ({args.type}, {state}) and {pub_path}\n"
         f"keyid {keys.keyid(key.public_key())}")
    return 0


# -- provenance ---------------------------------------------------------------------

def _algorithms(extra: Sequence[str] | None) -> tuple[str, ...]:
    from attester.hashing import check_algorithms

    return check_algorithms(["sha256", *(extra or [])])


def _store_options(args: argparse.Namespace) -> dict[str, Any]:
    from attester.parallel import DEFAULT_JOBS

    return {"insecure": getattr(args, "insecure_registry", False),
            "platforms": getattr(args, "oci_platforms", False),
            "jobs": getattr(args, "jobs", DEFAULT_JOBS),
            "progress": not getattr(args, "quiet", False)}


def _add_store_flags(p: argparse.ArgumentParser) -> None:
    from attester.parallel import DEFAULT_JOBS, jobs_arg

    p.add_argument("--oci-platforms", action="store_true",
                   help="oci://: also list each platform manifest of a multi-arch index")
    p.add_argument("--insecure-registry", action="store_true",
                   help="oci://: allow plain HTTP to a non-loopback registry")
    p.add_argument("--jobs", type=jobs_arg, default=DEFAULT_JOBS, metavar="N",
                   help="registries and remote stores (oci://, gs://, github-release://): "
                   f"requests in flight at once (default {DEFAULT_JOBS})")


def cmd_start(args: argparse.Namespace) -> int:
    from attester.jsonio import dumps_pretty, write_output
    from attester.snapshot import Snapshot
    from attester.stores import open_store, snapshot_entries

    if not args.artifacts:
        raise UsageError("nothing to record", hint="pass --artifacts URI (repeatable)")
    created = _now()
    stores = {uri: snapshot_entries(open_store(uri, **_store_options(args)),
                                    progress=not args.quiet)
              for uri in args.artifacts}
    write_output(dumps_pretty(Snapshot(created_on=created, stores=stores).to_json()),
                 args.output)
    total = sum(len(v) for v in stores.values())
    written = f"wrote {args.output}: " if _to_file(args.output) else ""
    _say(args, f"{written}recorded {total} existing artifact(s) in {len(stores)} store(s)")
    return 0


def _listed_subjects(args: argparse.Namespace, algorithms: tuple[str, ...]) -> list[Any]:
    """--subjects-from-checksums and --subject-digest; with --artifacts, each listed file
    found there is checked against its line (and the stores add no further subjects)."""
    from attester import checksums
    from attester.stores import collect_subjects, open_store

    found: dict[str, Any] = {}
    if args.subjects_from_checksums and args.artifacts:
        algs = tuple(dict.fromkeys([*algorithms, "sha512"]))
        for uri in args.artifacts:
            for s in collect_subjects(open_store(uri, **_store_options(args)), algs,
                                      progress=not args.quiet):
                found[s.name] = s.digest
    out = []
    for path in args.subjects_from_checksums or []:
        out.extend(checksums.subjects_from_checksums(path, found=found))
    out.extend(checksums.subjects_from_digests(args.subject_digest or []))
    return out


def cmd_provenance(args: argparse.Namespace) -> int:
    from attester import predicates
    from attester.jsonio import dumps_pretty, load_json, write_output
    from attester.snapshot import parse as parse_snapshot
    from attester.stores import collect_subjects, open_store
    from attester.stores.interface import first_duplicate
    from attester.watchers import open_watcher

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
    record = watcher.record(now=_now())
    algorithms = _algorithms(args.digest)
    subjects: list[Any] = list(record.subjects)
    materials: list[Any] = []
    for uri in args.materials or []:
        for m in collect_subjects(open_store(uri, **_store_options(args)), algorithms,
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
            for s in collect_subjects(open_store(uri, **_store_options(args)), algorithms,
                                      progress=not args.quiet):
                found[s.name] = s.digest
        subjects.extend(sbom.subjects_from_sbom(files, found, sbom=args.subjects_from_sbom))
        stores = []
    for uri in stores:
        baseline = snapshot.baseline(uri, where=args.snapshot) if snapshot else None
        subjects.extend(collect_subjects(open_store(uri, **_store_options(args)), algorithms,
                                         baseline=baseline, progress=not args.quiet))
    if not subjects:
        if snapshot is not None:
            raise InputError("no subjects: nothing in the stores is new or changed since "
                             f"snapshot {args.snapshot}")
        raise UsageError("no subjects: the build named no artifacts",
                         hint="pass --artifacts URI, e.g. --artifacts file://dist")
    dupe = first_duplicate(s.name for s in subjects)
    if dupe is not None:
        raise InputError(f"two artifacts share the subject name {dupe!r}; "
                         "subject names must be unique")
    record = record.with_subjects(tuple(sorted(subjects, key=lambda s: s.name)))
    if args.step:
        from attester.steps import as_step

        record = as_step(record, args.step, release_version=args.release_version,
                         build_version=args.build_version,
                         locations=list(args.artifacts or []))
    statement = predicates.statement_for(record, args.slsa)
    doc = statement.to_json()
    write_output(dumps_pretty(doc), args.output)
    if _to_file(args.output):
        _say(args, f"wrote {args.output}: {len(doc['subject'])} subject(s), predicate "
             f"{doc['predicateType']}")
    return 0


# -- sign ---------------------------------------------------------------------------

def cmd_sign(args: argparse.Namespace) -> int:
    from attester import schemas
    from attester.dsse import IN_TOTO_PAYLOAD_TYPE, looks_like_envelope
    from attester.jsonio import dumps_compact, parse_json, read_bytes, write_output
    from attester.signers import sign_envelope
    from attester.signers.keyfile import KeyFileSigner

    if not args.key and not args.keyless and not args.kms:
        raise UsageError("nothing to sign with", hint="pass --key KEY, --kms URI or --keyless")
    if (args.key or args.kms) and args.keyless:
        raise UsageError("--key and --keyless are exclusive: a Sigstore bundle holds one "
                         "signature")
    payload = read_bytes(args.statement, what="statement")
    doc = parse_json(payload, where=f"statement {args.statement}")
    if looks_like_envelope(doc):
        raise InputError(f"statement {args.statement}: is already a DSSE envelope; "
                         "sign the statement it wraps")
    if not isinstance(doc, dict):
        raise InputError(f"statement {args.statement}: expected a JSON object")
    schemas.validate_statement(doc, where=f"statement {args.statement}")
    if args.keyless:
        from attester.signers import keyless

        token = keyless.identity_token(args.identity_token)
        bundle = keyless.sign_statement(payload, token=token, trust_config=args.trust_config,
                                        staging=args.staging)
        write_output(bundle + b"\n", args.output)
        if _to_file(args.output):
            _say(args, f"wrote {args.output}: Sigstore bundle, 1 keyless signature logged "
                 "in Rekor")
        return 0
    from attester.signers.interface import Signer
    from attester.signers.kms import KmsSigner

    signers: list[Signer] = [KeyFileSigner.from_file(k) for k in args.key or []]
    signers += [KmsSigner.from_uri(u) for u in args.kms or []]
    named = [*(args.key or []), *(args.kms or [])]
    seen: dict[str, str] = {}
    for name, signer in zip(named, signers, strict=True):
        if signer.keyid in seen:  # two signatures by one key would pass as two signers
            raise UsageError(f"{name} is the same key as {seen[signer.keyid]} (keyid "
                             f"{signer.keyid}); give each signing key once")
        seen[signer.keyid] = name
    # Sign the file's exact bytes: what was reviewed is what gets signed.
    env = sign_envelope(IN_TOTO_PAYLOAD_TYPE, payload, list(signers))
    write_output(dumps_compact(env.to_json()) + b"\n", args.output)
    if _to_file(args.output):
        _say(args, f"wrote {args.output}: DSSE envelope, {len(signers)} signature(s) "
             f"(keyid {', '.join(s.keyid for s in signers)})")
    return 0


# -- verify -------------------------------------------------------------------------

def _chain_artifact(spec: str, insecure: bool, *, progress: bool = False) -> tuple[str, str]:
    """(name, sha256 hex) of what the chain starts from: a file, oci://REF, or NAME@sha256:D."""
    from attester import checker

    if spec.startswith("oci://"):
        from attester.oci_attach import Target

        t = Target.resolve(spec, insecure=insecure)
        return f"{t.ref.registry}/{t.ref.repository}", t.digest.removeprefix("sha256:")
    from attester.digests import artifact_ref

    ref = artifact_ref(spec)
    if ref is not None:
        if ref[1] != "sha256":
            raise UsageError(f"--chain follows sha256 digests; {spec} names {ref[1]}")
        return ref[0], ref[2]
    return os.path.basename(spec), checker.sha256_of(spec, progress=progress).hex()


#: What ``--chain`` does with every other ``attest verify`` flag: each either applies (see
#: README) or is refused here, naming it; none is ever silently ignored (a test walks them).
#: Refused always: requirements that differ per release step belong under that step in
#: the policy file, and the store/VSA/signature-pair modes verify one attestation.
CHAIN_REFUSED = {
    "attestation": "name every attestation with --chain",
    "artifacts": "--chain follows single artifacts: pass each with --artifact (or use "
                 "'attest audit DIR' for a whole folder)",
    "require_complete": "--chain follows single artifacts: use 'attest audit DIR'",
    "oci_platforms": "--chain follows the image digest given; it lists no platforms",
    "signature": "a signature pair is verified on its own, not in a chain",
    "certificate": "a signature pair is verified on its own, not in a chain",
    "vsa_out": "a verification summary describes one verified attestation, not a chain",
    "vsa_key": "a verification summary describes one verified attestation, not a chain",
    "vsa_keyless": "a verification summary describes one verified attestation, not a chain",
    "vsa_trust_config": "a verification summary describes one verified attestation",
    "builder_id": "set builder-id under its step in the --policy file",
    "source_ref": "set source-ref under its step in the --policy file",
    "source_branch": "set source-branch under its step in the --policy file",
    "source_tag": "set source-tag under its step in the --policy file",
    "source_versioned_tag": "set source-versioned-tag under its step in the --policy file",
    "build_type": "set build-type under its step in the --policy file",
    "predicate_type": "set predicate-types under its step in the --policy file",
    "source_digest": "set it under its step in the --policy file",
    "workflow_trigger": "set it under its step in the --policy file",
    "build_workflow_input": "set it under its step in the --policy file",
    "npm_publish_key": "npm's publish attestation is verified for one package, not a chain",
    "jobs": "--chain resolves each artifact once; --jobs sizes --artifacts store reads",
    "limit": "--chain reads the attestations named by --chain, none from an API",
    "verifier_id": "a verification summary's requirements apply to verifying that VSA",
    "resource_uri": "a verification summary's requirements apply to verifying that VSA",
    "verified_level": "a verification summary's requirements apply to verifying that VSA",
}
#: Refused next to --policy, which names each step's signer: these name one signer for
#: every step, which is what --chain uses them for without a policy.
CHAIN_SIGNER_FLAGS = ("key", "certificate_identity", "certificate_identity_regexp",
                      "certificate_oidc_issuer", "certificate_oidc_issuer_regexp", "owner",
                      "repo", "signer_workflow", "signer_repo", "hostname", "signer_digest",
                      "deny_self_hosted_runners", "staging", "threshold",
                      "no_certificate_oidc_issuer", "rekor_url")


def _flag(dest: str) -> str:
    return {"attestation": "ATTESTATION", "build_workflow_input": "--build-workflow-input",
            "certificate_oidc_issuer": "--certificate-oidc-issuer"}.get(
                dest, "--" + dest.replace("_", "-"))


@functools.cache
def _verify_defaults() -> dict[str, Any]:
    sub = build_parser()._subparsers
    assert sub is not None  # noqa: S101 - the parser always has subcommands
    verify = sub._group_actions[0].choices["verify"]  # type: ignore[index]
    return {a.dest: a.default for a in verify._actions}


def _given(args: argparse.Namespace, dest: str) -> bool:
    """The flag was set to something other than its default."""
    value = getattr(args, dest, None)
    return value is not None and value is not False and value != _verify_defaults().get(dest)


def _refuse_chain_flags(args: argparse.Namespace) -> None:
    """Every flag --chain cannot apply is a usage error naming it (issue: none ignored)."""
    for dest, why in CHAIN_REFUSED.items():
        if _given(args, dest):
            raise UsageError(f"{_flag(dest)} applies to one attestation, not to --chain",
                             hint=why)
    if args.policy:
        for dest in CHAIN_SIGNER_FLAGS:
            if _given(args, dest):
                raise UsageError(f"{_flag(dest)} does not apply next to --policy",
                                 hint="the policy file names each step's signer")


def _verify_chain(args: argparse.Namespace, identity: Any) -> int:
    from attester import chain, checker
    from attester.policy import Check
    from attester.statement import normalize_repo
    from attester.verify import Report

    if not args.artifact:
        raise UsageError("--chain follows an artifact back: pass --artifact PATH|oci://REF")
    if args.policy:
        from attester import policyfile

        pf = policyfile.load(args.policy)
        trusts, policies, source_uri = pf.trusts, pf.policies, pf.source_uri
        predicate_types: dict[str, Any] = dict(pf.predicate_types)
        if args.trusted_root:  # the command line's root wins, as for 'attest audit'
            trusts = {k: attrs.evolve(t, trusted_root_path=args.trusted_root, offline=True)
                      for k, t in trusts.items()}
        if args.source_uri:
            if source_uri and normalize_repo(source_uri) != normalize_repo(args.source_uri):
                raise UsageError(f"--source-uri {args.source_uri} contradicts the policy's "
                                 f"source-uri {source_uri}")
            source_uri = args.source_uri
    else:
        if args.threshold < 1 or args.threshold > max(len(args.key or []), 1):
            raise UsageError(f"--threshold {args.threshold} must be between 1 and the "
                             f"number of --key given ({len(args.key or [])})")
        if args.rekor_url and args.offline:
            raise UsageError("--rekor-url looks entries up online; it contradicts --offline")
        trust = checker.Trust.from_flags(
            args.key or [], identity, threshold=args.threshold,
            trusted_root_path=args.trusted_root, offline=args.offline, staging=args.staging,
            rekor_url=args.rekor_url)
        if not trust.given():
            raise UsageError("no trusted key or signer given", hint="pass --policy, or --key")
        trusts = dict.fromkeys(chain.STEPS, trust)
        policies, source_uri, predicate_types = {}, args.source_uri, {}
    docs = []
    for path in args.chain:
        data, doc = checker.read_attestation(path)
        docs.append((path, data, doc))
    links, problems = chain.load_links(docs, trusts, policies, predicate_types)
    checks: list[Check] = list(problems)
    index = chain.ChainIndex(links)  # built once: each artifact is then followed by lookups
    for spec in args.artifact:
        name, digest = _chain_artifact(spec, args.insecure_registry, progress=not args.quiet)
        checks.extend(index.follow(name, digest, source_uri=source_uri).checks)
    report = Report(attestation="chain", checks=tuple(checks))
    _print_report(report, args.format, ok_title="verified the chain",
                  fail_title="verification FAILED")
    return 0 if report.ok else 1


def _print_report(report: Any, fmt: str, *, ok_title: str, fail_title: str,
                  every: list[Any] | None = None) -> None:
    """The report on stdout (json, or the passed checks as text); on failure, every failed
    check on stderr, one line each. Names come from hostile input: text is escaped.
    ``every``: all reports the verdict was chosen from (listed in json)."""
    from attester.display import safe
    from attester.jsonio import dumps_pretty

    if fmt == "json":
        out = report.to_json()
        if every is not None:
            out["attestations"] = [r.to_json() for r in every]
        sys.stdout.buffer.write(dumps_pretty(out))
    elif report.ok:
        print(safe(ok_title))
        for c in report.checks:
            print(f"  ok  {safe(c.name)}: {safe(c.detail)}")
    for c in report.failures():
        print(f"attest: {safe(fail_title)}: {safe(c.name)}: {safe(c.detail)}", file=sys.stderr)
    others = [r for r in getattr(report, "lines", ()) if r.attestation != report.attestation]
    for other in others if fmt != "json" else []:  # JSON Lines: how every other line fared
        bad = other.failures()
        print(f"attest: note: {safe(other.attestation)}: " + (
            f"{safe(bad[0].name)}: {safe(bad[0].detail)}" if bad else "verified"),
            file=sys.stderr)
    if not report.ok and not report.checks:
        print(f"attest: {safe(fail_title)}: no check ran", file=sys.stderr)


def _write_vsa(args: argparse.Namespace, report: Any) -> None:
    """Sign and write a VSA for what this run verified (only ever after a pass)."""
    from attester import vsa
    from attester.dsse import IN_TOTO_PAYLOAD_TYPE
    from attester.jsonio import dumps_compact, dumps_pretty, read_bytes, write_output
    from attester.signers import sign_envelope
    from attester.signers.keyfile import KeyFileSigner

    stmt = report.statement
    if stmt is None:
        raise UsageError("--vsa-out summarizes a verified statement; this run verified none")
    subjects = [(s.name, s.digest["sha256"]) for s in stmt.subjects() if "sha256" in s.digest]
    flags = {k: v for k, v in sorted(vars(args).items())
             if k.startswith(("builder", "source", "build_type", "predicate", "certificate",
                              "owner", "repo", "signer")) and v}
    policy_uri = args.policy or "attest verify " + " ".join(f"--{k.replace('_', '-')}={v}"
                                                            for k, v in flags.items())
    digest = (vsa.policy_digest(flags) if not args.policy else
              hashlib.sha256(read_bytes(args.policy)).hexdigest())
    statement = vsa.build_vsa(
        subjects=subjects, resource_uri=(args.artifact or [subjects[0][0]])[0],
        policy_uri=policy_uri, policy_digest=digest,
        inputs=getattr(args, "vsa_inputs", None)
        or [(args.attestation, read_bytes(args.attestation, what="attestation"))],
        now=_now())
    payload = dumps_pretty(statement.to_json())
    if args.vsa_keyless:
        from attester.signers import keyless

        out = keyless.sign_statement(payload, token=keyless.identity_token(None),
                                     trust_config=args.vsa_trust_config, staging=args.staging)
    else:
        env = sign_envelope(IN_TOTO_PAYLOAD_TYPE, payload, [KeyFileSigner.from_file(args.vsa_key)])
        out = dumps_compact(env.to_json())
    write_output(out + b"\n", args.vsa_out)
    _say(args, f"wrote a signed verification summary to {args.vsa_out}")


def _identity(args: argparse.Namespace) -> Any:
    from attester import certpolicy

    return certpolicy.identity(
        certificate_identity=args.certificate_identity,
        certificate_identity_regexp=args.certificate_identity_regexp,
        issuer=args.certificate_oidc_issuer, issuer_regexp=args.certificate_oidc_issuer_regexp,
        owner=args.owner, repo=args.repo, signer_workflow=args.signer_workflow,
        signer_repo=args.signer_repo, hostname=args.hostname,
        source_digest=args.source_digest, signer_digest=args.signer_digest,
        deny_self_hosted_runners=args.deny_self_hosted_runners,
        workflow_trigger=args.workflow_trigger)


def _no_issuer(args: argparse.Namespace, identity: Any) -> Any:
    """--no-certificate-oidc-issuer: the certificate must name no issuer (GitHub release
    attestations); it replaces, and so contradicts, any issuer flag."""
    import attrs

    if not getattr(args, "no_certificate_oidc_issuer", False):
        return identity
    if args.certificate_oidc_issuer or getattr(args, "certificate_oidc_issuer_regexp", None):
        raise UsageError("--no-certificate-oidc-issuer and --certificate-oidc-issuer "
                         "contradict each other: give one")
    return attrs.evolve(identity, issuer=None, no_issuer=True)


def _with_digests(args: argparse.Namespace) -> list[str]:
    """--artifact plus each --digest ALG:HEX (validated now, before anything is fetched)."""
    from attester.digests import parse

    for d in args.digest or []:
        parse(d, what="--digest")
    return [*(args.artifact or []), *("@" + d for d in args.digest or [])]


def _scope(args: argparse.Namespace) -> Any:
    from attester.github_attestations import Scope

    if args.repo and "/" not in args.repo.strip("/"):
        raise UsageError(f"--repo {args.repo!r}: expected OWNER/REPO")
    return Scope(owner=args.owner, repo=args.repo)


def _api_for(hostname: str | None) -> str | None:
    """--hostname names the API too (as gh's), unless GITHUB_API_URL says where it is."""
    from attester import certpolicy

    return None if os.environ.get("GITHUB_API_URL") else certpolicy.api_for(hostname)


def _verify_from_github(args: argparse.Namespace, identity: Any, demands: Any
                        ) -> tuple[Any, list[Any]]:
    """No ATTESTATION, an artifact and --owner/--repo: ask GitHub's attestation API, as
    ``gh attestation verify`` does, and pass when one attestation verifies."""
    from attester import checker, github_attestations

    scope = _scope(args)
    github_attestations.check_limit(args.limit)
    blob, digest = github_attestations.digest_for(args.artifact,
                                                  insecure=args.insecure_registry)
    fetched = github_attestations.fetch(scope, digest, limit=args.limit,
                                        api_url=_api_for(args.hostname))
    trust = checker.Trust.from_flags(
        args.key or [], identity, threshold=args.threshold,
        trusted_root_path=args.trusted_root, offline=args.offline, staging=args.staging)
    report, every = github_attestations.verify_fetched(fetched, trust, demands, blob=blob,
                                                       digest=digest, scope=scope)
    args.vsa_inputs = [(f.where, f.data) for f in fetched if f.where == report.attestation]
    return report, every


def cmd_download(args: argparse.Namespace) -> int:
    """``gh attestation download``: the artifact's attestations as ALG:HEX.jsonl."""
    from attester import github_attestations
    from attester.jsonio import write_output

    if not (args.owner or args.repo):
        raise UsageError("whose attestations? pass --owner O or --repo O/R")
    if args.digest:
        from attester.digests import parse

        alg, hexd = parse(args.digest, what="--digest")
        spec, digest = args.artifact or f"{alg}:{hexd}", f"{alg}:{hexd}"
    elif args.artifact:
        spec, digest = github_attestations.digest_for([args.artifact], alg=args.digest_alg,
                                                      insecure=args.insecure_registry)
    else:
        raise UsageError("name the artifact (a file) or pass --digest ALG:HEX")
    fetched = github_attestations.fetch(_scope(args), digest, limit=args.limit,
                                        api_url=_api_for(args.hostname))
    if not fetched:
        print(safe(f"attest: no attestations for {digest} in {args.repo or args.owner}"),
              file=sys.stderr)
        return 1
    out = Path(args.output or ".") / (digest.replace(":", "-") if os.name == "nt"
                                      else digest)
    out = out.with_name(out.name + ".jsonl")
    write_output(github_attestations.jsonl(fetched), str(out))
    print(safe(f"wrote {len(fetched)} attestation(s) for {spec} to {out}"), file=sys.stderr)
    return 0


def cmd_upload(args: argparse.Namespace) -> int:
    """Store a Sigstore bundle in GitHub's attestation API (as actions/attest does)."""
    from attester import github_attestations, githubapi
    from attester.jsonio import read_bytes

    repo = args.repo or os.environ.get("GITHUB_REPOSITORY", "")
    if "/" not in repo.strip("/"):
        raise UsageError("which repository? pass --repo OWNER/REPO (in a job: "
                         "GITHUB_REPOSITORY)")
    data = read_bytes(args.bundle, what="bundle")
    ident = github_attestations.upload(data, repo, where=f"bundle {args.bundle}")
    print(f"{githubapi.server_url()}/{repo}/attestations/{ident}")
    print(safe(f"uploaded {args.bundle} to {repo} as attestation {ident}"), file=sys.stderr)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from attester import certpolicy, checker, vsapolicy
    from attester.policy import Policy
    from attester.verify import Demands

    if args.chain:
        _refuse_chain_flags(args)
    if args.require_complete and not args.artifacts:
        raise UsageError("--require-complete needs --artifacts STORE_URI")
    if args.policy and not args.chain:
        raise UsageError("--policy names a signer per release step; it applies to --chain "
                         "(and 'attest audit')", hint="for one attestation pass --key or "
                         "--certificate-identity and the policy flags")
    if args.vsa_out and not (args.vsa_key or args.vsa_keyless):
        raise UsageError("--vsa-out needs --vsa-key KEY or --vsa-keyless")
    for dest in ("vsa_key", "vsa_keyless", "vsa_trust_config"):
        if not args.vsa_out and not args.chain and _given(args, dest):
            raise UsageError(f"{_flag(dest)} signs the summary --vsa-out writes",
                             hint="pass --vsa-out FILE, or drop it")
    if args.vsa_trust_config and not args.vsa_keyless and not args.chain:
        raise UsageError("--vsa-trust-config applies to --vsa-keyless")
    identity = _no_issuer(args, _identity(args))
    args.artifact = _with_digests(args)
    if not args.key and not identity.given() and not (args.chain and args.policy):
        if args.chain:
            raise UsageError("no trusted signer given: --chain needs to know who signs each "
                             "release step", hint="pass --policy POLICY naming each step's "
                             "signer (see README), or --key PUB trusted for every step")
        raise UsageError("no trusted key or signer given: verification needs something to trust",
                         hint="pass --key PUB, or --certificate-identity and "
                         "--certificate-oidc-issuer for keyless signatures")
    opts = _store_options(args)
    demands = Demands(
        policy=Policy(builder_id=args.builder_id, source_uri=args.source_uri,
                      source_ref=args.source_ref, source_branch=args.source_branch,
                      source_tag=args.source_tag, source_versioned_tag=args.source_versioned_tag,
                      build_type=args.build_type, predicate_type=args.predicate_type,
                      source_digest=identity.extra.source_digest if identity.extra else None,
                      workflow_trigger=args.workflow_trigger,
                      workflow_inputs=certpolicy.workflow_inputs(args.build_workflow_input),
                      verifier_id=args.verifier_id, resource_uri=args.resource_uri,
                      verified_levels=vsapolicy.check_levels(args.verified_level or [])),
        artifacts=args.artifact or [], stores=args.artifacts or [],
        require_complete=args.require_complete,
        hash_artifacts=functools.partial(checker.hash_artifacts, options=opts,
                                         progress=not args.quiet),
        hash_store=functools.partial(checker.hash_store, options=opts, progress=not args.quiet))
    where = args.attestation
    every: list[Any] | None = None
    if args.chain:
        if args.npm_publish_key:
            raise UsageError("--npm-publish-key applies to one npm registry attestations "
                             "document, not to --chain")
        if args.policy and args.no_certificate_oidc_issuer:
            raise UsageError("--no-certificate-oidc-issuer does not apply with --policy: the "
                             "policy file names each step's signer")
        return _verify_chain(args, identity)
    if args.signature or args.certificate:
        if args.npm_publish_key:
            raise UsageError("--npm-publish-key applies to npm registry attestations, not to "
                             "a signature pair")
        if not (args.signature and args.certificate and len(args.artifact or []) == 1):
            raise UsageError("a signature pair needs --signature FILE.sig, --certificate "
                             "FILE.cert and one --artifact FILE")
        report = checker.verify_blob_pair(args.signature, args.certificate, args.artifact[0],
                                          identity)
    elif not where and (args.owner or args.repo) and args.artifact:
        if args.npm_publish_key:
            raise UsageError("--npm-publish-key applies to an npm registry attestations "
                             "document: name it as ATTESTATION")
        report, every = _verify_from_github(args, identity, demands)
    else:
        if not where:
            raise UsageError("name the attestation to verify",
                             hint="or fetch it from GitHub: --artifact FILE --owner O")
        if args.threshold < 1 or args.threshold > max(len(args.key or []), 1):
            raise UsageError(f"--threshold {args.threshold} must be between 1 and the "
                             f"number of --key given ({len(args.key or [])})")
        if args.rekor_url and args.offline:
            raise UsageError("--rekor-url looks the envelope up online; it cannot go with "
                             "--offline")
        if args.rekor_url:
            from attester.rekor_lookup import check_url

            args.rekor_url = check_url(args.rekor_url)
        trust = checker.Trust.from_flags(
            args.key or [], identity, threshold=args.threshold,
            trusted_root_path=args.trusted_root, offline=args.offline, staging=args.staging,
            rekor_url=args.rekor_url)
        import attrs

        trust = attrs.evolve(trust, npm_publish_key=args.npm_publish_key)
        if where.startswith("oci://"):
            if args.limit < 1:
                raise UsageError(f"--limit {args.limit} must be at least 1")
            report = checker.verify_image(where, trust, demands,
                                          insecure=args.insecure_registry, limit=args.limit)
        else:
            report = checker.verify_path(where, trust, demands,
                                         blob=args.artifact[0] if args.artifact and
                                         len(args.artifact) == 1 else None)
    _print_report(report, args.format, ok_title=f"verified {report.attestation}",
                  fail_title=f"verification FAILED for {report.attestation}", every=every)
    if report.ok:
        if args.vsa_out:
            _write_vsa(args, report)
        return 0
    return 1


def cmd_trusted_root(args: argparse.Namespace) -> int:
    from attester import trustroots
    from attester.display import safe
    from attester.jsonio import write_output

    fetched = trustroots.fetch(args.instance, offline=args.offline)
    root = trustroots.check(fetched.data)
    write_output(fetched.data, args.output)
    where = args.output if args.output and args.output != "-" else "stdout"
    print(f"attest: wrote the {args.instance} trusted root to {safe(where)} "
          f"({len(root.get_fulcio_certs())} Fulcio certificate(s), {len(root._inner.tlogs)} "
          f"transparency log(s), {len(root.get_timestamp_authorities())} timestamp "
          f"authorit{'y' if len(root.get_timestamp_authorities()) == 1 else 'ies'}) from the "
          f"{fetched.source}", file=sys.stderr)
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    from attester import bundles
    from attester.dsse import looks_like_envelope, parse_envelope
    from attester.jsonio import parse_json, read_bytes
    from attester.oci_attach import Target, attach

    data = read_bytes(args.attestation, what="attestation")
    doc = parse_json(data, where=f"attestation {args.attestation}")
    is_bundle = bundles.looks_like_bundle(doc)
    if is_bundle:
        payload = parse_json(base64.b64decode(doc.get("dsseEnvelope", {}).get("payload", ""))
                             or b"{}", where=args.attestation)
    elif looks_like_envelope(doc):
        payload = parse_json(parse_envelope(doc, where=args.attestation).payload,
                             where=f"attestation {args.attestation} payload")
    else:
        raise InputError(f"attestation {args.attestation}: attach signed attestations only "
                         "(a DSSE envelope or a Sigstore bundle)")
    target = Target.resolve(args.image, insecure=args.insecure_registry)
    digests = {s.get("digest", {}).get("sha256") for s in payload.get("subject", [])
               if isinstance(s, dict)}
    if target.digest.removeprefix("sha256:") not in digests:
        raise InputError(f"attestation {args.attestation} does not name {target.name} as a "
                         "subject; attaching it there would mislead")
    digest = attach(target, data, predicate_type=str(payload.get("predicateType", "")),
                    is_bundle=is_bundle)
    _say(args, f"attached {args.attestation} to {target.name} as {digest}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from attester import promote
    from attester.jsonio import dumps_compact, dumps_pretty, write_output

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
    now = _now()
    builder = args.builder_id or promote.DEFAULT_PROMOTER_ID
    statements = []
    if args.manifest and "filestores" in (promote._yaml(args.manifest) or {}):
        promos_f = promote.read_file_manifest(args.manifest, args.files)
        statements = promote.file_statements(
            promos_f, promote.store_resolver(_store_options(args), jobs=args.jobs,
                                             progress=not args.quiet),
            builder_id=builder,
            now=now, manifest=args.manifest)
    else:
        if args.manifest:
            promos = promote.read_image_manifest(args.manifest, args.images)
        else:
            promos = promote.adhoc_images(args.image)
        if args.require_provenance != "off":
            if args.policy:
                from attester import policyfile

                pf = policyfile.load(args.policy)
                if "stage" not in pf.trusts:
                    raise UsageError(f"policy {args.policy} names no stage signer to check "
                                     "staging images against")
                stage = pf.trusts["stage"]
                if args.trusted_root:  # the command line's root wins, as for audit
                    import attrs

                    stage = attrs.evolve(stage, trusted_root_path=args.trusted_root,
                                         offline=True)
                promote.check_staging_provenance(promos, args, stage,
                                                 pf.policies.get("stage"))
            else:
                promote.check_staging_provenance(promos, args, _provenance_trust(args))
        statements = promote.image_statements(
            promos, promote.oci_resolver(insecure=args.insecure_registry, jobs=args.jobs,
                                        progress=not args.quiet),
            canonical_registry=args.canonical_registry, builder_id=builder, now=now,
            manifest=args.manifest or "", fmt=args.format)
    docs = [s.to_json() for s in statements]
    if args.output and args.output.endswith(("/", os.sep)):
        try:  # a trailing slash means a folder, even one that is not there yet
            Path(args.output).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"--output {args.output}: cannot create the folder: "
                             f"{e.strerror}") from None
    if args.output and Path(args.output).is_dir():
        from attester.jsonio import atomic_write

        for doc in docs:
            name = doc["subject"][0]["name"].replace("/", "_").replace(":", "_")
            digest = next(iter(doc["subject"][0]["digest"].values()))[:12]
            atomic_write(Path(args.output) / f"{name}-{digest}.json", dumps_pretty(doc))
        _say(args, f"wrote {len(docs)} promotion statement(s) to {args.output}")
    elif len(docs) == 1:
        write_output(dumps_pretty(docs[0]), args.output)
    else:
        write_output(b"".join(dumps_compact(d) + b"\n" for d in docs), args.output)
    return 0


def _provenance_trust(args: argparse.Namespace) -> Any:
    from attester import bundles, checker

    identity = bundles.IdentityPolicy(identity=args.certificate_identity,
                                      issuer=args.certificate_oidc_issuer)
    trust = checker.Trust.from_flags(args.key or [], identity,
                                     trusted_root_path=args.trusted_root,
                                     offline=bool(args.trusted_root))
    if not trust.given():
        raise UsageError("--require-provenance needs whom to trust for the staging images",
                         hint="pass --key PUB or --certificate-identity/--certificate-oidc-"
                         "issuer")
    return trust


def cmd_audit(args: argparse.Namespace) -> int:
    from attester import audit
    from attester.display import safe
    from attester.jsonio import write_output

    report = audit.audit(args.release_dir, args.policy, trusted_root=args.trusted_root,
                         now=_now(), progress=not args.quiet)
    write_output(audit.render(report, args.format), args.output)
    if _to_file(args.output):
        summary = report.summary()
        _say(args, f"wrote {args.output}: {summary['artifacts']} artifact(s), "
             f"{summary['failed']} failed")
    if not report.ok:
        doc = report.to_json()
        s = doc["summary"]
        first = next((r["artifact"] + ": " + r["firstFailure"] for r in doc["artifacts"]
                      if r["verdict"] == "FAIL"), None) or \
            (doc["attestationProblems"] or ["no artifacts to audit"])[0]
        print(f"attest: audit FAILED: {s['failed']} of {s['artifacts']} artifact(s) fail; "
              f"first: {safe(first)}", file=sys.stderr)
        return 1
    return 0


# -- parser -------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like every other usage error
        self.print_usage(sys.stderr)
        raise UsageError(message, hint=_closest_choice(message))


def _closest_choice(message: str) -> str | None:
    """'did you mean 'verify'?' for argparse's "invalid choice: 'verfy' (choose from ...)"."""
    import difflib
    import re

    m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if not m:
        return None
    choices = re.findall(r"'([^']*)'", m[2])
    close = difflib.get_close_matches(m[1], choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    # argparse offers no public list of a parser's flags (3.14's suggest_on_error only
    # covers choices); its actions are the one place they are all kept.
    return [o for a in parser._actions for o in a.option_strings if o.startswith("--")]


def _did_you_mean(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str | None:
    """The closest real flag for each mistyped one, e.g. 'did you mean --key?'."""
    import difflib

    known = _option_strings(parser)
    flags = [a.partition("=")[0] for a in extras if a.startswith("--")]
    guesses = [(f, difflib.get_close_matches(f, known, n=1, cutoff=0.6)) for f in flags]
    found = [(f, c[0]) for f, c in guesses if c]
    if not found:
        return None
    if len(flags) == 1:
        return f"did you mean {found[0][1]}?"
    return "; ".join(f"{f}: did you mean {c}?" for f, c in found)


def _strip_debug(argv: Sequence[str]) -> tuple[list[str], bool]:
    """Take ``--debug`` out wherever it is (before ``--``), as ``--help`` is accepted."""
    out: list[str] = []
    debug = False
    for i, arg in enumerate(argv):
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg == "--debug":
            debug = True
        else:
            out.append(arg)
    return out, debug


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse a command line; a flag the subcommand does not know is reported with that
    subcommand's usage and the closest flag it does know."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        sub = _subcommands(parser).get(getattr(args, "command", None) or "", parser)
        sub.print_usage(sys.stderr)
        raise UsageError(f"unrecognized arguments: {' '.join(extras)}",
                         hint=_did_you_mean(sub, extras))
    return args


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # see _option_strings: no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog="attest", description="Produce, sign and verify SLSA provenance.",
                     epilog=EXAMPLES, formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"attest {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks on errors (accepted anywhere on the line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("keygen", help="create a signing key pair", formatter_class=fmt,
                       description="Write PREFIX.key (PKCS#8 PEM, encrypted when "
                       "ATTEST_PASSPHRASE is set) and PREFIX.pub (PEM public key).",
                       epilog="example:\n  ATTEST_PASSPHRASE=... attest keygen --type "
                       "ecdsa-p256 --out release")
    p.add_argument("--type", default="ecdsa-p256",
                   choices=["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072"],
                   help="key algorithm (default: ecdsa-p256, as cosign)")
    p.add_argument("--out", default="attest", metavar="PREFIX",
                   help="write PREFIX.key and PREFIX.pub (default: attest)")
    p.add_argument("--force", action="store_true", help="overwrite existing key files")
    p.add_argument("--kms", metavar="URI", help="write only PREFIX.pub: the public key of "
                   "this KMS key (see 'attest sign --kms')")
    _add_quiet(p)
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("start", help="record what storage holds before a build",
                       formatter_class=fmt,
                       description="Record every artifact each store holds now (GCS "
                       "generation, OCI digest, or sha256 of files), so that 'attest "
                       "provenance --snapshot' attests only what the build adds or changes.",
                       epilog="example:\n  attest start --artifacts gs://bucket/stage/ "
                       "--output before.json\n  ... the build runs ...\n  attest provenance "
                       "local:// --artifacts gs://bucket/stage/ --snapshot before.json")
    p.add_argument("--artifacts", action="append", metavar="URI",
                   help="store to record (repeatable)")
    p.add_argument("--output", "-o", metavar="SNAPSHOT", help="write here (default: stdout)")
    _add_quiet(p)
    _add_store_flags(p)
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("provenance", help="describe a build as an in-toto statement",
                       formatter_class=fmt,
                       description="Watch a build (SOURCE) and write an in-toto Statement "
                       "with a SLSA provenance predicate whose subjects are the artifacts "
                       "found in each --artifacts store.",
                       epilog="sources: local:// (the current git checkout)\n"
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
                       "example:\n  attest provenance local:// --artifacts file://dist "
                       "--output prov.json")
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
    _add_quiet(p)
    _add_store_flags(p)
    p.set_defaults(func=cmd_provenance)

    p = sub.add_parser("sign", help="sign a statement into a DSSE envelope",
                       formatter_class=fmt,
                       description="Validate STATEMENT, then sign its exact bytes into a "
                       "DSSE envelope (payloadType application/vnd.in-toto+json).",
                       epilog="example:\n  attest sign prov.json --key release.key "
                       "--output prov.intoto.json")
    p.add_argument("statement", metavar="STATEMENT",
                   help="in-toto statement JSON, e.g. from 'attest provenance'")
    p.add_argument("--key", action="append", metavar="KEY",
                   help="PEM private key (repeatable: one signature each); passphrase "
                   "from ATTEST_PASSPHRASE")
    p.add_argument("--kms", action="append", metavar="URI",
                   help="key held in a KMS: gcpkms://projects/P/locations/L/keyRings/R/"
                   "cryptoKeys/K/cryptoKeyVersions/V, awskms:..., azurekms:..., "
                   "hv:NAME[/VERSION] (HashiCorp Vault transit; newest version without "
                   "one) (repeatable; extra [kms])")
    p.add_argument("--keyless", action="store_true",
                   help="Sigstore keyless: sign as the CI's OIDC identity; writes a Sigstore "
                   "bundle (name it *.sigstore.json)")
    p.add_argument("--identity-token", metavar="JWT",
                   help="OIDC token for --keyless (else SIGSTORE_ID_TOKEN, else ambient CI "
                   "credentials)")
    p.add_argument("--staging", action="store_true", help="--keyless against Sigstore staging")
    p.add_argument("--trust-config", metavar="FILE",
                   help="--keyless against a custom Sigstore instance (ClientTrustConfig JSON)")
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    _add_quiet(p)
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser("verify", help="verify a signed attestation and artifacts",
                       formatter_class=fmt,
                       description="Check, in order: the signature over the exact payload "
                       "bytes (a trusted --key, or a Sigstore bundle's certificate, log entry "
                       "and signer identity), the statement, the predicate type, the policy "
                       "flags, and that every --artifact has the digest a subject names. "
                       "With --chain, follow artifacts back through the release steps. "
                       "Fails closed: exit 0 only when every check passes.",
                       epilog="examples:\n  attest verify prov.intoto.json --key release.pub "
                       "--artifact dist/kubectl \\\n      --builder-id "
                       "https://attester.dev/builders/local/v1 --source-uri "
                       "github.com/example/project\n"
                       "  attest verify prov.sigstore.json --certificate-identity "
                       "release-bot@example.com \\\n      --certificate-oidc-issuer "
                       "https://accounts.google.com --trusted-root trusted_root.json --offline\n"
                       "  attest verify --chain stage.intoto.json --chain release.intoto.json "
                       "--policy policy.yaml \\\n      --artifact dist/kubectl\n"
                       "  attest verify oci://registry.example/app:v1 --key stage.pub")
    p.add_argument("attestation", metavar="ATTESTATION", nargs="?", default="",
                   help="DSSE envelope (.intoto.json), Sigstore bundle (.sigstore.json) or "
                   ".intoto.jsonl")
    p.add_argument("--key", action="append", metavar="PUB",
                   help="trusted PEM public key (repeatable; any one suffices)")
    g = p.add_argument_group("keyless (Sigstore) signatures")
    g.add_argument("--certificate-identity", metavar="ID",
                   help="the signer's identity (certificate SAN), exact")
    g.add_argument("--certificate-identity-regexp", metavar="RE",
                   help="the signer's identity as a full-match regular expression")
    g.add_argument("--certificate-oidc-issuer", "--cert-oidc-issuer", metavar="URL",
                   help="the OIDC issuer that vouched for the identity (required; --owner/--repo "
                   "default it to GitHub Actions')")
    g.add_argument("--no-certificate-oidc-issuer", action="store_true",
                   help="the certificate must carry no OIDC issuer extension, as GitHub "
                   "release attestations (SAN https://dotcom.releases.github.com); "
                   "instead of --certificate-oidc-issuer")
    g.add_argument("--npm-publish-key", metavar="PUB",
                   help="npm registry attestations: also verify the publish attestation with "
                   "the registry's public key (PEM), as slsa-verifier verify-npm-package")
    g.add_argument("--trusted-root", metavar="FILE",
                   help="Sigstore trusted_root.json; implies no network")
    g.add_argument("--rekor-url", metavar="URL",
                   help="a DSSE envelope with no certificate (.intoto.jsonl of "
                   "slsa-github-generator up to v1.10): find its entry in this Rekor "
                   "(e.g. https://rekor.sigstore.dev) and verify it against the trusted root")
    g.add_argument("--offline", action="store_true",
                   help="no network: use --trusted-root or the roots bundled with sigstore")
    g.add_argument("--staging", action="store_true", help="Sigstore's staging instance")
    g.add_argument("--signature", metavar="FILE.sig", help="a bare signature (with "
                   "--certificate and one --artifact)")
    g.add_argument("--certificate", metavar="FILE.cert", help="the certificate of --signature")
    g.add_argument("--owner", help="GitHub: the certificate's source repository owner; "
                   "alone, a complete signer policy (a GitHub Actions workflow of OWNER)")
    g.add_argument("--repo", metavar="OWNER/REPO",
                   help="GitHub: the certificate's source repository; alone, a complete "
                   "signer policy (a GitHub Actions workflow of OWNER/REPO)")
    g.add_argument("--signer-workflow", metavar="OWNER/REPO/PATH",
                   help="GitHub: the workflow that signed (Build Signer URI), reusable ones too")
    g.add_argument("--signer-repo", metavar="OWNER/REPO",
                   help="GitHub: the repository of the workflow that signed")
    g.add_argument("--certificate-oidc-issuer-regexp", metavar="RE",
                   help="the OIDC issuer as a full-match regular expression")
    g.add_argument("--hostname", metavar="HOST",
                   help="GitHub host for --owner/--repo: a GitHub Enterprise Server or a "
                   "ghe.com tenancy (default github.com); sets the SAN anchor and the issuer")
    g.add_argument("--source-digest", metavar="SHA",
                   help="GitHub: the source commit (certificate's Source Repository Digest "
                   "and the provenance's resolved source)")
    g.add_argument("--signer-digest", metavar="SHA",
                   help="GitHub: the commit of the workflow that signed (Build Signer Digest)")
    g.add_argument("--deny-self-hosted-runners", action="store_true",
                   help="GitHub: the certificate's runner environment must be github-hosted")
    g.add_argument("--workflow-trigger", metavar="EVENT",
                   help="GitHub: the event that ran the workflow (push, release, "
                   "workflow_dispatch...), in the certificate and the provenance")
    g.add_argument("--build-workflow-input", action="append", metavar="KEY=VALUE",
                   help="a workflow_dispatch input the provenance must record (repeatable)")
    p.add_argument("--threshold", type=int, default=1, metavar="N",
                   help="require signatures by N distinct trusted keys")
    p.add_argument("--artifact", action="append", metavar="PATH|URI",
                   help="artifact that must match a subject digest (repeatable)")
    p.add_argument("--digest", action="append", metavar="ALG:HEX",
                   help="an artifact by digest, without the file: sha256:HEX or sha512:HEX "
                   "(repeatable; like --artifact NAME@sha256:HEX)")
    p.add_argument("--artifacts", action="append", metavar="STORE_URI",
                   help="store that must hold every subject with its digest (repeatable)")
    p.add_argument("--require-complete", action="store_true",
                   help="with --artifacts: also fail on any stored file no subject covers")
    p.add_argument("--builder-id", help="required builder id; without @ any version, "
                   "@vX.Y.Z equals @refs/tags/vX.Y.Z")
    p.add_argument("--source-uri", help="required source repository, e.g. "
                   "github.com/ORG/REPO")
    p.add_argument("--source-ref", help="required source ref, e.g. refs/tags/v1.2.3")
    p.add_argument("--source-branch", help="required source branch (refs/heads/B)")
    p.add_argument("--source-tag", help="required source tag (refs/tags/T)")
    p.add_argument("--source-versioned-tag", metavar="V",
                   help="a tag matching semver prefix V (v1.2 accepts v1.2.x)")
    p.add_argument("--build-type", help="required build type URI")
    p.add_argument("--predicate-type", help="required predicate type URI (also accepts "
                   "types attester does not know)")
    p.add_argument("--verifier-id", metavar="URI",
                   help="a VSA: the verifier that must have written it (as slsa-verifier "
                   "verify-vsa)")
    p.add_argument("--resource-uri", metavar="URI",
                   help="a VSA: the resource it must be about")
    p.add_argument("--verified-level", action="append", metavar="LEVEL",
                   help="a VSA: a level it must state, e.g. SLSA_BUILD_LEVEL_2 (a higher "
                   "SLSA level of the same track also satisfies; repeatable)")
    p.add_argument("--vsa-out", metavar="FILE",
                   help="after a pass, write a signed SLSA verification summary (VSA)")
    p.add_argument("--vsa-key", metavar="KEY", help="sign the VSA with this key")
    p.add_argument("--vsa-keyless", action="store_true", help="sign the VSA keyless")
    p.add_argument("--vsa-trust-config", metavar="FILE",
                   help="--vsa-keyless against a custom Sigstore instance")
    p.add_argument("--limit", type=int, default=30, metavar="N",
                   help="with no ATTESTATION and --owner/--repo: examine at most N "
                   "attestations from GitHub's attestation API; with oci://REF: at most N "
                   "referrers of the image (default 30, as gh)")
    p.add_argument("--chain", action="append", metavar="ATTESTATION",
                   help="follow --artifact back through these attestations (stage, release, "
                   "promotion) to the source commit (repeatable)")
    p.add_argument("--policy", metavar="POLICY",
                   help="YAML/JSON policy naming each step's signer (see README)")
    p.add_argument("--format", choices=["text", "json"], default="text",
                   help="json prints every check and its outcome")
    _add_store_flags(p)
    _add_quiet(p)
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("trusted-root", help="write a Sigstore trusted root for offline "
                       "verification", formatter_class=fmt,
                       description="Write the trusted root of Sigstore's public-good or "
                       "staging instance (from its TUF repository when the network allows, "
                       "else the copy embedded in the sigstore package) or of GitHub's own "
                       "trust domain (embedded copy), saying which. Verify with it later: "
                       "attest verify ... --trusted-root FILE --offline.",
                       epilog="examples:\n  attest trusted-root -o trusted_root.json\n"
                       "  attest trusted-root --instance github -o trusted_root.github.json\n"
                       "  attest trusted-root --instance staging --offline -o staging.json")
    p.add_argument("--instance", choices=["public-good", "staging", "github"],
                   default="public-good", help="whose trusted root (default public-good)")
    p.add_argument("--offline", action="store_true",
                   help="no network: write the embedded copy")
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    p.set_defaults(func=cmd_trusted_root)

    p = sub.add_parser("download", help="download an artifact's attestations from "
                       "GitHub (as gh attestation download)", formatter_class=fmt,
                       description="Ask GitHub's attestation API for the attestations whose "
                       "subject has the artifact's digest and write them, one bundle per "
                       "line, to ALG:HEX.jsonl for offline 'attest verify'. Reads "
                       "GITHUB_API_URL and GITHUB_TOKEN / GH_TOKEN.",
                       epilog="examples:\n  attest download dist/kubectl --repo example/project\n"
                       "  attest download --digest sha256:HEX --owner example -o attestations/")
    p.add_argument("artifact", metavar="ARTIFACT", nargs="?", default="",
                   help="the artifact file (or oci://IMAGE) whose digest to look up")
    p.add_argument("--insecure-registry", action="store_true",
                   help="oci://: allow plain HTTP to a non-loopback registry")
    p.add_argument("--owner", help="the GitHub organization or user that holds them")
    p.add_argument("--repo", metavar="OWNER/REPO", help="the repository that holds them")
    p.add_argument("--digest", metavar="ALG:HEX", help="look up this digest (no file needed)")
    p.add_argument("--hostname", metavar="HOST",
                   help="a GitHub Enterprise Server or ghe.com tenancy: its API is "
                   "https://HOST/api/v3 or https://api.HOST (unless GITHUB_API_URL is set)")
    p.add_argument("--digest-alg", choices=["sha256", "sha512"], default="sha256",
                   help="digest of ARTIFACT to look up (default sha256)")
    p.add_argument("--limit", type=int, default=30, metavar="N",
                   help="at most N attestations (default 30, as gh)")
    p.add_argument("--output", "-o", metavar="DIR",
                   help="folder to write ALG:HEX.jsonl in (default: the current folder)")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("upload", help="store a Sigstore bundle in GitHub's attestation "
                       "API (as actions/attest)", formatter_class=fmt,
                       description="POST the bundle to /repos/OWNER/REPO/attestations, "
                       "where 'gh attestation verify' and 'attest verify --owner' find it. "
                       "Needs a token with attestations: write (GITHUB_TOKEN / GH_TOKEN). "
                       "Prints the attestation's URL.",
                       epilog="example:\n  attest upload prov.sigstore.json --repo "
                       "example/project")
    p.add_argument("bundle", metavar="BUNDLE", help="a Sigstore bundle (attest sign --keyless)")
    p.add_argument("--repo", metavar="OWNER/REPO",
                   help="the repository to store it in (default: GITHUB_REPOSITORY)")
    p.set_defaults(func=cmd_upload)

    p = sub.add_parser("attach", help="attach a signed attestation to an image (OCI 1.1 "
                       "referrer)", formatter_class=fmt,
                       description="Push ATTESTATION (DSSE envelope or Sigstore bundle) as an "
                       "OCI 1.1 referrer of the image; 'attest verify oci://REF' finds it.",
                       epilog="example:\n  attest attach oci://127.0.0.1:5000/staging/pause@"
                       "sha256:... stage.intoto.json")
    p.add_argument("image", metavar="oci://REF",
                   help="the image, by tag or digest, e.g. oci://REGISTRY/REPO:TAG")
    p.add_argument("attestation", metavar="ATTESTATION",
                   help="signed attestation naming the image's digest as a subject")
    _add_quiet(p)
    _add_store_flags(p)
    p.set_defaults(func=cmd_attach)

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
                   help="check each staging image's attached attestation first")
    p.add_argument("--policy", metavar="POLICY",
                   help="with --require-provenance: the policy file whose stage step "
                   "staging images must satisfy")
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
    _add_store_flags(p)
    _add_quiet(p)
    p.set_defaults(func=cmd_promote)
    p = sub.add_parser("audit", help="check a downloaded release offline, artifact by "
                       "artifact", formatter_class=fmt,
                       description="Follow every file in RELEASE_DIR (and every image in its "
                       "images.txt) back through the attestations there to its source commit, "
                       "with no network, and report one row per artifact.",
                       epilog="example:\n  attest audit ./v1.31.0 --policy policy.yaml "
                       "--format html --output audit.html")
    p.add_argument("release_dir", metavar="RELEASE_DIR",
                   help="the downloaded release: files, attestations, optional images.txt")
    p.add_argument("--policy", required=True, metavar="POLICY",
                   help="YAML/JSON policy naming each step's signer")
    p.add_argument("--trusted-root", metavar="FILE", help="Sigstore trusted root for keyless "
                   "signers")
    p.add_argument("--format", choices=["text", "json", "html"], default="text",
                   help="text (default), json (schemas/audit-report.schema.json) or one "
                   "self-contained html file")
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    _add_quiet(p)
    p.set_defaults(func=cmd_audit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from attester.display import safe

    argv, debug = _strip_debug(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parse_args(argv)
    except UsageError as e:  # the command line itself: no traceback is of any use
        print(f"attest: error: {safe(e.diagnostics())}", file=sys.stderr)
        return e.exit_code
    args.debug = debug
    try:
        code: int = args.func(args)
        return code
    except AttesterError as e:
        if debug:
            traceback.print_exc()
        print(f"attest: error: {safe(e.diagnostics())}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("attest: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 2
    except Exception as e:  # noqa: BLE001 - last resort: one line, not a traceback
        if debug:
            traceback.print_exc()
        print(f"attest: internal error: {type(e).__name__}: {safe(e)} (rerun with --debug)",
              file=sys.stderr)
        return 2
