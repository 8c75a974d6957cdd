"""Who must have signed a keyless signature: the certificate's identity and issuer.

What ``--certificate-identity``/``-regexp``, ``--certificate-oidc-issuer``, ``--owner``,
``--repo``, ``--signer-repo``/``--signer-workflow`` ask of a Fulcio certificate, each
requirement its own :class:`Check`; the certificate itself was authenticated before
(``verify/sigstore/``), which checks it with an accepting policy and leaves this to us.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from attester.errors import UsageError
from attester.verify.checks.certificate import (
    OID_BUILD_SIGNER_URI,
    OID_ISSUER_V1,
    OID_ISSUER_V2,
    OID_SOURCE_REPO_OWNER_URI,
    OID_SOURCE_REPO_URI,
    fulcio_extension,
    inconsistencies,
    sans,
)
from attester.verify.checks.check import Check


@attrs.frozen
class IdentityPolicy:
    """Who must have signed: the certificate's SAN and issuer, and GitHub's extensions."""

    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    owner: str | None = None
    repo: str | None = None
    signer_workflow: str | None = None
    signer_repo: str | None = None
    server: str = "https://github.com"
    #: certpolicy.CertPolicy: issuer regexp and GitHub's digest/runner/trigger extensions
    extra: Any = None
    #: The certificate must carry no OIDC issuer extension (GitHub release attestations).
    no_issuer: bool = False
    #: publisher.Publisher: a PyPI-style trusted publisher (--publisher), which names its
    #: issuer and is checked on the Build Config URI and source repository, not the SAN
    publisher: Any = None

    def given(self) -> bool:
        return bool(self.identity or self.identity_regexp or self.publisher)

    def has_issuer(self) -> bool:
        return self.issuer is not None or self.no_issuer or self.publisher is not None or \
            bool(self.extra and self.extra.issuer_regexp)

    def check(self, cert: Any) -> list[Check]:
        """Every identity requirement, each its own check."""
        checks: list[Check] = []
        ambiguous = inconsistencies(cert)
        if ambiguous:  # every keyless path checks its signer here: fail the certificate
            checks.append(Check("certificate", False, "the certificate contradicts itself: "
                                + "; ".join(ambiguous)))
        names = sans(cert)
        if self.identity is not None:
            ok = self.identity in names
            checks.append(Check("certificate-identity", ok, f"signed by {self.identity}" if ok
                                else f"certificate identity is {', '.join(names) or 'missing'}, "
                                f"policy wants {self.identity}"))
        if self.identity_regexp is not None:
            try:
                rx = re.compile(self.identity_regexp)
            except re.error as e:
                raise UsageError(f"--certificate-identity-regexp: {e}") from None
            hit = next((n for n in names if rx.fullmatch(n)), None)
            # cosign and gh search; we match the whole identity. Say so when that is the
            # only difference, so a flag copied from cosign is fixed, not loosened.
            partial = hit is None and any(rx.search(n) for n in names)
            checks.append(Check("certificate-identity", hit is not None,
                                f"signed by {hit} (matches {self.identity_regexp})" if hit else
                                f"certificate identity {', '.join(names) or 'missing'} does not "
                                f"match {self.identity_regexp}"
                                + (" (the expression must match the whole identity, unlike "
                                   "cosign's search: end it with .* to allow a suffix)"
                                   if partial else "")))
        got = fulcio_extension(cert, OID_ISSUER_V2) or fulcio_extension(cert, OID_ISSUER_V1) or ""
        if not self.has_issuer():
            # With no issuer named, only a certificate that names none (GitHub's release
            # attestations: its CA vouches for the SAN itself) is judged on its SAN alone.
            # One that names an issuer needs the policy to say which: the same identity
            # from another issuer is another signer.
            if got:
                raise UsageError(f"{ISSUER_NEEDED} (this certificate names {got!r})",
                                 hint=ISSUER_HINT)
            checks.append(Check("certificate-oidc-issuer", True,
                                "certificate names no issuer; its CA vouches for the identity"))
        if self.no_issuer:
            checks.append(Check("certificate-oidc-issuer", not got,
                                "certificate names no issuer, as the policy wants" if not got
                                else f"certificate issuer is {got!r}, policy wants none"))
        if self.issuer is not None:
            checks.append(Check("certificate-oidc-issuer", got == self.issuer,
                                f"issuer {got}" if got == self.issuer else
                                f"certificate issuer is {got or 'missing'!r}, policy wants "
                                f"{self.issuer!r}"))
        expect = []
        if self.owner:
            expect.append(("owner", OID_SOURCE_REPO_OWNER_URI, f"{self.server}/{self.owner}",
                           False))
        if self.repo:
            expect.append(("repo", OID_SOURCE_REPO_URI, f"{self.server}/{self.repo}", False))
        if self.signer_repo:
            expect.append(("signer-repo", OID_BUILD_SIGNER_URI,
                           f"{self.server}/{self.signer_repo}/", True))
        if self.signer_workflow:
            wf = self.signer_workflow.removeprefix(self.server + "/")
            expect.append(("signer-workflow", OID_BUILD_SIGNER_URI, f"{self.server}/{wf}@",
                           True))
        for name, oid, want, prefix in expect:
            got = fulcio_extension(cert, oid) or ""
            # GitHub owner and repository names are case-insensitive (and unique as such):
            # compare them so, as gh does; a workflow's path is a file name and keeps case.
            g, w = (got, want) if name == "signer-workflow" else (got.lower(), want.lower())
            ok = g.startswith(w) if prefix else g == w
            checks.append(Check(name, ok, f"certificate says {got}" if ok else
                                f"certificate says {got or 'nothing'!r}, policy wants "
                                f"{want + '...' if prefix else want!r}"))
        if self.extra is not None:
            checks.extend(self.extra.check(cert))
        if self.publisher is not None:
            checks.extend(self.publisher.check(cert))
        return checks


ISSUER_NEEDED = ("a keyless signature needs --certificate-oidc-issuer: an identity means "
                 "nothing without the issuer that vouched for it")
ISSUER_HINT = ("pass --certificate-oidc-issuer URL; a certificate without an issuer (GitHub "
               "release attestations) is judged on its identity alone")
