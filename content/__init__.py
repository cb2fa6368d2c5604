"""Editable content: what admins change in the console about what the bot says (auto-reply
rules, the custom menu). Each feature keeps its versions in the database; the bot reads the
published one through a per-process cache."""
