"""Requirements as data: each one says which evidence can answer it.

A verifier is asked for requirements (a signer, a builder id, a source ref, a runner, a
threshold of keys, a VSA level...). Each :class:`Requirement` declares the kinds of
:class:`Evidence` that can answer it; each document form (a keyed DSSE envelope, a
keyless Sigstore bundle, a bundle that signs a file, npm's registry attestations...) is a
:class:`Form` that carries some of them. Every verify path (plain ``verify``, ``--chain``,
``audit``, ``promote --require-provenance``, GitHub's API, registries, JSON Lines) asks
this one module twice:

1. :func:`refuse_unanswerable`, once the document's form is known: a requirement the form
   cannot answer is :class:`UnansweredError` (exit 2, naming it), never skipped;
2. :func:`check_answered`, after a report passes: each requirement must have been answered
   by at least one of its checks in the report, or the pass is refused the same way.

So a requirement is checked (exit 0 or 1) or refused (exit 2), never passed unchecked, on
every path and for every form, including ones added later. (sigstore-python's
``verify/checks/policy.py`` and slsa-verifier's ``options`` are the models: what evidence a
requirement reads is in its declaration, so a path that lacks it can say so.)
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from attester.errors import UsageError
from attester.verify.checks.policy import Check


class Evidence(enum.Enum):
    """What a verified document can show a requirement."""

    #: keyed signatures, counted (a threshold)
    KEYED_SIGNATURES = "signatures by trusted keys"
    #: its identity, issuer and CI extensions (runner, signer digest...)
    CERTIFICATE = "a keyless signer's certificate"
    #: its predicate type and subjects
    STATEMENT = "a signed in-toto statement"
    #: builder, build type, source, workflow
    PROVENANCE = "a SLSA provenance statement"
    VSA = "a verification summary (VSA)"
    FILE_SIGNATURE = "a signature over the artifact file"
    NPM_PUBLISH = "npm's publish attestation"


E = Evidence
_STATEMENTS = frozenset({E.STATEMENT, E.PROVENANCE, E.VSA})


@attrs.frozen
class Form:
    """A kind of document, and the evidence its verification yields."""

    name: str
    evidence: frozenset[Evidence]


KEYED_ENVELOPE = Form("a keyed DSSE envelope", _STATEMENTS | {E.KEYED_SIGNATURES})
KEYLESS_BUNDLE = Form("a keyless Sigstore bundle", _STATEMENTS | {E.CERTIFICATE})
FILE_BUNDLE = Form("a Sigstore bundle that signs a file, with no statement",
                   frozenset({E.CERTIFICATE, E.FILE_SIGNATURE}))
#: a managed-key bundle: one signature by a key (so no threshold above one), no certificate
KEYED_BUNDLE = Form("a Sigstore bundle signed by a key", _STATEMENTS)
KEYED_FILE_BUNDLE = Form("a Sigstore bundle signed by a key over a file, with no statement",
                         frozenset({E.FILE_SIGNATURE}))
#: cosign's tag-based layers (sha256-HEX.sig / .att); a keyed .att is a keyed DSSE envelope
COSIGN_KEYED_SIGNATURE = Form("a cosign signature by a key, over the image only",
                              frozenset({E.FILE_SIGNATURE}))
COSIGN_KEYLESS_SIGNATURE = Form("a keyless cosign signature, over the image only",
                                frozenset({E.CERTIFICATE, E.FILE_SIGNATURE}))
COSIGN_KEYLESS_ATTESTATION = Form("a keyless cosign attestation", _STATEMENTS | {E.CERTIFICATE})
REKOR_ENVELOPE = Form("a DSSE envelope found in Rekor", _STATEMENTS | {E.CERTIFICATE})
NPM_DOCUMENT = Form("npm registry attestations",
                    _STATEMENTS | {E.CERTIFICATE, E.NPM_PUBLISH})
SIGNATURE_PAIR = Form("a .sig/.cert signature pair, with no statement",
                      frozenset({E.CERTIFICATE, E.FILE_SIGNATURE}))
#: Cloud Build's own provenance: Google's keys sign it; no certificate, no key of ours
CLOUD_BUILD = Form("Cloud Build's provenance", frozenset({E.STATEMENT, E.PROVENANCE}))
FORMS = (KEYED_ENVELOPE, KEYLESS_BUNDLE, FILE_BUNDLE, KEYED_BUNDLE, KEYED_FILE_BUNDLE,
         COSIGN_KEYED_SIGNATURE, COSIGN_KEYLESS_SIGNATURE, COSIGN_KEYLESS_ATTESTATION,
         REKOR_ENVELOPE, NPM_DOCUMENT, SIGNATURE_PAIR, CLOUD_BUILD)


@attrs.frozen
class Requirement:
    """One thing the verifier was asked to make sure of."""

    #: as the user wrote it: the flag (``--signer-digest``), or a policy file's key
    name: str
    #: any one of these answers it
    evidence: frozenset[Evidence]
    #: the report checks that answer it (a check named so, or so followed by a space)
    checks: tuple[str, ...]
    #: where it was asked, for the message (e.g. "policy step stage")
    where: str = ""

    def needs(self) -> str:
        return " or ".join(e.value for e in sorted(self.evidence, key=lambda e: e.name))

    def answered_by(self, checks: Iterable[Check]) -> bool:
        # "#2 builder-id": the checks of the second of several bundles in one document
        names = [re.sub(r"^#\d+ ", "", c.name) for c in checks]
        return any(c == n or c.startswith(n + " ") for c in names for n in self.checks)

    def shown(self) -> str:
        if self.where.startswith("policy "):  # a policy file's key, as written there
            return f"{self.name.removeprefix('--')} ({self.where})"
        return f"{self.name} ({self.where})" if self.where else self.name


class UnansweredError(UsageError):
    """A requirement that no evidence of the document answers: exit 2, naming it."""

    def __init__(self, message: str, *, hint: str | None = None,
                 requirement: Requirement | None = None,
                 missing: tuple[Requirement, ...] = (), form: Form | None = None) -> None:
        super().__init__(message, hint=hint)
        self.requirement = requirement
        #: every requirement the document could not answer, and the document's form
        self.missing = missing or ((requirement,) if requirement else ())
        self.form = form

    def no_statement(self) -> bool:
        """The document carries no statement at all where one was asked for (a signature
        over the image or a file): there is no provenance, rather than a question the
        user asked that the document cannot answer."""
        return self.form is not None and E.STATEMENT not in self.form.evidence and any(
            E.STATEMENT in r.evidence or E.PROVENANCE in r.evidence for r in self.missing)


#: The name of the failed check that stands for a refused document among several (JSON
#: Lines, an image's referrers, GitHub's answers): another one may answer what it cannot.
REFUSED = "requirements"


def refused_check(e: UsageError) -> Check:
    """One document's refusal among several (JSON Lines, referrers, cosign layers, GitHub's
    answers): a requirement its form cannot answer, or any usage error its form raises (a
    keyless bundle when only --key is given, a bundle over a file and no file). Another
    document may still answer; only when none could is it the command's error (exit 2).
    (redteam: only requirements were caught, so one planted document's usage error hid
    the good ones.)"""
    return Check(REFUSED, False, e.message)


def was_refused(checks: Sequence[Check]) -> bool:
    return bool(checks) and checks[0].name == REFUSED


_SOURCE = frozenset({E.PROVENANCE, E.CERTIFICATE})


def _req(name: str, evidence: Iterable[Evidence], *checks: str) -> Requirement:
    return Requirement(name=name, evidence=frozenset(evidence), checks=checks or (name[2:],))


def _source(name: str) -> Requirement:
    # answered by the provenance, or by a CI certificate's Source Repository extensions
    # (a failing "certificate source" check says a certificate had none)
    return _req(name, _SOURCE, name[2:], f"certificate {name[2:]}", "certificate source")


#: Every requirement a Policy field makes (field name -> requirement). A Policy field
#: missing here fails tests/test_requirements.py.
POLICY_REQUIREMENTS: dict[str, Requirement] = {
    "builder_id": _req("--builder-id", {E.PROVENANCE}),
    "build_type": _req("--build-type", {E.PROVENANCE}),
    "source_uri": _source("--source-uri"),
    "source_ref": _source("--source-ref"),
    "source_branch": _source("--source-branch"),
    "source_tag": _source("--source-tag"),
    "source_versioned_tag": _source("--source-versioned-tag"),
    "source_ref_pattern": _source("--source-ref-pattern"),
    "predicate_type": _req("--predicate-type", {E.STATEMENT}),
    "source_digest": _req("--source-digest", _SOURCE, "source-digest",
                          "certificate source-digest"),
    "workflow_trigger": _req("--workflow-trigger", _SOURCE, "workflow-trigger",
                             "certificate workflow-trigger"),
    "workflow_inputs": _req("--build-workflow-input", {E.PROVENANCE}, "build-workflow-input"),
    "verifier_id": _req("--verifier-id", {E.VSA}, "verifier-id", "vsa"),
    "resource_uri": _req("--resource-uri", {E.VSA}, "resource-uri", "vsa"),
    "verified_levels": _req("--verified-level", {E.VSA}, "verified-level", "vsa"),
    #: Rego rules read the verified statement (and its signer)
    "rego": _req("--rego", {E.STATEMENT}, "rego"),
}

#: What a certificate policy (certpolicy.CertPolicy) asks beyond the signer. Its
#: source_digest and workflow_trigger are Policy's too (a provenance answers them).
CERTIFICATE_REQUIREMENTS: dict[str, Requirement] = {
    "issuer_regexp": _req("--certificate-oidc-issuer-regexp", {E.CERTIFICATE},
                          "certificate-oidc-issuer"),
    "signer_digest": _req("--signer-digest", {E.CERTIFICATE}),
    "deny_self_hosted_runners": _req("--deny-self-hosted-runners", {E.CERTIFICATE},
                                     "runner-environment"),
    "source_digest": _req("--source-digest", _SOURCE, "source-digest",
                          "certificate source-digest"),
    "workflow_trigger": _req("--workflow-trigger", _SOURCE, "workflow-trigger",
                             "certificate workflow-trigger"),
}

ISSUER = _req("--certificate-oidc-issuer", {E.CERTIFICATE}, "certificate-oidc-issuer")
NO_ISSUER = _req("--no-certificate-oidc-issuer", {E.CERTIFICATE}, "certificate-oidc-issuer")
THRESHOLD = _req("--threshold", {E.KEYED_SIGNATURES}, "signature")
NPM_PUBLISH_KEY = _req("--npm-publish-key", {E.NPM_PUBLISH}, "npm-publish")
#: "subject": Cloud Build's provenance names the image it checks so (gcb_provenance);
#: "image": a cosign signature's payload names the image (cosign_signatures)
ARTIFACT = _req("--artifact", _STATEMENTS | {E.FILE_SIGNATURE}, "artifact", "subject", "image")
STORE = _req("--artifacts", {E.STATEMENT}, "artifacts")
COMPLETE = _req("--require-complete", {E.STATEMENT}, "artifacts")


def of_signer(identity: Any, *, threshold: int = 1, npm_publish_key: str | None = None,
              where: str = "") -> tuple[Requirement, ...]:
    """What a signer asks beyond "signed by one of these": a certificate's extensions
    (asked of every document, keyed ones too), an issuer named without an identity,
    a threshold of keys, npm's publish attestation."""
    out: list[Requirement] = []
    extra = getattr(identity, "extra", None)
    if identity is not None and not identity.given():  # no keyless signer to be the issuer
        if getattr(identity, "issuer", None):          # of: asked of every document
            out.append(ISSUER)
        if getattr(identity, "no_issuer", False):
            out.append(NO_ISSUER)
    if extra is not None:
        out.extend(r for f, r in CERTIFICATE_REQUIREMENTS.items()
                   if getattr(extra, f) not in (None, False, ""))
    if threshold > 1:
        out.append(attrs.evolve(THRESHOLD, name=f"--threshold {threshold}"))
    if npm_publish_key:
        out.append(NPM_PUBLISH_KEY)
    return tuple(attrs.evolve(r, where=where) for r in out)


