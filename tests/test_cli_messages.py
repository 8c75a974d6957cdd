"""What the command line says: one line per failure, the right words, the right stream
(issue 18 items 5, 6, 7, 9-13, 15)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT


def test_keygen_prints_two_plain_lines_and_warns_the_key_is_not_encrypted(attest, tmp_path,
                                                                          monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ATTEST_PASSPHRASE", raising=False)
    r = attest("keygen", "--out", "k")
    assert r.code == 0
    assert "\\x0a" not in r.err
    lines = r.err.splitlines()
    assert lines[0] == "wrote k.key (ecdsa-p256, NOT encrypted) and k.pub"
    assert lines[1].startswith("keyid ")
    assert "k.key is not encrypted" in lines[2] and "ATTEST_PASSPHRASE" in lines[2]
    monkeypatch.setenv("ATTEST_PASSPHRASE", "long enough passphrase")
    r = attest("keygen", "--out", "e", "--quiet")
    assert r.code == 0 and r.err == ""


# -- item 6: other tools' names, one line, plain `attest` -----------------------------------

@pytest.mark.parametrize(("typed", "suggested"), [
    (["--public-key", "k.pub"], "did you mean --key?"),
    (["--public-key-path=k.pub"], "did you mean --key?"),
    (["--type", "https://slsa.dev/provenance/v1"], "did you mean --predicate-type?"),
    (["--cert-identity", "me@example.com"], "did you mean --certificate-identity?"),
    (["--cert-identity-regex", "^x"], "did you mean --certificate-identity-regexp?"),
    (["-o", "json"], "did you mean --format json?"),
    (["--custom-trusted-root", "r.json"], "did you mean --trusted-root?"),
])
def test_other_tools_flag_names_get_ours_in_one_line(attest, typed, suggested) -> None:
    r = attest("verify", "att.json", *typed)
    assert r.code == 2
    assert len(r.err.splitlines()) == 1, r.err
    assert r.err.startswith("attest: error: attest verify: unrecognized arguments: ")
    assert r.err.rstrip().endswith(f"({suggested})"), r.err


def test_keygen_type_is_still_keygens_own(attest) -> None:
    r = attest("keygen", "--type", "dsa")
    assert r.code == 2 and "invalid choice: 'dsa'" in r.err and len(r.err.splitlines()) == 1


def test_plain_attest_lists_the_commands(attest) -> None:
    r = attest()
    assert r.code == 2
    assert "commands:" in r.err
    for command in ("keygen", "provenance", "sign", "verify", "audit", "promote"):
        assert f"\n  {command} " in r.err
    assert "verify a signed attestation" in r.err


# -- item 9: a missing extra is one line naming it ------------------------------------------

#: Runs ``attest`` as if the named distributions were not installed: their modules do not
#: import and their metadata is not found, as in an environment without that extra.
_WITHOUT = """
import importlib.abc, importlib.metadata as md, sys
blocked = set(sys.argv[1].split(","))
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Absent())
version = md.version
def absent_version(name):
    if name.replace("-", "_") in blocked:
        raise md.PackageNotFoundError(name)
    return version(name)
md.version = absent_version
from attester.cli import main
sys.exit(main(sys.argv[2:]))
"""


def attest_without(blocked: str, *args, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _WITHOUT, blocked, *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False, cwd=cwd)


@pytest.mark.parametrize("args", [
    ["trusted-root", "-o", "-"],
    ["trusted-root", "--offline", "-o", "-"],
    ["trusted-root", "--instance", "github", "--offline", "-o", "-"],
    ["verify", "testdata/sigstore/rekor2-dsse-happy-path.sigstore.json",
     "--certificate-identity", "x@example.com", "--certificate-oidc-issuer",
     "https://accounts.google.com", "--offline", "--digest", "sha256:" + "a" * 64],
])
def test_a_missing_extra_is_one_line_naming_it(args) -> None:
    r = attest_without("sigstore,sigstore_models,sigstore_protobuf_specs", *args, cwd=ROOT)
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [
        "attest: error: this needs the optional dependency 'sigstore' "
        "(pip install 'attester[sigstore]')"], r.stderr
    assert r.stdout == ""


# -- item 5: verify ARTIFACT --bundle B, --provenance-path P ------------------------------

@pytest.fixture
def signed(attest, repo, monkeypatch):
    """repo's dist/ attested and signed by k.key: (repo, the envelope)."""
    monkeypatch.chdir(repo)
    monkeypatch.delenv("ATTEST_PASSPHRASE", raising=False)
    assert attest("keygen", "--out", "k", "-q").code == 0
    assert attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json",
                  "-q").code == 0
    assert attest("sign", "p.json", "--key", "k.key", "-o", "p.intoto.json", "-q").code == 0
    return repo


