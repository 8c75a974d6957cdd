"""``oci://REGISTRY/REPO[:TAG|@sha256:DIGEST]`` through the OCI distribution API.

Written on ``urllib3`` rather than a registry SDK: the Python registry clients pull in
far more than the three calls we need (manifest GET, tag list, token), and we must
compute each manifest digest ourselves instead of trusting a header. ``urllib3`` and not
``requests`` because promotion resolves thousands of references: ``requests``' session
layer (settings merges, cookie jar, hooks) cost 0.2 ms of CPU per call on top of
``urllib3``'s 0.3 ms, about 40% of the client's CPU, on a 2-core machine the registry
shares (bench/promote_bench.py).

A subject per image: the manifest (or multi-arch index) digest, named by its canonical
reference; ``--oci-platforms`` also lists each platform manifest of an index. No tag
means every tag of the repository. Anonymous, basic and bearer-token auth (credentials
from the docker config); plain HTTP only for loopback or with ``--insecure-registry``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import ipaddress
import os
import re
import threading
from collections.abc import Callable, Container, Mapping, Sequence
from pathlib import Path
from typing import IO, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import attrs
import certifi
import urllib3

from attester.clients.httpget import (
    MAX_UNLISTED_BYTES,
    URLLIB3_TRANSIENT,
    StreamedAnswer,
    read_capped,
)
from attester.clients.pager import Page, paginate
from attester.clients.retry import RETRYABLE_STATUS, RetryPolicy, send
from attester.errors import (
    AttesterError,
    InputError,
    ServiceError,
    StoreError,
    unreachable_reason,
)
from attester.hashing import HashTask
from attester.jsonio import Fields, json_kind, load_json, parse_json
from attester.parallel import DEFAULT_JOBS, first_error, map_ordered
from attester.stores.interface import Entry

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
MAX_MANIFEST_BYTES = 4 << 20  # the distribution spec's recommended limit
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# The distribution spec's repository name grammar (path components and separators).
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPO = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
T = TypeVar("T")


@attrs.frozen
class Reference:
    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @classmethod
    def parse(cls, uri: str) -> Reference:
        rest = uri.removeprefix("oci://")
        registry, _, path = rest.partition("/")
        if not registry or not path:
            raise InputError(f"{uri}: expected oci://REGISTRY/REPOSITORY[:TAG|@sha256:DIGEST]")
        digest = ""
        if "@" in path:
            path, _, digest = path.partition("@")
            if not _DIGEST.match(digest):
                raise InputError(f"{uri}: digest must be sha256:<64 hex digits>")
        tag = ""
        last = path.rsplit("/", 1)[-1]
        if ":" in last:
            path, _, tag = path.rpartition(":")
            if not _TAG.match(tag):
                raise InputError(f"{uri}: {tag!r} is not a valid tag")
        if not _REPO.match(path):
            raise InputError(f"{uri}: {path!r} is not a valid repository name")
        if registry in ("docker.io", "index.docker.io") and "/" not in path:
            path = f"library/{path}"  # Docker Hub's official images
        return cls(registry=registry, repository=path, tag=tag, digest=digest)

    def name(self, *, tag: str = "", digest: str = "") -> str:
        base = f"{self.registry}/{self.repository}"
        return f"{base}@{digest}" if digest else f"{base}:{tag}"


def is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else \
        registry[1:registry.index("]")]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def docker_credentials(registry: str) -> tuple[str, str] | None:
    """user/password for ``registry`` from the docker config (``auths`` entries)."""
    folder = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    path = Path(folder) / "config.json"
    try:
        config = load_json(path, what="docker config")
    except InputError:
        return None
    auths = config.get("auths") if isinstance(config, dict) else None
    if not isinstance(auths, dict):
        return None
    for key in (registry, f"https://{registry}", f"http://{registry}",
                f"https://{registry}/v1/", f"https://{registry}/v2/"):
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise InputError(f"{path}: auth for {registry} is not base64 user:password") \
                    from None
            return user, password
        if entry.get("username"):
            return str(entry["username"]), str(entry.get("password", ""))
    return None


#: Redirects are followed (blob GETs go to storage), ``urllib3`` dropping Authorization
#: when one leaves the host; every other retry is :func:`send`'s, with its backoff.
_REDIRECTS_ONLY = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0,
                                redirect=10, raise_on_status=False)


class RegistryClient:
    """The few distribution-API calls we make, with auth, retries and clear errors.

    Safe to share between threads: promotion resolves thousands of references through
    one client per registry, so connections and tokens are reused (``pool`` connections
    kept open). Bearer tokens are scoped to a repository, so one is kept per repository.
    """

    def __init__(self, registry: str, *, insecure: bool = False,
                 retry: RetryPolicy | None = None, pool: int = 10) -> None:
        self.registry = registry
        scheme = "http" if insecure or is_loopback(registry) else "https"
        # Docker Hub is named docker.io but serves the API from registry-1.docker.io.
        api_host = "registry-1.docker.io" if registry in ("docker.io", "index.docker.io") \
            else registry
        self.base = f"{scheme}://{api_host}/v2/"
        self.retry = retry or RetryPolicy()
        # No proxy from the environment, certifi's CAs: what requests with trust_env off did.
        self.http = urllib3.PoolManager(num_pools=4, maxsize=max(pool, 1),
                                        ca_certs=certifi.where(), retries=_REDIRECTS_ONLY,
                                        timeout=urllib3.Timeout(connect=60.0, read=60.0))
        self._auth: dict[str, str] = {}
        self._auth_lock = threading.Lock()

    def get(self, path: str, *, what: str, accept: str = "",
            params: Mapping[str, str] | None = None) -> StreamedAnswer:
        return self.request("GET", path, what=what, accept=accept, params=params)

    def request(self, method: str, path: str, *, what: str, accept: str = "",
                params: Mapping[str, str] | None = None, data: bytes | None = None,
                content_type: str = "", allow: Container[int] = ()) -> StreamedAnswer:
        """One API call through the shared retry loop, answering the auth challenge of a
        401 once; a status >= 400 is an error unless ``allow``-ed (then the caller reads
        it, e.g. a registry without the referrers API)."""
        url = urljoin(self.base, path)
        repository = _repository_of(url)
        if params:
            url += ("&" if urlsplit(url).query else "?") + urlencode(params)

        def once() -> StreamedAnswer:
            headers = {"Accept": accept} if accept else {}
            if content_type:
                headers["Content-Type"] = content_type
            auth = self._auth.get(repository)
            if auth:
                headers["Authorization"] = auth
            return StreamedAnswer(self.http.urlopen(method, url, headers=headers, body=data,
                                                    preload_content=False))

        def unreachable(e: Exception) -> Exception:
            return ServiceError(f"{what}: cannot reach registry {self.registry}: "
                                f"{unreachable_reason(e)}")

        sent_with = self._auth.get(repository)
        resp, attempts = send(once, self.retry, transient=URLLIB3_TRANSIENT,
                              unreachable=unreachable)
        if resp.status_code == 401 and self._authenticate(resp, what, repository, sent_with):
            resp.close()
            resp, attempts = send(once, self.retry, transient=URLLIB3_TRANSIENT,
                                  unreachable=unreachable)
        if resp.status_code >= 400 and resp.status_code not in allow:
            raise self._error(resp, what, attempts)
        return resp

    def _error(self, resp: StreamedAnswer, what: str, attempts: int) -> Exception:
        code = resp.status_code
        detail = _registry_error(resp)
        if code == 401:
            return ServiceError(f"{what}: unauthorized at {self.registry}{detail}",
                                hint="log in with 'docker login' (read from the docker config)")
        if code == 403:
            return ServiceError(f"{what}: access denied by {self.registry}{detail}")
        if code == 404:
            return StoreError(f"{what}: not found at {self.registry}{detail}")
        if code in RETRYABLE_STATUS:
            return ServiceError(f"{what}: registry {self.registry} answered {code} "
                                f"{resp.reason} {attempts} times; giving up")
        return ServiceError(f"{what}: registry {self.registry} answered {code} {resp.reason}"
                            f"{detail}")

    def _authenticate(self, resp: StreamedAnswer, what: str, repository: str,
                      sent_with: str | None) -> bool:
        """Answer a 401's challenge; True when there are new credentials to send."""
        with self._auth_lock:  # one token request per repository, however many threads
            if self._auth.get(repository) != sent_with:
                return True  # another thread got a token while this request was out
            header = self._credentials(resp, what)
            if header is None:
                return False
            self._auth[repository] = header
            return True

    def _credentials(self, resp: StreamedAnswer, what: str) -> str | None:
        challenge = resp.headers.get("WWW-Authenticate", "")
        scheme = challenge.split(" ", 1)[0].lower()
        creds = docker_credentials(self.registry)
        if scheme == "basic" and creds:
            return "Basic " + base64.b64encode(":".join(creds).encode()).decode()
        if scheme != "bearer":
            return None  # the 401 is then reported clearly
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.pop("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise ServiceError(f"{what}: registry {self.registry} sent an unusable auth "
                               "challenge (no realm)")
        if realm.startswith("http://") and not is_loopback(realm.split("/")[2]) and \
                not self.base.startswith("http://"):
            raise ServiceError(f"{what}: refusing to send credentials to plain-HTTP token "
                               f"server {realm}")
        url = realm + (("&" if urlsplit(realm).query else "?") + urlencode(params)
                       if params else "")
        headers = urllib3.util.make_headers(basic_auth=":".join(creds)) if creds else {}
        try:
            tok = StreamedAnswer(self.http.urlopen("GET", url, headers=headers,
                                                   preload_content=False))
        except URLLIB3_TRANSIENT as e:
            raise ServiceError(f"{what}: cannot reach token server {realm}: "
                               f"{unreachable_reason(e)}") from None
        if tok.status_code != 200:
            tok.close()
            raise ServiceError(f"{what}: token server {realm} answered {tok.status_code}",
                               hint="log in with 'docker login' (read from the docker config)")
        try:
            body = parse_json(read_capped(tok, MAX_UNLISTED_BYTES, what=f"token server {realm}"),
                              where=f"token server {realm}")
            token = body.get("token") or body.get("access_token") \
                if isinstance(body, dict) else None
        except AttesterError:
            token = None
        finally:
            tok.close()
        if not isinstance(token, str) or not token:
            raise ServiceError(f"{what}: token server {realm} returned no token")
        return f"Bearer {token}"

    def manifest(self, repository: str, reference: str, *, what: str) -> tuple[bytes, str]:
        resp = self.get(f"{repository}/manifests/{reference}", what=what, accept=ACCEPT)
        body = _read_limited(resp, MAX_MANIFEST_BYTES, what)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        claimed = resp.headers.get("Docker-Content-Digest")
        if claimed and claimed != digest:
            raise ServiceError(f"{what}: registry says digest {claimed} but the manifest it "
                               f"sent hashes to {digest}")
        if reference.startswith("sha256:") and reference != digest:
            raise ServiceError(f"{what}: asked for {reference}, received content with {digest}")
        return body, resp.headers.get("Content-Type", "").split(";")[0].strip()

    def tags(self, repository: str, *, what: str) -> list[str]:
        """Every tag of ``repository``, through the one pager (``Link: rel="next"``)."""

        def fetch(link: str | None) -> Page[str, str]:
            resp = self.get(link or f"{repository}/tags/list", what=what,
                            params=None if link else {"n": "1000"})
            with resp:
                body = parse_json(_read_limited(resp, MAX_MANIFEST_BYTES, what),
                                  where=f"{what}: tag list")
            tags = Fields(body, f"{what}: tag list").array("tags", [])
            for i, t in enumerate(tags):
                if not isinstance(t, str):
                    raise InputError(f"{what}: tag list: field 'tags[{i}]' is {json_kind(t)}, "
                                     "expected a string")
            nxt = resp.links.get("next", {}).get("url")
            link = urljoin(self.base, nxt) if nxt else None
            if link is not None and urlsplit(link)[:2] != urlsplit(self.base)[:2]:
                raise ServiceError(f"{what}: tag list: next link {link[:200]!r} leaves "
                                   f"{self.registry}; refusing to follow it with credentials")
            return Page(items=tags, next=link)

        return sorted(set(paginate(fetch, what=f"{what}: tag list")))


