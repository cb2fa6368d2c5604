"""Timed work: segments, campaigns, the scheduler loop and delivery of campaign messages."""
