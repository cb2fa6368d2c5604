"""Followers the account already has: importing WeChat's follower list into the buyer book.

An Official Account that installs Laoke already has followers, most of whom never wrote to
it; the webhook alone would never know them. The follower sync lists every follower
(``user/get``), details them (``user/info/batchget``), creates buyers for the unknown ones,
fills in what the platform knows of the known ones and marks those who left. It runs as a
resumable job (``jobs``, ``sync``) started from the API, the CLI, the console or daily by the
scheduler (``runner``). ``merge`` holds the database writes.

This package does not send messages and does not decide channels; WeChat tags mirrored from
segments are ``scheduler/segment_tags.py``'s (segments live there).
"""
