"""Build nautilus instruments from recorded Bybit V5 payloads and/or inline config values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from nautilus_trader.model.currencies import USD
from nautilus_trader.model.identifiers import InstrumentId, Symbol
from nautilus_trader.model.instruments import CryptoPerpetual, CurrencyPair, Equity, Instrument
from nautilus_trader.model.objects import Currency, Money, Price, Quantity

from catalog.bybit import read_bybit_list
from catalog.config import InstrumentSpec
from catalog.errors import CatalogConfigError

_QUOTE_SUFFIXES = ("USDT", "USDC", "USD", "BTC", "ETH")
_FX_FEE = Decimal("0.00002")


def build_instrument(spec: InstrumentSpec) -> Instrument:
    """Build the nautilus instrument a spec describes.

    Parameters
    ----------
    spec : InstrumentSpec
        The instrument definition; for Bybit kinds the payload files are read (relative paths
        resolve against the working directory) and inline values override payload values.

    Returns
    -------
    Instrument
        ``CryptoPerpetual``, ``CurrencyPair`` or ``Equity`` with ``ts_event = ts_init = 0``.

    Raises
    ------
    CatalogConfigError
        If a payload file is missing or unreadable, or a required value is neither in the payload
        nor given inline.
    """
    try:
        InstrumentId.from_str(spec.id)
    except ValueError as exc:
        raise CatalogConfigError(f"instrument id {spec.id!r} is not '<symbol>.<venue>': {exc}") from exc
    build = {"crypto_perpetual": _crypto_perpetual, "crypto_spot": _crypto_spot, "currency_pair": _fx_pair}
    try:
        return build.get(spec.kind, _equity)(spec)
    except (ValueError, TypeError, ArithmeticError) as exc:  # nautilus' own checks (precision, margins, ...)
        raise CatalogConfigError(f"instrument {spec.id}: nautilus refuses its values: {exc}") from exc


def _find_symbol(path: str | None, symbol: str) -> dict[str, Any]:
    if path is None:
        return {}
    for row in read_bybit_list(path):
        if row.get("symbol") == symbol:
            return row
    return {}


def _pick(spec: InstrumentSpec, name: str, payload_value: object, source: str) -> Decimal:
    inline = getattr(spec, name)
    if inline is not None:
        return Decimal(inline)
    if payload_value is None or payload_value == "":
        raise CatalogConfigError(
            f"instrument {spec.id}: {name} is not in {source} for symbol {spec.symbol!r}; give {name} inline"
        )
    return Decimal(str(payload_value))


def _optional(spec: InstrumentSpec, name: str, payload_value: object) -> Decimal | None:
    inline = getattr(spec, name)
    if inline is not None:
        return Decimal(inline)
    if payload_value is None or payload_value == "":
        return None
    return Decimal(str(payload_value))


def _currency(code: str) -> Currency:
    return Currency.from_str(code, strict=False)


def _crypto_currencies(spec: InstrumentSpec, row: dict[str, Any]) -> tuple[Currency, Currency]:
    base = spec.base_currency or row.get("baseCoin")
    quote = spec.quote_currency or row.get("quoteCoin")
    if quote is None:
        quote = next((q for q in _QUOTE_SUFFIXES if spec.symbol.endswith(q) and spec.symbol != q), None)
    if base is None and quote is not None and spec.symbol.endswith(quote):
        base = spec.symbol[: -len(quote)]
    if not base or not quote:
        raise CatalogConfigError(
            f"instrument {spec.id}: base/quote currency unknown for {spec.symbol!r}; "
            "give base_currency and quote_currency inline"
        )
    return _currency(base), _currency(quote)


def _fees(spec: InstrumentSpec) -> tuple[Decimal, Decimal]:
    row = _find_symbol(spec.bybit_fee_rate, spec.symbol)
    source = spec.bybit_fee_rate or "config"
    maker = _pick(spec, "maker_fee", row.get("makerFeeRate"), source)
    taker = _pick(spec, "taker_fee", row.get("takerFeeRate"), source)
    return maker, taker


def _bybit_common(
    spec: InstrumentSpec, step_field: str, notional_field: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read the fields Bybit spot and linear instruments share; return (constructor kwargs, payload row).

    ``step_field`` and ``notional_field`` name the ``lotSizeFilter`` keys that hold the quantity step
    and the minimum notional (spot: ``basePrecision`` / ``minOrderAmt``; linear: ``qtyStep`` /
    ``minNotionalValue``).
    """
    row = _find_symbol(spec.bybit_instruments_info, spec.symbol)
    source = spec.bybit_instruments_info or "config"
    lots = row.get("lotSizeFilter", {})
    base, quote = _crypto_currencies(spec, row)
    tick = _pick(spec, "tick_size", row.get("priceFilter", {}).get("tickSize"), source)
    step = _pick(spec, "qty_step", lots.get(step_field), source)
    price_increment = Price.from_str(str(tick))
    size_increment = Quantity.from_str(str(step))
    min_qty = _optional(spec, "min_qty", lots.get("minOrderQty"))
    max_qty = _optional(spec, "max_qty", lots.get("maxOrderQty"))
    min_notional = _optional(spec, "min_notional", lots.get(notional_field))
    maker, taker = _fees(spec)
    kwargs: dict[str, Any] = {
        "instrument_id": InstrumentId.from_str(spec.id),
        "raw_symbol": Symbol(spec.symbol),
        "base_currency": base,
        "quote_currency": quote,
        "price_precision": price_increment.precision,
        "size_precision": size_increment.precision,
        "price_increment": price_increment,
        "size_increment": size_increment,
        "ts_event": 0,
        "ts_init": 0,
        "lot_size": Quantity.from_str(str(spec.lot_size if spec.lot_size is not None else step)),
        "max_quantity": _qty(max_qty, size_increment.precision),
        "min_quantity": _qty(min_qty, size_increment.precision),
        "min_notional": Money(min_notional, quote) if min_notional is not None else None,
        "margin_init": spec.margin_init,
        "margin_maint": spec.margin_maint,
        "maker_fee": maker,
        "taker_fee": taker,
        "info": {"source": source, "bybit": row} if row else {"source": "config"},
    }
    return kwargs, row


