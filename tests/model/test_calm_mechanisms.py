"""The calm-market mechanisms of the recalibration (MARKET_FACTS §5), each tested by what it does.

* attention (``market.activity``): traders' decision clocks run faster where the realised volatility is
  above the calm one, so more of them act;
* holding horizons drawn from a gamma (``leveraged.holding_shape``): the same mean horizon, far fewer
  very short ones, so a population turns its positions over less;
* news pass-through (``market_makers.index_news_passthrough``): makers move their quotes with a jump of
  the index's exogenous path at once instead of following it part of the way per requote;
* a fast-market anchor (``market_makers.index_anchor_fast``): in a fast market makers lean on their own
  book rather than the (stale) index, so one-sided flow moves the perp;
* volatility widening above the calm volatility (``market_makers.vol_widening_above_calm``): a calm
  book quotes the base half-spread, a fast one widens;
* queue-aware requotes (``market_makers.keep_queue``): a shifted ladder keeps the orders at the levels it
  keeps (their time priority with them) and sends fewer messages;
* flow pricing (``market_makers.flow_impact_bps_per_musd``): makers move fair value with the tape's net
  taker flow, and the move fades with its half-life where the index does not follow.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.market import CryptoMarket, draw_leveraged
from model.orderbook import BUY, SELL
from model.params import ContagionParams, LeveragedTraderParams, MarketParams
from tests.model.market_helpers import small_params

TINY = {
    "leveraged": {"count": 300},
    "market_makers": {"count": 4},
    "large_holders": {"count": 0},
    "background": {"fundamental_count": 9, "noise_count": 12},
}


def _decisions_in(market: CryptoMarket, seconds: float, symbol: int, vol_multiple: float) -> int:
    """Clock firings of ``symbol``'s traders over ``seconds``, its realised vol held at a multiple."""
    fired = 0
    mask = market._clock_symbol == symbol
    market._attention_every = 10**9  # hold attention's volatility where the test puts it
    for _ in range(int(seconds)):
        market._attention_var[symbol] = (vol_multiple * market.view.base_vol_1s[symbol]) ** 2
        before = market._next_fire[mask].copy()
        market.phase_agents()
        fired += int(np.count_nonzero(market._next_fire[mask] != before))
        market.exchange.update_marks(market.dt_seconds)
        market._step_index += 1
    return fired


def test_traders_come_to_the_screen_when_the_price_moves() -> None:
    on = CryptoMarket(small_params(**TINY, activity={"vol_elasticity": 1.5}), seed=3)
    calm = _decisions_in(on, 600, 0, 1.0)
    on2 = CryptoMarket(small_params(**TINY, activity={"vol_elasticity": 1.5}), seed=3)
    fast = _decisions_in(on2, 600, 0, 3.0)
    off = CryptoMarket(small_params(**TINY), seed=3)
    fast_off = _decisions_in(off, 600, 0, 3.0)
    print(f"\nBTC traders' decisions in 10 min: {calm} calm, {fast} at 3x vol, {fast_off} without attention")
    # 3 ** 1.5 = 5.2x the rate (under the 6x cap): the count is Poisson, so 3x is far outside the noise
    assert fast > 3 * calm
    assert abs(fast_off - calm) < 0.3 * calm  # without attention the volatility changes nothing
    multiples = on2.activity_multiples()
    assert math.isclose(multiples[0], 3.0**1.5, rel_tol=1e-12)


def test_the_attention_loop_is_bounded_by_its_cap() -> None:
    market = CryptoMarket(small_params(**TINY, activity={"vol_elasticity": 2.0, "max_multiple": 4.0}), seed=1)
    market._attention_var[0] = (100.0 * market.view.base_vol_1s[0]) ** 2
    market._attention_var[1] = 0.0
    m = market.activity_multiples()
    assert m[0] == 4.0 and m[1] == market.params.activity.min_multiple


def test_gamma_horizons_keep_the_mean_and_cut_the_turnover() -> None:
    caps = [100.0, 100.0, 50.0]
    expo = draw_leveraged(
        np.random.default_rng(5),
        LeveragedTraderParams(count=20_000, holding_hours=48),
        ContagionParams(),
        caps,
    )
    gamma = draw_leveraged(
        np.random.default_rng(5),
        LeveragedTraderParams(count=20_000, holding_hours=48, holding_shape=3),
        ContagionParams(),
        caps,
    )
    h_expo, h_gamma = np.asarray(expo.holding_s) / 3600, np.asarray(gamma.holding_s) / 3600
    assert abs(h_expo.mean() / 48 - 1) < 0.03 and abs(h_gamma.mean() / 48 - 1) < 0.03
    # round trips per hour of the population ~ mean(1 / horizon): gamma(3) has 1.5 / mean analytically
    assert math.isclose(float(np.mean(1 / h_gamma)), 1.5 / 48, rel_tol=0.05)
    assert np.mean(1 / h_expo) > 3 * np.mean(1 / h_gamma)
    assert np.mean(h_expo < 1.0) > 10 * np.mean(h_gamma < 1.0)  # few traders who flip within the hour


