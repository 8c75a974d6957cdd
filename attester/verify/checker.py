"""The verification pipeline: one attestation document, whatever its form, against a trust.

Each document goes read -> authenticate -> check. :func:`verify_document` (or
:func:`verify_bytes` for a file that may be JSON Lines) reads it once
(:mod:`attester.verify.document`), and :func:`verify_read` refuses what its form cannot
answer (``checks/requirements.py``), then dispatches on the form: a keyed DSSE envelope
(``envelope.py``), a Sigstore bundle (``sigstore/load.py``, then
``sigstore/authenticate.py``), npm's and PyPI's containers of bundles, Cloud Build's
provenance, a bare envelope found in Rekor (``sigstore/rekor_lookup.py``). Each
authenticated statement then gets the checks of ``checks/`` (``statement.check_payload``).
Every outcome is a :class:`Report`. The CLI, ``--attestations`` (``batch.py``),
``--chain``, ``audit``, images (``image.py``), GitHub's API (``github_attestations.py``)
and ``pypi://`` (``pypi_release.py``) all verify through here, so a document means the
same thing wherever it is checked.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from attester.display import safe
from attester.errors import InputError, UsageError, VerificationError
from attester.verify.checks import requirements
from attester.verify.checks.policy import Artifact, Check, source_checks
from attester.verify.checks.report import Report
from attester.verify.checks.requirements import Requirement
from attester.verify.checks.statement import Demands, check_payload, empty_policy_error
from attester.verify.envelope import TrustedKey, verify_envelope

if TYPE_CHECKING:
    from attester.verify.document import (
        Document,
        PypiAttestation,
        PypiProvenance,
        SigstoreBundle,
    )


@attrs.frozen
class Trust:
    """What a signature must chain to: keys (with a threshold) and/or a keyless signer."""

    keys: tuple[TrustedKey, ...] = ()
    threshold: int = 1
    identity: Any = None
    trusted_root_path: str | None = None
    offline: bool = False
    staging: bool = False
    #: npm registry key: verify an npm document's publish attestation too
    npm_publish_key: str | None = None
    rekor_url: str | None = None
    #: what the signer asks of every document beyond its signature (see requirements)
    requires: tuple[Requirement, ...] = ()

    def given(self) -> bool:
        return bool(self.keys) or self.identity is not None

    @classmethod
    def from_flags(cls, key_paths: Sequence[str | Path], identity: Any, *,
                   labels: Sequence[str] | None = None, threshold: int = 1,
                   trusted_root_path: str | None = None, offline: bool = False,
                   staging: bool = False, rekor_url: str | None = None,
                   npm_publish_key: str | None = None, where: str = "") -> Trust:
        """Load the public keys and keep the keyless identity only when one was named.
        What the identity asks of a certificate is kept either way (``requires``): with
        only keys, no document can answer it, and that is refused here (exit 2)."""
        from attester.signing import keys

        keyless = identity is not None and identity.given()
        requires = requirements.of_signer(identity, threshold=threshold,
                                          npm_publish_key=npm_publish_key, where=where)
        requirements.refuse_impossible(requires, keys=bool(key_paths), keyless=keyless)
        names = labels or [str(k) for k in key_paths]
        return cls(requires=requires, keys=tuple(TrustedKey(label=n, key=keys.load_public(k))
                              for n, k in zip(names, key_paths, strict=True)),
                   threshold=threshold,
                   identity=identity if keyless else None,
                   trusted_root_path=trusted_root_path, offline=offline, staging=staging,
                   rekor_url=rekor_url, npm_publish_key=npm_publish_key)


def _store_artifacts(uri: str, algorithms: tuple[str, ...], options: dict[str, Any], *,
                     exact: bool = False, progress: bool = False) -> list[Any]:
    """Every entry of a store as an artifact; with ``exact``, the one entry ``uri`` names
    and nothing else (gs://b/kubectl names one object: missing is an error, never the
    kubectl.sha256 its name is a prefix of)."""
    from attester.stores import digest_entries, entries_to_hash, open_one, open_store
    from attester.verify.checks.policy import Artifact

    if exact:
        store, one = open_one(uri, **options)
        entries = [one]
    else:
        store = open_store(uri, **options)
        entries = entries_to_hash(store)
    digests = digest_entries(store, entries, algorithms, progress=progress)
    return [Artifact(name=e.name, digest=d) for e, d in zip(entries, digests, strict=True)]


def _artifact_size(path: str) -> int:
    """The size of an artifact file, or a one-line error for a missing or odd path."""
    import stat

    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"artifact {path}: no such file") from None
    except OSError as e:
        raise InputError(f"artifact {path}: cannot read: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"artifact {path}: is a folder",
                         hint=f"name its files, or use --artifacts file://{path}")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"artifact {path}: not a regular file")
    return st.st_size


def hash_artifacts(paths: Sequence[str], algorithms: tuple[str, ...],
                   options: dict[str, Any], *, progress: bool = False) -> list[Any]:
    from attester.hashing import HashTask, hash_tasks, open_nofollow
    from attester.verify.checks.policy import Artifact

    out: list[Artifact] = []
    local: list[tuple[str, int]] = []
    from attester.digests import artifact_ref

    for p in paths:
        ref = artifact_ref(p)
        if ref is not None:  # NAME@sha256:HEX or --digest: nothing to read
            out.append(Artifact(name=ref[0], digest={ref[1]: ref[2]},
                                by_digest=ref[0] == f"{ref[1]}:{ref[2]}"))
        elif "://" in p:
            found = _store_artifacts(p, algorithms, options, exact=True, progress=progress)
            if not found:
                raise InputError(f"artifact {p}: the store holds nothing there")
            out.extend(found)
        else:
            local.append((p, _artifact_size(p)))

    def opener(path: str) -> Any:
        real = os.path.realpath(path)
        return lambda: open_nofollow(real)

    digests = hash_tasks([HashTask(label=p, size=n, open=opener(p)) for p, n in local],
                         algorithms, progress=progress)
    out.extend(Artifact(name=p, digest=d) for (p, _), d in zip(local, digests, strict=True))
    return out


def hash_store(uri: str, algorithms: tuple[str, ...], options: dict[str, Any], *,
               progress: bool = False) -> list[Any]:
    return _store_artifacts(uri, algorithms, options, progress=progress)


def read_attestation(path: str) -> tuple[bytes, Any]:
    """The attestation's bytes and JSON; a ``.intoto.jsonl`` file gives its first line."""
    from attester.jsonio import parse_json, read_bytes
    from attester.verify import document

    data = read_bytes(path, what="attestation")
    several = document.split_lines(data)  # the same reading of JSON Lines as verify_path's
    if several is not None:
        print(f"attest: {safe(path)} holds {len(several.lines)} attestations; verifying the "
              "first", file=sys.stderr)
        data = several.lines[0]
    return data, parse_json(data, where=f"attestation {path}")


