"""`python -m bot run`, except that the handler stops dead on a chosen message (for the SIGKILL test).

It blocks after the core has applied the message's effects, inside their still-open transaction: the
worst moment to be killed. The file named by AITO_TEST_BLOCKED_FILE says when it got there.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from bot.core import engine

MARK = os.environ["AITO_TEST_BLOCK_ON"]
BLOCKED = Path(os.environ["AITO_TEST_BLOCKED_FILE"])
_dispatch = engine.Conversation._dispatch


def _blocking_dispatch(self: engine.Conversation, ctx: Any, understanding: Any) -> None:
    _dispatch(self, ctx, understanding)
    if MARK == (ctx.incoming.payload or ctx.incoming.text):
        ctx.session.flush()  # the effects are written, not committed
        BLOCKED.write_text("blocked")
        time.sleep(3600)


engine.Conversation._dispatch = _blocking_dispatch  # type: ignore[method-assign]

if __name__ == "__main__":
    from bot.cli import main

    sys.exit(main(["run"]))