def _makers_only(**makers: object) -> MarketParams:
    """A market of makers alone (no traders, holders or background flow): the quotes are the book."""
    return small_params(
        leveraged={"count": 0},
        large_holders={"count": 0},
        background={"fundamental_count": 0, "noise_count": 0},
        market_makers=makers,
    )


def _mid_after_news(passthrough: float) -> tuple[float, float]:
    """BTC's mid / its index's exogenous path - 1 (bp), 3 s and 60 s after a +1% jump of the path."""
    params = _makers_only(count=4, index_news_passthrough=passthrough, index_anchor=0.3)
    market = CryptoMarket(params, seed=2)
    market.run_for(30)
    market.index_driver.jump(0, 0.01)
    gaps = []
    for seconds in (3, 57):
        market.run_for(seconds)
        gaps.append((market.exchange.mid_ticks(0) / market.exchange.index_path_ticks(0) - 1) * 1e4)
    return gaps[0], gaps[1]


def test_makers_pass_news_through_at_once() -> None:
    soon_on, later_on = _mid_after_news(1.0)
    soon_off, later_off = _mid_after_news(0.0)
    print(
        f"\nmid vs news path after a +1% jump: {soon_on:.1f} / {later_on:.1f} bp with pass-through, "
        f"{soon_off:.1f} / {later_off:.1f} bp without"
    )
    assert abs(soon_on) < 10  # within 3 s the book is at the news, to a few bp
    assert soon_off < -30  # without it the first requote moves only the anchor's share of 100 bp
    assert abs(later_on) < 10


def test_a_calm_book_quotes_the_base_half_spread_when_widening_is_above_calm() -> None:
    spreads = {}
    for above in (False, True):
        params = _makers_only(count=2, half_spread_bps=0.5, vol_widening_above_calm=above)
        market = CryptoMarket(params, seed=4)
        market.run_for(120)
        bid, ask = market.exchange.best_bid(0), market.exchange.best_ask(0)
        spreads[above] = (ask - bid) / market.exchange.mid_ticks(0) * 1e4
    print(
        f"\ncalm BTC spread: {spreads[False]:.2f} bp widening on all vol, {spreads[True]:.2f} bp above calm"
    )
    assert spreads[True] < 1.5  # 2 x 0.5 bp plus a tick's rounding
    assert spreads[False] > 2 * spreads[True]  # the calm volatility alone widened it (20000 x ~1.7e-5 bp/s)


def _gap_after_a_sale(anchor_fast: float | None) -> float:
    """BTC's mid / index - 1 (bp) 30 s after a market sale, realised volatility held at 3x the calm one."""
    params = _makers_only(count=4, index_anchor=0.95, index_anchor_fast=anchor_fast)
    market = CryptoMarket(params, seed=6)
    observe = market.replace_phase("observe", lambda: None)

    def fast_observe() -> None:
        observe()
        market.view.vol_1s[0] = 3.0 * market.view.base_vol_1s[0]

    market.replace_phase("observe", fast_observe)
    market.run_for(30)
    ex = market.exchange
    seller = ex.open_account(10_000_000.0, leverage=10.0)
    ex.submit(seller, 0, SELL, ex.usd_to_lots(0, 1_500_000.0, ex.mid_ticks(0)))
    market.run_for(30)
    return (ex.mid_ticks(0) / ex.index_ticks[0] - 1.0) * 1e4


def test_in_a_fast_market_makers_lean_on_their_own_book() -> None:
    calm_anchor = _gap_after_a_sale(None)
    fast_anchor = _gap_after_a_sale(0.3)
    print(
        f"\nBTC mid vs index 30 s after a $1.5M sale at 3x vol: {calm_anchor:.1f} bp, {fast_anchor:.1f} fast"
    )
    assert fast_anchor < calm_anchor - 2.0  # the sale's impact stays in the book instead of snapping back


