"""Validation manager: walk-forward with purge and embargo, CV splitters, stress tests, gates, reports."""
