"""``python -m migration PATH...``: see ``migration._cli``."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m migration`` and the ``variables-migrate`` script."""
    from migration._cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
