"""Contract selection, exit levels, time stop and expiry value of the long-premium strategy."""

from __future__ import annotations

import pytest

from engine.options import expiry_value
from strategies.long_premium import ChainRow, exit_levels, select_contract, term_structure_ok, time_stop_due


def _row(name: str, *, call: bool = True, expiry: int = 20140627, dte: int = 20, iv: float = 0.3,
         delta: float = 0.45, price: float = 2.0) -> ChainRow:  # fmt: skip
    return ChainRow(name, call, 95.0, expiry, dte, iv, delta, -0.05, price)


def _chain(*rows: ChainRow) -> list[ChainRow]:
    # a sane next expiry (ATM IV 0.30) for the term-structure check
    return [*rows, _row("NEXT-C", expiry=20140719, dte=42, delta=0.5), _row("NEXT-P", call=False,
            expiry=20140719, dte=42, delta=-0.5)]  # fmt: skip


def test_picks_delta_closest_to_target_in_band():
    chain = _chain(_row("A", delta=0.36), _row("B", delta=0.46), _row("C", delta=0.56), _row("D", delta=0.5))
    assert select_contract(chain, want_call=True).instrument_id == "B"


def test_dte_band_and_right():
    chain = _chain(_row("SHORT", dte=6), _row("LONG", dte=31), _row("PUT", call=False, delta=-0.45))
    assert select_contract(chain, want_call=True) is None
    assert select_contract(chain, want_call=False).instrument_id == "PUT"


def test_missing_or_zero_iv_is_skipped():
    assert select_contract(_chain(_row("Z", iv=0.0)), want_call=True) is None


def test_inverted_term_structure_is_skipped():
    chain = _chain(_row("HOT", iv=0.40, delta=0.5))  # front ATM IV 0.40 vs next 0.30: +33%
    assert not term_structure_ok(chain, 20140627, True, 0.10)
    assert select_contract(chain, want_call=True, max_iv_inversion=0.10) is None
    assert select_contract(chain, want_call=True, max_iv_inversion=0.50).instrument_id == "HOT"


def test_no_later_expiry_fails_the_check():
    assert select_contract([_row("ONLY")], want_call=True) is None


def test_tie_break_is_deterministic():
    chain = _chain(
        _row("B", delta=0.45, dte=20), _row("A", delta=0.45, dte=20), _row("C", delta=0.45, dte=10)
    )
    assert select_contract(chain, want_call=True).instrument_id == "C"
    chain = _chain(_row("B", delta=0.45), _row("A", delta=0.45))
    assert select_contract(chain, want_call=True).instrument_id == "A"


@pytest.mark.parametrize(("tp", "sl"), [(0.3, 0.4), (0.6, 0.5)])
def test_exit_levels(tp, sl):
    stop, target = exit_levels(2.0, tp, sl)
    assert stop == pytest.approx(2.0 * (1 - sl))
    assert target == pytest.approx(2.0 * (1 + tp))


def test_time_stop_near_dte_over_seven():
    assert not time_stop_due(5, 28, 7.0)
    assert time_stop_due(4, 28, 7.0)
    assert time_stop_due(3, 21, 7.0)
    assert time_stop_due(1, 7, 7.0)
    assert not time_stop_due(2, 7, 7.0)


def test_expiry_value_itm_exercised_otm_worthless():
    assert expiry_value(True, 90.0, 91.28) == pytest.approx(1.28)
    assert expiry_value(True, 95.0, 91.28) == 0.0
    assert expiry_value(False, 95.0, 91.28) == pytest.approx(3.72)
    assert expiry_value(False, 90.0, 91.28) == 0.0
