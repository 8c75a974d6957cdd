"""Lenient reading of in-toto Statements we did not necessarily write.

We keep the parsed JSON as it is (unknown fields preserved) and pull out only what
verification needs, each accessor tolerant of the layouts real tools produce:
in-toto Statement v1 and v0.1, SLSA provenance v1, v0.2 and v0.1 (krel's legacy
stage provenance), GitHub's and Cloud Build's build types.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import attrs

from attester.model.models import (
    SLSA_PROVENANCE_V01,
    SLSA_PROVENANCE_V02,
    SLSA_PROVENANCE_V1,
    STATEMENT_V01,
    STATEMENT_V1,
)

KNOWN_STATEMENT_TYPES = (STATEMENT_V1, STATEMENT_V01)
#: GitHub's release attestation (``gh release verify``): repository and tag of a release.
GITHUB_RELEASE_V01 = "https://in-toto.io/attestation/release/v0.1"


@attrs.frozen
class Subject:
    name: str
    digest: Mapping[str, str]


@attrs.frozen
class ParsedStatement:
    raw: Mapping[str, Any]

    @property
    def type(self) -> str:
        return _str(self.raw.get("_type"))

    @property
    def predicate_type(self) -> str:
        return _str(self.raw.get("predicateType"))

    @property
    def predicate(self) -> Mapping[str, Any]:
        p = self.raw.get("predicate")
        return p if isinstance(p, Mapping) else {}

    def raw_subjects(self) -> list[Any]:
        s = self.raw.get("subject")
        return s if isinstance(s, list) else []

    def subjects(self) -> list[Subject]:
        return list(self._subjects)

    @functools.cached_property
    def _subjects(self) -> tuple[Subject, ...]:
        """Read once: a release's statement has thousands of subjects, and the signature
        check, the policy and the chain each ask for them."""
        out = []
        mapping = (dict, Mapping)  # parsed JSON gives dicts: checked before the slower ABC
        for s in self.raw_subjects():
            if not isinstance(s, mapping):
                continue
            d = s.get("digest")
            digest = {k: v.lower() for k, v in d.items() if isinstance(v, str)} \
                if isinstance(d, mapping) else {}
            out.append(Subject(name=_str(s.get("name")) or _str(s.get("uri")), digest=digest))
        return tuple(out)

    def builder_id(self) -> str:
        p = self.predicate
        if self.predicate_type == SLSA_PROVENANCE_V1:
            return _str(get_path(p, "runDetails", "builder", "id"))
        return _str(get_path(p, "builder", "id"))

    def build_type(self) -> str:
        p = self.predicate
        if self.predicate_type == SLSA_PROVENANCE_V1:
            return _str(get_path(p, "buildDefinition", "buildType"))
        if self.predicate_type == SLSA_PROVENANCE_V01:
            return _str(get_path(p, "recipe", "type"))
        return _str(p.get("buildType"))

    def source(self) -> tuple[str, str]:
        """(repository URI, ref) of the primary source, or empty strings."""
        p = self.predicate
        if self.predicate_type == SLSA_PROVENANCE_V1:
            ep = get_path(p, "buildDefinition", "externalParameters")
            ep = ep if isinstance(ep, Mapping) else {}
            for key in ("workflow", "buildConfigSource", "source"):
                value = ep.get(key)
                if isinstance(value, Mapping) and _str(value.get("repository")):
                    repo = _str(value.get("repository"))
                    return split_ref(repo)[0], _str(value.get("ref")) or split_ref(repo)[1]
                if isinstance(value, str) and value:
                    return split_ref(value)
            deps = get_path(p, "buildDefinition", "resolvedDependencies")
            return _first_git(deps)
        if self.predicate_type == SLSA_PROVENANCE_V02:
            uri = _str(get_path(p, "invocation", "configSource", "uri"))
            if uri:
                return split_ref(uri)
        if self.predicate_type == GITHUB_RELEASE_V01:
            # GitHub's release attestation names the repository and tag, as gh release
            # verify checks them: {"repository": "OWNER/REPO", "tag": "v6", ...}
            repo, tag = _str(p.get("repository")), _str(p.get("tag"))
            return (f"https://github.com/{repo}" if repo else "",
                    f"refs/tags/{tag}" if tag else "")
        return _first_git(p.get("materials"))


def _first_git(items: Any) -> tuple[str, str]:
    """The first ``git+`` dependency; else (as GCB's v0.1 provenance writes it, a plain
    https URI) the first one whose digest is a commit."""
    items = [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []
    for item in items:
        uri = _str(item.get("uri"))
        if uri.startswith("git+"):
            return split_ref(uri)
    for item in items:
        digest = item.get("digest")
        if isinstance(digest, Mapping) and (digest.get("gitCommit") or digest.get("sha1")):
            return split_ref(_str(item.get("uri")))
    return "", ""


def get_path(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]...``, or None where a step is missing or not an object."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def split_ref(uri: str) -> tuple[str, str]:
    """``git+https://host/o/r@refs/tags/v1`` -> (``git+https://host/o/r``, ``refs/tags/v1``)."""
    m = _SCHEME.match(uri)
    head, rest = (uri[: m.end()], uri[m.end():]) if m else ("", uri)
    host, slash, path = rest.partition("/")
    if "@" in path:
        path, _, ref = path.rpartition("@")
        return head + host + slash + path, ref
    return uri, ""


def normalize_repo(uri: str) -> str:
    """Compare repositories the way slsa-verifier does: ``github.com/org/repo``."""
    repo = split_ref(uri.strip())[0]
    repo = repo.removeprefix("git+")
    repo = _SCHEME.sub("", repo)
    # The authority ends at the first '/', '?', '#' or '\\' (RFC 3986; WHATWG for '\\'), and
    # only there is user info dropped (redteam: https://evil.example#@github.com/o/r was
    # read as host github.com, a fragment's '@' taken for user info, and so passed
    # --source-uri github.com/o/r and agreed with a certificate naming github.com/o/r)
    m = _AUTHORITY.match(repo)
    host, rest = (m.group(1), repo[m.end(1):]) if m else ("", repo)
    repo = host.rpartition("@")[2].lower() + rest
    return repo.rstrip("/").removesuffix(".git")


_AUTHORITY = re.compile(r"([^/?#\\]*)")


VSA_PREDICATE = "https://slsa.dev/verification_summary/v1"
#: SLSA provenance types: their predicate is checked against its schema when verified.
PROVENANCE_TYPES = (SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V01)
#: Predicate types verified without an explicit --predicate-type: SLSA provenance and VSAs.
KNOWN_PREDICATE_TYPES = (SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V01,
                         VSA_PREDICATE)
