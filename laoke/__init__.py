"""The composition root: the only package that wires bot, members, scheduler, handlers and demo
together (the app factory, the CLI entry point, the services factory, the schema).

Nothing imports ``laoke``; it holds no product logic of its own.
"""
