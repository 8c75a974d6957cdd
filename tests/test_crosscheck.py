"""Certificate <-> provenance cross-check, on by default (issue 19 item 3): where a keyless
certificate and the provenance state the same fact they must agree; what only one states
is listed under notCompared in --format json."""

from __future__ import annotations

import json

import pytest
from test_rego_policy import BYOB, DEMO

from conftest import git, interop_path


def _cross(doc: dict) -> list[dict]:
    return [c for c in doc["checks"] if c["check"].startswith("certificate-provenance")]


@pytest.mark.parametrize("args", [DEMO, BYOB], ids=["workflow-v1", "byob"])
def test_real_github_provenance_agrees_with_its_certificate(attest, args, no_network) -> None:
    r = attest(*args, "--format", "json")
    assert r.code == 0, r.err
    (check,) = _cross(r.json())
    assert check["ok"] is True
    assert check["detail"].startswith("certificate and provenance agree on repository, ref, "
                                      "commit")


def test_actions_provenance_compares_all_five_facts(attest, no_network) -> None:
    (check,) = _cross(attest(*DEMO, "--format", "json").json())
    assert check["detail"] == ("certificate and provenance agree on repository, ref, commit, "
                               "trigger, run")
    assert "notCompared" not in check


def test_facts_of_each_provenance_layout() -> None:
    """The provenance side, read from each CI's layout: GitHub workflow/v1, slsa-github-
    generator v0.2, GitLab's SLSA v1 and Cloud Build's v1."""
    from attester.model.statement import ParsedStatement
    from attester.verify.checks.crosscheck import provenance_facts

    gha = ParsedStatement(json.loads(interop_path(
        "provenance", "cli-cli_reusable-workflow-attestation.statement.json").read_text()))
    assert provenance_facts(gha) == {
        "repository": "https://github.com/malancas/attest-demo", "ref": "refs/heads/main",
        "commit": "95baf27389e83e6a5c48f42e190d48d7abcea19e", "trigger": "workflow_dispatch",
        "run": "https://github.com/malancas/attest-demo/actions/runs/9228858953/attempts/1"}
    gcb = ParsedStatement(json.loads(interop_path(
        "provenance", "slsa-verifier_gcb_v1.0-valid.statement.json").read_text()))
    facts = provenance_facts(gcb)
    assert facts["repository"].startswith("git+https://github.com/") and facts["commit"]
    # slsa-github-generator v0.2 (the layout its generic generator wrote until v1.10)
    v02 = ParsedStatement({"_type": "https://in-toto.io/Statement/v0.1",
                           "predicateType": "https://slsa.dev/provenance/v0.2", "predicate": {
                               "builder": {"id": "b"}, "buildType": "t",
                               "invocation": {"configSource": {
                                   "uri": "git+https://github.com/o/r@refs/tags/v1",
                                   "digest": {"sha1": "A" * 40}},
                                   "environment": {"github_event_name": "push"}},
                               "metadata": {"buildInvocationId": "4242-2"}}})
    assert provenance_facts(v02) == {"repository": "git+https://github.com/o/r",
                                     "ref": "refs/tags/v1", "commit": "a" * 40,
                                     "trigger": "push", "run": "4242-2"}
    # GitLab's SLSA v1 provenance (gitlab-runner's PROVENANCE.md layout)
    gitlab = ParsedStatement({"_type": "https://in-toto.io/Statement/v1",
                              "predicateType": "https://slsa.dev/provenance/v1", "predicate": {
                                  "buildDefinition": {
                                      "buildType": "https://gitlab.com/gitlab-org/gitlab-runner/"
                                      "-/blob/v16.8.0/PROVENANCE.md",
                                      "externalParameters": {
                                          "source": "https://gitlab.com/g/p",
                                          "variables": {"CI_COMMIT_REF_NAME": "main",
                                                        "CI_PIPELINE_SOURCE": "push"}},
                                      "resolvedDependencies": [{
                                          "uri": "https://gitlab.com/g/p",
                                          "digest": {"sha256": "x"}}]},
                                  "runDetails": {"builder": {"id": "https://gitlab.com/g/p/-/runners/1"},
                                                 "metadata": {"invocationId":
                                                              "https://gitlab.com/g/p/-/jobs/77"}}}})
    assert provenance_facts(gitlab) == {"repository": "https://gitlab.com/g/p",
                                        "ref": "refs/heads/main", "trigger": "push",
                                        "run": "https://gitlab.com/g/p/-/jobs/77"}


def test_runs_compare_across_forms() -> None:
    from attester.verify.checks.crosscheck import _run

    assert _run("https://github.com/o/r/actions/runs/42/attempts/2") == _run("42-2")
    assert _run("https://github.com/o/r/actions/runs/42/attempts/1") != _run("42-2")
    assert _run("https://gitlab.com/g/p/-/jobs/7") == _run("https://gitlab.com/g/p/-/jobs/7/")


