"""Check nautilus identifier strings from configs before nautilus parses them.

nautilus 1.221's Rust parsers abort the whole process on some malformed values instead of raising
(a bar type with step 0, a trader id without a hyphen), so configs check the text first. Each
function returns what is wrong with the text, or None when nautilus will accept it.
"""

from __future__ import annotations

import re

_AGGREGATIONS = "MILLISECOND|SECOND|MINUTE|HOUR|DAY|WEEK|MONTH|TICK|VOLUME|VALUE"
_INSTRUMENT = r"\S(?:[^\n]*\S)?\.[A-Za-z0-9_]+"  # symbol (may hold '-', '/', '.'), '.', venue
_BAR_TYPE = re.compile(
    rf"^(?P<instrument>{_INSTRUMENT})-(?P<step>[1-9][0-9]*)-(?P<aggregation>{_AGGREGATIONS})"
    r"-(?P<price>BID|ASK|MID|LAST)-(?P<source>EXTERNAL|INTERNAL)$"
)
_INSTRUMENT_ID = re.compile(rf"^{_INSTRUMENT}$")
_CURRENCY = re.compile(r"^[A-Z0-9]{2,16}$")
_TRADER_ID = re.compile(r"^[A-Za-z0-9_]+-[A-Za-z0-9_-]+$")


def instrument_id_problem(text: str) -> str | None:
    """Return why ``text`` is not an instrument id ``SYMBOL.VENUE``, or None."""
    if not _INSTRUMENT_ID.match(text):
        return "an instrument id looks like 'BTCUSDT-LINEAR.BYBIT' (a symbol, '.', a venue of A-Z, 0-9, '_')"
    return None


def bar_type_problem(text: str) -> str | None:
    """Return why ``text`` is not a bar type ``<instrument>-<step>-<aggregation>-<price>-<source>``."""
    match = _BAR_TYPE.match(text)
    if match is None:
        return (
            "a bar type looks like 'BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL' "
            f"(<instrument>-<step >= 1>-<{_AGGREGATIONS}>-<BID|ASK|MID|LAST>-<EXTERNAL|INTERNAL>)"
        )
    return None


def bar_type_instrument(text: str) -> str:
    """Return the instrument id part of a bar type that passed :func:`bar_type_problem`."""
    match = _BAR_TYPE.match(text)
    return match.group("instrument") if match else text


def venue_of(instrument_id: str) -> str:
    """Return the venue of an instrument id ``SYMBOL.VENUE``."""
    return instrument_id.rsplit(".", 1)[-1]


def currency_problem(code: str) -> str | None:
    """Return why ``code`` is not a currency code (upper-case letters and digits), or None."""
    if not _CURRENCY.match(code):
        return "a currency code is 2-16 upper-case letters or digits, e.g. 'USDT', 'USD'"
    return None


def trader_id_problem(text: str) -> str | None:
    """Return why ``text`` is not a trader id ``NAME-TAG`` (nautilus needs the hyphen), or None."""
    if not _TRADER_ID.match(text):
        return "a trader id looks like 'BACKTEST-001' (letters, digits or '_', a hyphen, then a tag)"
    return None
