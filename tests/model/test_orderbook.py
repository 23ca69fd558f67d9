"""Unit tests of the limit order book, one behaviour per test (in the style of ABIDES' tests/orderbook).

Each test builds a small book with :func:`book_with`, sends one message and asserts on what the book did:
the fills it returned, their prices and sizes, and what rests afterwards.
"""

from __future__ import annotations

import pytest

from model.orderbook import (
    BUY,
    GTC,
    IOC,
    POST_ONLY,
    SELF_TRADE_ALLOW,
    SELF_TRADE_CANCEL_MAKER,
    SELF_TRADE_CANCEL_TAKER,
    SELL,
    Fill,
    OrderBook,
    OrderBookError,
)

# ------------------------------------------------------------------------------------ helpers


def book_with(
    *orders: tuple[int, int, int, int] | tuple[int, int, int, int, int], **kwargs: str
) -> OrderBook:
    """A book holding resting GTC orders ``(oid, side, price, lots[, owner])``, in the given time order.

    Owner defaults to 100 + oid, so that no two orders share an owner unless a test says so. The helper
    checks that every order rests untouched (the test data must not cross by accident).
    """
    book = OrderBook("TEST", **kwargs)
    for order in orders:
        oid, side, price, lots = order[:4]
        owner = order[4] if len(order) == 5 else 100 + oid
        assert book.limit(oid, owner, side, price, lots) == []
        assert book.resting_lots(oid) == lots
    return book


def traded(fills: list[Fill]) -> list[tuple[int, int, int]]:
    """``(maker_oid, price_ticks, lots)`` of each fill, in order."""
    return [(f.maker_oid, f.price_ticks, f.lots) for f in fills]


def standard_book() -> OrderBook:
    """Bids 99 x 10 (oid 1), 98 x 20 (oid 2); asks 101 x 10 (oid 3), 102 x 20 (oid 4)."""
    return book_with((1, BUY, 99, 10), (2, BUY, 98, 20), (3, SELL, 101, 10), (4, SELL, 102, 20))


# ------------------------------------------------------------------------------------ matching


def test_crossing_limit_buy_trades_at_the_resting_price() -> None:
    book = standard_book()
    fills = book.limit(10, 7, BUY, 105, 10)
    assert traded(fills) == [(3, 101, 10)]  # the maker's price, not the taker's limit of 105
    assert book.best_ask() == 102
    assert book.resting_lots(10) == 0


def test_crossing_limit_sell_trades_at_the_resting_price() -> None:
    book = standard_book()
    fills = book.limit(10, 7, SELL, 90, 10)
    assert traded(fills) == [(1, 99, 10)]
    assert book.best_bid() == 98


def test_fill_carries_both_sides_of_the_trade() -> None:
    book = book_with((1, SELL, 101, 10, 42))
    (fill,) = book.limit(10, 7, BUY, 101, 4)
    assert fill == Fill(
        price_ticks=101,
        lots=4,
        maker_oid=1,
        taker_oid=10,
        maker_owner=42,
        taker_owner=7,
        aggressor_side=BUY,
        maker_left_lots=6,
    )


def test_partial_fill_of_the_maker_leaves_the_rest_resting() -> None:
    book = standard_book()
    fills = book.limit(10, 7, BUY, 101, 4)
    assert traded(fills) == [(3, 101, 4)]
    assert fills[0].maker_left_lots == 6
    assert book.resting_lots(3) == 6
    assert book.level_lots(SELL, 101) == 6
    assert book.resting_lots(10) == 0  # the taker was filled in full: nothing of it rests


def test_partial_fill_of_the_taker_rests_the_remainder_at_its_limit() -> None:
    book = standard_book()
    fills = book.limit(10, 7, BUY, 101, 15)
    assert traded(fills) == [(3, 101, 10)]
    assert book.resting_lots(10) == 5
    assert book.order(10) == (BUY, 101, 5, 7)
    assert book.best_bid() == 101
    assert book.best_ask() == 102


