"""Features: each module registers its actions, commands, intents and media handlers on the registry.

`bot.app` lists them; a module's `register(registry, services)` is its only entry point.
"""
