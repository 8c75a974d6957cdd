"""Certificate <-> provenance: where both state the same fact, they must agree.

A keyless certificate from a CI (Fulcio's extensions) states the source repository, ref,
commit, trigger and run that requested it; SLSA provenance records the same facts
(externalParameters, resolvedDependencies, internalParameters, invocation, runDetails).
A workflow that signs provenance claiming another repository's source or another run is
caught here, with no flag: each fact both state is compared, a disagreement fails naming
both values, and each fact only one of them states is listed as not compared (shown in
``--format json`` under ``notCompared``). One exception: a signer the user pinned exactly
that is one repository's own workflow may attest other builds (see ``_dedicated_signer``).

Layouts read: GitHub Actions workflow/v1 (actions/attest-build-provenance), slsa-github-
generator (v0.2 and v1, BYOB builders), GitLab's SLSA v1 (externalParameters.source and
CI variables, runDetails.metadata.invocationId a job URL), and Cloud Build's (signed by
Google's keys, so no certificate states anything to compare).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from attester.model.statement import ParsedStatement, get_path, normalize_repo, split_ref
from attester.verify.checks.certpolicy import provenance_commit, provenance_trigger
from attester.verify.checks.policy import Check

NAME = "certificate-provenance"

_GITHUB_RUN = re.compile(r"/actions/runs/(\d+)(?:/attempts/(\d+))?/?$")
_GITLAB_JOB = re.compile(r"/-/jobs/(\d+)/?$")
_RUN_ATTEMPT = re.compile(r"^(\d+)-(\d+)$")  # slsa-github-generator v0.2's buildInvocationId


def _repo(uri: str) -> str:
    # GitHub and GitLab names are case-insensitive; compare as gh and glab do
    return normalize_repo(uri).lower() if uri else ""


def _run(value: str) -> str:
    """A run as ``host/path#run/attempt`` (GitHub) or ``host/path#job`` (GitLab), so a
    URL and slsa-github-generator's ``RUN-ATTEMPT`` compare; anything else as given."""
    m = _GITHUB_RUN.search(value)
    if m:
        return f"run {m.group(1)} attempt {m.group(2) or '1'}"
    m = _GITLAB_JOB.search(value)
    if m:
        return f"job {m.group(1)}"
    m = _RUN_ATTEMPT.match(value)
    if m:
        return f"run {m.group(1)} attempt {m.group(2)}"
    return value


# -- the certificate's side -------------------------------------------------------------

def certificate_facts(signer: Any) -> dict[str, str]:
    """The facts a Fulcio certificate states (deprecated GitHub extensions as fallback)."""
    legacy_repo = signer.ext("githubWorkflowRepository")
    facts = {
        "repository": signer.ext("sourceRepositoryURI")
        or (f"https://github.com/{legacy_repo}" if legacy_repo else ""),
        "ref": signer.ext("sourceRepositoryRef") or signer.ext("githubWorkflowRef"),
        "commit": (signer.ext("sourceRepositoryDigest")
                   or signer.ext("githubWorkflowSHA")).lower(),
        "trigger": signer.ext("buildTrigger") or signer.ext("githubWorkflowTrigger"),
        "run": signer.ext("runInvocationURI"),
    }
    return {k: v for k, v in facts.items() if v}


# -- the provenance's side --------------------------------------------------------------

def _gitlab_var(pred: Mapping[str, Any], name: str) -> str:
    value = get_path(pred, "buildDefinition", "externalParameters", "variables", name)
    return value if isinstance(value, str) else ""


def _run_of(pred: Mapping[str, Any]) -> str:
    for path in (("runDetails", "metadata", "invocationId"),
                 ("runDetails", "metadata", "invocationID"),
                 ("metadata", "buildInvocationId"), ("metadata", "buildInvocationID")):
        value = get_path(pred, *path)
        if isinstance(value, str) and value:
            return value
    gh = get_path(pred, "buildDefinition", "internalParameters", "github")
    if isinstance(gh, Mapping) and gh.get("run_id"):
        return f"{gh['run_id']}-{gh.get('run_attempt') or 1}"
    return ""


