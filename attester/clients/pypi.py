"""PyPI's JSON API (a release's files and their digests) and integrity API (each file's
provenance), read as hostile answers: retried, size-bounded, type-checked.

``GET {index}/pypi/PROJECT/VERSION/json`` lists the release's files under ``urls`` with
their sha256; ``GET {index}/integrity/PROJECT/VERSION/FILE/provenance`` gives a file's PEP
740 provenance object (404: the file has none). Both are PyPI's documented APIs
(https://docs.pypi.org/api/json/, https://docs.pypi.org/api/integrity/); a mirror that
serves them is named with ``--index-url``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import attrs
import requests

from attester.clients.httpget import read_capped
from attester.clients.retry import RetryPolicy, send
from attester.errors import InputError, ServiceError, UsageError, unreachable_reason

DEFAULT_INDEX = "https://pypi.org"
#: A release's JSON (its description can be long, its file list is not).
MAX_RELEASE_BYTES = 16 << 20
#: A provenance object: a few attestations of ~10 KiB each.
MAX_PROVENANCE_BYTES = 4 << 20
#: Files of one release (wheels for every platform and Python): more is not a real release.
MAX_FILES = 2000
#: PEP 508 project names.
_PROJECT = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Redirects followed within the index's own origin.
MAX_REDIRECTS = 5


def _no_credentials(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An explicit (empty) authentication, so requests never adds ~/.netrc credentials:
    PyPI's JSON and integrity APIs are public."""
    return request


@attrs.frozen
class DistFile:
    """One file of a release, as the JSON API lists it."""

    filename: str
    sha256: str


@attrs.frozen
class Target:
    """``pypi://PROJECT/VERSION[/FILE]``."""

    project: str
    version: str
    filename: str | None = None

    @classmethod
    def parse(cls, uri: str) -> Target:
        rest = uri.removeprefix("pypi://")
        parts = rest.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"{uri}: expected pypi://PROJECT/VERSION or "
                             "pypi://PROJECT/VERSION/FILE")
        project, version = parts[0], parts[1]
        if not _PROJECT.fullmatch(project):
            raise UsageError(f"{uri}: {project!r} is not a PyPI project name")
        if not _VERSION.fullmatch(version):
            raise UsageError(f"{uri}: {version!r} is not a version")
        filename = parts[2] if len(parts) == 3 else None
        if filename is not None and not _dist_name_ok(filename):
            raise UsageError(f"{uri}: {filename!r} is not a wheel or sdist file name")
        return cls(project=project, version=version, filename=filename)

    @property
    def normalized(self) -> str:
        """The project's normalized name (PEP 503), as PyPI's URLs take it."""
        return re.sub(r"[-_.]+", "-", self.project).lower()

    def __str__(self) -> str:
        return f"pypi://{self.project}/{self.version}" + (f"/{self.filename}"
                                                           if self.filename else "")


def _dist_name_ok(name: str) -> bool:
    return "/" not in name and "\\" not in name and name not in (".", "..") and \
        name.endswith((".whl", ".tar.gz", ".zip"))


def index_url(value: str | None) -> str:
    """--index-url: PyPI or a mirror serving its JSON and integrity APIs. pip's form
    (``.../simple``) is accepted and means the same host."""
    url = (value or DEFAULT_INDEX).rstrip("/").removesuffix("/simple")
    parts = urlsplit(url)
    if parts.username or parts.password:  # never echoed: it would print the secret
        raise UsageError("--index-url: credentials in the URL are not taken (PyPI's JSON and "
                         "integrity APIs are public)")
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or \
            parts.fragment:
        raise UsageError(f"--index-url {value!r}: expected https://HOST[/PATH] (no query "
                         "or fragment)")
    return url


