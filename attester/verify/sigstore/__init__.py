"""Authenticate: a Sigstore bundle's signature, certificate, log entry and time.

The middle stage of verification (read -> authenticate -> check). One module per kind of
evidence, each saying why it is ours where ``sigstore`` (4.5.1) has no answer:

- ``load``: a bundle's JSON read and routed by its evidence; ``sigstore`` imported here.
- ``trustroot``: trusted roots read (once per file) and fetched (``attest trusted-root``).
- ``authenticate``: the entry point, one bundle sent to the module for its evidence.
- ``hashedrekord``: signed files, ``hashedrekord`` 0.0.1 and 0.0.2 entries, every digest.
- ``rekor_v2_dsse``: Rekor v2 ``dsse`` 0.0.2 entries.
- ``intoto_entry``: ``intoto`` 0.0.2 entries (npm, slsa-github-generator).
- ``tsa_bundle``: bundles with no log entry, whose only time is a timestamp (GitHub's).
- ``integrated_time``: a Rekor v1 entry's signed entry timestamp (SET), one time source.
- ``timestamps``: RFC 3161 timestamps, the other time source.
- ``checkpoint``: a log entry's checkpoint signed by its log.
- ``keyed_bundle``: bundles signed by a managed key (``--key``).
- ``fulcio``: a Fulcio certificate checked at a proven time; the bundle media types.
- ``sigalg``: signature algorithms and digests of message signatures.
- ``rekor_lookup``: a bare DSSE envelope's log entry, found online.

Nothing here imports the pipeline (``verify/checker.py``) or the form readers; the
checks they return are :class:`~attester.verify.checks.check.Check` from ``verify/checks/``.
Nothing here imports ``sigstore`` at module level: the batch path's start-up stays light.
"""
