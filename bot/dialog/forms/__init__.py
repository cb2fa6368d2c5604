"""Dialog machinery: forms declared as data (fields.py), run by engine.py, stored by store.py."""