def test_orders_at_one_price_fill_first_in_first_out() -> None:
    book = book_with((1, SELL, 101, 5), (2, SELL, 101, 5), (3, SELL, 101, 5))
    fills = book.market(10, 7, BUY, 7)
    assert traded(fills) == [(1, 101, 5), (2, 101, 2)]
    assert book.level_orders(SELL, 101) == [(2, 3, 102), (3, 5, 103)]


def test_a_large_order_walks_several_levels_best_price_first() -> None:
    book = book_with((1, SELL, 103, 5), (2, SELL, 101, 5), (3, SELL, 102, 5), (4, SELL, 101, 5))
    fills = book.limit(10, 7, BUY, 102, 18)
    assert traded(fills) == [(2, 101, 5), (4, 101, 5), (3, 102, 5)]
    assert book.best_ask() == 103  # the limit of 102 stops the walk before 103
    assert book.order(10) == (BUY, 102, 3, 7)


def test_a_limit_order_that_does_not_cross_rests_without_fills() -> None:
    book = standard_book()
    assert book.limit(10, 7, BUY, 100, 5) == []
    assert book.best_bid() == 100
    assert book.level_orders(BUY, 100) == [(10, 5, 7)]


def test_ioc_remainder_is_dropped() -> None:
    book = standard_book()
    fills = book.limit(10, 7, BUY, 101, 15, IOC)
    assert traded(fills) == [(3, 101, 10)]
    assert book.resting_lots(10) == 0
    assert book.best_bid() == 99  # nothing of the IOC order rests


def test_ioc_that_does_not_cross_neither_trades_nor_rests() -> None:
    book = standard_book()
    assert book.limit(10, 7, BUY, 100, 5, IOC) == []
    assert len(book) == 4
    assert book.best_bid() == 99


def test_post_only_that_would_cross_is_rejected() -> None:
    book = standard_book()
    assert book.would_cross(BUY, 101)
    assert book.limit(10, 7, BUY, 101, 5, POST_ONLY) == []
    assert book.resting_lots(10) == 0
    assert book.resting_lots(3) == 10  # the ask it would have hit is untouched
    assert len(book) == 4


def test_post_only_that_does_not_cross_rests() -> None:
    book = standard_book()
    assert not book.would_cross(SELL, 100)
    assert book.limit(10, 7, SELL, 100, 5, POST_ONLY) == []
    assert book.order(10) == (SELL, 100, 5, 7)
    assert book.best_ask() == 100


def test_market_order_trades_until_filled() -> None:
    book = standard_book()
    fills = book.market(10, 7, SELL, 25)
    assert traded(fills) == [(1, 99, 10), (2, 98, 15)]
    assert book.resting_lots(2) == 5
    assert book.resting_lots(10) == 0  # a market order never rests


def test_market_order_larger_than_the_side_empties_it_and_drops_the_rest() -> None:
    book = standard_book()
    fills = book.market(10, 7, BUY, 100)
    assert sum(f.lots for f in fills) == 30
    assert book.best_ask() is None
    assert book.prices(SELL) == []
    assert len(book) == 2


def test_market_order_into_an_empty_side_returns_no_fills() -> None:
    book = book_with((1, BUY, 99, 10))
    assert book.market(10, 7, BUY, 5) == []
    assert book.last_price_ticks is None
    assert book.order(1) == (BUY, 99, 10, 101)


def test_last_trade_price_is_the_price_of_the_last_fill() -> None:
    book = standard_book()
    assert book.last_price_ticks is None
    book.market(10, 7, BUY, 15)  # 10 at 101 then 5 at 102
    assert book.last_price_ticks == 102
    book.market(11, 7, SELL, 1)
    assert book.last_price_ticks == 99


def test_resting_order_does_not_change_last_trade_price() -> None:
    book = standard_book()
    book.market(10, 7, BUY, 1)
    book.limit(11, 7, SELL, 150, 3)
    book.cancel(2)
    assert book.last_price_ticks == 101


# ------------------------------------------------------------------------------------ cancel, reduce


def test_cancel_returns_the_resting_lots_and_removes_the_order() -> None:
    book = standard_book()
    book.market(10, 7, BUY, 4)  # order 3 now has 6 left
    assert book.cancel(3) == 6
    assert book.resting_lots(3) == 0
    assert book.order(3) is None
    assert book.best_ask() == 102
    assert book.level_lots(SELL, 101) == 0


