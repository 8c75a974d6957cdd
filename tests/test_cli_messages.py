"""What the command line says: one line per failure, the right words, the right stream
(issue 18 items 5, 6, 7, 9-13, 15)."""

from __future__ import annotations


def test_keygen_prints_two_plain_lines_and_warns_the_key_is_not_encrypted(attest, tmp_path,
                                                                          monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ATTEST_PASSPHRASE", raising=False)
    r = attest("keygen", "--out", "k")
    assert r.code == 0
    assert "\\x0a" not in r.err
    lines = r.err.splitlines()
    assert lines[0] == "wrote k.key (ecdsa-p256, NOT encrypted) and k.pub"
    assert lines[1].startswith("keyid ")
    assert "k.key is not encrypted" in lines[2] and "ATTEST_PASSPHRASE" in lines[2]
    monkeypatch.setenv("ATTEST_PASSPHRASE", "long enough passphrase")
    r = attest("keygen", "--out", "e", "--quiet")
    assert r.code == 0 and r.err == ""
