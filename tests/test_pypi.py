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
    from attester.verify.checks.publisher import Publisher

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


# -- item 3: pypi://PROJECT/VERSION[/FILE] against a local replay of PyPI ----------------------

SDIST_SHA = "9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3"
OTHER_WHEEL = "pypi_attestations-0.0.19-py3-none-any.whl"
JSON_PATH = "/pypi/pypi-attestations/0.0.19/json"


def _integrity(name: str) -> str:
    return f"/integrity/pypi-attestations/0.0.19/{name}/provenance"


def _file_entry(name: str, sha: str, kind: str) -> dict:
    """One file of the JSON API's ``urls``, in the shape PyPI answers it."""
    return {"comment_text": None, "digests": {"blake2b_256": "00" * 32, "md5": "00" * 16,
                                              "sha256": sha},
            "downloads": -1, "filename": name, "has_sig": False, "md5_digest": "00" * 16,
            "packagetype": kind, "python_version": "source" if kind == "sdist" else "py3",
            "requires_python": ">=3.9", "size": 1, "upload_time": "2024-12-04T23:14:05",
            "upload_time_iso_8601": "2024-12-04T23:14:05.071385Z",
            "url": f"{{BASE}}/packages/{name}", "yanked": False, "yanked_reason": None}


def _release(*files: dict) -> dict:
    return {"info": {"name": "pypi-attestations", "version": "0.0.19"}, "last_serial": 1,
            "urls": list(files), "vulnerabilities": []}


@pytest.fixture
def pypi(monkeypatch):
    """PyPI's JSON and integrity APIs replayed from testdata/interop/pypi: the sdist with its
    real provenance, and a wheel PyPI has no provenance for."""
    from replay import Replay

    monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.01")
    with Replay() as r:
        # a client that refuses an oversize body hangs up mid-answer: the server's broken
        # pipe is expected there, not a report for the test's stderr
        r.server.handle_error = lambda *_: None  # type: ignore[method-assign]
        r.json(JSON_PATH, _release(_file_entry(SDIST, SDIST_SHA, "sdist"),
                                   _file_entry(OTHER_WHEEL, "ab" * 32, "bdist_wheel")))
        r.raw(_integrity(SDIST), (PYPI / f"{SDIST}.provenance").read_bytes(), "application/json")
        yield r


def verify_pypi(attest, replay, uri: str, *flags: object, publisher: str = RELEASE):
    return attest("verify", uri, "--index-url", replay.url, "--trusted-root", PROD,
                  "--publisher", publisher, *flags)


def test_pypi_one_file_of_a_release(attest, pypi) -> None:
    r = verify_pypi(attest, pypi, f"pypi://pypi-attestations/0.0.19/{SDIST}")
    assert r.code == 0, r.err
    assert f"verified pypi://pypi-attestations/0.0.19/{SDIST}" in r.out
    assert f"ok  {SDIST}: pep740 subject: one subject, {SDIST}, naming the distribution" in r.out
    assert f"ok  {SDIST}: artifact {SDIST}: matches subject '{SDIST}' (sha256:{SDIST_SHA})" \
        in r.out
    assert f"ok  {SDIST}: pypi publisher: certificate agrees" in r.out
    assert pypi.log == [JSON_PATH, _integrity(SDIST)]


def test_pypi_every_file_must_have_provenance(attest, pypi) -> None:
    r = verify_pypi(attest, pypi, "pypi://Pypi_Attestations/0.0.19")  # PEP 503 normalized
    assert r.code == 1
    assert f"{OTHER_WHEEL}: provenance: PyPI has no provenance for it" in r.err, r.err
    assert f"{SDIST}:" not in r.err  # the sdist passed
    one_line(r)
    assert pypi.log == [JSON_PATH, _integrity(SDIST), _integrity(OTHER_WHEEL)]
    r = verify_pypi(attest, pypi, "pypi://pypi-attestations/0.0.19", "--format", "json")
    report = json.loads(r.out)
    assert report["verified"] is False
    assert [a["attestation"] for a in report["attestations"]] == [SDIST, OTHER_WHEEL]
    assert [a["verified"] for a in report["attestations"]] == [True, False]