def test_cancel_twice_raises() -> None:
    book = standard_book()
    book.cancel(1)
    with pytest.raises(OrderBookError, match="cannot cancel order 1: not resting"):
        book.cancel(1)


def test_cancel_of_one_order_keeps_the_level_and_the_others_priority() -> None:
    book = book_with((1, SELL, 101, 5), (2, SELL, 101, 6), (3, SELL, 101, 7))
    assert book.cancel(2) == 6
    assert book.level_lots(SELL, 101) == 12
    assert traded(book.market(10, 7, BUY, 12)) == [(1, 101, 5), (3, 101, 7)]


def test_a_cancelled_oid_can_be_used_again() -> None:
    book = book_with((1, SELL, 101, 5), (2, SELL, 101, 6))
    book.cancel(1)
    assert book.limit(1, 9, SELL, 101, 4) == []
    assert book.level_orders(SELL, 101) == [(2, 6, 102), (1, 4, 9)]  # the new order 1 queues last


def test_reduce_keeps_time_priority() -> None:
    book = book_with((1, SELL, 101, 10), (2, SELL, 101, 10))
    assert book.reduce(1, 7) == 3
    assert book.level_lots(SELL, 101) == 13
    assert traded(book.market(10, 7, BUY, 5)) == [(1, 101, 3), (2, 101, 2)]


def test_reduce_to_zero_cancels_the_order() -> None:
    book = book_with((1, SELL, 101, 10), (2, SELL, 102, 10))
    assert book.reduce(1, 10) == 0
    assert book.order(1) is None
    assert book.best_ask() == 102
    with pytest.raises(OrderBookError, match="not resting"):
        book.cancel(1)


def test_reduce_by_more_than_resting_raises_and_changes_nothing() -> None:
    book = book_with((1, SELL, 101, 10))
    with pytest.raises(OrderBookError, match="cannot reduce order 1 by 11 lots: it has 10 resting"):
        book.reduce(1, 11)
    assert book.resting_lots(1) == 10


def test_reduce_of_an_unknown_order_raises() -> None:
    book = standard_book()
    with pytest.raises(OrderBookError, match="cannot reduce order 99: not resting"):
        book.reduce(99, 1)


# ------------------------------------------------------------------------------------ market data


def test_l2_depth_lists_levels_best_first_with_their_totals() -> None:
    book = book_with(
        (1, BUY, 99, 10), (2, BUY, 98, 20), (3, BUY, 99, 5), (4, SELL, 101, 7), (5, SELL, 103, 1)
    )
    assert book.depth(BUY) == [(99, 15), (98, 20)]
    assert book.depth(SELL) == [(101, 7), (103, 1)]
    assert book.depth(BUY, n_levels=1) == [(99, 15)]
    assert book.prices(BUY) == [99, 98]


def test_depth_of_an_empty_side_is_empty() -> None:
    book = book_with((1, BUY, 99, 10))
    assert book.depth(SELL) == []
    assert book.level_lots(SELL, 101) == 0


def test_depth_within_counts_lots_inside_the_band_around_mid() -> None:
    book = book_with(
        (1, BUY, 99, 10), (2, BUY, 95, 20), (3, BUY, 94, 40), (4, SELL, 101, 1), (5, SELL, 105, 2),
        (6, SELL, 106, 4),
    )  # fmt: skip
    assert book.mid() == 100
    assert book.depth_within(0.05) == (30, 3)  # bids >= 95, asks <= 105
    assert book.depth_within(0.001) == (0, 0)


def test_depth_within_is_zero_without_a_mid() -> None:
    book = book_with((1, BUY, 99, 10))
    assert book.depth_within(0.5) == (0, 0)


def test_mid_and_spread() -> None:
    book = book_with((1, BUY, 99, 10), (2, SELL, 102, 10))
    assert book.spread() == 3
    assert book.mid() == 100.5


def test_mid_and_spread_are_none_when_a_side_is_empty() -> None:
    book = book_with((1, BUY, 99, 10))
    assert book.mid() is None
    assert book.spread() is None
    assert book.best_ask() is None
    assert book.best_bid() == 99