def of_demands(policy: Any, *, artifacts: Sequence[str] = (), stores: Sequence[str] = (),
               require_complete: bool = False, where: str = "") -> tuple[Requirement, ...]:
    """What a policy and the artifacts ask of the statement (or of a signed file);
    ``where`` says who asks the policy's (a policy file's step)."""
    out = [attrs.evolve(r, where=where) for f, r in POLICY_REQUIREMENTS.items()
           if getattr(policy, f) not in (None, ())]
    if artifacts:
        out.append(ARTIFACT)
    if stores:
        out.append(STORE)
    if require_complete:
        out.append(COMPLETE)
    return tuple(out)


def merged(*groups: Iterable[Requirement]) -> tuple[Requirement, ...]:
    """One of each requirement (a flag both a signer and a policy name is asked once)."""
    seen: dict[str, Requirement] = {}
    for group in groups:
        for r in group:
            seen.setdefault(r.name, r)
    return tuple(seen.values())


def unanswerable(requirements: Iterable[Requirement], form: Form) -> list[Requirement]:
    return [r for r in requirements if not r.evidence & form.evidence]


def refuse_unanswerable(requirements: Iterable[Requirement], form: Form, where: str) -> None:
    """Exit 2 naming each requirement ``form`` carries no evidence for."""
    missing = unanswerable(requirements, form)
    if missing:
        names = ", ".join(r.shown() for r in missing)
        raise UnansweredError(f"{names} cannot be checked: {where} is {form.name}, and "
                              f"{missing[0].shown()} needs {missing[0].needs()}",
                              hint="verify a document that carries it, or drop the "
                              "requirement", requirement=missing[0], missing=tuple(missing),
                              form=form)


