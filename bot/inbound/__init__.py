"""The exactly-once inbound pipeline: a signed WeChat callback becomes one stored reply.

Webhook, signature check, safe parsing, deduplication, group commit, spool and buyer upsert.
It does not decide what to say: the dialog (``bot/dialog/``) and the handlers do.
"""
