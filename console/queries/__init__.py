"""Read models for console pages that gather rows from several features (no writes here)."""
