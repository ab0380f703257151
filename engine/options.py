"""Load equity option data for a run: contracts, their bars and the chain snapshots (greeks).

The engine streams an option chain as three things the catalog holds (:mod:`catalog.options`):
``OptionContract`` instruments, daily bars per contract (``MID`` from the chains, ``BID``/``ASK``
where quotes exist) and nautilus ``GreeksData``, one per contract and session. The greeks reach a
strategy as custom data from the client :data:`CHAIN_CLIENT_ID`; strategies never read the catalog.

Expiry: :class:`OptionExpiry` (a simulation module of the option venue) settles every position
still open when its contract expires at the contract's intrinsic value: an in-the-money contract is
exercised and its value (underlying close of the last session minus strike, or strike minus close)
is paid, an out-of-the-money one expires worthless (price 0). The settlement is an ordinary fill
tagged :data:`EXERCISED_TAG` or :data:`EXPIRED_TAG` on the venue's matching engine, so the account,
the strategy, the risk desk and the journal see it like any other close; the bridge accepts its
price only when it equals the intrinsic value of the underlying bar it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nautilus_trader.backtest.config import SimulationModuleConfig
from nautilus_trader.backtest.modules import SimulationModule
from nautilus_trader.cache.cache import Cache
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.data import Bar, BarType, CustomData, DataType
from nautilus_trader.model.enums import LiquiditySide, OptionKind, OrderSide, PositionSide
from nautilus_trader.model.events import OrderAccepted, OrderSubmitted
from nautilus_trader.model.greeks_data import GreeksData
from nautilus_trader.model.identifiers import ClientId, ClientOrderId, InstrumentId, Symbol, VenueOrderId
from nautilus_trader.model.instruments import Instrument, OptionContract
from nautilus_trader.model.objects import Price
from nautilus_trader.model.orders import MarketOrder
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from catalog.options import chain_greeks, option_contracts

CHAIN_CLIENT_ID = ClientId("OPTION_CHAINS")
EXERCISED_TAG = "EXPIRY_EXERCISED"
EXPIRED_TAG = "EXPIRY_WORTHLESS"
SETTLEMENT_TAGS = frozenset({EXERCISED_TAG, EXPIRED_TAG})


@dataclass
class OptionData:
    """Hold the option contracts of a run, their bars and bar types, and the chain snapshots."""

    instruments: list[Instrument]
    bars: list[Bar]
    bar_types: list[str]
    greeks: list[GreeksData]


def load_option_data(
    catalog: ParquetDataCatalog, roots: list[str], start: str | None, end: str | None
) -> OptionData:
    """Read every contract of the given underlyings with its bars and greeks from the catalog."""
    instruments: list[Instrument] = []
    bars: list[Bar] = []
    bar_types: list[str] = []
    greeks: list[GreeksData] = []
    for root in roots:
        contracts = {str(c.id): c for c in option_contracts(catalog, root)}
        greeks.extend(chain_greeks(catalog, contracts, start, end))
        wanted = [str(mid_bar_type(identifier)) for identifier in contracts]
        series = catalog.bars(bar_types=wanted, start=start, end=end) if wanted else []
        present = sorted({str(bar.bar_type) for bar in series})
        bars.extend(series)
        bar_types.extend(present)
        instruments.extend(contracts[t.split("-", 1)[0]] for t in present)
    return OptionData(instruments, bars, bar_types, greeks)


def expiry_value(is_call: bool, strike: float, underlying: float) -> float:
    """Return the intrinsic value of a contract at expiry: exercised if in the money, else 0."""
    return max(0.0, underlying - strike) if is_call else max(0.0, strike - underlying)


def underlying_of(option: OptionContract) -> InstrumentId:
    """Return the id of an option's underlying (same venue as the contract)."""
    return InstrumentId(Symbol(option.underlying), option.id.venue)


def settlement_value(option: OptionContract, underlying_close: float) -> float:
    """Return what one contract settles at: its intrinsic value, rounded to the contract's tick."""
    value = expiry_value(
        option.option_kind == OptionKind.CALL, option.strike_price.as_double(), underlying_close
    )
    tick = option.price_increment.as_double()
    return round(value / tick) * tick


