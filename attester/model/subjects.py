"""The one rule for "this artifact is that subject", by name and digest.

Plain ``verify``, ``verify --chain``, ``audit`` and ``promote --require-provenance`` all
follow it (red-team finding: the chain and the audit once followed artifacts by digest
alone, so a file named ``kubectl`` holding the release's ``debugshell`` bytes passed):

- a subject that has the artifact's name decides: the artifact is that subject only
  with that subject's digest (a tampered or swapped file fails, naming the subject);
- only when no subject has its name (a download renamed ``kubectl-linux-amd64``, as
  slsa-verifier's and gh's own test artifacts are) does the digest alone find it, and
  the report says "by digest";
- an artifact offered by digest alone (``--digest``) is found by its digest.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from attester.hashing import SUPPORTED_ALGORITHMS

_DIGEST_SUFFIX = re.compile(r"@sha(256|384|512):[0-9a-fA-F]+$")
#: an image reference's tag (``REGISTRY/REPO:TAG``): the repository is the image's name
_TAG = re.compile(r"(?<=/)([^/:]+):[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_NPM_PURL = re.compile(r"^pkg:npm/(?:(?:%40|@)([^/@]+)/)?([^/@]+)@([^/?#@]+)")


@functools.lru_cache(maxsize=1 << 16)
def normalize_name(name: str) -> str:
    """A subject or artifact name as compared: no ``./`` or surrounding slashes, no
    ``@sha256:...`` pin (a dependency names the staged image with its digest) and no
    image tag (an image's subject may be named ``REGISTRY/REPO:TAG``)."""
    name = name.strip()
    if ":" in name:  # a pin or a tag to drop (a release's names mostly have neither)
        name = _TAG.sub(r"\1", _DIGEST_SUFFIX.sub("", name))
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/")


def names_match(subject: str, artifact: str) -> bool:
    """One name is the other's tail, whole path segments only: ``kubectl`` and
    ``bin/kubectl`` and ``gs://bucket/release/v1/bin/kubectl``; ``myapp/bin/app`` (typed
    from the project's parent) and ``bin/app``. An npm purl subject also matches the
    tarball ``npm pack`` names for it (``NAME-VERSION.tgz``, a scope prefixed)."""
    s, a = normalize_name(subject), normalize_name(artifact)
    if not s or not a:
        return False
    if s == a or a.endswith("/" + s) or s.endswith("/" + a):
        return True
    npm = _NPM_PURL.match(s)
    if npm is not None:
        scope, pkg, version = npm.groups()
        tarball = f"{scope}-{pkg}-{version}.tgz" if scope else f"{pkg}-{version}.tgz"
        return a.rsplit("/", 1)[-1] == tarball
    return False


@functools.lru_cache(maxsize=1 << 16)
def last_segment(name: str) -> str:
    return normalize_name(name).rsplit("/", 1)[-1]


def agree(subject: Mapping[str, str], artifact: Mapping[str, str]) -> bool | None:
    """True/False when they share a supported algorithm, None when they share none."""
    common = [a for a in SUPPORTED_ALGORITHMS if a in subject and a in artifact]
    if not common:
        return None
    return all(subject[a] == artifact[a].lower() for a in common)


def show(digest: Mapping[str, str]) -> str:
    alg = next((a for a in SUPPORTED_ALGORITHMS if a in digest), None)
    return f"{alg}:{digest[alg]}" if alg else "no supported digest"


@attrs.frozen
class Match:
    """How an artifact relates to a statement's subjects.

    ``subject`` is set on a match. Otherwise ``named`` is the first subject with the
    artifact's name (its digest differs, or shares no algorithm), if any."""

    subject: tuple[str, Mapping[str, str]] | None = None
    named: tuple[str, Mapping[str, str]] | None = None
    comparable: bool = True
    #: found by its digest, no subject having its name
    by_digest: bool = False

    @property
    def ok(self) -> bool:
        return self.subject is not None

    def why(self, artifact_digest: Mapping[str, str]) -> str:
        """The failure, as one phrase (empty on a match)."""
        if self.subject is not None:
            return ""
        if self.named is not None:
            name, digest = self.named
            if not self.comparable:
                return (f"subject {name!r} has no digest in {', '.join(SUPPORTED_ALGORITHMS)} "
                        "to compare with")
            return (f"digest mismatch: subject {name!r} has {show(digest)}, the file has "
                    f"{show(artifact_digest)}")
        return f"no subject covers it ({show(artifact_digest)})"


def common_tail(a: str, b: str) -> int:
    """How many trailing path segments two names share (``dl/linux/amd64/kubectl`` and
    ``bin/linux/amd64/kubectl``: 3)."""
    x, y = normalize_name(a).split("/"), normalize_name(b).split("/")
    n = 0
    while n < min(len(x), len(y)) and x[-1 - n] == y[-1 - n]:
        n += 1
    return n


def name_rule(subject_names: Iterable[str], name: str) -> Callable[[str], bool] | None:
    """Which subject names count as the artifact's name: those with its path's tail
    (:func:`names_match`), else those sharing the most trailing segments with it, at
    least its file name (``/tmp/dl/linux/amd64/kubectl`` is the subject
    ``bin/linux/amd64/kubectl``, not ``bin/linux/arm64/kubectl``); None when no subject
    has its file name at all."""
    if not normalize_name(name):
        return None
    base = last_segment(name)
    same_base = [n for n in subject_names if n and last_segment(n) == base]
    if not same_base:
        return None
    if any(names_match(n, name) for n in same_base):
        return lambda n: names_match(n, name)
    best = max(common_tail(n, name) for n in same_base)
    return lambda n: bool(n) and last_segment(n) == base and common_tail(n, name) == best


def match(subjects: Iterable[tuple[str, Mapping[str, str]]], name: str,
          digest: Mapping[str, str]) -> Match:
    """The subject that is this artifact (see the module's rule). ``name`` empty means
    the artifact was given by digest alone."""
    listed = list(subjects)
    rule = name_rule((s[0] for s in listed), name)
    if rule is None:  # no subject has its name: its digest finds it, or nothing does
        hit = next((s for s in listed if agree(s[1], digest)), None)
        return Match(subject=hit, by_digest=hit is not None and bool(normalize_name(name)))
    candidates = [s for s in listed if rule(s[0])]
    for s in candidates:
        if agree(s[1], digest):
            return Match(subject=s)
    comparable = [s for s in candidates if agree(s[1], digest) is not None]
    return Match(named=(comparable or candidates)[0], comparable=bool(comparable))


def ambiguous(subjects: Sequence[tuple[str, Mapping[str, str]]]) -> str | None:
    """A subject named twice with different digests: which file it means is unknowable.
    The phrase saying so, or None."""
    seen: dict[str, Mapping[str, str]] = {}
    for name, digest in subjects:
        if not name:
            continue
        first = seen.setdefault(name, digest)
        if first is not digest and agree(first, digest) is False:
            return (f"subject {name!r} is named twice with different digests ({show(first)}, "
                    f"{show(digest)}): ambiguous")
    return None
