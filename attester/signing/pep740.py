"""``attest sign --format pep740``: a keyless Sigstore bundle as the PEP 740 attestation
object that ``twine upload --attestations`` sends to PyPI (converted by pypi-attestations,
as its own ``sign`` and ``convert`` commands do)."""

from __future__ import annotations

from attester.errors import InputError, MissingExtraError


def from_bundle(bundle_json: bytes) -> bytes:
    """The attestation object (JSON) for a keyless DSSE bundle."""
    try:
        from pypi_attestations import Attestation, ConversionError
        from sigstore.models import Bundle
    except ImportError:
        raise MissingExtraError("pypi", "pypi-attestations") from None
    try:
        attestation = Attestation.from_bundle(Bundle.from_json(bundle_json))
    except ConversionError as e:
        raise InputError(f"cannot write a PEP 740 attestation: {e}") from None
    return attestation.model_dump_json().encode()