def attestation_documents(path: str) -> list[tuple[str, bytes]]:
    """Every attestation an attestation file holds, each with where it is: the file, or each
    line of a JSON Lines file (``PATH line N``). Where every attestation given must verify
    (``--chain``, ``audit``), each line is one: reading only the first let a second line
    go unchecked, a forged one or one contradicting the first (redteam)."""
    from attester.jsonio import read_bytes
    from attester.verify import document

    data = read_bytes(path, what="attestation")
    several = document.split_lines(data)  # the same reading of JSON Lines as verify_path's
    if several is None:
        return [(path, data)]
    return [(f"{path} line {n}", line) for n, line in enumerate(several.lines, 1)]


def verify_path(path: str, trust: Trust, demands: Demands, *, blob: str | None = None
                ) -> Report:
    """The attestation file at ``path``: one document, or JSON Lines (every line verified;
    one passing line passes)."""
    from attester.jsonio import read_bytes

    return verify_bytes(read_bytes(path, what="attestation"), path, trust, demands, blob=blob)


def verify_bytes(data: bytes, where: str, trust: Trust, demands: Demands, *,
                 blob: str | Artifact | None = None) -> Report:
    """An attestation file's bytes: one document, or JSON Lines (every line verified; one
    passing line passes). ``blob``: the file a signed-file bundle must sign, as a path or
    digest spec, or already hashed (an :class:`Artifact`)."""
    from attester.verify import document, jsonl

    read = document.read(data, where=where)
    if isinstance(read, document.Document):
        return verify_read(read, where, trust, demands, blob=blob)
    return jsonl.verify_lines(where, read.lines, lambda line, doc, name: verify_document(
        line, doc, name, trust, demands, blob=blob))