def _repository_of(url: str) -> str:
    """The repository a distribution-API URL is about (the scope of its bearer token)."""
    path = urlsplit(url).path
    path = path.split("/v2/", 1)[1] if "/v2/" in path else path
    for marker in ("/manifests/", "/blobs/", "/tags/", "/referrers/"):
        if marker in path:
            return path.split(marker, 1)[0]
    return path.strip("/")


def _read_limited(resp: StreamedAnswer, limit: int, what: str) -> bytes:
    return read_capped(resp, limit, what=f"{what}: registry answer")


def _registry_error(resp: StreamedAnswer) -> str:
    """The registry's own error code and message, when its (small) error body has them."""
    try:
        doc = parse_json(read_capped(resp, MAX_UNLISTED_BYTES, what="registry error"),
                         where="registry error")
        first = Fields(doc, "registry error").objects("errors", [])[:1]
        return f" ({first[0].text('code', '')[:100]}: {first[0].text('message', '')[:200]})" \
            if first else ""
    except AttesterError:
        return ""
    finally:
        resp.close()


def is_referrer_tag(tag: str) -> bool:
    """A tag that names attestations, not an image: the OCI 1.1 referrers fallback tag
    (``sha256-<hex>``, which ``attest attach`` writes) and cosign's ``sha256-<hex>.sig``,
    ``.att`` and ``.sbom`` tags. Never an image, so never a subject."""
    return _REFERRER_TAG.match(tag) is not None


