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
  taker flow, and the move fades with its half-life where the index does not follow; what the index
  follows stays, counted once;
* band-edge quoting (``market_makers.quote_within_price_band``) and picking off stale quotes
  (``market_makers.take_stale_quotes``): after a jump of the index past the price band the makers keep a
  book at the band's edge and hit the orders the jump left behind, so the perp follows its index;
* a deep ladder (``market_makers.layer_spacing_growth``, ``layer_size_growth``): gaps and sizes grow outward;
* spot hedging (``market_makers.hedge_share``): the flow the makers absorb moves the index by its spot
  impact, and the perp with it;
* attention's own half-life (``activity.vol_halflife_seconds``): traders stay at the screen after a move
  for longer than the makers' volatility estimate remembers it;
* heterogeneous attention horizons (``activity.horizon_halflives_seconds``): some traders leave the
  screen a minute after a move, others stay for hours;
* attention scaled by leverage (``activity.leverage_reference``): a move brings a trader to the screen by
  what it does to its equity, so a 1x account reacts a fraction as much as a 10x one;
* BTC watchers on BTC's clock (``activity.watchers_on_leader_clock``): alt traders who read BTC's moves
  come to the screen when BTC moves;
* makers first (``market_makers.requote_first``): the makers requote to the step's news before the
  traders act, so a long step does not hand the traders a book one step stale;
* basis arbitrage after trading (``venue.index_arbitrage_after_trading``): the pull of the index toward
  the perp reads the mid the step's trading left, so it does not pull back the step's own news;
* a coupled alt's calm volatility (``view.calm_vol_with_coupling``): the reference agents compare the
  realised volatility with counts the alt's share of the leader's news, so a calm coupled alt does not
  look fast to its traders.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from experiments.config import load_raw, resolve_config_path
from model.drivers import IndexDriver
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


def test_against_its_recent_level_lasting_volatility_stops_bringing_traders() -> None:
    """``activity.vol_reference_halflife_seconds`` 120 s: with BTC's attention volatility held at 3x the
    calm one for 20 minutes, the reference catches up (0.5 ** (1200 / 120): 0.1% of the gap left), so
    over the last 10 minutes traders decide at about their calm rate; against the calm volatility they
    decide at 3 ** 1.5 = 5.2x it the whole time."""
    activity = {"vol_elasticity": 1.5}
    calm = _decisions_in(CryptoMarket(small_params(**TINY, activity=activity), seed=3), 600, 0, 1.0)
    counts = {}
    for name, ref in (("calm reference", None), ("120-s reference", 120.0)):
        market = CryptoMarket(
            small_params(**TINY, activity={**activity, "vol_reference_halflife_seconds": ref}), seed=3
        )
        _decisions_in(market, 600, 0, 3.0)
        counts[name] = _decisions_in(market, 600, 0, 3.0)
    print(f"\nBTC traders' decisions in the 2nd 10 min at 3x vol: {counts}; calm: {calm}")
    assert counts["calm reference"] > 3 * calm
    assert abs(counts["120-s reference"] - calm) < 0.3 * calm


def _decisions_by_leverage(vol_multiple: float, reference: float | None) -> dict[str, int]:
    """Decisions of BTC's traders at 10x or more and at 2x over an hour, the volatility held at a multiple."""
    activity = {"vol_elasticity": 1.5, "leverage_reference": reference}
    market = CryptoMarket(small_params(**TINY, activity=activity), seed=3)
    lev = np.array([a.leverage for a in market._clocked])
    btc = market._clock_symbol == 0
    groups = {"10x+": (lev >= 10) & btc, "2x": (lev == 2) & btc}
    market._attention_every = 10**9
    counts = dict.fromkeys(groups, 0)
    for _ in range(3600):
        market._attention_var[0] = (vol_multiple * market.view.base_vol_1s[0]) ** 2
        before = market._next_fire.copy()
        market.phase_agents()
        changed = market._next_fire != before
        for name, mask in groups.items():
            counts[name] += int(np.count_nonzero(changed & mask))
        market.exchange.update_marks(market.dt_seconds)
        market._step_index += 1
    return counts


def test_attention_scaled_by_leverage_brings_leveraged_traders_more() -> None:
    """``activity.leverage_reference`` 10: at 3x the calm volatility the multiple is 3 ** 1.5 = 5.2; a
    trader at 10x or more takes all of it, a 2x trader a fifth of the excess (1 + 0.2 x 4.2 = 1.8x its
    calm rate). Without the reference both take all of it."""
    calm = _decisions_by_leverage(1.0, 10.0)
    fast = _decisions_by_leverage(3.0, 10.0)
    fast_all = _decisions_by_leverage(3.0, None)
    ratio = {k: fast[k] / calm[k] for k in calm}
    print(f"\nBTC decisions in an hour, calm {calm}, at 3x vol {fast} (weighted), {fast_all} (unweighted)")
    assert calm["2x"] > 80 and calm["10x+"] > 80  # enough decisions for the ratios to mean something
    assert ratio["10x+"] == pytest.approx(3.0**1.5, rel=0.25)
    assert ratio["2x"] == pytest.approx(1.0 + 0.2 * (3.0**1.5 - 1.0), rel=0.25)
    assert fast_all["2x"] / calm["2x"] == pytest.approx(3.0**1.5, rel=0.25)