def test_attention_reads_a_volatility_the_step_size_does_not_change() -> None:
    """One-minute returns, not one-step ones: the bid-ask bounce of 1-s steps does not speed the clocks."""
    vols = {}
    for dt in (1.0, 10.0):
        market = CryptoMarket(small_params(**TINY, activity={"vol_elasticity": 1.5}), seed=9, dt_seconds=dt)
        market.run_for(1800)
        vols[dt] = (float(market.attention_vol_1s[0]), float(market.view.vol_1s[0]))
    print(f"\nattention vol (per sqrt s) / 1-step mark vol: dt=1 {vols[1.0]}, dt=10 {vols[10.0]}")
    assert vols[10.0][0] == pytest.approx(vols[1.0][0], rel=0.35)
    assert vols[1.0][0] != vols[1.0][1]  # it is not the view's 1-step estimate


# --------------------------------------------------------------------------- queue-aware quoting


def _tight_makers(**makers: object) -> MarketParams:
    """Four one-tick-tight makers alone on a BTC index that does not move by itself (calm_market's
    half-spread, layers and anchor; no volatility widening, so a ladder's shape stays and only its place
    moves)."""
    params = _makers_only(
        count=4, half_spread_bps=0.5, layer_spacing_bps=1.0, index_anchor=0.95, vol_widening=0.0, **makers
    )
    params.symbols[0].index_vol_per_day = 0.0
    return params


def _makers_after_a_move(keep_queue: bool) -> tuple[float, int]:
    """Share of the makers' BTC orders still resting (same order id) after they requote for a +2 bp move
    of the index, and the book messages the requotes cost."""
    params = _tight_makers(keep_queue=keep_queue)
    market = CryptoMarket(params, seed=4)
    market.run_for(30)
    ex = market.exchange

    def btc_orders() -> set[int]:
        return {
            o
            for m in market.makers
            for o in ex.open_orders(m.account)
            if (info := ex.order_info(o)) is not None and info[1] == 0
        }

    before = btc_orders()
    messages = ex.messages
    market.index_driver.jump(0, 2e-4)
    market.run_for(3)  # one quote interval: every maker requotes once
    return len(before & btc_orders()) / len(before), ex.messages - messages


def test_queue_aware_makers_keep_their_place_and_send_fewer_messages() -> None:
    kept_on, msgs_on = _makers_after_a_move(True)
    kept_off, msgs_off = _makers_after_a_move(False)
    print(f"\norders kept {kept_on:.0%} vs {kept_off:.0%}; messages {msgs_on} vs {msgs_off}")
    assert kept_off == 0.0  # cancel-and-post: every order went to the back of a queue
    # a ~2 bp shift of a 5-level ladder 1 bp apart: 3 of 5 levels a side land where orders rest
    assert kept_on > 0.5
    assert msgs_on < msgs_off


# --------------------------------------------------------------------------- flow impact


def _gap_after_a_buy(flow_impact_bps_per_musd: float) -> tuple[float, float, float]:
    """BTC's mid / index - 1 (bp) 3 s and 63 s after a $0.5M market buy, and the buy's notional ($M)."""
    params = _tight_makers(
        flow_impact_bps_per_musd=flow_impact_bps_per_musd,
        flow_impact_halflife_seconds=60.0,
        risk_aversion=0.0,  # no inventory skew: the makers' short position alone would lift the quotes
    )
    params.venue.index_arbitrage_per_second = 0.0  # the index stays where it is: only the makers move
    market = CryptoMarket(params, seed=5)
    market.run_for(30)
    ex = market.exchange
    taker = ex.open_account(5_000_000, leverage=5)
    res = ex.submit(taker, 0, BUY, ex.usd_to_lots(0, 500_000, ex.mid_ticks(0)))
    notional_musd = sum(f.price_ticks * f.lots for f in res.fills) * ex.tick_value_micro[0] / 1e12
    gaps = []
    for seconds in (3, 60):
        market.run_for(seconds)
        gaps.append((ex.mid_ticks(0) / ex.index_ticks[0] - 1.0) * 1e4)
    return gaps[0], gaps[1], notional_musd


def test_makers_price_the_tape_flow_and_its_impact_fades_with_the_half_life() -> None:
    soon_on, later_on, musd = _gap_after_a_buy(10.0)
    soon_off, later_off, _ = _gap_after_a_buy(0.0)
    print(
        f"\nafter a ${musd:.2f}M buy: {soon_on:.2f} / {later_on:.2f} bp with flow impact, "
        f"{soon_off:.2f} / {later_off:.2f} without"
    )
    expected = 10.0 * musd  # bp: the rule, lambda x the tape's net buying in $M
    # the makers re-anchor to the index without it; with it they stay up by lambda x flow, within a
    # requote's tolerance (1 bp: they requote when fair value moves by a layer)
    assert abs(soon_off) < 1.0
    assert soon_on - soon_off == pytest.approx(expected, abs=1.0)
    # one half-life later about half of it is left (again within the requote tolerance)
    assert later_on - later_off == pytest.approx(expected / 2, abs=1.0)
