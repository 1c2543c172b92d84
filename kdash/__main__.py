"""`python -m kdash`: the command line (kdash/cli/, data-contract §2)."""

from __future__ import annotations

import sys

from kdash.cli import COMMANDS, ROUTES, UsageError, main, parser  # noqa: F401 - tests and tools reach the CLI here

if __name__ == "__main__":
    sys.exit(main())
