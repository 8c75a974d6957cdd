"""``attest trusted-root``: write a Sigstore trusted root for offline verification.

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

from importlib import resources
from typing import Any

import attrs

from attester.errors import InputError, MissingExtraError

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
        from attester.verify.bundles import root_from_bytes
    except ImportError:
        raise MissingExtraError("sigstore", "sigstore") from None
    try:
        return root_from_bytes(data)
    except ImportError:
        raise MissingExtraError("sigstore", "sigstore") from None
    except Exception as e:  # noqa: BLE001 - sigstore raises several kinds for bad roots
        raise InputError(f"the {source} does not load: {str(e)[:200]}") from None
