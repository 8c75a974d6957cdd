"""Every example in every ``--help`` runs, pasted as written, in a project folder.

The folder is a git checkout (``local://`` needs one) holding ``dist/`` (a copy of
testdata/dist), ``testdata`` (the repository's), and what the release flow of ``attest
--help`` writes. Examples that need a service (a registry, GitHub's API) run until they
reach for it: the test asserts they fail only for want of that service, never on usage.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from attester.cli import build_parser

from conftest import ROOT, git

#: Examples that need something this folder cannot hold: why, the exit code, and what the
#: message must say (so a usage error can never pass for the missing service).
NEEDS = {
    "attest attach oci://": ("a registry", 2, "registry.example"),
    "attest verify oci://": ("a registry", 2, "registry.example"),
    "attest download ": ("GitHub's attestation API", 2, "api.github.com"),
    "attest upload ": ("GitHub's attestation API", 2, "api.github.com"),
    "attest promote --manifest promoter": ("kpromo manifests and registries", 2,
                                           "promoter-manifest.yaml"),
    "attest promote --manifest filepromoter": ("kpromo manifests and buckets", 2,
                                               "filepromoter-manifest.yaml"),
}

#: Lines under an "example:" or "examples ...:" heading, indented by two spaces.
_HEADING = re.compile(r"^examples?\b.*:$")


def examples(help_text: str) -> list[str]:
    """The example command lines of one help text, continuation lines joined."""
    out: list[str] = []
    lines = help_text.splitlines()
    inside = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _HEADING.match(line):
            inside = True
        elif inside and line.startswith("  ") and not line.startswith("   "):
            cmd = line.strip()
            while cmd.endswith("\\"):
                i += 1
                cmd = cmd[:-1].rstrip() + " " + lines[i].strip()
            out.append(cmd)
        elif inside and line.strip() and not line.startswith("  "):
            inside = False
        i += 1
    return out


def helps() -> dict[str, str]:
    """Each command's --help text (the top level under '')."""
    parser = build_parser()
    out = {"": parser.format_help()}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            out.update({name: p.format_help() for name, p in action.choices.items()})
    return out


def sh(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ATTEST_PASSPHRASE", "STORAGE_EMULATOR_HOST", "GITHUB_TOKEN",
                        "GH_TOKEN", "VIRTUAL_ENV")}
    env["PATH"] = f"{os.path.dirname(sys.executable)}:{env.get('PATH', '')}"
    # No network: every HTTP client goes through a proxy that is not there.
    dead = "http://127.0.0.1:9"
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead,
               NO_PROXY="", no_proxy="", COLUMNS="100", ATTEST_RETRY_BASE_DELAY="0.01")
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def checkout(where: Path) -> Path:
    where.mkdir()
    shutil.copytree(ROOT / "testdata" / "dist", where / "dist")
    (where / "testdata").symlink_to(ROOT / "testdata")
    git(where, "init", "-q", "-b", "main")
    git(where, "remote", "add", "origin", "https://github.com/example/project.git")
    git(where, "add", "dist")
    git(where, "commit", "-q", "-m", "v1.31.0")
    return where


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A checkout after the release flow of ``attest --help``, plus a staged release."""
    where = checkout(tmp_path_factory.mktemp("help") / "project")
    for cmd in examples(helps()[""]):
        r = sh(cmd, where)
        assert r.returncode == 0, f"{cmd}\n{r.stderr}"
    prep = """set -e
    attest keygen --out stage -q
    cp stage.pub stage-copy.pub
    attest provenance local:// --step stage --build-version v1.31.0 --artifacts file://dist -q \\
        -o stage.json
    attest sign stage.json --key stage.key -o stage.intoto.json -q
    mkdir v1.31.0 && cp dist/bin/kubectl stage.intoto.json v1.31.0/
    printf 'steps:\\n  stage: {keys: [stage.pub]}\\n' > policy.yaml
    cp testdata/sigstore/rekor2-dsse-happy-path.sigstore.json prov.sigstore.json
    """
    r = sh(prep, where)
    assert r.returncode == 0, r.stderr
    return where


def test_the_examples_are_found() -> None:
    found = {name: examples(text) for name, text in helps().items()}
    assert len(found[""]) == 4 and found[""][0].startswith("attest keygen")
    assert len(found["verify"]) >= 4
    missing = [name for name, cmds in found.items() if not cmds]
    assert missing == [], f"commands without an example in --help: {missing}"
    for cmds in found.values():
        assert all("\\" not in c for c in cmds)


def test_the_release_flow_of_attest_help_runs(tmp_path) -> None:
    where = checkout(tmp_path / "project")
    for cmd in examples(helps()[""]):
        r = sh(cmd, where)
        assert r.returncode == 0, f"{cmd}\n{r.stderr}"
    assert "ok  artifact dist/bin/kubectl" in r.stdout


@pytest.mark.parametrize("command", sorted(set(helps()) - {""}))
def test_every_example_of_command_help_runs(project, tmp_path, command) -> None:
    where = tmp_path / "project"
    shutil.copytree(project, where, symlinks=True)
    cmds = examples(helps()[command])
    for cmd in cmds:
        r = sh(cmd, where)
        need = next((v for k, v in NEEDS.items() if cmd.startswith(k)), None)
        if need is None:
            assert r.returncode == 0, f"{cmd}\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr}"
            assert "error" not in r.stderr, r.stderr
            continue
        why, code, needle = need
        assert (r.returncode, needle in r.stderr) == (code, True), \
            f"{cmd} (needs {why}) failed otherwise:\n{r.stderr}"
        assert "usage" not in r.stderr.lower() and "internal error" not in r.stderr, r.stderr


def test_every_verify_option_is_in_a_group_of_what_it_checks() -> None:
    """verify --help lists options by what they check (signer, trust, source, build,
    subjects, output, documents): a new flag lands in one of those groups, not in the
    catch-all 'options'."""
    from attester.cli import _subcommands
    from attester.cli.verify_options import GROUPS

    verify = _subcommands(build_parser())["verify"]
    titles = {g.title: g for g in verify._action_groups}
    assert set(GROUPS.values()) <= set(titles)
    loose = [a.option_strings for a in titles["options"]._group_actions if a.dest != "help"]
    assert loose == [], f"verify flags in no group of what they check: {loose}"