def test_pypi_publisher_and_digest_are_checked(attest, pypi) -> None:
    r = verify_pypi(attest, pypi, f"pypi://pypi-attestations/0.0.19/{SDIST}",
                    publisher="github:trailofbits/pypi-attestations@publish.yml")
    assert r.code == 1 and f"{SDIST}: publisher workflow: certificate Build Config URI" in r.err
    one_line(r)
    # the JSON API lists another digest than the one the publisher signed
    pypi.json(JSON_PATH, _release(_file_entry(SDIST, "cd" * 32, "sdist")))
    r = verify_pypi(attest, pypi, "pypi://pypi-attestations/0.0.19")
    assert r.code == 1
    assert f"{SDIST}: artifact {SDIST}: digest mismatch: subject '{SDIST}' has " \
        f"sha256:{SDIST_SHA}, the file has sha256:{'cd' * 32}" in r.err, r.err
    one_line(r)


def test_pypi_retries_what_fails_for_a_while(attest, pypi) -> None:
    pypi.fail(JSON_PATH, (503, {}), (429, {"Retry-After": "0"}))
    pypi.fail(_integrity(SDIST), (502, {}))
    r = verify_pypi(attest, pypi, f"pypi://pypi-attestations/0.0.19/{SDIST}")
    assert r.code == 0, r.err
    assert pypi.log == [JSON_PATH] * 3 + [_integrity(SDIST)] * 2


@pytest.mark.parametrize(("setup", "message"), [
    (lambda r: r.fail(JSON_PATH, *[(500, {})] * 5),
     "PyPI JSON API for pypi-attestations 0.0.19: 127.0.0.1:"),
    (lambda r: r.json(JSON_PATH, {"message": "gone"}, status=410), "answered 410"),
    (lambda r: r.routes.pop(JSON_PATH), "no such project or version on 127.0.0.1"),
    (lambda r: r.json(JSON_PATH, {"urls": {"a": 1}}), "field 'urls' is an object, expected a list"),
    (lambda r: r.json(JSON_PATH, ["not", "an", "object"]), "the answer is a list, expected an object"),
    (lambda r: r.json(JSON_PATH, _release({"filename": 7})), "field 'urls[0].filename' is a number, expected a string"),
    (lambda r: r.json(JSON_PATH, _release({"filename": SDIST, "digests": []})), "field 'urls[0].digests' is a list, expected an object"),
    (lambda r: r.json(JSON_PATH, _release(_file_entry("../../etc/x.whl", "ab" * 32, "x"))),
     "field 'urls[0].filename' is not a distribution file name: '../../etc/x.whl'"),
    (lambda r: r.json(JSON_PATH, _release(_file_entry(SDIST, "not-hex", "sdist"))),
     f"field 'urls[0].digests.sha256' of {SDIST} is not a sha256 hex digest"),
    (lambda r: r.json(JSON_PATH, _release(*[_file_entry(SDIST, SDIST_SHA, "sdist")] * 2)),
     f"urls[1]: {SDIST} is listed twice"),
    (lambda r: r.json(JSON_PATH, _release(*[_file_entry(f"p-{i}.tar.gz", SDIST_SHA, "sdist")
                                            for i in range(2001)])),
     "lists 2001 files, more than 2000; refusing it"),
    (lambda r: r.raw(_integrity(SDIST), b"{" * 10, "application/json"),
     f"provenance of {SDIST} from 127.0.0.1"),
    (lambda r: r.raw(_integrity(SDIST), b'{"version": 1, "bundles": []}', "application/json"),
     "not a PyPI provenance object (no attestation_bundles)"),
    (lambda r: r.raw(_integrity(SDIST), b'{"version": 2, "attestation_bundles": []}',
                     "application/json"), "not a PyPI provenance object: version"),
    (lambda r: r.raw(_integrity(SDIST), b" " * (4 << 20) + b"{}", "application/json"),
     f"PyPI integrity API for {SDIST}: 4194306 bytes, over the 4 MiB limit; refusing it"),
])
def test_pypi_answers_are_hostile(attest, pypi, setup, message) -> None:
    setup(pypi)
    r = verify_pypi(attest, pypi, f"pypi://pypi-attestations/0.0.19/{SDIST}")
    assert r.code == 2, r.err
    assert message in r.err, r.err
    one_line(r)


@pytest.mark.parametrize(("args", "message"), [
    (["pypi://pypi-attestations"], "expected pypi://PROJECT/VERSION"),
    (["pypi://pypi-attestations/0.0.19/x/y"], "expected pypi://PROJECT/VERSION"),
    (["pypi://-bad-/1.0"], "'-bad-' is not a PyPI project name"),
    (["pypi://p/1.0/README.md"], "'README.md' is not a wheel or sdist file name"),
    (["pypi://pypi-attestations/0.0.19/pypi_attestations-0.0.18.tar.gz"],
     "the release has no file pypi_attestations-0.0.18.tar.gz (it has "
     f"{SDIST}, {OTHER_WHEEL})"),
    (["pypi://pypi-attestations/0.0.19", "--artifact", "x.whl"],
     "--artifact does not apply to verify pypi://"),
    (["pypi://pypi-attestations/0.0.19", "--key", "k.pub"], "--key does not apply"),
])
def test_pypi_usage_errors(attest, pypi, args, message) -> None:
    r = verify_pypi(attest, pypi, *args)
    assert r.code == 2, r.err
    assert message in r.err, r.err
    one_line(r)


