"""The ledger book: every asset class's sub-ledger, the instruments they book, and pending entries.

The book funds the ledgers (absolute allocations, wallet fractions, or the paper bankroll), holds
the budget reserved for approved entries until they fill or end, books fills into the ledger of
their instrument's asset class, and tops an exhausted paper ledger up into a new numbered epoch.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.journal import EpochRow, FillRecord
from engine.risk.config import DeskConfig, DeskConfigError, Mode
from engine.risk.intents import MarketView, TradeIntent
from engine.risk.ledger import ClosedTrade, EntryPlan, InstrumentTerms, LedgerError, SubLedger

EntryKey = tuple[str, str]  # (strategy id, instrument id)


class LedgerBook:
    """Keep the sub-ledgers and the entries in flight.

    Parameters
    ----------
    config : DeskConfig
        Budgets and the asset classes (one ledger each).
    mode : str
        ``paper`` ledgers start at the paper bankroll and top up; others at their allocation.
    market : MarketView
        Marks for equity (a lot is marked where it would close).
    wallet_usd : mapping, optional
        Wallet totals by wallet (``bybit``, ``ibkr``) for percent allocations.
    defer_funding : bool, default False
        Without ``wallet_usd``, let percent ledgers wait for :meth:`fund` (the engine funds them from
        the venue accounts at start) instead of failing.
    """

    def __init__(
        self,
        config: DeskConfig,
        *,
        mode: Mode,
        market: MarketView,
        wallet_usd: Mapping[str, float] | None = None,
        defer_funding: bool = False,
    ) -> None:
        self._config = config
        self._mode = mode
        self._market = market
        self.terms: dict[str, InstrumentTerms] = {}
        self.plans: dict[EntryKey, EntryPlan] = {}
        self.unfilled: dict[EntryKey, float] = {}
        self._booked: set[tuple[str, str]] = set()
        self.funded = False
        self.ledgers: dict[str, SubLedger] = {}
        self.fund(wallet_usd, required=not defer_funding)

    # -- funding and instruments ---------------------------------------------------------------

    def fund(self, wallet_usd: Mapping[str, float] | None, *, required: bool = True) -> None:
        """Set every ledger's allocation from the budgets (and, in percent mode, the wallet totals).

        Called once before trading: at construction, and again by the engine when the venue accounts
        are known (percent allocations of a live or paper wallet).

        Raises
        ------
        DeskConfigError
            When a percent allocation's wallet total is unknown and ``required``.
        """
        if any(ledger.fills for ledger in self.ledgers.values()):
            raise LedgerError("ledgers are funded once, before their first fill")
        config = self._config
        allocations = {}
        for asset in config.assets:
            value = self._allocation(asset.name, asset.wallet, wallet_usd, required)
            if value is None:
                return
            allocations[asset.name] = value
        self.ledgers = {
            name: SubLedger(
                asset=name,
                allocation_usd=value,
                leverage_cap=config.asset_risk(name).leverage_cap,
                profit_rollover=config.budgets.profit_rollover,
            )
            for name, value in allocations.items()
        }
        self.funded = True

    def _allocation(
        self, asset: str, wallet: str, wallet_usd: Mapping[str, float] | None, required: bool
    ) -> float | None:
        budgets = self._config.budgets
        if self._mode == "paper":
            return budgets.paper.start_equity_usd
        value = self._config.allocation(asset)
        if budgets.alloc_mode == "absolute" or value == 0.0:
            return value
        if wallet_usd is None or wallet not in wallet_usd:
            if not required:
                return None
            raise DeskConfigError(
                f"{self._config.origin}: alloc.{asset} = {value!r}: "
                f"percent allocation needs the {wallet} wallet total"
            )
        return value * wallet_usd[wallet]

    def register(self, terms: InstrumentTerms) -> None:
        """Make an instrument tradable (its asset class picks the ledger)."""
        if terms.asset not in self._config.assets:
            raise LedgerError(f"instrument {terms.instrument_id}: unknown asset class {terms.asset!r}")
        self.terms[terms.instrument_id] = terms

    def asset_of(self, instrument_id: str) -> str:
        """Return the asset class of a registered instrument ('' when unknown)."""
        terms = self.terms.get(instrument_id)
        return terms.asset if terms is not None else ""

    def ledger_for(self, instrument_id: str) -> SubLedger | None:
        """Return the ledger that books ``instrument_id``."""
        terms = self.terms.get(instrument_id)
        return self.ledgers[terms.asset] if terms is not None and self.funded else None

    # -- entries in flight ---------------------------------------------------------------------

    def reserve(self, intent: TradeIntent, terms: InstrumentTerms, quantity: float) -> None:
        """Hold the budget of an approved entry and remember its protection and planned risk."""
        key = (intent.strategy_id, intent.instrument_id)
        self.ledgers[terms.asset].reserve(*key, quantity * terms.usd_per_unit(intent.entry_price))
        self.plans[key] = EntryPlan(
            strategy_id=intent.strategy_id,
            stop_price=intent.stop_price,
            take_profit_price=intent.take_profit_price,
            planned_risk_usd=abs(intent.entry_price - intent.stop_price)
            * quantity
            * terms.usd_per_point(intent.entry_price),
            quantity=quantity,
            entry_price=intent.entry_price,
        )
        self.unfilled[key] = quantity

    def release(self, strategy_id: str, instrument_id: str) -> bool:
        """Free the budget reserved for an entry that ended; return True if one was held."""
        key = (strategy_id, instrument_id)
        ledger = self.ledger_for(instrument_id)
        if ledger is not None:
            ledger.release(*key)
        held = self.plans.pop(key, None) is not None
        self.unfilled.pop(key, None)
        return held

    def reversed_lot(self, ledger: SubLedger, intent: TradeIntent) -> str | None:
        """Return the instrument whose opposite lot this entry reverses (it is being closed), if any."""
        lot = ledger.lots.get(intent.instrument_id)
        sign = 1 if intent.is_buy else -1
        if lot is not None and lot.quantity * sign < 0:
            return intent.instrument_id
        return None

    # -- fills -------------------------------------------------------------------------------------

    def already_booked(self, fill: FillRecord) -> bool:
        """Return True when this book has booked the fill's ``(venue, trade_id)`` before."""
        return (fill.venue, fill.trade_id) in self._booked

    def book(self, fill: FillRecord, terms: InstrumentTerms) -> tuple[ClosedTrade | None, float]:
        """Book a fill into its ledger; return the round trip it closes (if any) and the equity after.

        An entry's fill consumes its reservation; the plan (stop, target, planned risk) goes to the lot.
        """
        self._booked.add((fill.venue, fill.trade_id))
        ledger = self.ledgers[terms.asset]
        key = (fill.strategy_id, fill.instrument_id)
        plan = self.plans.get(key) if fill.order_tag == "ENTRY" else None
        if plan is not None:
            remaining = self.unfilled.get(key, 0.0) - fill.quantity
            if remaining > terms.size_increment / 2:
                self.unfilled[key] = remaining
                ledger.reserve(*key, remaining * terms.usd_per_unit(plan.entry_price))
            else:  # the whole entry is in: nothing stays reserved, whatever the fill price was
                ledger.release(*key)
                self.plans.pop(key, None)
                self.unfilled.pop(key, None)
        closed = ledger.apply_fill(
            terms,
            ts_ns=fill.ts,
            side_sign=1 if fill.side == "BUY" else -1,
            quantity=fill.quantity,
            price=fill.price,
            fee_usd=fill.commission_usd,
            strategy_id=fill.strategy_id,
            plan=plan,
        )
        equity = ledger.observe(fill.ts, self.marks(ledger, {fill.instrument_id: fill.price}))
        return closed, equity

    def topup_if_exhausted(self, ledger: SubLedger, ts_ns: int, equity: float) -> EpochRow | None:
        """Top a paper ledger at or below the threshold up into a new epoch; return the epoch row."""
        paper = self._config.budgets.paper
        if self._mode != "paper" or equity > paper.auto_topup_threshold_usd:
            return None
        ledger.topup(paper.auto_topup_amount_usd)
        return EpochRow(
            ts=ts_ns,
            asset=ledger.asset,
            epoch=ledger.epoch,
            topup_usd=paper.auto_topup_amount_usd,
            equity_before_usd=equity,
            reason=f"paper equity {equity:.2f} <= {paper.auto_topup_threshold_usd:.2f}",
        )

    # -- valuation -----------------------------------------------------------------------------

    def marks(self, ledger: SubLedger, extra: Mapping[str, float] | None = None) -> dict[str, float]:
        """Return a mark for every open lot: where it would close (long at the bid, short at the ask)."""
        marks: dict[str, float] = dict(extra) if extra else {}
        for instrument_id, lot in ledger.lots.items():
            if instrument_id not in marks:
                mark = self._market.side_mark(instrument_id, lot.quantity > 0)
                if mark is not None:
                    marks[instrument_id] = mark
        return marks

    def summary(self) -> dict[str, dict[str, float | int]]:
        """Return each ledger's start and end equity, peak, max drawdown, epochs and reward points."""
        summary: dict[str, dict[str, float | int]] = {}
        for asset, ledger in self.ledgers.items():
            end_equity = ledger.equity_usd(self.marks(ledger))
            summary[asset] = {
                "allocation": round(ledger.allocation_usd, 8),
                "start_equity": round(ledger.start_equity_usd, 8),
                "end_equity": round(end_equity, 8),
                "peak": round(max(ledger.peak_equity_usd, end_equity), 8),
                "max_drawdown": round(ledger.max_drawdown, 8),
                "epochs": ledger.epoch,
                "topups": round(ledger.topups_usd, 8),
                "reward_points": round(ledger.reward_points, 8),
                "trades": ledger.trades,
                "fees": round(ledger.fees_usd, 8),
                "skimmed": round(ledger.skimmed_usd, 8),
            }
        return summary
