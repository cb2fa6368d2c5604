"""Laoke (老客): a WeChat Official Account bot with which B2B suppliers keep their buyers."""