def test_the_attention_loop_is_bounded_by_its_cap() -> None:
    market = CryptoMarket(small_params(**TINY, activity={"vol_elasticity": 2.0, "max_multiple": 4.0}), seed=1)
    market._attention_var[0] = (100.0 * market.view.base_vol_1s[0]) ** 2
    market._attention_var[1] = 0.0
    m = market.activity_multiples()
    assert m[0] == 4.0 and m[1] == market.params.activity.min_multiple


def _alt_decisions_while_btc_moves(btc_watchers: bool, on_leader: bool = True) -> tuple[float, float, int]:
    """Clock firings per trader over 10 minutes of ETH's single-symbol traders who watch BTC and of
    those who do not (and how many watch), BTC's realised volatility held at 4x its calm one and ETH's
    at its calm one."""
    params = small_params(
        **TINY,
        activity={"vol_elasticity": 1.5, "watchers_on_leader_clock": on_leader},
        contagion={"btc_watchers": btc_watchers},
    )
    market = CryptoMarket(params, seed=4)
    market._attention_every = 10**9  # hold attention's volatility where the test puts it
    watcher = np.array([bool(getattr(a, "watch_btc", False)) for a in market._clocked])
    eth = np.array([list(getattr(a, "symbols", ())) == [1] for a in market._clocked])  # ETH-only traders
    fired = np.zeros(2, dtype=int)
    for _ in range(600):
        market._attention_var[0] = (4.0 * market.view.base_vol_1s[0]) ** 2
        market._attention_var[1] = market.view.base_vol_1s[1] ** 2
        before = market._next_fire.copy()
        market.phase_agents()
        moved = market._next_fire != before
        fired += [int(np.count_nonzero(moved & eth & watcher)), int(np.count_nonzero(moved & eth & ~watcher))]
        market.exchange.update_marks(market.dt_seconds)
        market._step_index += 1
    n_watch = int(np.count_nonzero(eth & watcher))
    n_other = int(np.count_nonzero(eth & ~watcher))
    return fired[0] / max(n_watch, 1), fired[1] / n_other, n_watch


def test_btc_watchers_come_to_the_screen_when_btc_moves() -> None:
    """A trader who reads BTC's moves for its alt decisions runs in BTC's operational time: with BTC at
    4x its calm volatility and ETH calm, ETH's BTC watchers decide several times as often per trader as
    ETH's other traders (``activity.watchers_on_leader_clock``). With the channel off nobody watches, and
    with the switch off the watchers keep ETH's clock."""
    per_watcher, per_other, n_watch = _alt_decisions_while_btc_moves(True)
    _, per_trader_off, n_watch_off = _alt_decisions_while_btc_moves(False)
    per_watcher_own, per_other_own, _ = _alt_decisions_while_btc_moves(True, on_leader=False)
    print(
        f"\nETH decisions per trader in 10 min, BTC at 4x vol: {per_watcher:.2f} by its {n_watch} BTC "
        f"watchers, {per_other:.2f} by the others; channel off: {per_trader_off:.2f}; watchers on ETH's "
        f"clock: {per_watcher_own:.2f} / {per_other_own:.2f}"
    )
    assert n_watch > 10 and n_watch_off == 0
    # 4 ** 1.5 = 8x the rate; Poisson counts of this size are far from a 3x ratio by chance
    assert per_watcher > 3.0 * per_other
    assert per_trader_off < 2.0 * per_other  # off: ETH's traders keep ETH's calm clock
    assert per_watcher_own < 2.0 * per_other_own  # switch off: watchers keep the clock of what they trade


def _attention_left(halflife_s: float | None) -> float:
    """Share of a burst of BTC attention variance (100x the calm one) left after 10 calm minutes."""
    activity = {"vol_elasticity": 1.5, "vol_halflife_seconds": halflife_s}
    market = CryptoMarket(small_params(**TINY, activity=activity), seed=2)
    base = market.view.base_vol_1s[0] ** 2
    market._attention_var[0] = 100.0 * base
    market.run_for(600)
    return float((market._attention_var[0] - base) / (99.0 * base))


def test_attention_can_stay_after_a_move_longer_than_the_makers_volatility() -> None:
    """``activity.vol_halflife_seconds``: traders stay at the screen for as long as it says after a burst
    of volatility (30 min: 0.5 ** (600 / 1800) = 79% of it is left after 10 minutes), whatever the
    volatility half-life the makers read (the view's 300 s, which attention follows by default: 25%)."""
    slow, default = _attention_left(1800.0), _attention_left(None)
    print(f"\nattention burst left after 10 min: {slow:.1%} (30-min half-life), {default:.1%} (the view's)")
    assert slow == pytest.approx(0.5 ** (600 / 1800), abs=0.05)
    assert default == pytest.approx(0.5 ** (600 / 300), abs=0.05)


