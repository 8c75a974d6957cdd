"""The one exception family of attester.

Library code raises these; only :mod:`attester.cli` turns them into exit codes and
messages. ``exit_code`` is part of the contract: 1 means "the artifact is not
trustworthy", 2 means "we could not even check" (bad usage or input, unreachable
service). Messages are one line saying what and where, and never contain secrets.
"""

from __future__ import annotations


class AttesterError(Exception):
    """Root of every error attester raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """The line a person reads, plus what to try when we know it."""
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(AttesterError):
    """The command line asks for something impossible or incomplete."""


class InputError(AttesterError):
    """A file or document we were given is unreadable, malformed or of the wrong kind."""


class StoreError(InputError):
    """An artifact store cannot list or read what it was asked for."""


class ServiceError(AttesterError):
    """A remote service (API, registry, bucket) failed or could not be reached."""


class MissingExtraError(UsageError):
    """An optional dependency is needed for this URI scheme but not installed."""

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"this needs the optional dependency {module!r}",
            hint=f"pip install 'attester[{extra}]'",
        )


#: Which extra installs each optional top-level module (pyproject.toml's extras).
EXTRA_OF_MODULE = {"sigstore": "sigstore", "sigstore_models": "sigstore",
                   "sigstore_protobuf_specs": "sigstore", "github": "github", "cramjam": "github",
                   "google": "gcs", "gcp_storage_emulator": "gcs", "spdx_tools": "sbom",
                   "securesystemslib": "kms", "pypi_attestations": "pypi"}


def missing_extra(error: BaseException) -> MissingExtraError | None:
    """The MissingExtraError an ImportError or PackageNotFoundError stands for, when the
    module missing is one an extra installs (the CLI's last net: every path says which)."""
    name = getattr(error, "name", None) or ""
    if not name and type(error).__name__ == "PackageNotFoundError" and error.args:
        name = str(error.args[0])
    top = name.split(".")[0].replace("-", "_")
    if top == "google" and ("build" in name or "devtools" in name):
        return MissingExtraError("cloudbuild", name)
    extra = EXTRA_OF_MODULE.get(top)
    return MissingExtraError(extra, top.replace("_", "-")) if extra else None


#: What a failed connection's text says, in the words a person acts on (the exception's
#: class name, "ConnectionError", says nothing about what to fix).
_UNREACHABLE = (
    (("Name or service not known", "nodename nor servname", "getaddrinfo failed",
      "Temporary failure in name resolution", "No address associated"),
     "the host name does not resolve"),
    (("Connection refused",), "connection refused (nothing listens there)"),
    (("timed out", "Timeout"), "timed out"),
    (("ProxyError", "Unable to connect to proxy"), "the proxy (HTTPS_PROXY) refused or failed"),
    (("CERTIFICATE_VERIFY_FAILED", "SSLError", "certificate verify failed"),
     "TLS failed: the server's certificate is not trusted"),
    (("Connection reset", "RemoteDisconnected", "Connection aborted"),
     "the connection was dropped"),
)


def unreachable_reason(error: BaseException) -> str:
    """Why a connection failed, from the exception and its causes: 'connection refused',
    'the host name does not resolve'... (the class name when nothing known matches)."""
    seen: list[str] = []
    e: BaseException | None = error
    while e is not None and len(seen) < 8:
        seen.append(f"{type(e).__name__}: {e}")
        e = e.__cause__ or e.__context__
    text = " ".join(seen)
    for needles, reason in _UNREACHABLE:
        if any(n in text for n in needles):
            return reason
    return type(error).__name__


class VerificationError(AttesterError):
    """The attestation or artifact failed a check: do not trust it."""

    exit_code = 1
