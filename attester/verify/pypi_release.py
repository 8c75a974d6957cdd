"""``attest verify pypi://PROJECT/VERSION[/FILE]``: a release's files against PyPI's provenance.

Each file's provenance object (the integrity API) is read as a document
(:mod:`attester.verify.document`, a ``PypiProvenance``) and verified through the pipeline
(:func:`attester.verify.checker.verify_read`) against the file's sha256 from PyPI's JSON API.
"""

from __future__ import annotations

from typing import Any

import attrs

from attester.errors import InputError
from attester.verify.checker import Trust, verify_read
from attester.verify.checks.policy import Check
from attester.verify.checks.report import Report
from attester.verify.checks.statement import Demands


def verify_pypi(uri: str, trust: Trust, demands: Demands, *, index: str | None = None,
                client: Any = None) -> tuple[Report, list[Report]]:
    """``attest verify pypi://PROJECT/VERSION[/FILE]``: each file of the release (or the one
    named), its sha256 from PyPI's JSON API, verified against its provenance from the
    integrity API. Every file must pass; a file without provenance fails. Returns the
    overall report and each file's."""
    from attester.clients.pypi import PyPI, Target
    from attester.jsonio import parse_json
    from attester.verify import document

    target = Target.parse(uri)
    pypi = client if client is not None else PyPI(index)
    files = pypi.release_files(target)
    if target.filename is not None:
        listed = files
        files = [f for f in files if f.filename == target.filename]
        if not files:
            raise InputError(f"{uri}: the release has no file {target.filename} (it has "
                             f"{', '.join(f.filename for f in listed[:5]) or 'none'}"
                             f"{', ...' if len(listed) > 5 else ''})")
    if not files:
        return Report(attestation=uri, checks=(Check(
            "release", False, f"PyPI lists no files for {target.project} {target.version}"),
        )), []
    reports: list[Report] = []
    for f in files:
        data = pypi.provenance(target, f.filename)
        if data is None:
            reports.append(Report(attestation=f.filename, checks=(Check(
                "provenance", False, "PyPI has no provenance for it (the integrity API "
                "answered 404): nothing attests who published it"),)))
            continue
        where = f"provenance of {f.filename} from {pypi.host}"
        read = document.of_json(data, parse_json(data, where=where))
        if not isinstance(read.form, document.PypiProvenance):
            raise InputError(f"{where}: not a PyPI provenance object (no attestation_bundles)")
        one = attrs.evolve(demands, artifacts=[f"{f.filename}@sha256:{f.sha256}"])
        reports.append(verify_read(read, f.filename, trust, one))
    checks = tuple(attrs.evolve(c, name=f"{r.attestation}: {c.name}")
                   for r in reports for c in r.checks)
    return Report(attestation=uri, checks=checks), reports
