"""DSSE: PAE known answers from the spec, base64 leniency, envelope parsing errors."""

from __future__ import annotations

import base64

import pytest

from attester.errors import InputError
from attester.signing import keys
from attester.signing.dsse import Envelope, b64decode, pae, parse_envelope
from attester.signing.signers import sign_envelope
from attester.signing.signers.keyfile import KeyFileSigner


def test_pae_known_answer_from_dsse_spec() -> None:
    # protocol.md, "Test Vectors": the PAE of the spec's example.
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"
    assert pae("", b"") == b"DSSEv1 0  0 "


@pytest.mark.parametrize("encode", [
    base64.b64encode,
    base64.urlsafe_b64encode,
    lambda b: base64.b64encode(b).rstrip(b"="),
    lambda b: base64.urlsafe_b64encode(b).rstrip(b"="),
])
def test_b64decode_accepts_the_encodings_dsse_allows(encode) -> None:
    raw = bytes(range(256))
    assert b64decode(encode(raw).decode(), where="x") == raw


def test_b64decode_rejects_garbage() -> None:
    with pytest.raises(InputError, match="payload: not valid base64"):
        b64decode("not*base64!", where="payload")


@pytest.mark.parametrize(("doc", "message"), [
    ([], "expected a DSSE envelope"),
    ({"payload": "", "signatures": []}, "field 'payloadType' is missing"),
    ({"payloadType": 3, "payload": "", "signatures": []}, "payloadType must be a string"),
    ({"payloadType": "t", "payload": "", "signatures": {}}, "signatures must be a list"),
    ({"payloadType": "t", "payload": "", "signatures": [{"keyid": "a"}]},
     r"signatures\[0\] has no 'sig'"),
])
def test_parse_envelope_errors_say_what(doc, message) -> None:
    with pytest.raises(InputError, match=message):
        parse_envelope(doc, where="env.json")


@pytest.mark.parametrize("key_type", keys.KEY_TYPES)
def test_signature_covers_exactly_the_pae(key_type: str) -> None:
    key = keys.generate(key_type)
    env = sign_envelope("application/vnd.in-toto+json", b'{"a":1}', [KeyFileSigner(key)])
    pub = key.public_key()
    assert env.signatures[0].keyid == keys.keyid(pub)
    assert keys.verify(pub, env.signatures[0].sig, env.pae())
    # One byte of payload, or the payload type, changes the PAE and breaks the signature.
    for other in (Envelope(env.payload_type, b'{"a":2}'), Envelope("text/plain", env.payload)):
        assert not keys.verify(pub, env.signatures[0].sig, other.pae())


def test_envelope_round_trip_keeps_payload_bytes() -> None:
    payload = b'{ "b": 1,\n  "a": 2 }'  # deliberately not canonical
    env = Envelope("application/vnd.in-toto+json", payload)
    assert parse_envelope(env.to_json(), where="x").payload == payload
