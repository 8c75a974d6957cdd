"""Adversarial review of the verification paths that landed on 2026-12-04 (Cloud Build
provenance, cosign tag layers, PEP 740 / pypi://, managed-key bundles, the cross-check
exception): each finding is an attack through the CLI, on real vectors and the suite's own
servers, that passed (or broke) before its fix; each test asserts the exit code and message."""

from __future__ import annotations

import hashlib
import json

import pytest
from test_pypi import PYPI, SDIST, SDIST_SHA, _file_entry, _release, one_line, verify_pypi


@pytest.fixture
def mirror(monkeypatch):
    """A PyPI mirror replayed on loopback (tests/replay.py), answering what each test sets."""
    from replay import Replay

    monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.01")
    with Replay() as r:
        r.server.handle_error = lambda *_: None  # type: ignore[method-assign]
        yield r


# -- PyPI: an index answering another release's files -----------------------------------------

def _serve_other_release(replay, project: str, version: str) -> None:
    """The mirror answers ``pypi://PROJECT/VERSION`` with pypi-attestations 0.0.19's sdist
    and its real (validly signed) provenance."""
    replay.json(f"/pypi/{project}/{version}/json", _release(_file_entry(SDIST, SDIST_SHA,
                                                                         "sdist")))
    replay.raw(f"/integrity/{project}/{version}/{SDIST}/provenance",
               (PYPI / f"{SDIST}.provenance").read_bytes(), "application/json")


@pytest.mark.parametrize(("uri", "project", "version", "named"), [
    # a downgrade: an older, validly attested release served for the one asked
    ("pypi://pypi-attestations/0.0.20", "pypi-attestations", "0.0.20",
     "pypi-attestations 0.0.20"),
    # another project of the same publisher
    ("pypi://sigstore-models/0.0.19", "sigstore-models", "0.0.19", "sigstore-models 0.0.19"),
])
def test_pypi_files_of_another_release_are_refused(attest, mirror, uri, project, version,
                                                   named) -> None:
    _serve_other_release(mirror, project, version)
    r = verify_pypi(attest, mirror, uri)
    assert r.code == 2, (r.code, r.out, r.err)
    assert f"field 'urls[0].filename' ({SDIST}) is a file of pypi-attestations 0.0.19, not " \
        f"of {named}" in r.err, r.err
    one_line(r)


# -- the cross-check exception: a pinned signer's workflow run from another repository ---------

VICTIM_WORKFLOW = "victim/app/.github/workflows/release.yml@refs/heads/main"


def _provenance_of_victim(artifact_sha: str) -> dict:
    """SLSA v1 provenance (GitHub workflow build type) claiming victim/app built the file."""
    return {"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "app.tar.gz", "digest": {"sha256": artifact_sha}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"buildDefinition": {
                "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                "externalParameters": {"workflow": {
                    "ref": "refs/heads/main", "repository": "https://github.com/victim/app",
                    "path": ".github/workflows/release.yml"}},
                "resolvedDependencies": [{"uri": "git+https://github.com/victim/app@refs/heads/main",
                                          "digest": {"gitCommit": "b" * 40}}]},
                "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"},
                               "metadata": {"invocationId": "https://github.com/victim/app/"
                                            "actions/runs/7/attempts/1"}}}}


def _sign_as(attest, standin, tmp_path, stmt: dict, *, repository: str, workflow_ref: str,
             job_workflow_ref: str):
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    (tmp_path / "root.json").write_text(json.dumps(standin.trusted_root()))
    (tmp_path / "s.json").write_text(json.dumps(stmt))
    token = standin.actions_token(repository=repository, workflow_ref=workflow_ref,
                                  job_workflow_ref=job_workflow_ref, ref="refs/heads/main",
                                  event_name="push")
    out = tmp_path / "s.sigstore.json"
    r = attest("sign", tmp_path / "s.json", "--keyless", "--identity-token", token,
               "--trust-config", tmp_path / "trust.json", "-o", out)
    assert r.code == 0, r.err
    return out


