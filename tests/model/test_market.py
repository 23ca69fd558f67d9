"""CryptoMarket: determinism, exact books after every step, sparse activation, phases and recording."""

from __future__ import annotations

import random  # noqa: TID251 (the test checks that the global state is left alone)
import time
from collections import Counter

import numpy as np
import pytest

from agents.leveraged import LeveragedTrader
from model.liquidation import LIQUIDATION_COLUMNS
from model.market import PHASE_NAMES, CryptoMarket, Phase
from model.recorder import TIMESERIES_COLUMNS
from tests.model.market_helpers import run_market, small_params

TINY = {
    "leveraged": {"count": 300},
    "market_makers": {"count": 4},
    "large_holders": {"count": 2},
    "background": {"fundamental_count": 9, "noise_count": 12},
}


def test_same_seed_same_results_different_seed_different() -> None:
    params = small_params(**TINY)
    a = run_market(params, seed=7, hours=0.1)
    b = run_market(params, seed=7, hours=0.1)
    c = run_market(params, seed=8, hours=0.1)
    ta, tb, tc = a.timeseries_frame(), b.timeseries_frame(), c.timeseries_frame()
    assert ta.equals(tb)
    assert a.liquidations_frame().equals(b.liquidations_frame())
    assert a.exchange.messages == b.exchange.messages
    assert not ta["mid"].equals(tc["mid"])


def test_no_global_random_state_is_used() -> None:
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002
    py_state = random.getstate()
    run_market(small_params(**TINY), seed=3, hours=0.05)
    assert np.array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    assert random.getstate() == py_state


def test_ledger_balances_and_open_interest_matches_after_every_step() -> None:
    params = small_params(
        **TINY, shocks=[{"kind": "index_jump", "symbol": "BTC", "pct": -0.06, "at_hour": 0.02}]
    )
    market = CryptoMarket(params, seed=5)
    led = market.exchange.ledger
    for _ in range(600):
        market.step()
        assert market.exchange.ledger_imbalance() == 0
        longs, shorts = led.open_interest_lots()
        assert np.array_equal(longs, shorts)
    # the shock made something happen: positions were liquidated and the books still balance
    assert len(market.liquidations_frame()) > 0


def test_activation_is_sparse_and_follows_the_poisson_rate() -> None:
    params = small_params(**TINY)
    market = CryptoMarket(params, seed=11)
    calls = 0
    original = LeveragedTrader.step

    def counting(self: LeveragedTrader) -> None:
        nonlocal calls
        calls += 1
        original(self)

    LeveragedTrader.step = counting  # type: ignore[method-assign]
    try:
        market.run_for(1800)
    finally:
        LeveragedTrader.step = original  # type: ignore[method-assign]
    expected = 300 * params.leveraged.decisions_per_hour * 0.5  # agents x rate x hours
    assert abs(calls - expected) < 5 * np.sqrt(expected)
    # far fewer activations than agent-steps: an idle trader costs nothing
    assert calls < 0.01 * 300 * 1800


def test_a_shock_fires_in_the_step_that_starts_at_its_time() -> None:
    params = small_params(
        **TINY, shocks=[{"kind": "whale_sale", "at_hour": 0.05, "fraction": 0.5, "mode": "block"}]
    )
    market = CryptoMarket(params, seed=2)
    holder = market.holders[0]
    market.run_for(0.05 * 3600)  # the steps covering [0 s, 180 s)
    assert holder.sold_lots == 0
    market.step()
    assert holder.sold_lots > 0
    assert market.shocks_applied and market.shocks_applied[0].startswith("whale_sale")


def test_maker_withdrawal_shock_empties_quotes_for_its_duration() -> None:
    params = small_params(
        **TINY,
        shocks=[{"kind": "maker_withdrawal", "at_hour": 0.02, "fraction": 1.0, "duration_minutes": 5}],
    )
    market = CryptoMarket(params, seed=4)
    market.run_for(0.02 * 3600 + 5)
    makers = list(market.makers)
    assert all(not market.exchange.open_orders(m.account) for m in makers)
    market.run_for(6 * 60)
    assert any(market.exchange.open_orders(m.account) for m in makers)


