"""Sigstore trusted roots: read (each file parsed once) and fetched (``attest trusted-root``).

:func:`load_trusted_root` gives every verifier its root: ``--trusted-root FILE``, else
the public-good or staging root through ``sigstore``'s TUF client (``--offline``: the
copies embedded in ``sigstore``).

``attest trusted-root``: write a Sigstore trusted root for offline verification.

What ``gh attestation trusted-root`` and ``cosign trusted-root create`` give an auditor:
the root to pass later as ``verify --trusted-root FILE --offline``. The public-good and
staging roots come from Sigstore's TUF repositories through ``sigstore``'s own TUF client
when the network allows, else from the copies embedded in the ``sigstore`` package.
GitHub's root (its Fulcio and timestamp authorities, no transparency log) is the copy
embedded here: the ``trusted_root.json`` target of GitHub's TUF repository as sigstore-rust
embeds it; ``sigstore`` ships no bootstrap root for GitHub's TUF repository, so there is
no verified way to refresh it here.
"""

from __future__ import annotations

import os
import threading
from importlib import resources
from typing import Any

import attrs

from attester.errors import InputError, MissingExtraError
from attester.verify.sigstore.load import load_library, one_line

TUF_URLS = {"public-good": "https://tuf-repo-cdn.sigstore.dev",
            "staging": "https://tuf-repo-cdn.sigstage.dev"}
INSTANCES = ("public-good", "staging", "github")


@attrs.frozen
class Fetched:
    data: bytes = attrs.field(repr=False)
    source: str


def _embedded_sigstore(instance: str) -> bytes:
    try:
        store = resources.files("sigstore") / "_store"
    except ModuleNotFoundError:
        raise MissingExtraError("sigstore", "sigstore") from None
    quoted = TUF_URLS[instance].replace(":", "%3A").replace("/", "%2F")
    return (store / quoted / "trusted_root.json").read_bytes()


def _from_tuf(instance: str) -> bytes:
    from pathlib import Path

    from sigstore._internal.tuf import TrustUpdater

    return Path(TrustUpdater(TUF_URLS[instance], offline=False).get_trusted_root_path()) \
        .read_bytes()


def fetch(instance: str, *, offline: bool) -> Fetched:
    """The instance's trusted root and where it came from (said to the user)."""
    from importlib.metadata import PackageNotFoundError, version

    if instance not in INSTANCES:
        raise InputError(f"unknown Sigstore instance {instance!r} (one of "
                         f"{', '.join(INSTANCES)})")
    if instance == "github":
        return Fetched((resources.files("attester") / "data" / "trusted_root.github.json")
                       .read_bytes(), "embedded copy in attester (GitHub's TUF repository "
                       "is not fetched: no bootstrap root for it ships with sigstore)")
    try:
        embedded = f"embedded copy in sigstore {version('sigstore')}"
    except PackageNotFoundError:
        raise MissingExtraError("sigstore", "sigstore") from None
    if offline:
        return Fetched(_embedded_sigstore(instance), f"{embedded} (--offline)")
    try:
        return Fetched(_from_tuf(instance), f"Sigstore's TUF repository {TUF_URLS[instance]}, "
                       "verified and refreshed now")
    except Exception as e:  # noqa: BLE001 - any network or TUF failure falls back, said aloud
        reason = " ".join(str(e).split())[:120] or type(e).__name__
        return Fetched(_embedded_sigstore(instance), f"{embedded}: TUF repository not "
                       f"reachable ({reason})")


def check(data: bytes, source: str = "trusted root") -> Any:
    """The root parses as one ``verify`` accepts; never write one it would refuse."""
    try:
        return root_from_bytes(data)
    except ImportError:
        raise MissingExtraError("sigstore", "sigstore") from None
    except Exception as e:  # noqa: BLE001 - sigstore raises several kinds for bad roots
        raise InputError(f"the {source} does not load: {str(e)[:200]}") from None


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
    load_library()
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
                             f"{one_line(e)}") from None
    config = ClientTrustConfig.staging if staging else ClientTrustConfig.production
    try:
        return config(offline=offline).trusted_root
    except Exception as e:  # noqa: BLE001
        raise InputError(f"cannot load the Sigstore trusted root ({one_line(e)})",
                         hint="pass --trusted-root FILE") from None