def test_pypi_index_url_forms(attest, pypi) -> None:
    r = verify_pypi(attest, pypi, f"pypi://pypi-attestations/0.0.19/{SDIST}", "--index-url",
                    pypi.url + "/simple/")
    assert r.code == 0, r.err
    for bad in ("ftp://mirror.example", "https://user:s3cret@mirror.example", "mirror.example",
                "https://mirror.example/?q=1"):
        r = verify_pypi(attest, pypi, f"pypi://pypi-attestations/0.0.19/{SDIST}",
                        "--index-url", bad)
        assert r.code == 2 and "--index-url" in r.err, r.err
        assert "s3cret" not in r.err
        one_line(r)
    r = attest("verify", "pypi://pypi-attestations/0.0.19", "--index-url", pypi.url,
               "--trusted-root", PROD)
    assert r.code == 2 and "no trusted key or signer given" in r.err


# -- item 4: attest sign --format pep740 -----------------------------------------------------

WHEEL_SHA = "c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201"


def _publish(subjects: list[dict], predicate_type: str = "https://docs.pypi.org/attestations/"
             "publish/v1") -> dict:
    return {"_type": "https://in-toto.io/Statement/v1", "subject": subjects,
            "predicateType": predicate_type, "predicate": None}


def _sign_pep740(attest, standin, tmp_path, stmt: dict, *extra: object):
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))
    (tmp_path / "s.json").write_text(json.dumps(stmt))
    out = tmp_path / f"{WHEEL}.publish.attestation"
    return attest("sign", tmp_path / "s.json", "--keyless", "--identity-token",
                  standin.token("release-bot@example.com"), "--trust-config",
                  tmp_path / "trust.json", "--format", "pep740", "-o", out, *extra), out


