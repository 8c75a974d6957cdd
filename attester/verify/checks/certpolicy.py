"""GitHub's identity policy, as ``gh attestation verify`` and slsa-verifier mean it.

``--owner``/``--repo`` alone name a complete signer: a GitHub Actions workflow of that
owner or repository (the certificate SAN, anchored on ``https://HOST/OWNER/``), vouched
for by that host's Actions OIDC issuer. The other flags here pin what a Fulcio
certificate's CI extensions say (source commit, signer commit, runner, trigger) and,
where a provenance statement says the same thing, what the statement says too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from attester.errors import UsageError
from attester.model.statement import get_path
from attester.verify.checks.check import Check

GITHUB_HOST = "github.com"
GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"

# Fulcio certificate extensions (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md)
OID_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
OID_TRIGGER_V1 = "1.3.6.1.4.1.57264.1.2"
OID_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
OID_BUILD_SIGNER_DIGEST = "1.3.6.1.4.1.57264.1.10"
OID_RUNNER_ENVIRONMENT = "1.3.6.1.4.1.57264.1.11"
OID_SOURCE_REPO_DIGEST = "1.3.6.1.4.1.57264.1.13"
OID_BUILD_TRIGGER = "1.3.6.1.4.1.57264.1.20"
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_WORKFLOW = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[^@\s]+")


#: A host name, as gh's --hostname takes it: DNS labels and an optional port, nothing else
_HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
                       r"(:[0-9]{1,5})?", re.ASCII)


def _host(hostname: str | None) -> str:
    host = (hostname or GITHUB_HOST).lower().rstrip("/")
    # The API URL, the Actions issuer and the SAN prefix are built from it: a scheme, path
    # or user info ('ghe.example@evil.example') would make them another host's (redteam)
    if not _HOSTNAME.fullmatch(host):
        raise UsageError(f"--hostname {hostname!r}: a host name (ghe.example.com, or "
                         "TENANT.ghe.com), without scheme or path")
    return host


def issuer_for(hostname: str | None) -> str:
    """The Actions OIDC issuer of a GitHub host: github.com, a ghe.com tenancy (as gh
    computes it) or a GitHub Enterprise Server (its ``/_services/token`` endpoint)."""
    host = _host(hostname)
    if host == GITHUB_HOST:
        return GITHUB_ACTIONS_ISSUER
    if host.endswith(".ghe.com"):
        return f"https://token.actions.{host.removesuffix('.ghe.com')}.ghe.com"
    return f"https://{host}/_services/token"


def api_for(hostname: str | None) -> str | None:
    """The REST API of a GitHub host, as gh finds it: None for github.com (GITHUB_API_URL
    or api.github.com), ``api.TENANT.ghe.com`` for a ghe.com tenancy, ``HOST/api/v3`` for
    GitHub Enterprise Server."""
    host = _host(hostname)
    if host == GITHUB_HOST:
        return None
    if host.endswith(".ghe.com"):
        return f"https://api.{host}"
    return f"https://{host}/api/v3"


def server_for(hostname: str | None) -> str:
    return f"https://{_host(hostname)}"


def identity_regexp(*, owner: str | None, repo: str | None, hostname: str | None) -> str:
    """The SAN a workflow of OWNER (or OWNER/REPO) carries: ``https://HOST/O[/R]/...``.
    Case-insensitive, as GitHub's names are (gh does the same)."""
    scope = repo or owner or ""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?", scope):
        raise UsageError(f"--{'repo' if repo else 'owner'} {scope!r}: not a GitHub "
                         f"{'OWNER/REPO' if repo else 'owner name'}")
    return f"(?i){re.escape(server_for(hostname))}/{re.escape(scope)}/.+"


def commit(value: str, *, flag: str) -> str:
    """A full git commit (40 hex, or 64 for SHA-256 repositories), lowercase."""
    low = value.strip().lower()
    if not _COMMIT.fullmatch(low):
        raise UsageError(f"{flag} {value!r}: a full commit hash (40 hex digits)")
    return low


def workflow_inputs(pairs: Sequence[str] | None) -> tuple[tuple[str, str], ...]:
    out = []
    for pair in pairs or []:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise UsageError(f"--build-workflow-input {pair!r}: expected KEY=VALUE")
        out.append((key, value))
    return tuple(out)


def _ext(cert: Any, oid: str) -> str:
    from attester.verify.checks.certificate import fulcio_extension

    return fulcio_extension(cert, oid) or ""  # one DER reader for Fulcio's OIDs


