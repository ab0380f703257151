"""Decide whether a new entry may open in the current session and regime (the runtime entry router).

The strategy base class owns one :class:`EntryRouter`; it feeds the signal bars to it and asks
:meth:`EntryRouter.refusal` before each entry. Only entries are routed: exits, stops and targets
never are.
"""

from __future__ import annotations

from collections.abc import Sequence

from strategies.features.config import REGIME_NAMES, SessionsConfig, check_sessions_config
from strategies.features.regimes import RegimeClassifier, regime_label, regime_names
from strategies.features.sessions import sessions_at

SESSION_NOT_ALLOWED = "session_not_allowed"
REGIME_NOT_ALLOWED = "regime_not_allowed"


class EntryRouter:
    """Hold a strategy's session and regime allowlists and the state to check them bar by bar.

    Parameters
    ----------
    config : SessionsConfig
        Session windows and regime parameters.
    allowed_sessions : sequence of str, optional
        An entry needs the bar to lie in at least one of these sessions (None: any time, even
        between sessions).
    allowed_regimes : sequence of str, optional
        An entry needs at least one of the bar's regime flags in this list (None: any regime).
    disallowed_regimes : sequence of str, optional
        No entry when any of the bar's regime flags is in this list.
    origin : str
        Names the config in errors (e.g. the strategy id).

    Raises
    ------
    ValueError
        If a list names an unknown session or regime.
    """

    def __init__(
        self,
        config: SessionsConfig,
        *,
        allowed_sessions: Sequence[str] | None = None,
        allowed_regimes: Sequence[str] | None = None,
        disallowed_regimes: Sequence[str] | None = None,
        origin: str = "strategy config",
    ) -> None:
        check_sessions_config(config, origin)
        self.config = config
        for field, values, known in (
            ("allowed_sessions", allowed_sessions, tuple(config.sessions)),
            ("allowed_regimes", allowed_regimes, REGIME_NAMES),
            ("disallowed_regimes", disallowed_regimes, REGIME_NAMES),
        ):
            unknown = sorted(set(values or ()) - set(known))
            if unknown:
                raise ValueError(
                    f"{origin}: {field} = {list(values or ())!r}: unknown {unknown} (known: {known})"
                )
        self.allowed_sessions = frozenset(allowed_sessions) if allowed_sessions is not None else None
        self.allowed_regimes = frozenset(allowed_regimes) if allowed_regimes is not None else None
        self.disallowed_regimes = frozenset(disallowed_regimes or ())
        tracks = self.allowed_regimes is not None or bool(self.disallowed_regimes)
        self.classifier: RegimeClassifier | None = RegimeClassifier(config.regimes) if tracks else None
        self._sessions_ts = -1
        self._sessions: frozenset[str] = frozenset()

    @property
    def tracks_regimes(self) -> bool:
        """Return True when the signal bars must be fed to :meth:`update` (regimes are restricted)."""
        return self.classifier is not None

    def update(self, high: float, low: float, close: float) -> None:
        """Feed the next signal bar to the regime classifier."""
        if self.classifier is not None:
            self.classifier.update(high, low, close)

    def sessions(self, ts_ns: int) -> frozenset[str]:
        """Return the sessions ``ts_ns`` lies in (the journal and the refusal ask for the same bar)."""
        if ts_ns != self._sessions_ts:
            self._sessions = sessions_at(ts_ns, self.config.sessions)
            self._sessions_ts = ts_ns
        return self._sessions

    def regime(self) -> str:
        """Return the last fed bar's regime flags as text (empty when regimes are not tracked)."""
        return regime_label(self.classifier.flags) if self.classifier is not None else ""

    def refusal(self, ts_ns: int) -> str:
        """Return why no entry may open at ``ts_ns`` on the last fed bar, or an empty string if it may."""
        if self.allowed_sessions is not None and not self.allowed_sessions & self.sessions(ts_ns):
            return SESSION_NOT_ALLOWED
        if self.classifier is not None:
            names = regime_names(self.classifier.flags)
            if self.allowed_regimes is not None and not self.allowed_regimes & names:
                return REGIME_NOT_ALLOWED
            if self.disallowed_regimes & names:
                return REGIME_NOT_ALLOWED
        return ""
