"""Reconnect's benchmark: `python -m bench --users 100000 --updates 20000` (see docs/performance.md)."""
