"""Buyer-facing message templates (messages/*.j2) and pages (pages/*.html), shipped as package data.

A package only so that `pip install .` carries the files; it holds no code. Rendering is
``bot/dialog/rendering.py``.
"""