@pytest.mark.parametrize("flag", ["--bundle", "-b", "--provenance-path"])
def test_the_artifact_first_with_the_attestation_as_a_flag(attest, signed, flag) -> None:
    r = attest("verify", "dist/bin/kubectl", flag, "p.intoto.json", "--key", "k.pub")
    assert r.code == 0, r.err
    assert "ok  artifact dist/bin/kubectl: matches subject 'bin/kubectl'" in r.out
    r = attest("verify", "dist/bin/kubectl", "dist/kube-apiserver", flag, "p.intoto.json",
               "--key", "k.pub")
    assert r.code == 0, r.err
    assert "ok  artifact dist/kube-apiserver" in r.out
    (signed / "dist" / "bin" / "kubectl").write_bytes(b"tampered\n")
    r = attest("verify", "dist/bin/kubectl", flag, "p.intoto.json", "--key", "k.pub")
    assert r.code == 1 and "digest mismatch" in r.err


def test_an_artifact_named_as_the_attestation_is_said_to_be_one(attest, signed) -> None:
    r = attest("verify", "dist/bin/kubectl", "--key", "k.pub")
    assert r.code == 2
    assert r.err.startswith("attest: error: ATTESTATION dist/bin/kubectl: this looks like the "
                            "artifact, not an attestation")
    assert "--bundle" in r.err and "UTF-8" not in r.err
    (signed / "app.bin").write_bytes(bytes(range(256)))  # not UTF-8 either
    r = attest("verify", "app.bin", "--key", "k.pub")
    assert r.code == 2 and "this looks like the artifact" in r.err


def test_two_positionals_without_bundle_say_how(attest, signed) -> None:
    r = attest("verify", "p.intoto.json", "dist/bin/kubectl", "--key", "k.pub")
    assert r.code == 2
    assert "one ATTESTATION at a time" in r.err and "--bundle" in r.err
    r = attest("verify", "--chain", "p.intoto.json", "--bundle", "p.intoto.json", "--key",
               "k.pub", "--artifact", "dist/bin/kubectl")
    assert r.code == 2 and "does not apply to --chain" in r.err


# -- item 11 and 13: attach takes only what it reads; reversed arguments; unreachable hosts --

def test_attach_takes_no_flag_it_would_not_read(attest) -> None:
    for flag in (["--jobs", "3"], ["--oci-platforms"]):
        r = attest("attach", "oci://127.0.0.1:1/app:v1", "a.intoto.json", *flag)
        assert r.code == 2 and "unrecognized arguments: " + flag[0] in r.err


def test_attach_recognises_reversed_arguments(attest, signed) -> None:
    r = attest("attach", "p.intoto.json", "oci://127.0.0.1:1/app:v1")
    assert r.code == 2
    assert r.err == ("attest: error: the image comes first: attest attach oci://REF "
                     "ATTESTATION (attest attach oci://127.0.0.1:1/app:v1 p.intoto.json)\n")


def test_an_unreachable_registry_is_named_with_the_reason(attest, signed, monkeypatch) -> None:
    import socket

    monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.01")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = attest("attach", f"oci://127.0.0.1:{port}/app:v1", "p.intoto.json")
    assert r.code == 2
    assert r.err == (f"attest: error: oci://127.0.0.1:{port}/app:v1: cannot reach registry "
                     f"127.0.0.1:{port}: connection refused (nothing listens there)\n")
    assert "ConnectionError" not in r.err


