"""--policy-mode warn (issue 19 item 5): every failing requirement is reported, in text and
JSON, and verify exits 0, as kpromo's --require-provenance warn does for promotion."""

from __future__ import annotations

from conftest import interop_path

KEYED = interop_path("keyed")
ARGS = ["verify", KEYED / "ecdsa-p256.intoto.json", "--key", KEYED / "ecdsa-p256.pub",
        "--builder-id", "https://example.com/other-builder", "--source-branch", "main"]
DENY = """\
package sigstore
import rego.v1
default isCompliant := false
isCompliant if input.predicate.runDetails.builder.id == "https://example.com/other-builder"
"""


def test_enforce_is_the_default(attest, tmp_path) -> None:
    (tmp_path / "p.rego").write_text(DENY)
    r = attest(*ARGS, "--rego", tmp_path / "p.rego")
    assert r.code == 1
    r2 = attest(*ARGS, "--rego", tmp_path / "p.rego", "--policy-mode", "enforce")
    assert (r2.code, r2.err) == (r.code, r.err)


def test_warn_reports_every_failing_requirement_and_passes(attest, tmp_path) -> None:
    (tmp_path / "p.rego").write_text(DENY)
    r = attest(*ARGS, "--rego", tmp_path / "p.rego", "--policy-mode", "warn")
    assert r.code == 0, r.err
    warnings = [ln for ln in r.err.splitlines() if ln.startswith("attest: warning: ")]
    assert any("builder-id: builder id is 'https://cloudbuild.googleapis.com/"
               "GoogleHostedWorker', policy wants 'https://example.com/other-builder'" in w
               for w in warnings), r.err
    assert any("source-branch: source ref is 'refs/tags/v1.26.0', policy wants "
               "refs/heads/main" in w for w in warnings), r.err
    assert any(f"rego {tmp_path / 'p.rego'}: denied: isCompliant is False" in w
               for w in warnings), r.err
    assert "3 requirement(s) would fail under enforce; exit 0" in r.err
    assert "  WARN  builder-id:" in r.out and "  ok  signature:" in r.out


def test_warn_in_json(attest, tmp_path) -> None:
    (tmp_path / "p.rego").write_text(DENY)
    r = attest(*ARGS, "--rego", tmp_path / "p.rego", "--policy-mode", "warn", "--format",
               "json")
    assert r.code == 0
    doc = r.json()
    assert doc["policyMode"] == "warn" and doc["verified"] is False
    assert sorted(c["check"] for c in doc["wouldFail"]) == [
        "builder-id", f"rego {tmp_path / 'p.rego'}", "source-branch"]


def test_warn_never_writes_a_vsa_for_a_failure(attest, tmp_path) -> None:
    assert attest("keygen", "--out", tmp_path / "vsa").code == 0
    r = attest(*ARGS, "--policy-mode", "warn", "--vsa-out", tmp_path / "vsa.json",
               "--vsa-key", tmp_path / "vsa.key")
    assert r.code == 0
    assert not (tmp_path / "vsa.json").exists()


def test_warn_does_not_hide_input_errors(attest, tmp_path) -> None:
    (tmp_path / "bad.rego").write_text("package p\ndeny contains x if {\n")
    r = attest(*ARGS, "--rego", tmp_path / "bad.rego", "--policy-mode", "warn")
    assert r.code == 2 and "bad.rego:2:" in r.err
    r = attest(*ARGS, "--policy-mode", "sometimes")
    assert r.code == 2
