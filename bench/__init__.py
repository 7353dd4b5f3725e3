"""Reconnect's benchmark: `python -m bench --users 100000 --updates 20000` (docs/performance.md)."""
