"""``attest verify``'s options, declared once: the command's parser is built from them,
and so is the standalone parser the mode table (verify_modes) reads flag names and defaults
from, without importing the command (which imports the table).
"""

from __future__ import annotations

import argparse

from attester.cli.common import add_store_flags

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


def add_arguments(p: argparse.ArgumentParser) -> None:
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
