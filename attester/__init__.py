"""attester: produce, sign and verify SLSA provenance for software releases."""

__version__ = "0.1.0"
