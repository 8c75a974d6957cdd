"""Allow ``python -m attester``."""

from attester.cli import entry

entry()
