"""The journal's rows: one frozen struct per table; the table schema is derived from these fields.

Every row carries ``asset`` (the asset class, '' when not applicable), ``strategy_id``,
``snapshot_id`` (the market data the event was based on, '' when none) and ``ts``, the kernel clock in
integer nanoseconds (never the wall clock, except where nautilus stamps an order event with the
strategy's clock in a live node). The journal adds ``run_id``, ``mode`` and the row's key.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar

import msgspec


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """Hold the columns every journal table shares."""

    table: ClassVar[str]
    key: ClassVar[str] = "id"
    unique: ClassVar[tuple[str, ...]] = ()

    asset: str = ""
    strategy_id: str = ""
    snapshot_id: str = ""
    ts: int


class MarketSnapshot(Row, frozen=True, kw_only=True):
    """Identify the market data (a bar or a quote) a signal, order or fill was based on.

    ``snapshot_id`` is deterministic, e.g. ``f"{source}@{ts_event}"``, so the same bar recorded twice
    (or by two strategies) is stored once; ``ts`` equals ``ts_event``.
    """

    table: ClassVar[str] = "snapshots"
    unique: ClassVar[tuple[str, ...]] = ("snapshot_id",)

    instrument_id: str
    kind: str
    source: str
    ts_event: int
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    bid: float | None = None
    ask: float | None = None


class SignalRow(Row, frozen=True, kw_only=True):
    """A strategy's proposed entry before the desk sized it."""

    table: ClassVar[str] = "signals"
    key: ClassVar[str] = "signal_id"

    instrument_id: str
    side: str
    strength: str
    entry_price: float | None
    stop_price: float | None
    take_profit_price: float | None


class DecisionRow(Row, frozen=True, kw_only=True):
    """The desk's answer to a signal: approved with a quantity, or denied with a reason.

    ``inputs`` is JSON text (sorted keys) of every number the desk sized with.
    """

    table: ClassVar[str] = "decisions"

    instrument_id: str
    signal_id: int
    approved: bool
    reason: str
    bound_by: str
    quantity: float | None
    inputs: str


class OrderEventRow(Row, frozen=True, kw_only=True):
    """One order life-cycle event (initialized, submitted, accepted, filled, canceled, ...)."""

    table: ClassVar[str] = "order_events"

    instrument_id: str
    client_order_id: str
    event: str
    order_type: str
    side: str
    quantity: float | None
    price: float | None
    trigger_price: float | None
    tags: str
    detail: str


class FillRecord(Row, frozen=True, kw_only=True):
    """One execution as the venue reported it, with its commission converted to USD.

    The quantity is positive and the side ``BUY`` or ``SELL``; ``order_tag`` names the order's role
    (ENTRY, SL, TP, ...) and ``snapshot_id`` the quote or bar it traded against. ``(venue, trade_id)``
    is unique: a fill journaled once is never booked again.
    """

    table: ClassVar[str] = "fills"
    unique: ClassVar[tuple[str, ...]] = ("venue", "trade_id")

    venue: str
    trade_id: str
    client_order_id: str
    venue_order_id: str
    instrument_id: str
    side: str
    quantity: float
    price: float
    commission_usd: float
    liquidity: str = ""
    order_tag: str = ""


class RefusedFillRow(Row, frozen=True, kw_only=True):
    """A fill the engine refused to book (no market data backs its price)."""

    table: ClassVar[str] = "refused_fills"

    venue: str
    trade_id: str
    instrument_id: str
    price: float
    reason: str


class CloseRow(Row, frozen=True, kw_only=True):
    """A closed round trip with its profit and reward points (net USD after fees)."""

    table: ClassVar[str] = "closes"

    instrument_id: str
    side: str
    quantity: float
    entry_price: float
    exit_price: float
    gross_pnl_usd: float
    fees_usd: float
    net_pnl_usd: float
    reward_points: float
    exit_reason: str
    epoch: int


class EpochRow(Row, frozen=True, kw_only=True):
    """The start of a paper epoch: a ledger topped up after its equity fell to the threshold."""

    table: ClassVar[str] = "epochs"

    epoch: int
    topup_usd: float
    equity_before_usd: float
    reason: str


class OperatorActionRow(Row, frozen=True, kw_only=True):
    """An audited action: an operator's command, a risk event, a carry payment (``detail`` is JSON)."""

    table: ClassVar[str] = "operator_actions"

    operator: str
    action: str
    detail: str


ROW_TYPES: tuple[type[Row], ...] = (
    MarketSnapshot,
    SignalRow,
    DecisionRow,
    OrderEventRow,
    FillRecord,
    RefusedFillRow,
    CloseRow,
    EpochRow,
    OperatorActionRow,
)


def _json_default(value: object) -> object:
    if isinstance(value, Enum):
        return value.name
    return str(value)


_JSON = msgspec.json.Encoder(enc_hook=_json_default, order="sorted")


def to_json(value: dict[str, Any]) -> str:
    """Return ``value`` as JSON text with sorted keys (enums by name, other objects as text)."""
    return _JSON.encode(value).decode()
