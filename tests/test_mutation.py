"""Issue 9, "What must show": a mutation suite run on every CI run.

A seeded generator (``ATTEST_MUTATION_SEED`` picks another seed; the default is fixed so
a failure reproduces) mutates valid documents a few thousand times: keyed envelopes
(ours and securesystemslib's from testdata/interop), Sigstore bundles (from the stand-in and
from testdata/interop/sigstore), policy files and the chain's documents. For each one:

- no input ends in "internal error" or a traceback; the exit code is 0, 1 or 2;
- a mutation that changes signed content or a trust-relevant field never exits 0 (what
  "changed" means is computed from the decoded content, so re-encodings that mean the
  same bytes, such as another base64 alphabet or key order, may still pass);
- memory stays bounded over the whole run.

Failures it found are fixed in attester and kept in ``REGRESSIONS`` below.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import os
import random
import resource
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from attester.cli import main
from attester.jsonio import dumps_compact
from attester.signing import keys
from attester.signing.dsse import Envelope, Signature, pae

from conftest import interop_path

SEED = int(os.environ.get("ATTEST_MUTATION_SEED", "20261130"))
ME = "release-bot@example.com"

# -- running attest in-process ------------------------------------------------------------


def run(args: list[object]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, err.getvalue()


def assert_clean(code: int, err: str, what: str) -> None:
    assert code in (0, 1, 2), (what, code, err)
    assert "internal error" not in err and "Traceback" not in err, (what, err)


# -- the generator ----------------------------------------------------------------------

NASTY_VALUES: list[Any] = [None, True, False, 0, -1, 1.5, 10**30, "", "x", "a" * 5000, [], {},
                           [None], {"a": 1}, "sha256:", "\x1b[31mred", "../../etc/passwd",
                           {"sha256": ""}, [[[[[[[[]]]]]]]], "NaN"]
NASTY_TEXT = [b"NaN", b"Infinity", b"-Infinity", b"\x00", b'"', b"{", b"[", b"]", b"}", b",",
              b"1e999", b"9" * 5000, b"[" * 300, b"\xff\xfe", b"\\u0000", b'"a":1,']


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*prefix, i))


def get(node: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        node = node[p]
    return node


def mutate_string(rng: random.Random, s: str) -> str:
    if not s:
        return rng.choice(["A", "=", "\x1b", "0"])
    i = rng.randrange(len(s))
    op = rng.randrange(5)
    if op == 0:  # change one character
        return s[:i] + chr((ord(s[i]) + rng.randrange(1, 60)) % 0x7F or 65) + s[i + 1:]
    if op == 1:
        return s[:i]
    if op == 2:
        return s + rng.choice(["A", "==", "/", "\n"])
    if op == 3:
        return s[:i] + s[i + 1:]
    return s.swapcase()


def mutate_json(rng: random.Random, doc: Any) -> Any:
    """One structural mutation of a copy of ``doc``."""
    doc = json.loads(json.dumps(doc))
    all_paths = list(paths(doc))
    path = rng.choice(all_paths[1:] or all_paths)
    parent = get(doc, path[:-1]) if path else None
    value = get(doc, path)
    op = rng.randrange(6)
    if parent is None:
        return rng.choice(NASTY_VALUES)
    key = path[-1]
    if op == 0:
        parent[key] = rng.choice(NASTY_VALUES)
    elif op == 1:
        del parent[key]
    elif op == 2 and isinstance(value, str):
        parent[key] = mutate_string(rng, value)
    elif op == 3 and isinstance(parent, list):
        parent.insert(key, json.loads(json.dumps(value)))
    elif op == 4 and isinstance(parent, dict):
        parent[mutate_string(rng, str(key))] = parent.pop(key)
    elif isinstance(value, int) and not isinstance(value, bool):
        parent[key] = value + rng.choice([-1, 1, 2**31, 2**63])
    else:
        parent[key] = rng.choice(NASTY_VALUES)
    return doc


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    op = rng.randrange(4)
    if op == 0 and data:
        j = min(len(data) - 1, i)
        return data[:j] + bytes([data[j] ^ (1 << rng.randrange(8))]) + data[j + 1:]
    if op == 1:
        return data[:i] + rng.choice(NASTY_TEXT) + data[i:]
    if op == 2:
        return data[:i] + data[i + rng.randrange(1, 40):]
    return data[:i]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(value: Any) -> Any:
    """Lenient decoding, so the trust view sees bytes as any decoder would."""
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_"
                                if ("-" in value or "_" in value) else None).hex()
    except (binascii.Error, ValueError):
        return value


def mutated_documents(rng: random.Random, doc: dict[str, Any], payload_key: Callable[
        [dict[str, Any]], dict[str, Any] | None], n: int) -> Iterator[tuple[str, bytes]]:
    """``n`` mutations of ``doc``: structural, textual, and of the signed payload itself
    (decoded, mutated as JSON or bytes, re-encoded; never re-signed)."""
    text = json.dumps(doc).encode()
    for i in range(n):
        kind = i % 4
        if kind == 0:
            yield "json", json.dumps(mutate_json(rng, doc)).encode()
        elif kind == 1:
            yield "bytes", mutate_bytes(rng, text)
        else:
            copy = json.loads(text)
            holder = payload_key(copy)
            if holder is None:
                yield "json", json.dumps(mutate_json(rng, doc)).encode()
                continue
            payload = base64.b64decode(holder["payload"])
            try:
                statement = json.loads(payload)
                new = dumps_compact(mutate_json(rng, statement)) if kind == 2 else \
                    mutate_bytes(rng, payload)
            except ValueError:
                new = mutate_bytes(rng, payload)
            holder["payload"] = b64(new)
            yield "payload", json.dumps(copy).encode()


# -- trust views: what a pass may not have changed -------------------------------------


def envelope_view(data: bytes) -> Any:
    from attester.errors import AttesterError
    from attester.signing.dsse import parse_envelope

    try:
        env = parse_envelope(json.loads(data), where="x")
    except (AttesterError, ValueError, TypeError, RecursionError):
        return None
    return env.payload_type, env.payload, frozenset(s.sig for s in env.signatures)


#: Left out as hints, not trust: ``logId`` (Rekor v1 signs it inside the SET anyway; a
#: Rekor v2 checkpoint names its key itself) and ``messageDigest`` (a signed file's
#: signature is checked against the digest of the real --artifact, never this field),
#: and ``mediaType``: unsigned, so it may not lower what is required (a relabelled bundle
#: is tested in test_fail_closed.py); dropping it only makes verification stricter.
BUNDLE_KEYS = {"verificationMaterial", "certificate", "rawBytes",
               "x509CertificateChain", "certificates", "publicKey", "tlogEntries", "logIndex",
               "kindVersion", "kind", "version", "integratedTime",
               "inclusionPromise", "signedEntryTimestamp", "inclusionProof", "rootHash",
               "treeSize", "hashes", "checkpoint", "envelope", "canonicalizedBody",
               "timestampVerificationData", "rfc3161Timestamps", "signedTimestamp",
               "dsseEnvelope", "payload", "payloadType", "signatures", "sig",
               "messageSignature", "signature"}
BASE64_KEYS = {"rawBytes", "signedEntryTimestamp", "rootHash", "canonicalizedBody",
               "signedTimestamp", "payload", "sig", "signature"}
NUMBER_KEYS = {"logIndex", "integratedTime", "treeSize"}


def bundle_view(data: bytes) -> Any:
    """Every trust-relevant field of a Sigstore bundle, decoded (unknown keys dropped:
    a verifier may ignore them)."""

    def norm(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):  # proto3: an empty value means the same as none
            kept = {k: norm(v, k) for k, v in sorted(node.items()) if k in BUNDLE_KEYS}
            if key == "tlogEntries" and isinstance(node.get("inclusionProof"), dict) \
                    and "inclusionPromise" not in node:
                # the proof's own logIndex is what the signed checkpoint proves (with a
                # SET, the entry's copy is signed too and stays in the view)
                kept.pop("logIndex", None)
            if key == "checkpoint" and isinstance(kept.get("envelope"), str):
                # a signed note: its body is signed; signature lines of other keys are
                # ignored by design (C2SP signed-note)
                kept["envelope"] = kept["envelope"].split("\n\n", 1)[0]
            return {k: v for k, v in kept.items() if v not in (None, "", [], {})
                    and not (k in NUMBER_KEYS and v == 0)}
        if isinstance(node, list):
            if key == "certificates":  # the leaf signs; the chain is built from the root
                node = node[:1]
            return [norm(v, key) for v in node]
        if key in BASE64_KEYS or key == "hashes":
            return unb64(node)
        if key in NUMBER_KEYS and isinstance(node, str):
            with contextlib.suppress(ValueError):
                return int(node)  # as the verifier reads it (surrounding blanks allowed)
        return node

    try:
        return norm(json.loads(data))
    except (ValueError, TypeError, RecursionError):
        return None


def first_difference(a: Any, b: Any, path: str = "") -> str:
    """Where two views differ, for a readable failure."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return first_difference(a.get(k), b.get(k), f"{path}/{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return first_difference(x, y, f"{path}/{i}")
    return f"{path or '/'}: {str(a)[:200]!r} -> {str(b)[:200]!r}"


# -- the documents ------------------------------------------------------------------------

STATEMENT = {
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [{"name": "kubectl", "digest": {"sha256": "0" * 64}}],
    "predicateType": "https://slsa.dev/provenance/v1",
    "predicate": {"buildDefinition": {
        "buildType": "https://attester.dev/buildtypes/stage/v1",
        "externalParameters": {"source": {"repository": "git+https://github.com/o/r",
                                          "ref": "refs/tags/v1"}},
        "resolvedDependencies": [{"uri": "git+https://github.com/o/r@refs/tags/v1",
                                  "digest": {"gitCommit": "a" * 40}}]},
        "runDetails": {"builder": {"id": "https://builder.example/v1"}}}}


def sign_envelope(statement: dict[str, Any], *signers: Any, build_type: str = "") -> bytes:
    stmt = json.loads(json.dumps(statement))
    if build_type:
        stmt["predicate"]["buildDefinition"]["buildType"] = build_type
    body = dumps_compact(stmt)
    ptype = "application/vnd.in-toto+json"
    sigs = tuple(Signature(sig=keys.sign(k, pae(ptype, body))) for k in signers)
    return json.dumps(Envelope(ptype, body, sigs).to_json()).encode()


class Budget:
    """The whole suite's memory check: ru_maxrss may not grow past a bound."""

    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    @classmethod
    def check(cls) -> None:
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - cls.start) / 1024
        assert grown < 400, f"memory grew by {grown:.0f} MiB during mutation runs"


