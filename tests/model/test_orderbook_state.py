"""Property-based test of the order book: a Hypothesis state machine over random order flow.

Each machine draws a self-trade mode and whether the book compacts its queues often, then sends random
messages (limit GTC/IOC/post-only, market, cancel and reduce of a live order, and an invalid cancel) from a
few owners at a few prices around 100, so that orders cross, queue and self-trade often. Every message
also goes to :class:`ModelBook`, a simple list-based book written for clarity, not speed; the real book
must return exactly its fills.

Invariants checked after every rule: the book is never crossed; orders at a level are in submission
order (FIFO); level totals equal the sum of their orders; lots are conserved (submitted = 2 x traded +
resting + cancelled + reduced + dropped + self-trade cancelled, with traded, cancelled and reduced taken
from the return values); and the resting orders agree with the model's.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from model.orderbook import (
    BUY,
    GTC,
    IOC,
    POST_ONLY,
    SELF_TRADE_ALLOW,
    SELF_TRADE_CANCEL_MAKER,
    SELF_TRADE_CANCEL_TAKER,
    SELL,
    OrderBook,
    OrderBookError,
)

FillTuple = tuple[int, int, int, int, int, int, int, int]  # the fields of model.orderbook.Fill


class ModelBook:
    """A deliberately naive reference book: one list of ``[oid, side, price, lots, owner]`` in arrival order.

    Priority is found by sorting the opposite side on every message (a stable sort keeps arrival order
    within a price), so the model is obviously right rather than fast.
    """

    def __init__(self, self_trade: str) -> None:
        self.self_trade = self_trade
        self.orders: list[list[int]] = []

    def queue(self, side: int) -> list[list[int]]:
        """Resting orders of ``side`` in priority order: best price first, then arrival."""
        same = [o for o in self.orders if o[1] == side]
        return sorted(same, key=lambda o: -o[2] if side == BUY else o[2])

    def crosses(self, side: int, price: int) -> bool:
        opposite = self.queue(1 - side)
        if not opposite:
            return False
        best = opposite[0][2]
        return best <= price if side == BUY else best >= price

    def take(
        self, oid: int, owner: int, side: int, lots: int, limit: int | None
    ) -> tuple[list[FillTuple], int, bool, int]:
        """Match an incoming order.

        Returns ``(fills, lots_left, expired, stp_cancelled_lots)``; ``expired`` is True when self-trade
        prevention (cancel_taker) ended the incoming order.
        """
        fills: list[FillTuple] = []
        stp_cancelled = 0
        for maker in self.queue(1 - side):
            if not lots:
                break
            m_oid, _, m_price, m_lots, m_owner = maker
            if limit is not None and (m_price > limit if side == BUY else m_price < limit):
                break
            if m_owner == owner and self.self_trade != SELF_TRADE_ALLOW:
                if self.self_trade == SELF_TRADE_CANCEL_TAKER:
                    return fills, lots, True, stp_cancelled
                self.orders.remove(maker)
                stp_cancelled += m_lots
                continue
            traded = min(lots, m_lots)
            lots -= traded
            maker[3] -= traded
            fills.append((m_price, traded, m_oid, oid, m_owner, owner, side, maker[3]))
            if not maker[3]:
                self.orders.remove(maker)
        return fills, lots, False, stp_cancelled

    def find(self, oid: int) -> list[int] | None:
        for o in self.orders:
            if o[0] == oid:
                return o
        return None


class CompactingBook(OrderBook):
    """The real book, made to sweep cancelled entries out of its queues after every second cancel.

    The book compacts only after tens of thousands of cancels; this white-box subclass lowers the
    threshold (a private detail) so that the state machine also checks that compaction changes nothing.
    """

    def __init__(self, symbol: str = "", self_trade: str = SELF_TRADE_ALLOW) -> None:
        super().__init__(symbol, self_trade)
        self._dead_limit = 1

    def _compact(self) -> None:
        super()._compact()
        self._dead_limit = 1


class OrderBookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook("PROP")
        self.model = ModelBook(SELF_TRADE_ALLOW)
        self.next_oid = 1
        self.submitted = 0
        self.traded = 0
        self.cancelled = 0
        self.reduced = 0
        self.dropped = 0
        self.stp_cancelled = 0

    @initialize(
        mode=st.sampled_from([SELF_TRADE_ALLOW, SELF_TRADE_CANCEL_TAKER, SELF_TRADE_CANCEL_MAKER]),
        compact_often=st.booleans(),
    )
    def choose_book(self, mode: str, compact_often: bool) -> None:
        self.book = (CompactingBook if compact_often else OrderBook)("PROP", self_trade=mode)
        self.model = ModelBook(mode)

    # ------------------------------------------------------------------ helpers

    def new_oid(self) -> int:
        oid = self.next_oid  # increasing ids: submission order is oid order
        self.next_oid += 1
        return oid

    def check_fills(
        self,
        fills: list[Any],
        expected: list[FillTuple],
        side: int,
        limit: int | None,
        last_before: int | None,
    ) -> None:
        assert [tuple(f) for f in fills] == expected
        for f in fills:
            assert f.lots > 0
            if limit is not None:  # the taker's limit is respected
                assert (f.price_ticks <= limit) if side == BUY else (f.price_ticks >= limit)
        # the last trade price is the last fill's, and does not move without a trade
        assert self.book.last_price_ticks == (fills[-1].price_ticks if fills else last_before)
        self.traded += sum(f.lots for f in fills)

    def live_oids(self) -> list[int]:
        return sorted(o[0] for o in self.model.orders)

    # ------------------------------------------------------------------ rules

    @rule(
        side=st.sampled_from([BUY, SELL]),
        price=st.integers(95, 105),
        near_touch=st.booleans(),
        offset=st.integers(-2, 2),
        lots=st.one_of(st.integers(1, 3), st.integers(1, 60)),
        tif=st.sampled_from([GTC, GTC, IOC, POST_ONLY]),
        owner=st.integers(0, 2),
    )
    def limit(
        self, side: int, price: int, near_touch: bool, offset: int, lots: int, tif: int, owner: int
    ) -> None:
        """A limit order at a fixed price, or ``offset`` ticks through the opposite best price."""
        opposite = self.book.best_ask() if side == BUY else self.book.best_bid()
        if near_touch and opposite is not None:  # walks of a few levels that stop exactly at the limit
            price = max(1, opposite + offset if side == BUY else opposite - offset)
        oid = self.new_oid()
        self.submitted += lots
        last_before = self.book.last_price_ticks
        if tif == POST_ONLY and self.model.crosses(side, price):
            expected: list[FillTuple] = []
            left, rests = lots, False
            stp = 0
        else:
            expected, left, expired, stp = self.model.take(oid, owner, side, lots, price)
            rests = bool(left) and tif != IOC and not expired
        fills = self.book.limit(oid, owner, side, price, lots, tif)
        self.check_fills(fills, expected, side, price, last_before)
        self.stp_cancelled += stp
        if rests:
            self.model.orders.append([oid, side, price, left, owner])
            assert self.book.order(oid) == (side, price, left, owner)
        else:
            self.dropped += left
            assert self.book.resting_lots(oid) == 0
        assert lots == sum(f.lots for f in fills) + self.book.resting_lots(oid) + (0 if rests else left)

    @rule(side=st.sampled_from([BUY, SELL]), lots=st.integers(1, 80), owner=st.integers(0, 2))
    def market(self, side: int, lots: int, owner: int) -> None:
        oid = self.new_oid()
        self.submitted += lots
        last_before = self.book.last_price_ticks
        expected, left, _, stp = self.model.take(oid, owner, side, lots, None)
        fills = self.book.market(oid, owner, side, lots)
        self.check_fills(fills, expected, side, None, last_before)
        self.stp_cancelled += stp
        self.dropped += left
        assert self.book.resting_lots(oid) == 0

    @precondition(lambda self: bool(self.model.orders))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(self.live_oids()), label="oid")
        order = self.model.find(oid)
        assert order is not None
        assert self.book.cancel(oid) == order[3]
        self.cancelled += order[3]
        self.model.orders.remove(order)
        assert self.book.order(oid) is None

    @precondition(lambda self: bool(self.model.orders))
    @rule(data=st.data())
    def reduce(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(self.live_oids()), label="oid")
        order = self.model.find(oid)
        assert order is not None
        by = data.draw(st.integers(1, order[3]), label="by_lots")
        assert self.book.reduce(oid, by) == order[3] - by
        self.reduced += by
        order[3] -= by
        if not order[3]:
            self.model.orders.remove(order)

    @precondition(lambda self: bool(self.model.orders))
    @rule(data=st.data(), market=st.booleans())
    def reuse_a_live_oid(self, data: st.DataObject, market: bool) -> None:
        """A new order with the id of a resting order is rejected before it can trade; nothing changes."""
        oid = data.draw(st.sampled_from(self.live_oids()), label="oid")
        side, price, lots, owner = self.book.order(oid) or (BUY, 1, 1, 0)
        before = self.book.total_resting_lots(), len(self.book), self.book.last_price_ticks
        try:
            if market:
                self.book.market(oid, owner, 1 - side, 1000)
            else:
                self.book.limit(oid, owner, 1 - side, price, lots)  # would cross this very order
        except OrderBookError as err:
            assert "duplicate order id" in str(err)
        else:
            raise AssertionError(f"order {oid} was accepted while an order with that id rests")
        assert (self.book.total_resting_lots(), len(self.book), self.book.last_price_ticks) == before

    @rule(data=st.data())
    def cancel_dead_order(self, data: st.DataObject) -> None:
        """Cancelling an id that is not resting (never used, filled or cancelled) raises, changes nothing."""
        live = set(self.live_oids())
        oid = data.draw(st.integers(1, self.next_oid).filter(lambda o: o not in live), label="oid")
        before = self.book.total_resting_lots(), len(self.book)
        try:
            self.book.cancel(oid)
        except OrderBookError as err:
            assert "not resting" in str(err)
        else:
            raise AssertionError(f"cancel of dead order {oid} did not raise")
        assert (self.book.total_resting_lots(), len(self.book)) == before

    # ------------------------------------------------------------------ invariants

    @invariant()
    def never_crossed(self) -> None:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is not None and ask is not None:
            assert bid < ask
            assert self.book.spread() == ask - bid

    @invariant()
    def fifo_within_each_level(self) -> None:
        for side in (BUY, SELL):
            for price in self.book.prices(side):
                oids = [oid for oid, _, _ in self.book.level_orders(side, price)]
                assert oids, "a level without orders"
                assert oids == sorted(oids)

    @invariant()
    def level_totals_equal_their_orders(self) -> None:
        total = 0
        for side in (BUY, SELL):
            prices = self.book.prices(side)
            assert prices == sorted(prices, reverse=side == BUY)  # best first, no duplicates
            assert len(set(prices)) == len(prices)
            depth = self.book.depth(side, n_levels=len(prices) + 1)
            assert [p for p, _ in depth] == prices
            for price, lots in depth:
                orders = self.book.level_orders(side, price)
                assert lots == self.book.level_lots(side, price) == sum(o[1] for o in orders)
                assert all(o[1] > 0 for o in orders)
                total += lots
        assert total == self.book.total_resting_lots()

    @invariant()
    def lots_conserved(self) -> None:
        accounted = (
            2 * self.traded  # each traded lot leaves one taker lot and one maker lot
            + self.book.total_resting_lots()
            + self.cancelled
            + self.reduced
            + self.dropped
            + self.stp_cancelled
        )
        assert self.submitted == accounted

    @invariant()
    def agrees_with_the_model(self) -> None:
        for side in (BUY, SELL):
            got = [
                (oid, price, lots, owner)
                for price in self.book.prices(side)
                for oid, lots, owner in self.book.level_orders(side, price)
            ]
            want = [(o[0], o[2], o[3], o[4]) for o in self.model.queue(side)]
            assert got == want
        assert len(self.book) == len(self.model.orders)
        assert sorted(self.book.resting_oids()) == self.live_oids()
        for oid, side, price, lots, owner in self.model.orders:
            assert self.book.order(oid) == (side, price, lots, owner)
            assert self.book.resting_lots(oid) == lots


OrderBookMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestOrderBookStateMachine = OrderBookMachine.TestCase
