"""The exchange: orders and fills, rejections, index/mark prices and funding, with worked numbers.

Units: BTC with a $1 tick and a 0.01-coin lot (one tick on one lot = 10,000 micro-dollars = $0.01, a lot
at $50,000 is worth $500). Expected values are computed by hand in each test from the venue rules in
``MARKET_FACTS.md`` §3, not by calling the code under test.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from model.exchange import Exchange
from model.orderbook import BUY, IOC, POST_ONLY, SELL
from model.params import SymbolParams, VenueParams

USD = 1_000_000
TV = 10_000  # micro-dollars per tick per lot
INTERVAL_8H = 8 * 3600.0


def btc(price_usd: float = 50_000) -> SymbolParams:
    return SymbolParams(name="BTC", price_usd=price_usd, tick_size_usd=1.0, lot_size=0.01)


def eth() -> SymbolParams:
    return SymbolParams(name="ETH", price_usd=2_500, tick_size_usd=0.1, lot_size=0.1)


def make_exchange(
    preset: str = "binance_like", symbols: list[SymbolParams] | None = None, **venue: Any
) -> Exchange:
    venue.setdefault("index_arbitrage_per_second", 0.0)
    return Exchange(symbols or [btc()], VenueParams(preset=preset, **venue))  # type: ignore[arg-type]


def balances(ex: Exchange) -> list[int]:
    led = ex.ledger
    return [int(led.balance[a]) + int(led.iso_margin[a].sum()) for a in range(led.n)]


# ---------------------------------------------------------------------------------------------- orders


def test_fill_is_booked_to_both_accounts_with_fees() -> None:
    ex = make_exchange()
    maker = ex.open_account(100_000, leverage=10)
    taker = ex.open_account(100_000, leverage=10)
    fund_before = int(ex.ledger.balance[0])
    rest = ex.submit(maker, 0, SELL, 10, 50_000)
    assert rest.status == "resting" and rest.filled_lots == 0 and rest.oid is not None
    res = ex.submit(taker, 0, BUY, 4)  # a market order
    assert res.status == "filled" and res.filled_lots == 4
    assert [(f.price_ticks, f.lots, f.maker_owner, f.taker_owner) for f in res.fills] == [
        (50_000, 4, maker, taker)
    ]
    assert ex.position_lots(taker, 0) == 4 and ex.position_lots(maker, 0) == -4
    assert ex.entry_price_ticks(taker, 0) == 50_000 and ex.entry_price_ticks(maker, 0) == 50_000
    # notional 4 x $500 = $2,000: taker 5 bp = $1, maker 2 bp = $0.40, both to the fee account
    assert int(ex.ledger.balance[taker]) == 100_000 * USD - 1 * USD
    assert int(ex.ledger.balance[maker]) == 100_000 * USD - 400_000
    assert ex.ledger.fee_account_micro == 1_400_000
    assert int(ex.ledger.balance[0]) == fund_before
    assert ex.order_info(rest.oid) == (maker, 0, SELL, 50_000, 6)
    assert ex.open_interest_lots().tolist() == [4]
    assert ex.volume_lots[0] == 4 and ex.volume_notional_micro[0] == 2_000 * USD
    assert ex.signed_volume_lots == (4,)  # the tape: buyer-initiated
    assert ex.ledger_imbalance() == 0


def test_the_tape_nets_buyer_and_seller_initiated_lots() -> None:
    ex = make_exchange()
    maker = ex.open_account(100_000, leverage=10)
    taker = ex.open_account(100_000, leverage=10)
    ex.submit(maker, 0, SELL, 10, 50_001)
    ex.submit(maker, 0, BUY, 10, 49_999)
    ex.submit(taker, 0, BUY, 6)
    ex.submit(taker, 0, SELL, 9)
    assert ex.volume_lots == (15,) and ex.signed_volume_lots == (6 - 9,)


def test_limit_order_partially_fills_then_rests_and_cancels() -> None:
    ex = make_exchange()
    maker = ex.open_account(100_000, leverage=10)
    taker = ex.open_account(100_000, leverage=10)
    ex.submit(maker, 0, SELL, 3, 50_010)
    res = ex.submit(taker, 0, BUY, 5, 50_020)
    assert res.status == "resting" and res.filled_lots == 3 and res.oid is not None
    assert ex.best_bid(0) == 50_020 and ex.best_ask(0) is None
    assert ex.open_orders(taker) == [res.oid]
    assert int(ex.open_buy[taker, 0]) == 2
    assert ex.cancel(maker, res.oid) == 0  # not the maker's order: nothing happens
    assert ex.best_bid(0) == 50_020
    assert ex.cancel(taker, res.oid) == 2
    assert ex.best_bid(0) is None and ex.open_orders(taker) == [] and int(ex.open_buy[taker, 0]) == 0
    assert ex.cancel(taker, res.oid) == 0  # already gone


def test_ioc_and_market_orders_drop_the_rest() -> None:
    ex = make_exchange()
    maker = ex.open_account(100_000, leverage=10)
    taker = ex.open_account(100_000, leverage=10)
    ex.submit(maker, 0, SELL, 2, 50_000)
    res = ex.submit(taker, 0, BUY, 5, 50_000, tif=IOC)
    assert res.status == "partial" and res.filled_lots == 2
    assert ex.best_bid(0) is None
    res = ex.submit(taker, 0, BUY, 5)
    assert res.status == "expired" and res.filled_lots == 0
    assert ex.position_lots(taker, 0) == 2


def test_cancel_all_frees_the_margin_of_resting_orders() -> None:
    ex = make_exchange()
    a = ex.open_account(1_000, leverage=10)
    ex.submit(a, 0, BUY, 10, 49_000)  # worst case +10 lots at the mark: $5,000 / 10 = $500
    assert ex.available_usd(a) == pytest.approx(1_000 - 500)
    ex.submit(a, 0, BUY, 5, 48_000)
    assert ex.available_usd(a) == pytest.approx(1_000 - 750)
    assert ex.cancel_all(a) == 15
    assert ex.available_usd(a) == pytest.approx(1_000)
    assert ex.best_bid(0) is None


# ---------------------------------------------------------------------------------------------- rejections


def assert_rejected(res: Any, reason: str) -> None:
    assert res.status == "rejected"
    assert res.oid is None and res.filled_lots == 0 and res.fills == []
    assert reason in res.reason


def test_insufficient_initial_margin_is_rejected_and_changes_nothing() -> None:
    ex = make_exchange()
    maker = ex.open_account(100_000, leverage=10)
    poor = ex.open_account(150, leverage=10)
    ex.submit(maker, 0, SELL, 10, 50_000)
    before = balances(ex)
    # 4 lots = $2,000 at 10x needs $200 > $150
    assert_rejected(ex.submit(poor, 0, BUY, 4), "insufficient margin")
    assert_rejected(ex.submit(poor, 0, BUY, 4, 50_000), "insufficient margin")
    assert balances(ex) == before
    assert ex.position_lots(poor, 0) == 0 and ex.books[0].level_lots(SELL, 50_000) == 10
    assert ex.submit(poor, 0, BUY, 3).status == "filled"  # $150 needed: exactly enough


def test_resting_orders_count_toward_initial_margin() -> None:
    ex = make_exchange()
    a = ex.open_account(300, leverage=10)
    assert ex.submit(a, 0, BUY, 4, 49_000).status == "resting"  # worst case 4 lots: $200
    assert_rejected(ex.submit(a, 0, BUY, 4, 49_000), "insufficient margin")  # 8 lots: $400 > $300
    # a sell of 4 does not raise the worst case (max(|+4|, |-4|) = 4): it passes without more margin
    assert ex.submit(a, 0, SELL, 4, 51_000).status == "resting"
    # 2 more buys make the worst case 6 lots: $300, exactly the equity; one more lot is too many
    assert ex.submit(a, 0, BUY, 2, 49_500).status == "resting"
    assert_rejected(ex.submit(a, 0, BUY, 1, 49_500), "insufficient margin")
    assert ex.cancel_all(a) == 10
    assert ex.submit(a, 0, BUY, 6, 49_000).status == "resting"


def test_isolated_order_needs_free_balance() -> None:
    ex = make_exchange()
    iso = ex.open_account(150, isolated=True, leverage=10)
    assert_rejected(ex.submit(iso, 0, BUY, 4, 50_000), "free balance")
    assert ex.submit(iso, 0, BUY, 3, 50_000).status == "resting"


def test_added_isolated_margin_buffers_only_that_position_and_keeps_equity() -> None:
    """Adjusting an isolated position's margin: the wallet pays it, equity and the ledger stay whole, the
    position's margin ratio falls (its liquidation is further away); a cross account, a flat symbol or
    more than the free balance are refused."""
    ex = make_exchange(symbols=[btc(), eth()])
    iso = ex.open_account(10_000, isolated=True, leverage=10)
    other = ex.open_account(10_000)
    ex.seed_position(iso, other, 0, 10, 50_000)  # 0.1 BTC long at $50,000: $500 of margin at 10x
    ex.seed_position(iso, other, 1, 10, 25_000)  # 1 ETH long at $2,500: $250
    led = ex.ledger
    margin0 = int(led.iso_margin[iso, 0])
    free0 = int(led.balance[iso])
    equity0, ratio0 = ex.equity_usd(iso), ex.margin_ratio(iso)
    ex.add_isolated_margin(iso, "BTC", 1_000.0)
    assert (
        int(led.iso_margin[iso, 0]) == margin0 + 1_000 * USD and int(led.balance[iso]) == free0 - 1_000 * USD
    )
    assert ex.equity_usd(iso) == pytest.approx(equity0) and ex.ledger_imbalance() == 0
    assert ex.margin_ratio(iso) <= ratio0
    for account, symbol, usd, reason in (
        (other, 0, 1.0, "cross-margined"),
        (iso, 0, 1e9, "within the free balance"),
    ):
        with pytest.raises(ValueError, match=reason):
            ex.add_isolated_margin(account, symbol, usd)
    flat = ex.open_account(100, isolated=True)
    with pytest.raises(ValueError, match="holds no position"):
        ex.add_isolated_margin(flat, 1, 1.0)
    # allotting splits what is free equally over the open positions, to the micro-dollar
    free = int(led.balance[iso])
    before = [int(led.iso_margin[iso, s]) for s in (0, 1)]
    ex.allot_isolated_margin(iso)
    share = free // 2
    assert [int(led.iso_margin[iso, s]) for s in (0, 1)] == [before[0] + share, before[1] + share]
    assert int(led.balance[iso]) == free - 2 * share and ex.ledger_imbalance() == 0


def test_leverage_above_the_tier_maximum_is_rejected() -> None:
    ex = make_exchange()
    a = ex.open_account(1_000_000)
    ex.set_leverage(a, "BTC", 125)
    # 100 lots x $500 = $50,000: the first bracket (bound inclusive) allows 125x
    assert ex.submit(a, 0, BUY, 100, 50_000).status == "resting"
    # one more lot makes $50,500: the second bracket allows 100x only
    res = ex.submit(a, 0, BUY, 1, 50_000)
    assert_rejected(res, "exceeds")
    assert "125x" in res.reason and "100x" in res.reason
    ex.set_leverage(a, 0, 100)
    assert ex.submit(a, 0, BUY, 1, 50_000).status == "resting"


def test_reduce_only_that_would_increase_is_rejected() -> None:
    ex = make_exchange()
    maker = ex.open_account(100_000, leverage=10)
    a = ex.open_account(10_000, leverage=10)
    assert_rejected(ex.submit(a, 0, SELL, 1, 50_000, reduce_only=True), "reduce-only")  # flat
    ex.submit(maker, 0, SELL, 4, 50_000)
    ex.submit(a, 0, BUY, 4)
    assert_rejected(ex.submit(a, 0, BUY, 1, 49_000, reduce_only=True), "increase")
    assert_rejected(ex.submit(a, 0, SELL, 5, 51_000, reduce_only=True), "exceeds the position")
    assert ex.submit(a, 0, SELL, 4, 51_000, reduce_only=True).status == "resting"


def test_post_only_that_would_cross_is_rejected() -> None:
    ex = make_exchange()
    maker = ex.open_account(100_000, leverage=10)
    a = ex.open_account(100_000, leverage=10)
    ex.submit(maker, 0, SELL, 4, 50_000)
    assert_rejected(ex.submit(a, 0, BUY, 1, 50_000, tif=POST_ONLY), "post-only")
    assert ex.position_lots(a, 0) == 0 and ex.books[0].level_lots(SELL, 50_000) == 4
    res = ex.submit(a, 0, BUY, 1, 49_999, tif=POST_ONLY)
    assert res.status == "resting" and ex.best_bid(0) == 49_999


@pytest.mark.parametrize(
    ("lots", "price", "side", "reason"),
    [
        (0, 50_000, BUY, "lots"),
        (-3, 50_000, BUY, "lots"),
        (1.5, 50_000, BUY, "lots"),
        (True, 50_000, BUY, "lots"),
        (1, 0, BUY, "price"),
        (1, -5, SELL, "price"),
        (1, 50_000.5, SELL, "price"),
        (1, 50_000, 2, "side"),
        (np.float64(2.0), 50_000, BUY, "lots"),
        (np.bool_(True), 50_000, BUY, "lots"),
        (1, np.float64(50_000.0), SELL, "price"),
    ],
)
def test_bad_lots_price_or_side_is_rejected(lots: Any, price: Any, side: int, reason: str) -> None:
    ex = make_exchange()
    a = ex.open_account(100_000, leverage=10)
    assert_rejected(ex.submit(a, 0, side, lots, price), reason)
    assert len(ex.books[0]) == 0 and ex.messages == 0


def test_numpy_integer_lots_and_prices_trade_like_plain_ints() -> None:
    ex = make_exchange()
    maker = ex.open_account(100_000, leverage=10)
    a = ex.open_account(100_000, leverage=10)
    rest = ex.submit(maker, 0, SELL, np.int64(3), np.int32(50_000))
    assert rest.status == "resting" and ex.books[0].level_lots(SELL, 50_000) == 3
    res = ex.submit(a, 0, BUY, np.int64(2), np.int64(50_000), tif=IOC)
    assert res.filled_lots == 2 and ex.position_lots(a, 0) == 2
    assert type(ex.position_lots(a, 0)) is int and all(type(f.lots) is int for f in res.fills)
    assert ex.ledger_imbalance() == 0


def test_price_band_rejects_far_limits_and_caps_market_orders() -> None:
    ex = make_exchange()  # binance_like: 5% band around the mark (50,000)
    maker = ex.open_account(1_000_000, leverage=10)
    a = ex.open_account(1_000_000, leverage=10)
    assert_rejected(ex.submit(a, 0, BUY, 1, 52_501), "band")
    assert_rejected(ex.submit(a, 0, SELL, 1, 47_499), "band")
    assert ex.submit(maker, 0, SELL, 2, 52_500).status == "resting"  # at the edge: accepted
    ex.prices.mark_ticks[0] = 49_000.0  # the band moves with the mark: 52,500 is now out of reach
    res = ex.submit(a, 0, BUY, 2)
    assert res.status == "expired" and res.filled_lots == 0
    ex.prices.mark_ticks[0] = 50_000.0
    assert ex.submit(a, 0, BUY, 2).filled_lots == 2


def test_unknown_symbol_or_account_raises_key_error() -> None:
    ex = make_exchange()
    a = ex.open_account(1_000)
    with pytest.raises(KeyError, match="unknown symbol index 1"):
        ex.submit(a, 1, BUY, 1, 50_000)
    with pytest.raises(KeyError, match="'XRP'"):
        ex.symbol_id("XRP")
    with pytest.raises(KeyError, match="XRP"):
        ex.set_leverage(a, "XRP", 5)
    with pytest.raises(KeyError, match="unknown account 7"):
        ex.submit(7, 0, BUY, 1, 50_000)
    with pytest.raises(KeyError, match="unknown account 7"):
        ex.deposit(7, 100)
    with pytest.raises(KeyError, match="unknown account -2"):
        ex.set_leverage(-2, 0, 5)
    assert ex.symbol_id("BTC") == 0


# ------------------------------------------------------------------------------------- index and mark


def quote(ex: Exchange, maker: int, bid: int, ask: int, lots: int = 50) -> None:
    ex.submit(maker, 0, BUY, lots, bid)
    ex.submit(maker, 0, SELL, lots, ask)


def test_index_is_pulled_toward_the_perp_by_basis_arbitrage() -> None:
    # a spot market so resilient-free that the pull is the only endogenous move (no decay)
    slow = btc().model_copy(update={"spot_resilience_hours": 1e9})
    ex = make_exchange(index_arbitrage_per_second=0.01, symbols=[slow])
    mm = ex.open_account(1_000_000, leverage=10)
    quote(ex, mm, 50_999, 51_001)  # perp mid 51,000, index 50,000
    ex.update_prices(1.0)
    assert ex.index_ticks[0] == pytest.approx(50_000 + 0.01 * 1_000)  # 50,010
    ex.update_prices(10.0)
    assert ex.index_ticks[0] == pytest.approx(50_010 + 0.10 * 990)  # 50,109
    for _ in range(500):
        ex.update_prices(1.0)
    gap = 51_000 - 50_109 * 1.0
    assert 51_000 - ex.index_ticks[0] == pytest.approx(gap * 0.99**500, rel=1e-6)
    assert ex.index_usd(0) == pytest.approx(ex.index_ticks[0])
    # with no arbitrage the index only follows its exogenous path
    still = make_exchange(index_arbitrage_per_second=0.0)
    quote(still, still.open_account(1_000_000, leverage=10), 50_999, 51_001)
    still.update_prices(1.0, [math.log(1.02)])
    assert still.index_ticks[0] == pytest.approx(51_000)


def test_spot_flow_moves_the_index_and_the_move_decays_with_the_resilience_half_life() -> None:
    sym = SymbolParams.model_validate(
        {**btc().model_dump(), "spot_impact_per_musd": 0.001, "spot_resilience_hours": 1.0}
    )
    ex = make_exchange(symbols=[sym])
    ex.spot_flow(0, -10_000_000.0)  # $10M of net spot selling: -1% (log)
    assert math.log(ex.index_ticks[0] / 50_000) == pytest.approx(-0.01)
    ex.update_prices(7200.0)  # two half-lives, no exogenous move, no book to pull toward
    assert math.log(ex.index_ticks[0] / 50_000) == pytest.approx(-0.0025, rel=1e-6)


def trade_at(ex: Exchange, buyer: int, seller: int, price: int, lots: int = 1) -> None:
    assert ex.submit(seller, 0, SELL, lots, price).status == "resting"
    assert ex.submit(buyer, 0, BUY, lots, price, tif=IOC).filled_lots == lots


def test_mark_ignores_an_outlier_last_trade() -> None:
    ex = make_exchange()
    a, b, mm = (ex.open_account(1_000_000, leverage=10) for _ in range(3))
    trade_at(ex, a, b, 52_400)  # a 4.8% print, then the book settles around 50,000
    quote(ex, mm, 49_990, 50_010)
    ex.update_prices(1.0)
    assert ex.last_ticks(0) == 52_400
    # components: index x (1 + F x time to funding), with premium 0 so F = interest 0.01%;
    # index + basis MA = 50,000; last 52,400. The median is the first.
    expected = 50_000 * (1 + 0.0001 * (INTERVAL_8H - 1) / INTERVAL_8H)
    assert float(ex.mark_ticks[0]) == pytest.approx(expected, rel=1e-12)
    assert ex.mark_usd(0) == pytest.approx(expected)
    # the unrealised PnL of the outlier buyer is at the mark, not at the print
    assert ex.unrealised_usd(a, 0) == pytest.approx((expected - 52_400) * 0.01)


def test_mark_is_the_median_basis_moving_average() -> None:
    ex = make_exchange()
    a, b, mm = (ex.open_account(1_000_000, leverage=10) for _ in range(3))
    trade_at(ex, a, b, 52_400)  # last trade far above
    quote(ex, mm, 50_099, 50_101)  # mid 50,100: basis 100 on an index of 50,000
    for _ in range(30):
        ex.update_prices(1.0)
    assert float(ex.mark_ticks[0]) == pytest.approx(50_100)  # index + MA(100)
    ex.cancel_all(mm)
    quote(ex, mm, 49_999, 50_001)  # basis 0 now
    ex.update_prices(1.0)
    # the 30-s window holds t = 2..31: 29 samples of 100 and one of 0
    ma = (29 * 100 + 0) / 30
    # funding component: mean premium (30 x 0.002 + 0) / 31, F = P - 0.0005 (clamped), times 1 - 31/28800
    p = 30 * 0.002 / 31
    comp1 = 50_000 * (1 + (p - 0.0005) * (INTERVAL_8H - 31) / INTERVAL_8H)
    assert comp1 < 50_000 + ma < 52_400
    assert float(ex.mark_ticks[0]) == pytest.approx(50_000 + ma, rel=1e-12)


def test_mark_follows_the_funding_component_when_last_is_low() -> None:
    ex = make_exchange()
    a, b, mm = (ex.open_account(1_000_000, leverage=10) for _ in range(3))
    trade_at(ex, a, b, 48_000)  # last trade far below
    quote(ex, mm, 50_099, 50_101)
    ex.update_prices(1.0)
    # premium 0.002 -> F = 0.002 + clamp(0.0001 - 0.002, +-0.0005) = 0.0015
    expected = 50_000 * (1 + 0.0015 * (INTERVAL_8H - 1) / INTERVAL_8H)  # 50,074.997
    assert float(ex.mark_ticks[0]) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------------------------- funding


def funded_market(
    preset: str, basis: int, long_lots: int = 7, **venue: Any
) -> tuple[Exchange, int, int, int]:
    """A long and a short of ``long_lots`` traded at 50,000 + basis, quoted around it: mid = last = P."""
    ex = make_exchange(preset, **venue)
    lng = ex.open_account(1_000_000, leverage=10)
    sht = ex.open_account(1_000_000, leverage=10)
    mm = ex.open_account(1_000_000, leverage=10)
    price = 50_000 + basis
    trade_at(ex, lng, sht, price, long_lots)
    quote(ex, mm, price - 1, price + 1)
    return ex, lng, sht, mm


@pytest.mark.parametrize(
    ("basis", "rate"),
    [
        (37, 0.00074 - 0.0005),  # premium 0.074%: F = P + clamp(I - P) = P - 0.05% = 0.024%
        (10, 0.0001),  # premium 0.02%: I - P = -0.01% inside the clamp, F = I = 0.01%
        (0, 0.0001),  # no premium: F = interest
        (-10, 0.0001),  # a small discount still pays the interest: longs pay
        (-50, -0.001 + 0.0005),  # discount 0.1%: F = -0.05%, shorts pay longs
        (1_000, 0.0075),  # premium 2%: F = 1.95%, capped at 0.75%
        (-1_000, -0.0075),  # discount 2%: capped at -0.75%
    ],
)
def test_binance_funding_rate_sign_clamp_and_cap(basis: int, rate: float) -> None:
    ex, lng, sht, _mm = funded_market("binance_like", basis)
    before = balances(ex)
    fee_before = ex.ledger.fee_account_micro
    ex.update_prices(INTERVAL_8H)
    assert ex.last_funding_rate[0] == pytest.approx(rate, abs=1e-12)
    mark = 50_000 + basis  # median of (index, index + basis, last = mid)
    assert float(ex.mark_ticks[0]) == pytest.approx(mark)
    units = round(rate * 1e9)
    owed = 7 * mark * TV * units  # in micro-dollars x 1e9
    pay, get = -(-abs(owed) // 10**9), abs(owed) // 10**9
    after = balances(ex)
    if rate > 0:  # longs pay shorts
        assert after[lng] - before[lng] == -pay and after[sht] - before[sht] == get
    else:
        assert after[sht] - before[sht] == -pay and after[lng] - before[lng] == get
    assert ex.ledger.fee_account_micro - fee_before == pay - get
    assert ex.ledger_imbalance() == 0


def test_funding_rounding_remainder_goes_to_the_fee_account() -> None:
    ex, lng, sht, _mm = funded_market("binance_like", 37)
    before = balances(ex)
    fee_before = ex.ledger.fee_account_micro
    ex.update_prices(INTERVAL_8H)
    # 7 lots x 50,037 ticks x $0.01 x 0.024% = $0.8406216: the long pays 840,622 micro, the short gets 840,621
    assert balances(ex)[lng] - before[lng] == -840_622
    assert balances(ex)[sht] - before[sht] == 840_621
    assert ex.ledger.fee_account_micro - fee_before == 1
    assert ex.funding_paid_micro == 840_622


def test_funding_settles_only_at_the_interval() -> None:
    ex, lng, _sht, _mm = funded_market("binance_like", 37)
    before = balances(ex)
    ex.update_prices(INTERVAL_8H - 1)
    assert balances(ex) == before
    assert ex.funding_rate[0] == pytest.approx(0.00024)  # the predicted rate is already known
    ex.update_prices(1.0)
    assert balances(ex)[lng] - before[lng] == -840_622
    assert ex.next_funding_s == 2 * INTERVAL_8H
    mid = balances(ex)
    ex.update_prices(INTERVAL_8H - 1)
    assert balances(ex) == mid
    ex.update_prices(1.0)
    assert balances(ex)[lng] < mid[lng]


def test_funding_is_zero_sum_to_the_micro_dollar_with_isolated_holders() -> None:
    ex = make_exchange()
    mm = ex.open_account(1_000_000, leverage=10)
    longs = [ex.open_account(100_000, leverage=10), ex.open_account(100_000, isolated=True, leverage=5)]
    shorts = [ex.open_account(100_000, leverage=10), ex.open_account(100_000, isolated=True, leverage=20)]
    for lots, (lg, sh) in zip((3, 11), zip(longs, shorts, strict=True), strict=True):
        trade_at(ex, lg, sh, 50_037, lots)
    trade_at(ex, longs[0], shorts[1], 50_037, 5)
    quote(ex, mm, 50_036, 50_038)
    iso_before = int(ex.ledger.iso_margin[longs[1], 0])
    before = balances(ex)
    fee_before = ex.ledger.fee_account_micro
    ex.update_prices(INTERVAL_8H)
    after = balances(ex)
    fee_delta = ex.ledger.fee_account_micro - fee_before
    assert sum(after) - sum(before) + fee_delta == 0
    assert 0 <= fee_delta < 4  # at most one micro-dollar per holder
    # each holder's payment at 0.024% of 50,037 ticks x $0.01 per lot
    for acct, lots in ((longs[0], 8), (longs[1], 11)):
        assert after[acct] - before[acct] == -math.ceil(lots * 50_037 * 2.4 - 1e-9)
    for acct, lots in ((shorts[0], 3), (shorts[1], 16)):
        assert after[acct] - before[acct] == math.floor(lots * 50_037 * 2.4 + 1e-9)
    # the isolated long paid from its isolated margin, not its free balance
    assert int(ex.ledger.iso_margin[longs[1], 0]) == iso_before - math.ceil(11 * 50_037 * 2.4)
    assert after[mm] == before[mm]


@pytest.mark.parametrize(
    ("basis", "rate"),
    [
        (0, 0.0001 / 8),  # the interest, per hour
        (50, (0.001 - 0.0005) / 8),  # premium 0.1%: the 8-h rate 0.05%, paid 1/8 per hour
        (-50, (-0.001 + 0.0005) / 8),
        (25_000, 0.04),  # premium 50%: (0.5 - 0.0005) / 8 = 6.2%, capped at 4% an hour
    ],
)
def test_hyperliquid_funding_is_hourly_at_an_eighth_of_the_8h_rate(basis: int, rate: float) -> None:
    # the rule under test is the rate's hourly eighth and cap: the premium from the mid and the payment
    # at the mark keep the arithmetic visible (the preset's impact premium and oracle price are tested in
    # test_venue_rules.py)
    ex, lng, sht, _mm = funded_market(
        "hyperliquid_like", basis, price_band=1.0, premium_source="mid", funding_price="mark"
    )  # (a 50% premium)
    assert ex.funding_interval_s == 3600.0
    before = balances(ex)
    ex.update_prices(3599.0)
    assert balances(ex) == before
    ex.update_prices(1.0)
    assert ex.last_funding_rate[0] == pytest.approx(rate, abs=1e-12)
    mark = 50_000 + basis
    owed = 7 * mark * TV * round(rate * 1e9)
    paid_by, paid_to = (lng, sht) if rate > 0 else (sht, lng)
    pay = -(-abs(owed) // 10**9)  # payers round up
    assert balances(ex)[paid_by] - before[paid_by] == -pay
    assert balances(ex)[paid_to] - before[paid_to] == abs(owed) // 10**9
    assert ex.next_funding_s == 7200.0
    assert ex.ledger_imbalance() == 0


def test_hyperliquid_preset_margin_rule() -> None:
    ex = make_exchange("hyperliquid_like")
    a = ex.open_account(1_000_000)
    ex.set_leverage(a, 0, 41)
    assert_rejected(ex.submit(a, 0, BUY, 1, 50_000), "40x")
    ex.set_leverage(a, 0, 40)
    assert ex.submit(a, 0, BUY, 1, 50_000).status == "resting"
    assert ex.schedules[0].maintenance_usd(100_000) == pytest.approx(1_250)  # 1.25% at 40x


def test_equity_and_margin_views_follow_the_mark() -> None:
    ex = make_exchange(maker_fee=0.0, taker_fee=0.0)
    a = ex.open_account(1_000, leverage=20)
    b = ex.open_account(100_000, leverage=10)
    trade_at(ex, a, b, 50_000, 30)  # $15,000 long on $1,000
    ex.prices.mark_ticks[0] = 49_000.0
    assert ex.unrealised_usd(a, 0) == pytest.approx(-300)
    assert ex.equity_usd(a) == pytest.approx(700)
    assert ex.notional_usd(a, 0) == pytest.approx(14_700)
    assert ex.maintenance_usd(a) == pytest.approx(14_700 * 0.004)
    assert ex.margin_ratio(a) == pytest.approx(14_700 * 0.004 / 700)
    assert ex.equity_usd(a) + ex.equity_usd(b) == pytest.approx(101_000)  # zero-sum at any mark


def test_zero_length_price_update_is_harmless() -> None:
    ex, _lng, _sht, _mm = funded_market("binance_like", 37)
    ex.update_prices(0.0)  # before any premium sample
    assert ex.funding_rate[0] == pytest.approx(0.0001)
    ex.update_prices(INTERVAL_8H)
    ex.update_prices(0.0)  # right after a settlement
    assert ex.time_s == INTERVAL_8H
    assert ex.last_funding_rate[0] == pytest.approx(0.00024)


# ---------------------------------------------------------------------------------------------- batch quotes


def ladder(mid: int, shift: int = 0, lots: int = 5) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Three bid and three ask levels one tick apart around ``mid + shift``."""
    m = mid + shift
    return [(m - 1 - k, lots) for k in range(3)], [(m + 1 + k, lots) for k in range(3)]


