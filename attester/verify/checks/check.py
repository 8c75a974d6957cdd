"""One named check and its outcome: what every verifier returns and every report lists.

Its own module, below everything else in ``verify/``, so that the requirement checks
(policy, certificate, VSA, Rego, publisher) and the bundle readers can all return it
without importing one another.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Check:
    """One named check and its outcome; a report is a list of these."""

    name: str
    ok: bool
    detail: str
    #: facts this check could not compare, and why (the certificate <-> provenance check)
    not_compared: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"check": self.name, "ok": self.ok, "detail": self.detail}
        if self.not_compared:
            out["notCompared"] = list(self.not_compared)
        return out

    def numbered(self, n: int) -> Check:
        """This check as the ``n``-th attestation's of a document holding several (a PyPI
        provenance object): ``#N NAME``, read back by :meth:`unnumbered`."""
        return attrs.evolve(self, name=f"#{n} {self.name}")

    @property
    def unnumbered(self) -> str:
        """The name without the ``#N `` that :meth:`numbered` put before it."""
        head, sep, rest = self.name.partition(" ")
        return rest if sep and head[:1] == "#" and head[1:].isdigit() else self.name
