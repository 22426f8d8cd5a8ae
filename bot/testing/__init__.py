"""Test tools that ship with the bot: a local Bot API server, used by the tests and the benchmarks."""