def resting_levels(ex: Exchange, account: int) -> list[tuple[int, int, int]]:
    """(side, price, lots) of every resting order of ``account``, sorted."""
    out = []
    for oid in ex.open_orders(account):
        info = ex.order_info(oid)
        assert info is not None
        out.append((info[2], info[3], info[4]))
    return sorted(out)


@pytest.mark.parametrize("keep_queue", [False, True])
def test_replace_quotes_rests_the_same_ladder_either_way(keep_queue: bool) -> None:
    ex = make_exchange()
    mm = ex.open_account(1_000_000, leverage=10)
    assert ex.replace_quotes(mm, 0, *ladder(50_000)) == 6
    bids, asks = ladder(50_000, shift=1)
    bids[0] = (bids[0][0], 9)  # more at the new best bid, less at the worst ask
    asks[2] = (asks[2][0], 2)
    ex.replace_quotes(mm, 0, bids, asks, keep_queue=keep_queue)
    assert resting_levels(ex, mm) == sorted([(BUY, p, q) for p, q in bids] + [(SELL, p, q) for p, q in asks])
    # the margin bookkeeping follows: cancelling everything frees exactly what rests
    assert ex.cancel_all(mm) == sum(q for _, q in bids) + sum(q for _, q in asks)


def test_keep_queue_keeps_time_priority_at_the_levels_it_keeps() -> None:
    """A requote shifted by one tick: with keep_queue the maker's order at a kept price is still first
    in the queue (it fills before an order another trader joined the level with); without it the maker
    goes to the back. It also costs fewer book messages."""
    filled_first = {}
    messages = {}
    for keep in (False, True):
        ex = make_exchange()
        mm = ex.open_account(1_000_000, leverage=10)
        other = ex.open_account(1_000_000, leverage=10)
        taker = ex.open_account(1_000_000, leverage=10)
        ex.replace_quotes(mm, 0, *ladder(50_000))
        ex.submit(other, 0, SELL, 5, 50_002)  # joins the maker's second ask level, behind it
        before = ex.messages
        ex.replace_quotes(mm, 0, *ladder(50_000, shift=1), keep_queue=keep)  # asks 50,002..50,004
        messages[keep] = ex.messages - before
        ex.submit(taker, 0, BUY, 1, 50_002, tif=IOC)
        filled_first[keep] = "maker" if ex.position_lots(mm, 0) == -1 else "other"
        assert ex.ledger_imbalance() == 0
    assert filled_first == {False: "other", True: "maker"}
    # a one-tick shift of a 3 x 2 ladder: 2 cancels + 2 posts with the queue kept, 6 + 6 without
    assert messages == {False: 12, True: 4}


