"""Agents unit-tested without a market: each is built with a real Exchange, a MarketView and its
parameter block inside a plain ``mesa.Model``, and what it sends to the exchange is checked."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest

from agents.background import NoiseTrader
from agents.large_holder import LargeHolder
from agents.leveraged import LeveragedTrader
from agents.market_maker import MarketMaker
from model.orderbook import BUY, SELL
from tests.agents.helpers import Bare, bare_market, quote_around


def _trend_trader(b: Bare, reads_sentiment: bool = True) -> LeveragedTrader:
    return LeveragedTrader(
        b.model,
        b.exchange,
        b.view,
        b.params.leveraged,
        capital_usd=10_000.0,
        isolated=False,
        leverage=10.0,
        rate_per_s=1 / 900,
        strategy="trend",
        symbols=[0],
        watch_btc=False,
        holding_s=3600.0,
        reads_sentiment=reads_sentiment,
    )


@pytest.mark.parametrize(("move", "side"), [(0.01, BUY), (-0.01, SELL)], ids=["rally-long", "fall-short"])
def test_trend_trader_opens_a_position_in_the_direction_of_the_move(move: float, side: int) -> None:
    b = bare_market(seed=1)
    ex = b.exchange
    trader = _trend_trader(b)
    index = ex.index_ticks[0]
    quote_around(ex, 0, index * (1.0 + move))  # the book has moved 1% away from where the view started
    b.view.refresh(0.0, 50.0, 0.0)
    assert b.view.ret(0, b.params.leveraged.lookback_seconds) == pytest.approx(math.log1p(move), abs=2e-5)
    trader.step()
    pos = ex.position_lots(trader.account, 0)
    assert pos != 0 and (pos > 0) == (side == BUY)
    # sized from equity x leverage x position_fraction, at the mid
    expected = ex.usd_to_lots(0, 0.5 * 10_000.0 * 10.0, b.view.mid_ticks[0])
    assert abs(pos) == expected
    # every entry places a reduce-only stop on the other side, stop_loss away from the entry
    assert len(ex.stops_of(trader.account)) == 1
    assert trader.entry_time[0] == 0.0


def test_trend_trader_does_nothing_in_a_flat_market() -> None:
    b = bare_market(seed=1)
    ex = b.exchange
    trader = _trend_trader(b)
    quote_around(ex, 0, ex.index_ticks[0])
    b.view.refresh(0.0, 50.0, 0.0)
    messages = ex.messages
    trader.step()
    assert ex.position_lots(trader.account, 0) == 0 and ex.messages == messages


def test_extreme_fear_blocks_long_entries_only_when_the_trader_reads_sentiment() -> None:
    """Appetite for longs is fear_appetite + greed_appetite_per_100 x sentiment / 100: with the
    multiplier at 0 no long is taken, whatever the draw; a trader deaf to sentiment buys."""
    params = {"leveraged": {"fear_appetite": 0.0}}
    for reads, expect_long in ((True, False), (False, True)):
        b = bare_market(seed=2, **params)
        trader = _trend_trader(b, reads_sentiment=reads)
        quote_around(b.exchange, 0, b.exchange.index_ticks[0] * 1.01)
        b.view.refresh(0.0, 0.0, 0.0)  # sentiment 0: extreme fear
        trader.step()
        assert (b.exchange.position_lots(trader.account, 0) > 0) == expect_long


def test_market_maker_posts_a_two_sided_ladder_in_every_symbol() -> None:
    b = bare_market()
    ex = b.exchange
    mm = b.params.market_makers
    maker = MarketMaker(
        b.model, ex, b.view, mm, mm.capital_usd, [0, 1, 2], mm.loss_limit_usd, mm.inventory_limit_usd
    )
    maker.step()
    orders = [ex.order_info(oid) for oid in ex.open_orders(maker.account)]
    assert len(orders) == 3 * 2 * mm.layers
    for s in range(3):
        bids = sorted((o[3] for o in orders if o and o[1] == s and o[2] == BUY), reverse=True)
        asks = sorted(o[3] for o in orders if o and o[1] == s and o[2] == SELL)
        assert len(bids) == len(asks) == mm.layers
        fair = b.view.index_ticks[s]  # an empty book: the mid is the mark, which is the index
        assert bids[0] < fair < asks[0]
        # layers step away from the fair value by layer_spacing_bps
        gaps = [hi - lo for hi, lo in pairwise(bids)]
        assert all(g > 0 for g in gaps)
        assert gaps[0] == pytest.approx(mm.layer_spacing_bps * 1e-4 * fair, rel=0.05, abs=1.0)
        sizes = {o[4] for o in orders if o and o[1] == s}
        expected = max(1, ex.usd_to_lots(s, mm.layer_size_usd * b.view.liquidity_scale[s], fair))
        assert sizes == {expected}


def test_market_maker_stops_bidding_once_its_inventory_limit_binds() -> None:
    b = bare_market()
    ex = b.exchange
    mm = b.params.market_makers
    maker = MarketMaker(
        b.model, ex, b.view, mm, mm.capital_usd, [0], mm.loss_limit_usd, mm.inventory_limit_usd
    )
    maker.step()
    other = ex.open_account(50_000_000.0, leverage=5.0)
    price = round(ex.index_ticks[0])
    lots = ex.usd_to_lots(0, 1.2 * mm.inventory_limit_usd, price)
    ex.seed_position(maker.account, other, 0, lots, price)  # a long beyond the limit
    maker.step()
    sides = {ex.order_info(oid)[2] for oid in ex.open_orders(maker.account)}  # type: ignore[index]
    assert sides == {SELL}


def test_large_holder_forced_sale_sells_its_share_of_the_inventory() -> None:
    b = bare_market(large_holders={"sell_mode": "block", "drawdown_limit": 0.1})
    ex = b.exchange
    lh = b.params.large_holders
    price = ex.index_ticks[0]
    holder = LargeHolder(b.model, ex, b.view, lh, 5_000_000.0, cost_basis_ticks=price * 1.25)
    desk = ex.open_account(50_000_000.0, leverage=1.0)
    lots = ex.usd_to_lots(0, 2_000_000.0, price)
    ex.seed_position(holder.account, desk, 0, lots, round(price))
    quote_around(ex, 0, price, lots=lots)
    b.view.refresh(0.0, 50.0, 0.0)
    holder.step()  # 20% under its cost basis: beyond the drawdown limit
    assert holder.forced_sales == 1
    assert holder.sold_lots == int(lots * lh.forced_sale_fraction)
    assert ex.position_lots(holder.account, 0) == lots - holder.sold_lots


def test_noise_trader_keeps_at_most_its_resting_orders() -> None:
    b = bare_market(seed=3, background={"noise_market_share": 0.0, "noise_max_resting_orders": 3})
    ex = b.exchange
    quote_around(ex, 0, ex.index_ticks[0])
    b.view.refresh(0.0, 50.0, 0.0)
    trader = NoiseTrader(b.model, ex, b.view, b.params.background, 500_000.0, 0, 1 / 60)
    for _ in range(20):
        trader.step()
    assert 1 <= len(ex.open_orders(trader.account)) <= 3
