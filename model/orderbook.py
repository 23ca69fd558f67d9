"""A price-time-priority limit order book for one symbol, in integer ticks and lots.

The book knows nothing of accounts, money, Mesa or randomness: it matches orders and reports fills.
Everything on the hot path is a plain int, list, tuple or dict, because a lean pure-Python book is
several times faster than one built from per-order objects (see ``benchmarks/README.md``).

Vocabulary (after ABIDES and the venues' APIs):

* ``side``: ``BUY`` (0) or ``SELL`` (1), the side of the order that is submitted.
* ``price_ticks``: an integer number of ticks (> 0). ``lots``: an integer number of lots (> 0).
* ``oid``: an integer order id chosen by the caller, unique among the resting orders.
* ``owner``: an integer (an account id) carried into the fills; the book only compares owners for
  self-trade prevention.
* time in force: ``GTC`` rests what does not trade; ``IOC`` drops it; ``POST_ONLY`` must not trade at
  all: a post-only order that would cross the spread is **rejected** (nothing rests, no fill), as
  Binance's ``GTX``. The caller can ask :meth:`OrderBook.would_cross` first to learn why.

Invariants (tested by a Hypothesis state machine in ``tests/model/test_orderbook_state.py``):
the book is never crossed after a message; orders at one price fill first-in first-out; lots are
conserved (submitted = filled + resting + cancelled + dropped); level totals equal the sum of their
resting orders.

Implementation notes. Each resting order is a list ``[lots, oid, owner]`` held in a FIFO ``deque`` per
price level and indexed by ``oid``. A cancel zeroes the entry in place (lazy deletion, O(1)) and the
matching loop discards zeroed entries as it meets them. Level totals live in a dict so depth queries
never walk orders. Prices with a level are kept in a sorted list per side with the best price at the
end (asks are stored negated), so the best level is ``list[-1]`` and removing it is ``list.pop()``.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from typing import NamedTuple

BUY = 0
SELL = 1

GTC = 0
IOC = 1
POST_ONLY = 2

SELF_TRADE_ALLOW = "allow"
SELF_TRADE_CANCEL_TAKER = "cancel_taker"  # expire the rest of the incoming order (Binance EXPIRE_TAKER)
SELF_TRADE_CANCEL_MAKER = "cancel_maker"  # cancel the resting order and keep matching (EXPIRE_MAKER)
_SELF_TRADE_MODES = (SELF_TRADE_ALLOW, SELF_TRADE_CANCEL_TAKER, SELF_TRADE_CANCEL_MAKER)


class OrderBookError(ValueError):
    """Raised for a message the book cannot accept (bad quantity or price, unknown or duplicate id)."""


class Fill(NamedTuple):
    """One passive fill: the resting (maker) order traded ``lots`` at its own price.

    Attributes:
        price_ticks: the maker order's limit price, in ticks.
        lots: lots traded, > 0.
        maker_oid: id of the resting order.
        taker_oid: id of the incoming order.
        maker_owner: owner (account id) of the resting order.
        taker_owner: owner (account id) of the incoming order.
        aggressor_side: side of the incoming order (``BUY`` or ``SELL``).
        maker_left_lots: lots still resting on the maker order after this fill (0: it is gone).
    """

    price_ticks: int
    lots: int
    maker_oid: int
    taker_oid: int
    maker_owner: int
    taker_owner: int
    aggressor_side: int
    maker_left_lots: int


_new_fill = tuple.__new__  # builds a Fill without NamedTuple's Python-level __new__ (2x faster)


def _as_int(value: object, what: str) -> int:
    """Return ``value`` as a Python int, or raise if it is not a whole number."""
    try:
        as_int = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise OrderBookError(f"{what} must be an integer, got {value!r}") from None
    if as_int != value:
        raise OrderBookError(f"{what} {value!r} is not on the integer grid")
    return as_int


class OrderBook:
    """Limit order book for one symbol with price-time priority.

    Args:
        symbol: a label, used in error messages only.
        self_trade: what happens when an incoming order would trade with a resting order of the same
            owner: ``"allow"`` (trade), ``"cancel_taker"`` (the rest of the incoming order is dropped) or
            ``"cancel_maker"`` (the resting order is cancelled and matching goes on).
    """

    __slots__ = (
        "_ask_lots",
        "_ask_prices",
        "_asks",
        "_bid_lots",
        "_bid_prices",
        "_bids",
        "_orders",
        "_stp",
        "last_price_ticks",
        "self_trade",
        "symbol",
    )

    def __init__(self, symbol: str = "", self_trade: str = SELF_TRADE_ALLOW) -> None:
        if self_trade not in _SELF_TRADE_MODES:
            raise OrderBookError(f"self_trade must be one of {_SELF_TRADE_MODES}, got {self_trade!r}")
        self.symbol = symbol
        self.self_trade = self_trade
        self._stp = self_trade != SELF_TRADE_ALLOW
        self._bids: dict[int, deque[list[int]]] = {}
        self._asks: dict[int, deque[list[int]]] = {}
        self._bid_lots: dict[int, int] = {}
        self._ask_lots: dict[int, int] = {}
        self._bid_prices: list[int] = []  # ascending; best bid is the last
        self._ask_prices: list[int] = []  # negated ask prices, ascending; best ask is -last
        # oid -> (entry, side, price); entry is the [lots, oid, owner] list held in the level's deque
        self._orders: dict[int, tuple[list[int], int, int]] = {}
        self.last_price_ticks: int | None = None

    # ------------------------------------------------------------------ order entry

    def limit(
        self, oid: int, owner: int, side: int, price_ticks: int, lots: int, tif: int = GTC
    ) -> list[Fill]:
        """Submit a limit order; trade what crosses, then rest (GTC), drop (IOC) or reject (post-only).

        Args:
            oid: new order id, not resting in this book.
            owner: account id carried into the fills.
            side: ``BUY`` or ``SELL``.
            price_ticks: limit price in ticks, > 0.
            lots: quantity in lots, > 0.
            tif: ``GTC``, ``IOC`` or ``POST_ONLY``.

        Returns:
            The fills, in the order they happened (best price first, FIFO within a price). A rejected
            post-only order returns no fills and does not rest.

        Raises:
            OrderBookError: non-positive or non-integer lots or price, an unknown side or time in force,
                or an ``oid`` already resting.
        """
        if lots.__class__ is not int or price_ticks.__class__ is not int:
            lots = _as_int(lots, "lots")
            price_ticks = _as_int(price_ticks, "price_ticks")
        if lots <= 0:
            raise OrderBookError(f"{self.symbol} order {oid}: lots must be > 0, got {lots}")
        if price_ticks <= 0:
            raise OrderBookError(f"{self.symbol} order {oid}: price_ticks must be > 0, got {price_ticks}")
        if oid in self._orders:
            raise OrderBookError(f"{self.symbol} order {oid}: duplicate order id (already resting)")
        if side == BUY:
            crosses = bool(self._ask_prices) and -self._ask_prices[-1] <= price_ticks
        elif side == SELL:
            crosses = bool(self._bid_prices) and self._bid_prices[-1] >= price_ticks
        else:
            raise OrderBookError(f"{self.symbol} order {oid}: side must be BUY (0) or SELL (1), got {side}")
        fills: list[Fill] = []
        if crosses:
            if tif == POST_ONLY:
                return fills
            lots = self._match(oid, owner, side, lots, price_ticks, fills)
        if lots and tif != IOC:
            if tif != GTC and tif != POST_ONLY:
                raise OrderBookError(f"{self.symbol} order {oid}: unknown time in force {tif}")
            self._rest(oid, owner, side, price_ticks, lots)
        return fills

    def market(self, oid: int, owner: int, side: int, lots: int) -> list[Fill]:
        """Submit a market order: trade against the opposite side until filled or the side is empty.

        What finds no liquidity is dropped; a market order into an empty side returns no fills.

        Raises:
            OrderBookError: non-positive lots, an unknown side, or an ``oid`` already resting.
        """
        if lots.__class__ is not int:
            lots = _as_int(lots, "lots")
        if lots <= 0:
            raise OrderBookError(f"{self.symbol} order {oid}: lots must be > 0, got {lots}")
        if oid in self._orders:
            raise OrderBookError(f"{self.symbol} order {oid}: duplicate order id (already resting)")
        if side != BUY and side != SELL:
            raise OrderBookError(f"{self.symbol} order {oid}: side must be BUY (0) or SELL (1), got {side}")
        fills: list[Fill] = []
        self._match(oid, owner, side, lots, None, fills)
        return fills

    def cancel(self, oid: int) -> int:
        """Cancel a resting order.

        Returns:
            The lots that were resting and are now cancelled.

        Raises:
            OrderBookError: ``oid`` is not resting (unknown, already filled or already cancelled).
        """
        try:
            entry, side, price = self._orders.pop(oid)
        except KeyError:
            raise OrderBookError(
                f"{self.symbol}: cannot cancel order {oid}: not resting (unknown, filled or cancelled)"
            ) from None
        lots = entry[0]
        entry[0] = 0  # lazy deletion: the matching loop discards zeroed entries
        self._take_from_level(side, price, lots)
        return lots

    def reduce(self, oid: int, by_lots: int) -> int:
        """Reduce a resting order's size by ``by_lots``, keeping its time priority.

        Reducing by the whole remaining size cancels the order.

        Returns:
            The lots still resting on the order after the reduction.

        Raises:
            OrderBookError: ``oid`` is not resting, or ``by_lots`` is not in ``1..resting lots``.
        """
        try:
            entry, side, price = self._orders[oid]
        except KeyError:
            raise OrderBookError(f"{self.symbol}: cannot reduce order {oid}: not resting") from None
        if by_lots.__class__ is not int:
            by_lots = _as_int(by_lots, "by_lots")
        if not 0 < by_lots <= entry[0]:
            raise OrderBookError(
                f"{self.symbol}: cannot reduce order {oid} by {by_lots} lots: it has {entry[0]} resting"
            )
        if by_lots == entry[0]:
            self.cancel(oid)
            return 0
        entry[0] -= by_lots
        self._take_from_level(side, price, by_lots)
        return entry[0]

    # ------------------------------------------------------------------ market data

    def best_bid(self) -> int | None:
        """Highest resting bid in ticks, or None when there is no bid."""
        return self._bid_prices[-1] if self._bid_prices else None

    def best_ask(self) -> int | None:
        """Lowest resting ask in ticks, or None when there is no ask."""
        return -self._ask_prices[-1] if self._ask_prices else None

    def mid(self) -> float | None:
        """Mid price in ticks (may be a half tick), or None unless both sides have orders."""
        if self._bid_prices and self._ask_prices:
            return (self._bid_prices[-1] - self._ask_prices[-1]) / 2
        return None

    def spread(self) -> int | None:
        """Best ask minus best bid in ticks, or None unless both sides have orders."""
        if self._bid_prices and self._ask_prices:
            return -self._ask_prices[-1] - self._bid_prices[-1]
        return None

    def depth(self, side: int, n_levels: int = 10) -> list[tuple[int, int]]:
        """L2 depth: up to ``n_levels`` ``(price_ticks, lots)`` pairs of one side, best first."""
        if side == BUY:
            return [(p, self._bid_lots[p]) for p in self._bid_prices[: -n_levels - 1 : -1]]
        return [(-p, self._ask_lots[-p]) for p in self._ask_prices[: -n_levels - 1 : -1]]

    def lots_between(self, side: int, far_price_ticks: int) -> int:
        """Resting lots on ``side`` from the best price up to and including ``far_price_ticks``.

        For bids ``far_price_ticks`` is the lowest price counted, for asks the highest.
        """
        total = 0
        if side == BUY:
            lots = self._bid_lots
            for p in reversed(self._bid_prices):
                if p < far_price_ticks:
                    break
                total += lots[p]
        else:
            lots = self._ask_lots
            for q in reversed(self._ask_prices):
                if -q > far_price_ticks:
                    break
                total += lots[-q]
        return total

    def depth_within(self, fraction: float) -> tuple[int, int]:
        """Resting ``(bid_lots, ask_lots)`` priced within ``fraction`` (0.01 = 1%) of the mid.

        Returns ``(0, 0)`` when the book has no mid (a side is empty).
        """
        mid = self.mid()
        if mid is None:
            return 0, 0
        return (
            self.lots_between(BUY, int(-(-mid * (1.0 - fraction) // 1))),  # ceil: inside the band
            self.lots_between(SELL, int(mid * (1.0 + fraction) // 1)),
        )

    def resting_lots(self, oid: int) -> int:
        """Lots resting on order ``oid``; 0 when it is not resting (filled, cancelled or unknown)."""
        found = self._orders.get(oid)
        return found[0][0] if found is not None else 0

    def order(self, oid: int) -> tuple[int, int, int, int] | None:
        """``(side, price_ticks, lots, owner)`` of a resting order, or None."""
        found = self._orders.get(oid)
        if found is None:
            return None
        entry, side, price = found
        return side, price, entry[0], entry[2]

    def would_cross(self, side: int, price_ticks: int) -> bool:
        """Whether a limit order on ``side`` at ``price_ticks`` would trade at once."""
        if side == BUY:
            return bool(self._ask_prices) and -self._ask_prices[-1] <= price_ticks
        return bool(self._bid_prices) and self._bid_prices[-1] >= price_ticks

    def level_orders(self, side: int, price_ticks: int) -> list[tuple[int, int, int]]:
        """Resting ``(oid, lots, owner)`` at one price, in time priority (first is next to fill)."""
        level = (self._bids if side == BUY else self._asks).get(price_ticks, ())
        return [(e[1], e[0], e[2]) for e in level if e[0]]

    def prices(self, side: int) -> list[int]:
        """Prices with resting orders on ``side``, best first."""
        if side == BUY:
            return self._bid_prices[::-1]
        return [-q for q in reversed(self._ask_prices)]

    def level_lots(self, side: int, price_ticks: int) -> int:
        """Total resting lots at one price (0 when there is no level)."""
        return (self._bid_lots if side == BUY else self._ask_lots).get(price_ticks, 0)

    def __len__(self) -> int:
        """Number of resting orders."""
        return len(self._orders)

    def resting_oids(self) -> list[int]:
        """Ids of all resting orders (no particular order)."""
        return list(self._orders)

    def total_resting_lots(self) -> int:
        """Sum of resting lots over both sides."""
        return sum(self._bid_lots.values()) + sum(self._ask_lots.values())

    # ------------------------------------------------------------------ internals

    def _rest(self, oid: int, owner: int, side: int, price: int, lots: int) -> None:
        entry = [lots, oid, owner]
        if side == BUY:
            level = self._bids.get(price)
            if level is None:
                self._bids[price] = deque((entry,))
                self._bid_lots[price] = lots
                insort(self._bid_prices, price)
            else:
                level.append(entry)
                self._bid_lots[price] += lots
        else:
            level = self._asks.get(price)
            if level is None:
                self._asks[price] = deque((entry,))
                self._ask_lots[price] = lots
                insort(self._ask_prices, -price)
            else:
                level.append(entry)
                self._ask_lots[price] += lots
        self._orders[oid] = (entry, side, price)

    def _take_from_level(self, side: int, price: int, lots: int) -> None:
        """Remove ``lots`` from a level's total; drop the level when nothing rests there any more."""
        if side == BUY:
            left = self._bid_lots[price] - lots
            if left:
                self._bid_lots[price] = left
            else:
                del self._bid_lots[price], self._bids[price]
                prices = self._bid_prices
                del prices[bisect_left(prices, price)]
        else:
            left = self._ask_lots[price] - lots
            if left:
                self._ask_lots[price] = left
            else:
                del self._ask_lots[price], self._asks[price]
                prices = self._ask_prices
                del prices[bisect_left(prices, -price)]

    def _match(
        self, oid: int, owner: int, side: int, lots: int, limit: int | None, fills: list[Fill]
    ) -> int:
        """Trade ``lots`` against the opposite side up to ``limit`` (None: any price).

        Returns the lots left over. Updates ``last_price_ticks``.
        """
        is_buy = side == BUY
        if is_buy:
            prices, levels, sign = self._ask_prices, self._asks, -1
            # a buy trades at ask prices <= limit; asks are stored negated, so stored >= -limit
            stored_floor = -limit if limit is not None else -(1 << 62)
        else:
            prices, levels, sign = self._bid_prices, self._bids, 1
            stored_floor = limit if limit is not None else 0
        orders = self._orders
        stp = self._stp
        append = fills.append
        while lots and prices:
            stored = prices[-1]
            if stored < stored_floor:
                break
            price = sign * stored
            level = levels[price]
            taken = 0
            while lots and level:
                entry = level[0]
                resting = entry[0]
                if not resting:
                    level.popleft()  # a cancelled order, deleted lazily
                    continue
                if stp and entry[2] == owner:
                    if self.self_trade == SELF_TRADE_CANCEL_TAKER:
                        lots = 0  # the rest of the incoming order expires
                        break
                    level.popleft()  # cancel_maker: the resting order goes, matching goes on
                    del orders[entry[1]]
                    entry[0] = 0
                    taken += resting
                    continue
                if resting <= lots:
                    lots -= resting
                    taken += resting
                    level.popleft()
                    del orders[entry[1]]
                    entry[0] = 0
                    append(_new_fill(Fill, (price, resting, entry[1], oid, entry[2], owner, side, 0)))
                else:
                    left = resting - lots
                    entry[0] = left
                    taken += lots
                    append(_new_fill(Fill, (price, lots, entry[1], oid, entry[2], owner, side, left)))
                    lots = 0
                self.last_price_ticks = price
            if taken:
                self._settle_level(is_buy, price, taken)
        return lots

    def _settle_level(self, is_buy: bool, price: int, taken: int) -> None:
        """After matching ``taken`` lots at the best opposite level ``price``, update its total."""
        if is_buy:
            left = self._ask_lots[price] - taken
            if left:
                self._ask_lots[price] = left
            else:
                del self._ask_lots[price], self._asks[price]
                self._ask_prices.pop()
        else:
            left = self._bid_lots[price] - taken
            if left:
                self._bid_lots[price] = left
            else:
                del self._bid_lots[price], self._bids[price]
                self._bid_prices.pop()
