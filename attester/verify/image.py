"""``attest verify oci://REF``: an image's attached attestations, each a document.

An image's OCI 1.1 referrers are read as documents (:mod:`attester.verify.document`) and
verified through the pipeline (:func:`attester.verify.checker.verify_read`); its cosign
``.sig``/``.att`` tag layers are read by :func:`~attester.verify.document.read_layer` and
verified here (keyed ``.att`` envelopes through the pipeline too). One must pass and name
the image's digest; one malformed or foreign attachment never hides a good one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from attester.errors import InputError, UsageError, VerificationError
from attester.verify.checker import Trust, asked, verify_read
from attester.verify.checks import requirements
from attester.verify.checks.policy import Check
from attester.verify.checks.report import Report
from attester.verify.checks.statement import Demands, check_payload

if TYPE_CHECKING:
    from attester.verify.document import CosignLayer, Document


def verify_image(uri: str, trust: Trust, demands: Demands, *, insecure: bool,
                 clients: Any = None, limit: int | None = None) -> Report:
    """``attest verify oci://REF``: the image's attached attestations; one must pass and
    name the image's digest as a subject. ``clients`` (a :class:`~attester.stores.oci.Clients`)
    shares connections when many images are verified at once."""
    from attester.stores import cosign_tags
    from attester.stores.oci import Reference
    from attester.stores.oci_referrers import Target, fetch_attestations
    from attester.verify import document
    from attester.verify.checks.policy import Artifact

    target = Target.resolve(uri, insecure=insecure, clients=clients)
    bound = {"limit": limit} if limit is not None else {}
    docs = fetch_attestations(target, predicate_type=demands.policy.predicate_type, **bound)
    # cosign's tag-based signatures and attestations, as kpromo and slsa-verifier read them
    layers = [*cosign_tags.fetch(target, "att", **bound), *cosign_tags.fetch(target, "sig",
                                                                             **bound)]
    if not docs and not layers:
        return Report(attestation=uri, checks=(Check(
            "attestation", False, f"no attestation is attached to {target.name} (no OCI "
            "referrer, no cosign .sig or .att tag)"),))
    image = Artifact(name=f"{Reference.parse(uri).registry}/{target.ref.repository}",
                     digest={"sha256": target.digest.removeprefix("sha256:")})

    def hash_image(_: Sequence[str], __: tuple[str, ...]) -> list[Artifact]:
        return [image]

    image_demands = attrs.evolve(demands, artifacts=[image.name], hash_artifacts=hash_image)
    from attester.jsonio import parse_json

    def referrer(i: int, data: bytes) -> tuple[str, Callable[[], Report]]:
        where = f"{uri} (attestation {i + 1} of {len(docs)})"

        def check() -> Report:
            read = document.of_json(data, parse_json(data, where=f"{uri} attestation {i + 1}"))
            _refuse_foreign_form(read, where)
            return verify_read(read, where, trust, image_demands)

        return where, check

    def cosign_layer(layer: Any) -> tuple[str, Callable[[], Report]]:
        where = f"{uri} ({layer.where})"
        return where, lambda: _verify_cosign_layer(layer, target.digest, where, trust,
                                                   image_demands)

    reports = []
    refused: list[UsageError] = []
    broken = 0
    # One malformed or foreign attachment (anyone may push one) must not hide a good one.
    for where, check in [*(referrer(i, d) for i, d in enumerate(docs)),
                         *(cosign_layer(layer) for layer in layers)]:
        try:
            reports.append(check())
        except UsageError as e:  # another attachment may answer it (see _refused)
            refused.append(e)
            reports.append(_refused(where, e))
        except InputError as e:
            broken += 1
            reports.append(Report(attestation=where, checks=(Check("attestation", False,
                                                                   e.message),)))
    for r in reports:
        if r.ok:
            return r
    if refused and len(refused) + broken == len(reports):  # none could answer it: exit 2
        raise refused[0]
    return reports[0]


def _refused(where: str, e: UsageError) -> Report:
    """One attached document that this command cannot use as asked (see
    requirements.refused_check)."""
    return Report(attestation=where, checks=(requirements.refused_check(e),))


def _refuse_foreign_form(read: Document, where: str) -> None:
    """A document attached to an image (referrer or cosign layer) in a form that describes
    no image attachment is that document's input error (the caller counts it broken and
    looks at the others), never a usage error of the whole command (redteam: Cloud Build's
    reader refuses trust flags, PEP 740's wants one distribution file, and so a planted
    layer or referrer made the image's good attestation unread, exit 2)."""
    from attester.verify import document

    if isinstance(read.form, document.CloudBuildProvenance):
        raise InputError(f"{where}: Cloud Build's provenance (as gcloud prints it) is not an "
                         "attestation attached to an image; verify it as a file, naming the "
                         "image by digest")
    if isinstance(read.form, document.PypiAttestation | document.PypiProvenance):
        raise InputError(f"{where}: a PyPI attestation describes a distribution file, not "
                         "an image")


def _verify_cosign_layer(layer: Any, image_digest: str, where: str, trust: Trust,
                         demands: Demands) -> Report:
    """One layer of a cosign ``.sig`` or ``.att`` tag: its signature (keyless or keyed),
    then, for an attestation, every check a statement gets; a signature's payload must
    name this image. Requirements are gated as for any document (a keyed DSSE ``.att``
    is one, and goes through :func:`verify_read`)."""
    from attester.verify import document

    read = document.read_layer(layer)
    if not read.keyless and read.attestation:
        return _cosign_layer(layer, read, image_digest, where, trust, demands)
    reqs = asked(trust, demands)
    form = (requirements.COSIGN_KEYLESS_ATTESTATION if read.attestation else
            requirements.COSIGN_KEYLESS_SIGNATURE) if read.keyless else \
        requirements.COSIGN_KEYED_SIGNATURE
    requirements.refuse_unanswerable(reqs, form, where)
    report = _cosign_layer(layer, read, image_digest, where, trust, demands)
    if report.ok:
        requirements.check_answered(reqs, report.checks, where)
    return report


def _cosign_layer(layer: Any, form: CosignLayer, image_digest: str, where: str,
                  trust: Trust, demands: Demands) -> Report:
    from attester.jsonio import parse_json
    from attester.verify import cosign_signatures as cosign
    from attester.verify import document
    from attester.verify.sigstore.trustroot import load_trusted_root

    if not form.keyless:
        if form.attestation:  # a keyed DSSE envelope, as any other
            read = document.of_json(layer.payload, parse_json(layer.payload, where=where))
            _refuse_foreign_form(read, where)
            return verify_read(read, where, trust, demands)
        if not trust.keys:
            return Report(attestation=where, checks=(Check(
                "signature", False, "signed by a key (cosign sign --key): pass --key"),))
        checks = [cosign.check_keyed(layer, trust.keys, trust.threshold)]
    elif trust.identity is None:
        return Report(attestation=where, checks=(Check(
            "signature", False, "signed keyless: name its signer with --certificate-identity "
            "and --certificate-oidc-issuer"),))
    else:
        root = load_trusted_root(trust.trusted_root_path, offline=trust.offline,
                                 staging=trust.staging)
        try:
            checks, payload = cosign.verify_keyless(layer, root, trust.identity, where=where)
        except VerificationError as e:
            return Report(attestation=where, checks=(Check("signature", False, e.message),))
        if payload is not None:
            if not all(c.ok for c in checks):
                return Report(attestation=where, checks=tuple(checks))
            from attester.verify.checks.signer import from_certificate

            # the certificate verify_keyless checked (chain, SCT, logged entry)
            who = from_certificate(cosign._certificate(layer))
            rest, stmt = check_payload(payload[0], payload[1], demands, who)
            return Report(attestation=where, checks=(*checks, *rest), statement=stmt,
                          signer=who)
    # what needs a statement was refused above (a cosign signature signs only the image)
    return Report(attestation=where, checks=(*checks, cosign.check_payload(layer, image_digest)))