# -- item 15: local:// needs a commit, and a dirty tree is noted ---------------------------

def test_a_dirty_tree_is_noted_when_recorded(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    r = attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json")
    assert r.code == 0 and "dirty" not in r.err
    (repo / "main.go").write_text("package main // changed\n")
    r = attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json", "-q")
    assert r.code == 0
    assert r.err == ("attest: note: local://: the working tree has uncommitted changes; "
                     "recorded as dirty (workingTreeClean: false): the artifacts may not be "
                     "what the commit builds\n")


def test_local_needs_a_checkout_with_a_commit_and_help_says_so(attest, tmp_path,
                                                               monkeypatch) -> None:
    from conftest import git

    monkeypatch.chdir(tmp_path)
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "a").write_text("a")
    r = attest("provenance", "local://", "--artifacts", "file://dist")
    assert r.code == 2 and "is not inside a git checkout" in r.err
    git(tmp_path, "init", "-q", "-b", "main")
    r = attest("provenance", "local://", "--artifacts", "file://dist")
    assert r.code == 2 and "has no commit yet" in r.err
    from attester.cli import _subcommands, build_parser

    text = " ".join(_subcommands(build_parser())["provenance"].format_help().split())
    assert "local:// (the current git checkout: it needs git and at least one commit;" in text


# -- item 12: policy files say every problem, with the closest name ------------------------

def test_policy_errors_name_the_closest_key_and_show_every_problem(attest, signed) -> None:
    (signed / "p.yaml").write_text("steps:\n  stage: {key: [k.pub], buildtype: x, "
                                   "source-uri: 3}\n")
    r = attest("verify", "--chain", "p.intoto.json", "--policy", "p.yaml", "--artifact",
               "dist/bin/kubectl")
    assert r.code == 2
    assert r.err == (
        "attest: error: policy p.yaml: steps/stage: unknown key 'key' (did you mean 'keys'?); "
        "steps/stage: unknown key 'buildtype' (did you mean 'build-type'?); steps/stage: names "
        "no signer (keys, certificate-identity or -regexp with certificate-oidc-issuer, owner "
        "or repo); steps/stage/source-uri: 3 is not of type 'string' (reference: "
        "docs/policy.md)\n")
    assert "(and 1 more)" not in r.err and "Additional properties" not in r.err


def test_a_wrong_step_name_lists_the_steps(attest, signed) -> None:
    (signed / "p.yaml").write_text("steps:\n  publish: {keys: [k.pub]}\n")
    r = attest("audit", "dist", "--policy", "p.yaml")
    assert r.code == 2
    assert "unknown step 'publish' (allowed: stage, release, promotion)" in r.err
    (signed / "p.yaml").write_text("steps:\n  staging: {keys: [k.pub]}\n")
    r = attest("audit", "dist", "--policy", "p.yaml")
    assert "unknown step 'staging' (did you mean 'stage'?)" in r.err


def test_every_policy_flag_help_points_to_the_reference(attest) -> None:
    from attester.cli import _subcommands, build_parser

    subs = _subcommands(build_parser())
    for command in ("verify", "audit", "promote"):
        text = " ".join(subs[command].format_help().split())
        assert "(reference: docs/policy.md)" in text, command
    assert (ROOT / "docs" / "policy.md").is_file()


# -- item 7: the verified content is printed ----------------------------------------------

SIGSTORE_JS = ["verify", "testdata/interop/realworld/sg_sigstore.js@2.0.0-provenance.sigstore.json",
               "--artifact", "testdata/interop/realworld/npm_sigstore-2.0.0.tgz",
               "--certificate-identity-regexp", "^https://github.com/sigstore/sigstore-js/.*",
               "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
               "--trusted-root", "testdata/interop/sigstore/trusted_root.sigstore-production.json",
               "--offline"]


