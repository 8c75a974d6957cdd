"""PyPI's attestations (issue 17 items 1-4): PEP 740 attestation objects and the integrity
API's provenance object verified offline from testdata/interop/pypi, the trusted-publisher
policy, pypi:// against a local replay of PyPI, and producing PEP 740 objects keyless."""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import interop_path

PYPI = interop_path("pypi", "MANIFEST.json").parent
SDIST = "pypi_attestations-0.0.19.tar.gz"
WHEEL = "rfc8785-0.1.2-py3-none-any.whl"
PROD = PYPI / "trusted_root.sigstore-production.json"
STAGING = PYPI / "trusted_root.sigstore-staging.json"
RELEASE = "github:trailofbits/pypi-attestations@release.yml"


def one_line(r) -> None:
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    # each failure is one line (a failed verification prints one per failed check)
    assert r.err.strip() and all(line.startswith("attest: ")
                                 for line in r.err.strip().splitlines()), r.err


def verify_sdist(attest, doc: Path, *flags: object, artifact: object = None):
    return attest("verify", doc, "--artifact", artifact or PYPI / SDIST,
                  "--trusted-root", PROD, *flags)


def verify_wheel(attest, doc: Path, *flags: object, artifact: object = None):
    return attest("verify", doc, "--artifact", artifact or PYPI / WHEEL,
                  "--trusted-root", STAGING, "--certificate-identity", "william@yossarian.net",
                  "--certificate-oidc-issuer", "https://github.com/login/oauth", *flags)


# -- item 1: PEP 740 attestation objects and the integrity API's provenance ------------------

def test_attestation_object_verifies_with_every_policy_flag(attest) -> None:
    # the publish statement records only the file: the certificate answers the source flags
    r = verify_sdist(attest, PYPI / f"{SDIST}.publish.attestation", "--publisher", RELEASE,
                     "--source-uri", "github.com/trailofbits/pypi-attestations",
                     "--source-tag", "v0.0.19",
                     "--source-digest", "08802efe1f8e5fec4ad842d6b8ce97656092ee72",
                     "--workflow-trigger", "release", "--deny-self-hosted-runners",
                     "--format", "json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["verified"] is True
    assert report["predicateType"] == "https://docs.pypi.org/attestations/publish/v1"
    names = [c["check"] for c in report["checks"]]
    assert names == ["signature", "certificate source-digest", "runner-environment",
                     "certificate workflow-trigger", "publisher issuer", "publisher repository",
                     "publisher workflow", "certificate source-uri", "certificate source-tag",
                     "payload-type", "statement", "predicate-type",
                     f"artifact {PYPI / SDIST}", "pep740 subject"], names


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--source-tag", "v9.9.9", "certificate source-tag: certificate source ref is "
     "'refs/tags/v0.0.19', policy wants refs/tags/v9.9.9"),
    ("--source-digest", "0" * 40, "certificate source-digest: certificate says "
     "'08802efe1f8e5fec4ad842d6b8ce97656092ee72'"),
    ("--workflow-trigger", "push", "certificate workflow-trigger: certificate says 'release'"),
    ("--builder-id", "https://github.com/x", "builder-id: builder id is 'missing'"),
])
def test_a_policy_flag_the_attestation_cannot_satisfy_fails(attest, flag, value, message) -> None:
    r = verify_sdist(attest, PYPI / f"{SDIST}.publish.attestation", "--publisher", RELEASE,
                     flag, value)
    assert r.code == 1, r.err
    assert message in r.err, r.err
    one_line(r)


def test_subject_name_is_compared_as_a_distribution_file_name(attest, tmp_path) -> None:
    # the same file under a name that parses to the same project, version and tags passes
    # (PEP 740 / pypi-attestations compare parsed names); another version does not
    same = tmp_path / "RFC8785-0.1.2-py3-none-any.whl"
    shutil.copy(PYPI / WHEEL, same)
    r = verify_wheel(attest, PYPI / f"{WHEEL}.attestation", artifact=same)
    assert r.code == 0, r.err
    assert "ok  pep740 subject: one subject, rfc8785-0.1.2-py3-none-any.whl" in r.out
    other = tmp_path / "rfc8785-0.1.3-py3-none-any.whl"
    shutil.copy(PYPI / WHEEL, other)
    r = verify_wheel(attest, PYPI / f"{WHEEL}.attestation", artifact=other)
    assert r.code == 1
    assert "pep740 subject: subject 'rfc8785-0.1.2-py3-none-any.whl' does not name the " \
        "distribution 'rfc8785-0.1.3-py3-none-any.whl'" in r.err, r.err
    one_line(r)