def digest_of(path: str, alg: str = "sha256", *, progress: bool = False) -> bytes:
    """One digest of one artifact file, with one-line errors for a missing or odd path."""
    from attester.hashing import HashTask, hash_tasks, open_nofollow

    real = os.path.realpath(path)
    task = HashTask(label=path, size=_artifact_size(path), open=lambda: open_nofollow(real))
    return bytes.fromhex(hash_tasks([task], (alg,), progress=progress)[0][alg])


def sha256_of(path: str, *, progress: bool = False) -> bytes:
    return digest_of(path, "sha256", progress=progress)


def _blob_digest(spec: str | Artifact, alg: str) -> tuple[str, bytes]:
    """The ``alg`` digest a signed-file bundle must sign: the file's, or the one given by
    digest (``--digest sha384:HEX``), or the one already computed (an :class:`Artifact`)."""
    from attester.digests import artifact_ref

    if isinstance(spec, Artifact):
        if alg not in spec.digest:
            raise UsageError(f"{spec.name}: this bundle signs a {alg} digest, which was not "
                             "computed")
        return alg, bytes.fromhex(spec.digest[alg])
    ref = artifact_ref(spec)
    if ref is None:
        return alg, digest_of(spec, alg)
    if ref[1] != alg:
        raise UsageError(f"{spec.removeprefix('@')}: this bundle signs a {alg} digest; give "
                         f"{alg}:HEX or the file")
    return alg, bytes.fromhex(ref[2])


def asked(trust: Trust, demands: Demands) -> tuple[Requirement, ...]:
    """Every requirement of a verification: the signer's and the demands'."""
    return requirements.merged(trust.requires, requirements.of_demands(
        demands.policy, artifacts=demands.artifacts, stores=demands.stores,
        require_complete=demands.require_complete, where=demands.asked_by))


def verify_document(data: bytes, doc: Any, where: str, trust: Trust, demands: Demands, *,
                    blob: str | Artifact | None = None) -> Report:
    """The document ``data`` (parsed: ``doc``) read (:mod:`attester.verify.document`),
    then verified as :func:`verify_read` says."""
    from attester.verify import document

    return verify_read(document.of_json(data, doc), where, trust, demands, blob=blob)


def verify_read(read: Document, where: str, trust: Trust, demands: Demands, *,
                blob: str | Artifact | None = None) -> Report:
    """One document as read: authenticated and checked by its form. The report carries
    the sha256 of its bytes, the bytes verified (:attr:`Report.inputs`). Each requirement
    is answered by the document's evidence or refused (exit 2,
    :class:`requirements.UnansweredError`), never passed unchecked: each form is gated
    when it is known, and a passing report must show every answer."""
    import hashlib

    reqs = asked(trust, demands)
    report = _verify_form(read, where, trust, demands, blob, reqs)
    if report.ok:
        requirements.check_answered(reqs, report.checks, where)
    return attrs.evolve(report, inputs=((where, hashlib.sha256(read.data).hexdigest()),))


