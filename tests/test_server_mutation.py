"""Issue 16, "Keep it closed": the mutation suite, turned on the servers.

test_mutation.py mutates documents we are given; this one mutates what servers answer.
Three stand-ins (tests/hostile.py) play the GitHub REST API, an OCI registry and the GCS
JSON API. Each answer starts from a realistic template (the recorded GitHub answers in
testdata/api/github, a multi-arch image with its referrers, a bucket listing) and is then,
by a seeded generator, left alone or mutated: fields replaced with values of other
types, documents of random shapes, nesting 100,000 deep, bodies of 70 MiB, bodies longer
or shorter than listed, next links that repeat, leave the host or never end, repeated
page tokens, and 4xx/5xx answers. Every client command is run against them, round after
round, with a fixed seed (``ATTEST_SERVER_MUTATION_SEED`` picks another, and
``ATTEST_SERVER_MUTATION_ROUNDS`` how many rounds):

- no command ends in an internal error or a traceback; the exit code is 0, 1 or 2;
- every command ends within a generous time bound (it proves termination, not speed);
- memory stays bounded: the peak traced (tracemalloc) during one command stays far
  below the sizes the servers send.

Answers are a function of (seed, round, request, how often it was asked), so a failure
reproduces with its seed even though clients fetch in parallel.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import threading
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from attester.cli import main

from conftest import TESTDATA, interop_path
from hostile import Answer, Scripted, endless, gcs_object, json_answer

SEED = int(os.environ.get("ATTEST_SERVER_MUTATION_SEED", "20261204"))
ROUNDS = int(os.environ.get("ATTEST_SERVER_MUTATION_ROUNDS", "20"))
#: Seconds one command may take. Generous: it proves the command ends (a hang or an
#: endless listing would not), not how fast it runs on a shared machine.
TIME_BOUND = 240.0
#: Peak Python memory one command may trace; servers send up to 70 MiB bodies and
#: 100,000-deep documents, and the caps keep what is held far below that.
MEMORY_BOUND = 96 << 20
GH = TESTDATA / "api" / "github"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"

NASTY: list[Any] = [None, True, 0, -1, 1.5, 10**30, "", "x", "../../etc/passwd", [], {}, [None],
                    {"a": 1}, "sha256:", "\x1b[31mred", "a" * 5000, [[[[[[[[]]]]]]]], "NaN"]


# -- the generator --------------------------------------------------------------------------

def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def mutate_json(rng: random.Random, doc: Any) -> Any:
    """``doc`` with one to three of its values replaced by a value of another kind."""
    doc = json.loads(json.dumps(doc))
    for _ in range(rng.randint(1, 3)):
        spots = [p for p in _paths(doc) if p]
        if not spots:
            return rng.choice(NASTY)
        path = rng.choice(spots)
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        if isinstance(parent, dict) and rng.random() < 0.2:
            del parent[path[-1]]
        else:
            parent[path[-1]] = rng.choice(NASTY)
    return doc


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.choice("dlsinb" if depth < 4 else "sinb")
    if kind == "d":
        return {rng.choice(["tags", "items", "id", "name", "manifests", "artifacts",
                            "attestations", "x"]): random_json(rng, depth + 1)
                for _ in range(rng.randint(0, 3))}
    if kind == "l":
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {"s": "v", "i": rng.randint(-5, 10**6), "n": None, "b": True}[kind]


def hostile(rng: random.Random, template: Answer, *, url: str,
            next_link: Callable[[random.Random], str | None] | None = None) -> Answer:
    """What the server answers instead of ``template``."""
    status, headers, body, _ = template
    roll = rng.random()
    if roll < 0.70:
        answer = template
    elif roll < 0.80 and headers.get("Content-Type", "").endswith("json") and \
            isinstance(body, bytes):
        answer = json_answer(mutate_json(rng, json.loads(body)), status,
                             {k: v for k, v in headers.items() if k != "Content-Length"})
    elif roll < 0.83:
        answer = json_answer(random_json(rng))
    elif roll < 0.86:
        depth = rng.choice([200, 5000, 100_000])
        answer = json_answer(rng.choice([b"[", b'{"a":']) * depth)
    elif roll < 0.89:
        total = rng.choice([5 << 20, 70 << 20])
        answer = (200, dict(headers), endless(total), rng.choice([total, None]))
    elif roll < 0.92 and isinstance(body, bytes):  # longer or shorter than listed
        changed = body + b"x" * rng.choice([1, 1 << 20]) if rng.random() < 0.5 else body[:-1]
        answer = (status, dict(headers), changed, len(changed))
    elif roll < 0.97:
        code = rng.choice([401, 403, 404, 429, 500, 502, 503])
        answer = json_answer({"message": "no", "errors": [{"code": "X", "message": "no"}]},
                             code, {"Retry-After": "0"} if code == 429 else None)
    else:
        answer = json_answer(rng.choice([b"not json", b'{"tags": ["v1"', b"\xff\xfe", b""]))
    if next_link is not None and answer[0] == 200 and rng.random() < 0.3:
        link = next_link(rng)
        if link is not None:
            answer = (answer[0], {**answer[1], "Link": f'<{link}>; rel="next"'}, *answer[2:])
    return answer


class Server:
    """A stand-in whose answers are a pure function of (seed, round, request, count)."""

    def __init__(self, templates: Callable[[str, str, dict[str, list[str]]], Answer | None],
                 links: Callable[[str], Callable[[random.Random], str | None] | None]) -> None:
        self.templates, self.links = templates, links
        self.round = 0
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.scripted = Scripted(self.answer)

    def answer(self, method: str, path: str, query: dict[str, list[str]]) -> Answer:
        key = f"{method} {path}?{sorted(query.items())}"
        with self.lock:
            self.counts[key] += 1
            n = self.counts[key]
        rng = random.Random(f"{SEED}:{self.round}:{key}:{n}")  # noqa: S311 - test data
        template = self.templates(method, path, query)
        if template is None:
            return json_answer({"message": "Not Found"}, 404)
        return hostile(rng, template, url=self.scripted.url, next_link=self.links(path))

    def next_round(self, n: int) -> None:
        with self.lock:
            self.round, self.counts = n, Counter()


# -- running attest -------------------------------------------------------------------------

def run(args: list[object]) -> tuple[int, str, int]:
    """attest in-process, on a thread held to TIME_BOUND; (exit code, stderr, peak bytes)."""
    out: dict[str, Any] = {}

    def go() -> None:
        err = io.StringIO()
        stdout = io.TextIOWrapper(io.BytesIO())  # commands write bytes to sys.stdout.buffer
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(err):
            out["code"] = main([str(a) for a in args]
                               + (["--debug"] if os.environ.get("ATTEST_DEBUG_MUTATION") else []))
        out["err"] = err.getvalue()

    tracemalloc.start()
    try:
        t = threading.Thread(target=go, daemon=True)
        t.start()
        t.join(TIME_BOUND)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not t.is_alive(), f"attest {args} did not end within {TIME_BOUND} s"
    return out["code"], out["err"], peak


def check(args: list[object], what: str, seen: Counter[int]) -> None:
    code, err, peak = run(args)
    assert code in (0, 1, 2), (what, code, err)
    assert "internal error" not in err and "Traceback" not in err, (what, err)
    if code:
        assert err.count("\n") >= 1 and err.splitlines()[0].startswith("attest: "), (what, err)
    assert peak < MEMORY_BOUND, (what, peak)
    seen[code] += 1


@pytest.fixture
def env(monkeypatch, repo):
    monkeypatch.chdir(repo)
    monkeypatch.setenv("ATTEST_RETRY_BASE_DELAY", "0.001")
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    return repo


def rounds(server: Server, commands: list[tuple[str, list[object]]]) -> Counter[int]:
    seen: Counter[int] = Counter()
    with server.scripted:
        for n in range(ROUNDS):
            server.next_round(n)
            for name, args in commands:
                check(args, f"{name}, seed {SEED}, round {n}", seen)
    return seen


# -- GitHub API ----------------------------------------------------------------------------

def _github_templates(base: str) -> Callable[[str, str, dict[str, list[str]]], Answer | None]:
    def doc(name: str) -> Any:
        return json.loads((GH / name).read_text().replace("{BASE}", base))

    repo = "/repos/kubernetes/kubernetes"
    runs = f"{repo}/actions/runs/9000001"
    bundle = json.loads(interop_path("sigstore", "sp_bundle_v3_github.whl.sigstore").read_text())
    blobs = {f"{repo}/releases/assets/190000001": "kubernetes.tar.gz",
             f"{repo}/releases/assets/190000002": "kubernetes-src.tar.gz",
             f"{repo}/actions/artifacts/1840000001/zip": "binaries.zip",
             f"{repo}/actions/artifacts/1840000002/zip": "sbom.zip"}
    documents = {f"{repo}/releases/tags/v1.31.0": "release-v1.31.0.json",
                 f"{repo}/releases/170000001/assets": "release-assets.json",
                 runs: "run-9000001.json", f"{runs}/attempts/1": "run-9000001.json",
                 f"{runs}/attempts/1/jobs": "jobs-9000001-page1.json",
                 f"{runs}/artifacts": "artifacts-9000001.json", repo: "repo.json"}

    def templates(method: str, path: str, query: dict[str, list[str]]) -> Answer | None:
        if path in blobs:
            data = (GH / "blobs" / blobs[path]).read_bytes()
            return 200, {"Content-Type": "application/octet-stream"}, data, len(data)
        if path in documents:
            return json_answer(doc(documents[path]))
        if "/attestations/" in path:
            return json_answer({"attestations": [{"bundle": bundle}]})
        return None

    return templates


def _github_links(base: str) -> Callable[[str], Callable[[random.Random], str | None] | None]:
    def links(path: str) -> Callable[[random.Random], str | None] | None:
        if not (path.endswith(("/assets", "/jobs", "/artifacts")) or "/attestations/" in path):
            return None
        return lambda rng: rng.choice([f"{base}{path}?page=2",  # the same page, again
                                       f"{base}{path}?page={rng.randint(3, 10**9)}",  # endless
                                       "http://203.0.113.7/elsewhere", "not a url", None])
    return links


def test_github_clients_against_a_hostile_api(env, monkeypatch) -> None:
    server = Server(lambda *a: None, lambda p: None)
    base = server.scripted.url
    server.templates, server.links = _github_templates(base), _github_links(base)
    monkeypatch.setenv("GITHUB_API_URL", base)
    digest = "sha256:" + hashlib.sha256(
        interop_path("sigstore", "sp_bundle_v3_github.whl").read_bytes()).hexdigest()
    asset = (GH / "blobs" / "kubernetes.tar.gz").read_bytes()
    signed = _signed_statement(env, "kubernetes.tar.gz", asset)
    seen = rounds(server, [
        ("github-release://", ["provenance", "local://", "--artifacts",
                               "github-release://kubernetes/kubernetes/v1.31.0"]),
        ("one asset", ["verify", signed, "--key", env / "k.pub", "--artifact",
                       "github-release://kubernetes/kubernetes/v1.31.0/kubernetes.tar.gz"]),
        ("github-artifacts://", ["provenance", "local://", "--artifacts",
                                 "github-artifacts://kubernetes/kubernetes/9000001"]),
        ("github://", ["provenance", "github://kubernetes/kubernetes/9000001"]),
        ("attestation API", ["verify", "--digest", digest, "--repo", "kubernetes/kubernetes",
                             "--trusted-root",
                             interop_path("sigstore", "trusted_root.sigstore-production.json")]),
    ])
    assert seen[2] and (seen[0] or seen[1]), seen  # the generator reached both outcomes


# -- OCI registry -------------------------------------------------------------------------

def _d(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _oci_templates() -> Callable[[str, str, dict[str, list[str]]], Answer | None]:
    children = {}
    descs = []
    for arch in ("amd64", "arm64"):
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": _d(arch.encode()), "size": len(arch)},
                           "layers": []}).encode()
        children[_d(body)] = body
        descs.append({"mediaType": OCI_MANIFEST, "digest": _d(body), "size": len(body),
                      "platform": {"os": "linux", "architecture": arch}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": descs}).encode()
    envelope = b'{"payload": "e30=", "payloadType": "application/vnd.in-toto+json", ' \
               b'"signatures": [{"sig": "AAAA"}]}'
    referrer = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": DSSE,
                           "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                                      "digest": _d(b"{}"), "size": 2},
                           "layers": [{"mediaType": DSSE, "digest": _d(envelope),
                                       "size": len(envelope)}],
                           "subject": {"mediaType": OCI_INDEX, "digest": _d(index),
                                       "size": len(index)}}).encode()
    referrers = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": _d(referrer), "size": len(referrer),
         "artifactType": DSSE}]}).encode()
    manifests = {"v1": (index, OCI_INDEX), "v2": (index, OCI_INDEX), _d(index): (index, OCI_INDEX),
                 _d(referrer): (referrer, OCI_MANIFEST),
                 **{d: (b, OCI_MANIFEST) for d, b in children.items()}}

    def templates(method: str, path: str, query: dict[str, list[str]]) -> Answer | None:
        if path == "/v2/":
            return json_answer({})
        if path == "/v2/app/tags/list":
            return json_answer({"name": "app", "tags": ["v1", "v2", "sha256-" + "ab" * 32]})
        if path.startswith("/v2/app/manifests/"):
            found = manifests.get(path.rsplit("/", 1)[1])
            if found is None:
                return None
            body, media = found
            return 200, {"Content-Type": media, "Docker-Content-Digest": _d(body)}, body, \
                len(body)
        if path == f"/v2/app/referrers/{_d(index)}":
            return 200, {"Content-Type": OCI_INDEX}, referrers, len(referrers)
        if path == f"/v2/app/blobs/{_d(envelope)}":
            return 200, {"Content-Type": "application/octet-stream"}, envelope, len(envelope)
        return None

    return templates


def _oci_links(path: str) -> Callable[[random.Random], str | None] | None:
    if path != "/v2/app/tags/list":
        return None
    return lambda rng: rng.choice(["/v2/app/tags/list?n=1000&last=v2",
                                   f"/v2/app/tags/list?last={rng.randint(0, 10**9)}",
                                   "http://203.0.113.7/v2/app/tags/list", None])


def test_registry_clients_against_a_hostile_registry(env, tmp_path) -> None:
    from attester.signing import keys

    key = keys.generate("ed25519")
    (tmp_path / "k.pub").write_bytes(keys.public_pem(keys.public_of(key)))
    server = Server(_oci_templates(), _oci_links)
    host = server.scripted.host
    signed = _signed_statement(env, f"{host}/app:v1", b"not the index")
    seen = rounds(server, [
        ("one image", ["verify", signed, "--key", env / "k.pub", "--artifact",
                       f"oci://{host}/app:v1"]),
        ("tags", ["start", "--artifacts", f"oci://{host}/app", "-o", tmp_path / "s.json"]),
        ("platforms", ["start", "--artifacts", f"oci://{host}/app:v1", "--oci-platforms",
                       "-o", tmp_path / "s.json"]),
        ("referrers", ["verify", f"oci://{host}/app:v1", "--key", tmp_path / "k.pub"]),
    ])
    assert seen[2] and (seen[0] or seen[1]), seen


def _signed_statement(folder: Path, name: str, data: bytes) -> Path:
    """A keyed envelope naming ``name`` with the digest of ``data`` (and k.pub beside it)."""
    sha = hashlib.sha256(data).hexdigest()
    for args in (["keygen", "--out", folder / "k"],
                 ["provenance", "local://", "--subject-digest", f"{name}=sha256:{sha}",
                  "-o", folder / "s.json"],
                 ["sign", folder / "s.json", "--key", folder / "k.key", "-o",
                  folder / "s.intoto.json"]):
        code, err, _ = run(args)
        assert code == 0, err
    return folder / "s.intoto.json"


# -- GCS JSON API --------------------------------------------------------------------------

def _gcs_templates(url: str) -> Callable[[str, str, dict[str, list[str]]], Answer | None]:
    objects = {"p/kubectl": b"kubectl bytes", "p/bin/kubeadm": b"kubeadm" * 1000,
               "p/empty": b""}
    listing = {"kind": "storage#objects",
               "items": [gcs_object(url, "b", n, len(d), d) for n, d in objects.items()]}

    def templates(method: str, path: str, query: dict[str, list[str]]) -> Answer | None:
        if path == "/storage/v1/b/b/o":
            return json_answer(listing)
        from urllib.parse import unquote

        meta = "/storage/v1/b/b/o/"
        if path.startswith(meta):  # one object's metadata (verify --artifact gs://b/OBJECT)
            name = unquote(path.removeprefix(meta))
            data = objects.get(name)
            return None if data is None else json_answer(gcs_object(url, "b", name, len(data),
                                                                    data))
        prefix = "/download/storage/v1/b/b/o/"
        if path.startswith(prefix):
            data = objects.get(unquote(path.removeprefix(prefix)))
            if data is None:
                return None
            return 200, {"Content-Type": "application/octet-stream"}, data, len(data)
        return None

    return templates


def test_gcs_store_against_a_hostile_bucket(env, monkeypatch) -> None:
    server = Server(lambda *a: None, lambda p: None)
    url = server.scripted.url
    server.templates = _gcs_templates(url)

    def links(path: str) -> Callable[[random.Random], str | None] | None:
        return None  # GCS pages by nextPageToken, mutated into the listing below

    server.links = links
    plain = server.templates

    def with_tokens(method: str, path: str, query: dict[str, list[str]]) -> Answer | None:
        answer = plain(method, path, query)
        if answer is None or path != "/storage/v1/b/b/o":
            return answer
        rng = random.Random(  # noqa: S311 - test data
            f"{SEED}:{server.round}:token:{query.get('pageToken')}")
        token = rng.choice([None, None, "again", f"t{rng.randint(0, 10**9)}",
                            (query.get("pageToken") or [None])[0]])
        if token is None:
            return answer
        doc = json.loads(answer[2])  # type: ignore[arg-type]
        doc["nextPageToken"] = token
        return json_answer(doc)

    server.templates = with_tokens
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
    signed = _signed_statement(env, "gs://b/p/kubectl", b"kubectl bytes")
    seen = rounds(server, [
        ("gs://", ["provenance", "local://", "--artifacts", "gs://b/p/"]),
        ("one object", ["verify", signed, "--key", env / "k.pub", "--artifact",
                        "gs://b/p/kubectl"]),
    ])
    assert seen[2] and seen[0], seen


# -- every field, every kind: the GitHub documents a record is built from --------------------

SWEEP_VALUES: list[Any] = [None, [], {}, 7, "x"]


def _sweep(doc: Any, item: Callable[[Any], dict[str, Any]]) -> Iterator[Any]:
    """``doc`` with each field of ``item(doc)`` (and of its objects, one level down) set
    to each value of another kind, one at a time."""
    for key, value in list(item(doc).items()):
        targets = [(key, None)] + [(key, sub) for sub in value] if isinstance(value, dict) \
            else [(key, None)]
        for k, sub in targets:
            for nasty in SWEEP_VALUES:
                copy = json.loads(json.dumps(doc))
                if sub is None:
                    item(copy)[k] = nasty
                else:
                    item(copy)[k][sub] = nasty
                yield copy


@pytest.mark.parametrize(("name", "paths", "pick", "args"), [
    ("run-9000001.json", ["/repos/kubernetes/kubernetes/actions/runs/9000001",
                          "/repos/kubernetes/kubernetes/actions/runs/9000001/attempts/1"],
     lambda d: d, ["provenance", "github://kubernetes/kubernetes/9000001"]),
    ("release-assets.json", ["/repos/kubernetes/kubernetes/releases/170000001/assets"
                             "?per_page=100"],
     lambda d: d[0], ["provenance", "local://", "--artifacts",
                      "github-release://kubernetes/kubernetes/v1.31.0"]),
    ("artifacts-9000001.json", ["/repos/kubernetes/kubernetes/actions/runs/9000001/artifacts"
                                "?per_page=100"],
     lambda d: d["artifacts"][0], ["provenance", "local://", "--artifacts",
                                   "github-artifacts://kubernetes/kubernetes/9000001"]),
    ("jobs-9000001-page1.json", ["/repos/kubernetes/kubernetes/actions/runs/9000001/attempts/"
                                 "1/jobs?per_page=100"],
     lambda d: d["jobs"][0], ["provenance", "github://kubernetes/kubernetes/9000001"]),
])
def test_every_field_of_github_answers(env, monkeypatch, name, paths, pick, args) -> None:
    from test_github import serve_github

    from replay import Replay

    seen: Counter[int] = Counter()
    with Replay() as r:
        serve_github(r)
        monkeypatch.setenv("GITHUB_API_URL", r.url)
        doc = json.loads((GH / name).read_text().replace("{BASE}", r.url))
        for n, mutated in enumerate(_sweep(doc, pick)):
            for path in paths:
                r.json(path, mutated)
            check(args, f"{name} mutation {n}", seen)
    assert seen[2] and sum(seen.values()) > 50, seen
