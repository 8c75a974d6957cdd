"""PEP 740's vocabulary, shared by signing (``attest sign --format pep740``) and verifying:
PyPI's attestation types and how a distribution's file name is compared."""

from __future__ import annotations

from typing import Any

from attester.distnames import parse_dist_name
from attester.model.models import SLSA_PROVENANCE_V1

PUBLISH_V1 = "https://docs.pypi.org/attestations/publish/v1"
#: The attestation types PyPI accepts (pypi-attestations' AttestationType)
PYPI_TYPES = (PUBLISH_V1, SLSA_PROVENANCE_V1)

__all__ = ["PUBLISH_V1", "PYPI_TYPES", "parse_dist_name", "statement_problem"]


def statement_problem(doc: Any) -> str | None:
    """Why PyPI would refuse this statement in a PEP 740 attestation, or None: exactly one
    subject, named as a distribution file, with a sha256; a type PyPI knows."""
    subjects = doc.get("subject") if isinstance(doc, dict) else None
    if not isinstance(subjects, list) or len(subjects) != 1:
        n = len(subjects) if isinstance(subjects, list) else 0
        return f"a PEP 740 attestation has exactly one subject; this statement has {n}"
    subject = subjects[0] if isinstance(subjects[0], dict) else {}
    name = subject.get("name")
    if not isinstance(name, str) or parse_dist_name(name) is None:
        return f"its subject {name!r} is not a wheel or sdist file name"
    digest = subject.get("digest")
    if not isinstance(digest, dict) or "sha256" not in digest:
        return f"its subject {name} has no sha256 digest"
    if doc.get("predicateType") not in PYPI_TYPES:
        return (f"PyPI accepts the predicate types {' and '.join(PYPI_TYPES)}, not "
                f"{doc.get('predicateType')!r}")
    return None
