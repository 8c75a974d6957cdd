"""An RFC 3161 timestamp authority for the Sigstore stand-in, as sigstore's
timestamp-authority answers ``POST /api/v1/timestamp``: a DER ``TimeStampResp`` whose
token is CMS SignedData over a TSTInfo, signed by a leaf certificate with the critical
timeStamping EKU that chains to the TSA's own root, with the RFC 5035 signing-certificate
attribute. ``cryptography`` builds certificates but not CMS SignedData with signed
attributes of our choosing, so the few DER structures are written here by hand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 128:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def der_set(*items: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(items)))  # DER orders SET OF by encoding


def integer(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)
    return tlv(0x02, raw)


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def octets(raw: bytes) -> bytes:
    return tlv(0x04, raw)


def explicit(n: int, content: bytes) -> bytes:
    return tlv(0xA0 + n, content)


SHA256 = seq(oid("2.16.840.1.101.3.4.2.1"))
ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"))
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_CT_TSTINFO = "1.2.840.113549.1.9.16.1.4"
ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
ATTR_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
POLICY = "1.3.6.1.4.1.57264.2"


class TimestampAuthority:
    def __init__(self, start: dt.datetime) -> None:
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        self.key = ec.generate_private_key(ec.SECP256R1())
        root_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "attester-test"),
                               x509.NameAttribute(NameOID.COMMON_NAME, "standin-tsa-root")])
        leaf_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "attester-test"),
                               x509.NameAttribute(NameOID.COMMON_NAME, "standin-tsa")])
        end = start + dt.timedelta(days=3650)
        self.root = (
            x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(self.root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                self.root_key.public_key()), critical=False)
            .sign(self.root_key, hashes.SHA384()))
        ski = self.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        self.leaf = (
            x509.CertificateBuilder().subject_name(leaf_name).issuer_name(root_name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                           critical=False)
            .sign(self.root_key, hashes.SHA384()))
        self.issued: list[dt.datetime] = []

    def chain_der(self) -> list[bytes]:
        return [c.public_bytes(serialization.Encoding.DER) for c in (self.leaf, self.root)]

    def answer(self, request: dict[str, Any]) -> bytes:
        """The ``/api/v1/timestamp`` JSON request's answer: a DER TimeStampResp."""
        import base64

        if request.get("hashAlgorithm", "sha256") != "sha256":
            raise ValueError("only sha256 message imprints")
        digest = base64.b64decode(request["artifactHash"], validate=True)
        if len(digest) != 32:
            raise ValueError("artifactHash is not a SHA-256 digest")
        nonce = request.get("nonce")
        return self.response(digest, nonce=int(nonce) if nonce is not None else None)

    def response(self, digest: bytes, *, nonce: int | None = None,
                 when: dt.datetime | None = None) -> bytes:
        when = when or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        self.issued.append(when)
        gen_time = tlv(0x18, when.strftime("%Y%m%d%H%M%SZ").encode())
        tst_info = seq(integer(1), oid(POLICY), seq(SHA256, octets(digest)),
                       integer(secrets.randbits(64)), gen_time,
                       *([integer(nonce)] if nonce is not None else []))
        leaf_der = self.leaf.public_bytes(serialization.Encoding.DER)
        # ESSCertIDv2 with the default (SHA-256) hash algorithm left out, as DER requires
        ess = seq(seq(seq(octets(hashlib.sha256(leaf_der).digest()))))
        attrs = [seq(oid(ATTR_CONTENT_TYPE), der_set(oid(ID_CT_TSTINFO))),
                 seq(oid(ATTR_MESSAGE_DIGEST), der_set(octets(hashlib.sha256(tst_info).digest()))),
                 seq(oid(ATTR_SIGNING_CERT_V2), der_set(ess))]
        signed_attrs = der_set(*attrs)
        signature = self.key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        issuer = self.leaf.issuer.public_bytes()
        signer_info = seq(integer(1), seq(issuer, integer(self.leaf.serial_number)), SHA256,
                          b"\xa0" + signed_attrs[1:], ECDSA_SHA256, octets(signature))
        signed_data = seq(integer(3), der_set(SHA256),
                          seq(oid(ID_CT_TSTINFO), explicit(0, octets(tst_info))),
                          tlv(0xA0, leaf_der), der_set(signer_info))
        token = seq(oid(ID_SIGNED_DATA), explicit(0, signed_data))
        return seq(seq(integer(0)), token)