def _verify_form(read: Document, where: str, trust: Trust, demands: Demands,
                 blob: str | Artifact | None, reqs: tuple[Requirement, ...]) -> Report:
    """The dispatch of read -> authenticate -> check: each form to its verifier. Cloud
    Build's provenance names its own signers; every other form needs something trusted
    and something demanded, refused before the document is looked into further."""
    from attester.signing.dsse import parse_envelope
    from attester.verify import document

    form, doc = read.form, read.json
    if isinstance(form, document.CloudBuildProvenance):
        requirements.refuse_unanswerable(reqs, requirements.CLOUD_BUILD, where)
        return _verify_gcb(doc, where, trust, demands)
    if not trust.given():
        raise no_trust_error()
    if demands.is_empty():
        raise empty_policy_error()
    if isinstance(form, document.NpmRegistryAttestations):
        requirements.refuse_unanswerable(reqs, requirements.NPM_DOCUMENT, where)
        return _verify_npm(doc, where, trust, demands, blob)
    if isinstance(form, document.PypiAttestation | document.PypiProvenance):
        return _verify_pep740(form, doc, where, trust, demands, reqs)
    if isinstance(form, document.SigstoreBundle):
        return _verify_bundle(read.data, form, where, trust, demands, blob, reqs)
    if isinstance(form, document.DsseEnvelope):
        env = parse_envelope(doc, where=f"attestation {where}")
        if not trust.keys and trust.rekor_url and trust.identity is not None:
            requirements.refuse_unanswerable(reqs, requirements.REKOR_ENVELOPE, where)
            return _verify_by_rekor(read.data, env, where, trust, demands)
        if not trust.keys:
            return Report(attestation=where, checks=(Check(
                "signature", False, "a bare DSSE envelope carries no certificate or "
                "transparency-log entry to verify a keyless signature offline; verify "
                "its Sigstore bundle, pass --rekor-url URL to find its log entry online, "
                "or pass --key for a keyed signature"),))
        requirements.refuse_unanswerable(reqs, requirements.KEYED_ENVELOPE, where)
        return verify_envelope(env, where=where, trusted=trust.keys,
                               threshold=trust.threshold, demands=demands)
    raise form.error(where)


def no_trust_error() -> UsageError:
    return UsageError("no trusted key or signer given: verification needs something to trust",
                      hint="pass --key PUB, or --certificate-identity and "
                      "--certificate-oidc-issuer for keyless signatures")


def _verify_gcb(doc: Any, where: str, trust: Trust, demands: Demands) -> Report:
    """Cloud Build's signed provenance: Google's keys (built in) are its only signers."""
    from attester.verify import gcb_provenance

    if trust.given():
        raise UsageError(f"{where} is Cloud Build's provenance, signed by Google's Cloud Build "
                         "keys that attest carries: --key and certificate flags do not apply",
                         hint="drop them; name the image by digest and the policy flags")
    if demands.is_empty():
        raise empty_policy_error()
    checks, stmt = gcb_provenance.verify(doc, where=where, policy=demands.policy,
                                         artifacts=demands.artifacts, stores=demands.stores)
    return Report(attestation=where, checks=tuple(checks), statement=stmt)


def _verify_npm(doc: Any, where: str, trust: Trust, demands: Demands,
                blob: str | Artifact | None) -> Report:
    """npm registry attestations: the provenance as any keyless bundle, then (given the
    registry key) the publish attestation, which must name the same package."""
    from attester.verify import document, npm_attestations
    from attester.verify.sigstore.trustroot import load_trusted_root

    npm = npm_attestations.parse(doc, where=f"attestation {where}")
    data = npm_attestations.bundle_bytes(npm.provenance)
    report = _verify_bundle(data, document.bundle_in(data), f"{where} (provenance)", trust,
                            demands, blob, ())  # gated above
    if report.ok:  # only a verified statement is compared with the container's label
        label = npm_attestations.provenance_check(
            npm, report.statement.raw if report.statement is not None else None)
        report = attrs.evolve(report, checks=(*report.checks, label))
    if not report.ok:
        return report
    if not trust.npm_publish_key:
        return attrs.evolve(report, notes=(*report.notes, (
            "the npm registry's publish attestation was not checked; pass "
            "--npm-publish-key KEY (the registry's public key) to check it too"),))
    root = load_trusted_root(trust.trusted_root_path, offline=trust.offline,
                             staging=trust.staging)
    stmt = report.statement.raw if report.statement is not None else None
    publish = npm_attestations.verify_publish(npm.publish, trust.npm_publish_key, root, stmt,
                                              where=where)
    return attrs.evolve(report, checks=(*report.checks, publish))


