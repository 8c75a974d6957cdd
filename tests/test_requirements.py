"""Issue 16.1: every requirement is checked by the document's evidence or refused (exit 2,
naming it); never passed unchecked. The walk below crosses requirement x document form on
real vectors (testdata/interop) and asserts one of the two outcomes for each pair."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from attester.verify.checks import certpolicy, requirements
from attester.verify.checks.policy import Policy

from conftest import interop_path

KEYED = interop_path("keyed", "MANIFEST.json").parent
RW = interop_path("realworld", "MANIFEST.json").parent
ROOT = interop_path("sigstore", "trusted_root.sigstore-production.json")
PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
GHA = "https://token.actions.githubusercontent.com"
DELEGATOR = ("https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
             "delegator_generic_slsa3.yml@refs/tags/v2.0.0")


def _keyed() -> list[object]:
    return [KEYED / "ecdsa-p256.intoto.json", "--key", KEYED / "ecdsa-p256.pub",
            "--artifact", KEYED / "artifacts" / "kubectl"]


def _keyless() -> list[object]:  # slsa-github-generator's BYOB bundle (intoto 0.0.2 entry)
    return [RW / "sv_gha_delegator-v2.0.0-push-v14.2.build.slsa",
            "--certificate-identity", DELEGATOR, "--certificate-oidc-issuer", GHA,
            "--trusted-root", ROOT, "--artifact",
            RW / "sv_gha_delegator-v2.0.0-binary-linux-amd64-push-v14.2"]


def _tsa_only() -> list[object]:  # GitHub's own instance: an RFC 3161 timestamp, no log entry
    return [RW / "gh_github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl",
            "--certificate-identity", "https://github.com/actions/attest-demo/.github/"
            "workflows/build-python.yml@refs/heads/main", "--certificate-oidc-issuer", GHA,
            "--trusted-root", RW / "trusted_root.github.json",
            "--artifact", RW / "gh_github_provenance_demo-0.0.12-py3-none-any.whl"]


def _npm() -> list[object]:
    return [RW / "sv_npm_gundam-visor-cli-v1-tag.tgz.json",
            "--certificate-identity", "https://github.com/ramonpetgrave64/gundam-visor/"
            ".github/workflows/npm-publish.yml@refs/tags/v1.0.1",
            "--certificate-oidc-issuer", GHA, "--trusted-root", ROOT,
            "--artifact", RW / "sv_npm_gundam-visor-cli-v1-tag.tgz"]


def _jsonl(tmp: Path) -> list[object]:
    """A keyed envelope and a keyless bundle, one per line; trusted: the key and the
    keyless signer. One passing line passes."""
    lines = [json.dumps(json.loads((KEYED / "ecdsa-p256.intoto.json").read_text())),
             json.dumps(json.loads((RW / "sv_gha_delegator-v2.0.0-push-v14.2.build.slsa")
                                   .read_text()))]
    path = tmp / "mixed.intoto.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return [path, "--key", KEYED / "ecdsa-p256.pub", "--certificate-identity", DELEGATOR,
            "--certificate-oidc-issuer", GHA, "--trusted-root", ROOT]


FORMS = {"keyed envelope": _keyed, "keyless bundle": _keyless, "TSA-only bundle": _tsa_only,
         "npm document": _npm, "JSON Lines": _jsonl}

ZEROS = "0" * 40
#: requirement -> (flags added, the checks that answer it in a passing report)
REQUIREMENTS: dict[str, tuple[list[object], tuple[str, ...]]] = {
    "--deny-self-hosted-runners": (["--deny-self-hosted-runners"], ("runner-environment",)),
    "--signer-digest": (["--signer-digest", ZEROS], ("signer-digest",)),
    "--certificate-oidc-issuer-regexp": (["--certificate-oidc-issuer-regexp",
                                          r"https://nobody\.example"],
                                         ("certificate-oidc-issuer",)),
    "--certificate-oidc-issuer": (["--certificate-oidc-issuer", "https://nobody.example"],
                                  ("certificate-oidc-issuer",)),
    "--threshold": (["--key", KEYED / "ecdsa-p256.pub", "--key", KEYED / "ed25519.pub",
                     "--threshold", "2"], ("signature",)),
    "--source-digest": (["--source-digest", ZEROS], ("source-digest",)),
    "--workflow-trigger": (["--workflow-trigger", "nope"], ("workflow-trigger",)),
    "--builder-id": (["--builder-id", "https://nobody.example/builder"], ("builder-id",)),
    "--build-type": (["--build-type", "https://nobody.example/type"], ("build-type",)),
    "--source-uri": (["--source-uri", "github.com/nobody/nothing"], ("source-uri",)),
    "--source-ref": (["--source-ref", "refs/heads/nothing"], ("source-ref",)),
    "--build-workflow-input": (["--build-workflow-input", "nope=1"], ("build-workflow-input",)),
    "--predicate-type": (["--predicate-type", "https://nobody.example/v1"], ("predicate-type",)),
    "--verified-level": (["--verified-level", "SLSA_BUILD_LEVEL_3"], ("verified-level", "vsa")),
    "--npm-publish-key": (["--npm-publish-key", RW / "sg_npm_publish_key.pub"], ("npm-publish",)),
    "--artifact": (["--artifact", KEYED / "artifacts" / "SHA256SUMS"], ("artifact",)),
}


def _command(base: list[object], flags: list[object]) -> list[object]:
    args = list(base)
    for replaced in ("--certificate-oidc-issuer", "--key"):  # the requirement's own value
        if replaced in flags and replaced in args:
            i = args.index(replaced)
            del args[i:i + 2]
    if "--certificate-oidc-issuer-regexp" in flags and "--certificate-oidc-issuer" in args:
        i = args.index("--certificate-oidc-issuer")
        del args[i:i + 2]
    policy = [] if "--predicate-type" in flags else ["--predicate-type", PROVENANCE_V1]
    return ["verify", *args, *policy, *flags, "--format", "json"]


@pytest.mark.parametrize("form", list(FORMS))
def test_each_form_passes_its_base_policy(attest, tmp_path, form, no_network) -> None:
    r = attest(*_command(FORMS[form](tmp_path) if form == "JSON Lines" else FORMS[form](), []))
    assert r.code == 0, r.err
    assert no_network == []


@pytest.mark.parametrize("form", list(FORMS))
def test_every_requirement_is_checked_or_refused(attest, tmp_path, form, no_network) -> None:
    """requirement x document form: "checked" (exit 1, or exit 0 with the check that
    answers it in the report) or "refused" (exit 2 naming it); never "passed unchecked"."""
    base = FORMS[form](tmp_path) if form == "JSON Lines" else FORMS[form]()
    outcomes = {}
    for name, (flags, answers) in REQUIREMENTS.items():
        r = attest(*_command(base, flags))
        if r.code == 2:
            assert name in r.err, (form, name, r.err)
            assert r.err.count("\n") == 1 and "Traceback" not in r.err, r.err
            outcomes[name] = "refused"
        elif r.code == 1:
            assert r.err.startswith("attest: verification FAILED"), (form, name, r.err)
            outcomes[name] = "checked"
        else:
            assert r.code == 0, (form, name, r.err)
            report = r.json()
            checks = [c["check"] for c in report["checks"]]
            if name == "--certificate-oidc-issuer" and form == "JSON Lines":
                # the issuer belongs to the keyless signer, an alternative to the trusted
                # key: the keyed line passes because the key signed it (who signed is asked)
                assert report["attestation"].endswith("line 1"), report
                assert report["checks"][0]["detail"].startswith("signed by "), report
                outcomes[name] = "checked"
                continue
            assert any(c == a or c.startswith(a + " ") or c.startswith("certificate " + a)
                       for c in checks for a in answers), \
                f"{form}: {name} passed unchecked: {checks}"
            outcomes[name] = "checked"
    assert no_network == []
    # what each form can answer, as the requirement model declares it
    keyed_only = {"--threshold"}
    cert_only = {"--deny-self-hosted-runners", "--signer-digest",
                 "--certificate-oidc-issuer-regexp", "--certificate-oidc-issuer"}
    if form == "keyed envelope":
        assert {n for n, o in outcomes.items() if o == "refused"} == \
            cert_only | {"--npm-publish-key"}, outcomes
    elif form in ("keyless bundle", "TSA-only bundle"):
        assert {n for n, o in outcomes.items() if o == "refused"} == \
            keyed_only | {"--npm-publish-key"}, outcomes
    elif form == "npm document":
        assert {n for n, o in outcomes.items() if o == "refused"} == keyed_only, outcomes


def test_the_issue_cases_are_exit_2_naming_the_requirement(attest, no_network) -> None:
    base = ["verify", *_keyed(), "--predicate-type", PROVENANCE_V1]
    for flags in (["--deny-self-hosted-runners"], ["--signer-digest", ZEROS],
                  ["--certificate-oidc-issuer", GHA],
                  ["--certificate-oidc-issuer-regexp", ".*"]):
        r = attest(*base, *flags)
        assert r.code == 2, (flags, r.err)
        assert r.err.startswith(f"attest: error: {flags[0]} needs a keyless signer's "
                                "certificate, but no keyless signer is named"), r.err
    # a keyless signer named too: the keyed envelope still cannot answer it
    r = attest(*base, "--certificate-identity", DELEGATOR, "--certificate-oidc-issuer", GHA,
               "--deny-self-hosted-runners")
    assert r.code == 2
    assert r.err.startswith("attest: error: --deny-self-hosted-runners cannot be checked: "), r.err
    assert "is a keyed DSSE envelope, and --deny-self-hosted-runners needs a keyless " \
        "signer's certificate" in r.err
    # a keyless bundle and a threshold of two keys
    r = attest("verify", *_keyless(), "--predicate-type", PROVENANCE_V1,
               "--key", KEYED / "ecdsa-p256.pub", "--key", KEYED / "ed25519.pub",
               "--threshold", "2")
    assert r.code == 2
    assert "--threshold 2 cannot be checked: " in r.err and "is a keyless Sigstore bundle, " \
        "and --threshold 2 needs signatures by trusted keys" in r.err, r.err


def _policy(tmp: Path, step: str) -> Path:
    p = tmp / "policy.yaml"
    p.write_text(f"steps:\n  stage:\n{step}")
    return p


def test_policy_step_with_keys_and_certificate_requirements_is_refused(attest, tmp_path) -> None:
    (tmp_path / "k.pub").write_bytes((KEYED / "ecdsa-p256.pub").read_bytes())
    policy = _policy(tmp_path, "    keys: [k.pub]\n    deny-self-hosted-runners: true\n")
    r = attest("verify", "--chain", KEYED / "ecdsa-p256.intoto.json", "--policy", policy,
               "--artifact", KEYED / "artifacts" / "kubectl")
    assert r.code == 2, r.err
    assert r.err.startswith(f"attest: error: deny-self-hosted-runners (policy {policy} step "
                            "stage) needs a keyless signer's certificate, but no keyless "
                            "signer is named"), r.err
    release = tmp_path / "release"
    release.mkdir()
    (release / "kubectl").write_bytes((KEYED / "artifacts" / "kubectl").read_bytes())
    (release / "stage.intoto.json").write_bytes((KEYED / "ecdsa-p256.intoto.json").read_bytes())
    r = attest("audit", release, "--policy", policy)
    assert r.code == 2 and "deny-self-hosted-runners (policy" in r.err, r.err
    r = attest("promote", "--image",
               "127.0.0.1:1/a/app@sha256:" + "a" * 64 + "=127.0.0.1:1/b/app:v1",
               "--require-provenance", "require", "--policy", policy)
    assert r.code == 2 and "deny-self-hosted-runners (policy" in r.err, r.err


def test_policy_step_with_keys_and_keyless_signer_refuses_the_keyed_envelope(attest,
                                                                            tmp_path) -> None:
    """The step names a key and a keyless signer; its runner requirement is asked of every
    document, and the keyed envelope (which the key opens) cannot answer it."""
    (tmp_path / "k.pub").write_bytes((KEYED / "ecdsa-p256.pub").read_bytes())
    policy = _policy(tmp_path, f"    keys: [k.pub]\n    certificate-identity: {DELEGATOR}\n"
                     f"    certificate-oidc-issuer: {GHA}\n"
                     "    deny-self-hosted-runners: true\n")
    r = attest("verify", "--chain", KEYED / "ecdsa-p256.intoto.json", "--policy", policy,
               "--artifact", KEYED / "artifacts" / "kubectl")
    assert r.code == 2, r.err
    assert "deny-self-hosted-runners (policy" in r.err and "cannot be checked" in r.err
    assert "is a keyed DSSE envelope" in r.err


def test_signature_pair_refuses_what_it_cannot_answer(attest, tmp_path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    r = attest("verify", "--signature", tmp_path / "a", "--certificate", tmp_path / "a",
               "--artifact", tmp_path / "a", "--certificate-identity", "i",
               "--certificate-oidc-issuer", "u", "--source-uri", "github.com/a/b")
    assert r.code == 2 and "--source-uri does not apply to a signature pair" in r.err


# -- the declarations themselves -----------------------------------------------------------

def test_every_policy_and_certificate_field_is_a_declared_requirement() -> None:
    assert {f.name for f in attrs.fields(Policy)} == set(requirements.POLICY_REQUIREMENTS), \
        "declare each Policy field in POLICY_REQUIREMENTS (attester/verify/requirements.py)"
    assert {f.name for f in attrs.fields(certpolicy.CertPolicy)} == \
        set(requirements.CERTIFICATE_REQUIREMENTS), \
        "declare each CertPolicy field in CERTIFICATE_REQUIREMENTS"


def test_no_form_answers_nothing_and_each_requirement_has_a_form() -> None:
    every = [*requirements.POLICY_REQUIREMENTS.values(),
             *requirements.CERTIFICATE_REQUIREMENTS.values(), requirements.THRESHOLD,
             requirements.NPM_PUBLISH_KEY, requirements.ARTIFACT, requirements.STORE,
             requirements.ISSUER, requirements.NO_ISSUER]
    for r in every:
        assert any(r.evidence & f.evidence for f in requirements.FORMS), r.name
        assert r.checks, r.name


def test_a_passing_report_without_the_answer_is_refused() -> None:
    from attester.verify.checks.policy import Check

    req = requirements.POLICY_REQUIREMENTS["builder_id"]
    requirements.check_answered([req], [Check("builder-id", True, "x")], "a.json")
    requirements.check_answered([req], [Check("#2 builder-id", True, "x")], "a.json")
    with pytest.raises(requirements.UnansweredError) as e:
        requirements.check_answered([req], [Check("signature", True, "x")], "a.json")
    assert e.value.message == "--builder-id was not checked: no evidence in a.json answered it"
    assert e.value.exit_code == 2


# -- the same model from a registry and from GitHub's API -----------------------------------

@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from servers import oci_registry

    with oci_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


def test_registry_path_asks_the_same_model(attest, registry, tmp_path, monkeypatch) -> None:
    """An image whose one attached attestation is a keyed envelope: a runner requirement
    is refused (exit 2), not passed because the key signed it."""
    from test_store_oci import push_image

    monkeypatch.setenv("ATTEST_PASSPHRASE", "pw")
    digest, _ = push_image(registry, "req/app", "v1")
    stmt = json.loads((KEYED / "statement.json").read_text())
    stmt["subject"] = [{"name": f"{registry}/req/app", "digest": {"sha256": digest[7:]}}]
    (tmp_path / "s.json").write_text(json.dumps(stmt))
    assert attest("keygen", "--out", tmp_path / "k").code == 0
    assert attest("sign", tmp_path / "s.json", "--key", tmp_path / "k.key",
                  "-o", tmp_path / "s.intoto.json").code == 0
    r = attest("attach", f"oci://{registry}/req/app:v1", tmp_path / "s.intoto.json")
    assert r.code == 0, r.err
    base = ["verify", f"oci://{registry}/req/app:v1", "--key", tmp_path / "k.pub"]
    r = attest(*base)
    assert r.code == 0, r.err
    r = attest(*base, "--certificate-identity", DELEGATOR, "--certificate-oidc-issuer", GHA,
               "--deny-self-hosted-runners")
    assert r.code == 2, r.err
    assert r.err.startswith(f"attest: error: --deny-self-hosted-runners cannot be checked: "
                            f"oci://{registry}/req/app:v1 (attestation 1 of 1) is a keyed DSSE "
                            "envelope"), r.err


def test_github_api_path_asks_the_same_model(attest, tmp_path, monkeypatch) -> None:
    """A keyless DSSE bundle from GitHub's attestation API, with a threshold of two keys:
    refused (exit 2), not passed on its one keyless signature."""
    import hashlib

    from replay import Replay

    tgz = RW / "npm_sigstore-2.2.0.tgz"
    digest = f"sha256:{hashlib.sha256(tgz.read_bytes()).hexdigest()}"
    with Replay() as api:
        monkeypatch.setenv("GITHUB_API_URL", api.url)
        monkeypatch.setenv("GITHUB_TOKEN", "ghp_requirements0123456789")
        monkeypatch.delenv("GH_TOKEN", raising=False)
        api.json(f"/orgs/sigstore/attestations/{digest}", {"attestations": [{
            "bundle": json.loads((RW / "gh_sigstore.js-3.0.0.bundle.json").read_text()),
            "repository_id": 1, "bundle_url": None}]})
        base = ["verify", "--artifact", tgz, "--trusted-root", ROOT, "--owner", "sigstore"]
        r = attest(*base)
        assert r.code == 0, r.err
        r = attest(*base, "--key", KEYED / "ecdsa-p256.pub", "--key", KEYED / "ed25519.pub",
                   "--threshold", "2")
    assert r.code == 2, r.err
    assert r.err.startswith("attest: error: --threshold 2 cannot be checked: "), r.err
    assert "is a keyless Sigstore bundle, and --threshold 2 needs signatures by trusted " \
        "keys" in r.err


def test_chain_and_promote_signer_flags_ask_the_same_model(attest, tmp_path) -> None:
    """--chain without a policy, and promote's stage signer, refuse a certificate
    requirement that their keys can never answer (exit 2, before anything is read)."""
    r = attest("verify", "--chain", KEYED / "ecdsa-p256.intoto.json", "--key",
               KEYED / "ecdsa-p256.pub", "--artifact", KEYED / "artifacts" / "kubectl",
               "--signer-digest", ZEROS)
    assert r.code == 2
    assert r.err.startswith("attest: error: --signer-digest needs a keyless signer's "
                            "certificate, but no keyless signer is named"), r.err
    r = attest("promote", "--image",
               "127.0.0.1:1/a/app@sha256:" + "a" * 64 + "=127.0.0.1:1/b/app:v1",
               "--require-provenance", "require", "--key", KEYED / "ecdsa-p256.pub",
               "--certificate-oidc-issuer", GHA)
    assert r.code == 2
    assert r.err.startswith("attest: error: --certificate-oidc-issuer needs a keyless "
                            "signer's certificate, but no keyless signer is named"), r.err


def test_a_policy_files_requirement_is_named_as_the_file_says_it() -> None:
    [req] = requirements.of_demands(Policy(builder_id="https://b"), where="policy step stage")
    assert req.shown() == "builder-id (policy step stage)"
    with pytest.raises(requirements.UnansweredError) as e:
        requirements.refuse_unanswerable([req], requirements.FILE_BUNDLE, "a.sigstore.json")
    assert e.value.message.startswith("builder-id (policy step stage) cannot be checked: "
                                      "a.sigstore.json is a Sigstore bundle that signs a file")
    assert e.value.no_statement()
