"""Instruments from the recorded Bybit payloads and from inline config values."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from nautilus_trader.model.instruments import CryptoPerpetual, CurrencyPair, Equity
from nautilus_trader.model.objects import Money, Price, Quantity

from catalog.config import InstrumentSpec
from catalog.errors import CatalogConfigError
from catalog.instruments import build_instrument

REPO = Path(__file__).resolve().parents[2]
VENUE = REPO / "data" / "venues" / "bybit"
LINEAR = str(VENUE / "http_get_instruments_linear.json")
SPOT = str(VENUE / "http_get_instruments_spot.json")
FEES = str(VENUE / "http_get_fee_rate.json")


def test_btcusdt_perpetual_from_payloads() -> None:
    spec = InstrumentSpec(
        kind="crypto_perpetual", symbol="BTCUSDT", bybit_instruments_info=LINEAR, bybit_fee_rate=FEES
    )
    inst = build_instrument(spec)
    assert isinstance(inst, CryptoPerpetual)
    assert inst.id.value == "BTCUSDT-LINEAR.BYBIT"
    assert inst.raw_symbol.value == "BTCUSDT"
    assert inst.price_increment == Price.from_str("0.5")
    assert inst.price_precision == 1
    assert inst.size_increment == Quantity.from_str("0.001")
    assert inst.size_precision == 3
    assert inst.min_quantity == Quantity.from_str("0.001")
    assert inst.max_quantity == Quantity.from_str("100.000")
    assert inst.min_notional == Money(5, inst.quote_currency)
    assert inst.quote_currency.code == "USDT"
    assert inst.settlement_currency.code == "USDT"
    assert inst.base_currency.code == "BTC"
    assert inst.maker_fee == Decimal("0.0001")
    assert inst.taker_fee == Decimal("0.0006")
    assert inst.margin_init == Decimal("0.10")
    assert inst.margin_maint == Decimal("0.05")
    assert inst.ts_event == inst.ts_init == 0


def test_ethusdt_perpetual_tick_and_step() -> None:
    spec = InstrumentSpec(
        kind="crypto_perpetual", symbol="ETHUSDT", bybit_instruments_info=LINEAR, bybit_fee_rate=FEES
    )
    inst = build_instrument(spec)
    assert inst.price_increment == Price.from_str("0.05")
    assert inst.size_increment == Quantity.from_str("0.01")
    assert inst.min_quantity == Quantity.from_str("0.01")


def test_btcusdt_spot_from_payload() -> None:
    spec = InstrumentSpec(
        kind="crypto_spot", symbol="BTCUSDT", bybit_instruments_info=SPOT, bybit_fee_rate=FEES
    )
    inst = build_instrument(spec)
    assert isinstance(inst, CurrencyPair)
    assert inst.id.value == "BTCUSDT-SPOT.BYBIT"
    assert inst.price_increment == Price.from_str("0.1")
    assert inst.size_increment == Quantity.from_str("0.0001")  # basePrecision
    assert inst.min_quantity == Quantity.from_str("0.0010")
    assert inst.max_quantity == Quantity.from_str("100.0000")
    assert inst.min_notional == Money(10, inst.quote_currency)  # minOrderAmt
    assert inst.info["bybit"]["lotSizeFilter"]["quotePrecision"] == "0.01"


def test_inline_solusdt_perpetual_takes_fees_from_the_payload() -> None:
    spec = InstrumentSpec(
        kind="crypto_perpetual",
        symbol="SOLUSDT",
        bybit_instruments_info=LINEAR,  # SOLUSDT is not in it: inline values fill in
        bybit_fee_rate=FEES,
        tick_size=Decimal("0.01"),
        qty_step=Decimal("0.1"),
        min_qty=Decimal("0.1"),
        max_qty=Decimal("5000"),
        min_notional=Decimal("5"),
    )
    inst = build_instrument(spec)
    assert inst.id.value == "SOLUSDT-LINEAR.BYBIT"
    assert inst.base_currency.code == "SOL"
    assert inst.quote_currency.code == "USDT"
    assert inst.price_increment == Price.from_str("0.01")
    assert inst.size_increment == Quantity.from_str("0.1")
    assert inst.maker_fee == Decimal("0.00025")
    assert inst.taker_fee == Decimal("0.00075")


def test_inline_values_override_the_payload() -> None:
    spec = InstrumentSpec(
        kind="crypto_perpetual",
        symbol="BTCUSDT",
        bybit_instruments_info=LINEAR,
        bybit_fee_rate=FEES,
        tick_size=Decimal("0.1"),
        taker_fee=Decimal("0.00055"),
    )
    inst = build_instrument(spec)
    assert inst.price_increment == Price.from_str("0.1")
    assert inst.taker_fee == Decimal("0.00055")
    assert inst.maker_fee == Decimal("0.0001")


def test_symbol_missing_everywhere_names_file_and_field() -> None:
    spec = InstrumentSpec(
        kind="crypto_perpetual", symbol="DOGEUSDT", bybit_instruments_info=LINEAR, bybit_fee_rate=FEES
    )
    with pytest.raises(
        CatalogConfigError, match=r"tick_size is not in .*http_get_instruments_linear.json.*'DOGEUSDT'"
    ):
        build_instrument(spec)


def test_missing_payload_file_is_named() -> None:
    spec = InstrumentSpec(
        kind="crypto_perpetual", symbol="BTCUSDT", bybit_instruments_info="nowhere/linear.json"
    )
    with pytest.raises(CatalogConfigError, match=r"nowhere/linear\.json: Bybit payload file not found"):
        build_instrument(spec)


@pytest.mark.parametrize(("symbol", "precision"), [("EUR/USD", 5), ("GBP/USD", 5), ("USD/JPY", 3)])
def test_idealpro_fx_pairs(symbol: str, precision: int) -> None:
    inst = build_instrument(InstrumentSpec(kind="currency_pair", symbol=symbol))
    assert isinstance(inst, CurrencyPair)
    assert inst.id.value == f"{symbol}.IDEALPRO"
    assert inst.price_precision == precision
    assert inst.size_increment == Quantity.from_int(1)
    assert inst.lot_size == Quantity.from_int(1)
    assert inst.min_quantity == Quantity.from_int(1)
    assert inst.maker_fee == inst.taker_fee == Decimal("0.00002")


def test_fx_lot_size_from_config() -> None:
    inst = build_instrument(InstrumentSpec(kind="currency_pair", symbol="EUR/USD", lot_size=Decimal(1000)))
    assert inst.lot_size == Quantity.from_int(1000)


def test_spy_equity() -> None:
    inst = build_instrument(InstrumentSpec(kind="equity", symbol="SPY"))
    assert isinstance(inst, Equity)
    assert inst.id.value == "SPY.ARCA"
    assert inst.quote_currency.code == "USD"
    assert inst.price_increment == Price.from_str("0.01")
    assert inst.size_precision == 0