def _dist_name(demands: Demands, where: str) -> str:
    """The one distribution a PEP 740 attestation is checked against: its file name (from
    --artifact PATH, or NAME@sha256:HEX)."""
    from attester.digests import artifact_ref
    from attester.verify import pep740

    if demands.stores or len(demands.artifacts) != 1:
        raise UsageError(f"{where} is a PyPI attestation of one distribution: pass exactly "
                         "one --artifact DIST", hint="the wheel or sdist itself, or "
                         "--artifact FILE_NAME@sha256:HEX")
    spec = demands.artifacts[0]
    ref = artifact_ref(spec)
    base = (ref[0] if ref else spec).rstrip("/").rsplit("/", 1)[-1]
    if pep740.parse_dist_name(base) is None:
        raise UsageError(f"--artifact {spec}: {base!r} is not a wheel or sdist file name, "
                         "and a PEP 740 attestation names its distribution's file",
                         hint="keep the file's name as PyPI has it")
    return base


def _verify_pep740(form: PypiAttestation | PypiProvenance, doc: Any, where: str,
                   trust: Trust, demands: Demands, reqs: tuple[Requirement, ...]) -> Report:
    """A PEP 740 attestation object, or the integrity API's provenance object (every
    attestation in it must pass, and its certificate agree with the publisher PyPI
    states for it)."""
    from attester.verify import document, pep740

    dist = _dist_name(demands, where)
    if trust.identity is None:
        raise UsageError(f"{where} is a PyPI attestation: name who may publish",
                         hint="pass --publisher github:OWNER/REPO[@WORKFLOW] (or gitlab:, "
                         "google:), or --certificate-identity and --certificate-oidc-issuer")
    demands = attrs.evolve(demands, also_known=pep740.PYPI_TYPES)
    if isinstance(form, document.PypiAttestation):
        bundle, _ = pep740.attestation_bundle(doc, where=f"attestation {where}")
        return _pep740_one(bundle, where, trust, demands, dist, reqs)
    published = pep740.provenance_bundles(doc, where=f"provenance {where}")
    total = sum(len(p.bundles) for p in published)
    if total == 0:
        return Report(attestation=where, checks=(Check(
            "attestation", False, "the provenance object holds no attestation"),))
    reports: list[Report] = []
    for p in published:
        for bundle, cert in p.bundles:
            name = where if total == 1 else f"{where} (attestation {len(reports) + 1} of {total})"
            report = _pep740_one(bundle, name, trust, demands, dist, reqs)
            if report.ok:
                report = attrs.evolve(report, checks=(
                    *report.checks, pep740.publisher_check(p, cert)))
            reports.append(report)
    if total == 1:
        return reports[0]
    checks = tuple(c.numbered(i)
                   for i, r in enumerate(reports, 1) for c in r.checks)
    return Report(attestation=where, checks=checks, statement=reports[0].statement)


def _pep740_one(bundle: bytes, where: str, trust: Trust, demands: Demands,
                dist: str, reqs: tuple[Requirement, ...]) -> Report:
    from attester.verify import document, pep740

    report = _verify_bundle(bundle, document.bundle_in(bundle), where, trust, demands, None,
                            reqs)
    if report.statement is None:
        return report
    return attrs.evolve(report, checks=(*report.checks,
                                        pep740.dist_check(report.statement, dist)))


def _verify_by_rekor(data: bytes, env: Any, where: str, trust: Trust,
                     demands: Demands) -> Report:
    """A bare envelope's keyless signature, proven by its entry in ``trust.rekor_url``."""
    from attester.verify.checks.certificate import certificate_source
    from attester.verify.sigstore import rekor_lookup
    from attester.verify.sigstore.trustroot import load_trusted_root

    root = load_trusted_root(trust.trusted_root_path, offline=trust.offline,
                             staging=trust.staging)
    checks, cert = rekor_lookup.verify_envelope(data, env, rekor_url=str(trust.rekor_url),
                                                trusted_root=root, identity=trust.identity,
                                                where=where)
    if not all(c.ok for c in checks):
        return Report(attestation=where, checks=tuple(checks))
    # As for bundles: the source flags are also checked against the certificate's CI
    # extensions when it has them (2022's certificates carry only the legacy ones).
    repo, ref = certificate_source(cert)
    if demands.policy.about_source() and (repo or ref):
        checks += source_checks(repo, ref, demands.policy, prefix="certificate ",
                                what="certificate source")
    from attester.verify.checks.signer import from_certificate

    who = from_certificate(cert)
    rest, stmt = check_payload(env.payload_type, env.payload, demands, who)
    return Report(attestation=where, checks=(*checks, *rest), statement=stmt, signer=who)


