"""Issue 16.1 (flags): which ``attest verify`` flags each mode takes is one declared table
(attester/cli/verify_modes.py), checked in one place; a flag that is not declared fails here."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from attester.cli import _subcommands, build_parser, parse_args
from attester.cli import verify_modes as vm
from attester.errors import UsageError

#: A command line of each mode that passes the table's check as it is.
BASE: dict[vm.Mode, list[str]] = {
    vm.Mode.FILE: ["verify", "att.json", "--key", "k.pub", "--key", "k2.pub"],
    vm.Mode.OCI: ["verify", "oci://127.0.0.1:1/app:v1", "--key", "k.pub", "--key", "k2.pub"],
    vm.Mode.GITHUB: ["verify", "--owner", "example", "--artifact", "a.tgz", "--key", "k.pub",
                     "--key", "k2.pub"],
    vm.Mode.PAIR: ["verify", "--signature", "a.sig", "--certificate", "a.cert",
                   "--artifact", "a.tgz"],
    vm.Mode.CHAIN: ["verify", "--chain", "c.json", "--artifact", "a.tgz", "--key", "k.pub",
                    "--key", "k2.pub"],
    vm.Mode.CHAIN_POLICY: ["verify", "--chain", "c.json", "--policy", "p.yaml",
                           "--artifact", "a.tgz"],
    vm.Mode.PYPI: ["verify", "pypi://sampleproject/4.0.0", "--publisher", "github:o/r"],
    vm.Mode.BATCH: ["verify", "--artifacts", "file://dist", "--attestations", "dist",
                    "--key", "k.pub", "--key", "k2.pub"],
}
#: Flags that choose the mode: tested on their own below.
MODE_FLAGS = ("attestation", "chain", "policy", "signature", "certificate", "attestations",
              "bundle")
VALUES = {"threshold": "2", "jobs": "3", "limit": "3", "format": "json", "policy_mode": "warn",
          "rekor_url": "https://rekor.example"}
#: Flags a mode takes only with a keyless signer (the base lines name --key): tried with
#: a certificate identity instead of the keys.
KEYLESS_ONLY = ("rekor_url",)
KEYLESS = ["--certificate-identity", "i", "--certificate-oidc-issuer", "u"]


def _actions() -> list[argparse.Action]:
    verify = _subcommands(build_parser())["verify"]
    return [a for a in verify._actions if a.dest != "help"]


def _argv(base: list[str], action: argparse.Action) -> list[str]:
    flag = max(action.option_strings, key=len)
    value = VALUES.get(action.dest, "x")
    return [*base, flag] if action.nargs == 0 else [*base, flag, value]


def test_every_verify_flag_is_declared_in_the_mode_table() -> None:
    missing = [max(a.option_strings, key=len, default=a.dest) for a in _actions()
               if a.dest not in vm.VERIFY_FLAGS]
    assert not missing, (
        f"attest verify {', '.join(missing)}: not declared. Add one line per flag to "
        "VERIFY_FLAGS in attester/cli/verify_modes.py, e.g. "
        "'\"my_flag\": Takes(ONE, why=\"...\"),' naming the modes that take it "
        "(FILE, OCI, GITHUB, PAIR, CHAIN, CHAIN_POLICY)")
    stale = set(vm.VERIFY_FLAGS) - {a.dest for a in _actions()}
    assert not stale, f"VERIFY_FLAGS declares flags verify does not have: {stale}"
    for dest, takes in vm.VERIFY_FLAGS.items():
        assert {*takes.needs, *takes.excludes} <= set(vm.VERIFY_FLAGS), dest
        if takes.modes != vm.ALL:
            assert takes.why or dest in MODE_FLAGS, f"{dest}: say why the other modes refuse it"


def test_each_base_command_line_is_its_mode() -> None:
    for mode, argv in BASE.items():
        assert vm.check(parse_args(argv)) == mode


@pytest.mark.parametrize("mode", list(BASE), ids=lambda m: m.name)
def test_every_flag_is_taken_or_refused_as_declared(mode: vm.Mode) -> None:
    for action in _actions():
        if action.dest in MODE_FLAGS:
            continue
        takes = vm.VERIFY_FLAGS[action.dest]
        needs = [max(b.option_strings, key=len) for b in _actions() if takes.needs and
                 b.dest == takes.needs[0]]
        base = BASE[mode]
        if action.dest in KEYLESS_ONLY and "--key" in base:
            base = [a for i, a in enumerate(base) if a != "--key" and base[i - 1] != "--key"]
            base += KEYLESS
        argv = _argv(base, action)
        if needs:
            argv = [*argv, needs[0]] + ([] if needs[0] in ("--vsa-keyless",) else ["x"])
            if needs[0] == "--vsa-out" and action.dest != "vsa_key":
                argv += ["--vsa-keyless"]
        if action.dest == "vsa_trust_config":
            argv += ["--vsa-out", "x"]
        args: Any = parse_args(argv)
        flag = max(action.option_strings, key=len)
        if takes.modes & mode:
            try:
                assert vm.check(args) == mode
            except UsageError as e:
                pytest.fail(f"{mode.name} takes {flag}, but: {e.message}")
        else:
            with pytest.raises(UsageError) as e:
                vm.check(args)
                pytest.fail(f"{mode.name} does not take {flag}, but it was not refused")
            added = [a for a in argv[len(base):] if a.startswith("--")]
            said = {f"{f} does not apply to {vm.MODE_TEXT[mode]}" for f in added}
            assert e.value.message in said, argv


@pytest.mark.parametrize(("argv", "message"), [
    (["verify", "a.json", "--key", "k", "--require-complete"],
     "--require-complete needs --artifacts"),
    (["verify", "a.json", "--key", "k", "--vsa-out", "v.json"],
     "--vsa-out needs --vsa-key or --vsa-keyless"),
    (["verify", "a.json", "--key", "k", "--vsa-keyless"], "--vsa-keyless needs --vsa-out"),
    (["verify", "a.json", "--key", "k", "--vsa-out", "v", "--vsa-key", "k",
      "--vsa-trust-config", "t"], "--vsa-trust-config needs --vsa-keyless"),
    (["verify", "a.json", "--key", "k", "--rekor-url", "https://r", "--offline"],
     "--rekor-url and --offline contradict each other: give one"),
    (["verify", "a.json", "--certificate-identity", "i", "--certificate-oidc-issuer", "u",
      "--no-certificate-oidc-issuer"],
     "--no-certificate-oidc-issuer and --certificate-oidc-issuer contradict each other"),
    (["verify", "a.json", "--key", "k", "--threshold", "2"],
     "--threshold 2 must be between 1 and the number of --key given (1)"),
    (["verify", "oci://r/a:v1", "--key", "k", "--limit", "0"], "--limit 0 must be at least 1"),
    (["verify", "--key", "k"], "name the attestation to verify"),
])
def test_needs_excludes_and_values_are_checked_in_the_table(argv, message) -> None:
    with pytest.raises(UsageError) as e:
        vm.check(parse_args(argv))
    assert e.value.message.startswith(message), e.value.message


@pytest.mark.parametrize(("argv", "message"), [
    (["verify", "a.json", "--key", "k.pub", "--limit", "5"],
     "--limit does not apply to an attestation file"),
    # one attestation file may pass a policy file's step (issue 19), which names its signer
    (["verify", "a.json", "--key", "k.pub", "--policy", "p.yaml"],
     "--policy and --key contradict each other"),
    (["verify", "oci://r.example/a:1", "--key", "k.pub", "--policy", "p.yaml"],
     "--policy does not apply to verify oci://"),
    (["verify", "--signature", "s", "--certificate", "c", "--artifact", "a", "--key", "k.pub"],
     "--key does not apply to a signature pair"),
    (["verify", "--signature", "s", "--certificate", "c", "--artifact", "a",
      "--builder-id", "b"], "--builder-id does not apply to a signature pair"),
    (["verify", "--owner", "o", "--artifact", "a", "--npm-publish-key", "k"],
     "--npm-publish-key does not apply to attestations from GitHub's API (no ATTESTATION)"),
    (["verify", "a.json", "--chain", "c.json", "--artifact", "a", "--key", "k"],
     "ATTESTATION does not apply to --chain"),
    (["verify", "--chain", "c", "--policy", "p", "--artifact", "a", "--signer-digest", "0"],
     "--signer-digest does not apply to --chain with --policy"),
])
def test_cli_refuses_a_flag_its_mode_does_not_take(attest, argv, message) -> None:
    r = attest(*argv)
    assert r.code == 2, r.err
    assert r.err.startswith(f"attest: error: {message}"), r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
