"""Statements must also satisfy the in-toto-attestation package's own v1 types, at sign time
(strictly) and at verify time (leniently: unknown fields allowed, known ones typed)."""

from __future__ import annotations

import json

from test_fail_closed import ARTIFACT, SHA, STAGE_TYPE, provenance, sign

from attester.model.intoto_types import statement_problem
from attester.signing import keys


def test_every_real_statement_in_shared_passes_the_lenient_check() -> None:
    from conftest import interop_path

    folder = interop_path("provenance")
    docs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    assert docs
    for doc in docs:
        assert statement_problem(doc, strict=False) is None


def test_a_timestamp_the_types_cannot_read_fails_verification(attest, tmp_path) -> None:
    stmt = provenance(STAGE_TYPE, {"kubectl": SHA})
    stmt["predicate"]["runDetails"]["metadata"] = {"startedOn": "yesterday afternoon"}
    key = keys.generate("ed25519")
    (tmp_path / "k.pub").write_bytes(keys.public_pem(key.public_key()))
    (tmp_path / "kubectl").write_bytes(ARTIFACT)
    env = sign(tmp_path / "p.intoto.json", stmt, key)
    r = attest("verify", env, "--key", tmp_path / "k.pub", "--artifact", tmp_path / "kubectl")
    assert r.code == 1
    assert "in-toto-types" in r.err and "runDetails.metadata.startedOn" in r.err


def test_unknown_fields_pass_verify_but_not_sign(attest, tmp_path) -> None:
    stmt = provenance(STAGE_TYPE, {"kubectl": SHA})
    stmt["predicate"]["runDetails"]["builder"]["shoeSize"] = "42"
    assert statement_problem(stmt, strict=False) is None
    problem = statement_problem(stmt, strict=True)
    assert problem is not None and "shoeSize" in problem


def test_sign_refuses_what_the_types_refuse(attest, tmp_path) -> None:
    stmt = provenance("https://builder.example/buildtypes/custom/v1", {"kubectl": SHA})
    stmt["predicate"]["runDetails"]["metadata"] = {"finishedOn": "2024-13-45T99:00:00Z"}
    (tmp_path / "s.json").write_text(json.dumps(stmt))
    key = keys.generate("ed25519")
    (tmp_path / "k.key").write_bytes(keys.private_pem(key, None))
    r = attest("sign", tmp_path / "s.json", "--key", tmp_path / "k.key",
               "--output", tmp_path / "out.json")
    assert r.code == 2, r.err
    assert "in-toto-attestation" in r.err and "finishedOn" in r.err
    assert not (tmp_path / "out.json").exists()


def test_v01_statements_are_left_to_our_schemas() -> None:
    assert statement_problem({"_type": "https://in-toto.io/Statement/v0.1"}, strict=True) is None


def test_subjects_are_judged_by_shape_with_the_same_verdict() -> None:
    good = provenance("https://builder.example/buildtypes/custom/v1",
                      {f"f{i}": SHA for i in range(500)})
    assert statement_problem(good, strict=True) is None
    # one odd subject among many of the common shape is still found
    for odd in ({"name": "x", "digest": {"sha256": 5}},          # a number for a string
                {"name": "x", "digest": {"sha256": SHA}, "content": "not base64!"},
                {"name": "", "digest": {}},                       # nothing set
                {"name": "x", "digest": {"sha256": SHA}, "annotations": "a string"}):
        bad = {**good, "subject": [*good["subject"][:250], odd, *good["subject"][250:]]}
        assert statement_problem(bad, strict=False) is not None, odd


# -- issue 17 item 5: the predicate is optional in in-toto v1 ---------------------------------

PUBLISH = "https://docs.pypi.org/attestations/publish/v1"


def _publish_statement(predicate: object = None, *, drop: bool = False) -> dict:
    stmt = {"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "kubectl", "digest": {"sha256": SHA}}],
            "predicateType": PUBLISH, "predicate": predicate}
    if drop:
        del stmt["predicate"]
    return stmt


def test_a_null_empty_or_absent_predicate_is_a_valid_statement() -> None:
    for stmt in (_publish_statement(None), _publish_statement({}), _publish_statement(drop=True)):
        assert statement_problem(stmt, strict=True) is None
        assert statement_problem(stmt, strict=False) is None
    # the rest is still judged: no subject, or a predicate that is not an object
    assert statement_problem({**_publish_statement(None), "subject": []},
                             strict=False) == "At least one subject required"
    assert "Struct must be in a dict" in str(statement_problem(_publish_statement([]),
                                                               strict=False))


def test_sign_and_verify_a_statement_without_predicate(attest, tmp_path) -> None:
    key = keys.generate("ed25519")
    (tmp_path / "k.key").write_bytes(keys.private_pem(key, None))
    (tmp_path / "k.pub").write_bytes(keys.public_pem(key.public_key()))
    (tmp_path / "kubectl").write_bytes(ARTIFACT)
    for name, stmt in (("null", _publish_statement(None)), ("empty", _publish_statement({})),
                       ("absent", _publish_statement(drop=True))):
        (tmp_path / f"{name}.json").write_text(json.dumps(stmt))
        r = attest("sign", tmp_path / f"{name}.json", "--key", tmp_path / "k.key",
                   "--output", tmp_path / f"{name}.intoto.json")
        assert r.code == 0, (name, r.err)
        r = attest("verify", tmp_path / f"{name}.intoto.json", "--key", tmp_path / "k.pub",
                   "--artifact", tmp_path / "kubectl", "--predicate-type", PUBLISH)
        assert r.code == 0, (name, r.err)
        assert f"ok  predicate-type: {PUBLISH}" in r.out


def test_sign_still_wants_a_predicate_for_slsa_provenance(attest, tmp_path) -> None:
    stmt = {**_publish_statement(None), "predicateType": "https://slsa.dev/provenance/v1"}
    (tmp_path / "s.json").write_text(json.dumps(stmt))
    key = keys.generate("ed25519")
    (tmp_path / "k.key").write_bytes(keys.private_pem(key, None))
    r = attest("sign", tmp_path / "s.json", "--key", tmp_path / "k.key")
    assert r.code == 2
    assert "predicate: does not match slsa-provenance-v1.schema.json: (root): None is not of " \
        "type 'object'" in r.err, r.err
