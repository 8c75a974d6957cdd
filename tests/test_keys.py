"""keygen and key loading: formats, passphrases, and what never reaches an error."""

from __future__ import annotations

import stat

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from attester.errors import InputError, UsageError
from attester.signing import keys


@pytest.mark.parametrize(("key_type", "cls"), [
    ("ecdsa-p256", ec.EllipticCurvePrivateKey),
    ("ecdsa-p384", ec.EllipticCurvePrivateKey),
    ("ed25519", ed25519.Ed25519PrivateKey),
    ("rsa-3072", rsa.RSAPrivateKey),
])
def test_keygen_writes_pkcs8_and_spki(attest, tmp_path, monkeypatch, key_type, cls) -> None:
    monkeypatch.delenv("ATTEST_PASSPHRASE", raising=False)
    r = attest("keygen", "--type", key_type, "--out", tmp_path / "k")
    assert r.code == 0, r.err
    pem = (tmp_path / "k.key").read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600
    assert (tmp_path / "k.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert isinstance(keys.load_private(tmp_path / "k.key", None), cls)
    keys.load_public(tmp_path / "k.pub")


def test_keygen_encrypts_with_passphrase_and_loading_needs_it(attest, tmp_path, monkeypatch):
    secret = "correct horse battery staple"
    monkeypatch.setenv("ATTEST_PASSPHRASE", secret)
    r = attest("keygen", "--out", tmp_path / "k")
    assert r.code == 0
    assert secret not in r.out + r.err
    pem = (tmp_path / "k.key").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(UsageError, match="is encrypted"):
        keys.load_private(tmp_path / "k.key", None)
    with pytest.raises(InputError, match="cannot decrypt") as e:
        keys.load_private(tmp_path / "k.key", b"wrong passphrase")
    assert "wrong passphrase" not in str(e.value)
    assert isinstance(keys.load_private(tmp_path / "k.key", secret.encode()),
                      ec.EllipticCurvePrivateKey)


def test_keygen_refuses_to_overwrite(attest, tmp_path) -> None:
    (tmp_path / "k.key").write_text("precious")
    r = attest("keygen", "--out", tmp_path / "k")
    assert r.code == 2
    assert "already exists" in r.err
    assert (tmp_path / "k.key").read_text() == "precious"


def test_keygen_unknown_type_is_usage_error(attest, tmp_path) -> None:
    r = attest("keygen", "--type", "dsa-1024", "--out", tmp_path / "k")
    assert r.code == 2
    assert "invalid choice" in r.err


def test_key_loading_errors(tmp_path) -> None:
    key = keys.generate("ed25519")
    (tmp_path / "pub.pem").write_bytes(keys.public_pem(key.public_key()))
    (tmp_path / "priv.pem").write_bytes(keys.private_pem(key, None))
    (tmp_path / "junk.pem").write_text("hello")
    with pytest.raises(UsageError, match="is a public key"):
        keys.load_private(tmp_path / "pub.pem", None)
    with pytest.raises(UsageError, match="is a private key"):
        keys.load_public(tmp_path / "priv.pem")
    with pytest.raises(InputError, match="not a PEM public key"):
        keys.load_public(tmp_path / "junk.pem")
    with pytest.raises(InputError, match="no such file"):
        keys.load_public(tmp_path / "missing.pem")


def test_small_rsa_and_odd_curves_are_refused(tmp_path) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (tmp_path / "small.pub").write_bytes(keys.public_pem(small.public_key()))
    with pytest.raises(InputError, match="too small"):
        keys.load_public(tmp_path / "small.pub")
    k1 = ec.generate_private_key(ec.SECP256K1())
    (tmp_path / "k1.pub").write_bytes(keys.public_pem(k1.public_key()))
    with pytest.raises(InputError, match="secp256k1 is not supported"):
        keys.load_public(tmp_path / "k1.pub")
