"""``gs://BUCKET/PREFIX`` through Google's JSON API (the ``gcs`` extra).

Listings, single-object metadata and small downloads go through google-auth's urllib3
transport straight to the JSON API (``objects.list``, ``objects.get``, the listed media
link); ``google-cloud-storage`` streams large objects and reads links the API did not
point at itself. Not the client library for everything because, for the thousands of
small objects of a release, importing it (0.27 s of CPU, grpc and protobuf included) and
turning every listed item into a ``Blob`` cost more than the rest of the run
(bench/gcs_bench.py), and its answers are read whole before anything could bound them.

Objects are listed page by page and streamed through the hashing engine, each read
pinned to the generation seen at listing time: GCS answers a read of a generation that
was replaced with 404 (or, with versioning, serves the listed generation's bytes). The
bytes read are also checked against the MD5 the listing gave (CRC32C for composite
objects, which have no MD5), so an object rewritten mid-run is an error, never a
silently wrong digest, with one request per object and no metadata re-read (which is
only made for an object listed with neither checksum).

Small objects are downloaded ``jobs`` at a time as soon as their listing page arrives,
so downloads overlap the listing of the next page; what waits for hashing in memory is
bounded by :data:`PREFETCH_BYTES`. Honors ``STORAGE_EMULATOR_HOST`` as the Google client
does (anonymous credentials).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any
from urllib.parse import urlsplit

import attrs

from attester.clients.pager import Page, paginate
from attester.clients.retry import RetryPolicy, send
from attester.errors import (
    AttesterError,
    MissingExtraError,
    ServiceError,
    StoreError,
    unreachable_reason,
)
from attester.hashing import HashTask
from attester.parallel import DEFAULT_JOBS
from attester.stores.interface import Entry

_LOCK = threading.Lock()
#: Bytes fetched per ranged read while streaming an object.
READ_CHUNK = 8 << 20
#: Objects up to this size are fetched in one request while the listing goes on ...
PREFETCH_MAX_OBJECT = 1 << 20
#: ... until this many bytes wait in memory; larger ones are streamed when hashed.
PREFETCH_BYTES = 64 << 20


#: ``google.cloud.storage.Client.SCOPE``, copied so that credentials are found without
#: importing the client library.
SCOPES = ("https://www.googleapis.com/auth/devstorage.full_control",
          "https://www.googleapis.com/auth/devstorage.read_only",
          "https://www.googleapis.com/auth/devstorage.read_write")
#: Largest JSON answer of the storage API (a listing page of 1,000 objects is ~1 MiB).
MAX_API_BYTES = 32 << 20


class Api:
    """One storage endpoint and its credentials, shared by every store of a process (file
    promotion opens a store per file, and each would fetch its own OAuth token): the
    urllib3 transport for JSON API calls, and the client library, made on first need."""

    def __init__(self, endpoint: str, credentials: Any, project: str, *,
                 client: Any = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.credentials, self.project = credentials, project
        self._client = client
        self._http: Any = None
        self._lock = threading.Lock()

    @classmethod
    def of_client(cls, client: Any) -> Api:
        """The endpoint and credentials of a ``google.cloud.storage.Client`` (tests give
        one pointed at a fault proxy)."""
        _quiet(client)
        endpoint = str(getattr(client, "api_endpoint", "") or _endpoint())
        return cls(endpoint, getattr(client, "_credentials", None),  # no public accessor
                   str(getattr(client, "project", "") or ""), client=client)

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = _new_client(self.credentials, self.project)
            return self._client

    def http(self, jobs: int = DEFAULT_JOBS) -> Any:
        """google-auth's urllib3 transport (it adds and refreshes the token), keeping a
        connection for each of ``jobs`` threads (the first caller's ``--jobs``: one per
        command line); fewer would be reopened and logged as discarded."""
        with self._lock:
            if self._http is None:
                import urllib3
                from google.auth.transport.urllib3 import AuthorizedHttp

                pool = urllib3.PoolManager(maxsize=max(jobs, DEFAULT_JOBS), retries=False,
                                           timeout=60.0)
                self._http = AuthorizedHttp(self.credentials, http=pool)  # type: ignore[no-untyped-call]
            return self._http

    def get_json(self, url: str, *, what: str, policy: RetryPolicy, jobs: int,
                 missing: Callable[[], AttesterError]) -> Any:
        """One JSON API GET through the shared retry loop, its answer bounded
        (:data:`MAX_API_BYTES`) and parsed with the depth limits; 404 is ``missing()``."""
        from attester.clients.httpget import URLLIB3_TRANSIENT, StreamedAnswer, read_capped
        from attester.jsonio import parse_json

        http = self.http(jobs)
        resp, attempts = send(
            lambda: StreamedAnswer(http.urlopen("GET", url, retries=False,
                                                preload_content=False)),
            policy, transient=URLLIB3_TRANSIENT,
            unreachable=lambda e: ServiceError(f"{what}: cannot reach storage: "
                                               f"{unreachable_reason(e)}"))
        with resp:
            body = read_capped(resp, MAX_API_BYTES, what="storage API answer (GET)")
        if resp.status_code == 404:
            raise missing()
        if resp.status_code in (401, 403):
            raise ServiceError(f"{what}: access denied ({resp.status_code}): check the "
                               "credentials' storage.objects.list/get permissions")
        if resp.status_code >= 400:
            raise ServiceError(f"{what}: storage API error {resp.status_code}: "
                               f"{_api_message(body) or resp.reason}"
                               + (f" ({attempts} attempts)" if attempts > 1 else ""))
        return parse_json(body, where=f"{what}: storage API answer")


def _api_message(body: bytes) -> str:
    """The ``error.message`` of a JSON API error answer, cut short; empty when absent."""
    from attester.jsonio import parse_json

    try:
        doc = parse_json(body, where="storage API error")
        message = doc.get("error", {}).get("message", "") if isinstance(doc, dict) else ""
    except (AttesterError, AttributeError):
        return ""
    return " ".join(message.split())[:200] if isinstance(message, str) else ""


def _endpoint() -> str:
    """Where the JSON API is: the emulator when ``STORAGE_EMULATOR_HOST`` says so (a bare
    host:port gets http://, as the client library does), else Google's."""
    host = os.environ.get("STORAGE_EMULATOR_HOST", "")
    if not host:
        return "https://storage.googleapis.com"
    return host if "://" in host else f"http://{host}"


def _shared_api() -> Api:
    key = tuple(os.environ.get(v, "") for v in ("STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT",
                                                "GOOGLE_APPLICATION_CREDENTIALS"))
    with _LOCK:
        if key not in _APIS:
            _APIS[key] = _new_api()
        return _APIS[key]


_APIS: dict[tuple[str, ...], Api] = {}


def _new_api() -> Api:
    import importlib.util

    try:  # the extra is needed as a whole (large objects go through the library), but
        # found, not imported: most runs never need the library itself
        if importlib.util.find_spec("google.cloud.storage") is None:
            raise ImportError
        import google.auth
        from google.auth.credentials import AnonymousCredentials
    except (ImportError, ValueError):
        raise MissingExtraError("gcs", "google-cloud-storage") from None
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        return Api(_endpoint(), AnonymousCredentials(),  # type: ignore[no-untyped-call]
                   os.environ.get("GOOGLE_CLOUD_PROJECT", "attester"))
    try:
        credentials, project = google.auth.default(scopes=list(SCOPES))
    except Exception as e:  # noqa: BLE001 - google.auth raises many kinds; all mean "no creds"
        raise ServiceError(f"cannot reach Google Cloud Storage: {type(e).__name__}: {e}",
                           hint="run 'gcloud auth application-default login' or set "
                           "GOOGLE_APPLICATION_CREDENTIALS") from None
    return Api(_endpoint(), credentials, project or "")


def _capped_session(credentials: Any) -> Any:
    """google-auth's AuthorizedSession for the client's JSON API calls, whose bodies are
    read streamed and cut at :data:`MAX_API_BYTES`: the client reads every answer whole
    (``requests`` without ``stream``), so an answer served as gigabytes would sit in
    memory before anything could refuse it. Downloads, which the client streams itself,
    pass through untouched."""
    import google.auth.transport.requests as gauth

    from attester.clients.httpget import read_capped

    class CappedSession(gauth.AuthorizedSession):
        def request(self, method: Any, url: Any, *args: Any,
                    **kwargs: Any) -> Any:
            streamed = kwargs.get("stream", False)
            kwargs["stream"] = True
            resp = super().request(method, url, *args, **kwargs)  # type: ignore[no-untyped-call]
            if not streamed:
                body = read_capped(resp, MAX_API_BYTES, what=f"storage API answer ({method})")
                resp._content, resp._content_consumed = body, True  # what requests would hold
                resp.close()
            return resp

    return CappedSession(credentials)  # type: ignore[no-untyped-call]


def _new_client(credentials: Any, project: str) -> Any:
    try:
        import google.cloud.storage as storage
    except ImportError:
        raise MissingExtraError("gcs", "google-cloud-storage") from None
    return _quiet(storage.Client(project=project or "attester", credentials=credentials,
                                 _http=_capped_session(credentials)))


def _quiet(client: Any) -> Any:
    """``client`` without its bucket metadata cache: from google-cloud-storage 3.x, for
    tracing attributes, the client fetches each bucket's metadata on a background thread
    after a call names it; an unbounded request we neither asked for nor retry (and, in
    the tests, one that takes a fault meant for ours). The library checks the attribute
    before every use."""
    if getattr(client, "_bucket_metadata_cache", None) is not None:
        client._bucket_metadata_cache = None
    return client


def _service_error(uri: str, e: Exception) -> Exception:
    from google.api_core import exceptions as gexc

    if isinstance(e, gexc.NotFound):
        return StoreError(f"{uri}: not found ({_short(e)})")
    if isinstance(e, (gexc.Unauthorized, gexc.Forbidden)):
        return ServiceError(f"{uri}: access denied ({e.code}): check the credentials' "
                            "storage.objects.list/get permissions")
    if isinstance(e, gexc.GoogleAPICallError):
        return ServiceError(f"{uri}: storage API error {e.code}: {_short(e)}")
    return ServiceError(f"{uri}: cannot reach storage: {type(e).__name__}: {_short(e)}")


def _named(uri: str, e: AttesterError) -> AttesterError:
    """``e``, its line starting with the store URI when it does not name what it read."""
    if e.message.startswith("gs://"):
        return e
    return type(e)(f"{uri}: {e.message}", hint=e.hint)


def _short(e: Exception) -> str:
    text = getattr(e, "message", None) or str(e)
    return str(text).strip().splitlines()[0][:200] if text else type(e).__name__


@attrs.frozen
class _Object:
    """What the listing said of one object: how to read it and what to expect."""

    name: str
    generation: int
    media_link: str  # the API's download URL, pinned to this generation
    md5: str  # base64, as GCS gives it; composite objects have none ...
    crc32c: str  # ... but every object has this


@attrs.frozen
class GcsStore:
    uri: str
    bucket: str
    prefix: str
    api: Api = attrs.field(repr=False, eq=False)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    jobs: int = DEFAULT_JOBS
    _prefetched: dict[str, Future[bytes]] = attrs.field(factory=dict, init=False, repr=False,
                                                        eq=False)
    _ahead: list[bool] = attrs.field(factory=list, init=False, repr=False, eq=False)

    def read_ahead(self) -> None:
        """Every entry listed next will be hashed: start downloading while listing."""
        self._ahead.append(True)

    @classmethod
    def from_uri(cls, uri: str, *, client: Any = None, api: Api | None = None,
                 jobs: int = DEFAULT_JOBS) -> GcsStore:
        """``client``: a ``google.cloud.storage.Client`` to use instead of the process's
        shared endpoint (``api``: another store's)."""
        rest = uri.removeprefix("gs://")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise StoreError(f"{uri}: no bucket named")
        api = api or (Api.of_client(client) if client is not None else _shared_api())
        return cls(uri=uri, bucket=bucket, prefix=prefix, api=api, jobs=jobs)

    @property
    def client(self) -> Any:
        """The client library, for what goes through it (large objects)."""
        return self.api.client()

    def _retrying(self) -> Any:
        from google.api_core import retry as gretry

        return gretry.Retry(initial=max(self.retry.base_delay, 0.01), maximum=self.retry.max_delay,
                            multiplier=2.0, timeout=120.0,
                            predicate=gretry.if_exception_type(*_transient()))

    def _objects_url(self, name: str = "") -> str:
        from urllib.parse import quote

        base = f"{self.api.endpoint}/storage/v1/b/{quote(self.bucket, safe='')}/o"
        return f"{base}/{quote(name, safe='')}" if name else base

    def entries(self) -> Sequence[Entry]:
        # List directly (objects.list): checking the bucket first would also need
        # storage.buckets.get, which read-only release roles often lack.
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="gcs")
        budget = PREFETCH_BYTES
        blobs = []
        try:
            for entry in self._list():
                blobs.append(entry)
                if self._ahead and 0 < entry.size <= min(PREFETCH_MAX_OBJECT, budget):
                    budget -= entry.size
                    self._prefetched[entry.name] = pool.submit(self._download, entry)
        except AttesterError as e:
            raise _named(self.uri, e) from None
        finally:
            pool.shutdown(wait=False)  # queued downloads still run; no new ones
        if not blobs:
            raise StoreError(f"{self.uri}: no objects under this prefix")
        return blobs

    def _list(self) -> Iterator[Entry]:
        """objects.list page by page through the one pager (a repeated ``nextPageToken``
        is an error, where the client library's iterator would follow it without end)."""
        from urllib.parse import urlencode

        from attester.jsonio import Fields

        where = f"{self.uri}: listing"

        def missing() -> AttesterError:
            return StoreError(f"{self.uri}: bucket {self.bucket!r} does not exist")

        def fetch(token: str | None) -> Page[Any, str]:
            query = {"projection": "noAcl", **({"prefix": self.prefix} if self.prefix else {}),
                     **({"pageToken": token} if token else {})}
            page = Fields(self.api.get_json(f"{self._objects_url()}?{urlencode(query)}",
                                            what=self.uri, policy=self.retry, missing=missing,
                                            jobs=self.jobs),
                          where)
            return Page(items=page.array("items", []),
                        next=page.text("nextPageToken", "") or None)

        for item in paginate(fetch, what=where):
            entry = self._entry(item)
            if entry.handle.name.endswith("/") and not entry.size:
                continue  # a "folder" placeholder, not an artifact
            yield entry

    def _entry(self, item: Any, where: str = "") -> Entry:
        """An object as the API described it, every field type-checked (server input):
        ``size`` and ``generation`` are decimal strings (int64 in JSON)."""
        where = where or f"{self.uri}: listing"
        if not isinstance(item, dict):
            raise ServiceError(f"{where}: an object's metadata is malformed (not an object, "
                               "or its size or generation is not a number)")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ServiceError(f"{where}: an object has no name")
        size, generation = _int64(item.get("size")), _int64(item.get("generation"))
        if size is None or generation is None:
            raise ServiceError(f"{where}: object {name[:200]!r} has no valid size and "
                               "generation")
        identity = {"generation": str(generation)}
        md5, crc, link = item.get("md5Hash"), item.get("crc32c"), item.get("mediaLink")
        for field, value in (("md5Hash", md5), ("crc32c", crc), ("mediaLink", link)):
            if value is not None and not isinstance(value, str):
                raise ServiceError(f"{where}: object {name[:200]!r}: field {field!r} is not a "
                                   "string")
        if md5:
            identity["md5"] = md5
        return Entry(name=f"gs://{self.bucket}/{name}", size=size, identity=identity,
                     handle=_Object(name, generation, link or "", md5 or "", crc or ""))

    def _metadata(self, name: str, what: str) -> Any:
        """objects.get of ``name`` (its metadata), or None when there is no such object."""
        try:
            return self.api.get_json(self._objects_url(name) + "?projection=noAcl", what=what,
                                     policy=self.retry, jobs=self.jobs,
                                     missing=lambda: _NoSuchObjectError(what))
        except _NoSuchObjectError:
            return None

    def one(self) -> Entry:
        """The one object this URI names (``--artifact gs://B/v1/kubectl``), exactly: a
        missing object is an error, never the objects its name is a prefix of."""
        if not self.prefix or self.prefix.endswith("/"):
            raise StoreError(f"{self.uri}: names a folder, not one object",
                             hint=f"use --artifacts {self.uri} for every object under it")
        where = f"{self.uri}: object metadata"
        try:
            item = self._metadata(self.prefix, where)
        except AttesterError as e:
            raise _named(self.uri, e) from None
        if item is None:
            raise StoreError(f"{self.uri}: no such object")
        return self._entry(item, where)

    def _blob(self, entry: Entry) -> Any:
        obj: _Object = entry.handle
        return self.client.bucket(self.bucket).blob(obj.name, generation=obj.generation)

    def _download(self, entry: Entry) -> bytes:
        """A small object whole, in one request pinned to its generation, checked."""
        check = _Checksum(entry)
        http = self._light_http(entry)
        if http is None:
            data = _read(self, self._blob(entry), entry, None, None)
        else:
            data = _light_get(http, entry, self.retry)
        check.update(data)
        check.finish(len(data))
        return data

    def _light_http(self, entry: Entry) -> Any:
        """The JSON API transport for a small object, whose ``mediaLink`` (pinned to its
        generation) points at the API endpoint; otherwise ``None`` (the client library
        reads it): the library's download path (``requests`` under
        ``google-resumable-media``) costs ~0.65 ms of CPU per object, this one ~0.25 ms."""
        link = urlsplit(entry.handle.media_link)
        api = urlsplit(self.api.endpoint)
        if (link.scheme, link.netloc) != (api.scheme, api.netloc) \
                or self.api.credentials is None or "generation=" not in link.query:
            return None
        return self.api.http(self.jobs)

    def read_small(self, entry: Entry, limit: int) -> bytes:
        """The whole of a small object (a manifest), at most ``limit`` bytes, checked
        against its listed size and checksum like every read."""
        if entry.size > limit:
            raise StoreError(f"{entry.name}: {entry.size} bytes, over the {limit}-byte limit "
                             "for this document; refusing it")
        return self._download(entry)

    def task(self, entry: Entry) -> HashTask:
        def opener() -> IO[bytes]:
            ahead = self._prefetched.pop(entry.name, None)
            if ahead is not None:
                return io.BytesIO(ahead.result())
            if entry.size <= PREFETCH_MAX_OBJECT:
                return io.BytesIO(self._download(entry))
            return _BlobStream(self, self._blob(entry), entry)  # type: ignore[return-value]

        return HashTask(label=entry.name, size=entry.size, open=opener)

    def after_hash(self, entry: Entry, digest: Mapping[str, str]) -> None:
        """The bytes were checked against the listed MD5/CRC32C; an object listed with
        neither is looked up again, its generation compared."""
        if entry.handle.md5 or entry.handle.crc32c:
            return
        name, generation = entry.handle.name, entry.handle.generation
        try:
            item = self._metadata(name, entry.name)
            now = None if item is None else self._entry(item, entry.name).handle.generation
        except AttesterError as e:
            raise _named(entry.name, e) from None
        if now != generation:
            said = "deleted" if now is None else f"now generation {now}"
            raise StoreError(f"{entry.name}: changed while it was being hashed (listed at "
                             f"generation {generation}, {said}); rerun when the bucket is stable")