def _crypto_perpetual(spec: InstrumentSpec) -> CryptoPerpetual:
    kwargs, row = _bybit_common(spec, "qtyStep", "minNotionalValue")
    prices = row.get("priceFilter", {})
    precision = kwargs["price_precision"]
    min_price, max_price = prices.get("minPrice"), prices.get("maxPrice")
    settle_code = spec.settlement_currency or row.get("settleCoin") or kwargs["quote_currency"].code
    return CryptoPerpetual(
        settlement_currency=_currency(settle_code),
        is_inverse=False,
        max_price=Price(float(max_price), precision) if max_price else None,
        min_price=Price(float(min_price), precision) if min_price else None,
        **kwargs,
    )


def _crypto_spot(spec: InstrumentSpec) -> CurrencyPair:
    kwargs, _ = _bybit_common(spec, "basePrecision", "minOrderAmt")
    return CurrencyPair(**kwargs)


def _fx_pair(spec: InstrumentSpec) -> CurrencyPair:
    base_code, quote_code = spec.symbol.split("/", 1)
    base = _currency(spec.base_currency or base_code)
    quote = _currency(spec.quote_currency or quote_code)
    default_tick = Decimal("0.001") if quote.code == "JPY" else Decimal("0.00001")
    tick = spec.tick_size if spec.tick_size is not None else default_tick
    step = spec.qty_step if spec.qty_step is not None else Decimal(1)
    price_increment = Price.from_str(str(tick))
    size_increment = Quantity.from_str(str(step))
    return CurrencyPair(
        instrument_id=InstrumentId.from_str(spec.id),
        raw_symbol=Symbol(spec.symbol),
        base_currency=base,
        quote_currency=quote,
        price_precision=price_increment.precision,
        size_precision=size_increment.precision,
        price_increment=price_increment,
        size_increment=size_increment,
        ts_event=0,
        ts_init=0,
        lot_size=_qty(spec.lot_size if spec.lot_size is not None else Decimal(1), size_increment.precision),
        max_quantity=_qty(spec.max_qty, size_increment.precision),
        min_quantity=_qty(spec.min_qty if spec.min_qty is not None else Decimal(1), size_increment.precision),
        min_notional=Money(spec.min_notional, quote) if spec.min_notional is not None else None,
        margin_init=spec.margin_init,
        margin_maint=spec.margin_maint,
        maker_fee=spec.maker_fee if spec.maker_fee is not None else _FX_FEE,
        taker_fee=spec.taker_fee if spec.taker_fee is not None else _FX_FEE,
        info={"source": "config"},
    )


def _equity(spec: InstrumentSpec) -> Equity:
    tick = spec.tick_size if spec.tick_size is not None else Decimal("0.01")
    price_increment = Price.from_str(str(tick))
    currency = _currency(spec.quote_currency) if spec.quote_currency else USD
    return Equity(
        instrument_id=InstrumentId.from_str(spec.id),
        raw_symbol=Symbol(spec.symbol),
        currency=currency,
        price_precision=price_increment.precision,
        price_increment=price_increment,
        lot_size=_qty(spec.lot_size if spec.lot_size is not None else Decimal(1), 0) or Quantity.from_int(1),
        ts_event=0,
        ts_init=0,
        max_quantity=_qty(spec.max_qty, 0),
        min_quantity=_qty(spec.min_qty, 0),
        margin_init=spec.margin_init,
        margin_maint=spec.margin_maint,
        maker_fee=spec.maker_fee if spec.maker_fee is not None else Decimal(0),
        taker_fee=spec.taker_fee if spec.taker_fee is not None else Decimal(0),
        info={"source": "config"},
    )


def _qty(value: Decimal | None, precision: int) -> Quantity | None:
    if value is None:
        return None
    if value != round(value, precision):
        raise CatalogConfigError(f"quantity {value} has more decimals than the size precision {precision}")
    return Quantity(float(value), precision)