class PyPI:
    """The two read-only APIs verification needs, against PyPI or a mirror."""

    def __init__(self, index: str | None = None, *, session: requests.Session | None = None,
                 retry: RetryPolicy | None = None) -> None:
        self.index = index_url(index)
        self.session = session or requests.Session()
        self.retry = retry or RetryPolicy()
        self.host = urlsplit(self.index).netloc

    def _get(self, url: str, *, what: str, limit: int) -> bytes | None:
        """The body, or None for 404; every other failure is one ServiceError line.

        Redirects are followed only within the index's own origin (scheme, host, port), at
        most MAX_REDIRECTS times, and no credentials are ever attached (redteam): requests
        follows any redirect by default and adds ~/.netrc credentials for whichever host it
        lands on, so a hostile index could send them to a host of its choosing over plain
        http, and answer from a host the user never named."""
        for _ in range(MAX_REDIRECTS + 1):
            resp, attempts = send(
                lambda u=url: self.session.get(  # type: ignore[misc]
                    u, headers={"Accept": "application/json"}, stream=True, timeout=60,
                    allow_redirects=False, auth=_no_credentials),
                self.retry, transient=(requests.RequestException,),
                unreachable=lambda e: ServiceError(f"{what}: cannot reach {self.host}: "
                                                   f"{unreachable_reason(e)}"))
            try:
                if resp.is_redirect:
                    url = self._redirect(url, resp.headers.get("location", ""), what)
                    continue
                if resp.status_code == 404:
                    return None
                if resp.status_code != 200:
                    raise ServiceError(f"{what}: {self.host} answered {resp.status_code} "
                                       f"{resp.reason or ''}".rstrip()
                                       + (f" after {attempts} attempts" if attempts > 1
                                          else ""))
                return read_capped(resp, limit, what=what)
            finally:
                resp.close()
        raise ServiceError(f"{what}: {self.host} redirected more than {MAX_REDIRECTS} times")

    def _redirect(self, url: str, location: str, what: str) -> str:
        """The redirect's target when it stays within the index's origin."""
        target = urljoin(url, location)
        parts, index = urlsplit(target), urlsplit(self.index)
        if (parts.scheme, parts.netloc.lower()) != (index.scheme, index.netloc.lower()):
            shown = f"{parts.scheme}://{parts.hostname or '?'}"[:120]
            raise ServiceError(f"{what}: {self.host} redirected to {shown}, another host or "
                               "scheme than the index; attest reads only the index named "
                               "(--index-url)")
        return target

    def release_files(self, target: Target) -> list[DistFile]:
        """Every file of the release with its sha256, from the JSON API."""
        from attester.jsonio import parse_json

        url = (f"{self.index}/pypi/{quote(target.normalized, safe='')}/"
               f"{quote(target.version, safe='')}/json")
        what = f"PyPI JSON API for {target.project} {target.version}"
        data = self._get(url, what=what, limit=MAX_RELEASE_BYTES)
        if data is None:
            raise InputError(f"{what}: no such project or version on {self.host} (404)")
        return parse_release(parse_json(data, where=what), where=what, target=target)

    def provenance(self, target: Target, filename: str) -> bytes | None:
        """The file's provenance object (JSON bytes), or None when PyPI has none (404)."""
        url = (f"{self.index}/integrity/{quote(target.normalized, safe='')}/"
               f"{quote(target.version, safe='')}/{quote(filename, safe='')}/provenance")
        return self._get(url, what=f"PyPI integrity API for {filename}",
                         limit=MAX_PROVENANCE_BYTES)


def _release_of(name: str) -> tuple[str, Any] | None:
    """(normalized project, version) of a distribution file name, or None."""
    from attester.distnames import parse_dist_name

    parsed = parse_dist_name(name)
    return (str(parsed[0]), parsed[1]) if parsed is not None else None


def _owner_problem(name: str, target: Target) -> str | None:
    """Why ``name`` is not a file of ``target``'s release, or None. The JSON API's list is
    the index's word, and a file's attestation signs its own name only: a mirror answering
    with another release's files (an older, validly attested version; another project of
    the same publisher) would pass for the release asked. So each file must be named as a
    file of this project and version, compared as PEP 503 / PEP 440 compare them."""
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    got = _release_of(name)
    if got is None:
        return "is not a wheel or sdist file name of any release"
    try:
        want_version: Any = Version(target.version)
    except InvalidVersion:
        want_version = None
    if got[0] == canonicalize_name(target.project) and got[1] == want_version:
        return None
    return (f"is a file of {got[0]} {got[1]}, not of {target.project} {target.version}")


def parse_release(doc: Any, *, where: str, target: Target | None = None) -> list[DistFile]:
    """The JSON API's ``urls``: each a file name that is a distribution's (of ``target``'s
    project and version when given), and its sha256; a wrong shape is one line naming the
    field (jsonio.Fields)."""
    from attester.jsonio import Fields

    urls = Fields(doc, where).objects("urls")
    if len(urls) > MAX_FILES:
        raise InputError(f"{where}: lists {len(urls)} files, more than {MAX_FILES}; refusing it")
    out: list[DistFile] = []
    seen: set[str] = set()
    for i, item in enumerate(urls):
        name = item.text("filename")
        if not _dist_name_ok(name):
            raise InputError(f"{where}: field 'urls[{i}].filename' is not a distribution file "
                             f"name: {name[:100]!r}")
        problem = _owner_problem(name, target) if target is not None else None
        if problem is not None:
            raise InputError(f"{where}: field 'urls[{i}].filename' ({name[:100]}) {problem}; "
                             "refusing the listing")
        digests = item.obj("digests")
        sha = digests.text("sha256", "") if digests is not None else ""
        if not _SHA256.fullmatch(sha.lower()):
            raise InputError(f"{where}: field 'urls[{i}].digests.sha256' of {name} is not a "
                             "sha256 hex digest")
        if name in seen:
            raise InputError(f"{where}: urls[{i}]: {name} is listed twice")
        seen.add(name)
        out.append(DistFile(filename=name, sha256=sha.lower()))
    return out