def test_json_carries_the_verified_statement_and_its_signer(attest, monkeypatch) -> None:
    import json

    from attester.model import schemas

    monkeypatch.chdir(ROOT)
    r = attest(*SIGSTORE_JS, "--format", "json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert schemas.errors(report, "verification-report.schema.json") == []
    assert report["statement"]["subject"][0]["name"] == "pkg:npm/sigstore@2.0.0"
    signer = report["signer"]
    assert signer["kind"] == "certificate"
    assert signer["identity"] == ("https://github.com/sigstore/sigstore-js/.github/workflows/"
                                  "release.yml@refs/heads/main")
    assert signer["issuer"] == "https://token.actions.githubusercontent.com"
    assert signer["extensions"]["sourceRepositoryURI"] == "https://github.com/sigstore/sigstore-js"
    assert signer["signedAt"] == "2023-08-18T16:05:35Z"
    assert signer["timeSource"] == "transparency log"


def test_json_and_print_statement_show_nothing_that_did_not_verify(attest, signed) -> None:
    import json

    r = attest("verify", "p.intoto.json", "--key", "k.pub", "--artifact", "dist/bin/kubectl",
               "--format", "json")
    assert r.code == 0
    report = json.loads(r.out)
    assert report["signer"] == {"kind": "key", "keyids": report["signer"]["keyids"],
                                "keys": ["k.pub"]}
    assert report["statement"] == json.loads((signed / "p.json").read_text())
    r = attest("verify", "p.intoto.json", "--key", "k.pub", "--artifact", "dist/bin/kubectl",
               "--print-statement")
    assert r.code == 0
    assert json.loads(r.out) == json.loads((signed / "p.json").read_text())
    assert "ok  artifact dist/bin/kubectl" in r.err  # the report, off stdout
    (signed / "dist" / "bin" / "kubectl").write_bytes(b"tampered\n")
    r = attest("verify", "p.intoto.json", "--key", "k.pub", "--artifact", "dist/bin/kubectl",
               "--print-statement")
    assert r.code == 1 and r.out == ""
    r = attest("verify", "p.intoto.json", "--key", "k.pub", "--artifact", "dist/bin/kubectl",
               "--format", "json")
    report = json.loads(r.out)
    assert r.code == 1 and "statement" not in report and "signer" not in report
    r = attest("verify", "p.intoto.json", "--key", "k.pub", "--artifact", "dist/bin/kubectl",
               "--format", "json", "--print-statement")
    assert r.code == 2 and "contradict" in r.err


# -- item 13: the rest of the list ---------------------------------------------------------

def test_json_is_printed_on_exit_2_too(attest, signed) -> None:
    import json

    r = attest("verify", "nope.json", "--key", "k.pub", "--artifact", "x", "--format", "json")
    assert r.code == 2
    assert json.loads(r.out) == {"verified": False, "exitCode": 2,
                                 "error": "attestation nope.json: no such file"}
    assert r.err == "attest: error: attestation nope.json: no such file\n"
    r = attest("verify", "p.intoto.json", "--key", "k.pub", "--format=json")  # empty policy
    assert r.code == 2 and json.loads(r.out)["error"].startswith("empty policy")
    r = attest("verify", "p.intoto.json", "--keys", "k.pub", "--format", "json")  # usage
    assert r.code == 2 and "did you mean --key?" in json.loads(r.out)["error"]
    r = attest("verify", "p.intoto.json", "--key", "k.pub", "--artifact", "x")  # text: stderr
    assert r.code == 2 and r.out == ""


def test_an_empty_value_is_a_usage_error(attest, signed) -> None:
    r = attest("verify", "p.intoto.json", "--key", "k.pub", "--source-uri", "")
    assert r.code == 2
    assert r.err.startswith("attest: error: --source-uri is empty: give it a value")
    r = attest("verify", "p.intoto.json", "--key", "k.pub", "--artifact", "")
    assert r.code == 2 and "--artifact is empty" in r.err


def test_an_empty_folder_is_named_not_asked_for(attest, signed) -> None:
    (signed / "empty").mkdir()
    r = attest("provenance", "local://", "--artifacts", "file://empty")
    assert r.code == 2
    assert r.err == ("attest: error: no subjects: file://empty holds no files (is the build's "
                     "output somewhere else?)\n")
    assert "pass --artifacts" not in r.err


def test_download_and_upload_take_quiet() -> None:
    from attester.cli import _subcommands, build_parser

    subs = _subcommands(build_parser())
    for command in ("download", "upload"):
        assert "--quiet" in subs[command].format_help()


def test_the_progress_meter_uses_a_unit_that_fits(attest) -> None:
    from attester.hashing import size_text

    assert size_text(1200, 4500) == "1.2/4.5 kB"
    assert size_text(12, 900) == "12/900 bytes"
    assert size_text(3_000_000, 12_500_000) == "3.0/12.5 MB"
    assert size_text(10**9, 2 * 10**9) == "1.0/2.0 GB"


def test_promote_to_a_file_says_what_it_wrote_and_the_gate(attest, signed) -> None:
    import hashlib

    (signed / "prod").mkdir()
    digest = hashlib.sha256((signed / "dist" / "kube-apiserver").read_bytes()).hexdigest()
    import shutil

    shutil.copy(signed / "dist" / "kube-apiserver", signed / "prod" / "kube-apiserver")
    (signed / "fp.yaml").write_text(f"filestores:\n- base: file://{signed}/dist\n  src: true\n"
                                    f"- base: file://{signed}/prod\n")
    (signed / "files.yaml").write_text(f"files:\n- name: kube-apiserver\n  sha256: {digest}\n")
    r = attest("promote", "--manifest", "fp.yaml", "--files", "files.yaml", "-o", "promo.json")
    assert r.code == 0, r.err
    assert r.err == ("wrote promo.json: 1 promotion statement(s); no provenance gate "
                     "(--require-provenance off)\n")
    r = attest("promote", "--manifest", "fp.yaml", "--files", "files.yaml", "-o", "promo.json",
               "--require-provenance", "require", "--key", "k.pub", "--provenance",
               "p.intoto.json")
    assert r.code == 0, r.err
    assert r.err.endswith("wrote promo.json: 1 promotion statement(s); provenance gate passed: "
                          "every staging artifact's attestation verified (--require-provenance "
                          "require)\n")


def test_a_text_report_is_on_stdout_pass_or_fail(attest, signed) -> None:
    """verify, like audit, prints its report on stdout whatever the verdict; the failed
    checks are also on stderr, one line each; a command that makes a document (promote,
    sign) prints nothing on stdout when it fails."""
    r = attest("verify", "p.intoto.json", "--key", "k.pub", "--artifact", "dist/bin/kubectl")
    assert r.code == 0 and r.out.startswith("verified p.intoto.json\n")
    (signed / "dist" / "bin" / "kubectl").write_bytes(b"tampered\n")
    r = attest("verify", "p.intoto.json", "--key", "k.pub", "--artifact", "dist/bin/kubectl")
    assert r.code == 1
    assert r.out.startswith("verification FAILED for p.intoto.json\n  ok  signature: ")
    assert "  FAIL  artifact dist/bin/kubectl: digest mismatch" in r.out
    assert r.err.splitlines() == [line for line in r.err.splitlines()
                                  if line.startswith("attest: verification FAILED for ")]
    assert len(r.err.splitlines()) == r.out.count("  FAIL  ")


def test_quiet_verify_says_it_with_the_exit_code(attest, signed) -> None:
    base = ["verify", "p.intoto.json", "--key", "k.pub", "--artifact", "dist/bin/kubectl"]
    r = attest(*base, "--quiet")
    assert (r.code, r.out, r.err) == (0, "", "")
    r = attest(*base, "-q", "--format", "json")
    assert r.code == 0 and '"verified": true' in r.out  # asked for: printed all the same
    (signed / "dist" / "bin" / "kubectl").write_bytes(b"tampered\n")
    r = attest(*base, "-q")
    assert r.code == 1 and r.out == ""
    assert r.err.startswith("attest: verification FAILED for p.intoto.json: artifact ")