def test_the_distribution_may_be_named_by_digest(attest) -> None:
    sha = "c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201"
    r = verify_wheel(attest, PYPI / f"{WHEEL}.attestation", artifact=f"{WHEEL}@sha256:{sha}")
    assert r.code == 0, r.err
    r = verify_wheel(attest, PYPI / f"{WHEEL}.attestation", artifact=f"{WHEEL}@sha256:{'0' * 64}")
    assert r.code == 1 and "digest mismatch" in r.err, r.err


@pytest.mark.parametrize(("artifacts", "message"), [
    ((), "is a PyPI attestation of one distribution: pass exactly one --artifact DIST"),
    ((PYPI / WHEEL, PYPI / SDIST), "pass exactly one --artifact DIST"),
    ((PYPI / "README.md",), "'README.md' is not a wheel or sdist file name"),
    (("--digest", "sha256:" + "0" * 64), "is not a wheel or sdist file name"),
])
def test_a_pep740_attestation_needs_its_one_distribution(attest, artifacts, message) -> None:
    args: list[object] = []
    for a in artifacts:
        args += [a] if str(a).startswith(("--", "sha256:")) else ["--artifact", a]
    r = attest("verify", PYPI / f"{WHEEL}.attestation", "--trusted-root", STAGING,
               "--certificate-identity", "william@yossarian.net",
               "--certificate-oidc-issuer", "https://github.com/login/oauth", *args,
               "--predicate-type", "https://docs.pypi.org/attestations/publish/v1")
    assert r.code == 2, r.err
    assert message in r.err, r.err
    one_line(r)


def test_a_pep740_attestation_needs_a_signer(attest) -> None:
    r = attest("verify", PYPI / f"{SDIST}.publish.attestation", "--artifact", PYPI / SDIST,
               "--trusted-root", PROD, "--key", PYPI / "README.md")
    assert r.code == 2
    one_line(r)
    r = attest("verify", PYPI / f"{SDIST}.publish.attestation", "--artifact", PYPI / SDIST,
               "--trusted-root", PROD)
    assert r.code == 2 and "no trusted key or signer given" in r.err
    assert "--publisher" in r.err or "--certificate-identity" in r.err


def _edit(src: Path, dst: Path, change) -> Path:
    doc = json.loads(src.read_text())
    change(doc)
    dst.write_text(json.dumps(doc))
    return dst


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(version=2), "not a PEP 740 attestation object: version: Input should be 1"),
    (lambda d: d["envelope"].pop("signature"), "not a PEP 740 attestation object: envelope/signature: Field required"),
    (lambda d: d["verification_material"].update(transparency_entries=[]),
     "not a PEP 740 attestation object: verification_material/transparency_entries"),
    (lambda d: d["verification_material"].update(certificate="bm90IGEgY2VydA=="),
     "not a valid PEP 740 attestation: invalid X.509 certificate"),
    (lambda d: d["verification_material"]["transparency_entries"][0].update(logIndex=[]),
     "not a valid PEP 740 attestation: invalid transparency log entry"),
])
def test_malformed_attestation_objects_are_input_errors(attest, tmp_path, change, message) -> None:
    doc = _edit(PYPI / f"{SDIST}.publish.attestation", tmp_path / "a.publish.attestation", change)
    r = verify_sdist(attest, doc, "--publisher", RELEASE)
    assert r.code == 2, r.err
    assert message in r.err, r.err
    one_line(r)


def test_an_altered_statement_fails_the_signature(attest, tmp_path) -> None:
    def change(d: dict) -> None:
        stmt = json.loads(base64.b64decode(d["envelope"]["statement"]))
        stmt["subject"][0]["name"] = "pypi_attestations-0.0.20.tar.gz"
        d["envelope"]["statement"] = base64.b64encode(json.dumps(stmt).encode()).decode()

    doc = _edit(PYPI / f"{SDIST}.publish.attestation", tmp_path / "a.publish.attestation", change)
    r = verify_sdist(attest, doc, "--publisher", RELEASE)
    assert r.code == 1
    assert "verification FAILED" in r.err and "signature" in r.err, r.err
    one_line(r)


def test_provenance_publisher_must_agree_with_the_certificate(attest, tmp_path) -> None:
    def change(d: dict) -> None:
        d["attestation_bundles"][0]["publisher"]["repository"] = "someone/else"

    doc = _edit(PYPI / f"{SDIST}.provenance", tmp_path / "x.provenance", change)
    r = verify_sdist(attest, doc, "--publisher", RELEASE)
    assert r.code == 1
    assert "pypi publisher: PyPI states publisher github:someone/else@release.yml, but " \
        "certificate source repository is 'https://github.com/trailofbits/pypi-attestations'" \
        in r.err, r.err
    one_line(r)


