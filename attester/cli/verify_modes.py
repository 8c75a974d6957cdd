"""Which ``attest verify`` flags each mode takes: one declared table, checked in one place.

``attest verify`` has several modes (an attestation file, ``oci://REF``, GitHub's
attestation API, a ``.sig``/``.cert`` pair, ``--chain`` with or without ``--policy``).
Every flag of the verify parser is declared in :data:`VERIFY_FLAGS` with the modes that
take it; :func:`check` refuses (exit 2, naming the flag and the mode) a flag given in a
mode that does not take it, a flag given without the flag it needs, and two flags that
contradict each other. A flag that is not declared here fails ``tests/test_verify_modes.py``
(no flag can land without saying what each mode does with it).

To add a flag: one line in :data:`VERIFY_FLAGS`, ``"dest": Takes(MODES, why="...")``.
"""

from __future__ import annotations

import argparse
import enum
import functools
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from attester.errors import UsageError


class Mode(enum.Flag):
    """How ``attest verify`` was asked to verify (exactly one per command line)."""

    FILE = enum.auto()  #: ATTESTATION is a file: envelope, bundle, npm document, JSON Lines
    OCI = enum.auto()  #: ATTESTATION is oci://REF: the image's attached attestations
    GITHUB = enum.auto()  #: no ATTESTATION, --owner/--repo and --artifact: GitHub's API
    PAIR = enum.auto()  #: --signature FILE.sig --certificate FILE.cert --artifact FILE
    CHAIN = enum.auto()  #: --chain, one signer from the command line for every step
    CHAIN_POLICY = enum.auto()  #: --chain --policy: the policy file names each step's signer
    BATCH = enum.auto()  #: --attestations: every artifact of --artifacts with its attestations
    PYPI = enum.auto()  #: ATTESTATION is pypi://PROJECT/VERSION[/FILE]: PyPI's APIs


#: What the refusal says each mode is.
MODE_TEXT: Mapping[Mode, str] = {
    Mode.FILE: "an attestation file", Mode.OCI: "verify oci://REF",
    Mode.GITHUB: "attestations from GitHub's API (no ATTESTATION)",
    Mode.PAIR: "a signature pair", Mode.CHAIN: "--chain",
    Mode.CHAIN_POLICY: "--chain with --policy", Mode.PYPI: "verify pypi://",
    Mode.BATCH: "--attestations (a whole release)"}

NONE = Mode(0)
ONE = Mode.FILE | Mode.OCI | Mode.GITHUB  #: one attestation (or the best of several)
CHAINS = Mode.CHAIN | Mode.CHAIN_POLICY
SIGNER = ONE | Mode.PAIR | Mode.CHAIN | Mode.PYPI | Mode.BATCH  #: who signs
ALL = ONE | Mode.PAIR | CHAINS | Mode.PYPI | Mode.BATCH
#: a release on PyPI: its files and their attestations come from PyPI's APIs
PYPI_FILES = ("the release's files and their digests come from PyPI's JSON API: to check "
              "files you have, verify each one's .publish.attestation with --artifact")

STEP_POLICY = "set it under its step in the --policy file (or in one attestation's verify)"
ONE_VSA = "a verification summary describes one verified attestation"
PAIR_FILE = ("a .sig/.cert pair signs a file and has no statement: verify its Sigstore "
             "bundle to check one")


#: signer flags a policy file replaces: it names each step's signer itself
_POLICY_SIGNERS = ("key", "certificate_identity", "certificate_identity_regexp",
                   "certificate_oidc_issuer", "owner", "repo", "signer_workflow",
                   "signer_repo", "publisher")


def _threshold(args: argparse.Namespace) -> None:
    n, keys = args.threshold, len(getattr(args, "key", None) or [])
    if n < 1 or n > max(keys, 1):
        raise UsageError(f"--threshold {n} must be between 1 and the number of --key "
                         f"given ({keys})")


def _rekor_url(args: argparse.Namespace) -> None:
    """The URL checked (https, or http on loopback) in every mode that takes it, --chain
    too (redteam: only a single file's or image's verify checked it)."""
    from attester.verify.sigstore.rekor_lookup import check_url

    args.rekor_url = check_url(args.rekor_url)


def _limit(args: argparse.Namespace) -> None:
    if args.limit < 1:
        raise UsageError(f"--limit {args.limit} must be at least 1")


@attrs.frozen
class Takes:
    """The modes that take a flag, and what else it asks of the command line."""

    modes: Mode
    #: said after the refusal: why the mode cannot take it, or what to do instead
    why: str = ""
    #: one of these flags must be given too (dests)
    needs: tuple[str, ...] = ()
    #: none of these may be given with it (dests)
    excludes: tuple[str, ...] = ()
    #: its value is checked here too (a range), before anything is read
    valid: Callable[[argparse.Namespace], None] | None = attrs.field(default=None, eq=False)


