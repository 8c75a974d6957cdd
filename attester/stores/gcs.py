"""``gs://BUCKET/PREFIX`` through ``google-cloud-storage`` (the ``gcs`` extra).

Objects are listed page by page and streamed through the hashing engine, each read
pinned to the generation seen at listing time, and the generation checked again after
hashing: an object rewritten mid-run is an error, never a silently wrong digest.
Honors ``STORAGE_EMULATOR_HOST`` as the Google client does (anonymous credentials).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import attrs

from attester.errors import MissingExtraError, ServiceError, StoreError
from attester.hashing import HashTask
from attester.retry import RetryPolicy
from attester.stores.interface import Entry

#: Bytes fetched per ranged read while streaming an object.
READ_CHUNK = 8 << 20


def _client() -> Any:
    try:
        import google.cloud.storage as storage
    except ImportError:
        raise MissingExtraError("gcs", "google-cloud-storage") from None
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT", "attester"),
                              credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    try:
        return storage.Client()
    except Exception as e:  # noqa: BLE001 - google.auth raises many kinds; all mean "no creds"
        raise ServiceError(f"cannot reach Google Cloud Storage: {type(e).__name__}: {e}",
                           hint="run 'gcloud auth application-default login' or set "
                           "GOOGLE_APPLICATION_CREDENTIALS") from None


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


def _short(e: Exception) -> str:
    text = getattr(e, "message", None) or str(e)
    return str(text).strip().splitlines()[0][:200] if text else type(e).__name__


@attrs.frozen
class GcsStore:
    uri: str
    bucket: str
    prefix: str
    client: Any = attrs.field(repr=False, eq=False)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)

    @classmethod
    def from_uri(cls, uri: str, *, client: Any = None) -> GcsStore:
        rest = uri.removeprefix("gs://")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise StoreError(f"{uri}: no bucket named")
        return cls(uri=uri, bucket=bucket, prefix=prefix, client=client or _client())

    def _retrying(self) -> Any:
        from google.api_core import retry as gretry

        return gretry.Retry(initial=max(self.retry.base_delay, 0.01), maximum=self.retry.max_delay,
                            multiplier=2.0, timeout=120.0,
                            predicate=gretry.if_exception_type(*_transient()))

    def entries(self) -> Sequence[Entry]:
        from google.api_core import exceptions as gexc

        # List directly (objects.list): checking the bucket first would also need
        # storage.buckets.get, which read-only release roles often lack.
        try:
            blobs = list(self._list(self.client.bucket(self.bucket)))
        except gexc.NotFound:
            raise StoreError(f"{self.uri}: bucket {self.bucket!r} does not exist") from None
        except Exception as e:  # noqa: BLE001 - mapped to our error family below
            raise _service_error(self.uri, e) from None
        if not blobs:
            raise StoreError(f"{self.uri}: no objects under this prefix")
        return blobs

    def _list(self, bucket: Any) -> Iterator[Entry]:
        for blob in self.client.list_blobs(bucket, prefix=self.prefix or None,
                                           retry=self._retrying()):
            if blob.name.endswith("/") and not blob.size:
                continue  # a "folder" placeholder, not an artifact
            identity = {"generation": str(blob.generation)}
            if blob.md5_hash:
                identity["md5"] = blob.md5_hash
            yield Entry(name=f"gs://{self.bucket}/{blob.name}", size=int(blob.size or 0),
                        identity=identity, handle=(blob.name, blob.generation))

    def task(self, entry: Entry) -> HashTask:
        name, generation = entry.handle

        def opener() -> IO[bytes]:
            blob = self.client.bucket(self.bucket).blob(name, generation=generation)
            return _BlobStream(self, blob, entry)  # type: ignore[return-value]

        return HashTask(label=entry.name, size=entry.size, open=opener)

    def after_hash(self, entry: Entry, digest: Mapping[str, str]) -> None:
        name, generation = entry.handle
        try:
            blob = self.client.bucket(self.bucket).get_blob(name, retry=self._retrying())
        except Exception as e:  # noqa: BLE001
            raise _service_error(entry.name, e) from None
        if blob is None or blob.generation != generation:
            now = "deleted" if blob is None else f"now generation {blob.generation}"
            raise StoreError(f"{entry.name}: changed while it was being hashed (listed at "
                             f"generation {generation}, {now}); rerun when the bucket is stable")


def _transient() -> tuple[type[Exception], ...]:
    from google.api_core import exceptions as gexc

    return (gexc.TooManyRequests, gexc.InternalServerError, gexc.BadGateway,
            gexc.ServiceUnavailable, gexc.GatewayTimeout, ConnectionError)


class _BlobStream:
    """Ranged reads of one object generation, exposed as ``readinto`` for the engine."""

    def __init__(self, store: GcsStore, blob: Any, entry: Entry) -> None:
        self.store, self.blob, self.entry = store, blob, entry
        self.pos = 0
        self.buf = b""
        self.off = 0

    def readinto(self, view: memoryview) -> int:
        if self.off >= len(self.buf):
            if self.pos >= self.entry.size:
                return 0
            end = min(self.pos + READ_CHUNK, self.entry.size) - 1
            try:
                self.buf = self.blob.download_as_bytes(start=self.pos, end=end, checksum=None,
                                                       retry=self.store._retrying())
            except Exception as e:  # noqa: BLE001
                from google.api_core import exceptions as gexc

                if isinstance(e, gexc.NotFound):
                    raise StoreError(f"{self.entry.name}: changed while it was being hashed "
                                     f"(generation {self.blob.generation} is gone)") from None
                raise _service_error(self.entry.name, e) from None
            if not self.buf:
                raise StoreError(f"{self.entry.name}: shorter than the {self.entry.size} bytes "
                                 "listed; it changed while being hashed")
            self.pos += len(self.buf)
            self.off = 0
        n = min(len(view), len(self.buf) - self.off)
        view[:n] = memoryview(self.buf)[self.off:self.off + n]
        self.off += n
        return n

    def __enter__(self) -> _BlobStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.buf = b""