def test_recorded_tables_have_the_documented_columns() -> None:
    market = run_market(small_params(**TINY), seed=1, hours=0.05, sample_seconds=30)
    ts = market.timeseries_frame()
    assert list(ts.columns) == ["time_s", "symbol", *TIMESERIES_COLUMNS]
    assert set(ts["symbol"]) == {"BTC", "ETH", "SOL"}
    assert ts["time_s"].nunique() == 7  # t = 0, 30, ..., 180
    assert (ts["mid"] > 0).all() and (ts["open_interest_usd"] > 0).all()
    assert list(market.liquidations_frame().columns) == list(LIQUIDATION_COLUMNS)
    extras = market.summary_extras()
    assert extras["insurance_fund_start_usd"] == pytest.approx(2_000_000.0)


def test_bad_time_step_is_refused() -> None:
    with pytest.raises(ValueError, match="dt_seconds"):
        CryptoMarket(small_params(**TINY), seed=0, dt_seconds=120, sample_seconds=60)


# --------------------------------------------------------------------------- the step as data


def _noop() -> None:
    pass


def test_the_step_is_a_named_list_of_phases() -> None:
    market = CryptoMarket(small_params(**TINY), seed=1)
    assert tuple(name for name, _ in market.phases) == PHASE_NAMES
    assert all(callable(phase) for _, phase in market.phases)
    with pytest.raises(KeyError, match="no phase 'trade'"):
        market.replace_phase("trade", _noop)


def test_without_the_agents_phase_nothing_trades() -> None:
    market = CryptoMarket(small_params(**TINY), seed=3)
    ex = market.exchange
    market.replace_phase("agents", _noop)
    volume, messages, index = ex.volume_lots, ex.messages, ex.index_ticks
    market.run_for(300)
    assert not market.engine.events  # nothing was liquidated, so no one at all sent an order
    assert ex.volume_lots == volume and ex.messages == messages
    assert ex.index_ticks != index  # the drivers still ran
    assert ex.ledger_imbalance() == 0


def test_without_the_drivers_phase_the_index_is_frozen_while_trading_goes_on() -> None:
    # no fundamental traders: their spot hedges are the only other thing that moves an index
    params = small_params(**{**TINY, "background": {**TINY["background"], "fundamental_count": 0}})
    frozen = CryptoMarket(params, seed=4)
    frozen.replace_phase("drivers", _noop)
    moving = CryptoMarket(params, seed=4)
    index0 = frozen.exchange.index_ticks
    assert index0 == moving.exchange.index_ticks
    frozen.run_for(300)
    moving.run_for(300)
    assert frozen.exchange.index_ticks == index0 and frozen.macro.value == 0.0
    assert moving.exchange.index_ticks != index0
    assert sum(frozen.exchange.volume_lots) > 0  # agents traded against a still index


def test_timing_every_phase_changes_no_result() -> None:
    params = small_params(**TINY)
    plain = run_market(params, seed=6, hours=0.05)
    timed = CryptoMarket(params, seed=6)
    spent: Counter[str] = Counter()
    calls: Counter[str] = Counter()

    def timer(name: str, inner: Phase) -> Phase:
        def run() -> None:
            t0 = time.perf_counter()
            inner()
            spent[name] += time.perf_counter() - t0
            calls[name] += 1

        return run

    for name, phase in timed.phases:
        timed.replace_phase(name, timer(name, phase))
    timed.run_for(0.05 * 3600)
    assert set(calls.values()) == {180} and set(calls) == set(PHASE_NAMES)
    assert timed.timeseries_frame().equals(plain.timeseries_frame())
    assert timed.exchange.messages == plain.exchange.messages


def test_recording_only_reads_the_market() -> None:
    params = small_params(**TINY)
    recorded = run_market(params, seed=8, hours=0.05, sample_seconds=60)
    silent = CryptoMarket(params, seed=8)
    silent.replace_phase("record", _noop)
    silent.run_for(0.05 * 3600)
    assert len(silent.timeseries_frame()) == 3  # the sample taken at t = 0 only
    assert silent.exchange.messages == recorded.exchange.messages
    assert silent.exchange.volume_lots == recorded.exchange.volume_lots
    assert silent.fear_greed.value == recorded.fear_greed.value