_REFERRER_TAG = re.compile(r"^sha256-[0-9a-f]{64}(\.(sig|att|sbom))?$")


@attrs.frozen
class Platform:
    os: str = "unknown"
    architecture: str = "unknown"
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@attrs.frozen
class Descriptor:
    """One entry of an image index, type-checked field by field."""

    digest: str
    media_type: str = ""
    platform: Platform | None = None

    @classmethod
    def from_json(cls, f: Fields) -> Descriptor:
        digest = f.text("digest")
        if not _DIGEST.match(digest):
            raise InputError(f"{f.where}: field {f.path}.digest is not sha256:<64 hex digits>")
        p = f.obj("platform")
        platform = None if p is None else Platform(
            os=p.text("os", "unknown"), architecture=p.text("architecture", "unknown"),
            variant=p.text("variant", ""))
        return cls(digest=digest, media_type=f.text("mediaType", ""), platform=platform)


class Clients:
    """One :class:`RegistryClient` per registry, shared by every thread resolving
    references there: connections and tokens are reused instead of set up per image."""

    def __init__(self, *, insecure: bool = False, jobs: int = DEFAULT_JOBS,
                 retry: RetryPolicy | None = None) -> None:
        self.insecure, self.jobs, self.retry = insecure, jobs, retry
        self._clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()

    def __call__(self, registry: str) -> RegistryClient:
        with self._lock:
            if registry not in self._clients:
                self._clients[registry] = RegistryClient(
                    registry, insecure=self.insecure, retry=self.retry, pool=self.jobs)
            return self._clients[registry]

    def digest(self, uri: str) -> str:
        """``sha256:...`` of the manifest ``uri`` (``oci://R/REPO:TAG`` or ``@sha256:D``)
        names, computed from the bytes received."""
        ref = Reference.parse(uri)
        if not (ref.tag or ref.digest):
            raise InputError(f"{uri}: name an image by tag or digest")
        body, _ = self(ref.registry).manifest(ref.repository, ref.digest or ref.tag, what=uri)
        return "sha256:" + hashlib.sha256(body).hexdigest()


