"""The scheduler's errors an operator can cause, in a module of their own.

``scheduler/campaigns.py`` raises ``CampaignError`` and so does ``scheduler/messages.py``
(a template that does not compile); keeping the class here lets both raise it without
importing each other. The API and the CLI turn it into a 400 / ``laoke: <message>``.
"""


class CampaignError(ValueError):
    """A campaign request that cannot be honoured; the message says why."""