def fuzz(tmp: Path, source: bytes, args: Callable[[Path], list[object]], view: Callable[
        [bytes], Any], *, n: int, seed_offset: int, payload_key: Callable[
        [dict[str, Any]], dict[str, Any] | None]) -> dict[str, int]:
    """Mutate ``source`` ``n`` times; verify each; count outcomes per exit code."""
    rng = random.Random(SEED + seed_offset)  # noqa: S311 - reproducible inputs
    code, err = run(args(_write(tmp, "orig.json", source)))
    assert code == 0, f"the unmutated document must pass: {err}"
    original = view(source)
    counts = {0: 0, 1: 0, 2: 0}
    for i, (kind, data) in enumerate(mutated_documents(rng, json.loads(source), payload_key, n)):
        path = _write(tmp, f"m{i % 4}.json", data)
        code, err = run(args(path))
        what = f"mutation {i} ({kind}, seed {SEED + seed_offset}): {data[:300]!r}"
        assert_clean(code, err, what)
        if code == 0:
            seen = view(data)
            assert seen == original, (f"{what} changed signed content yet passed: "
                                      f"{first_difference(original, seen)}")
        counts[code] += 1
    Budget.check()
    return counts


def _write(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


def _dsse(doc: dict[str, Any]) -> dict[str, Any] | None:
    holder = doc.get("dsseEnvelope", doc)
    return holder if isinstance(holder, dict) and isinstance(holder.get("payload"), str) \
        else None


# -- keyed envelopes ------------------------------------------------------------------


def test_mutated_keyed_envelopes_never_pass(tmp_path) -> None:
    key = keys.generate("ecdsa-p256")
    pub = _write(tmp_path, "k.pub", keys.public_pem(key.public_key()))
    env = sign_envelope(STATEMENT, key)
    counts = fuzz(tmp_path, env, lambda p: ["verify", p, "--key", pub, "--builder-id",
                                            "https://builder.example/v1"],
                  envelope_view, n=1200, seed_offset=1, payload_key=_dsse)
    assert counts[1] + counts[2] > 1000, counts


@pytest.mark.parametrize("alg", ["ed25519", "rsa-3072"])
def test_mutated_securesystemslib_envelopes_never_pass(tmp_path, alg) -> None:
    base = interop_path("keyed")
    args = ["--key", base / f"{alg}.pub", "--artifact", base / "artifacts" / "kubectl"]
    counts = fuzz(tmp_path, (base / f"{alg}.intoto.json").read_bytes(),
                  lambda p: ["verify", p, *args], envelope_view, n=300, seed_offset=2,
                  payload_key=_dsse)
    assert counts[1] + counts[2] > 250, counts


# -- Sigstore bundles ------------------------------------------------------------------


def test_mutated_standin_bundles_never_pass(tmp_path, standin, repo, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    (tmp_path / "trust.json").write_text(json.dumps(standin.trust_config()))
    root = _write(tmp_path, "root.json", json.dumps(standin.trusted_root()).encode())
    assert run(["provenance", "local://", "--artifacts", "file://dist", "-o", "p.json"])[0] == 0
    code, err = run(["sign", "p.json", "--keyless", "--identity-token", standin.token(ME),
                     "--trust-config", tmp_path / "trust.json", "-o", "p.sigstore.json"])
    assert code == 0, err
    common = ["--trusted-root", root, "--offline", "--certificate-identity", ME,
              "--certificate-oidc-issuer", standin.issuer, "--artifact", "dist/bin/kubectl"]
    dsse = (repo / "p.sigstore.json").read_bytes()
    counts = fuzz(tmp_path, dsse, lambda p: ["verify", p, *common], bundle_view, n=500,
                  seed_offset=3, payload_key=_dsse)
    assert counts[1] + counts[2] > 400, counts
    intoto = json.dumps(standin.intoto_bundle((repo / "p.json").read_bytes())).encode()
    counts = fuzz(tmp_path, intoto, lambda p: ["verify", p, *common], bundle_view, n=400,
                  seed_offset=4, payload_key=_dsse)
    assert counts[1] + counts[2] > 300, counts


def _manifest_case(case_id: str) -> tuple[bytes, list[object]]:
    base = interop_path("sigstore")
    case = next(c for c in json.loads((base / "MANIFEST.json").read_text())["cases"]
                if c["id"] == case_id)
    args: list[object] = ["--trusted-root", base / case["trusted_root"], "--offline",
                          "--certificate-identity", case["certificate_identity"],
                          "--certificate-oidc-issuer", case["certificate_oidc_issuer"]]
    if "artifact" in case["files"]:
        args += ["--artifact", base / case["files"]["artifact"]]
    else:
        args += ["--predicate-type", case["predicate_type"]]
    return (base / case["files"]["bundle"]).read_bytes(), args


@pytest.mark.parametrize("case_id", ["sp-bundle-v3-valid", "sp-bundle-v0.1-valid",
                                     "sp-dsse-slsa-v1-staging-rekor-v2-valid"])
def test_mutated_real_bundles_never_pass(tmp_path, case_id) -> None:
    source, args = _manifest_case(case_id)
    counts = fuzz(tmp_path, source, lambda p: ["verify", p, *args], bundle_view, n=250,
                  seed_offset=5, payload_key=_dsse)
    assert counts[1] + counts[2] > 200, counts


# -- the chain's documents and policy files --------------------------------------------


class Chain:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.keys = {r: keys.generate("ed25519") for r in ("stage", "release", "other")}
        for role, k in self.keys.items():
            _write(tmp, f"{role}.pub", keys.public_pem(k.public_key()))
        art = _write(tmp, "kubectl", b"kubectl\n")
        import hashlib

        sha = hashlib.sha256(art.read_bytes()).hexdigest()
        stage = json.loads(json.dumps(STATEMENT))
        stage["subject"] = [{"name": "stage/bin/kubectl", "digest": {"sha256": sha}}]
        release = json.loads(json.dumps(STATEMENT))
        release["subject"] = [{"name": "bin/kubectl", "digest": {"sha256": sha}}]
        release["predicate"]["buildDefinition"]["resolvedDependencies"] = [
            {"uri": "gs://b/stage/bin/kubectl", "digest": {"sha256": sha}}]
        self.stage = sign_envelope(stage, self.keys["stage"])
        self.release = sign_envelope(release, self.keys["release"],
                                     build_type="https://attester.dev/buildtypes/release/v1")
        _write(tmp, "stage.intoto.json", self.stage)
        _write(tmp, "release.intoto.json", self.release)
        self.policy = {"steps": {"stage": {"keys": ["stage.pub"],
                                           "builder-id": "https://builder.example/v1"},
                                 "release": {"keys": ["release.pub"]}},
                       "source-uri": "github.com/o/r"}

    def args(self, stage: Path | None = None, release: Path | None = None,
             policy: Path | None = None) -> list[object]:
        return ["verify", "--chain", stage or self.tmp / "stage.intoto.json",
                "--chain", release or self.tmp / "release.intoto.json",
                "--policy", policy or _write(self.tmp, "policy.json",
                                             json.dumps(self.policy).encode()),
                "--artifact", self.tmp / "kubectl"]


def test_mutated_chain_documents_never_pass(tmp_path) -> None:
    c = Chain(tmp_path)
    for offset, (name, source) in enumerate((("stage", c.stage), ("release", c.release))):
        counts = fuzz(tmp_path, source, lambda p, name=name: c.args(**{name: p}),
                      envelope_view, n=300, seed_offset=10 + offset, payload_key=_dsse)
        assert counts[1] + counts[2] > 250, counts


@pytest.mark.parametrize(("change", "needle"), [
    (lambda p: p["steps"]["stage"].update(keys=["other.pub"]), "not signed by any signer"),
    (lambda p: p["steps"]["stage"].update(keys=["release.pub"]), "not signed by any signer"),
    (lambda p: p["steps"].update(stage=p["steps"].pop("release")), ""),
    (lambda p: p.update({"source-uri": "github.com/o/other"}), "policy wants"),
    (lambda p: p["steps"]["stage"].update({"builder-id": "https://other/v1"}), "builder-id"),
    (lambda p: p["steps"]["stage"].update({"build-type": "https://other/v1"}), "build-type"),
    (lambda p: p["steps"]["release"].update({"predicate-types": ["https://other/v1"]}),
     "the policy allows"),
    (lambda p: p["steps"]["stage"].update({"source-ref": "refs/tags/v2"}), "source-ref"),
])
def test_trust_relevant_policy_changes_fail(tmp_path, change, needle) -> None:
    c = Chain(tmp_path)
    code, err = run(c.args())
    assert code == 0, err
    change(c.policy)
    code, err = run(c.args())
    assert code in (1, 2) and needle in err, err
    assert_clean(code, err, "policy change")


def test_mutated_policy_files_never_crash(tmp_path) -> None:
    """Random policy mutations may loosen or break the policy (that is the policy
    owner's call); none may crash, and each passing one still has a signer per step."""
    c = Chain(tmp_path)
    rng = random.Random(SEED + 20)  # noqa: S311 - reproducible inputs
    original = json.loads(json.dumps(c.policy))
    text = json.dumps(original).encode()
    yaml_text = (b"steps:\n  stage: {keys: [stage.pub], builder-id: https://builder.example/v1}"
                 b"\n  release: {keys: [release.pub]}\nsource-uri: github.com/o/r\n")
    passed = 0
    for i in range(400):
        if i % 3 == 0:
            data = json.dumps(mutate_json(rng, original)).encode()
        elif i % 3 == 1:
            data = mutate_bytes(rng, text)
        else:
            data = mutate_bytes(rng, yaml_text)
        path = _write(tmp_path, "p.yaml", data)
        code, err = run(c.args(policy=path))
        assert_clean(code, err, f"policy mutation {i}: {data[:300]!r}")
        if code == 0:
            passed += 1
            import yaml

            doc = yaml.safe_load(data)
            assert {"stage", "release"} <= set(doc["steps"]), data
            assert {str(Path(k)) for k in doc["steps"]["stage"]["keys"]} == {"stage.pub"}, data
            assert {str(Path(k)) for k in doc["steps"]["release"]["keys"]} == {"release.pub"}, data
    assert passed < 400
    Budget.check()


# -- regressions the suite found, kept as plain cases ----------------------------------

def _signed(payload: bytes, key: Any) -> dict[str, Any]:
    ptype = "application/vnd.in-toto+json"
    sig = Signature(sig=keys.sign(key, pae(ptype, payload)))
    return Envelope(ptype, payload, (sig,)).to_json()


BASE = dumps_compact(STATEMENT)
#: (what, the signed payload, an edit of the signed envelope, the words the failure must
#: carry; "" for a harmless edit that passes). The bundle the suite found (a DSSE bundle
#: with two signatures: sigstore's InvalidEnvelope escaped as an internal error) is kept
#: in test_fail_closed.py, with the Sigstore stand-in.
REGRESSIONS: list[tuple[str, bytes, Callable[[dict[str, Any]], None], str]] = [
    ("NaN in the payload", BASE.replace(b'"predicate":{', b'"predicate":{"x":NaN,'),
     lambda d: None, "NaN is not JSON"),
    ("predicate is a string", dumps_compact({**STATEMENT, "predicate": "x"}), lambda d: None,
     "predicate is a JSON str"),
    ("payload nested deep", b"[" * 5000 + b"]" * 5000, lambda d: None, "nested more than"),
    ("huge integer in the payload",
     BASE.replace(b'"predicate":{', b'"predicate":{"n":' + b"9" * 5000 + b","),
     lambda d: None, "an integer of 5000 digits"),
    ("envelope field nested deep", BASE, lambda d: d.update(x=json.loads("[" * 200 + "]" * 200)),
     "nested more than"),
    ("unknown envelope field", BASE, lambda d: d.update(x=[1]), ""),
    ("the same signature twice", BASE, lambda d: d["signatures"].append(d["signatures"][0]), ""),
]


def test_policy_path_with_a_nul_byte(tmp_path) -> None:
    """Found by the policy mutations (seed 12): a key path with a NUL byte in a policy
    file was a ValueError from open(), reported as an internal error."""
    c = Chain(tmp_path)
    c.policy["steps"]["stage"]["keys"] = ["\0stage.pub"]
    code, err = run(c.args())
    assert code == 2 and "a file name cannot contain a NUL byte" in err, err
    assert_clean(code, err, "NUL in a policy key path")


def test_regressions_are_fixed(tmp_path) -> None:
    key = keys.generate("ecdsa-p256")
    pub = _write(tmp_path, "k.pub", keys.public_pem(key.public_key()))
    assert REGRESSIONS
    for name, payload, edit, needle in REGRESSIONS:
        doc = _signed(payload, key)
        edit(doc)
        path = _write(tmp_path, "r.json", json.dumps(doc).encode())
        code, err = run(["verify", path, "--key", pub, "--builder-id",
                         "https://builder.example/v1"])
        assert_clean(code, err, name)
        if needle:
            assert code != 0 and needle in err, (name, err)
        else:  # kept, not trusted: and one key signing twice is still one signer
            assert code == 0, (name, err)
            code, err = run(["verify", path, "--key", pub, "--key", pub, "--threshold", "2",
                             "--builder-id", "https://builder.example/v1"])
            assert code == 1 and "threshold is 2" in err, (name, err)
