"""The command line as a newcomer meets it: help for every option, --debug anywhere,
mistyped flags answered with the subcommand's usage and the flag that was meant."""

from __future__ import annotations

import argparse

import pytest

from attester.cli import _subcommands, build_parser

from conftest import on_terminal


def _every_action() -> list[tuple[str, argparse.Action]]:
    parser = build_parser()
    out = [("attest", a) for a in parser._actions]
    for name, sub in _subcommands(parser).items():
        out.extend((f"attest {name}", a) for a in sub._actions)
    return out


def test_every_option_of_every_subcommand_has_help() -> None:
    actions = _every_action()
    commands = {c for c, _ in actions}
    assert {"attest verify", "attest promote", "attest audit", "attest sign"} <= commands
    missing = [f"{c} {'/'.join(a.option_strings) or a.dest}" for c, a in actions
               if not isinstance(a, argparse._SubParsersAction)
               and (not a.help or a.help == argparse.SUPPRESS or not a.help.strip())]
    assert missing == []


def test_provenance_help_names_the_extra_of_each_remote_store(attest, capsys) -> None:
    with pytest.raises(SystemExit):
        attest("provenance", "--help")
    epilog = capsys.readouterr().out.split("sources:", 1)[1]
    lines = [line.removeprefix("sources:").removeprefix("stores:").strip()
             for line in epilog.splitlines()]
    for scheme, extra in [("gs://", "[gcs]"), ("github-release://", "[github]"),
                          ("github-artifacts://", "[github]"), ("github://", "[github]"),
                          ("cloudbuild://", "[cloudbuild]")]:
        line = next(line for line in lines if line.startswith(scheme))
        assert extra in line, line


def test_debug_is_accepted_after_the_subcommand(attest, tmp_path) -> None:
    for argv in (["--debug", "verify"], ["verify", "--debug"]):
        r = attest(*argv, tmp_path / "nope.json", "--key", tmp_path / "k.pub",
                   "--artifact", tmp_path / "a")
        assert r.code == 2
        assert "Traceback" in r.err and r.err.rstrip().endswith("no such file")
    r = attest("verify", tmp_path / "nope.json", "--key", tmp_path / "k.pub",
               "--artifact", tmp_path / "a")
    assert "Traceback" not in r.err


def test_usage_errors_never_print_a_traceback_even_with_debug(attest) -> None:
    r = attest("verify", "--debug", "--no-such-flag")
    assert r.code == 2 and "Traceback" not in r.err


def test_mistyped_flag_is_one_line_with_the_suggestion(attest) -> None:
    r = attest("verify", "prov.intoto.json", "--keys", "release.pub")
    assert r.code == 2
    assert r.err == ("attest: error: attest verify: unrecognized arguments: --keys "
                     "release.pub (did you mean --key?)\n")
    r = attest("sign", "s.json", "--keyz=a.key", "--outptu", "x")
    assert len(r.err.splitlines()) == 1
    assert "(--keyz: did you mean --key?; --outptu: did you mean --output?)" in r.err
    r = attest("audit", "dir", "--policy", "p.yaml", "--zzzzzz")
    assert r.err.rstrip().endswith("unrecognized arguments: --zzzzzz (see 'attest audit --help')")
    r = attest("verify", "prov.intoto.json", "--debgu")
    assert r.err.rstrip().endswith("unrecognized arguments: --debgu (did you mean --debug?)")


# -- progress and status lines ----------------------------------------------------------