#: Every ``attest verify`` flag (argparse dest) -> the modes that take it. Declare a new
#: flag here, one line; tests/test_verify_modes.py fails for a flag missing here.
VERIFY_FLAGS: Mapping[str, Takes] = {
    # what to verify (these choose the mode)
    "attestation": Takes(Mode.FILE | Mode.OCI | Mode.PYPI, why="name every attestation "
                         "with --chain; --attestations reads them from its folder; a "
                         "signature pair is --signature and --certificate"),
    "bundle": Takes(Mode.FILE, why="--bundle (and --provenance-path) names one attestation "
                    "file, with the artifacts as positional arguments"),
    "chain": Takes(CHAINS, why="--chain follows single artifacts; 'attest audit DIR' follows "
                   "a release's chain"),
    "attestations": Takes(Mode.BATCH, needs=("artifacts",), why="--attestations pairs every "
                          "file of --artifacts with its attestations (a whole release); "
                          "--chain and a signature pair name theirs"),
    # the policy file's steps name the signers and its trusted root the instance: a
    # signer's npm key, Rekor lookup or staging instance from the command line would be
    # dropped unread (redteam: all three were accepted with one file's --policy, ignored)
    "policy": Takes(Mode.CHAIN_POLICY | Mode.FILE,
                    excludes=(*_POLICY_SIGNERS, "npm_publish_key", "rekor_url", "staging"),
                    why="--policy names a signer per release step; it applies to --chain, "
                    "to one attestation file (which must pass one step) and to 'attest "
                    "audit'"),
    "signature": Takes(Mode.PAIR, needs=("certificate",), why="a signature pair is verified "
                       "on its own"),
    "certificate": Takes(Mode.PAIR, needs=("signature",), why="a signature pair is verified "
                         "on its own"),
    # who signs
    "key": Takes(ONE | Mode.CHAIN | Mode.BATCH, why="the policy file names each step's signer; a "
                 "signature pair is keyless"),
    "threshold": Takes(ONE | Mode.CHAIN | Mode.BATCH, valid=_threshold,
                       why="the policy file names each "
                       "step's signer; a signature pair is keyless"),
    "certificate_identity": Takes(SIGNER, why="the policy file names each step's signer"),
    "certificate_identity_regexp": Takes(SIGNER, why="the policy file names each step's signer"),
    "certificate_oidc_issuer": Takes(SIGNER, why="the policy file names each step's signer"),
    "certificate_oidc_issuer_regexp": Takes(SIGNER, excludes=("certificate_oidc_issuer",),
                                            why="the policy file names each step's signer"),
    "no_certificate_oidc_issuer": Takes(SIGNER, excludes=(
        "certificate_oidc_issuer", "certificate_oidc_issuer_regexp"),
        why="the policy file names each step's signer"),
    "owner": Takes(SIGNER, why="the policy file names each step's signer"),
    "repo": Takes(SIGNER, why="the policy file names each step's signer"),
    "signer_workflow": Takes(SIGNER, why="the policy file names each step's signer"),
    "signer_repo": Takes(SIGNER, why="the policy file names each step's signer"),
    "hostname": Takes(SIGNER, why="the policy file names each step's signer"),
    "signer_digest": Takes(SIGNER, why="the policy file names each step's signer"),
    "deny_self_hosted_runners": Takes(SIGNER, why="the policy file names each step's signer"),
    "publisher": Takes(SIGNER, why="the policy file names each step's signer"),
    "source_digest": Takes(ONE | Mode.PAIR | Mode.PYPI | Mode.BATCH, why=STEP_POLICY),
    "workflow_trigger": Takes(ONE | Mode.PAIR | Mode.PYPI | Mode.BATCH, why=STEP_POLICY),
    "npm_publish_key": Takes(Mode.FILE | Mode.OCI, why="npm's publish attestation is "
                             "verified for one npm registry attestations document, named as "
                             "ATTESTATION"),
    # trust roots and logs
    "trusted_root": Takes(ONE | CHAINS | Mode.PYPI | Mode.BATCH,
                          why="a bare .sig/.cert pair has no log "
                          "entry or timestamp to check against a trusted root"),
    "offline": Takes(ONE | CHAINS | Mode.PYPI | Mode.BATCH, why="a bare .sig/.cert pair is checked "
                     "offline anyway"),
    "staging": Takes(ONE | Mode.CHAIN | Mode.PYPI | Mode.BATCH,
                     why="the policy file's trusted-root names "
                     "the instance; a bare .sig/.cert pair has no log entry to look up"),
    # a bare envelope is looked up in Rekor only for a keyless signer: with --key it is
    # checked against the key and no log is ever asked (cosign's --key --rekor-url checks
    # the log: accepting it here would let that be believed)
    "rekor_url": Takes(Mode.FILE | Mode.OCI | Mode.CHAIN, excludes=("offline", "key"),
                       valid=_rekor_url,
                       why="only a bare DSSE envelope is looked up in Rekor by --rekor-url"),
    # what the statement must say
    "build_workflow_input": Takes(ONE | Mode.PYPI | Mode.BATCH, why=STEP_POLICY + "; " + PAIR_FILE),
    "builder_id": Takes(ONE | Mode.PYPI | Mode.BATCH, why=STEP_POLICY + "; " + PAIR_FILE),
    # with --chain, each --rego applies to every step's attestations (and the policy
    # file's rego: to its own step)
    "rego": Takes(ONE | CHAINS | Mode.PYPI | Mode.BATCH, why=PAIR_FILE),
    "policy_mode": Takes(ALL & ~Mode.BATCH, why="a batch reports every artifact's verdict "
                         "already; run it with --format json to see them all"),
    "source_uri": Takes(ONE | CHAINS | Mode.PYPI | Mode.BATCH, why=PAIR_FILE),
    "source_ref": Takes(ONE | Mode.PYPI | Mode.BATCH, why=STEP_POLICY + "; " + PAIR_FILE),
    "source_branch": Takes(ONE | Mode.PYPI | Mode.BATCH, why=STEP_POLICY + "; " + PAIR_FILE),
    "source_tag": Takes(ONE | Mode.PYPI | Mode.BATCH, why=STEP_POLICY + "; " + PAIR_FILE),
    "source_versioned_tag": Takes(ONE | Mode.PYPI | Mode.BATCH, why=STEP_POLICY + "; " + PAIR_FILE),
    "build_type": Takes(ONE | Mode.PYPI | Mode.BATCH, why=STEP_POLICY + "; " + PAIR_FILE),
    "predicate_type": Takes(ONE | Mode.PYPI | Mode.BATCH,
                            why="set predicate-types under its step in the "
                            "--policy file; " + PAIR_FILE),
    "verifier_id": Takes(ONE | Mode.BATCH, why="it applies to verifying one VSA"),
    "resource_uri": Takes(ONE | Mode.BATCH, why="it applies to verifying one VSA"),
    "verified_level": Takes(ONE | Mode.BATCH, why="it applies to verifying one VSA"),
    # the artifacts
    "artifact": Takes(ALL & ~(Mode.OCI | Mode.PYPI | Mode.BATCH), why="--attestations "
                      "verifies the files of --artifacts; the image is the artifact, checked "
                      "by its own digest: pin it instead, oci://REGISTRY/REPO@sha256:HEX; "
                      "with pypi://, " + PYPI_FILES),
    "digest": Takes(ALL & ~(Mode.OCI | Mode.PAIR | Mode.PYPI | Mode.BATCH), why="--attestations "
                    "hashes the files of --artifacts; the image is the "
                    "artifact (pin it: oci://REGISTRY/REPO@sha256:HEX); a signature pair "
                    "needs the file; with pypi://, " + PYPI_FILES),
    "index_url": Takes(Mode.PYPI, why="it names the PyPI (or mirror) that pypi://PROJECT/"
                       "VERSION is read from"),
    "artifacts": Takes(ONE | Mode.BATCH,
                       why="--chain follows single artifacts: pass each with --artifact "
                       "(or use 'attest audit DIR' for a whole folder)"),
    "require_complete": Takes(ONE | Mode.BATCH, needs=("artifacts",), why="--chain follows single "
                              "artifacts: use 'attest audit DIR'"),
    # store reads
    "oci_platforms": Takes(ONE | Mode.BATCH,
                           why="it lists the platforms of an --artifacts oci:// store"),
    "insecure_registry": Takes(ALL & ~(Mode.PAIR | Mode.PYPI), why="a signature pair reads "
                               "local files; pypi:// takes an http:// --index-url instead"),
    "jobs": Takes(ONE | Mode.BATCH, why="--jobs sizes --artifacts store reads"),
    "limit": Takes(Mode.OCI | Mode.GITHUB, valid=_limit, why="it caps the attestations read "
                   "from a registry or GitHub's API; a file names its own"),
    # the summary written after a pass
    "vsa_out": Takes(ONE, needs=("vsa_key", "vsa_keyless"), why=ONE_VSA),
    "vsa_key": Takes(ONE, needs=("vsa_out",), excludes=("vsa_keyless",), why=ONE_VSA),
    "vsa_keyless": Takes(ONE, needs=("vsa_out",), why=ONE_VSA),
    "vsa_trust_config": Takes(ONE, needs=("vsa_keyless",), why=ONE_VSA),
    # output
    "format": Takes(ALL),
    "print_statement": Takes(ONE | Mode.PYPI, excludes=("format",),
                             why="it prints the one statement that verified; --chain and "
                             "--attestations verify many, a signature pair signs no statement "
                             "(--format json lists them)"),
    "quiet": Takes(ALL),
}


