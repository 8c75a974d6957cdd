"""JSON Lines attestation files: several attestations, one per line.

``gh attestation download`` writes every bundle found for a digest into one ``.jsonl``
file, and slsa-github-generator's ``.intoto.jsonl`` may hold several envelopes. Every line
is verified on its own; the file passes when one line verifies and meets the policy (as
``gh attestation verify`` does). Each line's outcome is kept for ``--format json``; a line
that does not parse is reported as that line's failure, never fatal to the others.
Which files are JSON Lines is the reader's to say (``document.split_lines``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from attester.errors import InputError, UsageError, VerificationError
from attester.verify.checks.policy import Check
from attester.verify.checks.report import Report
from attester.verify.checks.requirements import refused_check, was_refused


def verify_lines(where: str, lines: Sequence[bytes],
                 verify_one: Callable[[bytes, Any, str], Report]) -> Report:
    """The first passing line's report (or the first line's, when none passes), with every
    line's report attached. Raises the first line's input error only when no line parsed."""
    from attester.jsonio import parse_json

    reports: list[Report] = []
    broken: dict[int, InputError] = {}
    refused: list[UsageError] = []
    for n, line in enumerate(lines, 1):
        name = f"{where} line {n}"
        try:
            report = verify_one(line, parse_json(line, where=f"attestation {name}"), name)
        except UsageError as e:  # another line may answer it (requirements.refused_check)
            refused.append(e)
            report = Report(attestation=name, checks=(refused_check(e),))
        except InputError as e:
            broken[n - 1] = e
            report = Report(attestation=name, checks=(Check("attestation", False, e.message),))
        except VerificationError as e:
            report = Report(attestation=name, checks=(Check("signature", False, e.message),))
        reports.append(report)
    if refused and len(refused) + len(broken) == len(reports):  # no line could answer: exit 2
        raise refused[0]
    if len(broken) == len(reports):
        raise broken[0]
    # the lines whose evidence answered what was asked, before those refused
    answered = [r for i, r in enumerate(reports) if i not in broken and not was_refused(r.checks)]
    chosen = next((r for r in reports if r.ok), None) or \
        next(iter(answered), None) or next(r for i, r in enumerate(reports) if i not in broken)
    return attrs.evolve(chosen, lines=tuple(reports))
