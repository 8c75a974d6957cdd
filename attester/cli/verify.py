"""``attest verify``: one attestation, a signature pair, GitHub's API, or ``--chain``."""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from typing import Any

from attester.cli import verify_modes
from attester.cli.common import add_store_flags, store_options
from attester.cli.parsing import Subcommands
from attester.cli.report import print_report
from attester.cli.verify_batch import verify_batch
from attester.cli.verify_chain import verify_chain
from attester.cli.verify_github import verify_from_github
from attester.cli.verify_vsa import vsa_signer, write_vsa
from attester.errors import UsageError


def _identity(args: argparse.Namespace) -> Any:
    from attester.verify import certpolicy

    return certpolicy.identity(
        certificate_identity=args.certificate_identity,
        certificate_identity_regexp=args.certificate_identity_regexp,
        issuer=args.certificate_oidc_issuer, issuer_regexp=args.certificate_oidc_issuer_regexp,
        owner=args.owner, repo=args.repo, signer_workflow=args.signer_workflow,
        signer_repo=args.signer_repo, hostname=args.hostname,
        source_digest=args.source_digest, signer_digest=args.signer_digest,
        deny_self_hosted_runners=args.deny_self_hosted_runners,
        workflow_trigger=args.workflow_trigger, publisher=args.publisher)


def _no_issuer(args: argparse.Namespace, identity: Any) -> Any:
    """--no-certificate-oidc-issuer: the certificate must name no issuer (GitHub release
    attestations); it replaces any issuer flag (verify_modes refuses both together)."""
    import attrs

    if not getattr(args, "no_certificate_oidc_issuer", False):
        return identity
    return attrs.evolve(identity, issuer=None, no_issuer=True)


def _with_digests(args: argparse.Namespace) -> list[str]:
    """--artifact plus each --digest ALG:HEX (validated now, before anything is fetched)."""
    from attester.digests import parse

    for d in args.digest or []:
        parse(d, what="--digest")
    return [*(args.artifact or []), *("@" + d for d in args.digest or [])]


def _load_rego(args: argparse.Namespace) -> tuple[Any, ...]:
    """Every --rego FILE, parsed now: one that does not parse is exit 2 before anything
    is fetched or verified."""
    from attester.verify import rego

    return tuple(rego.load(path) for path in args.rego or ())


def _not_an_artifact(path: str) -> None:
    """A file that is not JSON named as ATTESTATION is the artifact, given the other way
    round (gh's ``verify FILE``): say so, rather than that it is not UTF-8 or not JSON."""
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return  # the reader says what is wrong with it
    # A file named as a document (bad.json) is a broken document: its reader says how.
    named_as_document = path.lower().endswith((".json", ".jsonl", ".sigstore", ".attestation",
                                               ".provenance", ".slsa"))
    if head and head[:1] not in (b"{", b"[") and not named_as_document:
        raise UsageError(f"ATTESTATION {path}: this looks like the artifact, not an "
                         "attestation (it is not JSON)",
                         hint="name the attestation and pass the file with --artifact, or "
                         f"as gh and cosign: attest verify {path} --bundle ATTESTATION")


