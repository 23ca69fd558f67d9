"""Contagion channels carried by agents: each mechanism tested by what it does in the books.

With the spot-index coupling off no alt index moves with BTC's, so whatever moves the alts after a
BTC-only index jump is an agent's doing. Each test compares the same seed with the mechanism on and off.

- ``leveraged.watcher_exit_leader_move`` (the ``btc_watchers`` channel): BTC watchers cut alt longs that
  BTC's break has gone against, and that selling moves the alt books.
- ``market_makers.leader_vol_widening`` (the ``shared_mm_budget`` channel): a maker running every symbol
  from one risk budget widens its alt quotes when BTC's volatility jumps; with separate budgets it does
  not.
- ``leveraged.alt_leverage_weights`` and ``alt_long_tilt`` (the ``asset_leverage`` channel): alt traders
  take more leverage and crowd the long side, so the alts' liquidations run deeper once BTC breaks.
- ``market_makers.leader_pricing`` (the ``maker_leader_pricing`` channel): makers move an alt's fair value
  with BTC's book, so BTC's jump moves the alt's quotes before anyone trades the alt; with
  ``leader_pricing_follow_seconds`` the move stays while the alt's index catches up.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.market import CryptoMarket, LeveragedDraws, draw_leveraged
from model.orderbook import BUY
from model.params import ContagionParams, LeveragedTraderParams
from tests.model.market_helpers import drawdowns_pct, small_params

BTC_ONLY_CRASH = [{"kind": "index_jump", "symbol": "BTC", "pct": -0.04, "at_hour": 0.05}]


def _watchers_after_a_btc_crash(exit_move: float | None, seed: int) -> tuple[float, float, dict[str, float]]:
    """(alt long lots the watchers held just before BTC's -4% jump, lots they hold 10 min after it, the
    drawdowns %), with the spot coupling off and every trader a BTC watcher on BTC's clock."""
    params = small_params(
        shocks=BTC_ONLY_CRASH,
        leveraged={"btc_watcher_share": 1.0, "watcher_exit_leader_move": exit_move},
        activity={"watchers_on_leader_clock": True},
        contagion={"index_coupling": False},
    )
    market = CryptoMarket(params, seed=seed)
    watchers = [a for a in market.leveraged if a.watch_btc]

    def alt_longs() -> float:
        return float(sum(max(market.exchange.positions(a.account)[s], 0) for a in watchers for s in (1, 2)))

    market.run_for(0.05 * 3600 - 1)
    before = alt_longs()
    market.run_for(600)
    after = alt_longs()
    return before, after, drawdowns_pct(market)


def test_btc_watchers_cut_alt_longs_when_btc_breaks_and_the_alts_fall() -> None:
    """Same seeds, the exit rule off: the watchers keep their alt longs through BTC's fall (they close
    them only on their own horizon, stop or take-profit), and the alts fall less."""
    for seed in (1, 2):
        before_on, after_on, dd_on = _watchers_after_a_btc_crash(0.01, seed)
        before_off, after_off, dd_off = _watchers_after_a_btc_crash(None, seed)
        print(
            f"\nseed {seed}: watchers' alt long lots {before_on:.0f} -> {after_on:.0f} with the exit, "
            f"{before_off:.0f} -> {after_off:.0f} without; dd with {dd_on}, without {dd_off}"
        )
        assert before_on == before_off > 0  # the same market until the jump
        # BTC's 5-min return is past -1% for the 5 minutes after the jump: a watcher deciding then (Poisson
        # at decisions_per_hour) cuts its alt longs; at least half of that expected share is cut
        rate_per_s = small_params().leveraged.decisions_per_hour / 3600.0
        deciding = 1.0 - math.exp(-rate_per_s * 300.0)
        assert before_on - after_on > 0.5 * deciding * before_on
        assert after_off > 0.95 * before_off  # without the rule they stay
        assert dd_on["BTC"] > 3.0 and dd_off["BTC"] > 3.0
        alt_on = (dd_on["ETH"] + dd_on["SOL"]) / 2
        alt_off = (dd_off["ETH"] + dd_off["SOL"]) / 2
        assert alt_on > 1.5 * alt_off  # the cut longs are sold into the alt books


