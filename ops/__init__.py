"""Running Laoke in production: backup and restore of the database, and ``laoke doctor``'s
checks of an installation. The commands themselves are in ``ops/cli.py``; the composition
root registers them."""
