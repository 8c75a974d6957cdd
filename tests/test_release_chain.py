"""A miniature release on the real local servers: stage (GCS emulator + registry), release
to a second bucket, promotion between registry repositories, all attested and signed;
then the chain, the attached attestations, and each way it can break."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from attester.signing import keys

from servers import gcs_emulator, oci_registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _push_blob(reg: str, repo: str, data: bytes) -> str:
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    r = requests.post(f"http://{reg}/v2/{repo}/blobs/uploads/", timeout=10)
    loc = r.headers["Location"]
    url = loc if loc.startswith("http") else f"http://{reg}{loc}"
    r = requests.put(url + ("&" if "?" in url else "?") + f"digest={d}", data=data, timeout=10)
    assert r.status_code == 201, r.text
    return d


def push(reg: str, repo: str, tag: str, config: bytes, layer: bytes) -> str:
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _push_blob(reg, repo, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _push_blob(reg, repo, layer), "size": len(layer)}]}).encode()
    r = requests.put(f"http://{reg}/v2/{repo}/manifests/{tag}", data=manifest,
                     headers={"Content-Type": OCI_MANIFEST}, timeout=10)
    assert r.status_code == 201, r.text
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[tuple[str, str]]:
    with gcs_emulator() as gcs, oci_registry(tmp_path_factory.mktemp("reg")) as reg:
        yield gcs, reg


@pytest.fixture
def gcb(monkeypatch) -> Iterator[None]:
    """The recorded Cloud Build stage build, replayed for the real google-cloud-build client."""
    from replay import Replay

    with Replay() as r:
        r.file("/v1/projects/k8s-staging-releng/builds/inline-1", "cloudbuild/build-inline.json")
        monkeypatch.setenv("ATTEST_CLOUDBUILD_ENDPOINT", r.url)
        yield


@pytest.fixture
def release(attest, servers, gcb, repo, monkeypatch, tmp_path):
    """Runs the whole release as a user would; returns what the checks need."""
    gcs_url, reg = servers
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_url)
    monkeypatch.chdir(repo)
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="t", credentials=AnonymousCredentials())
    suffix = hashlib.sha256(str(tmp_path).encode()).hexdigest()[:10]
    stage_b, prod_b = f"stage-{suffix}", f"prod-{suffix}"
    for b in (stage_b, prod_b):
        client.create_bucket(b)
    for role in ("stage", "release", "promoter", "intruder"):
        assert attest("keygen", "--type", "ed25519", "--out", role).code == 0
    files = {"kubectl": b"kubectl v1.0.0\n" * 100, "kubeadm": b"kubeadm v1.0.0\n" * 80}
    for name, data in files.items():
        client.bucket(stage_b).blob(f"stage/v1.0.0/{name}").upload_from_string(data)
    app = f"staging-{suffix}/app"
    digest = push(reg, app, "v1.0.0", b'{"os":"linux"}', f"app {suffix}".encode())
    # -- stage: the recorded Cloud Build build, attested from outside it --------------------
    r = attest("provenance", "cloudbuild://k8s-staging-releng/inline-1", "--step", "stage",
               "--build-version", "v1.0.0",
               "--release-version", "v1.0.0", "--artifacts", f"gs://{stage_b}/stage/v1.0.0/",
               "--artifacts", f"oci://{reg}/{app}:v1.0.0", "-o", "stage.json")
    assert r.code == 0, r.err
    assert attest("sign", "stage.json", "--key", "stage.key", "-o", "stage.intoto.json").code == 0
    # -- release: publish what was staged ---------------------------------------------------
    for name, data in files.items():
        client.bucket(prod_b).blob(f"release/v1.0.0/{name}").upload_from_string(data)
    r = attest("provenance", "local://", "--step", "release", "--release-version", "v1.0.0",
               "--materials", f"gs://{stage_b}/stage/v1.0.0/",
               "--artifacts", f"gs://{prod_b}/release/v1.0.0/", "-o", "release.json")
    assert r.code == 0, r.err
    assert attest("sign", "release.json", "--key", "release.key", "-o",
                  "release.intoto.json").code == 0
    # -- promotion: kpromo copied the image; we attest it -------------------------------------
    prod = f"prod-{suffix}"
    assert push(reg, f"{prod}/app", "v1.0.0", b'{"os":"linux"}', f"app {suffix}".encode()) == digest
    manifest = repo / "promoter-manifest.yaml"
    manifest.write_text(f"registries:\n- name: {reg}/staging-{suffix}\n  src: true\n"
                        f"- name: {reg}/{prod}\nimages:\n- name: app\n  dmap:\n"
                        f"    \"{digest}\": [\"v1.0.0\"]\n")
    r = attest("promote", "--manifest", manifest, "--canonical-registry", "registry.example",
               "-o", "promo.json")
    assert r.code == 0, r.err
    assert attest("sign", "promo.json", "--key", "promoter.key", "-o", "promo.intoto.json").code == 0
    (repo / "policy.yaml").write_text(
        "steps:\n  stage: {keys: [stage.pub], build-type: https://attester.dev/buildtypes/stage/v1}\n"
        "  release: {keys: [release.pub]}\n  promotion: {keys: [promoter.pub]}\n")
    downloaded = repo / "downloaded"
    downloaded.mkdir()
    for name, data in files.items():
        (downloaded / name).write_bytes(data)
    return {"reg": reg, "app": app, "prod": prod, "digest": digest, "client": client,
            "stage_b": stage_b, "prod_b": prod_b, "repo": repo, "suffix": suffix}


CHAIN = ["--chain", "stage.intoto.json", "--chain", "release.intoto.json",
         "--chain", "promo.intoto.json", "--policy", "policy.yaml"]


def test_chain_from_published_file_and_production_image(attest, release) -> None:
    reg, prod = release["reg"], release["prod"]
    r = attest("verify", *CHAIN, "--artifact", "downloaded/kubectl",
               "--artifact", f"oci://{reg}/{prod}/app:v1.0.0", "--format", "json")
    assert r.code == 0, r.out + r.err
    details = [c["detail"] for c in r.json()["checks"]]
    assert any("published from staged gs://" in d for d in details)
    assert any("promoted from " in d and "staging-" in d for d in details)
    assert sum("built from git+https://github.com/kubernetes/release@7c4b2a1d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b"
               in d for d in details) == 2


def test_release_gate_on_the_staged_bucket(attest, release) -> None:
    stage_uri = f"gs://{release['stage_b']}/stage/v1.0.0/"
    r = attest("verify", "stage.intoto.json", "--key", "stage.pub", "--artifacts", stage_uri,
               "--require-complete")
    assert r.code == 0, r.err
    release["client"].bucket(release["stage_b"]).blob("stage/v1.0.0/extra").upload_from_string(b"?")
    r = attest("verify", "stage.intoto.json", "--key", "stage.pub", "--artifacts", stage_uri,
               "--require-complete")
    assert r.code == 1 and "extra' is in the store but no subject covers it" in r.err


def test_swapped_file_breaks_the_chain(attest, release) -> None:
    (release["repo"] / "downloaded" / "kubectl").write_bytes(b"trojan")
    r = attest("verify", *CHAIN, "--artifact", "downloaded/kubectl")
    assert r.code == 1
    trojan = hashlib.sha256(b"trojan").hexdigest()
    good = hashlib.sha256(b"kubectl v1.0.0\n" * 100).hexdigest()
    assert (f"chain digest: kubectl: sha256:{trojan[:12]}… but the release attestation "
            f"release.intoto.json says sha256:{good[:12]}… for gs://{release['prod_b']}"
            "/release/v1.0.0/kubectl") in r.err
    (release["repo"] / "downloaded" / "kubelet").write_bytes(b"named by no attestation")
    r = attest("verify", *CHAIN, "--artifact", "downloaded/kubelet")
    assert r.code == 1
    assert "kubelet (sha256:" in r.err and "no stage attestation covers" in r.err


def test_wrong_signer_for_a_step(attest, release) -> None:
    assert attest("sign", "promo.json", "--key", "stage.key", "-o", "promo.intoto.json").code == 0
    r = attest("verify", *CHAIN, "--artifact", f"oci://{release['reg']}/{release['prod']}/app:v1.0.0")
    assert r.code == 1
    assert "promotion attestation fails its step's policy: signature" in r.err
    assert attest("sign", "promo.json", "--key", "intruder.key", "-o", "promo.intoto.json").code == 0
    r = attest("verify", *CHAIN, "--artifact", f"oci://{release['reg']}/{release['prod']}/app:v1.0.0")
    assert r.code == 1 and "not signed by any signer the policy trusts" in r.err


def test_promotion_to_a_wrong_digest_is_refused(attest, release) -> None:
    reg, prod = release["reg"], release["prod"]
    push(reg, f"{prod}/app", "v1.0.0", b'{"os":"linux"}', b"something else")
    r = attest("promote", "--manifest", "promoter-manifest.yaml")
    assert r.code == 1
    assert f"{reg}/{prod}/app:v1.0.0 has digest sha256:" in r.err and "refusing" in r.err


def test_attach_and_verify_image_and_require_provenance(attest, release) -> None:
    reg, app, digest = release["reg"], release["app"], release["digest"]
    r = attest("attach", f"oci://{reg}/{app}:v1.0.0", "stage.intoto.json")
    assert r.code == 0, r.err
    r = attest("verify", f"oci://{reg}/{app}:v1.0.0", "--key", "stage.pub")
    assert r.code == 0, r.err
    assert f"matches subject '{reg}/{app}:v1.0.0' by digest" in r.out or "matches subject" in r.out
    r = attest("verify", f"oci://{reg}/{app}:v1.0.0", "--key", "intruder.pub")
    assert r.code == 1
    # --digest/--artifact would be ignored for an image: refused, never silently dropped
    r = attest("verify", f"oci://{reg}/{app}:v1.0.0", "--key", "stage.pub",
               "--digest", "sha256:" + "0" * 64)
    assert r.code == 2 and "--digest does not apply to verify oci://REF" in r.err, r.err
    r = attest("promote", "--manifest", "promoter-manifest.yaml", "--require-provenance",
               "require", "--key", "stage.pub")
    assert r.code == 0, r.err
    r = attest("promote", "--manifest", "promoter-manifest.yaml", "--require-provenance",
               "require", "--key", "intruder.pub")
    assert r.code == 1 and "staging provenance does not verify" in r.err
    r = attest("attach", f"oci://{reg}/{app}:v1.0.0", "release.intoto.json")
    assert r.code == 2 and "does not name" in r.err
    assert digest.startswith("sha256:")


def test_promo_tools_format_and_file_promotion(attest, release, tmp_path) -> None:
    r = attest("promote", "--manifest", "promoter-manifest.yaml", "--format", "promo-tools")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["predicateType"] == "https://k8s.io/promo-tools/promotion/v1"
    assert doc["predicate"]["digest"] == release["digest"]
    assert doc["predicate"]["srcRef"].endswith("/app")
    repo = release["repo"]
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    for d in (src, dst):
        (d / "blue.png").write_bytes(b"blue")
    (repo / "fp.yaml").write_text(f"filestores:\n- base: file://{src}\n  src: true\n"
                                  f"- base: file://{dst}\n")
    (repo / "files.yaml").write_text("files:\n- name: blue.png\n  sha256: "
                                     + hashlib.sha256(b"blue").hexdigest() + "\n")
    r = attest("promote", "--manifest", "fp.yaml", "--files", "files.yaml")
    assert r.code == 0, r.err
    assert json.loads(r.out)["subject"][0]["name"] == f"file://{dst}/blue.png"
    (dst / "blue.png").write_bytes(b"not blue")
    r = attest("promote", "--manifest", "fp.yaml", "--files", "files.yaml")
    assert r.code == 1 and "refusing" in r.err


def test_kpromo_real_manifests_parse() -> None:
    from attester.release.promote import read_file_manifest, read_image_manifest

    from conftest import interop_path

    krel = interop_path("krel", "SOURCES.md").parent
    promos = read_image_manifest(str(krel / "promoter-manifest.thin.k8s-staging-bom.yaml"),
                                 str(krel / "images.k8s-staging-bom.yaml"))
    assert promos[0].source == "gcr.io/k8s-staging-bom" and promos[0].name == "bom"
    assert "us.gcr.io/k8s-cip-test-prod/canary/bom" in promos[0].destinations
    files = read_file_manifest(str(krel / "filepromoter-manifest.onefile.yaml"),
                               str(krel / "files.onefile.yaml"))
    assert [f.name for f in files] == ["blue.png", "green.png", "red.png"]
    assert files[0].source == "gs://src" and files[0].destinations == ("gs://dest",)
    Path  # noqa: B018
    keys  # noqa: B018


# -- the offline audit ---------------------------------------------------------------------

def _release_dir(release, tmp_path) -> Path:
    import shutil

    repo = release["repo"]
    d = tmp_path / "v1.0.0"
    d.mkdir()
    for name in ("kubectl", "kubeadm"):
        shutil.copy(repo / "downloaded" / name, d / name)
    for att in ("stage.intoto.json", "release.intoto.json", "promo.intoto.json"):
        shutil.copy(repo / att, d / att)
    (d / "images.txt").write_text(f"# promoted images\n{release['reg']}/{release['prod']}/app@"
                                  f"{release['digest']}\n")
    return d


@pytest.fixture
def offline(monkeypatch):
    import socket

    def refuse(*a, **k):
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_audit_offline_in_three_formats(attest, release, tmp_path, offline) -> None:
    d = _release_dir(release, tmp_path)
    r = attest("audit", d, "--policy", "policy.yaml")
    assert r.code == 0, r.out + r.err
    assert "PASS (3/3 artifacts pass, 0 attestation problem(s))" in r.out
    assert "ok   kubectl  [stage -> release]" in r.out
    r = attest("audit", d, "--policy", "policy.yaml", "--format", "json")
    doc = r.json()
    from attester.model import schemas
    assert schemas.errors(doc, "audit-report.schema.json") == []
    image_row = next(a for a in doc["artifacts"] if a["artifact"].endswith("/app"))
    assert image_row["steps"] == ["promotion", "stage"] and image_row["verdict"] == "PASS"
    assert image_row["source"] == ("git+https://github.com/kubernetes/release@"
                                   "7c4b2a1d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b")
    assert image_row["builder"] == "https://cloudbuild.googleapis.com/GoogleHostedWorker"
    out = tmp_path / "audit.html"
    r = attest("audit", d, "--policy", "policy.yaml", "--format", "html", "--output", out)
    assert r.code == 0
    page = out.read_text()
    assert "<table>" in page and "3 of 3 artifacts pass" in page and "http" not in page.split("<body>")[0].replace("charset", "").replace("http-equiv", "")


def test_audit_catches_each_break_with_its_message(attest, release, tmp_path, offline) -> None:
    d = _release_dir(release, tmp_path)
    (d / "kubectl").write_bytes(b"swapped")                                   # a swapped file
    (d / "images.txt").write_text(f"{release['reg']}/{release['prod']}/app@sha256:{'0' * 64}\n")
    (d / "notes.txt").write_text("not part of any step")                        # not covered
    import shutil
    shutil.copy(release["repo"] / "stage.intoto.json", d / "stage2.intoto.json")
    assert attest("sign", "release.json", "--key", "intruder.key", "-o",
                  d / "rogue.intoto.json").code == 0                           # untrusted signer
    r = attest("audit", d, "--policy", "policy.yaml", "--format", "json")
    assert r.code == 1
    doc = r.json()
    rows = {a["artifact"]: a for a in doc["artifacts"]}
    assert rows["kubectl"]["verdict"] == "FAIL"
    assert rows["kubectl"]["firstFailure"].startswith(
        f"chain digest: kubectl: sha256:{hashlib.sha256(b'swapped').hexdigest()[:12]}… but the "
        "release attestation release.intoto.json says sha256:")
    assert rows["notes.txt"]["verdict"] == "FAIL"
    assert "no stage attestation covers" in rows["notes.txt"]["firstFailure"]
    assert rows["kubeadm"]["verdict"] == "PASS"
    img = next(v for k, v in rows.items() if k.endswith("/app"))
    assert img["verdict"] == "FAIL" and "sha256:000000000000" in img["firstFailure"]
    assert any("rogue.intoto.json" in p and "not signed by any signer the policy trusts" in p
               for p in doc["attestationProblems"])
    assert doc["summary"] == {"artifacts": 4, "passed": 1, "failed": 3, "attestationProblems": 1}
    text = attest("audit", d, "--policy", "policy.yaml").out
    assert "FAIL kubectl  [attested with another digest]" in text
    assert "FAIL notes.txt  [no attestation]" in text


def test_audit_html_renders_in_chromium(attest, release, tmp_path) -> None:
    import subprocess

    from servers import require

    chromium = require("chromium")
    d = _release_dir(release, tmp_path)
    out = tmp_path / "audit.html"
    assert attest("audit", d, "--policy", "policy.yaml", "--format", "html", "-o", out).code == 0
    shot = tmp_path / "audit.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                    f"--screenshot={shot}", "--window-size=1280,600", out.as_uri()],
                   check=True, capture_output=True, timeout=120)
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    from struct import unpack
    assert unpack(">II", png[16:24]) == (1280, 600)


def test_audit_refuses_empty_policy_and_empty_release(attest, release, tmp_path) -> None:
    (tmp_path / "empty.yaml").write_text("steps: {}\n")
    d = _release_dir(release, tmp_path)
    r = attest("audit", d, "--policy", tmp_path / "empty.yaml")
    assert r.code == 2 and "an empty policy trusts nothing" in r.err
    (tmp_path / "nothing").mkdir()
    r = attest("audit", tmp_path / "nothing", "--policy", "policy.yaml")
    assert r.code == 2 and "holds no attestations" in r.err


def test_vsa_written_after_a_pass_and_verifiable(attest, release) -> None:
    r = attest("verify", "stage.intoto.json", "--key", "stage.pub", "--artifact",
               "downloaded/kubectl", "--vsa-out", "vsa.intoto.json", "--vsa-key", "release.key")
    assert r.code == 0, r.err
    import base64
    env = json.loads((release["repo"] / "vsa.intoto.json").read_text())
    vsa = json.loads(base64.b64decode(env["payload"]))
    from attester.model import schemas
    schemas.validate_statement(vsa, where="vsa")
    assert vsa["predicate"]["verificationResult"] == "PASSED"
    assert vsa["predicate"]["resourceUri"] == "downloaded/kubectl"
    assert vsa["predicate"]["inputAttestations"][0]["digest"]["sha256"] == hashlib.sha256(
        (release["repo"] / "stage.intoto.json").read_bytes()).hexdigest()
    r = attest("verify", "vsa.intoto.json", "--key", "release.pub", "--artifact", "downloaded/kubectl")
    assert r.code == 0 and "ok  vsa-result" in r.out
    # A failing verification writes no VSA.
    r = attest("verify", "stage.intoto.json", "--key", "intruder.pub", "--artifact",
               "downloaded/kubectl", "--vsa-out", "vsa2.json", "--vsa-key", "release.key")
    assert r.code == 1 and not (release["repo"] / "vsa2.json").exists()


def test_failed_vsa_does_not_pass(attest, tmp_path) -> None:
    import datetime as dt

    from attester.jsonio import dumps_compact
    from attester.release import vsa
    from attester.signing.signers import sign_envelope
    from attester.signing.signers.keyfile import KeyFileSigner

    k = keys.generate("ed25519")
    (tmp_path / "k.pub").write_bytes(keys.public_pem(k.public_key()))
    stmt = vsa.build_vsa(subjects=[("a", "ab" * 32)], resource_uri="a", policy_uri="p",
                         policy_digest="cd" * 32, inputs=[], now=dt.datetime.now(dt.timezone.utc))
    doc = stmt.to_json()
    doc["predicate"]["verificationResult"] = "FAILED"
    env = sign_envelope("application/vnd.in-toto+json", dumps_compact(doc), [KeyFileSigner(k)])
    (tmp_path / "v.json").write_text(json.dumps(env.to_json()))
    r = attest("verify", tmp_path / "v.json", "--key", tmp_path / "k.pub", "--predicate-type",
               "https://slsa.dev/verification_summary/v1")
    assert r.code == 1 and "verification summary says 'FAILED'" in r.err


def test_generated_documents_match_their_schemas(attest, release) -> None:
    from attester.model import schemas
    for name in ("stage.json", "release.json", "promo.json"):
        doc = json.loads((release["repo"] / name).read_text())
        schemas.validate_statement(doc, where=name)
        assert doc["predicate"]["buildDefinition"]["buildType"].startswith("https://attester.dev/buildtypes/")
    r = attest("promote", "--manifest", "promoter-manifest.yaml", "--format", "promo-tools")
    schemas.validate_statement(json.loads(r.out), where="promo-tools")


def test_krel_legacy_stage_provenance(attest, release, tmp_path) -> None:
    """krel's real (unsigned) stage provenance, Statement v0.1 / SLSA v0.1: signed by the
    release team, it is read by the gate like ours."""
    from conftest import interop_path

    krel = interop_path("krel", "k8s-1.23.0-alpha.4-stage-provenance.json")
    r = attest("sign", krel, "--key", "stage.key", "-o", tmp_path / "krel.intoto.json")
    assert r.code == 0, r.err
    r = attest("verify", tmp_path / "krel.intoto.json", "--key", "stage.pub",
               "--builder-id", "pkg:github/puerco/release@provenance",
               "--source-uri", "github.com/kubernetes/kubernetes",
               "--build-type", "https://cloudbuild.googleapis.com/CloudBuildYaml@v1", "--format", "json")
    assert r.code == 0, r.err
    assert r.json()["subjects"] == 461
    # The gate against a bucket holding one staged file with the wrong bytes.
    doc = json.loads(krel.read_text())
    first = doc["subject"][0]["name"]                       # gs://kubernetes-release-gcb/stage/...
    bucket, _, obj = first.removeprefix("gs://").partition("/")
    client = release["client"]
    if not client.bucket(bucket).exists():
        client.create_bucket(bucket)
    client.bucket(bucket).blob(obj).upload_from_string(b"not the real source tarball")
    prefix = first.rsplit("/", 1)[0] + "/"
    r = attest("verify", tmp_path / "krel.intoto.json", "--key", "stage.pub", "--artifacts", prefix,
               "--format", "json")
    assert r.code == 1
    details = [c["detail"] for c in r.json()["checks"] if not c["ok"]]
    assert any(f"digest mismatch for '{first}'" in d for d in details)
    assert any("is missing from the store" in d for d in details)


def _spdx(files: dict[str, bytes], *, lie: str | None = None) -> str:
    doc = {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": "kubernetes-release", "documentNamespace": "https://example.com/spdx/k8s-v1.0.0",
        "creationInfo": {"created": "2024-08-13T16:00:00Z", "creators": ["Tool: krel"]},
        "files": [{"SPDXID": f"SPDXRef-File-{i}", "fileName": f"./{name}",
                   "checksums": [{"algorithm": "SHA1", "checksumValue": hashlib.sha1(data).hexdigest()},  # noqa: S324
                                 {"algorithm": "SHA256", "checksumValue":
                                  hashlib.sha256(b"lie" if name == lie else data).hexdigest()},
                                 {"algorithm": "SHA512", "checksumValue": hashlib.sha512(data).hexdigest()}]}
                  for i, (name, data) in enumerate(files.items())],
    }
    return json.dumps(doc)


def test_release_subjects_from_sbom(attest, release, tmp_path) -> None:
    prod = f"gs://{release['prod_b']}/release/v1.0.0/"
    files = {n: (release["repo"] / "downloaded" / n).read_bytes() for n in ("kubectl", "kubeadm")}
    (tmp_path / "k.spdx.json").write_text(_spdx(files))
    r = attest("provenance", "local://", "--step", "release", "--artifacts", prod,
               "--subjects-from-sbom", tmp_path / "k.spdx.json")
    assert r.code == 0, r.err
    subjects = {s["name"]: s["digest"] for s in json.loads(r.out)["subject"]}
    assert subjects["kubectl"] == {"sha256": hashlib.sha256(files["kubectl"]).hexdigest(),
                                   "sha512": hashlib.sha512(files["kubectl"]).hexdigest()}
    (tmp_path / "bad.spdx.json").write_text(_spdx(files, lie="kubeadm"))
    r = attest("provenance", "local://", "--step", "release", "--artifacts", prod,
               "--subjects-from-sbom", tmp_path / "bad.spdx.json")
    assert r.code == 2 and "'kubeadm' has sha256" in r.err and "but the SBOM says" in r.err
    (tmp_path / "more.spdx.json").write_text(_spdx({**files, "kube-proxy": b"x"}))
    r = attest("provenance", "local://", "--step", "release", "--artifacts", prod,
               "--subjects-from-sbom", tmp_path / "more.spdx.json")
    assert r.code == 2 and "lists 'kube-proxy', which is not among the artifacts" in r.err


def test_two_attestations_disagreeing_on_a_digest(attest, release) -> None:
    repo = release["repo"]
    doc = json.loads((repo / "stage.json").read_text())
    for sub in doc["subject"]:
        if sub["name"].endswith("/kubeadm"):
            sub["digest"]["sha256"] = "ee" * 32
    (repo / "stage-b.json").write_text(json.dumps(doc))
    assert attest("sign", "stage-b.json", "--key", "stage.key", "-o", "stage-b.intoto.json").code == 0
    r = attest("verify", *CHAIN, "--chain", "stage-b.intoto.json", "--artifact", "downloaded/kubeadm")
    assert r.code == 1
    assert "chain consistency: gs://" in r.err and "/kubeadm: stage.intoto.json says sha256:" in r.err
    assert "but stage-b.intoto.json says sha256:" + "ee" * 32 in r.err


def test_policy_file_rules(attest, release, tmp_path) -> None:
    repo = release["repo"]
    (repo / "strict.yaml").write_text(
        "steps:\n  stage: {keys: [stage.pub], source-ref-pattern: 'refs/tags/v1\\..*',"
        " predicate-types: [https://slsa.dev/provenance/v1]}\n"
        "  release: {keys: [release.pub], predicate-types: [https://slsa.dev/provenance/v0.2]}\n")
    r = attest("verify", "--chain", "stage.intoto.json", "--chain", "release.intoto.json",
               "--policy", "strict.yaml", "--artifact", "downloaded/kubectl", "--format", "json")
    assert r.code == 1
    details = " ".join(c["detail"] for c in r.json()["checks"])
    assert "release attestation has predicate type 'https://slsa.dev/provenance/v1'; the policy allows https://slsa.dev/provenance/v0.2" in details
    # the stage attestation meets its rules (its ref refs/tags/v1.31.0 matches the pattern)
    assert any(c["check"] == "chain stage" and c["ok"] for c in r.json()["checks"])
    (repo / "pattern.yaml").write_text(
        "steps:\n  stage: {keys: [stage.pub], source-ref-pattern: 'refs/heads/release-.*'}\n")
    r = attest("verify", "--chain", "stage.intoto.json", "--policy", "pattern.yaml",
               "--artifact", "downloaded/kubectl")
    assert r.code == 1 and "source-ref-pattern: source ref is 'refs/tags/v1.31.0'" in r.err
    (repo / "typo.yaml").write_text("steps:\n  stage: {keys: [stage.pub], bulider-id: x}\n")
    r = attest("verify", "--chain", "stage.intoto.json", "--policy", "typo.yaml", "--artifact",
               "downloaded/kubectl")
    assert r.code == 2 and "unknown key 'bulider-id' (did you mean 'builder-id'?)" in r.err
    (repo / "nosigner.yaml").write_text("steps:\n  stage: {builder-id: x}\n")
    r = attest("verify", "--chain", "stage.intoto.json", "--policy", "nosigner.yaml",
               "--artifact", "downloaded/kubectl")
    assert r.code == 2 and "steps/stage: names no signer (keys, certificate-identity" in r.err


def test_require_provenance_with_policy_file(attest, release) -> None:
    reg, app = release["reg"], release["app"]
    assert attest("attach", f"oci://{reg}/{app}:v1.0.0", "stage.intoto.json").code == 0
    r = attest("promote", "--manifest", "promoter-manifest.yaml", "--require-provenance",
               "require", "--policy", "policy.yaml")
    assert r.code == 0, r.err
    (release["repo"] / "wrongbuilder.yaml").write_text(
        "steps:\n  stage: {keys: [stage.pub], builder-id: https://evil.example/builder}\n")
    r = attest("promote", "--manifest", "promoter-manifest.yaml", "--require-provenance",
               "require", "--policy", "wrongbuilder.yaml")
    assert r.code == 1 and "builder-id" in r.err
    r = attest("promote", "--manifest", "promoter-manifest.yaml", "--require-provenance",
               "warn", "--policy", "wrongbuilder.yaml")
    assert r.code == 0 and "warning:" in r.err


def test_audit_skips_a_policy_kept_in_the_release_folder(attest, release, tmp_path) -> None:
    import shutil

    d = _release_dir(release, tmp_path)
    shutil.copy(release["repo"] / "policy.yaml", d / "policy.yaml")
    for role in ("stage", "release", "promoter"):
        shutil.copy(release["repo"] / f"{role}.pub", d / f"{role}.pub")
    (d / "images.txt").unlink()
    r = attest("audit", d, "--policy", d / "policy.yaml", "--format", "json")
    names = [a["artifact"] for a in r.json()["artifacts"]]
    assert "policy.yaml" not in names
    assert "stage.pub" in names  # keys in the folder are files like any other: not attested


def test_adhoc_image_promotion(attest, release) -> None:
    reg, app, prod, digest = release["reg"], release["app"], release["prod"], release["digest"]
    r = attest("promote", "--image", f"{reg}/{app}@{digest}={reg}/{prod}/app:v1.0.0")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["subject"][0]["name"] == f"{reg}/{prod}/app"
    assert doc["predicate"]["buildDefinition"]["resolvedDependencies"][0]["uri"] == f"{reg}/{app}@{digest}"
    r = attest("promote", "--image", f"{reg}/{app}:v1.0.0={reg}/{prod}/app:v1.0.0")
    assert r.code == 2 and "name the source by digest" in r.err
    # With oci:// on either side (as every other image flag spells it): the same statement.
    again = attest("promote", "--image", f"oci://{reg}/{app}@{digest}=oci://{reg}/{prod}/app:v1.0.0")
    assert again.code == 0, again.err
    assert json.loads(again.out)["subject"] == doc["subject"]
    # A trailing slash means a folder, created when missing (not a file named "out").
    r = attest("promote", "--image", f"{reg}/{app}@{digest}={reg}/{prod}/app:v1.0.0",
               "-o", "promotions/new/")
    assert r.code == 0, r.err
    written = list((release["repo"] / "promotions" / "new").iterdir())
    assert len(written) == 1 and json.loads(written[0].read_text())["subject"] == doc["subject"]
    assert "wrote 1 promotion statement(s) to promotions/new/" in r.err


def test_chain_by_digest_without_the_file(attest, release) -> None:
    """--digest (and NAME@sha256:HEX) start the chain from a digest alone."""
    import hashlib

    digest = hashlib.sha256((release["repo"] / "downloaded" / "kubectl").read_bytes()).hexdigest()
    r = attest("verify", *CHAIN, "--digest", f"sha256:{digest}")
    assert r.code == 0, r.err
    r = attest("verify", *CHAIN, "--artifact", f"kubectl@sha256:{digest}")
    assert r.code == 0, r.err
    r = attest("verify", *CHAIN, "--digest", f"sha256:{'1' * 64}")
    assert r.code == 1 and "no stage attestation covers" in r.err
    r = attest("verify", *CHAIN, "--digest", f"sha512:{'1' * 128}")
    assert r.code == 2 and "--chain follows sha256 digests" in r.err


# -- Rego policies on every path (issue 19 items 1, 2) ----------------------------------------

STAGE_REGO = """\
package sigstore
import rego.v1
default isCompliant := false
isCompliant if {
  input.signer.kind == "key"
  input.predicate.buildDefinition.buildType == "https://attester.dev/buildtypes/stage/v1"
  some dep in input.predicate.buildDefinition.resolvedDependencies
  startswith(dep.uri, "git+https://github.com/kubernetes/release")
}
"""
DENY_ALL = """\
package release.rules
import rego.v1
deny contains msg if {
  some s in input.subject
  msg := sprintf("%s is frozen", [s.name])
}
"""


def test_rego_on_chain_audit_and_promote(attest, release, tmp_path) -> None:
    repo, reg = release["repo"], release["reg"]
    (repo / "stage.rego").write_text(STAGE_REGO)
    (repo / "deny.rego").write_text(DENY_ALL)
    base = ("steps:\n  release: {keys: [release.pub]}\n  promotion: {keys: [promoter.pub]}\n"
            "  stage: {keys: [stage.pub], rego: [%s]}\n")
    (repo / "rego-policy.yaml").write_text(base % "stage.rego")
    chain = [a if a != "policy.yaml" else "rego-policy.yaml" for a in CHAIN]
    # --chain: the stage step's rego: runs on the stage attestation
    r = attest("verify", *chain, "--artifact", "downloaded/kubectl")
    assert r.code == 0, r.err
    (repo / "rego-policy.yaml").write_text(base % "deny.rego")
    r = attest("verify", *chain, "--artifact", "downloaded/kubectl")
    assert r.code == 1
    assert "stage attestation fails its step's policy: rego" in r.err and "is frozen" in r.err
    # --rego beside a policy applies to every step
    (repo / "rego-policy.yaml").write_text(base % "stage.rego")
    r = attest("verify", *chain, "--rego", "deny.rego", "--artifact", "downloaded/kubectl")
    assert r.code == 1 and "release attestation fails its step's policy: rego" in r.err
    # --policy-mode warn: the same failure reported as a warning, exit 0 (issue 19 item 5)
    r = attest("verify", *chain, "--rego", "deny.rego", "--artifact", "downloaded/kubectl",
               "--policy-mode", "warn")
    assert r.code == 0 and "attest: warning: " in r.err and "is frozen" in r.err
    # audit: per artifact, through the policy file
    (repo / "rego-policy.yaml").write_text(base % "deny.rego")
    d = _release_dir(release, tmp_path)
    r = attest("audit", d, "--policy", repo / "rego-policy.yaml", "--format", "json")
    assert r.code == 1
    assert "is frozen" in json.dumps(r.json())
    r = attest("audit", d, "--policy", repo / "rego-policy.yaml", "--policy-mode", "warn")
    assert r.code == 0, r.err
    assert "attest: warning: audit: " in r.err and "is frozen" in r.err
    assert "artifact(s) would fail under enforce; exit 0" in r.err
    # promote --require-provenance: the stage step's rego judges the staging images
    app = release["app"]
    assert attest("attach", f"oci://{reg}/{app}:v1.0.0", "stage.intoto.json").code == 0
    # verify oci://: the image's attached attestation
    r = attest("verify", f"oci://{reg}/{app}:v1.0.0", "--key", "stage.pub", "--rego",
               "stage.rego")
    assert r.code == 0, r.err
    r = attest("verify", f"oci://{reg}/{app}:v1.0.0", "--key", "stage.pub", "--rego",
               "deny.rego")
    assert r.code == 1 and "is frozen" in r.err
    r = attest("promote", "--manifest", "promoter-manifest.yaml", "--require-provenance",
               "require", "--policy", "rego-policy.yaml")
    assert r.code == 1 and "staging provenance does not verify: rego" in r.err
    assert "is frozen" in r.err
    (repo / "rego-policy.yaml").write_text(base % "stage.rego")
    r = attest("promote", "--manifest", "promoter-manifest.yaml", "--require-provenance",
               "require", "--policy", "rego-policy.yaml")
    assert r.code == 0, r.err
    # a policy file whose rego does not parse is exit 2 naming the file and line
    (repo / "bad.rego").write_text("package p\ndeny contains msg if {\n")
    (repo / "rego-policy.yaml").write_text(base % "bad.rego")
    r = attest("verify", *chain, "--artifact", "downloaded/kubectl")
    assert r.code == 2 and "rego policy " in r.err and "bad.rego:2:" in r.err


def test_promotion_statements_that_would_share_a_file_are_refused(attest, release) -> None:
    """-o DIR names each statement after its subject with '/' and ':' made '_': two
    destinations differing only there (PROD/a/b and PROD/a_b) would write the same file,
    the second silently replacing the first (redteam round 2). Refused before writing
    anything, naming both."""
    reg, prod = release["reg"], release["prod"]
    digests = {push(reg, f"{top}/{name}", "v1.0.0", b'{"os":"linux"}', b"app collide")
               for top in ("collide-staging", prod) for name in ("a/b", "a_b")}
    (digest,) = digests
    r = attest("promote", *(x for name in ("a/b", "a_b") for x in (
        "--image", f"{reg}/collide-staging/{name}@{digest}={reg}/{prod}/{name}:v1.0.0")),
        "-o", "collide/")
    assert r.code == 2, r.err
    assert f"the statements for {reg}/{prod}/a/b and {reg}/{prod}/a_b would both be " \
           "written to" in r.err
    assert list((release["repo"] / "collide").iterdir()) == []
