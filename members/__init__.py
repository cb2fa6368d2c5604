"""Who each buyer is and what they bought: card fields and parsers, orders, CSV import, tiers,
tier notices and recompute, with their API routes and CLI commands.

Builds on ``bot`` (the framework and the platform); never imports ``scheduler``, ``handlers``
or ``laoke``.
"""
