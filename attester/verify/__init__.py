"""Checking signed documents: envelopes, Sigstore bundles, policy."""
