"""Entry points: `python -m bot chat | run | parse | admin … | content check`."""

from __future__ import annotations

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
