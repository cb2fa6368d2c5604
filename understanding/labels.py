"""The labels of the corpus and what kind of answer each one calls for.

Three kinds: a **command** the bot carries out itself (the card and its view/edit/delete,
opt-out and opt-in, tier, livestream and RSVP, help, a request for a person), **courtesy**
it answers like a person (greeting, thanks, toil, bye, ack, festive), and what **needs a
person**: orders, shipping, prices, MOQ, invoices, returns, samples, stock, complaints,
statements, rebates and anything else (``other``). The corpus files are named after these
labels (``understanding/corpus/<label>.txt``). What a handler does with a label is the
handlers' business (``handlers/intents.py``).
"""

from __future__ import annotations

COMMANDS = ("card", "show_card", "edit_card", "delete_card", "opt_out", "opt_in", "tier",
            "live", "rsvp", "person", "help")  # fmt: skip
COURTESY = ("greeting", "thanks", "toil", "bye", "ack", "festive")
NEEDS_PERSON = ("order", "shipping", "price", "moq", "invoice", "returns", "sample", "stock",
                "complaint", "statement", "rebate", "other")  # fmt: skip
LABELS = COMMANDS + COURTESY + NEEDS_PERSON
# Acting on these on a guess would hurt: they need more confidence than the rest.
DESTRUCTIVE = ("opt_out", "delete_card")
# The feature requests the issue counts ("the bot reaches the feature asked for").
FEATURES = ("card", "show_card", "edit_card", "delete_card", "opt_out", "opt_in", "tier", "live",
            "rsvp")  # fmt: skip
STAFF = "staff"  # the outcome of every needs-a-person label: handed to staff


def outcome(label: str) -> str:
    """What the bot should do with a message of `label`: the label itself, or staff."""
    return label if label in COMMANDS or label in COURTESY else STAFF