def _print_statements(report: Any, every: list[Any] | None) -> None:
    """--print-statement (slsa-verifier's --print-provenance): each statement whose
    signature and policy verified, one JSON object per line, and nothing else."""
    from attester.jsonio import dumps_pretty

    seen: set[bytes] = set()
    for r in (report, *getattr(report, "lines", ()), *(every or ())):
        if r.ok and r.statement is not None:
            text = dumps_pretty(dict(r.statement.raw))
            if text not in seen:
                seen.add(text)
                sys.stdout.buffer.write(text)
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    from attester.verify import certpolicy, checker, vsapolicy
    from attester.verify.envelope import Demands
    from attester.verify.policy import Policy

    mode = verify_modes.check(args)  # every flag this mode cannot take: exit 2, naming it
    Mode = verify_modes.Mode  # noqa: N806 - the enum, named as in verify_modes
    identity = _no_issuer(args, _identity(args))
    args.artifact = _with_digests(args)
    rego = _load_rego(args)
    where = args.attestation
    # A plain attestation file is judged by verify_document, which knows the documents that
    # carry their own trust (Cloud Build's provenance, signed by Google's keys).
    if not args.key and not identity.given() and mode not in (Mode.CHAIN_POLICY, Mode.FILE):
        if mode == Mode.CHAIN:
            raise UsageError("no trusted signer given: --chain needs to know who signs each "
                             "release step", hint="pass --policy POLICY naming each step's "
                             "signer (see README), or --key PUB trusted for every step")
        raise UsageError("no trusted key or signer given: verification needs something to trust",
                         hint="pass --key PUB, or --certificate-identity and "
                         "--certificate-oidc-issuer for keyless signatures")
    opts = store_options(args)
    policy = Policy(builder_id=args.builder_id, source_uri=args.source_uri,
                    source_ref=args.source_ref, source_branch=args.source_branch,
                    source_tag=args.source_tag, source_versioned_tag=args.source_versioned_tag,
                    build_type=args.build_type, predicate_type=args.predicate_type,
                    source_digest=identity.extra.source_digest if identity.extra else None,
                    workflow_trigger=args.workflow_trigger,
                    workflow_inputs=certpolicy.workflow_inputs(args.build_workflow_input),
                    verifier_id=args.verifier_id, resource_uri=args.resource_uri,
                    verified_levels=vsapolicy.check_levels(args.verified_level or []),
                    rego=rego)
    if mode == Mode.BATCH:
        return verify_batch(args, checker.Trust.from_flags(
            args.key or [], identity, threshold=args.threshold,
            trusted_root_path=args.trusted_root, offline=args.offline, staging=args.staging),
            Demands(policy=policy, pinned_identity=args.certificate_identity))
    demands = Demands(
        policy=policy, pinned_identity=args.certificate_identity,
        artifacts=args.artifact or [], stores=args.artifacts or [],
        require_complete=args.require_complete,
        hash_artifacts=functools.partial(checker.hash_artifacts, options=opts,
                                         progress=not args.quiet),
        hash_store=functools.partial(checker.hash_store, options=opts, progress=not args.quiet))
    every: list[Any] | None = None
    if mode in verify_modes.CHAINS:
        return verify_chain(args, identity)
    signer = vsa_signer(args)  # before verifying: never 'verified' and then exit 2
    if mode == Mode.PAIR:
        if len(args.artifact or []) != 1:
            raise UsageError("a signature pair needs --signature FILE.sig, --certificate "
                             "FILE.cert and one --artifact FILE")
        report = checker.verify_blob_pair(args.signature, args.certificate, args.artifact[0],
                                          identity)
    elif mode == Mode.GITHUB:
        report, every = verify_from_github(args, identity, demands)
    else:
        if args.rekor_url:
            from attester.verify.rekor_lookup import check_url

            args.rekor_url = check_url(args.rekor_url)
        trust = checker.Trust.from_flags(
            args.key or [], identity, threshold=args.threshold,
            trusted_root_path=args.trusted_root, offline=args.offline, staging=args.staging,
            rekor_url=args.rekor_url, npm_publish_key=args.npm_publish_key)
        if mode == Mode.PYPI:
            report, every = checker.verify_pypi(where, trust, demands, index=args.index_url)
        elif mode == Mode.OCI:
            report = checker.verify_image(where, trust, demands,
                                          insecure=args.insecure_registry, limit=args.limit)
        else:
            _not_an_artifact(where)
            blob = args.artifact[0] if args.artifact and len(args.artifact) == 1 else None
            if args.policy:  # one attestation file against a policy file's steps
                from attester.release import policyfile

                report = policyfile.verify_one(where, policyfile.load(args.policy), demands,
                                               trusted_root=args.trusted_root, blob=blob)
            else:
                report = checker.verify_path(where, trust, demands, blob=blob)
    with contextlib.redirect_stdout(sys.stderr) if args.print_statement else \
            contextlib.nullcontext():  # --print-statement: stdout holds the statements alone
        code = print_report(report, args.format, ok_title=f"verified {report.attestation}",
                            fail_title=f"verification FAILED for {report.attestation}",
                            every=every, mode=args.policy_mode, quiet=args.quiet)
    if args.print_statement and report.ok:
        _print_statements(report, every)
    if report.ok:  # never a VSA for what only --policy-mode warn let pass
        if args.vsa_out:
            write_vsa(args, report, signer)
        return 0
    if code == 0:
        return 0
    return 1


