"""Carry: perpetual funding at each settlement and the daily FX swap (rollover), in every mode.

:class:`CarryActor` is a nautilus actor. At each funding settlement of a perpetual (Bybit linear:
every 8 hours at 00:00, 08:00 and 16:00 UTC) it charges or credits the instrument's open position::

    payment = -signed quantity x multiplier x mark x rate

so a long pays and a short receives when the rate is positive. The mark is the latest quote mid, else
the latest bar close (bid and ask closes averaged) in the kernel's cache: backtests on bar data have no
separate mark-price series. The payment goes to the venue account (in a backtest through nautilus'
``SimulatedExchange.adjust_account``, reached with the :class:`VenueLink` simulation module), to the
risk desk's sub-ledger (:meth:`RiskDesk.record_funding`) and to the journal (``operator_actions``,
operator ``carry``, action ``funding``).

The same actor charges the FX swap of the pairs the carry file lists, at ``rollover`` (17:00) New
York time on each business day (Monday to Friday), three times on ``triple_weekday`` (Wednesday, as
FX convention has it: spot settles T+2, so Wednesday's rollover carries the weekend). A swap rate is
what a position receives per night, per unit of base currency: negative means it pays. ``pips``
rates are in pips (``pip_size``, default 0.0001, 0.01 for JPY quotes); ``annual_pct`` rates are a
percent a year of the position's notional at the mark, over 365 days.

Settlements follow data time (:mod:`engine.clock`): a settlement at ``T`` sees the kernel after every
bar stamped at or before ``T`` has been processed, in a backtest and in a replay alike, so a position
entered on the bar that closes at 08:00 pays the 08:00 funding.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from nautilus_trader.backtest.config import SimulationModuleConfig
from nautilus_trader.backtest.modules import SimulationModule
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.model.currencies import Currency
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import CryptoPerpetual, Instrument
from nautilus_trader.model.objects import Money

from catalog.funding import FundingSeries, load_funding
from catalog.identifiers import instrument_id_problem
from catalog.tomlconfig import describe_validation_error, read_toml
from engine.clock import ClockSource, DataTimeAlerts
from engine.errors import ConfigError
from engine.journal import OperatorActionRow, to_json
from engine.risk.desk import RiskDesk
from engine.risk.market import USD_LIKE, money_to_usd

NANOS_PER_SECOND = 1_000_000_000
NANOS_PER_MINUTE = 60 * NANOS_PER_SECOND
NANOS_PER_HOUR = 3_600 * NANOS_PER_SECOND
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class FundingSchedule(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Anchor the funding settlements: every series' ``interval_hours`` counted from ``anchor`` UTC."""

    anchor: str = "00:00"