@attrs.frozen
class OciStore:
    uri: str
    ref: Reference
    client: RegistryClient = attrs.field(repr=False, eq=False)
    platforms: bool = False
    jobs: int = DEFAULT_JOBS
    progress: bool = False  # a meter on a terminal while manifests are fetched

    @classmethod
    def from_uri(cls, uri: str, *, insecure: bool = False, platforms: bool = False,
                 retry: RetryPolicy | None = None, jobs: int = DEFAULT_JOBS,
                 client: RegistryClient | None = None, progress: bool = False) -> OciStore:
        ref = Reference.parse(uri)
        return cls(uri=uri, ref=ref, platforms=platforms, jobs=jobs, progress=progress,
                   client=client or RegistryClient(ref.registry, insecure=insecure,
                                                   retry=retry, pool=jobs))

    def entries(self) -> Sequence[Entry]:
        """One entry per image (every tag when none is named), manifests fetched
        ``jobs`` at a time; entries and the first error come in tag order."""
        ref = self.ref
        if ref.digest:
            refs = [(ref.digest, ref.name(digest=ref.digest))]
        elif ref.tag:
            refs = [(ref.tag, ref.name(tag=ref.tag))]
        else:
            tags = [t for t in self.client.tags(ref.repository, what=self.uri)
                    if not is_referrer_tag(t)]
            if not tags:
                raise StoreError(f"{self.uri}: the repository has no tags")
            refs = [(t, ref.name(tag=t)) for t in tags]

        def image(pair: tuple[str, str]) -> list[Entry]:
            reference, name = pair
            body, media_type = self.client.manifest(ref.repository, reference,
                                                    what=f"oci://{name}")
            annotations = {"mediaType": media_type} if media_type else {}
            return [Entry(name=name, size=len(body), handle=body, annotations=annotations,
                          identity={"sha256": hashlib.sha256(body).hexdigest()})]

        out = self._gather(image, refs, "image")
        if self.platforms:
            indexes = [e for e in out if e.annotations.get("mediaType") in INDEX_TYPES]
            children = self._gather(self._platform_entries, indexes, "image index")
            by_index = {e.name: [c for c in children if c.annotations["index"] == e.name]
                        for e in indexes}
            out = [x for e in out for x in (e, *by_index.get(e.name, ()))]
        return out

    def _gather(self, fn: Callable[[T], list[Entry]], items: Sequence[T],
                what: str) -> list[Entry]:
        results = map_ordered(fn, items, jobs=self.jobs, stop_on_error=True,
                              progress=("fetching", f"{what} manifests") if self.progress
                              else None)
        error = first_error(results)
        if error is not None:
            raise error
        return [e for r in results if not isinstance(r, AttesterError) for e in r]

    def _platform_entries(self, index_entry: Entry) -> list[Entry]:
        index: bytes = index_entry.handle
        name = index_entry.name
        where = f"oci://{name}: image index"
        doc = Fields(parse_json(index, where=where), where)
        out = []
        for desc in (Descriptor.from_json(d) for d in doc.objects("manifests", [])):
            digest = desc.digest
            child = self.ref.name(digest=digest)
            body, media_type = self.client.manifest(self.ref.repository, digest,
                                                    what=f"oci://{child}")
            out.append(Entry(name=child, size=len(body), handle=body,
                             identity={"sha256": digest.removeprefix("sha256:")},
                             annotations={"mediaType": media_type,
                                          "platform": str(desc.platform or Platform()),
                                          "index": name}))
        return out

    def task(self, entry: Entry) -> HashTask:
        body: bytes = entry.handle

        def opener() -> IO[bytes]:
            return io.BytesIO(body)

        return HashTask(label=entry.name, size=entry.size, open=opener)

    def after_hash(self, entry: Entry, digest: Mapping[str, str]) -> None:
        return None  # content-addressed: the digest is of the bytes we hold