def provenance_facts(stmt: ParsedStatement) -> dict[str, str]:
    from attester.model.statement import PROVENANCE_TYPES

    if stmt.predicate_type not in PROVENANCE_TYPES:
        return {}
    pred = stmt.predicate
    repo, ref = stmt.source()
    if not ref and repo:
        ref = split_ref(repo)[1]
    gitlab_ref = _gitlab_var(pred, "CI_COMMIT_REF_NAME")
    if not ref and gitlab_ref:  # GitLab records the branch or tag name, not the full ref
        tag = _gitlab_var(pred, "CI_COMMIT_TAG")
        ref = f"refs/tags/{tag}" if tag else f"refs/heads/{gitlab_ref}"
    facts = {"repository": repo, "ref": ref, "commit": provenance_commit(pred),
             "trigger": provenance_trigger(pred) or _gitlab_var(pred, "CI_PIPELINE_SOURCE"),
             "run": _run_of(pred)}
    return {k: v for k, v in facts.items() if v}


#: fact -> how both sides are put in one form before comparing
_SAME: Mapping[str, Callable[[str], str]] = {
    "repository": _repo, "ref": lambda v: v, "commit": lambda v: v.lower(),
    "trigger": lambda v: v, "run": _run}


def _dedicated_signer(signer: Any, pinned: str | None) -> bool:
    """The user named this exact signer (``--certificate-identity``, not a pattern) and it
    is a repository's own top-level workflow, not one that another repository can run and
    so get the same SAN. Such a signer is trusted for what it attests, as a promoter or a
    verification service is, including other repositories' builds (sigstore-conformance's
    re-signed provenance).

    "Its own" is read from the certificate, each condition closing one way to borrow the
    SAN: Build Signer URI = Build Config URI = SAN (no reusable workflow called from
    elsewhere), and that file is in the certificate's own Source Repository at its own
    Source Repository Ref (redteam: GitLab lets a project take its CI file from another
    project, and then all three URIs name that file while the pipeline, its token and the
    build are the other project's)."""
    if not pinned or signer.identity != pinned:
        return False
    build_signer, build_config = signer.ext("buildSignerURI"), signer.ext("buildConfigURI")
    if not build_signer or not build_signer == build_config == pinned:
        return False
    repo, ref = signer.ext("sourceRepositoryURI"), signer.ext("sourceRepositoryRef")
    if not repo or not ref or not build_signer.endswith("@" + ref):
        return False
    # GitHub: REPO/.github/workflows/FILE@REF; GitLab: REPO//PATH@REF
    file = build_signer[:-len("@" + ref)]
    return any(file.startswith(repo + sep) and len(file) > len(repo + sep)
               for sep in ("/.github/workflows/", "//"))


def cross_check(stmt: ParsedStatement, signer: Any, *, pinned: str | None = None
                ) -> list[Check]:
    """One failing check per fact the certificate and the provenance state differently;
    otherwise one passing check listing what agreed and what could not be compared. A
    certificate that states no CI facts (a person's e-mail identity), or a statement that is
    no SLSA provenance (a VSA, PyPI's publish statement), adds nothing."""
    from attester.model.statement import PROVENANCE_TYPES

    cert = certificate_facts(signer)
    if not cert or stmt.predicate_type not in PROVENANCE_TYPES:
        return []
    prov = provenance_facts(stmt)
    agree: list[str] = []
    failures: list[Check] = []
    not_compared: list[str] = []
    for fact, same in _SAME.items():
        c, p = cert.get(fact, ""), prov.get(fact, "")
        if c and p:
            if same(c) == same(p):
                agree.append(fact)
            else:
                failures.append(Check(f"{NAME} {fact}", False, f"the certificate says {fact} "
                                      f"{c!r}, the provenance says {p!r}"))
        elif c:
            not_compared.append(f"{fact}: the certificate says {c!r}, the statement "
                                "records none")
        elif p:
            not_compared.append(f"{fact}: the provenance says {p!r}, the certificate "
                                "states none")
    if failures and _dedicated_signer(signer, pinned):
        return [Check(NAME, True, "the signer, pinned exactly by --certificate-identity and "
                      "its repository's own workflow, attests a build its certificate does "
                      "not describe: " + "; ".join(f.detail for f in failures),
                      tuple(not_compared))]
    if failures:
        return [Check(f.name, False, f.detail, tuple(not_compared)) for f in failures]
    detail = (f"certificate and provenance agree on {', '.join(agree)}" if agree else
              "nothing both state to compare")
    if not_compared:
        detail += f" ({len(not_compared)} fact(s) not compared)"
    return [Check(NAME, True, detail, tuple(not_compared))]