def test_long_commands_show_progress_on_a_terminal_and_quiet_silences_them(attest, repo,
                                                                          monkeypatch) -> None:
    monkeypatch.chdir(repo)
    assert attest("keygen", "--type", "ed25519", "--out", "k").code == 0
    import hashlib
    import shutil

    shutil.copytree(repo / "dist", repo / "prod")
    (repo / "fp.yaml").write_text(f"filestores:\n- base: file://{repo}/dist\n  src: true\n"
                                  f"- base: file://{repo}/prod\n")
    (repo / "files.yaml").write_text("files:\n- name: kube-apiserver\n  sha256: " +
                                     hashlib.sha256(b"apiserver\n" * 1000).hexdigest() + "\n")
    steps = [
        (["provenance", "local://", "--artifacts", "file://dist", "-o", "p.json"],
         ["hashing 2/2 files", "wrote p.json: 2 subject(s), predicate "
          "https://slsa.dev/provenance/v1"]),
        (["start", "--artifacts", "file://dist", "-o", "before.json"],
         ["hashing 2/2 files", "wrote before.json: recorded 2 existing artifact(s) in 1 "
          "store(s)"]),
        (["sign", "p.json", "--key", "k.key", "-o", "p.intoto.json"],
         ["wrote p.intoto.json: DSSE envelope, 1 signature(s) (keyid "]),
        (["verify", "p.intoto.json", "--key", "k.pub", "--artifact", "dist/kube-apiserver"],
         ["hashing 1/1 files"]),
        (["verify", "p.intoto.json", "--key", "k.pub", "--artifacts", "file://dist"],
         ["hashing 2/2 files"]),
        (["verify", "--chain", "p.intoto.json", "--key", "k.pub", "--artifact",
          "dist/kube-apiserver"], ["hashing 1/1 files"]),
        (["promote", "--manifest", "fp.yaml", "--files", "files.yaml", "-o", "promo/"],
         ["resolving 2/2 files", "wrote 1 promotion statement(s) to promo/"]),
    ]
    for cmd, expected in steps:
        code, shown = on_terminal(cmd, repo)
        assert code in (0, 1), (cmd, shown)
        for text in expected:
            assert text in shown, (cmd, shown)
        code_q, quiet = on_terminal([*cmd, "--quiet"], repo)
        assert code_q == code
        assert "hashing" not in quiet and "wrote" not in quiet, (cmd, quiet)
    (repo / "release").mkdir()
    shutil.copy(repo / "dist" / "kube-apiserver", repo / "release")
    shutil.copy(repo / "p.intoto.json", repo / "release")
    (repo / "policy.yaml").write_text("steps:\n  release: {keys: [k.pub]}\n")
    cmd = ["audit", "release", "--policy", "policy.yaml", "--format", "json", "-o", "a.json"]
    code, shown = on_terminal(cmd, repo)
    assert "hashing 1/1 files" in shown and "wrote a.json: 1 artifact(s), " in shown, shown
    code_q, quiet = on_terminal([*cmd, "--quiet"], repo)
    assert code_q == code and "hashing" not in quiet and "wrote" not in quiet


def test_status_lines_name_the_file_in_pipes_too(attest, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    assert attest("keygen", "--type", "ed25519", "--out", "k").code == 0
    r = attest("provenance", "local://", "--artifacts", "file://dist", "-o", "p.json")
    assert r.err == "wrote p.json: 2 subject(s), predicate https://slsa.dev/provenance/v1\n"
    r = attest("provenance", "local://", "--artifacts", "file://dist")
    assert r.err == "" and r.json()["subject"]  # to stdout: the document is the message
    r = attest("sign", "p.json", "--key", "k.key", "-o", "p.intoto.json", "-q")
    assert r.code == 0 and r.err == ""


def test_mistyped_command_or_choice_gets_the_closest_one(attest) -> None:
    r = attest("verfy", "x.json")
    assert r.code == 2 and r.err.rstrip().endswith("(did you mean 'verify'?)")
    r = attest("verify", "x.json", "--format", "jsn")
    assert len(r.err.splitlines()) == 1
    assert r.err.rstrip().endswith("invalid choice: 'jsn' (choose from 'text', 'json') "
                                   "(did you mean 'json'?)")


def test_trusted_root_status_line_obeys_quiet(attest, tmp_path) -> None:
    r = attest("trusted-root", "--instance", "github", "-o", tmp_path / "gh.json")
    assert r.code == 0 and r.err.startswith(f"wrote the github trusted root to {tmp_path}")
    assert "0 transparency log(s)" in r.err
    r = attest("trusted-root", "--instance", "github", "-o", tmp_path / "gh2.json", "--quiet")
    assert r.code == 0 and r.err == ""
    assert (tmp_path / "gh2.json").read_bytes() == (tmp_path / "gh.json").read_bytes()


def test_the_console_entry_flushes_everything_and_keeps_the_exit_code(tmp_path,
                                                                     monkeypatch) -> None:
    """``entry`` leaves with os._exit (no interpreter teardown): what the command printed
    must still arrive whole, through a pipe, with main's exit code."""
    import os
    import subprocess
    import sys

    monkeypatch.setenv("COLUMNS", "100")
    full = subprocess.run([sys.executable, "-m", "attester", "verify", "--help"],
                          capture_output=True, text=True, check=False, timeout=60,
                          env={**os.environ, "COLUMNS": "100"})
    assert full.returncode == 0, full.stderr
    assert full.stdout == build_parser(only="verify")._subparsers._group_actions[  # type: ignore[union-attr]
        0].choices["verify"].format_help()
    missing = subprocess.run([sys.executable, "-m", "attester", "verify",
                              str(tmp_path / "absent.json"), "--key", str(tmp_path / "k.pub")],
                             capture_output=True, text=True, check=False, timeout=60)
    assert missing.returncode == 2, missing.stderr
    assert missing.stderr.startswith("attest: error: ") and missing.stderr.endswith("\n")


def test_a_named_command_builds_only_its_own_parser() -> None:
    """``attest verify ...`` imports and registers verify alone; help and typos get all."""
    assert list(_subcommands(build_parser(only="verify"))) == ["verify"]
    assert list(_subcommands(build_parser(only="trusted-root"))) == ["trusted-root"]
    assert len(_subcommands(build_parser(only="verfy"))) == 12
    assert len(_subcommands(build_parser())) == 12
