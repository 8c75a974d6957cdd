"""Allow ``python -m attester``."""

import sys

from attester.cli import main

sys.exit(main())
