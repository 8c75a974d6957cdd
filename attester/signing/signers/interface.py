"""The signer plug-in interface: one implementation per way of holding a key."""

from __future__ import annotations

from typing import Protocol


class Signer(Protocol):
    """Signs DSSE PAE bytes. ``keyid`` goes into the envelope as a hint only."""

    @property
    def keyid(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...
