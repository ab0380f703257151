"""Pure feature kernels shared by live strategies and research (numpy arrays in, arrays out).

- :mod:`strategies.features.sessions`: trading sessions (ASIA, EU, US) from UTC timestamps.
- :mod:`strategies.features.regimes`: market regimes (TREND_UP, TREND_DOWN, RANGE, HIGH_VOL) from
  bars, vectorised and bar by bar with identical labels.
- :mod:`strategies.features.config`: the typed ``configs/sessions.toml`` and its loader.
- :mod:`strategies.features.router`: the entry router the strategy base class asks before an entry.
"""