def _alt_half_spread_after_a_btc_jump(widening: float, shared: bool) -> tuple[float, float]:
    """ETH's best-quote half-spread (bp) in a makers-only market 2 s before and 5 s after a -4% jump of
    BTC's index path, the spot coupling off (ETH's index does not move)."""
    params = small_params(
        leveraged={"count": 0},
        large_holders={"count": 0},
        background={"fundamental_count": 0, "noise_count": 0},
        market_makers={"count": 4, "leader_vol_widening": widening, "vol_widening_above_calm": True},
        contagion={"index_coupling": False, "shared_mm_budget": shared},
    )
    market = CryptoMarket(params, seed=3)
    ex = market.exchange

    def half_spread_bp() -> float:
        bid, ask = ex.best_bid(1), ex.best_ask(1)
        assert bid is not None and ask is not None
        return (ask - bid) / (ask + bid) * 1e4

    market.run_for(60)
    before = half_spread_bp()
    market.index_driver.jump(0, -0.04)
    market.run_for(5)
    return before, half_spread_bp()


def test_a_shared_risk_budget_widens_the_alt_quotes_when_btc_breaks() -> None:
    before_on, after_on = _alt_half_spread_after_a_btc_jump(1.0, shared=True)
    _, after_off = _alt_half_spread_after_a_btc_jump(0.0, shared=True)
    _, after_separate = _alt_half_spread_after_a_btc_jump(1.0, shared=False)
    print(
        f"\nETH half-spread {before_on:.2f} bp before BTC's jump; 5 s after: {after_on:.2f} bp with the "
        f"leader's vol read, {after_off:.2f} without, {after_separate:.2f} with separate budgets"
    )
    assert after_on > 3.0 * after_off  # BTC's break widens ETH's quotes at once
    assert after_off < 2.0 * before_on + 0.5  # on ETH's own (unmoved) volatility they stay calm
    assert after_separate < 2.0 * before_on + 0.5  # per-symbol budgets: the channel is off


def _alt_move_after_a_btc_jump(
    leader_pricing: float, channel: bool, follow_s: float | None = None, after_s: float = 5.0
) -> tuple[float, float]:
    """(ETH's mid move, BTC's mid move) as log-returns, ``after_s`` after a -4% jump of BTC's index path, in
    a makers-only market with the spot coupling off (the index follows the perp at 0.02/s, after trading:
    the rest of the market follows this venue within ~50 s)."""
    makers = {"count": 4, "leader_pricing": leader_pricing, "index_news_passthrough": 1.0}
    params = small_params(
        leveraged={"count": 0},
        large_holders={"count": 0},
        background={"fundamental_count": 0, "noise_count": 0},
        market_makers={**makers, "leader_pricing_follow_seconds": follow_s},
        venue={"index_arbitrage_per_second": 0.02, "index_arbitrage_after_trading": True},
        contagion={"index_coupling": False, "maker_leader_pricing": channel},
    )
    market = CryptoMarket(params, seed=3)
    ex = market.exchange
    market.run_for(60)
    eth0, btc0 = ex.mid_ticks(1), ex.mid_ticks(0)
    market.index_driver.jump(0, -0.04)
    market.run_for(after_s)
    return math.log(ex.mid_ticks(1) / eth0), math.log(ex.mid_ticks(0) / btc0)


def test_makers_pricing_alts_off_btc_move_the_alt_book_when_btc_jumps() -> None:
    """With ``leader_pricing`` an alt's fair value moves by that share x the alt's beta x BTC's move since
    its last requote, and the index anchor keeps its weight: ETH's first requote lands near
    (1 - index_anchor) x leader_pricing x btc_beta x BTC's move. Off (or the channel off) ETH stays."""
    eth_on, btc_on = _alt_move_after_a_btc_jump(1.0, channel=True)
    eth_zero, _ = _alt_move_after_a_btc_jump(0.0, channel=True)
    eth_off, _ = _alt_move_after_a_btc_jump(1.0, channel=False)
    p = small_params()
    expected = (1.0 - p.market_makers.index_anchor) * p.symbols[1].btc_beta * btc_on
    print(
        f"\nBTC {btc_on:.4f}; ETH {eth_on:.4f} (expected ~{expected:.4f}), "
        f"{eth_zero:.4f} at 0, {eth_off:.4f} off"
    )
    assert btc_on < -0.03
    assert eth_on == pytest.approx(expected, rel=0.3)
    assert abs(eth_zero) < 0.001 and abs(eth_off) < 0.001


