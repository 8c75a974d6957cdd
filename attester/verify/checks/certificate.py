"""What a Fulcio certificate says: its extensions and subject alternative names.

One reader of Fulcio's OIDs for every check that asks a certificate something (the
identity policy, GitHub's extensions, trusted publishers, the signer summary).
"""

from __future__ import annotations

from typing import Any

# Fulcio certificate extensions (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md)
OID_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
OID_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
OID_BUILD_SIGNER_URI = "1.3.6.1.4.1.57264.1.9"
OID_BUILD_SIGNER_DIGEST = "1.3.6.1.4.1.57264.1.10"
OID_SOURCE_REPO_URI = "1.3.6.1.4.1.57264.1.12"
OID_SOURCE_REPO_DIGEST = "1.3.6.1.4.1.57264.1.13"
OID_SOURCE_REPO_REF = "1.3.6.1.4.1.57264.1.14"
OID_SOURCE_REPO_OWNER_URI = "1.3.6.1.4.1.57264.1.16"
#: the otherName type of Fulcio's username SAN (a UTF8String "NAME!HOST")
OID_USERNAME = "1.3.6.1.4.1.57264.1.7"


def fulcio_extension(cert: Any, oid: str) -> str | None:
    from cryptography.x509 import ExtensionNotFound, ObjectIdentifier, UnrecognizedExtension

    try:
        ext = cert.extensions.get_extension_for_oid(ObjectIdentifier(oid)).value
    except ExtensionNotFound:
        return None
    except Exception:  # noqa: BLE001 - unreadable extensions (an extension given twice)
        # are no claim here; inconsistencies() fails the certificate for them (redteam:
        # read as absent, a certificate naming its issuer twice "named no issuer")
        return None
    raw = ext.value if isinstance(ext, UnrecognizedExtension) else b""
    if int(oid.rsplit(".", 1)[1]) < 8:  # Fulcio's legacy extensions (.1 - .6) are raw bytes
        return raw.decode("utf-8", "replace")
    return _der_utf8(raw)


def _der_utf8(raw: bytes) -> str:
    """A DER UTF8String's text (tag 0x0c, length in short or long form, value); other bytes
    as they are. Fulcio's v2 extensions and its otherName SAN (a username identity, as
    sigstore/scaffolding's instances issue) are encoded so."""
    if len(raw) >= 2 and raw[0] == 0x0C:
        n = raw[1]
        offset = 2
        if n & 0x80:
            count = n & 0x7F
            n = int.from_bytes(raw[2:2 + count], "big")
            offset = 2 + count
        if offset + n == len(raw):
            return raw[offset:].decode("utf-8", "replace")
        # A length that is not the value's (bytes after it, or fewer than it says) is no
        # UTF8String: the bytes as they are, tag included, so it equals no expected value
        # (redteam: the text up to the stated length was read, trailing bytes ignored).
    return raw.decode("utf-8", "replace")


#: Claims Fulcio states twice, in a deprecated raw extension (.1-.6) and its DER
#: successor: (legacy OID, OID, how the legacy value is written in the new form)
_SAME_CLAIM = (
    ("1.3.6.1.4.1.57264.1.1", "1.3.6.1.4.1.57264.1.8", "issuer", False),
    ("1.3.6.1.4.1.57264.1.2", "1.3.6.1.4.1.57264.1.20", "trigger", False),
    ("1.3.6.1.4.1.57264.1.3", "1.3.6.1.4.1.57264.1.13", "source commit", False),
    ("1.3.6.1.4.1.57264.1.5", "1.3.6.1.4.1.57264.1.12", "source repository", True),
    ("1.3.6.1.4.1.57264.1.6", "1.3.6.1.4.1.57264.1.14", "source ref", False),
)


def inconsistencies(cert: Any) -> list[str]:
    """What makes a certificate's claims ambiguous: extensions that cannot be read (one
    given twice), or a claim whose deprecated extension and its successor disagree. Each
    check reads one of the two (the new, else the old), so such a certificate must fail
    whole rather than pass on whichever one a check happens to read (redteam: an issuer
    1.1 of one provider and 1.8 of another passed --certificate-oidc-issuer of 1.8's)."""
    try:
        cert.extensions  # noqa: B018 - parsing them is the check
    except Exception as e:  # noqa: BLE001 - cryptography's DuplicateExtension, ValueError
        return [f"its extensions cannot be read ({str(e)[:120]})"]
    out = []
    for legacy_oid, oid, what, as_repo in _SAME_CLAIM:
        old, new = fulcio_extension(cert, legacy_oid), fulcio_extension(cert, oid)
        if not old or not new:
            continue
        # 1.5 is OWNER/REPO, 1.12 the URL https://HOST/OWNER/REPO
        same = new.endswith("/" + old) if as_repo else old == new
        if not same:
            out.append(f"its {what} is {old!r} in {legacy_oid} and {new!r} in {oid}")
    return out


def certificate_source(cert: Any) -> tuple[str, str]:
    """(Source Repository URI, Source Repository Ref) from Fulcio's CI extensions."""
    return (fulcio_extension(cert, OID_SOURCE_REPO_URI) or "",
            fulcio_extension(cert, OID_SOURCE_REPO_REF) or "")


def sans(cert: Any) -> list[str]:
    from cryptography.x509 import (
        OtherName,
        RFC822Name,
        SubjectAlternativeName,
        UniformResourceIdentifier,
    )

    try:
        ext = cert.extensions.get_extension_for_class(SubjectAlternativeName).value
    except Exception:  # noqa: BLE001
        return []
    out = list(ext.get_values_for_type(RFC822Name))
    out += ext.get_values_for_type(UniformResourceIdentifier)
    for other in ext.get_values_for_type(OtherName):
        # Only Fulcio's username identity is an identity, as cosign and sigstore-go read
        # otherNames (redteam: any otherName was, so a CA's UPN or other free-form name
        # equal to someone's e-mail passed --certificate-identity as that e-mail)
        if other.type_id.dotted_string == OID_USERNAME:
            out.append(_der_utf8(other.value))
    return out
