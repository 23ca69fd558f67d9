"""Relative-value desks: they sell an alt that BTC's fall has left rich, and carry the fall into it.

Tested by what they do in the book: after a BTC-only crash (the spot coupling off, so no alt index
moves with BTC's), the desks' sales move the alts' perps, and with the ``relative_value`` channel off the
alts stay where they were. The target rule, the leader leg and the bad-config error are tested directly.
"""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from agents.relative_value import RelativeValueTrader
from model.market import CryptoMarket
from model.params import MarketParams, default_symbols
from tests.model.market_helpers import drawdowns_pct, run_market, small_params

DESKS = {"count": 6, "threshold": 0.01, "full_gap": 0.05}
BTC_ONLY_CRASH = [{"kind": "index_jump", "symbol": "BTC", "pct": -0.08, "at_hour": 0.05}]


def _desks(market: CryptoMarket) -> list[RelativeValueTrader]:
    return [a for a in market.agents if isinstance(a, RelativeValueTrader)]


def _crash(relative_value: bool, seed: int) -> tuple[dict[str, float], list[tuple[int, int]]]:
    """Drawdowns (%) 0.3 h into a BTC-only -8% index jump with the spot coupling off, and each desk's
    (alt lots, BTC lots) at the end."""
    params = small_params(
        relative_value=DESKS,
        shocks=BTC_ONLY_CRASH,
        contagion={"index_coupling": False, "relative_value": relative_value},
    )
    market = run_market(params, seed, 0.3)
    ex = market.exchange
    return drawdowns_pct(market), [
        (ex.positions(d.account)[d.symbol], ex.positions(d.account)[0]) for d in _desks(market)
    ]


def test_desks_carry_a_btc_crash_into_the_alts() -> None:
    """Same seeds, the channel off: BTC falls 8% either way; with the desks the alts fall at least twice
    as far as without them (mean over two seeds and both alts), where only their own noise moves them.
    The desks end short the alt and long BTC; switched off, they never trade."""
    on_dd, off_dd = [], []
    for seed in (1, 2):
        on, books = _crash(True, seed)
        off, idle = _crash(False, seed)
        print(f"\nseed {seed}: BTC/ETH/SOL dd with desks {on}, without {off}")
        assert on["BTC"] > 6.0 and off["BTC"] > 6.0
        on_dd += [on["ETH"], on["SOL"]]
        off_dd += [off["ETH"], off["SOL"]]
        assert all(alt < 0 < btc for alt, btc in books)  # short the rich alt, long the leader
        assert all(alt == 0 and btc == 0 for alt, btc in idle)
    on_mean, off_mean = sum(on_dd) / len(on_dd), sum(off_dd) / len(off_dd)
    assert on_mean > 2.0 * off_mean and on_mean > off_mean + 0.5


def test_the_leader_leg_is_beta_times_the_alt_notional() -> None:
    """Each decision brings the BTC leg back to ``-beta x`` the alt notional (here with IOCs allowed 1%
    through the mid, so that the book just after the crash fills them)."""
    desks = {**DESKS, "limit_slippage": 0.01}
    params = small_params(relative_value=desks, shocks=BTC_ONLY_CRASH, contagion={"index_coupling": False})
    market = run_market(params, 1, 0.2)
    ex = market.exchange
    for desk in _desks(market):
        s = desk.symbol
        alt_usd = ex.positions(desk.account)[s] * ex.tick_value_micro[s] * ex.mid_ticks(s) / 1e6
        btc_usd = ex.positions(desk.account)[0] * ex.tick_value_micro[0] * ex.mid_ticks(0) / 1e6
        assert abs(alt_usd) > 100_000.0
        # kept at every decision against the mids then (the last one seconds ago), to BTC's lot
        assert btc_usd == pytest.approx(-desk.beta * alt_usd, rel=0.05, abs=100.0)


def test_the_target_grows_from_the_threshold_to_the_full_gap() -> None:
    market = CryptoMarket(small_params(relative_value=DESKS), seed=1)
    desk = _desks(market)[0]
    p = market.params.relative_value
    most = p.capital_usd * p.position_capital_multiple
    assert desk.target_usd(0.005) == 0.0  # inside the threshold: nothing
    assert desk.target_usd(0.03) == pytest.approx(-most * (0.03 - 0.01) / (0.05 - 0.01))  # rich: short
    assert desk.target_usd(-0.08) == pytest.approx(most)  # cheap past the full gap: the whole capital long


def test_the_reference_accepts_a_new_relation_with_its_half_life() -> None:
    market = CryptoMarket(small_params(relative_value=DESKS), seed=1)
    desk = _desks(market)[0]
    view = market.view
    assert desk.gap(view) == 0.0  # the first look sets the reference
    s = desk.symbol
    view.mid_ticks[s] *= math.exp(0.02)  # the alt 2% richer
    assert desk.gap(view) == pytest.approx(0.02, abs=1e-9)  # read before the reference moves
    view.time_s += desk._p.halflife_seconds  # one half-life later, the same prices
    assert desk.gap(view) == pytest.approx(0.02, abs=1e-9)  # the reference had not moved yet
    assert desk.gap(view) == pytest.approx(0.01, abs=1e-9)  # now half of it is accepted


def test_a_market_without_desks_draws_what_it_drew_before() -> None:
    """Zero desks (the default) open no accounts and draw nothing: the clocks are the same numbers."""
    a = run_market(small_params(), 4, 0.05)
    b = run_market(small_params(relative_value={"count": 0, "capital_usd": 5e6}), 4, 0.05)
    assert a.timeseries_frame().equals(b.timeseries_frame())


def test_desks_need_an_alt() -> None:
    with pytest.raises(ValidationError, match=r"relative_value\.count"):
        MarketParams.model_validate(
            {"symbols": [default_symbols()[0].model_dump()], "relative_value": {"count": 2}}
        )
