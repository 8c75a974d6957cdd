"""Verification, as one pipeline: read -> authenticate -> check.

- Read: ``document.py`` says once what a document is (its form); ``checker.py`` is the
  pipeline that dispatches each form.
- Authenticate: ``sigstore/`` (Sigstore bundles: signature, certificate, log entry,
  time), ``envelope.py`` (keyed DSSE envelopes) and the form modules beside it
  (``npm_attestations``, ``pep740``, ``gcb_provenance``, ``cosign_signatures``, ``jsonl``).
- Check: ``checks/``, what the statement and its signer must satisfy.

Sources of many documents call the pipeline: ``batch.py`` (``--attestations``),
``image.py`` (``oci://``), ``github_attestations.py`` (GitHub's API) and
``pypi_release.py`` (``pypi://``). ``tests/test_layout.py`` keeps the imports
pointing down (``VERIFY_LAYERS``).
"""