def _verify_bundle(data: bytes, form: SigstoreBundle, where: str, trust: Trust,
                   demands: Demands, blob: str | Artifact | None,
                   reqs: tuple[Requirement, ...]) -> Report:
    """A Sigstore bundle (TSA-only, intoto 0.0.2 and managed-key ones too): a DSSE bundle,
    or one that signs a file; ``reqs`` are gated against that form once it is loaded
    (``verify/sigstore/load.py`` reads its evidence), then it is authenticated
    (``verify/sigstore/authenticate.py``) and its statement checked."""
    from attester.verify.checks.certificate import certificate_source
    from attester.verify.sigstore import load
    from attester.verify.sigstore.authenticate import verify_bundle, verify_keyed
    from attester.verify.sigstore.hashedrekord import signed_algorithm
    from attester.verify.sigstore.trustroot import load_trusted_root

    keyed = form.keyed
    if trust.identity is None and not keyed:
        raise UsageError(f"{where} is a Sigstore bundle: name its signer",
                         hint="pass --certificate-identity and --certificate-oidc-issuer")
    root = load_trusted_root(trust.trusted_root_path, offline=trust.offline,
                             staging=trust.staging)
    try:
        bundle = load.load_bundle(data, where=f"bundle {where}")
        is_dsse = load.is_dsse(bundle)
        answers = {(False, True): requirements.KEYLESS_BUNDLE,
                   (False, False): requirements.FILE_BUNDLE,
                   (True, True): requirements.KEYED_BUNDLE,
                   (True, False): requirements.KEYED_FILE_BUNDLE}[(keyed, is_dsse)]
        requirements.refuse_unanswerable(reqs, answers, where)
        digest = None
        if not is_dsse:
            if blob is None or demands.stores:
                raise UsageError(f"{where} signs one file: pass exactly one --artifact FILE")
            digest = _blob_digest(blob, signed_algorithm(bundle))
        if keyed:
            if trust.threshold > 1:  # one signature can never be N distinct keys
                raise VerificationError(f"{where}: a Sigstore bundle carries one signature; "
                                        f"--threshold {trust.threshold} cannot be met")
            sig_checks, payload = verify_keyed(bundle, root, trust.keys,
                                               artifact_digest=digest, where=where)
        else:
            sig_checks, payload = verify_bundle(bundle, root, trust.identity,
                                                artifact_digest=digest, where=where)
    except VerificationError as e:
        return Report(attestation=where, checks=(Check("signature", False, e.message),))
    # The source flags are also checked against the certificate's CI extensions, as
    # `gh attestation verify` does; a signed file has nothing else to answer them.
    cert = bundle.signing_certificate
    repo, ref = certificate_source(cert) if cert is not None else ("", "")
    cert_checks: list[Check] = []
    if demands.policy.about_source():
        if repo or ref:
            cert_checks = source_checks(repo, ref, demands.policy, prefix="certificate ",
                                        what="certificate source")
        elif payload is None:
            cert_checks = [Check("certificate source", False, "the policy names a source, "
                                 "but this signed file's certificate carries no Source "
                                 "Repository extensions")]
    if payload is None:
        # what needs a statement was refused above (requirements.FILE_BUNDLE answers none)
        shown = blob.name if isinstance(blob, Artifact) else str(blob).removeprefix("@")
        art = Check(f"artifact {shown}", True, "is the file the bundle signs")
        return Report(attestation=where, checks=(*sig_checks, art, *cert_checks))
    if not all(c.ok for c in sig_checks):
        return Report(attestation=where, checks=tuple(sig_checks))
    if (repo or ref) and _records_no_source(payload[1]):
        # PyPI's publish statement records only the file: the certificate's CI extensions
        # (checked above) are the only evidence of the source, so they alone answer it.
        from attester.verify.checks.policy import CERTIFICATE_ANSWERS, SOURCE_FLAGS

        cleared: dict[str, Any] = dict.fromkeys((*SOURCE_FLAGS, *CERTIFICATE_ANSWERS))
        demands = attrs.evolve(demands, policy=attrs.evolve(demands.policy, **cleared))
    from attester.verify.checks.signer import from_certificate

    who = from_certificate(bundle.signing_certificate)
    rest, stmt = check_payload(payload[0], payload[1], demands, who)
    return Report(attestation=where, checks=(*sig_checks, *cert_checks, *rest), statement=stmt,
                  signer=who)


