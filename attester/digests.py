"""Digests named on the command line (``sha256:HEX``, ``NAME@sha256:HEX``), validated once.

Every digest a user types is checked here: a known algorithm and exactly that
algorithm's hex length. An empty or short digest never reaches a comparison, so
``NAME@sha256:`` cannot match a subject that has no sha256.
"""

from __future__ import annotations

import os
import re

from attester.errors import UsageError

#: Hex length of each algorithm a subject digest may use.
HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX = re.compile(r"[0-9a-fA-F]+")


def parse(spec: str, *, what: str = "digest") -> tuple[str, str]:
    """``ALG:HEX`` -> (alg, lowercase hex), or a usage error naming what is wrong."""
    alg, sep, hexd = spec.partition(":")
    alg = alg.lower()
    if not sep or alg not in HEX_LENGTHS:
        raise UsageError(f"{what} {spec!r}: expected ALGORITHM:HEX with ALGORITHM one of "
                         f"{', '.join(HEX_LENGTHS)}")
    want = HEX_LENGTHS[alg]
    if len(hexd) != want or not _HEX.fullmatch(hexd):
        raise UsageError(f"{what} {spec!r}: a {alg} digest is exactly {want} hex digits "
                         f"(got {len(hexd)} characters)")
    return alg, hexd.lower()


def artifact_ref(spec: str) -> tuple[str, str, str] | None:
    """(name, alg, hex) when ``spec`` names an artifact by digest, else None (a path).

    ``NAME@ALG:HEX`` or a bare ``@ALG:HEX`` (from ``--digest``); a file of that name
    that exists wins, so odd file names still work.
    """
    name, at, digest = spec.rpartition("@")
    if not at or ":" not in digest or "://" in spec:
        return None
    if digest.partition(":")[0].lower() not in HEX_LENGTHS or os.path.exists(spec):
        return None
    alg, hexd = parse(digest, what=f"artifact {spec}" if name else "--digest")
    return name or f"{alg}:{hexd}", alg, hexd


def is_hex_digest(alg: str, value: object) -> bool:
    """``value`` is a hex digest of exactly ``alg``'s length: what a document's digest
    must be before it takes part in any comparison (a chain link, an images.txt line)."""
    return (isinstance(value, str) and len(value) == HEX_LENGTHS.get(alg, -1)
            and _HEX.fullmatch(value) is not None)