def test_total_resting_lots_and_len() -> None:
    book = standard_book()
    assert len(book) == 4
    assert book.total_resting_lots() == 60
    book.market(10, 7, SELL, 12)
    assert len(book) == 3
    assert book.total_resting_lots() == 48
    assert sorted(book.resting_oids()) == [2, 3, 4]


# ------------------------------------------------------------------------------------ self-trade


def test_self_trade_allowed_by_default() -> None:
    book = book_with((1, SELL, 101, 5, 7))
    fills = book.limit(10, 7, BUY, 101, 5)
    assert traded(fills) == [(1, 101, 5)]
    assert fills[0].maker_owner == fills[0].taker_owner == 7
    assert book.self_trade == SELF_TRADE_ALLOW


def test_self_trade_cancel_taker_drops_the_rest_of_the_incoming_order() -> None:
    book = book_with((1, SELL, 101, 5, 8), (2, SELL, 101, 5, 7), (3, SELL, 101, 5, 8),
                     self_trade=SELF_TRADE_CANCEL_TAKER)  # fmt: skip
    fills = book.limit(10, 7, BUY, 101, 12)
    assert traded(fills) == [(1, 101, 5)]  # stops at its own order 2
    assert book.resting_lots(10) == 0  # the rest expires, it does not rest
    assert book.level_orders(SELL, 101) == [(2, 5, 7), (3, 5, 8)]  # the makers are untouched


def test_self_trade_cancel_maker_cancels_the_own_resting_order_and_goes_on() -> None:
    book = book_with((1, SELL, 101, 5, 8), (2, SELL, 101, 5, 7), (3, SELL, 101, 5, 8),
                     self_trade=SELF_TRADE_CANCEL_MAKER)  # fmt: skip
    fills = book.limit(10, 7, BUY, 101, 12)
    assert traded(fills) == [(1, 101, 5), (3, 101, 5)]
    assert book.order(2) is None  # the own order was cancelled, not traded
    assert book.order(10) == (BUY, 101, 2, 7)
    assert book.level_lots(SELL, 101) == 0


def test_self_trade_prevention_ignores_other_owners() -> None:
    book = book_with((1, SELL, 101, 5, 8), self_trade=SELF_TRADE_CANCEL_TAKER)
    assert traded(book.market(10, 7, BUY, 5)) == [(1, 101, 5)]


def test_unknown_self_trade_mode_is_rejected() -> None:
    with pytest.raises(OrderBookError, match="self_trade must be one of"):
        OrderBook("TEST", self_trade="maybe")


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("lots", [0, -5])
def test_non_positive_lots_are_rejected(lots: int) -> None:
    book = standard_book()
    with pytest.raises(OrderBookError, match="lots must be > 0"):
        book.limit(10, 7, BUY, 100, lots)
    with pytest.raises(OrderBookError, match="lots must be > 0"):
        book.market(11, 7, BUY, lots)
    assert len(book) == 4


@pytest.mark.parametrize("price", [0, -100])
def test_non_positive_price_is_rejected(price: int) -> None:
    book = standard_book()
    with pytest.raises(OrderBookError, match="price_ticks must be > 0"):
        book.limit(10, 7, SELL, price, 5)
    assert book.best_bid() == 99  # a sell at <= 0 would otherwise have hit the bids
    assert len(book) == 4


def test_non_integer_price_is_rejected() -> None:
    book = standard_book()
    with pytest.raises(OrderBookError, match=r"price_ticks 100\.5 is not on the integer grid"):
        book.limit(10, 7, BUY, 100.5, 5)  # type: ignore[arg-type]
    assert len(book) == 4


def test_non_integer_lots_are_rejected() -> None:
    book = standard_book()
    with pytest.raises(OrderBookError, match=r"lots 2\.5 is not on the integer grid"):
        book.limit(10, 7, BUY, 100, 2.5)  # type: ignore[arg-type]
    with pytest.raises(OrderBookError, match="lots must be an integer"):
        book.market(11, 7, BUY, "two")  # type: ignore[arg-type]


