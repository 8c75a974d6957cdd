"""PyPI's trusted publishers as a signer policy: ``--publisher github:OWNER/REPO[@WORKFLOW]``,
``gitlab:NAMESPACE/PROJECT[@PATH]``, ``google:SERVICE_ACCOUNT``.

A trusted publisher is a repository and the CI file in it that may publish, not the
certificate's SAN: for a reusable workflow the SAN names the called workflow (in another
repository, perhaps), while the Build Config URI names the workflow file that ran in the
publishing repository. So the checks read Fulcio's Build Config URI and Source Repository
extensions, as PyPI and pypi-attestations do (``_GitHubTrustedPublisherPolicy``): the
Build Config URI must be ``https://github.com/OWNER/REPO/.github/workflows/WORKFLOW@X``
(GitLab: ``https://gitlab.com/NS/PROJECT//PATH@X``) where X is the certificate's own
Source Repository Ref or Digest. They are written here rather than taken from
pypi-attestations because its policies are private, need the workflow, and stop at the
first failure; here each requirement is its own check with its own message.

The same class reads the publisher that PyPI's integrity API states next to each
attestation bundle, so "does the certificate agree with what PyPI says" is the same code
as "does it agree with what the user trusts".
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from attester.errors import UsageError
from attester.verify.checks.check import Check

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
GOOGLE_ISSUER = "https://accounts.google.com"

# Fulcio certificate extensions (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md)
OID_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
OID_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
OID_SOURCE_REPO_URI = "1.3.6.1.4.1.57264.1.12"
OID_SOURCE_REPO_DIGEST = "1.3.6.1.4.1.57264.1.13"
OID_SOURCE_REPO_REF = "1.3.6.1.4.1.57264.1.14"
OID_BUILD_CONFIG_URI = "1.3.6.1.4.1.57264.1.18"

_ISSUERS = {"github": GITHUB_ISSUER, "gitlab": GITLAB_ISSUER, "google": GOOGLE_ISSUER}
_SERVERS = {"github": "https://github.com", "gitlab": "https://gitlab.com"}
_REPO = {"github": re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"),
         # GitLab projects sit in groups and subgroups: NS/SUB/.../PROJECT
         "gitlab": re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+")}
_EMAIL = re.compile(r"[^@\s/]+@[^@\s/]+\.[^@\s/]+")
_FORMS = ("github:OWNER/REPO[@WORKFLOW], gitlab:NAMESPACE/PROJECT[@PATH] or "
          "google:SERVICE_ACCOUNT_EMAIL")


def _ext(cert: Any, oid: str) -> str:
    from attester.verify.checks.certificate import fulcio_extension

    return fulcio_extension(cert, oid) or ""  # one DER reader for Fulcio's OIDs


@attrs.frozen
class Publisher:
    """Who may publish: a GitHub or GitLab repository (and optionally its CI file), or a
    Google service account."""

    kind: str  # github | gitlab | google
    #: OWNER/REPO, NAMESPACE/PROJECT, or the service account's email
    name: str
    #: GitHub: the workflow's file name (release.yml); GitLab: the CI file's path
    workflow: str | None = None

    @classmethod
    def parse(cls, spec: str, *, flag: str = "--publisher") -> Publisher:
        kind, colon, rest = spec.partition(":")
        kind = kind.strip().lower()
        if not colon or kind not in _ISSUERS or not rest:
            raise UsageError(f"{flag} {spec!r}: expected {_FORMS}")
        if kind == "google":
            if not _EMAIL.fullmatch(rest):
                raise UsageError(f"{flag} {spec!r}: a Google service account is an email "
                                 "address (NAME@PROJECT.iam.gserviceaccount.com)")
            return cls(kind=kind, name=rest)
        name, at, workflow = rest.partition("@")
        name = name.strip("/")
        if not _REPO[kind].fullmatch(name):
            what = "OWNER/REPO" if kind == "github" else "NAMESPACE/PROJECT"
            raise UsageError(f"{flag} {spec!r}: {name!r} is not a {kind} {what}")
        if kind == "github":  # PyPI names the file; the path form is accepted too
            workflow = workflow.removeprefix(".github/workflows/")
        # (after the prefix is taken off: '@.github/workflows/' named no file and so
        # allowed any workflow of the repository, redteam)
        if at and not workflow:
            raise UsageError(f"{flag} {spec!r}: nothing after '@' (name the workflow file, "
                             "or leave '@' out to allow any)")
        if kind == "github" and "/" in workflow:
            raise UsageError(f"{flag} {spec!r}: a GitHub workflow is a file in "
                             ".github/workflows/ (e.g. release.yml)")
        return cls(kind=kind, name=name, workflow=workflow or None)

    @classmethod
    def from_pypi(cls, model: Any) -> Publisher | None:
        """The integrity API's publisher (a pypi-attestations model); None for a kind that
        attest cannot check (CircleCI)."""
        kind = str(getattr(model, "kind", "")).lower()
        if kind == "github":
            return cls(kind=kind, name=model.repository, workflow=model.workflow)
        if kind == "gitlab":
            return cls(kind=kind, name=model.repository, workflow=model.workflow_filepath)
        if kind == "google":
            return cls(kind=kind, name=model.email)
        return None

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" + (f"@{self.workflow}" if self.workflow else "")

    @property
    def issuer(self) -> str:
        return _ISSUERS[self.kind]

    def check(self, cert: Any) -> list[Check]:
        """Each requirement of this publisher on a Fulcio certificate, one check each."""
        from attester.verify.checks.certificate import sans

        got = _ext(cert, OID_ISSUER_V2) or _ext(cert, OID_ISSUER_V1)
        checks = [Check("publisher issuer", got == self.issuer, f"issuer {got}"
                        if got == self.issuer else f"certificate issuer is {got or 'missing'!r}, "
                        f"a {self.kind} publisher signs through {self.issuer!r}")]
        if self.kind == "google":
            names = sans(cert)
            ok = self.name in names
            checks.append(Check("publisher", ok, f"signed by service account {self.name}" if ok
                                else f"certificate identity is {', '.join(names) or 'missing'}, "
                                f"publisher is {self.name}"))
            return checks
        server = _SERVERS[self.kind]
        repo_uri = f"{server}/{self.name}"
        src = _ext(cert, OID_SOURCE_REPO_URI)
        # GitHub names are case-insensitive (compared so, as gh and --repo do); GitLab's
        # paths are compared exactly, as PyPI does.
        fold = str.lower if self.kind == "github" else str
        ok = fold(src) == fold(repo_uri)
        checks.append(Check("publisher repository", ok, f"certificate source repository {src}"
                            if ok else f"certificate source repository is {src or 'missing'!r}, "
                            f"publisher is {repo_uri}"))
        config = _ext(cert, OID_BUILD_CONFIG_URI)
        checks.append(self._config_check(cert, config, repo_uri, fold))
        return checks

    def _config_check(self, cert: Any, config: str, repo_uri: str, fold: Any) -> Check:
        """The Build Config URI: the CI file of the publishing repository, at the
        certificate's own ref or commit."""
        sep = "/.github/workflows/" if self.kind == "github" else "//"
        want = f"{repo_uri}{sep}{self.workflow or ''}"
        shown = want + ("@REF" if self.workflow else "FILE@REF")
        if not config:
            return Check("publisher workflow", False, "certificate has no Build Config URI "
                         f"extension; publisher wants {shown}")
        path, at, suffix = config.rpartition("@")
        refs = {r for r in (_ext(cert, OID_SOURCE_REPO_REF), _ext(cert, OID_SOURCE_REPO_DIGEST))
                if r}
        rest = path[len(repo_uri):]
        file = rest[len(sep):] if rest.startswith(sep) else ""
        head_ok = fold(path[:len(repo_uri)]) == fold(repo_uri) and (
            file == self.workflow if self.workflow else
            bool(file) and (self.kind == "gitlab" or "/" not in file))
        if not at or not head_ok:
            return Check("publisher workflow", False, f"certificate Build Config URI is "
                         f"{config!r}, publisher wants {shown}")
        if suffix not in refs:
            return Check("publisher workflow", False, f"certificate Build Config URI {config} "
                         f"is at {suffix!r}, not the certificate's source ref or commit "
                         f"({', '.join(sorted(refs)) or 'none stated'})")
        return Check("publisher workflow", True, f"certificate Build Config URI {config}")
