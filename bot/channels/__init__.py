"""Channels: thin adapters that turn a platform's events into `Incoming` and send the core's replies."""