def test_sign_pep740_writes_what_pypi_and_attest_read(attest, standin, tmp_path) -> None:
    from pypi_attestations import Attestation

    r, out = _sign_pep740(attest, standin, tmp_path,
                          _publish([{"name": WHEEL, "digest": {"sha256": WHEEL_SHA}}]))
    assert r.code == 0, r.err
    assert f"wrote {out}: PEP 740 attestation, 1 keyless signature logged in Rekor" in r.err
    doc = json.loads(out.read_text())
    assert doc["version"] == 1 and set(doc) == {"version", "verification_material", "envelope"}
    entry = doc["verification_material"]["transparency_entries"][0]
    assert entry["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}  # Rekor v1, as PyPI takes
    att = Attestation.model_validate(doc)  # pypi-attestations (twine's reader) reads it
    assert att.statement["subject"][0]["name"] == WHEEL
    r = attest("verify", out, "--artifact", PYPI / WHEEL, "--trusted-root", tmp_path / "root.json",
               "--certificate-identity", "release-bot@example.com",
               "--certificate-oidc-issuer", standin.issuer)
    assert r.code == 0, r.err
    assert f"ok  pep740 subject: one subject, {WHEEL}, naming the distribution" in r.out
    # another signer, or another file, fails
    r = attest("verify", out, "--artifact", PYPI / "digest-mismatch" / WHEEL, "--trusted-root",
               tmp_path / "root.json", "--certificate-identity", "release-bot@example.com",
               "--certificate-oidc-issuer", standin.issuer)
    assert r.code == 1 and "digest mismatch" in r.err, r.err


@pytest.mark.parametrize(("subjects", "ptype", "message"), [
    ([], None, "subject: [] should be non-empty"),  # no statement has none
    ([{"name": WHEEL, "digest": {"sha256": WHEEL_SHA}}] * 2, None, "this statement has 2"),
    ([{"name": "kubectl", "digest": {"sha256": WHEEL_SHA}}], None,
     "its subject 'kubectl' is not a wheel or sdist file name"),
    ([{"name": WHEEL, "digest": {"sha512": "ab" * 64}}], None, "has no sha256 digest"),
    ([{"name": WHEEL, "digest": {"sha256": WHEEL_SHA}}], "https://example.com/custom/v1",
     "PyPI accepts the predicate types"),
])
def test_sign_pep740_refuses_what_pypi_refuses(attest, standin, tmp_path, subjects, ptype,
                                               message) -> None:
    stmt = _publish(subjects, ptype) if ptype else _publish(subjects)
    r, out = _sign_pep740(attest, standin, tmp_path, stmt)
    assert r.code == 2, r.err
    assert message in r.err, r.err
    assert not out.exists()
    one_line(r)


def test_sign_pep740_is_keyless(attest, tmp_path) -> None:
    from attester.signing import keys

    key = keys.generate("ed25519")
    (tmp_path / "k.key").write_bytes(keys.private_pem(key, None))
    (tmp_path / "s.json").write_text(json.dumps(
        _publish([{"name": WHEEL, "digest": {"sha256": WHEEL_SHA}}])))
    r = attest("sign", tmp_path / "s.json", "--key", tmp_path / "k.key", "--format", "pep740")
    assert r.code == 2 and "--format pep740 writes a keyless signature: pass --keyless" in r.err
    one_line(r)


def test_publisher_of_a_reusable_workflow_end_to_end(attest, standin, tmp_path) -> None:
    """Signed keyless as GitHub Actions runs a reusable workflow: the SAN names the called
    workflow (another repository), the Build Config URI the caller's release.yml; the
    trusted publisher is the caller, and --publisher finds it where PyPI does."""
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))
    (tmp_path / "s.json").write_text(json.dumps(
        _publish([{"name": WHEEL, "digest": {"sha256": WHEEL_SHA}}])))
    called = "shared/workflows/.github/workflows/pypi.yml@refs/heads/main"
    token = standin.actions_token(
        repository="octo/app", workflow_ref="octo/app/.github/workflows/release.yml@refs/tags/v1.0",
        job_workflow_ref=called)
    out = tmp_path / f"{WHEEL}.publish.attestation"
    r = attest("sign", tmp_path / "s.json", "--keyless", "--identity-token", token,
               "--trust-config", tmp_path / "trust.json", "--format", "pep740", "-o", out)
    assert r.code == 0, r.err
    base = ["verify", out, "--artifact", PYPI / WHEEL, "--trusted-root", tmp_path / "root.json"]
    r = attest(*base, "--publisher", "github:octo/app@release.yml", "--source-tag", "v1.0")
    assert r.code == 0, r.err
    assert "ok  publisher workflow: certificate Build Config URI https://github.com/octo/app/" \
        ".github/workflows/release.yml@refs/tags/v1.0" in r.out
    # the SAN is the called workflow's: a publisher named after it is not the publisher
    r = attest(*base, "--certificate-identity", f"https://github.com/{called}",
               "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com")
    assert r.code == 0, r.err
    r = attest(*base, "--publisher", "github:shared/workflows@pypi.yml")
    assert r.code == 1
    assert "publisher repository: certificate source repository is 'https://github.com/" \
        "octo/app', publisher is https://github.com/shared/workflows" in r.err, r.err
    r = attest(*base, "--publisher", "github:octo/app@pypi.yml")
    assert r.code == 1 and "publisher workflow" in r.err, r.err
    one_line(r)


# -- Rego policies on PyPI's attestations (issue 19 item 2) -----------------------------------

PUBLISH_REGO = """\
package sigstore
import rego.v1
default isCompliant := false
isCompliant if {
  input.predicateType == "https://docs.pypi.org/attestations/publish/v1"
  input.signer.extensions.sourceRepositoryURI == "https://github.com/trailofbits/pypi-attestations"
  input.signer.extensions.buildTrigger == "%s"
}
"""


def test_rego_judges_pypi_attestations(attest, pypi, tmp_path) -> None:
    ok, bad = tmp_path / "ok.rego", tmp_path / "bad.rego"
    ok.write_text(PUBLISH_REGO % "release")
    bad.write_text(PUBLISH_REGO % "push")
    r = verify_sdist(attest, PYPI / f"{SDIST}.publish.attestation", "--publisher", RELEASE,
                     "--rego", ok)
    assert r.code == 0, r.err
    assert f"rego {ok}: package sigstore allows" in r.out
    r = verify_sdist(attest, PYPI / f"{SDIST}.publish.attestation", "--publisher", RELEASE,
                     "--rego", bad)
    assert r.code == 1 and "denied: isCompliant is False, not true" in r.err
    # pypi://: the integrity API's provenance, every attestation through the same policy
    r = verify_pypi(attest, pypi, f"pypi://pypi-attestations/0.0.19/{SDIST}", "--rego", ok)
    assert r.code == 0, r.err
    r = verify_pypi(attest, pypi, f"pypi://pypi-attestations/0.0.19/{SDIST}", "--rego", bad)
    assert r.code == 1 and "denied: isCompliant is False" in r.err
