"""`python -m bot parse`: NLU on lines of text, one JSON object per line (contract in SPEC.md).

Standard output carries the JSON lines and nothing else: logging goes to standard error, and
`sys.stdout` itself points at standard error while the NLU runs, so a stray print anywhere in the
NLU cannot corrupt the stream that scripts and checks read.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from bot.nlu.pipeline import NLU

MESSAGE_FIELDS = ("text", "language", "language_confidence", "intent", "intent_confidence", "crisis")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot parse",
        description="Read UTF-8 messages from stdin, one per line; write one JSON object per line.",
    )
    parser.add_argument(
        "--nlu",
        choices=("embedded", "rasa"),
        default=None,
        help="NLU backend (default: NLU_BACKEND, else embedded)",
    )
    parser.add_argument(
        "--user-language",
        metavar="CODE",
        default=None,
        help="the user's stored language (ISO 639-1), used as context for detection",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the parse command; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["parse"]:  # tolerate being handed the sub-command name too
        args = args[1:]
    options = _parser().parse_args(args)
    user_language = (options.user_language or "").strip().lower() or None

    level = os.environ.get("LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(
        stream=sys.stderr,
        level=level if level in logging.getLevelNamesMapping() else "WARNING",
        format="%(levelname)s %(name)s: %(message)s",
    )
    original_stdout = sys.stdout
    out = original_stdout.buffer
    sys.stdout = sys.stderr
    try:
        try:
            nlu = _build(options.nlu)
        except Exception as exc:
            logging.getLogger("bot.nlu.parse").error("cannot start the NLU: %s", exc, exc_info=True)
            return 2
        _run(nlu, sys.stdin.buffer, out, user_language)
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours. Point fd 1 at /dev/null so the
        # interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        return 1
    finally:
        sys.stdout = original_stdout
    return 0


def _build(backend: str | None) -> NLU:
    from bot.nlu.pipeline import build_nlu
    from bot.settings import Settings

    settings = Settings.from_env(nlu_backend=backend) if backend else Settings.from_env()
    return build_nlu(settings)


def _run(nlu: NLU, source: IO[bytes], out: IO[bytes], user_language: str | None) -> None:
    first = True
    for raw in source:
        # Undecodable bytes must not cost the caller a line: every input line gets its output line.
        text = raw.decode("utf-8", errors="replace")
        if text.endswith("\n"):
            text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
        if first:
            text = text.removeprefix("\ufeff")  # a byte-order mark from a Windows editor is not text
            first = False
        result = nlu.understand(text, user_language=user_language)
        record = {
            "text": result.text,
            "language": result.language,
            "language_confidence": round(result.language_confidence, 4),
            "intent": result.intent,
            "intent_confidence": round(result.intent_confidence, 4),
            "crisis": result.crisis,
        }
        out.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        # One flush per line lets another program use this as a co-process (write a line, read the
        # answer); it costs a few milliseconds per thousand lines.
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
