"""Offline catalog replay for paper trading: data client, sandbox, pacing, runner (docs/replay.md)."""