def test_makers_keep_the_alt_moved_while_its_index_catches_up() -> None:
    """``leader_pricing_follow_seconds``: the part of BTC's move that ETH's index has not shown moves the
    makers' index anchor too, so ETH's first requote lands near the whole beta x BTC's move and ETH stays
    there while its index follows the perp (here at 0.02/s: a 50-s time constant). Without it the anchor
    takes the move back at every requote: 3 minutes on ETH keeps only a small part of it."""
    beta = small_params().symbols[1].btc_beta
    first, btc = _alt_move_after_a_btc_jump(1.0, True, follow_s=50.0)
    later, btc_later = _alt_move_after_a_btc_jump(1.0, True, follow_s=50.0, after_s=180.0)
    old_later, _ = _alt_move_after_a_btc_jump(1.0, True, after_s=180.0)
    print(
        f"\nETH after BTC's {btc:.4f}: {first:.4f} at 5 s, {later:.4f} at 3 min (beta x BTC "
        f"{beta * btc_later:.4f}); mid-only pricing at 3 min: {old_later:.4f}"
    )
    assert first == pytest.approx(beta * btc, rel=0.3)
    assert later == pytest.approx(beta * btc_later, rel=0.3)
    assert abs(old_later) < 0.5 * abs(later)


ALT_MIX = [0.02, 0.03, 0.05, 0.15, 0.25, 0.15, 0.2, 0.1, 0.05]  # 2x-100x, crowded at 20-75x
CAPS = [125.0, 100.0, 50.0]


def _draws(asset_leverage: bool, **leveraged: object) -> LeveragedDraws:
    return draw_leveraged(
        np.random.default_rng(9),
        LeveragedTraderParams(count=20_000, multi_symbol_share=0.0, seeded_share=1.0, **leveraged),  # type: ignore[arg-type]
        ContagionParams(asset_leverage=asset_leverage),
        CAPS,
    )


def test_alt_traders_draw_their_own_leverage_and_a_crowded_long_side() -> None:
    """Alt traders take the alt mix and tilt long; BTC traders' draws are those of a market without it
    (the alt draw comes last); with the channel off every asset has the leader's distribution."""
    plain = _draws(True)
    crowded = _draws(True, alt_leverage_weights=ALT_MIX, alt_long_tilt=0.2)
    off = _draws(False, alt_leverage_weights=ALT_MIX, alt_long_tilt=0.2)
    home = np.asarray([s[0] for s in plain.symbols])
    lev = {k: np.asarray(d.leverage) for k, d in (("plain", plain), ("crowded", crowded), ("off", off))}
    assert (lev["crowded"][home == 0] == lev["plain"][home == 0]).all()
    assert (lev["off"] == lev["plain"]).all() and off.side == plain.side
    alt = home != 0
    # the alt mix, capped by each alt's venue cap: mean leverage well above the leader's mix
    choices = np.asarray(LeveragedTraderParams().leverage_choices, dtype=float)
    expected = float(np.sum(np.minimum(choices, 100.0) * np.asarray(ALT_MIX)))  # ETH (cap 100)
    eth = home == 1
    assert lev["crowded"][eth].mean() == pytest.approx(expected, rel=0.05)
    assert lev["crowded"][alt].mean() > 1.5 * lev["plain"][alt].mean()
    free = np.isin(np.asarray(plain.strategy), ["trend", "noise"])
    longs = {
        k: np.mean(np.asarray(d.side)[alt & free] == BUY) for k, d in (("plain", plain), ("crowded", crowded))
    }
    assert longs["crowded"] - longs["plain"] == pytest.approx(0.2, abs=0.03)


def test_crowded_levered_alt_longs_liquidate_more_when_btc_breaks() -> None:
    """The same BTC-only crash (spot coupling off, relative-value desks carrying it into the alts): with
    alt traders crowded and levered the alts' liquidations are larger on every seed."""
    crash = [{"kind": "index_jump", "symbol": "BTC", "pct": -0.08, "at_hour": 0.05}]
    for seed in (1, 2, 3):
        liquidated = []
        for on in (True, False):
            params = small_params(
                shocks=crash,
                relative_value={"count": 6, "threshold": 0.01, "full_gap": 0.05},
                leveraged={"alt_leverage_weights": ALT_MIX, "alt_long_tilt": 0.2},
                contagion={"index_coupling": False, "asset_leverage": on},
            )
            market = CryptoMarket(params, seed=seed)
            market.run_for(0.3 * 3600)
            liq = market.liquidations_frame()
            liquidated.append(float(liq.loc[liq["symbol"] != "BTC", "notional_usd"].sum()))
        print(
            f"\nseed {seed}: alt liquidations ${liquidated[0] / 1e6:.2f}M crowded, "
            f"${liquidated[1] / 1e6:.2f}M not"
        )
        assert liquidated[0] > liquidated[1]