def test_keep_queue_reduces_in_place_and_tops_up_behind_the_queue() -> None:
    ex = make_exchange()
    mm = ex.open_account(1_000_000, leverage=10)
    other = ex.open_account(1_000_000, leverage=10)
    taker = ex.open_account(1_000_000, leverage=10)
    ex.replace_quotes(mm, 0, [(49_999, 5)], [(50_001, 5)])
    ex.submit(other, 0, SELL, 5, 50_001)
    ex.submit(other, 0, BUY, 5, 49_999)
    # less at the ask (reduced in place: still first), more at the bid (topped up behind the other)
    ex.replace_quotes(mm, 0, [(49_999, 8)], [(50_001, 2)], keep_queue=True)
    assert resting_levels(ex, mm) == [(BUY, 49_999, 3), (BUY, 49_999, 5), (SELL, 50_001, 2)]
    ex.submit(taker, 0, BUY, 2, 50_001, tif=IOC)
    assert ex.position_lots(mm, 0) == -2 and ex.position_lots(other, 0) == 0  # the maker kept priority
    ex.submit(taker, 0, SELL, 7, 49_999, tif=IOC)  # the maker's first 5, then the other's 2 before the top-up
    assert ex.position_lots(mm, 0) == -2 + 5 and ex.position_lots(other, 0) == 2
    assert ex.ledger_imbalance() == 0


@pytest.mark.parametrize("keep_queue", [False, True])
def test_a_ladder_that_fails_the_margin_check_leaves_nothing_resting(keep_queue: bool) -> None:
    ex = make_exchange()
    mm = ex.open_account(1_000, leverage=10)  # $1,000 at 10x: $10,000 of quotes at most
    assert ex.replace_quotes(mm, 0, [(49_999, 5)], [(50_001, 5)], keep_queue=keep_queue) == 2
    huge = [(49_999, 1_000)]  # $500,000 of bids
    assert ex.replace_quotes(mm, 0, huge, [(50_001, 5)], keep_queue=keep_queue) == 0
    assert ex.open_orders(mm) == []