def _said(name: str, got: str, want: str, what: str = "certificate") -> Check:
    ok = got == want
    return Check(name, ok, f"{what} says {got}" if ok else
                 f"{what} says {got or 'nothing'!r}, policy wants {want!r}")


@attrs.frozen
class CertPolicy:
    """What a Fulcio certificate's GitHub extensions must say, beyond SAN and issuer."""

    issuer_regexp: str | None = None
    source_digest: str | None = None
    signer_digest: str | None = None
    deny_self_hosted_runners: bool = False
    workflow_trigger: str | None = None

    def given(self) -> bool:
        return any(attrs.astuple(self))

    def check(self, cert: Any) -> list[Check]:
        checks: list[Check] = []
        if self.issuer_regexp is not None:
            try:
                rx = re.compile(self.issuer_regexp)
            except re.error as e:
                raise UsageError(f"--certificate-oidc-issuer-regexp: {e}") from None
            got = _ext(cert, OID_ISSUER_V2) or _ext(cert, OID_ISSUER_V1)
            ok = bool(got) and rx.fullmatch(got) is not None
            checks.append(Check("certificate-oidc-issuer", ok, f"issuer {got} (matches "
                                f"{self.issuer_regexp})" if ok else f"certificate issuer is "
                                f"{got or 'missing'!r}, policy wants one matching "
                                f"{self.issuer_regexp!r}"))
        if self.source_digest is not None:
            checks.append(_said("certificate source-digest",
                                _ext(cert, OID_SOURCE_REPO_DIGEST), self.source_digest))
        if self.signer_digest is not None:
            checks.append(_said("signer-digest", _ext(cert, OID_BUILD_SIGNER_DIGEST),
                                self.signer_digest))
        if self.deny_self_hosted_runners:
            checks.append(_said("runner-environment", _ext(cert, OID_RUNNER_ENVIRONMENT),
                                "github-hosted"))
        if self.workflow_trigger is not None:
            got = _ext(cert, OID_BUILD_TRIGGER) or _ext(cert, OID_TRIGGER_V1)
            checks.append(_said("certificate workflow-trigger", got, self.workflow_trigger))
        return checks


# -- the same facts as a provenance statement records them ------------------------------

def _commit_of(digest: Any) -> str:
    if not isinstance(digest, Mapping):
        return ""
    for key in ("gitCommit", "sha1"):
        if isinstance(digest.get(key), str):
            return str(digest[key]).lower()
    return ""


def provenance_commit(predicate: Mapping[str, Any]) -> str:
    """The resolved source commit: GitHub's and slsa-github-generator's v1 layouts
    (first git dependency, source parameter, GITHUB_SHA) and v0.2 (configSource, then
    the first git material)."""
    found = _commit_of(get_path(predicate, "invocation", "configSource", "digest"))
    groups = (get_path(predicate, "buildDefinition", "resolvedDependencies"),
              predicate.get("materials"))
    for items in groups:
        for item in items if isinstance(items, list) else []:
            if not found and isinstance(item, Mapping) and \
                    str(item.get("uri", "")).startswith("git+"):
                found = _commit_of(item.get("digest"))
    ep = get_path(predicate, "buildDefinition", "externalParameters", "source", "digest")
    sha = get_path(predicate, "buildDefinition", "internalParameters", "GITHUB_SHA")
    return found or _commit_of(ep) or (sha.lower() if isinstance(sha, str) else "")


def provenance_trigger(predicate: Mapping[str, Any]) -> str:
    for path in (("buildDefinition", "internalParameters", "github", "event_name"),
                 ("buildDefinition", "internalParameters", "GITHUB_EVENT_NAME"),
                 ("invocation", "environment", "github_event_name")):
        value = get_path(predicate, *path)
        if isinstance(value, str) and value:
            return value
    return ""