def _multi_alt_liquidations(cross_margin: bool, off_state: str, seed: int) -> tuple[int, int]:
    """(liquidations of multi-symbol accounts' alt legs, ledger imbalance) 0.3 h into a BTC-only crash,
    the spot coupling off, the desks carrying it into the alts, the index following the perp."""
    params = small_params(
        shocks=[{"kind": "index_jump", "symbol": "BTC", "pct": -0.08, "at_hour": 0.05}],
        relative_value={"count": 6, "threshold": 0.01, "full_gap": 0.05},
        venue={"index_arbitrage_per_second": 0.02, "index_arbitrage_after_trading": True},
        contagion={"index_coupling": False, "cross_margin": cross_margin, "cross_margin_off": off_state},
    )
    market = CryptoMarket(params, seed=seed)
    multi = {a.account for a in market.leveraged if len(a.symbols) > 1}
    market.run_for(0.3 * 3600)
    liq = market.liquidations_frame()
    alt_legs = liq[(liq["symbol"] != "BTC") & liq["account"].isin(multi)]
    return len(alt_legs), market.exchange.ledger_imbalance()


def test_cross_margin_liquidates_alt_legs_that_sub_accounts_keep() -> None:
    """The cross-margin channel: BTC's loss eats a cross account's margin and the venue liquidates its alt
    legs with it. Off as sub-accounts (each symbol with its share of the collateral as isolated margin),
    the alt legs keep their own buffer and fewer of them are liquidated, on every seed."""
    for seed in (1, 2, 3):
        cross, imbalance_cross = _multi_alt_liquidations(True, "isolated", seed)
        subs, imbalance_subs = _multi_alt_liquidations(False, "sub_accounts", seed)
        print(
            f"\nseed {seed}: alt legs of multi-symbol accounts liquidated: {cross} cross, {subs} sub-accounts"
        )
        assert subs < cross
        assert imbalance_cross == 0 and imbalance_subs == 0


def _arbitrage_after_a_btc_jump(leader_pricing: float) -> tuple[float, float, int]:
    """(ETH's mid move, BTC's mid move) as log-returns 30 s after a -4% jump of BTC's index path, and the
    ETH lots the basis arbitrageurs bought in those 30 s, in a market of makers that price ETH off BTC and
    arbitrageurs, the spot coupling off (ETH's index moves only as it follows its perp)."""
    params = small_params(
        leveraged={"count": 0},
        large_holders={"count": 0},
        background={
            "fundamental_count": 30,
            "noise_count": 0,
            "fundamental_threshold_bps": 3,
            "fundamental_orders_per_hour": 360,
            "fundamental_leader_pricing": leader_pricing,
        },
        market_makers={"count": 4, "leader_pricing": 1.0, "leader_pricing_follow_seconds": 50.0},
        venue={"index_arbitrage_per_second": 0.02, "index_arbitrage_after_trading": True},
        contagion={"index_coupling": False},
    )
    market = CryptoMarket(params, seed=3)
    ex = market.exchange
    arbs = [a for a in market.agents if type(a).__name__ == "FundamentalTrader" and a.symbol == 1]
    assert arbs

    def arb_eth_lots() -> int:
        return sum(int(ex.positions(a.account)[1]) for a in arbs)

    market.run_for(60)
    eth0, btc0, held0 = ex.mid_ticks(1), ex.mid_ticks(0), arb_eth_lots()
    market.index_driver.jump(0, -0.04)
    market.run_for(30)
    return math.log(ex.mid_ticks(1) / eth0), math.log(ex.mid_ticks(0) / btc0), arb_eth_lots() - held0


def test_arbitrageurs_pricing_alts_off_btc_do_not_trade_the_alts_btc_move_back() -> None:
    """``background.fundamental_leader_pricing``: the arbitrageurs trade ETH's basis against its index
    moved by the part of beta x BTC's move that the index has not shown, so they leave the move the makers
    gave ETH; off, they buy ETH's perp back toward its unmoved index."""
    beta = small_params().symbols[1].btc_beta
    eth_on, btc_on, bought_on = _arbitrage_after_a_btc_jump(1.0)
    eth_off, btc_off, bought_off = _arbitrage_after_a_btc_jump(0.0)
    print(
        f"\nBTC {btc_on:.4f} / {btc_off:.4f}; ETH {eth_on:.4f} with the arbitrageurs pricing off BTC "
        f"(beta x BTC {beta * btc_on:.4f}), {eth_off:.4f} without; ETH lots they bought {bought_on} / "
        f"{bought_off}"
    )
    assert btc_on < -0.03 and btc_off < -0.03
    # off, they buy the BTC-driven dip back; on, their reference has moved with BTC and they buy far less
    # (they may sell: the reference runs ahead of the makers' quotes)
    assert bought_off > 0 and bought_on < 0.25 * bought_off
    assert eth_on == pytest.approx(beta * btc_on, rel=0.3)
    assert abs(eth_off) < 0.8 * abs(eth_on)
