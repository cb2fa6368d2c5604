"""Simulators of the outside world (WeChat's API, WeChat's callbacks, a buyer's chat)."""
