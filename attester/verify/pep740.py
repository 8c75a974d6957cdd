"""PyPI's attestations (PEP 740): what ``twine upload --attestations`` sends and PyPI serves.

Two documents: an attestation object (``{"version": 1, "verification_material":
{certificate, transparency_entries}, "envelope": {statement, signature}}``, one per
distribution file) and the integrity API's provenance object (``{"version": 1,
"attestation_bundles": [{"publisher": {...}, "attestations": [...]}]}``). The
pypi-attestations package reads both and turns an attestation into the Sigstore bundle it
was made from; attest then verifies that bundle as any other, so every trust option and
policy flag applies, and adds PEP 740's own rule: exactly one subject, named as the
distribution file, with its sha256.
"""

from __future__ import annotations

from typing import Any

import attrs

from attester.errors import InputError, MissingExtraError
from attester.model.pep740 import PUBLISH_V1, PYPI_TYPES, parse_dist_name
from attester.model.statement import ParsedStatement
from attester.verify.checks.policy import Check

__all__ = ["PUBLISH_V1", "PYPI_TYPES", "parse_dist_name"]


def _lib() -> Any:
    try:
        import pypi_attestations
    except ImportError:
        raise MissingExtraError("pypi", "pypi-attestations") from None
    return pypi_attestations


def _first_problem(e: Any) -> str:
    """pydantic's first complaint, as one line: where in the document, and what."""
    errors = e.errors(include_url=False) if hasattr(e, "errors") else []
    if not errors:
        return " ".join(str(e).split())[:300]
    first = errors[0]
    loc = "/".join(str(p) for p in first.get("loc", ())) or "(root)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {first.get('msg', 'invalid')}{more}"[:300]


def _bundle_bytes(attestation: Any, *, where: str) -> tuple[bytes, bytes]:
    """The Sigstore bundle (v0.3 JSON) the attestation object carries, converted by
    pypi-attestations, and its certificate (DER)."""
    lib = _lib()
    try:
        return (str(attestation.to_bundle().to_json()).encode(),
                bytes(attestation.verification_material.certificate))
    except lib.ConversionError as e:
        raise InputError(f"{where}: not a valid PEP 740 attestation: {e}") from None
    except Exception as e:  # noqa: BLE001 - sigstore's models raise many kinds on bad material
        raise InputError(f"{where}: not a valid PEP 740 attestation: {type(e).__name__}: "
                         f"{' '.join(str(e).split())[:200]}") from None


def attestation_bundle(doc: Any, *, where: str) -> tuple[bytes, bytes]:
    """A PEP 740 attestation object as the Sigstore bundle it converts to (and its
    certificate, DER)."""
    lib = _lib()
    from pydantic import ValidationError

    try:
        att = lib.Attestation.model_validate(doc)
    except ValidationError as e:
        raise InputError(f"{where}: not a PEP 740 attestation object: "
                         f"{_first_problem(e)}") from None
    return _bundle_bytes(att, where=where)


@attrs.frozen
class PublishedBundle:
    """One attestation bundle of the integrity API: PyPI's publisher and its attestations
    (each as a Sigstore bundle)."""

    #: attester.verify.checks.publisher.Publisher, or None for a kind attest cannot check
    publisher: Any
    #: what PyPI says, for messages (e.g. "CircleCI")
    publisher_kind: str
    #: (Sigstore bundle JSON, certificate DER) of each attestation
    bundles: tuple[tuple[bytes, bytes], ...]


def provenance_bundles(doc: Any, *, where: str) -> list[PublishedBundle]:
    """The integrity API's provenance object: every attestation bundle, with its publisher."""
    lib = _lib()
    from pydantic import ValidationError

    from attester.verify.checks.publisher import Publisher

    try:
        prov = lib.Provenance.model_validate(doc)
    except ValidationError as e:
        raise InputError(f"{where}: not a PyPI provenance object: {_first_problem(e)}") from None
    out = []
    for i, ab in enumerate(prov.attestation_bundles, 1):
        out.append(PublishedBundle(
            publisher=Publisher.from_pypi(ab.publisher), publisher_kind=str(ab.publisher.kind),
            bundles=tuple(_bundle_bytes(a, where=f"{where} bundle {i} attestation {j}")
                          for j, a in enumerate(ab.attestations, 1))))
    return out


def dist_check(stmt: ParsedStatement, dist_name: str) -> Check:
    """PEP 740's rule for the verified statement: exactly one subject, named as the
    distribution file, with a sha256 digest (compared with the file's by the artifact
    check)."""
    subjects = stmt.raw_subjects()
    if len(subjects) != 1:
        return Check("pep740 subject", False, f"a PEP 740 attestation has exactly one "
                     f"subject; this one has {len(subjects)}")
    subject = stmt.subjects()[0] if stmt.subjects() else None
    name = subject.name if subject is not None else ""
    parsed = parse_dist_name(name)
    if parsed is None:
        return Check("pep740 subject", False, f"subject {name or '(unnamed)'!r} is not a "
                     "wheel or sdist file name")
    if parsed != parse_dist_name(dist_name):
        return Check("pep740 subject", False, f"subject {name!r} does not name the "
                     f"distribution {dist_name!r}")
    if subject is None or "sha256" not in subject.digest:
        return Check("pep740 subject", False, f"subject {name!r} has no sha256 digest")
    return Check("pep740 subject", True, f"one subject, {name}, naming the distribution")


def publisher_check(published: PublishedBundle, cert_der: bytes) -> Check:
    """Does the (verified) certificate agree with the publisher PyPI states for it? PyPI's
    statement is unsigned: it never replaces the user's own --publisher or identity, but a
    disagreement means the integrity API and the signature tell different stories."""
    from cryptography import x509

    if published.publisher is None:
        return Check("pypi publisher", False, f"PyPI states a {published.publisher_kind} "
                     "publisher, which attest cannot check against the certificate")
    cert = x509.load_der_x509_certificate(cert_der)
    failed = [c for c in published.publisher.check(cert) if not c.ok]
    if failed:
        return Check("pypi publisher", False, f"PyPI states publisher {published.publisher}, "
                     f"but {failed[0].detail}")
    return Check("pypi publisher", True, f"certificate agrees with the publisher PyPI states, "
                 f"{published.publisher}")
