"""Subjects from an SPDX 2.x SBOM (tag-value or JSON, through ``spdx-tools``), as krel
takes the release's subject list from its SBOM, each checksum checked against the file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from attester.errors import InputError, MissingExtraError, StoreError
from attester.model.models import ResourceDescriptor

_ALGS = {"SHA256": "sha256", "SHA384": "sha384", "SHA512": "sha512", "SHA1": "sha1"}


def sbom_files(path: str) -> list[tuple[str, dict[str, str]]]:
    """(name, digests) for every file the SBOM lists with a usable checksum."""
    try:
        from spdx_tools.spdx.parser.parse_anything import parse_file
    except ImportError:
        raise MissingExtraError("sbom", "spdx-tools") from None
    try:
        doc = parse_file(path)
    except FileNotFoundError:
        raise InputError(f"SBOM {path}: no such file") from None
    except Exception as e:  # noqa: BLE001 - spdx-tools raises its own and plain errors
        msg = getattr(e, "messages", None) or [str(e)]
        raise InputError(f"SBOM {path}: not a readable SPDX document: {str(msg[0])[:200]}") \
            from None
    out = []
    for f in doc.files:
        digests = {_ALGS[c.algorithm.name]: c.value.lower() for c in f.checksums
                   if c.algorithm.name in _ALGS}
        if "sha256" not in digests and "sha512" not in digests:
            continue  # SPDX requires SHA1 only; a SHA1-only file cannot be a subject
        digests.pop("sha1", None)
        out.append((f.name.removeprefix("./"), digests))
    if not out:
        raise InputError(f"SBOM {path}: lists no files with a SHA-256 or SHA-512 checksum")
    return out


def subjects_from_sbom(files: Sequence[tuple[str, Mapping[str, str]]],
                       found: Mapping[str, Mapping[str, str]], *, sbom: str
                       ) -> tuple[ResourceDescriptor, ...]:
    """Each SBOM file must be in the store (by name or path suffix) with its digests."""
    subjects = []
    for name, digests in files:
        match = found.get(name) or next((d for n, d in found.items()
                                         if n.endswith("/" + name)), None)
        if match is None:
            raise StoreError(f"SBOM {sbom}: lists {name!r}, which is not among the artifacts")
        for alg, value in digests.items():
            if alg in match and match[alg] != value:
                raise StoreError(f"SBOM {sbom}: {name!r} has {alg} {match[alg]} but the SBOM "
                                 f"says {value}")
        if not any(alg in match for alg in digests):
            raise StoreError(f"SBOM {sbom}: no digest of {name!r} to compare with")
        subjects.append(ResourceDescriptor(name=name, digest=dict(digests)))
    return tuple(subjects)
