"""Subjects named by a checksums file, or by digest on the command line.

``sha256sum``/``sha512sum`` output (``HEX  NAME``, ``HEX *NAME`` in binary mode) is what
GoReleaser's ``checksums.txt``, Kubernetes' ``SHA256SUMS`` and actions/attest's
``subject-checksums`` use; BSD-style ``SHA256 (NAME) = HEX`` lines are read too. The
algorithm follows from the hex length. Each named file that is present next to the
checksums file (or in the stores given) must have the listed digest: an attestation
never vouches for a checksum the attester can see is wrong.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from attester.digests import HEX_LENGTHS, parse
from attester.errors import InputError, UsageError
from attester.model.models import ResourceDescriptor

_GNU = re.compile(r"^\\?(?P<hex>[0-9a-fA-F]+) [ *](?P<name>.+)$")
_BSD = re.compile(r"^(?P<alg>SHA256|SHA384|SHA512) \((?P<name>.+)\) = (?P<hex>[0-9a-fA-F]+)$")
_ALG_OF_LENGTH = {n: a for a, n in HEX_LENGTHS.items()}


def parse_checksums(data: bytes, *, where: str) -> list[tuple[str, str, str]]:
    """(name, alg, hex) per line; a line that is neither format is an error naming it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        m = _BSD.match(line.strip()) or _GNU.match(line.rstrip("\r"))
        alg = m.groupdict().get("alg") if m else None
        hexd = m["hex"] if m else ""
        want = _ALG_OF_LENGTH.get(len(hexd))
        if m is None or want is None or (alg is not None and alg.lower() != want):
            raise InputError(f"{where} line {n}: not a checksum line (HEX  NAME, as "
                             "sha256sum writes)")
        name = m["name"].removeprefix("./")
        if name.startswith("/") or ".." in Path(name).parts or "\0" in name:
            raise InputError(f"{where} line {n}: {name!r} is not a relative file name")
        out.append((name, want, hexd.lower()))
    if not out:
        raise InputError(f"{where}: lists no checksums")
    return out


def subjects_from_checksums(path: str, *, found: Mapping[str, Mapping[str, str]],
                            stores: Sequence[str] = ()) -> list[ResourceDescriptor]:
    """A subject per line; a file present beside ``path`` (or in ``found``, the stores'
    digests by name relative to their store) must agree with the line. With ``stores``
    (``--artifacts``), every line's file must be in one of them: a line the stores cannot
    check is an error, whatever the store (gs://, oci://, github-release://, file://)."""
    from attester.hashing import hash_file
    from attester.jsonio import read_bytes

    lines = parse_checksums(read_bytes(path, what="checksums"), where=f"checksums {path}")
    base = Path(path).parent
    subjects = []
    for name, alg, hexd in lines:
        have = found.get(name)
        local = base / name
        if have is None and stores:
            raise InputError(f"checksums {path}: {name} is in none of the --artifacts stores "
                             f"({', '.join(stores)}); its line cannot be checked")
        if have is None and os.path.isfile(local):
            have = hash_file(str(local), (alg,))
        if have is not None and alg not in have:
            raise InputError(f"checksums {path}: {name}: no {alg} digest to compare its line "
                             "with")
        if have is not None and have[alg].lower() != hexd:
            raise InputError(f"checksums {path}: {name} has {alg}:{have[alg]}, the file "
                             f"says {alg}:{hexd}")
        subjects.append(ResourceDescriptor(name=name, digest={alg: hexd}))
    return subjects


def subjects_from_digests(specs: Sequence[str]) -> list[ResourceDescriptor]:
    """``--subject-digest NAME=ALG:HEX``: artifacts the attester cannot read."""
    out = []
    for spec in specs:
        name, eq, digest = spec.partition("=")
        if not eq or not name:
            raise UsageError(f"--subject-digest {spec!r}: expected NAME=sha256:HEX")
        alg, hexd = parse(digest, what=f"--subject-digest {name}")
        out.append(ResourceDescriptor(name=name, digest={alg: hexd}))
    return out