class _NoSuchObjectError(StoreError):
    """objects.get answered 404: the caller says what that means."""


def _int64(value: Any) -> int | None:
    """A JSON API int64 (a decimal string), or None when it is not one."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        return int(value)
    return None


class _Checksum:
    """The listed MD5 (else CRC32C) of an object, compared with the bytes read."""

    def __init__(self, entry: Entry) -> None:
        md5, crc32c = entry.handle.md5, entry.handle.crc32c
        self.entry = entry
        self.kind = "md5" if md5 else "crc32c" if crc32c else ""
        self.want = md5 or crc32c
        self.h: Any = None
        if self.kind == "md5":
            self.h = hashlib.md5(usedforsecurity=False)
        elif self.kind == "crc32c":
            import google_crc32c

            self.h = google_crc32c.Checksum()  # type: ignore[no-untyped-call]

    def update(self, data: bytes) -> None:
        if self.h is not None:
            self.h.update(data)

    def finish(self, size: int) -> None:
        got = base64.b64encode(self.h.digest()).decode() if self.h is not None else self.want
        if size != self.entry.size or got != self.want:
            what = f"{size} bytes" if size != self.entry.size else f"{self.kind} {got}"
            raise StoreError(f"{self.entry.name}: changed while it was being hashed (listed "
                             f"with {self.entry.size} bytes, {self.kind or 'size'} "
                             f"{self.want or self.entry.size}; read {what}); rerun when the "
                             "bucket is stable")


def _light_get(http: Any, entry: Entry, policy: RetryPolicy) -> bytes:
    """GET the object's pinned media link through the shared retry loop."""
    from attester.clients.httpget import URLLIB3_TRANSIENT

    resp, attempts = send(
        # The stored bytes, as listed (size, MD5), even for a gzip-encoded object,
        # which GCS would otherwise decompress on the way.
        lambda: http.urlopen("GET", entry.handle.media_link, headers={"Accept-Encoding": "gzip"},
                             retries=False, preload_content=False),
        policy, transient=URLLIB3_TRANSIENT,
        unreachable=lambda e: ServiceError(f"{entry.name}: cannot reach storage: "
                                           f"{type(e).__name__}"),
        status_of=lambda r: int(r.status))
    try:
        if resp.status == 200:  # one byte more than listed is enough to tell it changed
            return bytes(resp.read(entry.size + 1, decode_content=False))
    except URLLIB3_TRANSIENT as e:
        raise ServiceError(f"{entry.name}: download failed: {type(e).__name__}") from None
    finally:
        resp.release_conn()
    if resp.status == 404:
        raise StoreError(f"{entry.name}: changed while it was being hashed (generation "
                         f"{entry.handle.generation} is gone)")
    if resp.status in (401, 403):
        raise ServiceError(f"{entry.name}: access denied ({resp.status}): check the "
                           "credentials' storage.objects.get permission")
    raise ServiceError(f"{entry.name}: storage answered {resp.status}"
                       + (f" {attempts} times; giving up" if attempts > 1 else ""))


