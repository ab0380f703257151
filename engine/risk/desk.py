"""The risk desk: size and vet every proposed entry, keep the sub-ledgers, hold the kill switch.

The desk sits between the strategy base class and nautilus' own RiskEngine. It is plain Python over
plain numbers, made of parts with one job each: :class:`~engine.risk.guards.Guards` (may this entry be
taken), :class:`~engine.risk.sizer.Sizer` (how large), :class:`~engine.risk.book.LedgerBook` (ledgers,
reservations, fill booking, paper epochs), :class:`~engine.risk.killswitch.KillSwitch` and a
:class:`~engine.risk.recorder.Recorder` writing the rows they emit to the journal. Market prices come
through a :class:`MarketView`, broker balances through a :class:`BrokerView`, fills through
:meth:`RiskDesk.on_fill`; operator commands through :meth:`RiskDesk.submit`. The engine wires it to a
nautilus kernel (:mod:`engine.risk.bridge`) in every mode, so a rule that holds in a backtest holds live.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import Future

import msgspec

from engine.journal import (
    CloseRow,
    DecisionRow,
    FillRecord,
    Journal,
    OperatorActionRow,
    SignalRow,
    to_json,
)
from engine.risk.book import LedgerBook
from engine.risk.commands import Command, CommandQueue, Kill, Reallocate, Resume
from engine.risk.config import DeskConfig, Mode
from engine.risk.guards import Guards, stop_fraction
from engine.risk.intents import BrokerView, MarketView, SizingDecision, TradeIntent, denied
from engine.risk.killswitch import CloseOnlyListener, KillSwitch
from engine.risk.ledger import ClosedTrade, InstrumentTerms, SubLedger
from engine.risk.policy import EntryContext
from engine.risk.recorder import Recorder
from engine.risk.sizer import Sizer

NANOS_PER_SECOND = 1_000_000_000


class DeskError(RuntimeError):
    """Raise when an operator call cannot be honoured (the message says why)."""


class RiskDesk:
    """Size entries, deny the ones that break a rule, keep the sub-ledgers and the kill switch.

    Parameters
    ----------
    config : DeskConfig
        Budgets, guards, sizing and the asset classes.
    mode : str
        ``backtest``, ``paper`` or ``live``: paper ledgers start at the paper bankroll and top up;
        the auto kill switch counts losses only in the modes its config lists.
    market : MarketView
        Current prices and recent closes.
    broker : BrokerView
        The broker account's buying power (None answers are tolerated outside live mode).
    journal : Journal, optional
        Where every signal, decision, fill, close, epoch and operator action is written; its desk
        state also persists the kill switch across restarts.
    wallet_usd : mapping, optional
        Wallet totals by wallet (``bybit``, ``ibkr``) for percent allocations.
    defer_funding : bool, default False
        Let percent allocations wait for :meth:`fund` (the engine funds them from the accounts).
    """

    def __init__(
        self,
        config: DeskConfig,
        *,
        mode: Mode,
        market: MarketView,
        broker: BrokerView,
        journal: Journal | None = None,
        wallet_usd: Mapping[str, float] | None = None,
        defer_funding: bool = False,
    ) -> None:
        self.config = config
        self.mode: Mode = mode
        self.market = market
        self.journal = journal
        self.recorder = Recorder(journal)
        self.policies = {asset.name: asset.policy(config.asset_risk(asset.name)) for asset in config.assets}
        self.book = LedgerBook(
            config, mode=mode, market=market, wallet_usd=wallet_usd, defer_funding=defer_funding
        )
        self.kill_switch = KillSwitch(journal)
        self.guards = Guards(config, self.policies, self.kill_switch.is_close_only)
        self.sizer = Sizer(config, self.policies, market, broker, mode)
        self.commands = CommandQueue()
        self.denials: Counter[str] = Counter()
        self.approvals = 0
        self.refused_fills = 0
        self.duplicate_fills = 0
        self.funding_rates: dict[str, float] = {}

    # -- wiring --------------------------------------------------------------------------------

    @property
    def ledgers(self) -> dict[str, SubLedger]:
        """Return the sub-ledgers by asset class."""
        return self.book.ledgers

    def fund(self, wallet_usd: Mapping[str, float]) -> None:
        """Fund percent allocations from the wallet totals (before the first fill)."""
        self.book.fund(wallet_usd)

    def register_instrument(self, terms: InstrumentTerms) -> None:
        """Make an instrument tradable through the desk (its asset class picks the ledger)."""
        self.book.register(terms)

    def terms(self, instrument_id: str) -> InstrumentTerms | None:
        """Return the registered terms of ``instrument_id``."""
        return self.book.terms.get(instrument_id)

    def ledger_for(self, instrument_id: str) -> SubLedger | None:
        """Return the ledger that books ``instrument_id``."""
        return self.book.ledger_for(instrument_id)

    def add_close_only_listener(self, listener: CloseOnlyListener) -> None:
        """Call ``listener(asset or None, close_only, close_profitable)`` on every kill or resume."""
        self.kill_switch.add_listener(listener)

    def is_close_only(self, asset: str) -> bool:
        """Return True when ``asset`` takes no new entries (its own or the global kill switch)."""
        return self.kill_switch.is_close_only(asset)

    @property
    def close_only_all(self) -> bool:
        """Return True while the global kill switch is on."""
        return self.kill_switch.all

    @property
    def close_only_assets(self) -> set[str]:
        """Return the asset classes in close-only."""
        return self.kill_switch.assets

    def sl_tp_trigger(self, instrument_id: str) -> str:
        """Return the nautilus ``TriggerType`` name this instrument's stops and targets trigger on."""
        asset = self.book.asset_of(instrument_id)
        return self.policies[asset].stop_trigger() if asset else "DEFAULT"

    # -- entries -------------------------------------------------------------------------------

    def evaluate(self, intent: TradeIntent) -> SizingDecision:
        """Return the quantity to trade for ``intent``, or a denial naming the rule it broke.

        Every call is journaled: the signal, its market snapshot and the decision with its inputs.
        """
        terms = self.book.terms.get(intent.instrument_id)
        ledger = self.book.ledger_for(intent.instrument_id)
        if terms is None or ledger is None:
            return self._finish(intent, None, -1, denied("unknown_instrument"))
        equity = ledger.observe(intent.ts_event, self.book.marks(ledger))
        signal_id = self._record_signal(intent, terms.asset)
        context = EntryContext(
            intent=intent,
            terms=terms,
            ledger=ledger,
            book=self.book,
            equity_usd=equity,
            stop_fraction=stop_fraction(intent.entry_price, intent.stop_price),
            funding_rates=self.funding_rates,
        )
        reason = self.guards.check(context)
        if reason:
            return self._finish(intent, terms, signal_id, denied(reason, {"equity_usd": equity}))
        decision = self.sizer.size(context)
        if decision.approved and decision.quantity is not None:
            self.book.reserve(intent, terms, decision.quantity)
            self.policies[terms.asset].on_approved(intent, decision.quantity)
        return self._finish(intent, terms, signal_id, decision)

    def deny(
        self, intent: TradeIntent, reason: str, inputs: dict[str, float | str | None] | None = None
    ) -> SizingDecision:
        """Deny ``intent`` for a reason found outside the desk (e.g. ``session_not_allowed``).

        The signal and the denial are journaled and counted in :attr:`denials` exactly as the desk's
        own guard denials are.
        """
        terms = self.book.terms.get(intent.instrument_id)
        if terms is None:
            return self._finish(intent, None, -1, denied(reason, inputs))
        signal_id = self._record_signal(intent, terms.asset)
        return self._finish(intent, terms, signal_id, denied(reason, inputs))

    def release(self, strategy_id: str, instrument_id: str) -> bool:
        """Free the budget reserved for an entry that ended without (further) fills.

        The engine's desk bridge calls this on every terminal event of an entry order (canceled,
        expired, rejected, denied), whichever strategy sent it. Return True if budget was held.
        """
        return self.book.release(strategy_id, instrument_id)

    def _finish(
        self, intent: TradeIntent, terms: InstrumentTerms | None, signal_id: int, decision: SizingDecision
    ) -> SizingDecision:
        if decision.approved:
            self.approvals += 1
        else:
            self.denials[decision.reason] += 1
        if self.recorder.active:
            self.recorder.emit(
                DecisionRow(
                    ts=intent.ts_event,
                    asset=terms.asset if terms else "",
                    strategy_id=intent.strategy_id,
                    snapshot_id=intent.snapshot.snapshot_id if intent.snapshot else "",
                    instrument_id=intent.instrument_id,
                    signal_id=signal_id,
                    approved=decision.approved,
                    reason=decision.reason,
                    bound_by=decision.bound_by,
                    quantity=decision.quantity,
                    inputs=to_json(_with_context(decision.inputs, intent)),
                )
            )
        return decision

    def _record_signal(self, intent: TradeIntent, asset: str) -> int:
        if not self.recorder.active:
            return -1
        snapshot_id = ""
        if intent.snapshot is not None:
            self.recorder.emit(intent.snapshot)
            snapshot_id = intent.snapshot.snapshot_id
        key = self.recorder.emit(
            SignalRow(
                ts=intent.ts_event,
                asset=asset,
                strategy_id=intent.strategy_id,
                snapshot_id=snapshot_id,
                instrument_id=intent.instrument_id,
                side=intent.side.name,
                strength=intent.strength.name,
                entry_price=intent.entry_price,
                stop_price=intent.stop_price,
                take_profit_price=intent.take_profit_price,
            )
        )
        return -1 if key is None else key

    # -- fills and closes ----------------------------------------------------------------------

    def on_fill(self, fill: FillRecord) -> ClosedTrade | None:
        """Book a fill into its ledger once; return the round trip it closes, if any.

        A fill this desk booked before (same venue and trade id) is ignored, and so is one an earlier
        run journaled, so a replay never counts twice. Closing fills raise risk events (per-trade
        breach, daily-loss breach), may trip the auto kill switch, and in paper mode top up an
        exhausted ledger into a new epoch.
        """
        terms = self.book.terms.get(fill.instrument_id)
        if terms is None or self.book.already_booked(fill):
            if terms is not None:
                self.duplicate_fills += 1
            return None
        row = fill if fill.asset == terms.asset else _with_asset(fill, terms.asset)
        if self.recorder.active and self.recorder.emit(row) is None:
            self.duplicate_fills += 1  # journaled by an earlier run
            return None
        ledger = self.book.ledgers[terms.asset]
        was_within_cap = self._within_daily_cap(ledger)
        closed, equity = self.book.book(fill, terms)
        if closed is not None:
            self._after_close(ledger, closed, fill)
        if was_within_cap and not self._within_daily_cap(ledger):
            self._risk_event(ledger, fill.ts, "daily_loss_cap")
        epoch = self.book.topup_if_exhausted(ledger, fill.ts, equity)
        if epoch is not None:
            self.recorder.emit(epoch)
        return closed

    def set_funding_rate(self, instrument_id: str, rate: float) -> None:
        """Set the latest settled funding rate of a perpetual (the funding filter reads it)."""
        self.funding_rates[instrument_id] = rate

    def record_funding(self, instrument_id: str, amount_usd: float, ts_ns: int) -> None:
        """Book a funding (or swap) payment of an open position into its ledger."""
        ledger = self.book.ledger_for(instrument_id)
        if ledger is None:
            raise DeskError(f"funding for unregistered instrument {instrument_id}")
        ledger.apply_funding(ts_ns, amount_usd)

    def _within_daily_cap(self, ledger: SubLedger) -> bool:
        cap = self.config.asset_risk(ledger.asset).daily_loss_cap_pct * ledger.day_start_equity_usd
        return ledger.day_realised_usd > -cap

    def _after_close(self, ledger: SubLedger, closed: ClosedTrade, fill: FillRecord) -> None:
        self.recorder.emit(
            CloseRow(
                ts=closed.ts_close,
                asset=closed.asset,
                strategy_id=closed.strategy_id,
                snapshot_id=fill.snapshot_id,
                instrument_id=closed.instrument_id,
                side=closed.side,
                quantity=closed.quantity,
                entry_price=closed.entry_price,
                exit_price=closed.exit_price,
                gross_pnl_usd=closed.gross_usd,
                fees_usd=closed.fees_usd,
                net_pnl_usd=closed.net_usd,
                reward_points=closed.reward_points,
                exit_reason=fill.order_tag or "UNKNOWN",
                epoch=closed.epoch,
            )
        )
        breach = self.config.risk.per_trade_breach_multiple * closed.planned_risk_usd
        if math.isfinite(breach) and closed.gross_usd < -breach:
            self._risk_event(ledger, closed.ts_close, "per_trade_breach")
        kill = self.config.risk.kill_switch
        if (
            self.mode in kill.modes
            and ledger.consecutive_losses >= kill.consecutive_losses
            and not self.is_close_only(ledger.asset)
        ):
            self.kill(
                ledger.asset,
                operator="auto",
                reason=f"{ledger.consecutive_losses} consecutive losing trades",
                ts_ns=closed.ts_close,
                close_profitable=kill.close_profitable_on_trip,
            )

    def _risk_event(self, ledger: SubLedger, ts_ns: int, kind: str) -> None:
        ledger.cooldown_until_ns = max(
            ledger.cooldown_until_ns, ts_ns + self.config.risk.cooldown_seconds * NANOS_PER_SECOND
        )
        self._audit(
            ts_ns,
            "risk",
            f"risk_event:{kind}",
            ledger.asset,
            {"cooldown_until_ns": ledger.cooldown_until_ns},
            scoped=False,
        )

    # -- operator calls ------------------------------------------------------------------------

    def submit(self, command: Command) -> Future[None]:
        """Queue an operator command from any thread; it is applied on the kernel's thread.

        The future completes once :meth:`apply_commands` has applied it (or carries the
        :class:`DeskError` that refused it).
        """
        return self.commands.submit(command)

    def apply_commands(self, ts_ns: int) -> int:
        """Apply the queued operator commands at kernel time ``ts_ns``; return how many ran."""
        return self.commands.drain(lambda command: self.apply(command, ts_ns))

    def apply(self, command: Command, ts_ns: int) -> None:
        """Apply one operator command at kernel time ``ts_ns`` (on the kernel's thread)."""
        if isinstance(command, Kill):
            self.kill(
                command.asset,
                operator=command.operator,
                reason=command.reason,
                ts_ns=ts_ns,
                close_profitable=command.close_profitable,
            )
        elif isinstance(command, Resume):
            self.resume(command.asset, operator=command.operator, ts_ns=ts_ns)
        elif isinstance(command, Reallocate):
            self.reallocate(command.asset, command.delta_usd, operator=command.operator, ts_ns=ts_ns)

    def kill(
        self,
        asset: str | None,
        *,
        operator: str,
        reason: str,
        ts_ns: int,
        close_profitable: bool = False,
    ) -> None:
        """Put one asset (or all, with None) into close-only; persisted until :meth:`resume`.

        No new entries pass the desk; protective orders stay working; with ``close_profitable``
        the strategies close their positions that are in profit.
        """
        self._check_asset(asset)
        for ledger in self.ledgers.values() if asset is None else [self.ledgers[asset]]:
            self._risk_event(ledger, ts_ns, "kill_switch")
        self._audit(ts_ns, operator, "kill", asset, {"reason": reason, "close_profitable": close_profitable})
        self.kill_switch.set(asset, True, ts_ns=ts_ns, close_profitable=close_profitable)

    def resume(self, asset: str | None, *, operator: str, ts_ns: int) -> None:
        """Lift close-only for one asset (or the global switch with None); an explicit operator call."""
        self._check_asset(asset)
        if asset is not None:
            self.ledgers[asset].consecutive_losses = 0
        self._audit(ts_ns, operator, "resume", asset, {})
        self.kill_switch.set(asset, False, ts_ns=ts_ns)

    def reallocate(self, asset: str, delta_usd: float, *, operator: str, ts_ns: int) -> None:
        """Move ``asset``'s allocation by a whole number of reallocation steps ($100 by default).

        Raises
        ------
        DeskError
            If the amount is not a whole number of steps, or would make the allocation negative or
            the ledger's free budget negative.
        """
        self._check_asset(asset)
        step = self.config.budgets.reallocation_step_usd
        steps = delta_usd / step
        if delta_usd == 0 or abs(steps - round(steps)) > 1e-9:
            raise DeskError(
                f"reallocation of {asset} by {delta_usd!r} USD: must be a non-zero multiple of {step}"
            )
        ledger = self.ledgers[asset]
        if ledger.allocation_usd + delta_usd < 0 or ledger.free_usd() + delta_usd < 0:
            raise DeskError(
                f"reallocation of {asset} by {delta_usd!r} USD would leave allocation "
                f"{ledger.allocation_usd + delta_usd:.2f} and free budget {ledger.free_usd() + delta_usd:.2f}"
            )
        ledger.reallocate(delta_usd)
        self._audit(
            ts_ns,
            operator,
            "reallocate",
            asset,
            {"delta_usd": delta_usd, "allocation": ledger.allocation_usd},
        )

    def _check_asset(self, asset: str | None) -> None:
        if asset is not None and asset not in self.ledgers:
            raise DeskError(f"unknown asset class {asset!r} (known: {', '.join(self.ledgers)})")

    def _audit(
        self,
        ts_ns: int,
        operator: str,
        action: str,
        asset: str | None,
        detail: Mapping[str, object],
        *,
        scoped: bool = True,
    ) -> None:
        if self.journal is None:
            return
        body = {"scope": asset or "all", **detail} if scoped else dict(detail)
        self.recorder.emit(
            OperatorActionRow(
                ts=ts_ns, asset=asset or "", operator=operator, action=action, detail=to_json(body)
            )
        )

    # -- reporting -----------------------------------------------------------------------------

    def ledger_summary(self) -> dict[str, dict[str, float | int]]:
        """Return each ledger's start and end equity, peak, max drawdown, epochs and reward points."""
        return self.book.summary()


def _with_context(
    inputs: dict[str, float | str | None], intent: TradeIntent
) -> dict[str, float | str | None]:
    """Return the decision inputs with the signal bar's session and regime, when the strategy gave them."""
    if not intent.session and not intent.regime:
        return inputs
    return {**inputs, "session": intent.session, "regime": intent.regime}


def _with_asset(fill: FillRecord, asset: str) -> FillRecord:
    return msgspec.structs.replace(fill, asset=asset)
