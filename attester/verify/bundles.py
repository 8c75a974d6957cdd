"""Sigstore bundles (keyless signatures), verified through the ``sigstore`` package.

The ``sigstore`` library does the cryptography: the certificate chain to the trusted
root's Fulcio CA at the signing time the log or a timestamp authority proves, the
transparency-log inclusion proof, checkpoint and signed entry timestamp, RFC 3161
timestamps, and the signature over the artifact or the DSSE PAE. We add the identity
policy as users write it (exact or regexp identity, issuer, GitHub's certificate
extensions) and map every failure to one line.

Offline: with ``--trusted-root FILE`` (or ``--offline``, which uses the roots bundled
with ``sigstore``) nothing here touches the network.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import Any

import attrs

from attester.errors import InputError, MissingExtraError, UsageError, VerificationError
from attester.verify.check import Check

BUNDLE_MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"
#: Bundles missing evidence fail verification (exit 1); broken structure is input (exit 2).
_MISSING_EVIDENCE = ("log entry", "inclusion proof", "inclusion promise", "signed timestamp",
                     "checkpoint", "inclusionProof Field required")

# Fulcio certificate extensions (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md)
OID_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
OID_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
OID_BUILD_SIGNER_URI = "1.3.6.1.4.1.57264.1.9"
OID_BUILD_SIGNER_DIGEST = "1.3.6.1.4.1.57264.1.10"
OID_SOURCE_REPO_URI = "1.3.6.1.4.1.57264.1.12"
OID_SOURCE_REPO_DIGEST = "1.3.6.1.4.1.57264.1.13"
OID_SOURCE_REPO_REF = "1.3.6.1.4.1.57264.1.14"
OID_SOURCE_REPO_OWNER_URI = "1.3.6.1.4.1.57264.1.16"


def looks_like_bundle(doc: Any) -> bool:
    """A bundle by its media type, or by its shape when the media type is wrong (so a
    broken bundle gets the bundle loader's precise error, not "unknown format")."""
    return isinstance(doc, Mapping) and (
        str(doc.get("mediaType", "")).startswith(BUNDLE_MEDIA_PREFIX)
        or "verificationMaterial" in doc)


_TUF = "sigstore._internal.tuf"


def _defer_tuf() -> None:
    """Load ``sigstore``'s TUF client only when a trust root is fetched through it.

    ``sigstore.models`` imports it at once, and with it python-tuf, securesystemslib's
    signers and, through them, google-cloud-kms: 0.3 of the 0.45 s ``sigstore`` takes to
    import here, spent even when verifying offline against a trusted root file (a release
    of hundreds of files verified in one call is mostly that start-up). The module is
    registered as a stand-in holding its string constants, read from its source; the
    first use of anything else in it (``TrustUpdater``) imports the real module then."""
    import importlib
    import importlib.util
    import sys
    import types

    if _TUF in sys.modules or "sigstore.models" in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(_TUF)
        if spec is None or not spec.origin:
            return
        with open(spec.origin, encoding="utf-8") as f:
            source = f.read()
    except (ImportError, OSError, ValueError):
        return  # no sigstore, or not as we know it: import it the ordinary way
    # module-level NAME = "string" lines (the TUF URLs); ast would cost more than the rest
    consts = dict(re.findall(r'^([A-Z_]+) = "([^"\\\n]*)"$', source, flags=re.M))
    if not {"DEFAULT_TUF_URL", "STAGING_TUF_URL"} <= consts.keys():
        return
    stub = types.ModuleType(_TUF)
    stub.__dict__.update(consts)
    lock = threading.Lock()

    def real() -> Any:
        with lock:
            if sys.modules.get(_TUF) is stub:
                del sys.modules[_TUF]
            return importlib.import_module(_TUF)

    class TrustUpdater:
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return real().TrustUpdater(*args, **kwargs)

    stub.TrustUpdater = TrustUpdater  # type: ignore[attr-defined]
    def attribute(name: str) -> Any:
        if name.startswith("__"):  # the import system asks for __path__, __spec__...
            raise AttributeError(name)
        return getattr(real(), name)

    stub.__getattr__ = attribute  # type: ignore[method-assign]
    sys.modules[_TUF] = stub


_LOADED: list[Any] = []  # the sigstore package, once imported and set up


def _sigstore() -> Any:
    if _LOADED:  # every bundle of a batch asks: answer at once
        return _LOADED[0]
    _defer_tuf()
    try:
        import sigstore.models
        import sigstore.verify
    except ImportError:
        raise MissingExtraError("sigstore", "sigstore") from None
    _route_library_warnings()
    _LOADED.append(sigstore)
    return sigstore


def _route_library_warnings() -> None:
    """``sigstore`` logs some findings as warnings (e.g. "this bundle contains a root CA"),
    which Python would print as a bare line; say them as ours, one ``attest: note:`` line
    each, on stderr."""
    import logging
    import sys

    log = logging.getLogger("sigstore")
    if any(getattr(h, "_attest", False) for h in log.handlers):
        return

    class _Note(logging.Handler):
        _attest = True

        def emit(self, record: logging.LogRecord) -> None:
            from attester.display import safe

            print(f"attest: note: sigstore: {safe(record.getMessage())}", file=sys.stderr)

    handler = _Note(level=logging.WARNING)
    log.addHandler(handler)
    log.propagate = False
    # Python warnings raised while sigstore reads certificates (cryptography's "Attribute's
    # length must be ..." for a subject whose country is "USA", as scaffolding's CA has)
    # would print as two bare lines: say them as notes too.
    import warnings

    def show(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
        from attester.display import safe

        print(f"attest: note: {category.__name__}: {safe(message)}", file=sys.stderr)

    warnings.showwarning = show


def with_proto3_defaults(doc: Any) -> Any:
    """The bundle JSON with the values the protobuf JSON mapping lets writers omit put back
    (``logIndex`` 0, empty ``hashes``, empty ``tlogEntries``), as sigstore-js omits them and
    ``sigstore``'s strict models require them. Only defaults are filled: nothing absent
    that carries evidence (a proof, a checkpoint, a promise) is invented."""
    import copy

    if not isinstance(doc, Mapping) or not isinstance(doc.get("verificationMaterial"), Mapping):
        return doc
    if not _lacks_defaults(doc["verificationMaterial"]):
        return doc
    doc = copy.deepcopy(dict(doc))
    vm = doc["verificationMaterial"]
    entries = vm.setdefault("tlogEntries", [])
    if not isinstance(entries, list):
        return doc
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        entry.setdefault("logIndex", "0")
        proof = entry.get("inclusionProof")
        if isinstance(proof, dict):
            proof.setdefault("logIndex", "0")
            proof.setdefault("hashes", [])
    return doc


def _lacks_defaults(vm: Mapping[str, Any]) -> bool:
    entries = vm.get("tlogEntries")
    if not isinstance(entries, list):
        return True
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        proof = entry.get("inclusionProof")
        if "logIndex" not in entry or (isinstance(proof, dict) and (
                "logIndex" not in proof or "hashes" not in proof)):
            return True
    return False


def load_bundle(data: bytes, *, where: str) -> Any:
    _sigstore()
    import json

    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle, InvalidBundle

    from attester.verify import intoto_entry, keyed_bundle, tsa_bundle

    try:
        raw_doc = json.loads(data)
        doc = with_proto3_defaults(raw_doc)
    except ValueError:
        raise InputError(f"{where}: not JSON") from None
    if not isinstance(doc, Mapping):
        raise InputError(f"{where}: not a valid Sigstore bundle: not a JSON object")
    refuse_v03_chain(doc, where=where)
    refuse_root_in_chain(doc, where=where)
    raw = intoto_entry.parse(doc, where=where)
    if raw is not None:
        return raw
    if keyed_bundle.is_keyed(doc):
        return keyed_bundle.parse(doc, where=where)
    if tsa_bundle.has_no_log_entry(doc):
        return tsa_bundle.parse(doc, where=where)
    try:
        # the bytes as they are when no default had to be filled in (parsed once)
        bundle = Bundle.from_json(data if doc is raw_doc else json.dumps(doc))
        # sigstore checks the DSSE envelope (exactly one, non-empty signature) only when
        # it is first used: check it here, where its error becomes an input error.
        bundle._dsse_envelope  # noqa: B018 - evaluated for its check
        return bundle
    except InvalidBundle as e:
        msg = _one_line(e)
        if any(k in msg for k in _MISSING_EVIDENCE):
            raise VerificationError(f"{where}: {msg}") from None
        raise InputError(f"{where}: not a valid Sigstore bundle: {msg}") from None
    except (SigstoreError, ValueError) as e:
        raise InputError(f"{where}: not a valid Sigstore bundle: {_one_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - sigstore's loader lets others through, e.g.
        # cryptography's ExtensionNotFound for a certificate without keyUsage (found by
        # the mutation suite): any of them means the bundle's material is malformed
        raise InputError(f"{where}: not a valid Sigstore bundle: {type(e).__name__}: "
                         f"{_one_line(e)}") from None


V03_MEDIA_TYPES = ("application/vnd.dev.sigstore.bundle+json;version=0.3",
                   "application/vnd.dev.sigstore.bundle.v0.3+json")


def refuse_v03_chain(doc: Mapping[str, Any], *, where: str) -> None:
    """A v0.3 bundle carries its signing certificate as ``certificate``, never as an
    ``x509CertificateChain`` (protobuf-specs ``bundle.proto``: "When used in a 0.3 bundle
    with the PGI and keyless signing, form (3) MUST be used"; sigstore-python, sigstore-go
    and sigstore-js refuse a chain in v0.3, sigstore-java accepts a one-element one). We
    refuse it, with every reader of bundles, as the spec and three of four clients do:
    docs/sigstore-clients.md says why."""
    vm = doc.get("verificationMaterial")
    if doc.get("mediaType") in V03_MEDIA_TYPES and isinstance(vm, Mapping) and \
            "x509CertificateChain" in vm:
        raise InputError(f"{where}: not a valid Sigstore bundle: a v0.3 bundle carries its "
                         "certificate as verificationMaterial.certificate, not "
                         "x509CertificateChain (bundle spec; sigstore-python, sigstore-go "
                         "and sigstore-js refuse it too)")


def refuse_root_in_chain(doc: Mapping[str, Any], *, where: str) -> None:
    """A bundle's certificate chain must not carry a root CA (bundle.proto: "Signers MUST
    NOT include root CA certificates in bundles"): trust comes from the trusted root, and a
    bundle that brings its own root invites a verifier to trust it. ``sigstore`` only logs
    a warning; sigstore-conformance ``bundle-with-root-cert_fail`` wants it refused."""
    import base64
    import binascii

    from cryptography import x509

    vm = doc.get("verificationMaterial")
    chain = vm.get("x509CertificateChain") if isinstance(vm, Mapping) else None
    certs = chain.get("certificates") if isinstance(chain, Mapping) else None
    if not isinstance(certs, list):
        return
    for item in certs[1:]:
        try:
            cert = x509.load_der_x509_certificate(base64.b64decode(item["rawBytes"],
                                                                   validate=True))
            ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except (KeyError, TypeError, ValueError, binascii.Error, x509.ExtensionNotFound):
            continue  # malformed material is the loader's to refuse
        if ca and cert.subject == cert.issuer:
            raise VerificationError(f"{where}: the bundle's certificate chain contains a root "
                                    "CA certificate; a bundle must not carry its own root")


def is_dsse(bundle: Any) -> bool:
    from attester.verify import intoto_entry, keyed_bundle, tsa_bundle

    if isinstance(bundle, tsa_bundle.TimestampedBundle | keyed_bundle.KeyedBundle):
        return bundle.payload_type is not None
    return isinstance(bundle, intoto_entry.IntotoBundle) or \
        bundle._dsse_envelope is not None


def root_from_bytes(data: bytes) -> Any:
    """A trusted root from its JSON. GitHub's has no ``tlogs`` or ``ctlogs``; ``sigstore``'s
    model requires both, so absent lists are read as empty (what the protobuf mapping means)."""
    import json

    from sigstore.models import TrustedRoot
    from sigstore_models.trustroot.v1 import TrustedRoot as RawTrustedRoot

    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    doc.setdefault("tlogs", [])
    doc.setdefault("ctlogs", [])
    # A CA's or TSA's subject is a protobuf DistinguishedName: proto3 omits empty strings,
    # and a CA whose certificate names no commonName (sigstore-go loads such roots) has
    # none; ``sigstore``'s model requires both fields. The subject is informational: the
    # certificates in the chain are what is trusted.
    for field in ("certificateAuthorities", "timestampAuthorities"):
        for ca in doc.get(field) or ():
            if isinstance(ca, dict):
                subject = ca.setdefault("subject", {})
                if isinstance(subject, dict):
                    subject.setdefault("organization", "")
                    subject.setdefault("commonName", "")

    class _Root(TrustedRoot):
        """Each keyring built once: ``sigstore`` builds the CT and Rekor keyrings anew
        (parsing every key) for each bundle it verifies; they depend on the root alone."""

        def ct_keyring(self, purpose: Any) -> Any:
            return self._keyring("ct", purpose, super().ct_keyring)

        def rekor_keyring(self, purpose: Any) -> Any:
            return self._keyring("rekor", purpose, super().rekor_keyring)

        def _keyring(self, kind: str, purpose: Any, build: Any) -> Any:
            cache = self.__dict__.setdefault("_attest_keyrings", {})
            if (kind, purpose) not in cache:
                cache[(kind, purpose)] = build(purpose)
            return cache[(kind, purpose)]

    return _Root(RawTrustedRoot.from_json(json.dumps(doc)))


#: Trusted roots parsed in this process, by the SHA-256 of their bytes: a batch of
#: bundles (``verify --attestations``, ``audit``) parses its root once, and a file that
#: changes is parsed again.
_ROOTS: dict[bytes, Any] = {}
_ROOT_FILES: dict[tuple[str, int, int, int], Any] = {}
_ROOTS_LOCK = threading.Lock()


def _read_root(path: str) -> Any:
    import hashlib

    from attester.jsonio import read_bytes

    try:  # the same file, unchanged since it was read: not even read again
        st = os.stat(path)
        seen = (os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        seen = None
    with _ROOTS_LOCK:
        if seen is not None and seen in _ROOT_FILES:
            return _ROOT_FILES[seen]
    data = read_bytes(path, what="trusted root")
    key = hashlib.sha256(data).digest()
    with _ROOTS_LOCK:
        if key not in _ROOTS:
            _ROOTS[key] = root_from_bytes(data)
        if seen is not None:
            _ROOT_FILES[seen] = _ROOTS[key]
        return _ROOTS[key]


def load_trusted_root(path: str | None, *, offline: bool, staging: bool) -> Any:
    _sigstore()
    from sigstore.models import ClientTrustConfig

    if path:
        if not os.path.exists(path):
            raise InputError(f"trusted root {path}: no such file")
        try:
            return _read_root(path)
        except InputError:
            raise
        except Exception as e:  # noqa: BLE001 - sigstore raises several kinds for bad roots
            raise InputError(f"trusted root {path}: not a Sigstore trusted root: "
                             f"{_one_line(e)}") from None
    config = ClientTrustConfig.staging if staging else ClientTrustConfig.production
    try:
        return config(offline=offline).trusted_root
    except Exception as e:  # noqa: BLE001
        raise InputError(f"cannot load the Sigstore trusted root ({_one_line(e)})",
                         hint="pass --trusted-root FILE") from None


def _one_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return " ".join(lines[:3])[:300] if lines else type(e).__name__


def _ext(cert: Any, oid: str) -> str | None:
    from cryptography.x509 import ObjectIdentifier, UnrecognizedExtension

    try:
        ext = cert.extensions.get_extension_for_oid(ObjectIdentifier(oid)).value
    except Exception:  # noqa: BLE001 - absent extension
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
        return raw[offset:offset + n].decode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def certificate_source(cert: Any) -> tuple[str, str]:
    """(Source Repository URI, Source Repository Ref) from Fulcio's CI extensions."""
    return _ext(cert, OID_SOURCE_REPO_URI) or "", _ext(cert, OID_SOURCE_REPO_REF) or ""


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
        out.append(_der_utf8(other.value) if isinstance(other.value, bytes) else str(other))
    return out


@attrs.frozen
class IdentityPolicy:
    """Who must have signed: the certificate's SAN and issuer, and GitHub's extensions."""

    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    owner: str | None = None
    repo: str | None = None
    signer_workflow: str | None = None
    signer_repo: str | None = None
    server: str = "https://github.com"
    #: certpolicy.CertPolicy: issuer regexp and GitHub's digest/runner/trigger extensions
    extra: Any = None
    #: The certificate must carry no OIDC issuer extension (GitHub release attestations).
    no_issuer: bool = False
    #: publisher.Publisher: a PyPI-style trusted publisher (--publisher), which names its
    #: issuer and is checked on the Build Config URI and source repository, not the SAN
    publisher: Any = None

    def given(self) -> bool:
        return bool(self.identity or self.identity_regexp or self.publisher)

    def has_issuer(self) -> bool:
        return self.issuer is not None or self.no_issuer or self.publisher is not None or \
            bool(self.extra and self.extra.issuer_regexp)

    def check(self, cert: Any) -> list[Check]:
        """Every identity requirement, each its own check."""
        checks: list[Check] = []
        names = sans(cert)
        if self.identity is not None:
            ok = self.identity in names
            checks.append(Check("certificate-identity", ok, f"signed by {self.identity}" if ok
                                else f"certificate identity is {', '.join(names) or 'missing'}, "
                                f"policy wants {self.identity}"))
        if self.identity_regexp is not None:
            try:
                rx = re.compile(self.identity_regexp)
            except re.error as e:
                raise UsageError(f"--certificate-identity-regexp: {e}") from None
            hit = next((n for n in names if rx.fullmatch(n)), None)
            # cosign and gh search; we match the whole identity. Say so when that is the
            # only difference, so a flag copied from cosign is fixed, not loosened.
            partial = hit is None and any(rx.search(n) for n in names)
            checks.append(Check("certificate-identity", hit is not None,
                                f"signed by {hit} (matches {self.identity_regexp})" if hit else
                                f"certificate identity {', '.join(names) or 'missing'} does not "
                                f"match {self.identity_regexp}"
                                + (" (the expression must match the whole identity, unlike "
                                   "cosign's search: end it with .* to allow a suffix)"
                                   if partial else "")))
        got = _ext(cert, OID_ISSUER_V2) or _ext(cert, OID_ISSUER_V1) or ""
        if not self.has_issuer():
            # With no issuer named, only a certificate that names none (GitHub's release
            # attestations: its CA vouches for the SAN itself) is judged on its SAN alone.
            # One that names an issuer needs the policy to say which: the same identity
            # from another issuer is another signer.
            if got:
                raise UsageError(f"{ISSUER_NEEDED} (this certificate names {got!r})",
                                 hint=ISSUER_HINT)
            checks.append(Check("certificate-oidc-issuer", True,
                                "certificate names no issuer; its CA vouches for the identity"))
        if self.no_issuer:
            checks.append(Check("certificate-oidc-issuer", not got,
                                "certificate names no issuer, as the policy wants" if not got
                                else f"certificate issuer is {got!r}, policy wants none"))
        if self.issuer is not None:
            checks.append(Check("certificate-oidc-issuer", got == self.issuer,
                                f"issuer {got}" if got == self.issuer else
                                f"certificate issuer is {got or 'missing'!r}, policy wants "
                                f"{self.issuer!r}"))
        expect = []
        if self.owner:
            expect.append(("owner", OID_SOURCE_REPO_OWNER_URI, f"{self.server}/{self.owner}",
                           False))
        if self.repo:
            expect.append(("repo", OID_SOURCE_REPO_URI, f"{self.server}/{self.repo}", False))
        if self.signer_repo:
            expect.append(("signer-repo", OID_BUILD_SIGNER_URI,
                           f"{self.server}/{self.signer_repo}/", True))
        if self.signer_workflow:
            wf = self.signer_workflow.removeprefix(self.server + "/")
            expect.append(("signer-workflow", OID_BUILD_SIGNER_URI, f"{self.server}/{wf}@",
                           True))
        for name, oid, want, prefix in expect:
            got = _ext(cert, oid) or ""
            # GitHub owner and repository names are case-insensitive (and unique as such):
            # compare them so, as gh does; a workflow's path is a file name and keeps case.
            g, w = (got, want) if name == "signer-workflow" else (got.lower(), want.lower())
            ok = g.startswith(w) if prefix else g == w
            checks.append(Check(name, ok, f"certificate says {got}" if ok else
                                f"certificate says {got or 'nothing'!r}, policy wants "
                                f"{want + '...' if prefix else want!r}"))
        if self.extra is not None:
            checks.extend(self.extra.check(cert))
        if self.publisher is not None:
            checks.extend(self.publisher.check(cert))
        return checks


ISSUER_NEEDED = ("a keyless signature needs --certificate-oidc-issuer: an identity means "
                 "nothing without the issuer that vouched for it")
ISSUER_HINT = ("pass --certificate-oidc-issuer URL; a certificate without an issuer (GitHub "
               "release attestations) is judged on its identity alone")


class _Deferred:
    """A sigstore policy that accepts: identity is checked afterwards, check by check."""

    def verify(self, cert: Any) -> None:
        return None


def _evidence(bundle: Any) -> str:
    entry = bundle.log_entry
    inner = getattr(entry, "_inner", None)
    t = getattr(inner, "integrated_time", None)
    # Without an inclusion promise the integrated time is unsigned and sigstore ignores it
    # (Rekor v2): never print it as a logged time (redteam: any time could be claimed).
    if t and getattr(inner, "inclusion_promise", None):
        import datetime as dt

        when = dt.datetime.fromtimestamp(int(t), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"logged in Rekor at {when}"
    return "logged in Rekor, signing time from its RFC 3161 timestamp"


def _verify(run: Any, *, where: str) -> None:
    from sigstore.errors import VerificationError as SigstoreVerificationError

    try:
        run()
    except SigstoreVerificationError as e:
        raise VerificationError(f"{where}: {_one_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - malformed material deep in the bundle
        raise VerificationError(f"{where}: {type(e).__name__}: {_one_line(e)}") from None


def _no_log_detail(times: list[Any]) -> str:
    when = min(times).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"timestamped at {when} by a trusted timestamp authority (the trusted root has "
            "no transparency log)")


#: One Verifier per trusted root (building one loads the root's keyrings and CA
#: certificates), kept beside the root it was built from: a batch builds it once.
_VERIFIERS: dict[int, tuple[Any, Any]] = {}


def _verifier(trusted_root: Any) -> Any:
    with _ROOTS_LOCK:
        root, verifier = _VERIFIERS.get(id(trusted_root), (None, None))
        if root is not trusted_root:
            verifier = _new_verifier(trusted_root)
            _VERIFIERS[id(trusted_root)] = (trusted_root, verifier)
        return verifier


def _new_verifier(trusted_root: Any) -> Any:
    """``sigstore``'s Verifier, but with RFC 3161 timestamps checked by
    :func:`tsa_bundle.verify_timestamp` (a TSA's validity window closed at its end, as
    protobuf-specs' ``TimeRange`` says; the library's excludes it)."""
    from cryptography.hazmat.primitives.serialization import Encoding
    from sigstore._internal.timestamp import TimestampSource, TimestampVerificationResult
    from sigstore.verify import Verifier

    from attester.verify import tsa_bundle

    chains: dict[tuple[bytes, Any], list[Any]] = {}
    chains_lock = threading.Lock()

    class _Verifier(Verifier):
        def _verify_chain_at_time(self, certificate: Any, timestamp_result: Any) -> Any:
            # The chain of one certificate at one time is checked once per verifier: a
            # release signed in one `sigstore sign` run has hundreds of bundles, each
            # with the same certificate and a logged time from the same few seconds.
            # Only successes are kept; the key is the certificate's bytes and the time.
            key = (certificate.public_bytes(Encoding.DER), timestamp_result.time)
            with chains_lock:
                if key in chains:
                    return list(chains[key])
            chain = super()._verify_chain_at_time(certificate, timestamp_result)
            with chains_lock:
                if len(chains) < 4096:
                    chains[key] = list(chain)
            return chain

        def _verify_signed_timestamp(self, timestamp_response: Any, message: bytes
                                     ) -> TimestampVerificationResult | None:
            when = tsa_bundle.verify_response(timestamp_response, message,
                                              self._trusted_root)
            return None if when is None else TimestampVerificationResult(
                source=TimestampSource.TIMESTAMP_AUTHORITY, time=when)

    return _Verifier(trusted_root=trusted_root)


def signed_algorithm(bundle: Any) -> str:
    """The digest algorithm a message-signature bundle signs (sha256, sha384, sha512):
    what its log entry says, else its own (unsigned) hint, else the algorithm registry's
    hash for the certificate's key. The signature over that digest is what binds it."""
    import json

    from attester.verify import keyed_bundle, sigalg, tsa_bundle

    if isinstance(bundle, keyed_bundle.KeyedBundle):
        return keyed_bundle.signed_algorithm(bundle)
    if isinstance(bundle, tsa_bundle.TimestampedBundle):
        return tsa_bundle.signed_algorithm(bundle)
    try:
        body = json.loads(bundle.log_entry._inner.canonicalized_body)
        spec = body["spec"]
        logged = spec["hashedRekordV002"]["data"]["algorithm"] if "hashedRekordV002" in spec \
            else spec["data"]["hash"]["algorithm"]
        if logged in sigalg.NAMES:
            return sigalg.NAMES[logged]
    except (KeyError, TypeError, ValueError):
        pass
    md = getattr(bundle._inner.message_signature, "message_digest", None)
    if md is not None and str(md.algorithm.value) in sigalg.NAMES:
        return sigalg.NAMES[str(md.algorithm.value)]
    return sigalg.default_for(bundle.signing_certificate.public_key())


def _check_hashedrekord_v001(bundle: Any, alg: str, digest: bytes) -> None:
    """The hashedrekord 0.0.1 entry logs this digest, signature and certificate; compared
    decoded (``sigstore``'s own comparison knows only SHA-256)."""
    import base64
    import json

    from cryptography import x509
    from sigstore.errors import VerificationError as SigstoreVerificationError

    from attester.verify import sigalg

    try:
        spec = json.loads(bundle.log_entry._inner.canonicalized_body)["spec"]
        logged = (sigalg.NAMES[spec["data"]["hash"]["algorithm"]],
                  bytes.fromhex(spec["data"]["hash"]["value"]),
                  base64.b64decode(spec["signature"]["content"], validate=True),
                  x509.load_pem_x509_certificate(base64.b64decode(
                      spec["signature"]["publicKey"]["content"], validate=True)))
    except (KeyError, TypeError, ValueError):
        raise SigstoreVerificationError("transparency log entry body is not a hashedrekord "
                                        "0.0.1 record") from None
    if logged != (alg, digest, bundle._inner.message_signature.signature,
                  bundle.signing_certificate):
        raise SigstoreVerificationError("transparency log entry is inconsistent with other "
                                        "materials")


def _verify_message(verifier: Any, bundle: Any, alg: str, digest: bytes) -> None:
    """``Verifier.verify_artifact`` for every key and digest Fulcio issues for: the library
    checks time, chain, SCT and log entry (steps 0-6); the signature and the entry's body
    (steps 7 and 8) are checked here with the digest the bundle signs."""
    from sigstore.errors import VerificationError as SigstoreVerificationError
    from sigstore.hashes import Hashed
    from sigstore.verify.verifier import _validate_hashedrekord_v002_entry_body
    from sigstore_models.common.v1 import HashAlgorithm

    from attester.verify import sigalg

    verifier._verify_common_signing_cert(bundle, _Deferred())
    signature = bundle._inner.message_signature
    if signature is None:
        raise SigstoreVerificationError("Missing bundle message signature")
    md = signature.message_digest
    if md is not None and (sigalg.NAMES.get(str(md.algorithm.value)), md.digest) != (alg, digest):
        raise SigstoreVerificationError("Bundle message digest mismatch")
    if not sigalg.verify_digest(bundle.signing_certificate.public_key(), signature.signature,
                                digest, alg):
        raise SigstoreVerificationError("Signature is invalid for input")
    kv = bundle.log_entry._inner.kind_version
    if (kv.kind, kv.version) == ("hashedrekord", "0.0.1"):
        _check_hashedrekord_v001(bundle, alg, digest)
    elif (kv.kind, kv.version) == ("hashedrekord", "0.0.2"):
        _validate_hashedrekord_v002_entry_body(
            bundle, Hashed(algorithm=HashAlgorithm(sigalg.PROTO[alg]), digest=digest))
    else:
        raise SigstoreVerificationError(f"Expected entry type hashedrekord, got {kv.kind}")


def verify_keyed(bundle: Any, trusted_root: Any, keys: Any, *,
                 artifact_digest: tuple[str, bytes] | None, where: str
                 ) -> tuple[list[Check], tuple[str, bytes] | None]:
    """A bundle signed by a managed key: its checks, and for DSSE the verified payload."""
    from attester.verify import intoto_entry, keyed_bundle

    if not keys:
        raise VerificationError(f"{where}: the bundle is signed by a key, not a certificate "
                                "(cosign --key, managed-key bundles): a certificate identity "
                                "cannot match it; pass --key PUB")
    if isinstance(bundle, intoto_entry.IntotoBundle):
        last: VerificationError | None = None
        for k in keys:  # the entry names its key: the one that verifies is the signer
            try:
                ptype, body, when = intoto_entry.verify_with_key(bundle, trusted_root, k.key,
                                                                 where=where)
            except VerificationError as e:
                last = e
                continue
            return [Check("signature", True, f"Sigstore bundle (intoto 0.0.2 entry) signed by "
                          f"{k.label}: DSSE signature valid, logged in Rekor at "
                          f"{when:%Y-%m-%dT%H:%M:%SZ}")], (ptype, body)
        assert last is not None  # noqa: S101 - keys is not empty
        raise last
    label, payload = keyed_bundle.verify(bundle, trusted_root, keys,
                                                    artifact_digest=artifact_digest,
                                                    where=where)
    what = "DSSE signature valid" if payload else "signature over the artifact valid"
    return [Check("signature", True, f"Sigstore bundle signed by {label}: {what}, "
                  "logged in Rekor (inclusion proof and signed checkpoint verified)")], payload


def verify_bundle(bundle: Any, trusted_root: Any, identity: IdentityPolicy, *,
                  artifact_digest: tuple[str, bytes] | None, where: str
                  ) -> tuple[list[Check], tuple[str, bytes] | None]:
    """Checks for the bundle; for DSSE bundles also the verified (payloadType, payload).
    ``artifact_digest`` is (algorithm, digest) of the file a message signature signs, in
    the algorithm :func:`signed_algorithm` names."""
    from attester.verify import checkpoint, intoto_entry, rekor_v2_dsse, tsa_bundle

    if not identity.given():
        raise UsageError("a keyless signature needs an expected signer",
                         hint="pass --certificate-identity (or -regexp) and "
                         "--certificate-oidc-issuer")
    # Identity is checked by us (below) so each requirement gets its own message; the
    # library checks everything cryptographic.
    nopolicy = _Deferred()
    checks: list[Check] = []
    payload: tuple[str, bytes] | None = None
    if isinstance(bundle, tsa_bundle.TimestampedBundle):
        payload, times = tsa_bundle.verify(bundle, trusted_root,
                                           artifact_digest=artifact_digest, where=where)
        what = "DSSE signature valid" if payload else "signature over the artifact valid"
        checks.append(Check("signature", True, f"Sigstore bundle: {what}, certificate chains "
                            f"to the trusted root, {_no_log_detail(times)}"))
        checks.extend(identity.check(bundle.signing_certificate))
        return checks, payload
    if not tsa_bundle.root_has_logs(trusted_root):
        raise VerificationError(f"{where}: the bundle has a log entry, but the trusted root has "
                                "no transparency log to check it against")
    checkpoint.check_bundle(bundle, trusted_root, where=where)
    if isinstance(bundle, intoto_entry.IntotoBundle):
        ptype, body, when = intoto_entry.verify(bundle, trusted_root, where=where)
        checks.append(Check("signature", True, "Sigstore bundle (intoto 0.0.2 entry): DSSE "
                            "signature valid, certificate chains to the trusted root, logged "
                            f"in Rekor at {when:%Y-%m-%dT%H:%M:%SZ}"))
        checks.extend(identity.check(bundle.signing_certificate))
        return checks, (ptype, body)
    verifier = _verifier(trusted_root)
    if bundle._dsse_envelope is not None:
        out: list[tuple[str, bytes]] = []
        if rekor_v2_dsse.is_dsse_v002(bundle):
            _verify(lambda: out.append(rekor_v2_dsse.verify(verifier, bundle)), where=where)
            kind = " (Rekor v2 dsse 0.0.2 entry)"
        else:
            _verify(lambda: out.append(verifier.verify_dsse(bundle, nopolicy)), where=where)
            kind = ""
        payload = out[0]
        checks.append(Check("signature", True, f"Sigstore bundle{kind}: DSSE signature valid, "
                            f"certificate chains to the trusted root, {_evidence(bundle)}"))
    else:
        if artifact_digest is None:
            raise UsageError(f"{where}: a message-signature bundle signs a file; pass "
                             "--artifact FILE")
        alg, digest = artifact_digest
        _verify(lambda: _verify_message(verifier, bundle, alg, digest), where=where)
        checks.append(Check("signature", True, f"Sigstore bundle: signature over the artifact "
                            f"({alg}) valid, certificate chains to the trusted root, "
                            f"{_evidence(bundle)}"))
    checks.extend(identity.check(bundle.signing_certificate))
    return checks, payload
