"""``cloudbuild://PROJECT/BUILD_ID``: a Google Cloud Build build, via google-cloud-build.

Maps the Build resource to Google Cloud Build's published SLSA v1 build type
(https://cloud.google.com/build/gcb-buildtypes/google-worker/v1) field by field as
GCB's own provenance does (see README), plus what GCB leaves out but an auditor wants:
the inline build steps (without secret values), options, timing and the log URL.

``ATTEST_CLOUDBUILD_ENDPOINT=http://127.0.0.1:PORT`` points the REST transport at a
mirror or replay server with anonymous credentials; otherwise Application Default
Credentials are used.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from attester.errors import InputError, MissingExtraError, ServiceError, StoreError, UsageError
from attester.model.models import BuildRecord, ResourceDescriptor
from attester.watchers.github import parse_time
from attester.watchers.interface import wait_until_finished

BUILD_TYPE_GCB = "https://cloud.google.com/build/gcb-buildtypes/google-worker/v1"
BUILDER_ID_GCB = "https://cloudbuild.googleapis.com/GoogleHostedWorker"
ENDPOINT_ENV = "ATTEST_CLOUDBUILD_ENDPOINT"
_URI = re.compile(r"^cloudbuild://(?P<project>[^/]+)/(?P<build>[^/]+)/?$")
RUNNING = {"STATUS_UNKNOWN", "PENDING", "QUEUED", "WORKING"}
#: Substitutions Cloud Build sets itself; the rest (``_FOO``) are the user's.
SYSTEM_SUBSTITUTIONS = {
    "PROJECT_ID", "PROJECT_NUMBER", "BUILD_ID", "LOCATION", "TRIGGER_NAME", "COMMIT_SHA",
    "REVISION_ID", "SHORT_SHA", "REPO_NAME", "REPO_FULL_NAME", "BRANCH_NAME", "TAG_NAME",
    "REF_NAME", "TRIGGER_BUILD_CONFIG_PATH", "SERVICE_ACCOUNT_EMAIL", "SERVICE_ACCOUNT",
    "_HEAD_BRANCH", "_BASE_BRANCH", "_HEAD_REPO_URL", "_PR_NUMBER",
}
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|API_?KEY|AUTH)", re.I)


def client() -> Any:
    try:
        from google.cloud.devtools import cloudbuild_v1
        from google.cloud.devtools.cloudbuild_v1.services.cloud_build.transports.rest import (
            CloudBuildRestTransport,
        )
    except ImportError:
        raise MissingExtraError("cloudbuild", "google-cloud-build") from None
    endpoint = os.environ.get(ENDPOINT_ENV)
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        scheme, _, host = endpoint.rstrip("/").partition("://")
        if not host:
            raise UsageError(f"{ENDPOINT_ENV}={endpoint!r}: expected http(s)://HOST:PORT")
        transport = CloudBuildRestTransport(
            host=host, url_scheme=scheme, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
        return cloudbuild_v1.CloudBuildClient(transport=transport)
    try:
        return cloudbuild_v1.CloudBuildClient(transport="rest")
    except Exception as e:  # noqa: BLE001 - google.auth raises many kinds; all mean "no creds"
        raise ServiceError(f"cannot reach Cloud Build: {type(e).__name__}",
                           hint="run 'gcloud auth application-default login'") from None


def _redact_env(env: Sequence[str], secret_names: set[str]) -> list[str]:
    out = []
    for item in env:
        key, sep, _ = item.partition("=")
        if key in secret_names or _SECRET_NAME.search(key):
            out.append(f"{key}{sep}[redacted]")
        else:
            out.append(item)
    return out


def _steps(build: Mapping[str, Any]) -> list[dict[str, Any]]:
    secret_names = {k for s in build.get("steps", []) for k in s.get("secretEnv", [])}
    secret_names |= {k for s in (build.get("availableSecrets") or {}).get("secretManager", [])
                     for k in [s.get("env", "")]}
    steps = []
    for s in build.get("steps", []):
        step: dict[str, Any] = {"name": s.get("name", "")}
        for key in ("id", "entrypoint", "dir", "waitFor", "script"):
            if s.get(key):
                step[key] = s[key]
        if s.get("args"):
            step["args"] = list(s["args"])
        if s.get("env"):
            step["env"] = _redact_env(s["env"], secret_names)
        steps.append(step)
    return steps


def _source(build: Mapping[str, Any]) -> tuple[str, str, str]:
    """(repository git+ URI, ref, commit) of the source, as well as the build says."""
    subs = build.get("substitutions") or {}
    prov = build.get("sourceProvenance") or {}
    src = build.get("source") or {}
    commit = (((prov.get("resolvedRepoSource") or {}).get("commitSha"))
              or (prov.get("resolvedGitSource") or {}).get("revision")
              or (prov.get("resolvedConnectedRepository") or {}).get("revision")
              or subs.get("COMMIT_SHA") or "")
    ref = ""
    if subs.get("TAG_NAME"):
        ref = f"refs/tags/{subs['TAG_NAME']}"
    elif subs.get("BRANCH_NAME"):
        ref = f"refs/heads/{subs['BRANCH_NAME']}"
    elif subs.get("REF_NAME"):
        ref = subs["REF_NAME"] if subs["REF_NAME"].startswith("refs/") else \
            f"refs/heads/{subs['REF_NAME']}"
    repo = ""
    git = src.get("gitSource") or {}
    rs = src.get("repoSource") or {}
    if git.get("url"):
        repo = "git+" + git["url"].removesuffix(".git")
        ref = ref or (git.get("revision", "") if git.get("revision", "").startswith("refs/")
                      else ref)
    elif subs.get("REPO_FULL_NAME"):
        repo = f"git+https://github.com/{subs['REPO_FULL_NAME']}"
    elif rs.get("repoName"):
        csr_project = rs.get("projectId") or build.get("projectId")
        repo = f"git+https://source.developers.google.com/p/{csr_project}/r/{rs['repoName']}"
        if rs.get("branchName"):
            ref = ref or f"refs/heads/{rs['branchName']}"
        elif rs.get("tagName"):
            ref = ref or f"refs/tags/{rs['tagName']}"
    return repo, ref, commit


def gcb_record(build: Mapping[str, Any], *, location: str,
               finished: dt.datetime | None = None) -> BuildRecord:
    """Pure mapping of a Build resource (REST JSON, camelCase) to a build record."""
    subs = dict(build.get("substitutions") or {})
    project = build.get("projectId", "")
    name = build.get("name") or f"projects/{project}/locations/{location}/builds/{build.get('id')}"
    repo, ref, commit = _source(build)
    external: dict[str, Any] = {}
    config_path = subs.get("TRIGGER_BUILD_CONFIG_PATH")
    if repo and config_path:
        external["buildConfigSource"] = {"path": config_path, "ref": ref, "repository": repo}
    else:
        config: dict[str, Any] = {"steps": _steps(build)}
        for key in ("images", "artifacts", "timeout"):
            if build.get(key):
                config[key] = build[key]
        external["buildConfig"] = config
    storage = (build.get("source") or {}).get("storageSource")
    if storage:
        external["sourceToBuild"] = {"storageSource": {k: storage[k] for k in
                                                       ("bucket", "object", "generation")
                                                       if storage.get(k)}}
    external["substitutions"] = {k: v for k, v in sorted(subs.items())
                                 if k not in SYSTEM_SUBSTITUTIONS}
    internal: dict[str, Any] = {
        "systemSubstitutions": {k: v for k, v in sorted(subs.items()) if k in SYSTEM_SUBSTITUTIONS}
        | {"BUILD_ID": str(build.get("id", "")), "LOCATION": location},
    }
    if build.get("buildTriggerId"):
        internal["triggerUri"] = (f"projects/{project}/locations/{location}/triggers/"
                                  f"{build['buildTriggerId']}")
    for key in ("options", "timing", "logUrl", "serviceAccount"):
        if build.get(key):
            internal[key] = build[key]
    deps: list[ResourceDescriptor] = []
    if repo and commit:
        deps.append(ResourceDescriptor(uri=f"{repo}@{ref}" if ref else repo,
                                       digest={"gitCommit": commit}))
    if storage:
        hashes = ((build.get("sourceProvenance") or {}).get("fileHashes") or {})
        uri = f"gs://{storage.get('bucket')}/{storage.get('object')}"
        digest = {}
        for fh in (hashes.get(uri) or {}).get("fileHash", []):
            if fh.get("type") == "SHA256" and fh.get("value"):
                import base64

                digest["sha256"] = base64.b64decode(fh["value"]).hex()
        gen = storage.get("generation")
        deps.append(ResourceDescriptor(uri=f"{uri}#{gen}" if gen else uri, digest=digest))
    step_images = (build.get("results") or {}).get("buildStepImages") or []
    seen = set()
    for step, image_digest in zip(build.get("steps", []), step_images, strict=False):
        if not image_digest or not image_digest.startswith("sha256:"):
            continue
        image = step.get("name", "").split("@")[0]
        uri = f"{image}@{image_digest}"
        if uri in seen:
            continue
        seen.add(uri)
        deps.append(ResourceDescriptor(uri=uri, digest={"sha256": image_digest[7:]}))
    return BuildRecord(
        builder_id=BUILDER_ID_GCB,
        build_type=BUILD_TYPE_GCB,
        external_parameters=external,
        internal_parameters=internal,
        resolved_dependencies=tuple(deps),
        invocation_id=f"https://cloudbuild.googleapis.com/v1/{name}",
        started_on=parse_time(build.get("startTime")),
        finished_on=finished or parse_time(build.get("finishTime")),
        config_source=deps[0] if deps and repo else None,
        entry_point=config_path or "",
    )


def image_subjects(build: Mapping[str, Any]) -> tuple[ResourceDescriptor, ...]:
    out = []
    seen = set()
    for img in (build.get("results") or {}).get("images") or []:
        digest = str(img.get("digest", ""))
        if not digest.startswith("sha256:") or not img.get("name"):
            continue
        key = (img["name"], digest)
        if key in seen:
            continue
        seen.add(key)
        out.append(ResourceDescriptor(name=f"https://{img['name']}",
                                      digest={"sha256": digest[7:]}))
    return tuple(out)


@attrs.frozen
class CloudBuildWatcher:
    project: str
    build_id: str
    location: str = "global"
    wait: bool = False
    wait_timeout: float = 1200.0
    allow_failed: bool = False
    allow_running: bool = False
    read_manifest: bool = True
    poll_interval: float = 10.0
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> CloudBuildWatcher:
        m = _URI.match(uri)
        if not m:
            raise UsageError(f"{uri!r}: expected cloudbuild://PROJECT/BUILD_ID")
        opts = {k: v for k, v in options.items() if k in _OPTIONS and v is not None}
        return cls(project=m["project"], build_id=m["build"], **opts)

    @property
    def uri(self) -> str:
        return f"cloudbuild://{self.project}/{self.build_id}"

    def fetch(self) -> dict[str, Any]:
        c = client()  # first: it names the missing extra if google-cloud-build is absent
        from google.api_core import exceptions as gexc
        from google.api_core import retry as gretry
        from google.cloud.devtools import cloudbuild_v1

        name = f"projects/{self.project}/locations/{self.location}/builds/{self.build_id}"
        base = float(os.environ.get("ATTEST_RETRY_BASE_DELAY", "0.5"))
        retry = gretry.Retry(initial=base, maximum=30.0, multiplier=2.0, timeout=120.0,
                             predicate=gretry.if_exception_type(
                                 gexc.TooManyRequests, gexc.InternalServerError,
                                 gexc.BadGateway, gexc.ServiceUnavailable,
                                 gexc.GatewayTimeout))
        try:
            build = c.get_build(request={"name": name, "project_id": self.project,
                                         "id": self.build_id}, retry=retry, timeout=60)
        except gexc.NotFound:
            raise StoreError(f"{self.uri}: build not found in project {self.project!r} "
                             f"(location {self.location})") from None
        except (gexc.Unauthorized, gexc.Forbidden) as e:
            raise ServiceError(f"{self.uri}: access denied ({e.code})",
                               hint="the credentials need cloudbuild.builds.get") from None
        except gexc.GoogleAPICallError as e:
            raise ServiceError(f"{self.uri}: Cloud Build API error {e.code}: "
                               f"{str(e.message).splitlines()[0][:200]}") from None
        except gexc.RetryError:
            raise ServiceError(f"{self.uri}: Cloud Build kept failing; gave up after "
                               "retrying") from None
        except Exception as e:  # noqa: BLE001 - transport errors of every kind
            raise ServiceError(f"{self.uri}: cannot reach Cloud Build: {type(e).__name__}") \
                from None
        from google.protobuf import json_format

        # The REST JSON as the API sent it: proto3 rules leave unset fields out.
        data: dict[str, Any] = json_format.MessageToDict(cloudbuild_v1.Build.pb(build))
        return data

    def build(self) -> dict[str, Any]:
        build = wait_until_finished(
            self.fetch, running=lambda status: status in RUNNING and not self.allow_running,
            uri=self.uri, noun="build", wait=self.wait, timeout=self.wait_timeout,
            interval=self.poll_interval, sleep=self.sleep)
        status = build.get("status")
        if status != "SUCCESS" and not (self.allow_running and status in RUNNING) \
                and not self.allow_failed:
            raise InputError(f"{self.uri}: the build ended {status}, not SUCCESS; refusing to "
                             "attest it", hint="--allow-failed overrides")
        return build

    def record(self, *, now: dt.datetime) -> BuildRecord:
        build = self.build()
        running = build.get("status") in RUNNING
        record = gcb_record(build, location=self.location, finished=now if running else None)
        subjects = image_subjects(build)
        manifest = (build.get("results") or {}).get("artifactManifest")
        if manifest and self.read_manifest:
            subjects += manifest_subjects(manifest, where=self.uri)
        return record.with_subjects(subjects)

    def default_artifacts(self) -> list[str]:
        return []


_OPTIONS = ("location", "wait", "wait_timeout", "allow_failed", "allow_running", "poll_interval",
            "read_manifest")


#: Largest artifact manifest read (JSON lines, one per uploaded object).
MAX_MANIFEST_BYTES = 16 << 20


def manifest_subjects(manifest_uri: str, *, where: str) -> tuple[ResourceDescriptor, ...]:
    """Subjects for the objects an artifact manifest lists, hashed from GCS.

    The manifest (JSON lines, ``{"location": "gs://...", "file_hash": [...]}``) only
    carries MD5s, so each object is streamed and hashed; its stored MD5 must match the
    manifest's, or the object changed after the build uploaded it.
    """
    from attester.jsonio import parse_json
    from attester.stores import digest_entries
    from attester.stores.gcs import GcsStore

    if not manifest_uri.startswith("gs://"):
        raise InputError(f"{where}: artifact manifest {manifest_uri!r} is not a gs:// URI")
    store = GcsStore.from_uri(manifest_uri)
    try:  # exactly that object, read whole but bounded (stores/gcs.py)
        data = store.read_small(store.one(), MAX_MANIFEST_BYTES)
    except StoreError as e:
        if e.message.endswith("no such object"):
            raise StoreError(f"{where}: artifact manifest {manifest_uri} does not exist") \
                from None
        raise
    lines = data.decode("utf-8", "replace").splitlines()
    subjects: list[ResourceDescriptor] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        item = parse_json(line.encode(), where=f"{manifest_uri} line {n}")  # bounded depth
        try:
            location = item["location"]
            md5s = [h["value"] for fh in item.get("file_hash", [])
                    for h in fh.get("file_hash", []) if h.get("type") in (2, "MD5")]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InputError(f"{manifest_uri}: line {n} is not a manifest entry") from None
        if not isinstance(location, str) or not location.startswith("gs://"):
            raise InputError(f"{manifest_uri}: line {n}: location is not a gs:// URI")
        obj_store = GcsStore.from_uri(location, api=store.api)
        try:  # the object named, never the objects its name is a prefix of
            entry = obj_store.one()
        except StoreError as e:
            if e.message.endswith("no such object"):
                raise StoreError(f"{where}: manifest lists {location}, which does not "
                                 "exist") from None
            raise
        if md5s and entry.identity and entry.identity.get("md5") not in md5s:
            raise StoreError(f"{where}: {location} changed since the build uploaded it (its MD5 "
                             "differs from the artifact manifest's)")
        (digest,) = digest_entries(obj_store, [entry])
        subjects.append(ResourceDescriptor(name=location, digest=digest))
    return tuple(subjects)