@pytest.fixture
def keyless(attest, standin, repo, monkeypatch, tmp_path):
    """`attest provenance` of the repo signed keyless by a GitHub Actions token whose claims
    Fulcio (the stand-in) turns into CI extensions."""
    monkeypatch.chdir(repo)
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json").code == 0
    commit = git(repo, "rev-parse", "HEAD")

    def sign(**claims: str) -> list[object]:
        github = {"repository": "example/project", "sha": commit, **claims}
        token = standin.token(github=github)
        r = attest("sign", "p.json", "--keyless", "--identity-token", token,
                   "--trust-config", tmp_path / "trust.json", "-o", "p.sigstore.json")
        assert r.code == 0, r.err
        return ["verify", "p.sigstore.json", "--trusted-root", tmp_path / "root.json",
                "--certificate-identity", "release-bot@example.com",
                "--certificate-oidc-issuer", standin.issuer, "--artifact", "dist/bin/kubectl"]

    return sign, commit


def test_agreeing_certificate_passes_and_lists_what_it_could_not_compare(attest, keyless
                                                                          ) -> None:
    sign, _ = keyless
    r = attest(*sign(), "--format", "json")
    assert r.code == 0, r.err
    (check,) = _cross(r.json())
    assert check["ok"] and "agree on repository, commit" in check["detail"]
    assert any(n.startswith("run: the certificate says 'https://github.com/example/project/"
                            "actions/runs/1/attempts/1', the statement records none")
               for n in check["notCompared"]), check


def test_certificate_naming_another_commit_fails_naming_both(attest, keyless) -> None:
    sign, commit = keyless
    other = "f" * 40
    r = attest(*sign(sha=other))
    assert r.code == 1
    assert (f"certificate-provenance commit: the certificate says commit {other!r}, the "
            f"provenance says {commit!r}") in r.err


def test_certificate_naming_a_fork_fails_without_any_flag(attest, keyless) -> None:
    sign, _ = keyless
    r = attest(*sign(repository="attacker/project"), "--format", "json")
    assert r.code == 1
    (check,) = _cross(r.json())
    assert check["check"] == "certificate-provenance repository"
    assert "'https://github.com/attacker/project'" in check["detail"]
    assert "github.com/example/project" in check["detail"]


def test_exact_pin_of_a_reusable_workflow_is_still_cross_checked() -> None:
    """The exception is for a repository's own workflow pinned exactly, never for a SAN
    that any repository calling a reusable workflow gets (Build Config URI differs)."""
    from attester.model.statement import ParsedStatement
    from attester.verify.checks.crosscheck import cross_check
    from attester.verify.checks.signer import Signer

    generator = ("https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
                 "generator_generic_slsa3.yml@refs/tags/v2.0.0")
    stmt = ParsedStatement(raw={
        "_type": "https://in-toto.io/Statement/v1", "subject": [],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {
            "buildType": "https://actions.github.io/buildtypes/workflow/v1",
            "externalParameters": {"workflow": {"ref": "refs/heads/main",
                                                "repository": "https://github.com/victim/app",
                                                "path": ".github/workflows/release.yml"}},
            "resolvedDependencies": []}, "runDetails": {"builder": {"id": generator}}}})

    def signer(config: str, repo: str = "https://github.com/attacker/app",
               ref: str = "refs/heads/main") -> Signer:
        return Signer(kind="certificate", identities=(generator,),
                      extensions=(("buildSignerURI", generator), ("buildConfigURI", config),
                                  ("sourceRepositoryURI", repo), ("sourceRepositoryRef", ref)))

    caller = "https://github.com/attacker/app/.github/workflows/release.yml@refs/heads/main"
    checks = cross_check(stmt, signer(caller), pinned=generator)
    assert [c.name for c in checks if not c.ok] == ["certificate-provenance repository"]
    # the generator's own run (its file in the certificate's source repository, at its ref)
    own_run = signer(generator, "https://github.com/slsa-framework/slsa-github-generator",
                     "refs/tags/v2.0.0")
    own = cross_check(stmt, own_run, pinned=generator)
    assert all(c.ok for c in own) and "pinned exactly" in own[0].detail
    assert not all(c.ok for c in cross_check(stmt, own_run, pinned=None))
    # the same three URIs from a run of another repository (GitLab's CI file taken from
    # another project; redteam) or at another ref are no dedicated signer
    for borrowed in (signer(generator), signer(
            generator, "https://github.com/slsa-framework/slsa-github-generator")):
        assert not all(c.ok for c in cross_check(stmt, borrowed, pinned=generator))
