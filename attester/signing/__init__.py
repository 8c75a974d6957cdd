"""DSSE envelopes and the signers that make them (keys, KMS, keyless)."""