def _records_no_source(payload: bytes) -> bool:
    """The statement's predicate type is one whose predicate says nothing about the build
    (PyPI's publish attestation: its predicate is null)."""
    from attester.jsonio import parse_json
    from attester.verify.pep740 import PUBLISH_V1

    try:
        doc = parse_json(payload, where="payload")
    except InputError:
        return False  # check_payload says what is wrong with it
    return isinstance(doc, dict) and doc.get("predicateType") == PUBLISH_V1


def verify_blob_pair(signature: str, certificate: str, artifact: str, identity: Any) -> Report:
    """A cosign/krel ``FILE.sig`` + ``FILE.cert`` pair: signature and identity are checked,
    but with no log entry nothing proves the certificate was valid when it signed."""
    import base64
    import binascii

    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    from attester.jsonio import read_bytes

    if not identity.given():
        raise UsageError("a keyless signature needs --certificate-identity (or -regexp) and "
                         "--certificate-oidc-issuer")
    reqs = requirements.merged(requirements.of_signer(identity), (requirements.ARTIFACT,))
    requirements.refuse_unanswerable(reqs, requirements.SIGNATURE_PAIR, signature)
    raw_cert = read_bytes(certificate, what="certificate").strip()
    if not raw_cert.startswith(b"-----BEGIN"):
        try:
            raw_cert = base64.b64decode(raw_cert, validate=True)  # cosign writes base64(PEM)
        except binascii.Error:
            raise InputError(f"certificate {certificate}: not PEM or base64 PEM") from None
    try:
        cert = x509.load_pem_x509_certificate(raw_cert)
    except ValueError:
        raise InputError(f"certificate {certificate}: not a PEM certificate") from None
    try:
        sig = base64.b64decode(read_bytes(signature, what="signature").strip(), validate=True)
    except binascii.Error:
        raise InputError(f"signature {signature}: not base64") from None
    pub = cert.public_key()
    if not isinstance(pub, ec.EllipticCurvePublicKey):
        raise InputError(f"certificate {certificate}: not an ECDSA key, as Fulcio issues")
    # Hash the file once, streaming, and verify the prehashed digest: release files are large.
    alg = "sha384" if isinstance(pub.curve, ec.SECP384R1) else "sha256"
    digest = digest_of(artifact, alg)
    chosen = hashes.SHA384() if alg == "sha384" else hashes.SHA256()
    try:
        pub.verify(sig, digest, ec.ECDSA(utils.Prehashed(chosen)))
        ok = True
    except (InvalidSignature, ValueError):
        ok = False
    checks = [Check("signature", ok, "signature over the artifact valid for the certificate's "
                    "key" if ok else "signature does not match the artifact and certificate")]
    if ok:
        checks.append(Check(f"artifact {artifact}", True, "is the file the pair signs"))
        checks.extend(identity.check(cert))
        checks.append(Check("transparency-log", False, "no transparency-log entry or signed "
                            "timestamp accompanies a bare .sig/.cert pair, so nothing proves "
                            "the short-lived certificate was valid when it signed; verify the "
                            "Sigstore bundle instead (cosign sign-blob --bundle)"))
    report = Report(attestation=signature, checks=tuple(checks))
    if report.ok:  # never today: no log entry (above); kept for the day one is verified
        requirements.check_answered(reqs, report.checks, signature)
    return report