def test_provenance_with_every_attestation_checked(attest, tmp_path) -> None:
    def twice(d: dict) -> None:
        d["attestation_bundles"].append(json.loads(json.dumps(d["attestation_bundles"][0])))
        d["attestation_bundles"][1]["publisher"]["workflow"] = "other.yml"

    doc = _edit(PYPI / f"{SDIST}.provenance", tmp_path / "two.provenance", twice)
    r = verify_sdist(attest, doc, "--publisher", RELEASE)
    assert r.code == 1
    assert "#2 pypi publisher" in r.err and "other.yml" in r.err, r.err
    doc = _edit(PYPI / f"{SDIST}.provenance", tmp_path / "none.provenance",
                lambda d: d.update(attestation_bundles=[]))
    r = verify_sdist(attest, doc, "--publisher", RELEASE)
    assert r.code == 1 and "the provenance object holds no attestation" in r.err, r.err
    doc = _edit(PYPI / f"{SDIST}.provenance", tmp_path / "bad.provenance",
                lambda d: d["attestation_bundles"][0]["publisher"].update(kind="Jenkins"))
    r = verify_sdist(attest, doc, "--publisher", RELEASE)
    assert r.code == 2 and "not a PyPI provenance object: attestation_bundles/0/publisher" \
        in r.err, r.err
    one_line(r)


# -- item 2: --publisher --------------------------------------------------------------------

@pytest.mark.parametrize(("publisher", "code", "message"), [
    ("github:trailofbits/pypi-attestations", 0, "ok  publisher workflow: certificate Build "
     "Config URI https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@"
     "refs/tags/v0.0.19"),
    ("github:TrailOfBits/PyPI-Attestations@.github/workflows/release.yml", 0,
     "ok  publisher repository"),
    ("github:trailofbits/pypi-attestations@publish.yml", 1, "publisher workflow: certificate "
     "Build Config URI is 'https://github.com/trailofbits/pypi-attestations/.github/workflows/"
     "release.yml@refs/tags/v0.0.19', publisher wants https://github.com/trailofbits/"
     "pypi-attestations/.github/workflows/publish.yml@REF"),
    ("github:trailofbits/pypi-attestations@Release.yml", 1, "publisher wants"),
    ("github:trailofbits/rfc8785.py@release.yml", 1, "publisher repository: certificate source "
     "repository is 'https://github.com/trailofbits/pypi-attestations', publisher is "
     "https://github.com/trailofbits/rfc8785.py"),
    ("gitlab:trailofbits/pypi-attestations", 1, "publisher issuer: certificate issuer is "
     "'https://token.actions.githubusercontent.com', a gitlab publisher signs through "
     "'https://gitlab.com'"),
    ("google:release@example.iam.gserviceaccount.com", 1, "publisher issuer"),
])
def test_publisher_policy_on_the_real_attestation(attest, publisher, code, message) -> None:
    r = verify_sdist(attest, PYPI / f"{SDIST}.publish.attestation", "--publisher", publisher)
    assert r.code == code, r.err
    assert message in (r.out if code == 0 else r.err), r.out + r.err
    if code:
        one_line(r)


@pytest.mark.parametrize(("publisher", "message"), [
    ("trailofbits/pypi-attestations", "expected github:OWNER/REPO[@WORKFLOW]"),
    ("circleci:abc", "expected github:OWNER/REPO[@WORKFLOW]"),
    ("github:trailofbits", "'trailofbits' is not a github OWNER/REPO"),
    ("github:o/r@", "nothing after '@'"),
    ("github:o/r@sub/dir/release.yml", "a GitHub workflow is a file in .github/workflows/"),
    ("gitlab:project", "is not a gitlab NAMESPACE/PROJECT"),
    ("google:not-an-email", "a Google service account is an email address"),
])
def test_publisher_forms(attest, publisher, message) -> None:
    r = verify_sdist(attest, PYPI / f"{SDIST}.publish.attestation", "--publisher", publisher)
    assert r.code == 2, r.err
    assert f"--publisher {publisher!r}: " in r.err and message in r.err, r.err
    one_line(r)


