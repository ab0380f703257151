"""Fill a stop-market order gapped over at the bar's open, not at its trigger price.

nautilus 1.221's simulated exchange fills a triggered stop-market on an L1 book at its trigger
price, even when the bar opened beyond it (an FX weekend open, a crypto wick between bars), so the
gap loss goes missing. Two objects fix that on any ``SimulatedExchange`` (backtest and paper sandbox
alike):

- :class:`BarTape`, a simulation module, records the latest bar of every bar type (the exchange calls
  every module's ``pre_process`` before its matching engines see the bar, whose open they then
  process first), so the bar being executed is known while it is;
- :class:`GapFillModel`, nautilus' seeded ``FillModel`` with one change: a triggered stop-market
  whose bar opened beyond its trigger (sell stop: bid open below it; buy stop: ask open above it),
  while the book's top is still at that open, fills against a book at the open. Every other fill
  (market, limit, an intrabar stop) takes nautilus' own path; ``prob_fill_on_limit`` and
  ``prob_slippage`` act as before (the exchange applies slippage to whatever book the fill came
  from, and this model draws no random numbers of its own).

The module links itself to the fill model of the exchange it is loaded into (``register_venue``, which
the ``SimulatedExchange`` constructor calls), so give both to the same constructor: a model set later
(``set_fill_model``) is not linked and fills like nautilus' own. :func:`importable_configs` gives
nautilus-style importable configs for a node or sandbox that builds them by import path
(``FillModelFactory``, ``ActorFactory``); the backtest builds them the same way. The rules are in
docs/backtest-fill-rules.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from nautilus_trader.backtest.config import FillModelConfig, ImportableFillModelConfig, SimulationModuleConfig
from nautilus_trader.backtest.models import FillModel
from nautilus_trader.backtest.modules import SimulationModule
from nautilus_trader.common.config import ImportableActorConfig
from nautilus_trader.model.book import OrderBook
from nautilus_trader.model.data import Bar, BarType, BookOrder
from nautilus_trader.model.enums import (
    AggregationSource,
    BarAggregation,
    BookType,
    OrderSide,
    OrderType,
    PriceType,
)
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price

GapFill = Literal["open", "trigger"]

FILL_MODEL_PATH = "engine.fills:GapFillModel"
FILL_MODEL_CONFIG_PATH = "engine.fills:GapFillModelConfig"
BAR_TAPE_PATH = "engine.fills:BarTape"
BAR_TAPE_CONFIG_PATH = "engine.fills:BarTapeConfig"


class GapFillModelConfig(FillModelConfig, frozen=True):
    """Configure :class:`GapFillModel`: nautilus' fill probabilities and seed, and the gap rule.

    Parameters
    ----------
    stop_gap_fill : {"open", "trigger"}, default "open"
        ``"open"`` fills a stop-market gapped over at the bar's open; ``"trigger"`` keeps nautilus'
        fill at the trigger price (the model is then nautilus' ``FillModel``).
    """

    stop_gap_fill: GapFill = "open"


class BarTapeConfig(SimulationModuleConfig, frozen=True):
    """Configure :class:`BarTape` (it has no settings)."""


class BarTape(SimulationModule):  # type: ignore[misc]
    """Record the latest bar of every bar type a simulated exchange receives.

    Recording costs one dict write per bar; the bar the matching engine is executing is worked out
    only when a stop fills (:meth:`open_price`), the way the matching engine chooses it: external
    bars only, and of several bar types of one instrument the shortest.
    """

    def __init__(self, config: BarTapeConfig | None = None) -> None:
        super().__init__(config or BarTapeConfig())
        self._last: dict[BarType, Bar] = {}

    def register_venue(self, exchange: Any) -> None:
        """Register the exchange and link this tape to its fill model (a :class:`GapFillModel`)."""
        super().register_venue(exchange)
        model = exchange.fill_model
        # the matching engine executes bars only with bar execution on an L1 book
        if (
            isinstance(model, GapFillModel)
            and exchange.bar_execution
            and exchange.book_type == BookType.L1_MBP
        ):
            model.attach(self)

    def pre_process(self, data: Any) -> None:
        """Record ``data`` if it is a bar (the exchange calls this before its matching engine sees it)."""
        if isinstance(data, Bar):
            self._last[data.bar_type] = data

    def open_price(self, instrument_id: InstrumentId, side: OrderSide) -> Price | None:
        """Return the open of the bar being executed on the side ``side`` fills against, if any.

        A sell fills against the bid (a bid bar's open, or a trade bar's), a buy against the ask.
        """
        shortest: timedelta | None = None
        executing: dict[PriceType, Bar] = {}
        for bar_type, bar in self._last.items():
            if bar_type.instrument_id != instrument_id:
                continue
            delta = _execution_delta(bar_type)
            if delta is None or (shortest is not None and delta > shortest):
                continue
            if shortest is None or delta < shortest:
                shortest, executing = delta, {}
            executing[bar_type.spec.price_type] = bar
        if PriceType.BID in executing or PriceType.ASK in executing:
            bar = executing.get(PriceType.BID if side == OrderSide.SELL else PriceType.ASK)
        else:
            bar = executing.get(PriceType.LAST) or executing.get(PriceType.MID)
        return bar.open if bar is not None else None

    def top_size(self, instrument_id: InstrumentId, side: OrderSide) -> Any:
        """Return the size at the top of the exchange's book on the side ``side`` fills against."""
        book = self.exchange.get_book(instrument_id) if self.exchange is not None else None
        if book is None:
            return None
        return book.best_bid_size() if side == OrderSide.SELL else book.best_ask_size()

    def process(self, ts_now: int) -> None:
        """Do nothing on each time step (the tape only records bars)."""

    def log_diagnostics(self, logger: Any) -> None:
        """Log nothing."""

    def reset(self) -> None:
        """Forget every recorded bar."""
        self._last.clear()


def _execution_delta(bar_type: BarType) -> timedelta | None:
    """Return a bar type's length, or None if the matching engine never executes it."""
    if bar_type.aggregation_source == AggregationSource.INTERNAL:
        return None
    if bar_type.spec.aggregation == BarAggregation.MONTH:
        return None
    return bar_type.spec.timedelta


class GapFillModel(FillModel):  # type: ignore[misc]
    """Fill like nautilus' ``FillModel``, except a stop-market gapped over fills at the bar's open.

    Parameters
    ----------
    prob_fill_on_limit, prob_fill_on_stop, prob_slippage : float
        As nautilus' ``FillModel`` (seeded from ``random_seed``).
    random_seed : int, optional
        The seed.
    stop_gap_fill : {"open", "trigger"}
        The gap rule (see :class:`GapFillModelConfig`).
    config : GapFillModelConfig, optional
        All of the above (takes precedence), as nautilus' ``FillModelFactory`` passes it.
    """

    def __init__(
        self,
        prob_fill_on_limit: float = 1.0,
        prob_fill_on_stop: float = 1.0,
        prob_slippage: float = 0.0,
        random_seed: int | None = None,
        stop_gap_fill: GapFill = "open",
        config: GapFillModelConfig | None = None,
    ) -> None:
        super().__init__(
            prob_fill_on_limit=prob_fill_on_limit,
            prob_fill_on_stop=prob_fill_on_stop,
            prob_slippage=prob_slippage,
            random_seed=random_seed,
            config=config,
        )
        gap = config.stop_gap_fill if config is not None else stop_gap_fill
        if gap not in ("open", "trigger"):
            raise ValueError(f"stop_gap_fill must be 'open' or 'trigger' (value: {gap!r})")
        self.stop_gap_fill: GapFill = gap
        self._tape: BarTape | None = None

    def attach(self, tape: BarTape) -> None:
        """Read the bars being executed from ``tape`` (the :class:`BarTape` of the same exchange)."""
        self._tape = tape

    def get_orderbook_for_fill_simulation(
        self, instrument: Any, order: Any, best_bid: Price, best_ask: Price
    ) -> OrderBook | None:
        """Return a book at the bar's open for a gapped stop-market, else None (nautilus' own fill).

        The matching engine calls this for every market-style and limit fill with its current top of
        book. The book returned holds the exchange's top size at the open: a larger order fills the
        rest one tick worse, as nautilus fills any order larger than its L1 book.
        """
        tape = self._tape
        if tape is None or self.stop_gap_fill != "open" or order.order_type != OrderType.STOP_MARKET:
            return None
        side = order.side
        trigger = order.trigger_price
        opened = tape.open_price(instrument.id, side)
        if opened is None:
            return None
        if side == OrderSide.SELL:
            gapped = opened < trigger and best_bid == opened
        else:
            gapped = opened > trigger and best_ask == opened
        if not gapped:
            return None  # an intrabar stop, or not at the open tick: the trigger price stands
        size = tape.top_size(instrument.id, side)
        if size is None or not size.as_double() > 0:
            size = order.leaves_qty
        book = OrderBook(instrument.id, BookType.L2_MBP)
        book_side = OrderSide.BUY if side == OrderSide.SELL else OrderSide.SELL
        book.add(BookOrder(book_side, opened, size, 1), 0)
        return book


def importable_configs(
    *,
    prob_fill_on_limit: float = 1.0,
    prob_slippage: float = 0.0,
    random_seed: int | None = None,
    stop_gap_fill: GapFill = "open",
) -> tuple[ImportableFillModelConfig, ImportableActorConfig]:
    """Return the fill model and the bar tape module as nautilus importable configs.

    A node or sandbox builds them with ``FillModelFactory.create`` and ``ActorFactory.create`` and
    hands both to the same ``SimulatedExchange`` (``fill_model=``, ``modules=[...]``).
    """
    fill = ImportableFillModelConfig(
        fill_model_path=FILL_MODEL_PATH,
        config_path=FILL_MODEL_CONFIG_PATH,
        config={
            "prob_fill_on_limit": prob_fill_on_limit,
            "prob_slippage": prob_slippage,
            "random_seed": random_seed,
            "stop_gap_fill": stop_gap_fill,
        },
    )
    tape = ImportableActorConfig(actor_path=BAR_TAPE_PATH, config_path=BAR_TAPE_CONFIG_PATH, config={})
    return fill, tape
