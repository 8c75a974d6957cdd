"""Check: what an authenticated statement and its signer must satisfy.

The last stage of verification (read -> authenticate -> check), and the lowest layer of
``verify/``: these modules import nothing from the pipeline or from ``verify/sigstore/``.

- ``statement``: everything after the signature, in order (:func:`check_payload`), and
  what a verifier demands (:class:`Demands`).
- ``report``: :class:`Report`, a document's verdict, what every verify path returns.
- ``check``: :class:`Check`, one named outcome; every verifier returns them.
- ``policy``: what a verifier demands of a statement (:class:`Policy`), the pure checks.
- ``requirements``: each requirement as data, and which evidence can answer it.
- ``certificate``: what a Fulcio certificate says (extensions, SANs).
- ``identity``: who must have signed (identity, issuer, GitHub's extensions).
- ``certpolicy``: GitHub's identity policy (``--owner``, ``--repo``, workflow pins).
- ``publisher``: PyPI's trusted publishers as a signer policy.
- ``crosscheck``: certificate <-> provenance agreement.
- ``signer``: the verified signer's summary (Rego's ``input.signer``, JSON output).
- ``rego``: Rego policies over a verified statement.
- ``vsapolicy``: what a Verification Summary must say.
"""