def test_heterogeneous_horizons_keep_some_traders_at_the_screen_for_hours() -> None:
    """``activity.horizon_halflives_seconds`` [60, 3600]: after a burst of volatility (10x the calm
    variance) on every symbol, the traders dealt the one-minute horizon are back near their calm rate within
    minutes while those dealt the one-hour horizon keep deciding at several times theirs: 0.5 ** (600 /
    3600) = 89% of the burst is left in their attention after 10 minutes, against 0.1% at one minute. With
    the market at its calm volatility the expected rate multiples over the 10 minutes average ~1.9 (minute)
    and ~5.4 (hour), a ratio of ~2.8."""
    activity = {"vol_elasticity": 1.5, "horizon_halflives_seconds": [60.0, 3600.0]}
    market = CryptoMarket(small_params(**TINY, activity=activity), seed=2)
    n_sym = market.n_symbols
    base = np.tile(np.asarray(market.view.base_vol_1s) ** 2, 2)
    market._attention_var[:] = 10.0 * base
    horizon = np.arange(len(market._clocked)) % 2
    fired = np.zeros(2)
    for _ in range(600):
        before = market._next_fire.copy()
        market.step()
        moved = market._next_fire != before
        fired += [np.count_nonzero(moved & (horizon == 0)), np.count_nonzero(moved & (horizon == 1))]
    per_trader = fired / [np.count_nonzero(horizon == 0), np.count_nonzero(horizon == 1)]
    left = (market._attention_var - base) / (9.0 * base)
    print(
        f"\ndecisions per trader in 10 min after a burst: {per_trader[0]:.2f} (1-min horizon), "
        f"{per_trader[1]:.2f} (1-h); burst left: {left[0]:.1%} / {left[n_sym]:.1%} (BTC)"
    )
    # the minute class now reads the market's own recent volatility (a little above the calm one here), the
    # hour class still mostly the burst
    assert left[n_sym] == pytest.approx(0.5 ** (600 / 3600), abs=0.05)
    assert left[0] < left[n_sym] - 0.5
    assert per_trader[1] > 2.0 * per_trader[0]


def test_one_attention_horizon_is_the_single_half_life() -> None:
    """A list of one half-life is the same market as ``vol_halflife_seconds`` at that value: the same
    clocks fire, so the books and prices are bit-identical."""
    runs = []
    for activity in (
        {"vol_elasticity": 1.5, "vol_halflife_seconds": 900.0},
        {"vol_elasticity": 1.5, "horizon_halflives_seconds": [900.0]},
    ):
        market = CryptoMarket(small_params(**TINY, activity=activity), seed=5)
        market.run_for(300)
        runs.append(
            ([market.exchange.mid_ticks(s) for s in range(market.n_symbols)], market._next_fire.copy())
        )
    assert runs[0][0] == runs[1][0]
    assert np.array_equal(runs[0][1], runs[1][1])


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