def test_whole_floats_are_accepted_as_ints() -> None:
    book = standard_book()
    book.limit(10, 7, BUY, 100.0, 5.0)  # type: ignore[arg-type]
    assert book.depth(BUY, 1) == [(100, 5)]
    assert type(book.depth(BUY, 1)[0][1]) is int


def test_cancel_of_an_unknown_oid_raises() -> None:
    book = standard_book()
    with pytest.raises(OrderBookError, match="cannot cancel order 99: not resting"):
        book.cancel(99)


def test_cancel_of_a_filled_order_raises() -> None:
    book = standard_book()
    book.market(10, 7, BUY, 10)  # fills order 3 completely
    with pytest.raises(OrderBookError, match="cannot cancel order 3: not resting"):
        book.cancel(3)


def test_duplicate_oid_is_rejected() -> None:
    book = standard_book()
    with pytest.raises(OrderBookError, match="order 1: duplicate order id"):
        book.limit(1, 7, SELL, 150, 5)
    with pytest.raises(OrderBookError, match="order 3: duplicate order id"):
        book.market(3, 7, SELL, 5)
    assert book.order(1) == (BUY, 99, 10, 101)
    assert book.best_bid() == 99  # the market sell did not trade


def test_unknown_side_is_rejected() -> None:
    book = standard_book()
    with pytest.raises(OrderBookError, match="side must be BUY"):
        book.limit(10, 7, 2, 100, 5)
    with pytest.raises(OrderBookError, match="side must be BUY"):
        book.market(10, 7, -1, 5)
    assert len(book) == 4


def test_unknown_time_in_force_is_rejected() -> None:
    book = standard_book()
    with pytest.raises(OrderBookError, match="unknown time in force 9"):
        book.limit(10, 7, BUY, 100, 5, 9)
    assert book.resting_lots(10) == 0


def test_error_messages_name_the_symbol() -> None:
    book = OrderBook("BTCUSDT")
    with pytest.raises(OrderBookError, match="BTCUSDT"):
        book.cancel(1)


def test_gtc_is_the_default_time_in_force() -> None:
    book = standard_book()
    book.limit(10, 7, BUY, 101, 15, GTC)
    book.limit(11, 7, BUY, 101, 15)
    assert book.level_orders(BUY, 101) == [(10, 5, 7), (11, 15, 7)]


def test_compaction_of_cancelled_orders_keeps_priority_and_totals(monkeypatch: pytest.MonkeyPatch) -> None:
    import model.orderbook as orderbook_module

    # compact after every second cancel (the book normally waits for tens of thousands)
    monkeypatch.setattr(orderbook_module, "_COMPACT_MIN_DEAD", 1)
    monkeypatch.setattr(orderbook_module, "_COMPACT_RATIO", 0)
    book = book_with((1, SELL, 101, 1), (2, SELL, 101, 5))
    for oid in range(10, 60):  # a maker requoting behind the two: place and cancel, fifty times
        book.limit(oid, 9, SELL, 101, 1)
        assert book.cancel(oid) == 1
    book.limit(60, 9, SELL, 101, 2)
    book.reduce(2, 4)  # order 2 keeps its place with 1 lot
    assert book.level_orders(SELL, 101) == [(1, 1, 101), (2, 1, 102), (60, 2, 9)]
    assert book.level_lots(SELL, 101) == 4
    assert traded(book.market(70, 7, BUY, 3)) == [(1, 101, 1), (2, 101, 1), (60, 101, 1)]


def test_impact_price_is_the_average_fill_of_a_market_order_of_that_size() -> None:
    book = OrderBook("BTC")
    book.limit(1, 1, BUY, 100, 5, GTC)
    book.limit(2, 1, BUY, 99, 5, GTC)
    book.limit(3, 1, SELL, 102, 2, GTC)
    book.limit(4, 1, SELL, 104, 2, GTC)
    assert book.impact_price(BUY, 5) == 100.0
    assert book.impact_price(BUY, 8) == (5 * 100 + 3 * 99) / 8
    assert book.impact_price(SELL, 3) == (2 * 102 + 104) / 3
    assert book.impact_price(SELL, 5) is None  # only 4 lots offered
    assert book.resting_lots(1) == 5  # a query, not an order