def check_answered(requirements: Iterable[Requirement], checks: Sequence[Check],
                   where: str) -> None:
    """A passing report must have answered every requirement; else exit 2 naming it."""
    missing = [r for r in requirements if not r.answered_by(checks)]
    if missing:
        raise UnansweredError(f"{', '.join(r.shown() for r in missing)} was not checked: no "
                              f"evidence in {where} answered it",
                              hint=f"it needs {missing[0].needs()}", requirement=missing[0])


def impossible_for(requirements: Iterable[Requirement], *, keys: bool, keyless: bool
                   ) -> list[Requirement]:
    """Requirements no document could answer for a signer with (or without) keys and a
    keyless identity: a certificate requirement with only keys, a threshold without keys."""
    cannot = set()
    if not keyless:
        cannot.add(E.CERTIFICATE)
    if not keys:
        cannot.add(E.KEYED_SIGNATURES)
    return [r for r in requirements if r.evidence <= cannot]


def refuse_impossible(requirements: Iterable[Requirement], *, keys: bool, keyless: bool) -> None:
    """Before reading anything: exit 2 for a requirement the trusted signers never answer."""
    bad = impossible_for(requirements, keys=keys, keyless=keyless)
    if bad:
        r = bad[0]
        raise UnansweredError(f"{r.shown()} needs {r.needs()}, but "
                         + ("no keyless signer is named" if not keyless else "no --key is given"),
                         hint="name the keyless signer (--certificate-identity with "
                         "--certificate-oidc-issuer, or --owner/--repo), or drop it"
                         if not keyless else "pass the keys", requirement=r)