def _cert(sans: list[x509.GeneralName], ext: dict[str, str]) -> x509.Certificate:
    """A certificate with Fulcio's CI extensions, for the policy alone (the signature and
    chain are verified elsewhere; the policy reads only extensions)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = dt.datetime.now(dt.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(key.public_key()).serial_number(1).not_valid_before(now)
         .not_valid_after(now + dt.timedelta(minutes=5))
         .add_extension(x509.SubjectAlternativeName(sans), critical=True))
    for suffix, value in ext.items():
        raw = value.encode()
        b = b.add_extension(x509.UnrecognizedExtension(
            x509.ObjectIdentifier(f"1.3.6.1.4.1.57264.1.{suffix}"),
            bytes([0x0C, len(raw)]) + raw), critical=False)
    return b.sign(key, hashes.SHA256())


def _reusable(config: str, *, ref: str = "refs/tags/v1.0", repo: str = "octo/app",
              issuer: str = "https://token.actions.githubusercontent.com") -> x509.Certificate:
    """As Fulcio issues for a job that calls a reusable workflow of another repository: the
    SAN and Build Signer URI name the called workflow, the Build Config URI the caller's."""
    called = "https://github.com/shared/workflows/.github/workflows/pypi.yml@refs/heads/main"
    return _cert([x509.UniformResourceIdentifier(called)],
                 {"8": issuer, "9": called, "12": f"https://github.com/{repo}",
                  "13": "a" * 40, "14": ref, "18": config})


def _verdicts(spec: str, cert: x509.Certificate) -> list[tuple[str, bool, str]]:
    from attester.verify.publisher import Publisher

    return [(c.name, c.ok, c.detail) for c in Publisher.parse(spec).check(cert)]


def test_publisher_reads_build_config_not_san_for_reusable_workflows() -> None:
    cert = _reusable("https://github.com/octo/app/.github/workflows/release.yml@refs/tags/v1.0")
    assert all(ok for _, ok, _ in _verdicts("github:octo/app@release.yml", cert))
    assert all(ok for _, ok, _ in _verdicts("github:octo/app", cert))
    # the called workflow's repository is not the publisher
    bad = _verdicts("github:shared/workflows@pypi.yml", cert)
    assert [n for n, ok, _ in bad if not ok] == ["publisher repository", "publisher workflow"]
    # the workflow ran at another ref than the certificate's source ref: refused
    odd = _reusable("https://github.com/octo/app/.github/workflows/release.yml@refs/heads/evil")
    fails = [d for _, ok, d in _verdicts("github:octo/app@release.yml", odd) if not ok]
    assert fails == ["certificate Build Config URI https://github.com/octo/app/.github/workflows/"
                     "release.yml@refs/heads/evil is at 'refs/heads/evil', not the certificate's "
                     f"source ref or commit ({'a' * 40}, refs/tags/v1.0)"]
    # by commit is as good as by ref
    sha = _reusable(f"https://github.com/octo/app/.github/workflows/release.yml@{'a' * 40}")
    assert all(ok for _, ok, _ in _verdicts("github:octo/app@release.yml", sha))
    # a workflow in a sub-folder of another path is not a GitHub workflow file
    sub = _reusable("https://github.com/octo/app/.github/workflows/x/release.yml@refs/tags/v1.0")
    assert not all(ok for _, ok, _ in _verdicts("github:octo/app", sub))
    # a longer repository name sharing the prefix is another repository
    longer = _reusable("https://github.com/octo/app-fork/.github/workflows/release.yml@"
                       "refs/tags/v1.0", repo="octo/app-fork")
    assert not all(ok for _, ok, _ in _verdicts("github:octo/app", longer))
    none = _cert([x509.UniformResourceIdentifier("https://x")],
                 {"8": "https://token.actions.githubusercontent.com",
                  "12": "https://github.com/octo/app"})
    assert ("publisher workflow", False, "certificate has no Build Config URI extension; "
            "publisher wants https://github.com/octo/app/.github/workflows/FILE@REF") in \
        _verdicts("github:octo/app", none)


def test_gitlab_and_google_publishers() -> None:
    gl = _cert([x509.UniformResourceIdentifier("https://gitlab.com/grp/sub/proj//.gitlab-ci.yml@"
                                               "refs/heads/main")],
               {"8": "https://gitlab.com", "12": "https://gitlab.com/grp/sub/proj",
                "13": "b" * 40, "14": "refs/heads/main",
                "18": "https://gitlab.com/grp/sub/proj//.gitlab-ci.yml@refs/heads/main"})
    assert all(ok for _, ok, _ in _verdicts("gitlab:grp/sub/proj@.gitlab-ci.yml", gl))
    assert all(ok for _, ok, _ in _verdicts("gitlab:grp/sub/proj", gl))
    assert not all(ok for _, ok, _ in _verdicts("gitlab:grp/sub/proj@ci/release.yml", gl))
    assert not all(ok for _, ok, _ in _verdicts("gitlab:GRP/sub/proj", gl))  # exact, as PyPI
    sa = "release@proj.iam.gserviceaccount.com"
    google = _cert([x509.RFC822Name(sa)], {"8": "https://accounts.google.com"})
    assert all(ok for _, ok, _ in _verdicts(f"google:{sa}", google))
    assert ("publisher", False, f"certificate identity is {sa}, publisher is x@y.z") in \
        _verdicts("google:x@y.z", google)
