"""A signer backed by a PEM private key file."""

from __future__ import annotations

from pathlib import Path

import attrs

from attester.signing import keys


@attrs.frozen
class KeyFileSigner:
    key: keys.PrivateKey = attrs.field(repr=False)

    @classmethod
    def from_file(cls, path: str | Path) -> KeyFileSigner:
        return cls(keys.load_private(path, keys.passphrase_from_env()))

    @property
    def keyid(self) -> str:
        return keys.keyid(keys.public_of(self.key))

    def sign(self, data: bytes) -> bytes:
        return keys.sign(self.key, data)
