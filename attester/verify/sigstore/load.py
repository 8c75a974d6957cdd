"""Reading a Sigstore bundle's JSON into what the verifiers take, before any check.

The ``sigstore`` package is imported here, once, and only when a bundle or a trusted
root is first read (:func:`load_library`; its TUF client is deferred further still, see
:func:`_defer_tuf`). :func:`load_bundle` routes a bundle by what its evidence is: an
``intoto`` 0.0.2 log entry (:mod:`.intoto_entry`), a managed key (:mod:`.keyed_bundle`),
only an RFC 3161 timestamp (:mod:`.tsa_bundle`), else ``sigstore``'s own model (which
:mod:`.authenticate` verifies). Spec rules the library does not enforce on loading (no
certificate chain in a v0.3 bundle, no root CA in a chain) are enforced here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from attester.errors import InputError, MissingExtraError, VerificationError

#: Bundles missing evidence fail verification (exit 1); broken structure is input (exit 2).
_MISSING_EVIDENCE = ("log entry", "inclusion proof", "inclusion promise", "signed timestamp",
                     "checkpoint", "inclusionProof Field required")


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


def load_library() -> Any:
    """The ``sigstore`` package, imported and set up once (a missing extra is one line)."""
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
    load_library()
    import json

    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle, InvalidBundle

    from attester.verify.sigstore import intoto_entry, keyed_bundle, tsa_bundle

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
        msg = one_line(e)
        if any(k in msg for k in _MISSING_EVIDENCE):
            raise VerificationError(f"{where}: {msg}") from None
        raise InputError(f"{where}: not a valid Sigstore bundle: {msg}") from None
    except (SigstoreError, ValueError) as e:
        raise InputError(f"{where}: not a valid Sigstore bundle: {one_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - sigstore's loader lets others through, e.g.
        # cryptography's ExtensionNotFound for a certificate without keyUsage (found by
        # the mutation suite): any of them means the bundle's material is malformed
        raise InputError(f"{where}: not a valid Sigstore bundle: {type(e).__name__}: "
                         f"{one_line(e)}") from None


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
    from attester.verify.sigstore import intoto_entry, keyed_bundle, tsa_bundle

    if isinstance(bundle, tsa_bundle.TimestampedBundle | keyed_bundle.KeyedBundle):
        return bundle.payload_type is not None
    return isinstance(bundle, intoto_entry.IntotoBundle) or \
        bundle._dsse_envelope is not None


def one_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return " ".join(lines[:3])[:300] if lines else type(e).__name__