class FxSwap(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One pair's swap: what a long and a short receive per night (negative: they pay)."""

    instrument: str
    unit: Literal["pips", "annual_pct"]
    long: float
    short: float
    pip_size: float | None = None
    note: str = ""


class FxRollover(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Time the FX rollover (local ``timezone``) and list the pairs it charges."""

    timezone: str = "America/New_York"
    rollover: str = "17:00"
    triple_weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday"] = "wednesday"
    swaps: list[FxSwap] = msgspec.field(default_factory=list)


class CarryConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold the carry file: the funding schedule and the FX swap table (``configs/carry.toml``)."""

    funding: FundingSchedule = msgspec.field(default_factory=FundingSchedule)
    fx: FxRollover = msgspec.field(default_factory=FxRollover)


def load_carry_config(path: str | Path) -> CarryConfig:
    """Read and validate a carry file.

    Raises
    ------
    ConfigError
        If the file is missing, is not TOML, breaks the schema or holds an impossible value; the
        message names the file, the field and the value.
    """
    origin = str(path)
    raw = read_toml(path, ConfigError)
    try:
        config = msgspec.convert(raw, CarryConfig, strict=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(describe_validation_error(origin, raw, exc, schema=CarryConfig)) from exc
    check_carry_config(config, origin)
    return config


def check_carry_config(config: CarryConfig, origin: str = "<carry>") -> None:
    """Reject times, zones and rates the schema allows but carry cannot honour.

    Raises
    ------
    ConfigError
        Naming the file, the field and the value.
    """
    _hhmm(config.funding.anchor, origin, "funding.anchor")
    _hhmm(config.fx.rollover, origin, "fx.rollover")
    try:
        ZoneInfo(config.fx.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{origin}: fx.timezone = {config.fx.timezone!r}: not an IANA time zone") from exc
    seen: set[str] = set()
    for index, swap in enumerate(config.fx.swaps):
        where = f"fx.swaps[{index}]"
        if (problem := instrument_id_problem(swap.instrument)) is not None:
            raise ConfigError(f"{origin}: {where}.instrument = {swap.instrument!r}: {problem}")
        if swap.instrument in seen:
            raise ConfigError(f"{origin}: {where}.instrument = {swap.instrument!r}: listed twice")
        seen.add(swap.instrument)
        for name in ("long", "short"):
            value = getattr(swap, name)
            if not math.isfinite(value):
                raise ConfigError(f"{origin}: {where}.{name} = {value!r}: must be finite")
            if swap.unit == "annual_pct" and abs(value) >= 100.0:
                raise ConfigError(f"{origin}: {where}.{name} = {value!r}: an annual percent in (-100, 100)")
        if swap.pip_size is not None and not swap.pip_size > 0:
            raise ConfigError(f"{origin}: {where}.pip_size = {swap.pip_size!r}: must be positive")


def _hhmm(text: str, origin: str, field: str) -> tuple[int, int]:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ConfigError(f"{origin}: {field} = {text!r}: must be HH:MM")
    return int(hours), int(minutes)


def next_settlement_ns(after_ns: int, interval_hours: int, anchor: str = "00:00") -> int:
    """Return the first funding settlement strictly after ``after_ns`` (UTC, every ``interval_hours``)."""
    hours, minutes = _hhmm(anchor, "<carry>", "funding.anchor")
    offset = (hours * 60 + minutes) * 60 * NANOS_PER_SECOND
    interval = interval_hours * NANOS_PER_HOUR
    return ((after_ns - offset) // interval + 1) * interval + offset


def next_rollover(after_ns: int, zone: str = "America/New_York", at: str = "17:00") -> tuple[int, str]:
    """Return the first FX rollover strictly after ``after_ns`` on a business day, and its weekday.

    The rollover is ``at`` local time in ``zone`` (daylight saving time applied), Monday to Friday.
    """
    tz = ZoneInfo(zone)
    hours, minutes = _hhmm(at, "<carry>", "fx.rollover")
    local = dt.datetime.fromtimestamp(after_ns / NANOS_PER_SECOND, tz=dt.UTC).astimezone(tz)
    day = local.date()
    while True:
        candidate = dt.datetime(day.year, day.month, day.day, hours, minutes, tzinfo=tz)
        ts = int(candidate.timestamp()) * NANOS_PER_SECOND
        if ts > after_ns and candidate.weekday() < 5:
            return ts, WEEKDAYS[candidate.weekday()]
        day += dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CarryPayment:
    """One funding or swap payment: positive received, negative paid, in USD."""

    ts: int
    instrument_id: str
    kind: str
    quantity: float
    mark: float
    rate: float
    nights: int
    amount_usd: float


ADJUST_ENDPOINT = "carry.adjust_account.{venue}"


class VenueLinkConfig(SimulationModuleConfig, frozen=True, kw_only=True):
    """Configure :class:`VenueLink`: the venue account's base currency."""

    base_currency: str = "USD"


class VenueLink(SimulationModule):  # type: ignore[misc]
    """Book carry payments into a simulated venue's account (nautilus keeps the exchange private).

    Load one into the venue's simulation modules (a backtest's ``add_venue(modules=[...])`` or the
    replay sandbox's); it registers the message-bus endpoint ``carry.adjust_account.<VENUE>``, and each
    USD amount sent there is booked through ``SimulatedExchange.adjust_account``.
    """

    def __init__(self, config: VenueLinkConfig | None = None) -> None:
        config = config or VenueLinkConfig()
        super().__init__(config)
        self._currency = Currency.from_str(config.base_currency)
        self._endpoint: str | None = None

    def adjust(self, amount: float) -> None:
        """Add ``amount`` (in the venue's base currency; negative debits) to the account balance."""
        if self.exchange is not None and amount != 0.0:
            self.exchange.adjust_account(Money(amount, self._currency))

    def process(self, ts_now: int) -> None:
        """Register the endpoint once the venue's message bus is known (the first time step)."""
        if self._endpoint is None and self.exchange is not None:
            self._endpoint = ADJUST_ENDPOINT.format(venue=self.exchange.id.value)
            self.exchange.msgbus.register(endpoint=self._endpoint, handler=self.adjust)

    def log_diagnostics(self, logger: Any) -> None:
        """Log nothing (payments are in the run summary and the journal)."""

    def reset(self) -> None:
        """Hold no state to reset."""


class CarryActorConfig(ActorConfig, frozen=True, kw_only=True):
    """Configure :class:`CarryActor` (the run config's ``[carry]`` section).

    ``catalog`` holds the funding series of ``instruments`` (``<catalog>/funding/``); ``clock`` is
    where data time comes from (``kernel`` in a backtest, ``feed`` in a replay, :mod:`engine.clock`).
    """

    config: str = "configs/carry.toml"
    funding: bool = True
    fx_swaps: bool = True
    catalog: str = "var/catalog"
    instruments: list[str] = []
    clock: ClockSource = "kernel"


class CarryActor(Actor):  # type: ignore[misc]
    """Charge funding on open perpetuals and FX swaps on open pairs at their settlement times.

    Each payment goes to the risk desk's sub-ledger (bound by the engine wiring; it also holds the
    latest funding rates for the funding filter), to the journal, and to the venue account through the
    venue's :class:`VenueLink` where it has one (a live venue books carry itself).
    """

    def __init__(self, config: CarryActorConfig) -> None:
        super().__init__(config)
        self._carry = load_carry_config(config.config)
        self._funding: dict[str, FundingSeries] = {}
        if config.funding:
            for instrument_id in config.instruments:
                series = load_funding(Path(config.catalog), instrument_id)
                if series is not None:
                    self._funding[instrument_id] = series
        self._swaps = {swap.instrument: swap for swap in self._carry.fx.swaps} if config.fx_swaps else {}
        self._alerts = DataTimeAlerts(self, config.clock, self._schedule_all, NANOS_PER_MINUTE)
        self._desk: RiskDesk | None = None
        self.payments: list[CarryPayment] = []
        self.missing: dict[str, int] = dict.fromkeys(self._funding, 0)

    def bind_risk_desk(self, desk: RiskDesk) -> None:
        """Attach the desk whose ledgers the payments are booked into."""
        self._desk = desk

    @property
    def desk(self) -> RiskDesk:
        """Return the bound desk."""
        if self._desk is None:
            raise RuntimeError(f"{self.id}: no risk desk bound; the engine wiring binds one")
        return self._desk

    def on_start(self) -> None:
        """Follow data time; the first settlements are scheduled from the first data time."""
        _ = self.desk
        self._alerts.start()

    def on_stop(self) -> None:
        """Stop following the feed."""
        self._alerts.stop()

    def _schedule_all(self, now: int) -> None:
        for instrument_id, series in self._funding.items():
            rate = series.last_settled(now)
            if rate is not None:
                self.desk.set_funding_rate(instrument_id, rate)
            self._schedule_funding(instrument_id, now)
        if self._swaps:
            self._schedule_rollover(now)

    # -- funding -------------------------------------------------------------------------------

    def _schedule_funding(self, instrument_id: str, after_ns: int) -> None:
        series = self._funding[instrument_id]
        ts = next_settlement_ns(after_ns, series.interval_hours, self._carry.funding.anchor)
        self._alerts.at(ts, lambda now: self._on_funding(instrument_id, now))

    def _on_funding(self, instrument_id: str, ts: int) -> None:
        self._schedule_funding(instrument_id, ts)
        series = self._funding[instrument_id]
        rate = series.rate_at(ts)
        if rate is None:
            self.missing[instrument_id] += 1
            return
        self.desk.set_funding_rate(instrument_id, rate)
        quantity = self._net_quantity(instrument_id)
        if quantity == 0.0:
            return
        instrument = self.cache.instrument(InstrumentId.from_str(instrument_id))
        mark = self.desk.market.mark(instrument_id)
        if instrument is None or mark is None:
            return
        amount = -quantity * float(instrument.multiplier) * mark * rate
        amount_usd = money_to_usd(amount, instrument.quote_currency.code, instrument, mark)
        self._pay(CarryPayment(ts, instrument_id, "funding", quantity, mark, rate, 1, amount_usd), instrument)

    # -- FX swaps ------------------------------------------------------------------------------

    def _schedule_rollover(self, after_ns: int) -> None:
        fx = self._carry.fx
        ts, weekday = next_rollover(after_ns, fx.timezone, fx.rollover)
        self._alerts.at(ts, lambda now: self._on_rollover(weekday, now))

    def _on_rollover(self, weekday: str, ts: int) -> None:
        self._schedule_rollover(ts)
        nights = 3 if weekday == self._carry.fx.triple_weekday else 1
        for instrument_id, swap in self._swaps.items():
            quantity = self._net_quantity(instrument_id)
            if quantity == 0.0:
                continue
            instrument = self.cache.instrument(InstrumentId.from_str(instrument_id))
            mark = self.desk.market.mark(instrument_id)
            if instrument is None or mark is None:
                continue
            rate = swap.long if quantity > 0 else swap.short
            amount = swap_amount(swap, quantity, mark, nights)
            amount_usd = money_to_usd(amount, instrument.quote_currency.code, instrument, mark)
            self._pay(
                CarryPayment(ts, instrument_id, "fx_swap", quantity, mark, rate, nights, amount_usd),
                instrument,
            )

    # -- booking -------------------------------------------------------------------------------

    def _net_quantity(self, instrument_id: str) -> float:
        positions = self.cache.positions_open(instrument_id=InstrumentId.from_str(instrument_id))
        return float(sum(position.signed_qty for position in positions))

    def _pay(self, payment: CarryPayment, instrument: Instrument) -> None:
        self.payments.append(payment)
        endpoint = ADJUST_ENDPOINT.format(venue=instrument.id.venue.value)
        if endpoint in self.msgbus.endpoints():
            self.msgbus.send(endpoint=endpoint, msg=payment.amount_usd)
        desk = self.desk
        desk.record_funding(payment.instrument_id, payment.amount_usd, payment.ts)
        desk.recorder.emit(
            OperatorActionRow(
                ts=payment.ts,
                asset=desk.book.asset_of(payment.instrument_id),
                operator="carry",
                action=payment.kind,
                detail=to_json(
                    {
                        "instrument_id": payment.instrument_id,
                        "quantity": payment.quantity,
                        "mark": payment.mark,
                        "rate": payment.rate,
                        "nights": payment.nights,
                        "amount_usd": payment.amount_usd,
                        "source": self._source(payment),
                    }
                ),
            )
        )

    def _source(self, payment: CarryPayment) -> str:
        if payment.kind == "funding":
            return self._funding[payment.instrument_id].source
        return "config"

    # -- reporting -----------------------------------------------------------------------------

    def summary(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Return the ``funding`` and ``fx_swaps`` sections of a run summary (source, payments, totals)."""
        funding: dict[str, dict[str, Any]] = {}
        for instrument_id, series in sorted(self._funding.items()):
            paid = [p for p in self.payments if p.kind == "funding" and p.instrument_id == instrument_id]
            funding[instrument_id] = {
                **series.describe(),
                "payments": len(paid),
                "total_usd": round(sum(p.amount_usd for p in paid), 8),
                "missing_settlements": self.missing[instrument_id],
            }
        swaps: dict[str, dict[str, Any]] = {}
        for instrument_id, swap in sorted(self._swaps.items()):
            paid = [p for p in self.payments if p.kind == "fx_swap" and p.instrument_id == instrument_id]
            swaps[instrument_id] = {
                "source": "config",
                "unit": swap.unit,
                "long": swap.long,
                "short": swap.short,
                "note": swap.note,
                "payments": len(paid),
                "total_usd": round(sum(p.amount_usd for p in paid), 8),
            }
        return {"funding": funding, "fx_swaps": swaps}


def swap_amount(swap: FxSwap, quantity: float, mark: float, nights: int) -> float:
    """Return the swap a position receives (negative: pays) over ``nights``, in the quote currency.

    ``quantity`` is signed in units of the base currency: positive long, negative short.
    """
    units = abs(quantity)
    rate = swap.long if quantity > 0 else swap.short
    if swap.unit == "pips":
        return units * rate * pip_size_of(swap) * nights
    return units * mark * rate / 100.0 / 365.0 * nights


def pip_size_of(swap: FxSwap) -> float:
    """Return the pip size of a swap's pair (0.01 for JPY quotes, 0.0001 otherwise, unless configured)."""
    if swap.pip_size is not None:
        return swap.pip_size
    return 0.01 if swap.instrument.split(".")[0].endswith("JPY") else 0.0001


def check_carry_inputs(
    instruments: Sequence[Instrument],
    funding: Mapping[str, FundingSeries],
    config: CarryConfig,
    *,
    charge_funding: bool,
    window_ns: tuple[int, int] | None,
    origin: str,
) -> None:
    """Fail fast when carry cannot be charged honestly.

    Every perpetual needs a funding series (a constant must be stated in the catalog config); a
    recorded series must cover the run's window; only linear perpetuals (USD-like quote) are supported;
    every swap's pair must be in the run.

    Raises
    ------
    ConfigError
        Naming what is missing and how to fix it.
    """
    ids = {str(instrument.id): instrument for instrument in instruments}
    if charge_funding:
        for instrument_id, instrument in ids.items():
            if not isinstance(instrument, CryptoPerpetual):
                continue
            if instrument.quote_currency.code not in USD_LIKE:
                raise ConfigError(f"carry: {instrument_id} is not a linear (USD-quoted) perpetual")
            series = funding.get(instrument_id)
            if series is None:
                raise ConfigError(
                    f"carry: no funding series for {instrument_id} beside the catalog (funding/): add a "
                    "[[funding]] entry to the catalog config (constant_rate = 0.0 states there is none) "
                    "and re-ingest"
                )
            if window_ns is not None and not series.covers(*window_ns):
                raise ConfigError(
                    f"carry: the recorded funding series of {instrument_id} ({series.origin}) does not cover "
                    f"the run's bars ({_iso(window_ns[0])} .. {_iso(window_ns[1])}); state a constant_rate "
                    "in the catalog config's [[funding]] entry instead"
                )
    for index, swap in enumerate(config.fx.swaps):
        if swap.instrument not in ids:
            raise ConfigError(
                f"{origin}: fx.swaps[{index}].instrument = {swap.instrument!r}: "
                f"not an instrument of this run {sorted(ids)}"
            )


def off_summary(instruments: Sequence[Instrument]) -> dict[str, dict[str, dict[str, Any]]]:
    """Return the carry summary of a run without ``[carry]``: every perpetual marked ``off``."""
    funding = {
        str(instrument.id): {"source": "off", "payments": 0, "total_usd": 0.0}
        for instrument in sorted(instruments, key=lambda i: str(i.id))
        if isinstance(instrument, CryptoPerpetual)
    }
    return {"funding": funding, "fx_swaps": {}}


def _iso(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / NANOS_PER_SECOND, tz=dt.UTC).isoformat()
