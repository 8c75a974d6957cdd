"""Attestations stored in GitHub's attestation API, found by the artifact's digest.

``GET /repos/O/R/attestations/ALG:HEX`` (or ``/orgs/O/...``, then ``/users/O/...`` for a
personal account), paginated by ``Link: rel="next"`` and cut at ``--limit`` as
``gh attestation verify`` does. Each answer holds the bundle inline (``bundle``) or a
``bundle_url`` to blob storage, whose body is a snappy-compressed bundle (gh decodes it
the same way). The list goes through PyGithub's requester (GITHUB_API_URL, GITHUB_TOKEN /
GH_TOKEN, retries); blob downloads go through plain ``requests`` without the token, which
has no business at a storage host.

Everything in an answer is hostile until checked: types, counts and sizes are bounded
(``MAX_BUNDLE_BYTES`` per bundle, compressed and decompressed) before anything is parsed.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import attrs

from attester.clients import githubapi
from attester.errors import AttesterError, InputError, ServiceError, StoreError, UsageError

DEFAULT_LIMIT = 30
MAX_LIMIT = 1000
MAX_BUNDLE_BYTES = 16 << 20
_PER_PAGE_MAX = 100


@attrs.frozen
class Fetched:
    """One attestation as the API answered it: where it came from and its bundle bytes, or
    why there are none (an entry that is no bundle, a bundle_url that fails)."""

    where: str
    data: bytes
    error: AttesterError | None = attrs.field(default=None, eq=False)


@attrs.frozen
class Scope:
    """Whose attestations to ask for: ``--repo O/R`` or ``--owner O``."""

    owner: str | None = None
    repo: str | None = None

    @property
    def name(self) -> str:
        return self.repo or self.owner or ""

    def paths(self, digest: str) -> list[str]:
        d = quote(digest, safe=":")
        if self.repo:
            owner, _, name = self.repo.partition("/")
            return [f"/repos/{quote(owner)}/{quote(name)}/attestations/{d}"]
        o = quote(self.owner or "")
        return [f"/orgs/{o}/attestations/{d}", f"/users/{o}/attestations/{d}"]


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit {limit}: must be between 1 and {MAX_LIMIT}, as gh's")
    return limit


def fetch(scope: Scope, digest: str, *, limit: int = DEFAULT_LIMIT,
          api_url: str | None = None) -> list[Fetched]:
    """Up to ``limit`` attestations whose subject has ``digest`` (``ALG:HEX``); none found
    is an empty list (the caller decides that it fails). ``api_url`` overrides
    GITHUB_API_URL (--hostname)."""
    check_limit(limit)
    items: list[Any] = []
    for path in scope.paths(digest):
        try:
            items = list(_items(path, limit, what=f"attestations of {scope.name}",
                                api_url=api_url))
            break
        except StoreError:
            if path == scope.paths(digest)[-1]:
                if scope.repo:
                    raise
                return []  # no such org or user, or nothing there: nothing attested
    out = []
    for i, item in enumerate(items[:limit]):
        where = f"github:{scope.name} attestation {i + 1} of {len(items[:limit])}"
        try:
            out.append(Fetched(where=where, data=_bundle_of(item, where=where)))
        except (InputError, ServiceError) as e:
            # one entry's failure (a bundle_url that 404s or is not https, a malformed
            # entry) is that entry's: the others are still read (redteam: the first one
            # aborted the command, exit 2, the good bundles after it unread)
            out.append(Fetched(where=where, data=b"", error=e))
    return out


def _items(path: str, limit: int, *, what: str, api_url: str | None) -> Iterator[Any]:
    """Up to ``limit`` attestations, through the one pager: empty pages that keep saying
    "next" count (and end it), a repeated link ends it, pages are capped."""
    return githubapi.paginate(path, list_item="attestations", what=what,
                              per_page=min(limit, _PER_PAGE_MAX), stop_after=limit,
                              base_url=api_url)


def _bundle_of(item: Any, *, where: str) -> bytes:
    if not isinstance(item, dict):
        raise ServiceError(f"{where}: unexpected API answer (an attestation is not an object)")
    bundle, url = item.get("bundle"), item.get("bundle_url")
    if isinstance(bundle, dict) and bundle:
        data = json.dumps(bundle, separators=(",", ":")).encode()
        if len(data) > MAX_BUNDLE_BYTES:
            raise InputError(f"{where}: bundle larger than {MAX_BUNDLE_BYTES >> 20} MiB")
        return data
    if isinstance(url, str) and url:
        return _download_bundle(url, where=where)
    if bundle is not None or url is not None:
        raise ServiceError(f"{where}: unexpected API answer (bundle is not an object, "
                           "bundle_url not a string)")
    raise ServiceError(f"{where}: the API answer holds neither bundle nor bundle_url")


def _download_bundle(url: str, *, where: str) -> bytes:

    from attester.clients.httpget import get_stream

    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname)):
        raise ServiceError(f"{where}: bundle_url is not https")
    # no token (blob storage needs none) and nothing from the environment: no ~/.netrc
    # credentials for the host a hostile answer names
    with githubapi.download_session() as session:
        resp = get_stream(session, url, what=f"{where} bundle_url")
        body = bytearray()
        with resp:
            for chunk in resp.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_BUNDLE_BYTES:
                    raise InputError(f"{where}: bundle_url answer larger than "
                                     f"{MAX_BUNDLE_BYTES >> 20} MiB")
    return _unsnappy(bytes(body), where=where)


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and (host == "localhost" or ipaddress.ip_address(host).is_loopback)
    except ValueError:
        return False


def _unsnappy(body: bytes, *, where: str) -> bytes:
    """Snappy's raw block format, as gh reads blob storage's bundles. The preamble (a
    varint of the decompressed length) is read first so a bomb is refused unopened."""
    try:
        import cramjam
    except ImportError:
        from attester.errors import MissingExtraError

        raise MissingExtraError("github", "cramjam") from None
    size, shift = 0, 0
    for i, byte in enumerate(body[:5]):
        size |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
        if i == 4:
            raise InputError(f"{where}: bundle_url answer is not snappy-compressed")
    if size > MAX_BUNDLE_BYTES:
        raise InputError(f"{where}: bundle would be {size} bytes decompressed, over the "
                         f"{MAX_BUNDLE_BYTES >> 20} MiB cap")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception:  # noqa: BLE001 - cramjam raises its own DecompressionError
        raise InputError(f"{where}: bundle_url answer is not snappy-compressed") from None


def digest_for(artifacts: Sequence[str], *, alg: str = "sha256",
               insecure: bool = False) -> tuple[str, str]:
    """(artifact spec, ``ALG:HEX``) of the one artifact whose attestations to fetch: a
    file, a digest, or an image (``oci://REF``: its manifest digest, as gh looks it up)."""
    from attester.digests import artifact_ref
    from attester.verify import checker

    if len(artifacts) != 1:
        raise UsageError("fetching attestations from GitHub needs exactly one artifact",
                         hint="pass one --artifact FILE, --artifact oci://IMAGE or "
                         "--digest sha256:HEX")
    spec = artifacts[0]
    ref = artifact_ref(spec)
    if ref is not None:
        return spec, f"{ref[1]}:{ref[2]}"
    if spec.startswith("oci://"):
        from attester.stores.oci_referrers import Target

        return spec, Target.resolve(spec, insecure=insecure).digest
    if "://" in spec:
        raise UsageError(f"{spec}: fetching from GitHub needs a file, an image or a digest")
    return spec, f"{alg}:{checker.digest_of(spec, alg).hex()}"


def jsonl(fetched: Sequence[Fetched]) -> bytes:
    """``gh attestation download``'s file: one bundle per line (each checked to be JSON)."""
    from attester.jsonio import parse_json

    broken = next((f.error for f in fetched if f.error is not None), None)
    if broken is not None:  # a download is every attestation found, or an error
        raise broken
    return b"".join(json.dumps(parse_json(f.data, where=f.where),
                               separators=(",", ":")).encode() + b"\n" for f in fetched)


def verify_fetched(fetched: Sequence[Fetched], trust: Any, demands: Any, *, blob: str,
                   digest: str, scope: Scope) -> tuple[Any, list[Any]]:
    """Verify each fetched attestation; the first that passes is the verdict (else the
    first failure). Returns (report, every report)."""
    from attester.jsonio import parse_json
    from attester.verify.checker import verify_document
    from attester.verify.checks.policy import Check
    from attester.verify.checks.report import Report
    from attester.verify.checks.requirements import refused_check

    if not fetched:
        return Report(attestation=f"github:{scope.name}", checks=(Check(
            "attestation", False, f"no attestations for {digest} in {scope.name}"),)), []
    reports = []
    refused: list[UsageError] = []
    broken: list[AttesterError] = []
    unread = [f.error for f in fetched if f.error is not None]
    if len(unread) == len(fetched):  # no answer held a bundle: the command's error (exit 2)
        raise unread[0]
    for f in fetched:
        try:
            if f.error is not None:
                raise f.error
            doc = parse_json(f.data, where=f.where)
            reports.append(verify_document(f.data, doc, f.where, _trust_for(doc, trust),
                                           demands, blob=blob))
        except UsageError as e:  # another may answer it (requirements.refused_check)
            refused.append(e)
            reports.append(Report(attestation=f.where, checks=(refused_check(e),)))
        except (InputError, ServiceError) as e:  # one malformed answer hides no other
            broken.append(e)
            reports.append(Report(attestation=f.where, checks=(Check("bundle", False,
                                                                     e.message),)))
    if refused and len(refused) + len(broken) == len(reports):  # none could answer it
        raise refused[0]
    return next((r for r in reports if r.ok), reports[0]), reports


def upload(data: bytes, repo: str, *, where: str) -> int:
    """``POST /repos/O/R/attestations`` with the bundle, as actions/attest stores it; the
    attestation's id. Only Sigstore bundles are accepted there."""
    from attester.jsonio import parse_json
    from attester.verify import document

    doc = parse_json(data, where=where)
    if not isinstance(document.classify(doc), document.SigstoreBundle):
        raise InputError(f"{where}: GitHub stores Sigstore bundles only (sign with --keyless)")
    owner, _, name = repo.partition("/")
    _, answer = githubapi.request_json(
        "POST", f"/repos/{quote(owner)}/{quote(name)}/attestations", body={"bundle": doc},
        what=f"upload to {repo}")
    ident = answer.get("id") if isinstance(answer, dict) else None
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise ServiceError(f"upload to {repo}: unexpected API answer (no attestation id)")
    return ident


#: The issuer organization of the certificates GitHub's own Fulcio issues.
_GITHUB_CA_ORG = "GitHub, Inc."


def _trust_for(doc: Any, trust: Any) -> Any:
    """With no --trusted-root, a bundle certified by GitHub's own CA (private repositories,
    release attestations) is checked against GitHub's trust domain, as gh chooses by the
    leaf's issuer; any other against the public-good root. Choosing by the unverified
    issuer name is safe: the certificate must then chain to that root's CA."""
    if trust.trusted_root_path is not None or not isinstance(doc, dict):
        return trust
    vm = doc.get("verificationMaterial")
    raw = None
    if isinstance(vm, dict):
        cert = vm.get("certificate")
        chain = vm.get("x509CertificateChain")
        certs = chain.get("certificates") if isinstance(chain, dict) else None
        first = certs[0] if isinstance(certs, list) and certs else None
        for holder in (cert, first):
            if isinstance(holder, dict) and isinstance(holder.get("rawBytes"), str):
                raw = holder["rawBytes"]
                break
    if raw is None:
        return trust
    import base64
    import binascii

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        leaf = x509.load_der_x509_certificate(base64.b64decode(raw, validate=True))
        orgs = [a.value for a in leaf.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    except (binascii.Error, ValueError):
        return trust  # the verifier reports the broken certificate
    if _GITHUB_CA_ORG not in orgs:
        return trust
    return attrs.evolve(trust, trusted_root_path=str(_github_root()))


def _github_root() -> Any:
    from importlib import resources

    return resources.files("attester") / "data" / "trusted_root.github.json"