def flag(dest: str) -> str:
    """The flag as typed on the command line, for a Namespace attribute."""
    return _flags().get(dest) or {"attestation": "ATTESTATION"}.get(
        dest, "--" + dest.replace("_", "-"))


@functools.cache
def _verify_parser() -> argparse.ArgumentParser:
    from attester.cli.verify_options import add_arguments  # the one declaration of them

    parser = argparse.ArgumentParser(prog="attest verify")
    add_arguments(parser)
    return parser


@functools.cache
def _flags() -> dict[str, str]:
    return {a.dest: max(a.option_strings, key=len) for a in _verify_parser()._actions
            if a.option_strings and a.dest != "help"}


@functools.cache
def _defaults() -> dict[str, Any]:
    return {a.dest: a.default for a in _verify_parser()._actions}


def given(args: argparse.Namespace, dest: str) -> bool:
    """The flag was set to something other than its default."""
    value = getattr(args, dest, None)
    return value is not None and value is not False and value != _defaults().get(dest)


def mode_of(args: argparse.Namespace) -> Mode:
    """The one mode the command line asks for."""
    if args.chain:
        return Mode.CHAIN_POLICY if args.policy else Mode.CHAIN
    if args.signature or args.certificate:
        return Mode.PAIR
    if getattr(args, "attestations", None):
        return Mode.BATCH
    if args.attestation:
        if args.attestation.startswith("pypi://"):
            return Mode.PYPI
        return Mode.OCI if args.attestation.startswith("oci://") else Mode.FILE
    if (args.owner or args.repo) and (args.artifact or args.digest):
        return Mode.GITHUB
    raise UsageError("name the attestation to verify",
                     hint="or fetch it from GitHub: --artifact FILE --owner O")