class _TooLongError(Exception):
    pass


class _CappedSink(io.RawIOBase):
    """Where the client writes a download: at most ``cap`` bytes are kept; one more and
    the download stops (a server ignoring the Range, or serving more than listed)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        if len(self.data) + len(b) > self.cap:
            raise _TooLongError
        self.data += b
        return len(b)


def _read(store: GcsStore, blob: Any, entry: Entry, start: int | None,
          end: int | None) -> bytes:
    """One download request (the whole object, or bytes start..end), streamed into a
    sink that stops one byte past what was asked for; errors mapped."""
    want = (entry.size if start is None else (end or entry.size - 1) - start + 1)
    sink = _CappedSink(want + 1 if start is None else want)
    try:
        blob.download_to_file(sink, start=start, end=end, checksum=None,
                              retry=store._retrying())
        return bytes(sink.data)
    except _TooLongError:
        raise StoreError(f"{entry.name}: the server sent more than the {entry.size} bytes "
                         "listed; refusing it") from None
    except AttesterError:
        raise
    except Exception as e:  # noqa: BLE001
        from google.api_core import exceptions as gexc

        if isinstance(e, gexc.NotFound):
            raise StoreError(f"{entry.name}: changed while it was being hashed "
                             f"(generation {blob.generation} is gone)") from None
        raise _service_error(entry.name, e) from None


def _transient() -> tuple[type[Exception], ...]:
    from google.api_core import exceptions as gexc

    return (gexc.TooManyRequests, gexc.InternalServerError, gexc.BadGateway,
            gexc.ServiceUnavailable, gexc.GatewayTimeout, ConnectionError)


class _BlobStream:
    """Ranged reads of one object generation, exposed as ``readinto`` for the engine; the
    listed checksum is compared once the last byte is read."""

    def __init__(self, store: GcsStore, blob: Any, entry: Entry) -> None:
        self.store, self.blob, self.entry = store, blob, entry
        self.pos = 0
        self.buf = b""
        self.off = 0
        self.check = _Checksum(entry)

    def readinto(self, view: memoryview) -> int:
        if self.off >= len(self.buf):
            if self.pos >= self.entry.size:
                return 0
            end = min(self.pos + READ_CHUNK, self.entry.size) - 1
            self.buf = _read(self.store, self.blob, self.entry, self.pos, end)
            if not self.buf:
                raise StoreError(f"{self.entry.name}: shorter than the {self.entry.size} bytes "
                                 "listed; it changed while being hashed")
            self.check.update(self.buf)
            self.pos += len(self.buf)
            self.off = 0
            if self.pos >= self.entry.size:
                self.check.finish(self.pos)
        n = min(len(view), len(self.buf) - self.off)
        view[:n] = memoryview(self.buf)[self.off:self.off + n]
        self.off += n
        return n

    def __enter__(self) -> _BlobStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.buf = b""