#: ``attest verify --help`` shows its options by what they check, in this order.
GROUPS = {
    "documents": "documents: what to verify, besides ATTESTATION",
    "signer": "signer: who must have signed (one of --key, --certificate-identity[-regexp], "
              "--owner, --repo, --publisher)",
    "trust": "trust roots and logs: what the signer is checked against",
    "source": "source: what it was built from",
    "build": "build: how, and by whom, it was built",
    "subjects": "subjects: the artifacts it must cover",
    "output": "output",
}

USAGE = """\
attest verify ATTESTATION|oci://IMAGE|pypi://PROJECT/VERSION[/FILE] SIGNER [REQUIREMENTS] [OPTIONS]
       attest verify --chain ATTESTATION ... (--policy POLICY | SIGNER) --artifact A ...
       attest verify --artifact FILE --owner O|--repo O/R   (GitHub's attestation API)
       attest verify --artifacts STORE --attestations DIR SIGNER [REQUIREMENTS]   (a release)"""

DESCRIPTION = """\
Check, in order: the signature over the exact payload bytes (a trusted --key, or a Sigstore
bundle's certificate, log entry and signer identity), the statement, the predicate type, the
requirements (source, build, subjects). Fails closed: exit 0 only when every check passes,
1 when one fails, 2 when nothing could be checked."""

EXAMPLES = """\
examples:
  attest verify prov.intoto.json --key release.pub --artifact dist/bin/kubectl \\
      --builder-id https://attester.dev/builders/local/v1 --source-uri github.com/example/project
  attest verify prov.intoto.json --key release.pub --artifacts file://dist --require-complete \\
      --format json
  attest verify testdata/vsa/gke-gce-pre.bcid-vsa.jsonl \\
      --key testdata/vsa/vsa_signing_public_key.pem --verified-level SLSA_BUILD_LEVEL_2
  attest verify --chain stage.intoto.json --key stage.pub --artifact dist/bin/kubectl
  attest verify oci://registry.example/app:v1 --key stage.pub
  attest verify testdata/interop/pypi/pypi_attestations-0.0.19.tar.gz.publish.attestation \
      --artifact testdata/interop/pypi/pypi_attestations-0.0.19.tar.gz --publisher \
      github:trailofbits/pypi-attestations@release.yml --offline

A signer alone is not a policy: name what it must vouch for (an artifact, a store, a source
or a builder); verify refuses an empty policy (exit 2).
"""


