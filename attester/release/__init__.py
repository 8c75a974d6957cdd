"""The release steps (stage, release, promotion), the chain and the audit."""