def _gap_after_a_buy(flow_impact_bps_per_musd: float, **makers: object) -> tuple[float, float, float]:
    """BTC's mid / index - 1 (bp) 3 s and 63 s after a $0.5M market buy, and the buy's notional ($M)."""
    params = _tight_makers(
        flow_impact_bps_per_musd=flow_impact_bps_per_musd,
        flow_impact_halflife_seconds=60.0,
        risk_aversion=0.0,  # no inventory skew: the makers' short position alone would lift the quotes
        **makers,
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


def test_beyond_the_knee_the_flow_is_priced_by_the_square_root_law() -> None:
    linear, _, musd = _gap_after_a_buy(40.0)
    concave, _, _ = _gap_after_a_buy(40.0, flow_impact_linear_up_to_usd=100_000, flow_impact_concavity=0.5)
    below, _, _ = _gap_after_a_buy(40.0, flow_impact_linear_up_to_usd=2_000_000, flow_impact_concavity=0.5)
    off, _, _ = _gap_after_a_buy(0.0)
    print(
        f"\nafter a ${musd:.2f}M buy at 40 bp per $1M: {linear - off:.2f} bp linear, "
        f"{concave - off:.2f} with a $0.1M knee, {below - off:.2f} with a $2M knee"
    )
    # one look sees the whole buy: 40 bp x 0.1 x (musd / 0.1)^0.5 beyond a $0.1M knee, 40 x musd below it
    assert musd > 0.3
    assert concave - off == pytest.approx(40.0 * 0.1 * (musd / 0.1) ** 0.5, abs=1.0)
    assert linear - off == pytest.approx(40.0 * musd, abs=1.0)
    assert below == pytest.approx(linear, abs=1e-9)  # under the knee nothing changes


def _flow_gap_in_a_fast_market(
    elasticity: float, max_multiple: float, reference_halflife_s: float | None = None, fast_minutes: int = 1
) -> tuple[float, float]:
    """BTC's mid / index - 1 (bp) 3 s after a $0.5M market buy that follows ``fast_minutes`` of +-30 bp
    index jumps every 5 s (the mark's realised volatility tens of times the index's calm one), and the
    buy's notional ($M)."""
    params = _tight_makers(
        flow_impact_bps_per_musd=10.0,
        flow_impact_halflife_seconds=600.0,  # long: the offset barely fades over the 3 s measured
        flow_impact_vol_elasticity=elasticity,
        flow_impact_max_multiple=max_multiple,
        flow_impact_vol_reference_halflife_seconds=reference_halflife_s,
        risk_aversion=0.0,
    )
    params.symbols[0].index_vol_per_day = 0.01  # a calm volatility to compare the realised one with
    params.venue.index_arbitrage_per_second = 0.0
    market = CryptoMarket(params, seed=5)
    market.run_for(30)
    for k in range(12 * fast_minutes):
        market.index_driver.jump(0, 0.003 if k % 2 == 0 else -0.003)
        market.run_for(5)
    ex = market.exchange
    before = (ex.mid_ticks(0) / ex.index_ticks[0] - 1.0) * 1e4
    taker = ex.open_account(5_000_000, leverage=5)
    res = ex.submit(taker, 0, BUY, ex.usd_to_lots(0, 500_000, ex.mid_ticks(0)))
    notional_musd = sum(f.price_ticks * f.lots for f in res.fills) * ex.tick_value_micro[0] / 1e12
    market.run_for(3)
    return (ex.mid_ticks(0) / ex.index_ticks[0] - 1.0) * 1e4 - before, notional_musd


def test_flow_is_priced_higher_in_a_fast_market_up_to_the_bound() -> None:
    constant, musd = _flow_gap_in_a_fast_market(0.0, 3.0)
    capped3, _ = _flow_gap_in_a_fast_market(1.0, 3.0)
    capped2, _ = _flow_gap_in_a_fast_market(1.0, 2.0)
    print(
        f"\nafter ${musd:.2f}M in a fast market: {constant:.2f} bp at a constant price per $1M, "
        f"{capped3:.2f} with the multiple bounded at 3, {capped2:.2f} at 2"
    )
    # realised volatility is tens of times the calm one, so the multiple sits at its bound: the flow moves
    # fair value by (bound - 1) x lambda x flow more than at a constant price (within a requote's
    # tolerance, 1 bp; the same buy fills the same in all three: the book before it is the same)
    step = 10.0 * musd  # bp: lambda x the tape's net buying in $M
    assert step > 1.0
    assert capped3 - constant == pytest.approx(2 * step, abs=1.0)
    assert capped2 - constant == pytest.approx(step, abs=1.0)


def test_against_its_own_recent_volatility_a_lasting_fast_market_becomes_the_normal() -> None:
    """With a slow reference of 60 s, ten minutes of the same jumps make their volatility the reference:
    the multiple is back near 1, while against the calm one it stays at its bound."""
    constant, musd = _flow_gap_in_a_fast_market(0.0, 3.0, fast_minutes=10)
    calm_ref, _ = _flow_gap_in_a_fast_market(1.0, 3.0, fast_minutes=10)
    own_ref, _ = _flow_gap_in_a_fast_market(1.0, 3.0, reference_halflife_s=60.0, fast_minutes=10)
    hour_ref, _ = _flow_gap_in_a_fast_market(1.0, 3.0, reference_halflife_s=3600.0, fast_minutes=10)
    print(
        f"\nafter ten fast minutes and ${musd:.2f}M: {constant:.2f} bp at a constant price, {calm_ref:.2f} "
        f"against the calm volatility, {own_ref:.2f} against a 60-s average, {hour_ref:.2f} against a 1-h one"
    )
    step = 10.0 * musd
    assert _at_bound_three(calm_ref - constant, step)
    # the 60-s reference has caught up with the realised volatility: about the constant price's move
    assert own_ref - constant == pytest.approx(0.0, abs=1.0)
    # an hour's reference has not (10 minutes of a 1-h half-life): still at the bound
    assert _at_bound_three(hour_ref - constant, step)


def _at_bound_three(extra_bp: float, step_bp: float) -> bool:
    """The extra move of a multiple at its bound 3: (3 - 1) x lambda x flow, within the requote tolerance."""
    return abs(extra_bp - 2 * step_bp) <= 1.0


# --------------------------------------------------------------------------- a book that follows a jump


def _book_after_a_jump(stale_bid: bool, **makers: object) -> tuple[float, float, int]:
    """After the BTC index's exogenous path falls 8%: the best ask 1 s later against the mark before the
    jump (bp; inf with no ask), the perp's mid / index - 1 (bp) 5 s later, and the lots left of a
    trader's bid that rested 10 bp under the old price (``stale_bid``; the jump leaves it ~8% above the
    new index)."""
    params = _tight_makers(**makers)
    params.venue.index_arbitrage_per_second = 0.0
    market = CryptoMarket(params, seed=6)
    market.run_for(30)
    ex = market.exchange
    stale = None
    if stale_bid:
        trader = ex.open_account(5_000_000, leverage=5)
        stale = ex.submit(trader, 0, BUY, 5, price_ticks=int(ex.index_ticks[0] * 0.999)).oid
    mark = float(ex.mark_ticks[0])
    market.index_driver.jump(0, -0.08)
    market.run_for(1)
    ask = ex.best_ask(0)
    ask_bp = (ask / mark - 1.0) * 1e4 if ask is not None else math.inf
    market.run_for(4)
    info = ex.order_info(stale) if stale is not None else None
    return ask_bp, (ex.mid_ticks(0) / ex.index_ticks[0] - 1.0) * 1e4, info[4] if info is not None else 0


def test_makers_quote_at_the_band_edge_when_fair_value_jumps_past_it() -> None:
    """The venue's 5% band around a mark that lags an -8% jump rejects the makers' new ladder: makers
    that move the layers the band rejects to its edge (a better price for them) keep asks in the book,
    the others leave it empty until the mark catches up."""
    ask_on, _, _ = _book_after_a_jump(False, quote_within_price_band=True)
    ask_off, _, _ = _book_after_a_jump(False)
    print(f"\n1 s after a -8% jump: best ask {ask_on:.1f} bp from the mark before it, vs {ask_off} without")
    assert ask_off == math.inf  # every layer fell outside the band: skipped
    assert ask_on == pytest.approx(-500.0, abs=1.0)  # at the floor: 5% under the mark they quoted at


def test_makers_pick_off_stale_quotes_worth_more_than_the_fee() -> None:
    """A trader's bid left ~8% above fair value by the jump is a trade worth far more than the fee for a
    maker whose ladder would cross it: with ``take_stale_quotes`` the makers hit it and the perp reaches
    its index; without, every ask that would cross it is skipped and the stale bid holds the mid up."""
    _, gap_on, left_on = _book_after_a_jump(True, quote_within_price_band=True, take_stale_quotes=True)
    _, gap_off, left_off = _book_after_a_jump(True, quote_within_price_band=True)
    print(
        f"\n5 s after a -8% jump: stale bid's lots left {left_on} vs {left_off}; perp over its index "
        f"{gap_on:.0f} bp vs {gap_off:.0f} bp"
    )
    assert left_off == 5 and gap_off > 500  # the stale bid still rests and the mid is halfway up to it
    assert left_on == 0
    assert abs(gap_on) < 25  # at its index, within the spread the jump's volatility widened


def _stale_bid_left(jump: float) -> int:
    """Lots left of a 5-lot bid resting at the best bid after the index's path moves by ``jump`` (log)
    and the makers (taking stale quotes) requote for 10 s."""
    params = _tight_makers(take_stale_quotes=True)
    params.venue.index_arbitrage_per_second = 0.0
    market = CryptoMarket(params, seed=6)
    market.run_for(30)
    ex = market.exchange
    trader = ex.open_account(5_000_000, leverage=5)
    res = ex.submit(trader, 0, BUY, 5, price_ticks=ex.best_bid(0))
    assert res.filled_lots == 0 and res.oid is not None
    market.index_driver.jump(0, jump)
    market.run_for(10)
    info = ex.order_info(res.oid)
    return info[4] if info is not None else 0


def test_makers_leave_a_quote_within_the_fee_of_fair_value_alone() -> None:
    """A bid left 2.5 bp above fair value by a -3 bp move crosses the makers' 0.5-bp asks but is worth
    less than the taker fee (5 bp on binance_like): the makers skip their crossing layers and leave it.
    Left 9.5 bp above fair value by a -10 bp move, it is worth the fee: they take it."""
    left_small, left_large = _stale_bid_left(-3e-4), _stale_bid_left(-10e-4)
    print(f"\nbid lots left after a -3 bp move: {left_small}; after a -10 bp move: {left_large}")
    assert left_small == 5
    assert left_large == 0


# --------------------------------------------------------------------------- a deep ladder


def test_a_ladder_with_growing_gaps_and_sizes_reaches_far_from_the_touch() -> None:
    params = _tight_makers(layers=8, layer_spacing_growth=2.0, layer_size_growth=1.5)
    market = CryptoMarket(params, seed=7)
    market.run_for(10)
    ex = market.exchange
    maker = next(iter(market.makers))
    asks = sorted(
        (info[3], info[4])
        for o in ex.open_orders(maker.account)
        if (info := ex.order_info(o)) is not None and info[1] == 0 and info[2] == SELL
    )
    index = ex.index_ticks[0]
    offsets_bps = [(px / index - 1.0) * 1e4 for px, _ in asks]
    gaps = np.diff(offsets_bps)
    sizes = [q for _, q in asks]
    print(f"\nask offsets {np.round(offsets_bps, 1)} bp, sizes {sizes} lots")
    assert len(asks) == 8
    # 0.5 bp, then gaps of 1, 2, 4, ... 64 bp: the outer layer is ~127 bp out (to a tick and the anchor)
    assert offsets_bps[-1] == pytest.approx(0.5 + 127.0, abs=2.0)
    assert np.all(gaps[1:] / gaps[:-1] == pytest.approx(2.0, rel=0.15))
    assert sizes[-1] == pytest.approx(sizes[0] * 1.5**7, rel=0.05)


# --------------------------------------------------------------------------- the common price


def _after_a_buy(seconds: float, pull: float = 0.0, **makers: object) -> tuple[float, float, float, float]:
    """A $0.5M market buy into four makers on a BTC index that does not move by itself: after ``seconds``,
    the index's move and the perp mid's move since the buy (bp), the buy's notional ($M) and the makers'
    net spot hedge as a share of their perp short. ``pull``: the venue's ``index_arbitrage_per_second``
    (0: only the makers' hedges, if any, move the index)."""
    params = _tight_makers(risk_aversion=0.0, **makers)
    params.venue.index_arbitrage_per_second = pull
    market = CryptoMarket(params, seed=5)
    market.run_for(30)
    ex = market.exchange
    index0, mid0 = ex.index_ticks[0], ex.mid_ticks(0)
    taker = ex.open_account(5_000_000, leverage=5)
    res = ex.submit(taker, 0, BUY, ex.usd_to_lots(0, 500_000, ex.mid_ticks(0)))
    notional_musd = sum(f.price_ticks * f.lots for f in res.fills) * ex.tick_value_micro[0] / 1e12
    market.run_for(seconds)
    short = -sum(ex.positions(m.account)[0] for m in market.makers)
    hedged = sum(m.hedge_lots.get(0, 0.0) for m in market.makers)
    return (
        (ex.index_ticks[0] / index0 - 1.0) * 1e4,
        (ex.mid_ticks(0) / mid0 - 1.0) * 1e4,
        notional_musd,
        hedged / short,
    )


def test_hedging_makers_pass_the_flow_they_absorb_to_spot() -> None:
    """Makers short $0.5M of perp buy it back on spot (``hedge_share``): the index rises by the spot
    impact of their hedge (5 bp per $1M on BTC), and the perp with it; unhedged, only the perp's
    makers hold the flow and the index does not move."""
    params = _tight_makers()
    impact = params.symbols[0].spot_impact_per_musd * 1e4  # bp per $1M
    idx_on, mid_on, musd, hedged = _after_a_buy(300, hedge_share=1.0)
    idx_off, _, _, hedged_off = _after_a_buy(300)
    print(
        f"\n300 s after a ${musd:.2f}M buy: index {idx_on:+.2f} bp hedged ({hedged:.0%} of the short), "
        f"{idx_off:+.2f} bp unhedged; perp {mid_on:+.2f} bp"
    )
    assert hedged == pytest.approx(1.0, abs=0.02)  # ten half-lives: the hedge has closed the gap
    assert hedged_off == 0.0 and abs(idx_off) < 0.05
    # the index's move is the hedge's spot impact, less the little spot resilience takes back in 300 s
    assert idx_on == pytest.approx(impact * musd, rel=0.1)
    assert mid_on == pytest.approx(idx_on, abs=1.0)  # the perp follows: one price, not a basis


def test_the_flow_impact_the_index_follows_is_permanent_and_counted_once() -> None:
    """Flow pricing with an index that follows the perp (``index_arbitrage_per_second`` = 0.02): the
    share of the flow's move the index takes over stays, the rest fades. With a pull k and a half-life
    h the index takes k / (k + ln 2 / h) of it (0.63 at k = 0.02, h = 60 s); the makers, who net out
    what the index has followed, then sit at the index, not above it by the flow's move again."""
    k, h = 0.02, 60.0
    flow = {
        "flow_impact_bps_per_musd": 10.0,
        "flow_impact_halflife_seconds": h,
        "flow_impact_net_of_index": True,
    }

    idx, mid, musd, _ = _after_a_buy(600, pull=k, **flow)
    expected = 10.0 * musd * k / (k + math.log(2.0) / h)
    print(f"\n600 s after a ${musd:.2f}M buy: index {idx:+.2f} bp, perp {mid:+.2f} bp (rule {expected:.2f})")
    # at least the rule's share (the index also follows the buy's walk through the book until the makers
    # requote, and their 1-bp requote tolerance), never more than the flow's whole move (10 bp per $1M):
    # counted twice, the makers' move would ride on top of an index that already took it over (6.1 bp)
    assert expected - 0.3 <= idx < 10.0 * musd
    assert mid == pytest.approx(idx, abs=1.0)  # the rest has faded: the perp is back at its index


def _index_share_of_its_news(after_trading: bool, dt_seconds: float) -> float:
    """Std of BTC's 1-minute index returns over an hour / std of its exogenous path's (the news), four
    tight makers alone, the index pulled toward their mid at 0.02 per second."""
    params = _makers_only(count=4, half_spread_bps=0.5, layer_spacing_bps=1.0, index_anchor=0.95)
    params.venue.index_arbitrage_per_second = 0.02
    params.venue.index_arbitrage_after_trading = after_trading
    market = CryptoMarket(params, seed=4, dt_seconds=dt_seconds)
    ex = market.exchange
    index, path = [], []
    for _ in range(60):
        market.run_for(60)
        index.append(ex.index_ticks[0])
        path.append(ex.index_path_ticks(0))
    return float(np.std(np.diff(np.log(index))) / np.std(np.diff(np.log(path))))


def test_arbitrage_after_trading_does_not_pull_back_the_steps_news() -> None:
    """Pulled with the news, the index is pulled toward a perp that has had no time to follow that news:
    k x dt of it comes back, a fifth at dt = 10 s, and the index keeps less of its news the longer the
    step. Pulled after the step's trading, toward a perp the makers have moved with the news, the index
    keeps the same share at dt = 1 s and at 10 s."""
    on = {dt: _index_share_of_its_news(True, dt) for dt in (1.0, 10.0)}
    off = {dt: _index_share_of_its_news(False, dt) for dt in (1.0, 10.0)}
    print(f"\n1-min index vol / news vol: after trading {on}, with the news {off}")
    assert on[10.0] == pytest.approx(on[1.0], rel=0.05)
    assert off[10.0] < 0.9 * off[1.0]  # with the news: the step size changes the index's volatility
    assert on[10.0] > off[10.0] + 0.1


def _value_taken_after_a_jump(requote_first: bool) -> tuple[int, float]:
    """Lots basis arbitrageurs buy in the 10-s step in which BTC's index jumps +30 bp under four tight
    makers, and how far the makers' mid is then under the index (bp). The arbitrageurs decide about once
    a second, so most of them act in that step; they buy when the mid is more than 5 bp under the index."""
    params = _tight_makers(requote_first=requote_first)
    params.background.fundamental_count = 30
    params.background.fundamental_orders_per_hour = 3600
    market = CryptoMarket(params, seed=6, dt_seconds=10.0)
    market.run_for(60)
    ex = market.exchange
    traders = [a for a in market.agents if type(a).__name__ == "FundamentalTrader" and a.symbol == 0]
    before = sum(ex.positions(a.account)[0] for a in traders)
    market.index_driver.jump(0, 0.003)
    market.step()
    bought = sum(ex.positions(a.account)[0] for a in traders) - before
    return bought, (1.0 - ex.mid_ticks(0) / ex.index_ticks[0]) * 1e4


def test_makers_first_leave_the_traders_no_stale_book_to_take() -> None:
    """Requoting after the traders, the makers leave the book where the last step's index was: in a 10-s
    step that moves the index 30 bp the arbitrageurs buy the stale asks. Requoting first, the makers move
    with the news (95% of it: their anchor) and the arbitrageurs find a mid within their threshold."""
    first, gap_first = _value_taken_after_a_jump(True)
    after, gap_after = _value_taken_after_a_jump(False)
    print(
        f"\nlots bought in the jump's step: makers first {first} (mid {gap_first:.1f} bp under the "
        f"index), makers after {after} ({gap_after:.1f} bp)"
    )
    assert first == 0
    assert after > 1000
    assert gap_first < 5.0  # inside the arbitrageurs' threshold: the book has followed the news


# --------------------------------------------------------------------------- stop cascades and the step


def _stop_wave(rounds: int) -> tuple[int, float, int]:
    """Stops fired, the lowest trade (bp under the mid) and the stops still resting, in the step a sale
    reaches the first of a ladder of 10 stop-losses set 2 bp apart under four one-tick makers with 20
    layers 1 bp apart of 512 lots (each stop sells 5,000 lots, more than two levels of the four ladders,
    so its fills reach the next one)."""
    params = _tight_makers(layers=20)
    params.venue.stop_rounds_per_step = rounds
    market = CryptoMarket(params, seed=8)
    market.run_for(10)
    ex = market.exchange
    mid = ex.mid_ticks(0)
    short = ex.open_account(500_000_000, leverage=5)
    longs = []
    for k in range(10):
        long = ex.open_account(1_000_000, leverage=5)
        longs.append(long)
        ex.seed_position(long, short, 0, 5_000, round(mid))
        ex.submit_stop(long, 0, SELL, 5_000, math.floor(mid * (1.0 - (1.0 + 2.0 * k) * 1e-4)))
    seller = ex.open_account(5_000_000, leverage=5)
    fired = ex.stops_triggered
    low = math.inf

    def record_low() -> None:
        nonlocal low
        if ex.books[0].last_price_ticks is not None:
            low = min(low, ex.books[0].last_price_ticks)

    ex.submit(seller, 0, SELL, 2_500)  # through the first trigger, 1 bp under the mid
    record_low()
    market.phase_exchange()  # this step's stops
    record_low()
    resting = sum(len(ex.stops_of(a)) for a in longs)
    return ex.stops_triggered - fired, (1.0 - low / mid) * 1e4, resting


def test_a_stop_cascade_waits_for_the_makers_between_rounds() -> None:
    """With 50 rounds a step, each wave of stops' fills reaches the next trigger and the whole ladder of
    stops fires into the book within the step; with one round a step only the stops the sale reached
    fire, and the next wave waits for the makers' requote."""
    fired_all, low_all, _ = _stop_wave(50)
    fired_one, low_one, resting_one = _stop_wave(1)
    print(
        f"\nstops fired in the step: {fired_all} (50 rounds, low {low_all:.1f} bp) "
        f"vs {fired_one} (1 round, {low_one:.1f} bp)"
    )
    assert fired_all == 10  # the whole ladder, one wave's fills reaching the next trigger
    assert fired_one < fired_all / 3
    assert fired_one + resting_one == 10  # the rest still rest: they wait, they are not dropped
    assert low_one < low_all


# a coupled alt at a beta near the real one, with less news of its own (the ninth round's ETH)
_COUPLED_ETH = {"index_vol_per_day": 0.009, "btc_beta": 1.0}


def _coupled_symbols() -> list[dict[str, object]]:
    symbols = [s.model_dump() for s in small_params().symbols]
    symbols[1].update(_COUPLED_ETH)
    return symbols


def test_a_coupled_alts_calm_volatility_counts_the_leaders_news() -> None:
    """The index driver alone, a day of 1-s steps: a coupled alt's index moves by its own news plus
    beta x the leader's, so its calm volatility is the two added in variance, which
    ``IndexDriver.calm_vol_per_s`` is; ``index_vol_per_day`` alone is a third of it (ETH here)."""
    params = small_params(symbols=_coupled_symbols())
    driver = IndexDriver(params.symbols, params.macro, True, np.random.default_rng(5))
    leader, returns = 0.0, []
    for _ in range(86_400):
        r = driver.returns(1.0, 0.0, leader)
        leader = float(r[0])
        returns.append(r)
    realised = np.std(np.array(returns), axis=0)  # per sqrt(second): 1-s steps
    own = np.array([s.index_vol_per_day for s in params.symbols]) / math.sqrt(86_400.0)
    print(f"\nrealised / calm_vol_per_s {realised / driver.calm_vol_per_s}, realised / own {realised / own}")
    # 86,400 draws pin a standard deviation to ~0.25%
    np.testing.assert_allclose(realised, driver.calm_vol_per_s, rtol=0.015)
    assert realised[1] > 1.5 * own[1]  # ETH: sqrt(0.009^2 + 0.025^2) / 0.009 = 2.95
    assert realised[0] == pytest.approx(own[0], rel=0.015)  # the leader has no one to follow
    uncoupled = IndexDriver(params.symbols, params.macro, False, np.random.default_rng(5))
    np.testing.assert_allclose(uncoupled.calm_vol_per_s, own)


def test_a_replayed_alts_calm_volatility_has_no_coupled_share(tmp_path: Path) -> None:
    """A symbol replayed from a recorded path takes no coupling (the recording has it), so its calm
    reference is its own ``index_vol_per_day``; a coupled alt that is not replayed keeps the leader's
    share."""
    symbols = _coupled_symbols()
    symbols[2]["btc_beta"] = 1.0
    path = tmp_path / "eth.csv"
    path.write_text("time_s,ETH\n0,2500\n3600,2510\n")
    params = small_params(symbols=symbols, index_path={"file": str(path)})
    assert params.index_path is not None
    driver = IndexDriver(params.symbols, params.macro, True, np.random.default_rng(5), path=params.index_path)
    own = np.array([s.index_vol_per_day for s in params.symbols]) / math.sqrt(86_400.0)
    assert driver.calm_vol_per_s[1] == own[1]  # replayed
    assert driver.calm_vol_per_s[2] == pytest.approx(math.hypot(own[2], own[0]))  # coupled, beta 1


def _attention(calm_vol_with_coupling: bool, coupling: bool = True) -> tuple[float, float, list[float]]:
    """BTC's and ETH's mean attention multiples over 20 calm minutes of a market of calm-market makers
    (their quotes follow the index; nothing else trades), and the calm volatilities the view reads."""
    makers = load_raw(resolve_config_path("calm_market"))["market"]["market_makers"]
    params = small_params(
        leveraged={"count": 0},
        large_holders={"count": 0},
        background={"fundamental_count": 0, "noise_count": 0},
        # without pricing the alts off BTC's book: this measures the calm reference of makers whose
        # quotes follow each symbol's own index (leader pricing moves ETH with BTC's book, coupled or not)
        market_makers={**makers, "count": 4, "leader_pricing": 0.0},
        symbols=_coupled_symbols(),
        activity={"vol_elasticity": 2.0, "max_multiple": 20.0},
        view={"calm_vol_with_coupling": calm_vol_with_coupling},
        contagion={"index_coupling": coupling},
    )
    market = CryptoMarket(params, seed=8)
    market.run_for(300)
    btc, eth = [], []
    for _ in range(120):
        market.run_for(10)
        multiples = market.activity_multiples()
        btc.append(float(multiples[0]))
        eth.append(float(multiples[1]))
    return float(np.mean(btc)), float(np.mean(eth)), list(market.view.base_vol_1s)


def test_with_the_coupled_calm_reference_a_calm_alt_does_not_look_fast() -> None:
    """Attention (``activity``) compares an alt's realised volatility with its calm one. Against its own
    news alone, a calm coupled alt looks ~3x as fast as it is and brings its traders ~9x as often
    (elasticity 2); against ``view.calm_vol_with_coupling``'s reference it looks as calm as BTC, whose
    reference was right all along (the realised volatility of the 60-s window runs below the calm one for
    both: the ratio to BTC's is the measure)."""
    btc_old, old, old_calm = _attention(False)
    btc_new, new, new_calm = _attention(True)
    print(
        f"\nETH's calm attention multiple: {old:.2f} against its own news, {new:.2f} with the leader's share "
        f"(BTC {btc_old:.2f}, {btc_new:.2f})"
    )
    assert new_calm[1] > 2.5 * old_calm[1] and new_calm[0] == old_calm[0] and new_calm[2] > old_calm[2]
    # the leader's reference is its own news either way (its book moves a little with the makers' shared
    # budget, which reads the alt's spreads)
    assert btc_new == pytest.approx(btc_old, rel=0.05)
    assert new / btc_new < 1.6  # the calm alt looks about as calm as BTC
    assert old / btc_old > 4.0  # against its own news alone it looked fast (2.95 ** 2 = 8.7)
    # with the coupling off the alt's index has only its own news, and the reference is that either way
    btc_off, off, off_calm = _attention(True, coupling=False)
    assert off_calm == old_calm and off / btc_off < 1.6