def register(sub: Subcommands) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("verify", help="verify a signed attestation and artifacts",
                       formatter_class=fmt, usage=USAGE, description=DESCRIPTION,
                       epilog=EXAMPLES)
    p.add_argument("attestation", metavar="ATTESTATION", nargs="*", default="",
                   help="(with --bundle or --provenance-path: the ARTIFACTs) DSSE envelope "
                   "(.intoto.json), Sigstore bundle (.sigstore.json), "
                   ".intoto.jsonl, npm or PyPI attestations (.publish.attestation, "
                   ".provenance), Cloud Build's provenance (gcloud ... --show-provenance), "
                   "oci://IMAGE (its attached referrers), or pypi://PROJECT/VERSION[/FILE] "
                   "(a release's files and provenance from PyPI)")
    g = {name: p.add_argument_group(title) for name, title in GROUPS.items()}
    d = g["documents"]
    d.add_argument("--bundle", "-b", "--provenance-path", dest="bundle", metavar="FILE",
                   help="the attestation, as gh and cosign (--bundle, -b) and slsa-verifier "
                   "(--provenance-path) name it; the positional arguments are then the "
                   "artifacts: attest verify ARTIFACT --bundle FILE")
    d.add_argument("--chain", action="append", metavar="ATTESTATION",
                   help="follow --artifact back through these attestations (stage, release, "
                   "promotion) to the source commit (repeatable)")
    d.add_argument("--policy", metavar="POLICY",
                   help="YAML/JSON policy naming each release step's signer and rules: "
                   "with --chain, every step; with one ATTESTATION, a step it must pass "
                   "(reference: docs/policy.md)")
    d.add_argument("--signature", metavar="FILE.sig", help="a bare signature (with "
                   "--certificate and one --artifact)")
    d.add_argument("--certificate", metavar="FILE.cert", help="the certificate of --signature")
    d.add_argument("--attestations", action="append", metavar="DIR|STORE_URI",
                   help="verify a whole release: pair every file of --artifacts with its "
                   "attestations here (NAME.sigstore.json, NAME.intoto.jsonl, "
                   "NAME.attestation, or one naming it as a subject) and verify them all "
                   "(repeatable; docs/batch.md)")
    d.add_argument("--limit", type=int, default=30, metavar="N",
                   help="with no ATTESTATION and --owner/--repo: examine at most N "
                   "attestations from GitHub's attestation API; with oci://REF: at most N "
                   "referrers of the image (default 30, as gh)")
    s = g["signer"]
    s.add_argument("--key", action="append", metavar="PUB",
                   help="trusted PEM public key (repeatable; any one suffices)")
    s.add_argument("--threshold", type=int, default=1, metavar="N",
                   help="require signatures by N distinct trusted keys")
    s.add_argument("--certificate-identity", metavar="ID",
                   help="keyless: the signer's identity (certificate SAN), exact")
    s.add_argument("--certificate-identity-regexp", metavar="RE",
                   help="keyless: the signer's identity as a full-match regular expression")
    s.add_argument("--certificate-oidc-issuer", "--cert-oidc-issuer", metavar="URL",
                   help="the OIDC issuer that vouched for the identity (required; --owner/--repo "
                   "default it to GitHub Actions')")
    s.add_argument("--certificate-oidc-issuer-regexp", metavar="RE",
                   help="the OIDC issuer as a full-match regular expression")
    s.add_argument("--no-certificate-oidc-issuer", action="store_true",
                   help="the certificate must carry no OIDC issuer extension, as GitHub "
                   "release attestations (SAN https://dotcom.releases.github.com)")
    s.add_argument("--owner", help="GitHub: the certificate's source repository owner; "
                   "alone, a complete signer policy (a GitHub Actions workflow of OWNER)")
    s.add_argument("--repo", metavar="OWNER/REPO",
                   help="GitHub: the certificate's source repository; alone, a complete "
                   "signer policy (a GitHub Actions workflow of OWNER/REPO)")
    s.add_argument("--signer-workflow", metavar="OWNER/REPO/PATH",
                   help="GitHub: the workflow that signed (Build Signer URI), reusable ones too")
    s.add_argument("--signer-repo", metavar="OWNER/REPO",
                   help="GitHub: the repository of the workflow that signed")
    s.add_argument("--signer-digest", metavar="SHA",
                   help="GitHub: the commit of the workflow that signed (Build Signer Digest)")
    s.add_argument("--hostname", metavar="HOST",
                   help="GitHub host for --owner/--repo: a GitHub Enterprise Server or a "
                   "ghe.com tenancy (default github.com); sets the SAN anchor and the issuer")
    s.add_argument("--deny-self-hosted-runners", action="store_true",
                   help="GitHub: the certificate's runner environment must be github-hosted")
    s.add_argument("--publisher", metavar="KIND:NAME",
                   help="PyPI's trusted publisher, as a complete signer: "
                   "github:OWNER/REPO[@WORKFLOW], gitlab:NAMESPACE/PROJECT[@PATH] or "
                   "google:SERVICE_ACCOUNT; checked on the certificate's Build Config URI and "
                   "source repository (reusable workflows too), not its SAN")
    s.add_argument("--npm-publish-key", metavar="PUB",
                   help="npm registry attestations: also verify the publish attestation with "
                   "the registry's public key (PEM), as slsa-verifier verify-npm-package")
    d.add_argument("--index-url", metavar="URL",
                   help="pypi://: the PyPI that serves the JSON and integrity APIs (a mirror; "
                   "default https://pypi.org; pip's .../simple form is accepted)")
    t = g["trust"]
    t.add_argument("--trusted-root", metavar="FILE",
                   help="Sigstore trusted_root.json; implies no network")
    t.add_argument("--offline", action="store_true",
                   help="no network: use --trusted-root or the roots bundled with sigstore")
    t.add_argument("--staging", action="store_true", help="Sigstore's staging instance")
    t.add_argument("--rekor-url", metavar="URL",
                   help="a DSSE envelope with no certificate (.intoto.jsonl of "
                   "slsa-github-generator up to v1.10): find its entry in this Rekor "
                   "(e.g. https://rekor.sigstore.dev) and verify it against the trusted root")
    src = g["source"]
    src.add_argument("--source-uri", help="required source repository, e.g. "
                     "github.com/ORG/REPO")
    src.add_argument("--source-ref", help="required source ref, e.g. refs/tags/v1.2.3")
    src.add_argument("--source-branch", help="required source branch (refs/heads/B)")
    src.add_argument("--source-tag", help="required source tag (refs/tags/T)")
    src.add_argument("--source-versioned-tag", metavar="V",
                     help="a tag matching semver prefix V (v1.2 accepts v1.2.x)")
    src.add_argument("--source-digest", metavar="SHA",
                     help="the source commit (a certificate's Source Repository Digest and "
                     "the provenance's resolved source)")
    b = g["build"]
    b.add_argument("--builder-id", help="required builder id; without @ any version, "
                   "@vX.Y.Z equals @refs/tags/vX.Y.Z")
    b.add_argument("--build-type", help="required build type URI")
    b.add_argument("--predicate-type", help="required predicate type URI (also accepts "
                   "types attester does not know)")
    b.add_argument("--workflow-trigger", metavar="EVENT",
                   help="GitHub: the event that ran the workflow (push, release, "
                   "workflow_dispatch...), in the certificate and the provenance")
    b.add_argument("--build-workflow-input", action="append", metavar="KEY=VALUE",
                   help="a workflow_dispatch input the provenance must record (repeatable)")
    b.add_argument("--verifier-id", metavar="URI",
                   help="a VSA: the verifier that must have written it (as slsa-verifier "
                   "verify-vsa)")
    b.add_argument("--verified-level", action="append", metavar="LEVEL",
                   help="a VSA: a level it must state, e.g. SLSA_BUILD_LEVEL_2 (a higher "
                   "SLSA level of the same track also satisfies; repeatable)")
    a = g["subjects"]
    a.add_argument("--artifact", action="append", metavar="PATH|URI",
                   help="artifact that must match a subject digest (repeatable)")
    a.add_argument("--digest", action="append", metavar="ALG:HEX",
                   help="an artifact by digest, without the file: sha256:HEX or sha512:HEX "
                   "(repeatable; like --artifact NAME@sha256:HEX)")
    a.add_argument("--artifacts", action="append", metavar="STORE_URI",
                   help="store that must hold every subject with its digest (repeatable)")
    a.add_argument("--require-complete", action="store_true",
                   help="with --artifacts: also fail on any stored file no subject covers "
                   "(with --attestations: on any artifact no attestation claims)")
    a.add_argument("--resource-uri", metavar="URI",
                   help="a VSA: the resource it must be about")
    add_store_flags(a)
    b.add_argument("--rego", action="append", metavar="FILE.rego",
                   help="a Rego policy the verified statement must pass (repeatable): "
                   "cosign's package sigstore (isCompliant, or result with allow/errors/"
                   "warnings), package signature (allow), or witness-style deny rules; "
                   "input is the verified statement plus input.signer "
                   "(docs/policy-cookbook.md)")
    o = g["output"]
    o.add_argument("--policy-mode", choices=["enforce", "warn"], default="enforce",
                   help="warn: report every failing requirement (as warnings; wouldFail in "
                   "json) and exit 0, to roll a policy out before enforcing it (as kpromo's "
                   "--require-provenance warn); default enforce")
    o.add_argument("--format", choices=["text", "json"], default="text",
                   help="json prints every check and its outcome, and for what verified "
                   "the statement and its signer (identity, issuer, extensions, log time)")
    o.add_argument("--print-statement", action="store_true",
                   help="print the statement(s) that verified, alone, on stdout (the report "
                   "goes to stderr), as slsa-verifier's --print-provenance")
    o.add_argument("--quiet", "-q", action="store_true",
                   help="no report on stdout (text), no progress meter, no status line: the "
                   "exit code says it; failures still print on stderr")
    o.add_argument("--vsa-out", metavar="FILE",
                   help="after a pass, write a signed SLSA verification summary (VSA)")
    o.add_argument("--vsa-key", metavar="KEY", help="sign the VSA with this key")
    o.add_argument("--vsa-keyless", action="store_true", help="sign the VSA keyless")
    o.add_argument("--vsa-trust-config", metavar="FILE",
                   help="--vsa-keyless against a custom Sigstore instance")
    p.set_defaults(func=run)
