"""Offline catalog replay for paper trading: data client, sandbox venue, pacing and runner (docs/replay.md)."""
