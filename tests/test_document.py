"""The one reader (attester/verify/document.py): each real document is read as its form,
once, and the verify paths act on that form (issue 18 item 16)."""

from __future__ import annotations

import json

import pytest

from attester.verify import document

from conftest import interop_path


def _read(*parts: str) -> document.Document | document.JsonLines:
    return document.read(interop_path(*parts).read_bytes(), where="t")


@pytest.mark.parametrize(("parts", "version", "keyed"), [
    (("conformance", "happy-path-v0.1", "bundle.sigstore.json"), "0.1", False),
    (("conformance", "happy-path-v0.2", "bundle.sigstore.json"), "0.2", False),
    (("conformance", "happy-path-v0.3", "bundle.sigstore.json"), "0.3", False),
    (("conformance", "happy-path-v0.3-new-mediaType", "bundle.sigstore.json"), "0.3", False),
    (("conformance", "managed-key-happy-path", "bundle.sigstore.json"), "0.3", True),
    (("realworld", "sv_gha_maven-v2.0.0-push-v14.build.slsa"), "0.2", False),
])
def test_sigstore_bundles_are_read_with_their_version_and_signer(parts, version, keyed) -> None:
    read = _read(*parts)
    assert isinstance(read, document.Document)
    assert read.form == document.SigstoreBundle(media_type=read.json["mediaType"],
                                                version=version, keyed=keyed)


@pytest.mark.parametrize(("parts", "form"), [
    (("keyed", "ecdsa-p256.intoto.json"), document.DsseEnvelope()),
    (("realworld", "sv_npm_gundam-visor-cli-v1-tag.tgz.json"),
     document.NpmRegistryAttestations()),
    (("pypi", "rfc8785-0.1.2-py3-none-any.whl.attestation"), document.PypiAttestation()),
    (("pypi", "pypi_attestations-0.0.19.tar.gz.provenance"), document.PypiProvenance()),
    (("gcb", "v0.2", "gcloud-container-github.json"), document.CloudBuildProvenance()),
    (("keyed", "statement.json"), document.Unrecognised()),
])
def test_each_form_is_read_as_itself(parts, form) -> None:
    read = _read(*parts)
    assert isinstance(read, document.Document)
    assert read.form == form


def test_a_file_of_several_is_json_lines(tmp_path) -> None:
    env = json.loads(interop_path("keyed", "ed25519.intoto.json").read_text())
    line = json.dumps(env, separators=(",", ":")).encode()
    read = document.read(line + b"\n" + line + b"\n", where="t")
    assert read == document.JsonLines(lines=(line, line))
    one = _read("realworld", "gh_github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl")
    assert isinstance(one, document.Document)  # one line is one document
    assert isinstance(one.form, document.SigstoreBundle)


def test_a_hostile_document_fitting_two_forms_is_read_as_the_first() -> None:
    """The order is the module's list: Cloud Build's key wins over a bundle's shape, and a
    bundle's media type with an envelope's fields is a bundle (its loader refuses it)."""
    bundle = json.loads(interop_path("conformance", "happy-path-v0.3", "bundle.sigstore.json")
                        .read_text())
    assert document.classify({**bundle, "provenance_summary": {}}) == \
        document.CloudBuildProvenance()
    assert isinstance(document.classify({**bundle, "payload": "", "payloadType": ""}),
                      document.SigstoreBundle)
    assert document.classify({"mediaType": "application/vnd.dev.sigstore.bundle.v9+json"}) \
        == document.SigstoreBundle(media_type="application/vnd.dev.sigstore.bundle.v9+json",
                                   version=None, keyed=False)
    assert document.classify([bundle]) == document.Unrecognised()


def test_an_unknown_form_is_refused_in_one_line(attest, tmp_path) -> None:
    """Unrecognised fails closed with the same line wherever it is verified."""
    stmt = interop_path("keyed", "statement.json")
    r = attest("verify", stmt, "--key", interop_path("keyed", "ed25519.pub"),
               "--builder-id", "https://example.com/b")
    assert r.code == 2
    assert r.err.strip().splitlines()[0] == (
        f"attest: error: attestation {stmt}: neither a DSSE envelope nor a Sigstore bundle; is it "
        "an unsigned statement? sign it with 'attest sign'")