def positionals(args: argparse.Namespace) -> None:
    """ATTESTATION, or with --bundle/--provenance-path the artifacts (gh's and cosign's
    ``verify ARTIFACT --bundle B``, slsa-verifier's ``ARTIFACT --provenance-path P``)."""
    if not isinstance(args.attestation, list):
        return  # already done
    named = args.attestation
    if args.bundle:
        args.artifact = [*named, *(args.artifact or [])]
        args.attestation = args.bundle
        return
    if len(named) > 1:
        raise UsageError(f"one ATTESTATION at a time (got {len(named)}: {', '.join(named)})",
                         hint="to name the artifacts first, as gh, cosign and slsa-verifier "
                         "do, pass the attestation with --bundle FILE (or --provenance-path)")
    args.attestation = named[0] if named else ""


def check(args: argparse.Namespace) -> Mode:
    """The mode, after refusing every flag the mode does not take (exit 2, one line)."""
    positionals(args)
    for dest in VERIFY_FLAGS:  # --source-uri "" (an unset shell variable) requires nothing
        value = getattr(args, dest, None)
        if dest != "attestation" and (value == "" or (isinstance(value, list) and "" in value)):
            raise UsageError(f"{flag(dest)} is empty: give it a value, or leave the flag out",
                             hint="an unset shell variable?")
    mode = mode_of(args)
    chosen = [d for d in VERIFY_FLAGS if given(args, d)]
    for dest in chosen:
        takes = VERIFY_FLAGS[dest]
        if not takes.modes & mode:
            raise UsageError(f"{flag(dest)} does not apply to {MODE_TEXT[mode]}",
                             hint=takes.why or None)
    for dest in chosen:
        takes = VERIFY_FLAGS[dest]
        if takes.needs and not any(given(args, d) for d in takes.needs):
            raise UsageError(f"{flag(dest)} needs {' or '.join(flag(d) for d in takes.needs)}")
        clash = next((d for d in takes.excludes if given(args, d)), None)
        if clash is not None:
            raise UsageError(f"{flag(dest)} and {flag(clash)} contradict each other: give one")
        if takes.valid is not None:
            takes.valid(args)
    return mode