def settlement_bar(cache: Cache, option: OptionContract) -> Bar | None:
    """Return the underlying's latest bar at or before the option's expiration (its last session)."""
    for bar_type in cache.bar_types(instrument_id=underlying_of(option)):
        for bar in cache.bars(bar_type):  # newest first
            if bar.ts_event <= option.expiration_ns:
                return bar
    return None


class OptionExpiryConfig(SimulationModuleConfig, frozen=True, kw_only=True):
    """Configure :class:`OptionExpiry` (nothing to set: it reads the venue's cache)."""


class OptionExpiry(SimulationModule):  # type: ignore[misc]
    """Settle the option positions of a simulated venue at intrinsic value when their contract expires.

    After each data step the module looks for open positions in contracts whose ``expiration_ns``
    has come. Once the underlying's bar of the last session is in the cache (``settlement_bar``),
    it cancels the contract's working orders and closes the position with a market order filled at
    :func:`settlement_value` on the venue's matching engine, tagged :data:`EXERCISED_TAG` (in the
    money) or :data:`EXPIRED_TAG` (worthless). The order id is derived from the position and expiry,
    so reruns give identical fills.

    The settlements are read back from the fills (their tag) and the desk bridge's record.
    """

    def __init__(self, config: OptionExpiryConfig | None = None) -> None:
        super().__init__(config or OptionExpiryConfig())

    def process(self, ts_now: int) -> None:
        """Settle the positions whose contract has expired by ``ts_now``."""
        exchange = self.exchange
        if exchange is None:
            return
        cache = exchange.cache
        for position in cache.positions_open():
            if position.instrument_id.venue != exchange.id:
                continue
            option = cache.instrument(position.instrument_id)
            if isinstance(option, OptionContract) and option.expiration_ns <= ts_now:
                self._settle(option, position, ts_now)

    def _settle(self, option: OptionContract, position: Any, ts_now: int) -> None:
        bar = settlement_bar(self.exchange.cache, option)
        if bar is None or (bar.ts_event < option.expiration_ns and ts_now == option.expiration_ns):
            return  # the last session's underlying bar is not in yet (it may arrive at this very time)
        underlying_close = bar.close.as_double()
        value = settlement_value(option, underlying_close)
        matching = self.exchange.get_matching_engine(option.id)
        for order in matching.get_open_orders():
            matching.cancel_order(order)
        tag = EXERCISED_TAG if value > 0 else EXPIRED_TAG
        order = MarketOrder(
            trader_id=position.trader_id,
            strategy_id=position.strategy_id,
            instrument_id=option.id,
            client_order_id=ClientOrderId(f"O-{tag}-{position.id}-{option.expiration_ns}"),
            order_side=OrderSide.SELL if position.side == PositionSide.LONG else OrderSide.BUY,
            quantity=position.quantity,
            init_id=UUID4(),
            ts_init=ts_now,
            reduce_only=True,
            tags=[tag],
        )
        quantity = position.quantity
        self.exchange.cache.add_order(order, position_id=position.id)
        # The order walks the venue's normal states (submitted, accepted, filled) so every report and
        # the journal show it like any other close.
        ids = (position.trader_id, position.strategy_id, option.id, order.client_order_id)
        self.exchange.msgbus.send(
            endpoint="ExecEngine.process",
            msg=OrderSubmitted(*ids, position.account_id, UUID4(), ts_now, ts_now),
        )
        self.exchange.msgbus.send(
            endpoint="ExecEngine.process",
            msg=OrderAccepted(
                *ids, VenueOrderId(str(order.client_order_id)), position.account_id, UUID4(), ts_now, ts_now
            ),
        )
        matching.fill_order(
            order, Price(value, option.price_precision), quantity, LiquiditySide.TAKER, None, position
        )

    def log_diagnostics(self, logger: Any) -> None:
        """Log nothing (settlements are in the run's fills and journal)."""

    def reset(self) -> None:
        """Hold no state to reset."""


def mid_bar_type(instrument_id: str) -> BarType:
    """Return the daily MID bar type of a contract (the series option fills trade against)."""
    return BarType.from_str(f"{instrument_id}-1-DAY-MID-EXTERNAL")


def wrap_greeks(greeks: list[GreeksData]) -> list[CustomData]:
    """Wrap chain snapshots as nautilus ``CustomData`` so the data engine routes them to subscribers."""
    data_type = DataType(GreeksData)
    return [CustomData(data_type, item) for item in greeks]