def provenance_inputs(predicate: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The workflow_dispatch inputs, where slsa-verifier looks for them."""
    for path in (("buildDefinition", "externalParameters", "inputs"),
                 ("buildDefinition", "externalParameters", "workflow", "inputs"),
                 ("buildDefinition", "internalParameters", "GITHUB_EVENT_PAYLOAD", "inputs"),
                 ("invocation", "parameters", "inputs"),
                 ("invocation", "environment", "github_event_payload", "inputs")):
        value = get_path(predicate, *path)
        if isinstance(value, Mapping):
            return value
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else "" if value is None else str(value)


def statement_checks(predicate: Mapping[str, Any], *, source_digest: str | None,
                     workflow_trigger: str | None,
                     inputs: Sequence[tuple[str, str]]) -> list[Check]:
    """--source-digest, --workflow-trigger and --build-workflow-input against provenance."""
    checks: list[Check] = []
    if source_digest is not None:
        checks.append(_said("source-digest", provenance_commit(predicate), source_digest,
                            "provenance"))
    if workflow_trigger is not None:
        checks.append(_said("workflow-trigger", provenance_trigger(predicate),
                            workflow_trigger, "provenance"))
    if inputs:
        got = provenance_inputs(predicate)
        for key, want in inputs:
            if got is None or key not in got:
                checks.append(Check(f"build-workflow-input {key}", False, "provenance records "
                                    f"no workflow input {key!r}, policy wants {want!r}"))
            else:
                checks.append(_said(f"build-workflow-input {key}", _as_text(got[key]), want,
                                    "provenance"))
    return checks


def identity(*, certificate_identity: str | None = None,
             certificate_identity_regexp: str | None = None,
             issuer: str | None = None, issuer_regexp: str | None = None,
             owner: str | None = None, repo: str | None = None,
             signer_workflow: str | None = None, signer_repo: str | None = None,
             hostname: str | None = None, source_digest: str | None = None,
             signer_digest: str | None = None, deny_self_hosted_runners: bool = False,
             workflow_trigger: str | None = None, publisher: str | None = None) -> Any:
    """An :class:`~attester.verify.checks.identity.IdentityPolicy` from flags (command line
    or a policy-file step).

    With no identity named, --owner/--repo (or --signer-repo/--signer-workflow, for
    reusable workflows) make one, and the issuer defaults to the host's Actions issuer:
    ``gh attestation verify --owner O`` means exactly that. ``publisher`` (PyPI's trusted
    publisher, ``github:OWNER/REPO[@WORKFLOW]``...) is a complete signer too.
    """
    from attester.verify.checks.identity import IdentityPolicy
    from attester.verify.checks.publisher import Publisher

    if issuer and issuer_regexp:
        raise UsageError("--certificate-oidc-issuer and --certificate-oidc-issuer-regexp "
                         "are exclusive")
    # OWNER/REPO, as gh requires: a bare owner was taken as a prefix, so --signer-repo
    # acme trusted a workflow in any repository of acme (redteam); --repo acme never
    # matched. --owner is the flag for "any repository of".
    for flag, value in (("--repo", repo), ("--signer-repo", signer_repo)):
        if value is not None and not _REPO.fullmatch(value):
            raise UsageError(f"{flag} {value!r}: not a GitHub OWNER/REPO",
                             hint="--owner OWNER allows any repository of an owner")
    if signer_workflow is not None:  # gh's form: [HOST/]OWNER/REPO/PATH (a URL too)
        signer_workflow = signer_workflow.removeprefix(server_for(hostname) + "/") \
            .removeprefix(_host(hostname) + "/")
    if signer_workflow is not None and not _WORKFLOW.fullmatch(signer_workflow):
        raise UsageError(f"--signer-workflow {signer_workflow!r}: expected "
                         "OWNER/REPO/PATH/TO/WORKFLOW.yml (as gh)")
    rx = certificate_identity_regexp
    if not certificate_identity and not rx and (owner or repo or signer_repo
                                                  or signer_workflow):
        server = server_for(hostname)
        if signer_workflow:
            wf = signer_workflow.removeprefix(server + "/")
            rx = f"(?i){re.escape(server)}/{re.escape(wf)}@.+"
        else:
            rx = identity_regexp(owner=owner if not (repo or signer_repo) else None,
                                 repo=signer_repo or repo, hostname=hostname)
        if not issuer and not issuer_regexp:
            issuer = issuer_for(hostname)
    extra = CertPolicy(
        issuer_regexp=issuer_regexp,
        source_digest=commit(source_digest, flag="--source-digest") if source_digest else None,
        signer_digest=commit(signer_digest, flag="--signer-digest") if signer_digest else None,
        deny_self_hosted_runners=deny_self_hosted_runners, workflow_trigger=workflow_trigger)
    return IdentityPolicy(identity=certificate_identity, identity_regexp=rx, issuer=issuer,
                          owner=owner, repo=repo, signer_workflow=signer_workflow,
                          signer_repo=signer_repo, server=server_for(hostname),
                          extra=extra if extra.given() else None,
                          publisher=Publisher.parse(publisher) if publisher else None)