def test_pinned_signer_run_from_another_repository_is_no_dedicated_signer(attest, standin,
                                                                           tmp_path) -> None:
    """GitLab lets a project take its CI file from another project: its pipelines get a
    certificate whose SAN, Build Signer URI and Build Config URI all name that file, while
    the Source Repository is the project that ran. Those three agreeing is no proof that the
    signer is its repository's own workflow: an attacker's project running the victim's
    pinned CI file signs provenance claiming the victim's source, and the cross-check's
    exception passed it (exit 0). The exception now needs the signer's file to be in the
    certificate's own source repository, at its own ref."""
    artifact = tmp_path / "app.tar.gz"
    artifact.write_bytes(b"attacker's build\n")
    sha = hashlib.sha256(artifact.read_bytes()).hexdigest()
    bundle = _sign_as(attest, standin, tmp_path, _provenance_of_victim(sha),
                      repository="attacker/app", workflow_ref=VICTIM_WORKFLOW,
                      job_workflow_ref=VICTIM_WORKFLOW)
    base = ["verify", bundle, "--artifact", artifact, "--trusted-root", tmp_path / "root.json",
            "--certificate-identity", f"https://github.com/{VICTIM_WORKFLOW}",
            "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
            "--predicate-type", "https://slsa.dev/provenance/v1"]
    r = attest(*base)
    assert r.code == 1, (r.code, r.out, r.err)
    assert "certificate-provenance repository: the certificate says repository " \
        "'https://github.com/attacker/app', the provenance says " \
        "'https://github.com/victim/app'" in r.err, r.err
    assert "pinned exactly" not in r.out
    # the victim's own run of the same file still is the dedicated signer it was
    own = tmp_path / "own"
    own.mkdir()
    stmt = _provenance_of_victim(sha)
    stmt["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["repository"] = \
        "https://github.com/victim/other"
    bundle = _sign_as(attest, standin, own, stmt, repository="victim/app",
                      workflow_ref=VICTIM_WORKFLOW, job_workflow_ref=VICTIM_WORKFLOW)
    r = attest(*[bundle if a == base[1] else a for a in base])
    assert r.code == 0, r.err
    assert "pinned exactly" in r.out


# -- the mutation generator over today's document forms -----------------------------------------

def _gcb_view(data: bytes):
    """What a passing Cloud Build document may not change: each entry's decoded signed
    payload and the unsigned fields checked against it (kind, resourceUri, image_summary)."""
    import base64

    try:
        doc = json.loads(data)
        entries = doc["provenance_summary"]["provenance"]
        return (frozenset((base64.b64decode(e["envelope"]["payload"]), e.get("kind"),
                           str(e.get("resourceUri", "")).rpartition("@")[2]) for e in entries),
                doc.get("image_summary", {}).get("digest"))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


@pytest.mark.parametrize("case_id", ["v0.2/valid-main-branch-default/builder-versioned",
                                     "v0.3/valid-main-branch-default/builder-versioned"])
def test_mutated_cloud_build_documents_never_pass(tmp_path, case_id) -> None:
    from test_mutation import fuzz

    from conftest import interop_path

    gcb = interop_path("gcb")
    case = next(c for c in json.loads((gcb / "MANIFEST.json").read_text())["cases"]
                if c["id"] == case_id)
    args = ["--artifact", gcb / case["image"], "--builder-id", case["builder_id"],
            "--source-uri", case["source_uri"]]

    def envelope(doc):
        try:
            return doc["provenance_summary"]["provenance"][0]["envelope"]
        except (KeyError, IndexError, TypeError):
            return None

    counts = fuzz(tmp_path, (gcb / case["files"]["provenance"]).read_bytes(),
                  lambda p: ["verify", p, *args], _gcb_view, n=300, seed_offset=40,
                  payload_key=envelope)
    assert counts[1] + counts[2] > 250, counts


def _pep740_view(data: bytes):
    """An attestation object's signed parts, every string decoded as base64 leniently (a
    re-encoding that means the same bytes may pass)."""
    from test_mutation import unb64

    def norm(node):
        if isinstance(node, dict):
            return {k: norm(v) for k, v in sorted(node.items())}
        if isinstance(node, list):
            return [norm(v) for v in node]
        return unb64(node)

    try:
        doc = json.loads(data)
        env, vm = doc["envelope"], doc["verification_material"]
        # pypi-attestations converts the first transparency entry (a copy after it is
        # not read, and adds no trust)
        return norm([env["statement"], env["signature"], vm["certificate"],
                     vm["transparency_entries"][0]])
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


def _provenance_view(data: bytes):
    """Each bundle's publisher (as PyPI states it; a null field is an absent one, and the
    environment no certificate states is not compared) and each attestation's signed parts."""
    try:
        doc = json.loads(data)
        return [(json.dumps({k: v for k, v in b["publisher"].items()
                             if v is not None and k != "environment"}, sort_keys=True),
                 [_pep740_view(json.dumps(a).encode()) for a in b["attestations"]])
                for b in doc["attestation_bundles"]]
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


def test_mutated_pep740_objects_never_pass(tmp_path) -> None:
    from test_mutation import fuzz
    from test_pypi import PROD, RELEASE

    source = (PYPI / f"{SDIST}.publish.attestation").read_bytes()
    args = ["--artifact", PYPI / SDIST, "--trusted-root", PROD, "--publisher", RELEASE]
    counts = fuzz(tmp_path, source, lambda p: ["verify", p, *args], _pep740_view, n=200,
                  seed_offset=41, payload_key=lambda _: None)
    assert counts[1] + counts[2] > 150, counts
    # and the integrity API's provenance object around it
    source = (PYPI / f"{SDIST}.provenance").read_bytes()
    counts = fuzz(tmp_path, source, lambda p: ["verify", p, *args], _provenance_view, n=150,
                  seed_offset=42, payload_key=lambda _: None)
    assert counts[1] + counts[2] > 100, counts


# -- PyPI: redirects and credentials -----------------------------------------------------------

def _record_authorization(replay) -> list:
    seen: list = []
    plain = replay.handle
    replay.handle = lambda h: (seen.append(h.headers.get("Authorization")), plain(h))[1]
    return seen


def test_pypi_index_redirects_stay_on_the_index_and_carry_no_credentials(
        attest, mirror, tmp_path, monkeypatch) -> None:
    """requests follows every redirect and adds ~/.netrc credentials for the host it lands
    on: a hostile index could answer from a host the user never named, and have the user's
    credentials for a host sent there over plain http. Redirects now stay within the
    index's origin, and no credentials are attached at all."""
    from replay import Replay

    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n"
                     "machine localhost login alice password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    uri = f"pypi://pypi-attestations/0.0.19/{SDIST}"
    path = "/pypi/pypi-attestations/0.0.19/json"
    with Replay() as other:
        other_seen = _record_authorization(other)
        other.json(path, _release(_file_entry(SDIST, SDIST_SHA, "sdist")))
        port = other.url.rsplit(":", 1)[1]
        mirror.json(path, {}, status=302, headers={"Location": f"http://localhost:{port}{path}"})
        r = verify_pypi(attest, mirror, uri)
        assert r.code == 2, (r.code, r.out, r.err)
        assert f"PyPI JSON API for pypi-attestations 0.0.19: 127.0.0.1:{mirror.url.rsplit(':', 1)[1]}" \
            " redirected to http://localhost, another host or scheme than the index" in r.err, r.err
        one_line(r)
        assert other_seen == []
    # within the index: followed, and nothing sent with it
    seen = _record_authorization(mirror)
    _serve_other_release(mirror, "pypi-attestations", "0.0.19")
    mirror.json("/moved", _release(_file_entry(SDIST, SDIST_SHA, "sdist")))
    mirror.json(path, {}, status=307, headers={"Location": "/moved"})
    r = verify_pypi(attest, mirror, uri)
    assert r.code == 0, r.err
    assert seen and set(seen) == {None}
    # a redirect loop within the index ends
    mirror.json("/moved", {}, status=302, headers={"Location": path})
    r = verify_pypi(attest, mirror, uri)
    assert r.code == 2 and "redirected more than 5 times" in r.err, r.err
    one_line(r)


# -- cosign tag layers: a layer in another document form must not hide a good one --------------

@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from servers import oci_registry

    with oci_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


@pytest.mark.parametrize("planted", ["gcb", "pep740", "pep740-provenance", "keyless-bundle",
                                     "file-bundle"])
def test_a_planted_layer_of_another_document_form_does_not_hide_a_good_one(
        attest, registry, tmp_path, repo, monkeypatch, planted) -> None:
    """Anyone who can push a layer (or a referrer) may plant a document that is no image
    attestation: Cloud Build's provenance (whose reader refuses --key as a usage error) or a
    PyPI attestation (which wants one distribution file). Their usage errors escaped the
    per-document handling, so the image's good, keyed .att was never looked at: exit 2."""
    from test_cosign_tags import DSSE, push_cosign_tag
    from test_store_oci import push_image

    from conftest import interop_path

    monkeypatch.chdir(repo)
    assert attest("keygen", "--out", tmp_path / "k").code == 0
    name = f"k8s/planted-{planted}"
    digest, _ = push_image(registry, name, "v1")
    statement = {"_type": "https://in-toto.io/Statement/v1",
                 "subject": [{"name": f"{registry}/{name}",
                              "digest": {"sha256": digest.removeprefix("sha256:")}}],
                 "predicateType": "https://slsa.dev/provenance/v1",
                 "predicate": {"buildDefinition": {
                     "buildType": "https://example.com/cosign-attest/v1",
                     "externalParameters": {}, "resolvedDependencies": []},
                     "runDetails": {"builder": {"id": "https://example.com/builder"},
                                    "metadata": {}}}}
    (tmp_path / "s.json").write_text(json.dumps(statement))
    assert attest("sign", tmp_path / "s.json", "--key", tmp_path / "k.key", "-o",
                  tmp_path / "s.intoto.json").code == 0
    plant = {"gcb": interop_path("gcb", "v0.2", "gcloud-container-github.json"),
             "pep740": PYPI / f"{SDIST}.publish.attestation",
             "pep740-provenance": PYPI / f"{SDIST}.provenance",
             # a real keyless DSSE bundle (only --key is given: 'name its signer') and a real
             # bundle over a file (no file named: 'pass exactly one --artifact FILE')
             "keyless-bundle": interop_path("sigstore",
                                            "sp_a.dsse.staging-rekor-v2.txt.sigstore.json"),
             "file-bundle": interop_path("sigstore", "sp_bundle_v3.txt.sigstore")}[planted]
    push_cosign_tag(registry, name, digest, "att", [
        (DSSE, plant.read_bytes(), {}),
        (DSSE, (tmp_path / "s.intoto.json").read_bytes(), {})])
    r = attest("verify", f"oci://{registry}/{name}:v1", "--insecure-registry", "--key",
               tmp_path / "k.pub", "--builder-id", "https://example.com/builder")
    assert r.code == 0, (r.code, r.out, r.err)
    assert "layer 2" in r.out
    # alone, the planted layer is that layer's failure, named
    alone, _ = push_image(registry, name, "v2", arch="arm64")
    push_cosign_tag(registry, name, alone, "att", [(DSSE, plant.read_bytes(), {})])
    r = attest("verify", f"oci://{registry}/{name}:v2", "--insecure-registry", "--key",
               tmp_path / "k.pub", "--builder-id", "https://example.com/builder")
    # (a bundle that only a named signer could verify is the command's usage error when
    # no other attachment could be used: exit 2, saying what to name)
    assert r.code == (2 if planted.endswith("bundle") else 1), (r.code, r.out, r.err)
    assert {"gcb": "is not an attestation attached to an image",
            "pep740": "a PyPI attestation describes a distribution file, not an image",
            "pep740-provenance": "a PyPI attestation describes a distribution file, not an image",
            "keyless-bundle": "is a Sigstore bundle: name its signer",
            "file-bundle": "is a Sigstore bundle: name its signer"}[planted] in r.err, r.err


def _pem_der(pem: str):
    """A PEM certificate as its DER (text around the PEM block is no part of it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        return x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)
    except ValueError:
        return pem


def _layer_view(layer: dict):
    """What a passing cosign .sig layer may not change: its payload, the signature, the
    certificate and the Rekor bundle, decoded (the chain annotation is not read)."""
    import base64

    from test_mutation import unb64

    try:
        ann = layer["annotations"]
        rekor = json.loads(ann["dev.sigstore.cosign/bundle"])
        return (base64.b64decode(layer["payload"]), unb64(ann["dev.cosignproject.cosign/signature"]),
                _pem_der(ann["dev.sigstore.cosign/certificate"]),
                rekor["SignedEntryTimestamp"], json.dumps(rekor["Payload"], sort_keys=True))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


def test_mutated_cosign_sig_layers_never_pass(attest, registry, standin, tmp_path) -> None:
    """The mutation generator over a keyless cosign .sig layer (payload, signature,
    certificate and Rekor bundle annotations, media type), each pushed to the real registry
    and read by verify oci://: exit 0/1/2 only, no internal error, and a pass only when
    nothing signed changed."""
    import base64
    import random

    import requests
    from test_cosign_tags import SIMPLE, keyless_annotations, push_cosign_tag, simple_signing
    from test_mutation import SEED, assert_clean, mutate_json
    from test_store_oci import push_image

    name = "k8s/mutated"
    digest, _ = push_image(registry, name, "v1")
    payload = simple_signing(registry, name, digest)
    layer = {"mediaType": SIMPLE, "payload": base64.b64encode(payload).decode(),
             "annotations": keyless_annotations(standin, payload)}
    root = tmp_path / "root.json"
    root.write_text(json.dumps(standin.trusted_root()))
    args = ["verify", f"oci://{registry}/{name}:v1", "--insecure-registry", "--trusted-root",
            root, "--certificate-identity", "release-bot@example.com",
            "--certificate-oidc-issuer", standin.issuer]
    original = _layer_view(layer)
    rng = random.Random(SEED + 43)  # noqa: S311 - reproducible inputs
    counts = {0: 0, 1: 0, 2: 0}
    for i in range(200):
        mutated = mutate_json(rng, layer)
        try:
            data = base64.b64decode(mutated["payload"])
            push_cosign_tag(registry, name, digest, "sig",
                            [(mutated["mediaType"], data, mutated["annotations"])])
        except (KeyError, TypeError, ValueError, AssertionError,
                requests.RequestException):
            continue  # a shape the registry (or cosign's layout) cannot carry
        r = attest(*args)
        assert_clean(r.code, r.err, f"mutation {i}: {json.dumps(mutated)[:300]}")
        if r.code == 0:
            assert _layer_view(mutated) == original, f"mutation {i} passed: {mutated}"
        counts[r.code] += 1
    assert counts[1] + counts[2] > 50, counts  # the rest are shapes no registry carries


# -- Cloud Build: attacks that hold (kept so they keep holding) -----------------------------------

def _gcb(version: str) -> tuple[dict, str]:
    from conftest import interop_path

    gcb = interop_path("gcb")
    case = next(c for c in json.loads((gcb / "MANIFEST.json").read_text())["cases"]
                if c["id"] == f"{version}/valid-main-branch-default/builder-versioned")
    return json.loads((gcb / case["files"]["provenance"]).read_text()), str(gcb / case["image"])


def _verify_gcb(attest, tmp_path, doc: dict, image: str):
    path = tmp_path / "gcb.json"
    path.write_text(json.dumps(doc))
    return attest("verify", path, "--artifact", image, "--builder-id",
                  "https://cloudbuild.googleapis.com/GoogleHostedWorker")


@pytest.mark.parametrize("keyid", [
    # the regional pattern's region is greedy: none of these is a shipped regional key
    "projects/verified-builder/locations/../global-pae-provenanceSigner_1/keyRings/attestor/"
    "cryptoKeys/builtByGCB/cryptoKeyVersions/1",
    "projects/verified-builder/locations/global-pae-google-hosted-worker_1/keyRings/attestor/"
    "cryptoKeys/builtByGCB/cryptoKeyVersions/1",
    "projects/verified-builder/locations/us-west2/invalid/keyRings/attestor/cryptoKeys/"
    "builtByGCB/cryptoKeyVersions/1",
    # a PAE key's id over a raw-payload signature
    "projects/verified-builder/locations/global/keyRings/attestor/cryptoKeys/provenanceSigner/"
    "cryptoKeyVersions/1"])
def test_gcb_key_id_games_fail(attest, tmp_path, keyid) -> None:
    doc, image = _gcb("v0.2")
    doc["provenance_summary"]["provenance"][0]["envelope"]["signatures"][0]["keyid"] = keyid
    r = _verify_gcb(attest, tmp_path, doc, image)
    assert r.code == 1, (r.code, r.err)
    assert "signature: no provenance entry is signed by a Google Cloud Build key: entry 1:" \
        in r.err, r.err


def test_gcb_validly_signed_entry_about_another_image_first(attest, tmp_path) -> None:
    """Google's valid signature over another image's provenance, put first: the entry that
    verifies is the one checked (as slsa-verifier), and it names another image: exit 1."""
    doc, image = _gcb("v0.2")
    other, _ = _gcb("v0.3")
    doc["provenance_summary"]["provenance"].insert(0, other["provenance_summary"]["provenance"][0])
    r = _verify_gcb(attest, tmp_path, doc, image)
    assert r.code == 1, (r.code, r.err)
    assert "subject: no signed subject has the image's digest sha256:" in r.err, r.err


def test_gcb_payload_type_is_required_exactly(attest, tmp_path) -> None:
    doc, image = _gcb("v0.2")
    doc["provenance_summary"]["provenance"][0]["envelope"]["payloadType"] = \
        "application/vnd.in-toto+json; charset=utf-8"
    r = _verify_gcb(attest, tmp_path, doc, image)
    assert r.code == 1 and "payloadType is 'application/vnd.in-toto+json; charset=utf-8', " \
        "not 'application/vnd.in-toto+json'" in r.err, r.err


# -- cosign .sig: attacks that hold ------------------------------------------------------------------

def test_cosign_rekor_bundle_of_another_signing_fails(attest, registry, standin, tmp_path) -> None:
    """Each annotation from a real signing, but the Rekor bundle (a valid SET) of another
    signing of the same payload, or of another payload, by the same identity."""
    from test_cosign_tags import SIMPLE, keyless_annotations, push_cosign_tag, simple_signing
    from test_store_oci import push_image

    name = "k8s/swapped-rekor"
    digest, _ = push_image(registry, name, "v1")
    payload = simple_signing(registry, name, digest)
    mine, again = keyless_annotations(standin, payload), keyless_annotations(standin, payload)
    other = keyless_annotations(standin, payload.replace(b'"optional": null', b'"optional": {}'))
    root = tmp_path / "root.json"
    root.write_text(json.dumps(standin.trusted_root()))
    args = ["verify", f"oci://{registry}/{name}:v1", "--insecure-registry", "--trusted-root",
            root, "--certificate-identity", "release-bot@example.com",
            "--certificate-oidc-issuer", standin.issuer]
    # each signing has its own certificate (an ephemeral key): the logged one differs
    for bundle, why in ((again, "the Rekor entry names another certificate"),
                        (other, "the Rekor entry names another certificate")):
        push_cosign_tag(registry, name, digest, "sig", [
            (SIMPLE, payload, {**mine, "dev.sigstore.cosign/bundle":
                               bundle["dev.sigstore.cosign/bundle"]})])
        r = attest(*args)
        assert r.code == 1, (r.code, r.err)
        assert why in r.err, r.err
    # the annotations of one signing together pass; with only --key given, a keyless
    # signature is no signature by that key
    push_cosign_tag(registry, name, digest, "sig", [(SIMPLE, payload, mine)])
    assert attest(*args).code == 0
    assert attest("keygen", "--out", tmp_path / "k").code == 0
    r = attest("verify", f"oci://{registry}/{name}:v1", "--insecure-registry", "--key",
               tmp_path / "k.pub")
    assert r.code == 1 and "signed keyless: name its signer with --certificate-identity" \
        in r.err, r.err


def test_cosign_att_about_another_image_fails(attest, registry, standin, tmp_path) -> None:
    """A validly signed and logged keyless .att whose statement is about image A, placed
    under image B's tag (same repository, same name): it attests A, not B."""
    from test_cosign_tags import DSSE, _provenance, keyless_attestation, push_cosign_tag
    from test_store_oci import push_image

    name = "k8s/att-elsewhere"
    a, _ = push_image(registry, name, "a")
    b, _ = push_image(registry, name, "b", arch="arm64")
    envelope, ann = keyless_attestation(standin, _provenance(registry, name, a,
                                                             "https://example.com/builder"))
    push_cosign_tag(registry, name, b, "att", [(DSSE, envelope, ann)])
    root = tmp_path / "root.json"
    root.write_text(json.dumps(standin.trusted_root()))
    r = attest("verify", f"oci://{registry}/{name}:b", "--insecure-registry", "--trusted-root",
               root, "--certificate-identity", "release-bot@example.com",
               "--certificate-oidc-issuer", standin.issuer, "--builder-id",
               "https://example.com/builder")
    assert r.code == 1, (r.code, r.err)
    assert f"digest mismatch: subject '{registry}/{name}' has {a}" in r.err, r.err


# -- unbounded verification work inside the size limit ---------------------------------------------

def test_gcb_entry_and_signature_counts_are_bounded(attest, tmp_path) -> None:
    """60,000 signatures by a Google key id in one 13 MB entry took ~10 s of ECDSA checks
    (256 MiB documents are read): counts are bounded, each refusal one line (exit 2)."""
    doc, image = _gcb("v0.2")
    entry = doc["provenance_summary"]["provenance"][0]
    sig = entry["envelope"]["signatures"][0]
    entry["envelope"]["signatures"] = [sig] * 9
    r = _verify_gcb(attest, tmp_path, doc, image)
    assert r.code == 2 and "provenance_summary.provenance[0].envelope.signatures has 9 " \
        "signatures, more than 8; refusing it" in r.err, r.err
    entry["envelope"]["signatures"] = [sig]
    doc["provenance_summary"]["provenance"] = [entry] * 65
    r = _verify_gcb(attest, tmp_path, doc, image)
    assert r.code == 2 and "provenance_summary.provenance has 65 entries, more than 64; " \
        "refusing it" in r.err, r.err
    doc["provenance_summary"]["provenance"] = [entry] * 64
    assert _verify_gcb(attest, tmp_path, doc, image).code == 0


def test_dsse_signature_count_is_bounded(attest, tmp_path) -> None:
    """Each of an envelope's signatures is tried against each --key: 65 are refused."""
    from conftest import interop_path

    base = interop_path("keyed")
    env = json.loads((base / "ed25519.intoto.json").read_text())
    env["signatures"] = env["signatures"][:1] * 65
    (tmp_path / "e.json").write_text(json.dumps(env))
    r = attest("verify", tmp_path / "e.json", "--key", base / "ed25519.pub", "--artifact",
               base / "artifacts" / "kubectl")
    assert r.code == 2 and "65 signatures, more than the 64 an envelope may carry; refusing " \
        "it" in r.err, r.err


def test_limits_page_states_the_counts() -> None:
    from pathlib import Path

    from attester.signing import dsse
    from attester.stores import cosign_tags
    from attester.verify import gcb_provenance
    from attester.verify.sigstore import timestamps

    page = (Path(__file__).parent.parent / "docs" / "limits.md").read_text()
    stated = {"| signatures of one DSSE envelope | 64 |": dsse.MAX_SIGNATURES == 64,
              "Cloud Build's provenance | 64 entries |": gcb_provenance.MAX_ENTRIES == 64,
              "one Cloud Build occurrence | 8 |": gcb_provenance.MAX_SIGNATURES == 8,
              "timestamps of one bundle | 32 |": timestamps.MAX_TIMESTAMPS == 32,
              "`.att` tag | 30 |": cosign_tags.MAX_LAYERS == 30}
    for row, agrees in stated.items():
        assert row in page, f"docs/limits.md no longer states {row!r}"
        assert agrees, f"docs/limits.md states {row!r}, the code enforces another value"


def test_a_planted_line_of_another_form_does_not_hide_a_good_one(attest, tmp_path) -> None:
    """JSON Lines as a release ships them (*.intoto.jsonl): a keyless bundle's line, when
    only --key is given, raised its usage error for the whole file (exit 2) and the good
    keyed line after it was never read."""
    from conftest import interop_path

    keyed = interop_path("keyed")
    lines = [json.dumps(json.loads(interop_path(
                 "sigstore", "sp_a.dsse.staging-rekor-v2.txt.sigstore.json").read_text())),
             json.dumps(json.loads((keyed / "ed25519.intoto.json").read_text()))]
    (tmp_path / "all.intoto.jsonl").write_text("\n".join(lines) + "\n")
    args = ["--key", keyed / "ed25519.pub", "--artifact", keyed / "artifacts" / "kubectl"]
    r = attest("verify", tmp_path / "all.intoto.jsonl", *args)
    assert r.code == 0, (r.code, r.out, r.err)
    # alone, the bundle's line is the command's usage error, saying what to name
    (tmp_path / "one.intoto.jsonl").write_text(lines[0] + "\n" + lines[0] + "\n")
    r = attest("verify", tmp_path / "one.intoto.jsonl", *args)
    assert r.code == 2 and "is a Sigstore bundle: name its signer" in r.err, r.err


# -- managed-key bundles: attacks that hold ----------------------------------------------------------

def test_managed_key_bundle_hint_and_digest_algorithm_games(attest, standin, tmp_path) -> None:
    """The bundle's key hint and its declared message digest are unsigned: a hint naming
    another trusted key changes nothing (the logged key decides), and a declared SHA-512
    digest of the very artifact, over a signature logged for its SHA-256, is refused."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    def pub(key, name):
        path = tmp_path / name
        path.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return path

    data = b"release artifact\n"
    artifact = tmp_path / "artifact.txt"
    artifact.write_bytes(data)
    root = tmp_path / "root.json"
    root.write_text(json.dumps(standin.trusted_root()))
    signer, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP384R1())
    doc = standin.keyed_bundle(signer, data=data)
    doc["verificationMaterial"]["publicKey"] = {"hint": "other.pub"}
    bundle = tmp_path / "b.sigstore.json"
    bundle.write_text(json.dumps(doc))
    base = ["verify", bundle, "--trusted-root", root, "--offline", "--artifact", artifact,
            "--key", pub(other, "other.pub"), "--key", pub(signer, "signer.pub")]
    r = attest(*base)
    assert r.code == 0, r.err
    assert f"Sigstore bundle signed by {tmp_path / 'signer.pub'}" in r.out, r.out
    doc["messageSignature"]["messageDigest"] = {
        "algorithm": "SHA2_512", "digest": base64.b64encode(hashlib.sha512(data).digest()).decode()}
    bundle.write_text(json.dumps(doc))
    r = attest(*base)
    assert r.code == 1 and "Bundle message digest mismatch" in r.err, r.err
    # only the other key trusted: the hint does not make it the signer
    r = attest("verify", bundle, "--trusted-root", root, "--offline", "--artifact", artifact,
               "--key", tmp_path / "other.pub")
    assert r.code == 1 and "signed by a key that is not trusted" in r.err, r.err
