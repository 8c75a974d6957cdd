"""SLSA Verification Summary Attestations (https://slsa.dev/spec/v1.0/verification_summary).

After ``attest verify`` passes, ``--vsa-out`` writes a signed VSA so a consumer can
check one small document per digest instead of the whole chain. ``verifiedLevels`` is
deliberately modest: attester checks that signed provenance from the expected builder
and source exists (SLSA Build L1 evidence); it does not audit the build platform.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from attester import __version__
from attester.model.models import ResourceDescriptor, Statement, rfc3339
from attester.model.statement import VSA_PREDICATE

__all__ = ["VERIFIER_ID", "VSA_PREDICATE", "build_vsa", "policy_digest"]
VERIFIER_ID = "https://attester.dev/verifier/v1"


def build_vsa(*, subjects: Sequence[tuple[str, str]], resource_uri: str,
              policy_uri: str, policy_digest: str,
              inputs: Sequence[tuple[str, str]], now: dt.datetime,
              levels: Sequence[str] = ("SLSA_BUILD_LEVEL_1",)) -> Statement:
    """A PASSED summary for ``subjects`` ((name, sha256) pairs) of the attestations
    ``inputs`` ((uri, sha256 of the bytes verified) pairs), stating ``levels``."""
    return Statement(
        subjects=tuple(ResourceDescriptor(name=n, digest={"sha256": d}) for n, d in subjects),
        predicate_type=VSA_PREDICATE,
        predicate={
            "verifier": {"id": VERIFIER_ID, "version": {"attester": __version__}},
            "timeVerified": rfc3339(now),
            "resourceUri": resource_uri,
            "policy": {"uri": policy_uri, "digest": {"sha256": policy_digest}},
            "inputAttestations": [{"uri": uri, "digest": {"sha256": digest}}
                                  for uri, digest in inputs],
            "verificationResult": "PASSED",
            "verifiedLevels": list(levels),
            "slsaVersion": "1.0",
        })


def policy_digest(flags: Mapping[str, Any]) -> str:
    """A stable digest of the command-line policy, when no policy file was used."""
    import json

    return hashlib.sha256(json.dumps(flags, sort_keys=True).encode()).hexdigest()
