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
conserved (submitted = filled + resting + cancelled + reduced + dropped); level totals equal the sum
of their resting orders.

Implementation notes (internals, free to change; the speed is measured by ``benchmarks/orderbook.py``).
A resting order is an *entry*, the list ``[lots, oid, owner, side, price]``, indexed by ``oid`` and
queued at its price level. A level is ``[total_lots, fifo]``: its lots total, kept up to date so that
depth queries never walk orders, and the list of its entries in time priority. A cancel zeroes the
entry's lots in place (lazy deletion, O(1)); the matching loop drops zeroed entries when it meets them,
and a compaction sweeps the levels when cancelled entries pile up (so memory stays proportional to the
resting orders). Matching consumes entries at the front of a level and deletes them with one slice
deletion per level. The prices holding a level are kept per side in an ascending list of *keys*, best
first: an ask's key is its price, a bid's key its negated price, so ``bisect``/``insort`` work on both
sides, the best level is ``keys[0]`` (CPython 3.11 specialises indexing by a non-negative constant, not
by -1) and removing it is ``del keys[0]`` (a short memmove: a side holds tens to hundreds of levels).
"""

from __future__ import annotations

from bisect import bisect_left, insort
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
    except (TypeError, ValueError, OverflowError):
        raise OrderBookError(f"{what} must be an integer, got {value!r}") from None
    if as_int != value:
        raise OrderBookError(f"{what} {value!r} is not on the integer grid")
    return as_int


# A level is [total_lots, fifo]; an entry is [lots, oid, owner, side, price] (see the module notes).
_Entry = list[int]
_Level = list  # [int, list[_Entry]]; a list rather than a tuple because the total is updated in place

# A compaction (dropping cancelled entries from the fifos) runs once the cancels since the last one exceed
# both _COMPACT_MIN_DEAD and _COMPACT_RATIO x the orders resting at the last one. It costs O(entries in the
# fifos) = O(those cancels), so O(1) per cancel amortised, and it bounds the cancelled entries kept alive.
# Without it, a level that never trades but always holds one order (a deep support bid) would keep every
# order ever cancelled there: a market maker requoting each second leaves 86,400 of them a day.
_COMPACT_MIN_DEAD = 32768
_COMPACT_RATIO = 2


class OrderBook:
    """Limit order book for one symbol with price-time priority.

    Args:
        symbol: a label, used in error messages only.
        self_trade: what happens when an incoming order would trade with a resting order of the same
            owner: ``"allow"`` (trade), ``"cancel_taker"`` (the rest of the incoming order is dropped) or
            ``"cancel_maker"`` (the resting order is cancelled and matching goes on).
    """

    __slots__ = (
        "_ask_keys",
        "_asks",
        "_bid_keys",
        "_bids",
        "_dead",
        "_dead_limit",
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
        self._bids: dict[int, _Level] = {}  # price -> [total_lots, fifo of entries]
        self._asks: dict[int, _Level] = {}
        self._bid_keys: list[int] = []  # negated bid prices, ascending: the best bid is -keys[0]
        self._ask_keys: list[int] = []  # ask prices, ascending: the best ask is keys[0]
        self._orders: dict[int, _Entry] = {}  # oid -> its entry (the same list object as in the fifo)
        self._dead = 0  # cancels since the last compaction (an upper bound on zeroed entries in fifos)
        self._dead_limit = _COMPACT_MIN_DEAD
        self.last_price_ticks: int | None = None

    # ------------------------------------------------------------------ order entry
    #
    # limit(), market() and cancel() are the hot path (a simulation sends millions of them), so they are
    # written flat: resting an order and updating a level are inlined rather than helper calls (a Python
    # call costs about as much as the whole resting step), the buy and sell branches are spelled out so
    # that each touches only its own side's containers, and attributes are loaded once into locals. On
    # well-formed input the checks cost a few integer comparisons.

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
            lots = _as_int(lots, "lots")  # a whole float or a numpy integer becomes a plain int
            price_ticks = _as_int(price_ticks, "price_ticks")
        if lots <= 0:
            raise OrderBookError(f"{self.symbol} order {oid}: lots must be > 0, got {lots}")
        if price_ticks <= 0:
            raise OrderBookError(f"{self.symbol} order {oid}: price_ticks must be > 0, got {price_ticks}")
        if tif and tif != IOC and tif != POST_ONLY:  # GTC is 0: one truth test on the common path
            raise OrderBookError(f"{self.symbol} order {oid}: unknown time in force {tif}")
        orders = self._orders
        if oid in orders:
            raise OrderBookError(f"{self.symbol} order {oid}: duplicate order id (already resting)")

        if side == BUY:
            ask_keys = self._ask_keys
            if ask_keys and ask_keys[0] <= price_ticks:  # crosses the best ask
                if tif == POST_ONLY:
                    return []
                fills: list[Fill] = []
                lots = self._match(oid, owner, BUY, lots, price_ticks, fills)
                if not lots or tif == IOC:
                    return fills
            elif tif == IOC:
                return []
            else:
                fills = []
            # rest the remainder (inlined): index it, queue it at its level, create the level if new
            entry = [lots, oid, owner, BUY, price_ticks]
            orders[oid] = entry
            level = self._bids.get(price_ticks)
            if level is None:
                self._bids[price_ticks] = [lots, [entry]]
                insort(self._bid_keys, -price_ticks)
            else:
                level[1].append(entry)
                level[0] += lots
            return fills

        if side == SELL:
            bid_keys = self._bid_keys
            if bid_keys and -bid_keys[0] >= price_ticks:  # crosses the best bid
                if tif == POST_ONLY:
                    return []
                fills = []
                lots = self._match(oid, owner, SELL, lots, price_ticks, fills)
                if not lots or tif == IOC:
                    return fills
            elif tif == IOC:
                return []
            else:
                fills = []
            entry = [lots, oid, owner, SELL, price_ticks]
            orders[oid] = entry
            level = self._asks.get(price_ticks)
            if level is None:
                self._asks[price_ticks] = [lots, [entry]]
                insort(self._ask_keys, price_ticks)
            else:
                level[1].append(entry)
                level[0] += lots
            return fills

        raise OrderBookError(f"{self.symbol} order {oid}: side must be BUY (0) or SELL (1), got {side}")

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
        try:  # free when nothing is raised (Python 3.11)
            entry = self._orders.pop(oid)
        except KeyError:
            raise OrderBookError(
                f"{self.symbol}: cannot cancel order {oid}: not resting (unknown, filled or cancelled)"
            ) from None
        lots, _, _, side, price = entry
        entry[0] = 0  # lazy deletion: the entry stays in its fifo, zeroed, until matching meets it
        # take the lots off the level's total (inlined); drop the level when nothing rests there any more
        if side == BUY:
            levels = self._bids
            level = levels[price]
            left = level[0] - lots
            if left:
                level[0] = left
            else:
                del levels[price]
                keys = self._bid_keys
                del keys[bisect_left(keys, -price)]
        else:
            levels = self._asks
            level = levels[price]
            left = level[0] - lots
            if left:
                level[0] = left
            else:
                del levels[price]
                keys = self._ask_keys
                del keys[bisect_left(keys, price)]
        self._dead += 1
        if self._dead > self._dead_limit:
            self._compact()
        return lots

    def reduce(self, oid: int, by_lots: int) -> int:
        """Reduce a resting order's size by ``by_lots``, keeping its time priority.

        Reducing by the whole remaining size cancels the order.

        Returns:
            The lots still resting on the order after the reduction.

        Raises:
            OrderBookError: ``oid`` is not resting, or ``by_lots`` is not in ``1..resting lots``.
        """
        entry = self._orders.get(oid)
        if entry is None:
            raise OrderBookError(f"{self.symbol}: cannot reduce order {oid}: not resting")
        if by_lots.__class__ is not int:
            by_lots = _as_int(by_lots, "by_lots")
        resting = entry[0]
        if not 0 < by_lots <= resting:
            raise OrderBookError(
                f"{self.symbol}: cannot reduce order {oid} by {by_lots} lots: it has {resting} resting"
            )
        if by_lots == resting:
            self.cancel(oid)
            return 0
        entry[0] = resting - by_lots  # the entry keeps its place in the fifo: priority is kept
        (self._bids if entry[3] == BUY else self._asks)[entry[4]][0] -= by_lots
        return resting - by_lots

    # ------------------------------------------------------------------ market data

    def best_bid(self) -> int | None:
        """Highest resting bid in ticks, or None when there is no bid."""
        return -self._bid_keys[0] if self._bid_keys else None

    def best_ask(self) -> int | None:
        """Lowest resting ask in ticks, or None when there is no ask."""
        return self._ask_keys[0] if self._ask_keys else None

    def mid(self) -> float | None:
        """Mid price in ticks (may be a half tick), or None unless both sides have orders."""
        if self._bid_keys and self._ask_keys:
            return (self._ask_keys[0] - self._bid_keys[0]) / 2
        return None

    def spread(self) -> int | None:
        """Best ask minus best bid in ticks, or None unless both sides have orders."""
        if self._bid_keys and self._ask_keys:
            return self._ask_keys[0] + self._bid_keys[0]
        return None

    def depth(self, side: int, n_levels: int = 10) -> list[tuple[int, int]]:
        """L2 depth: up to ``n_levels`` ``(price_ticks, lots)`` pairs of one side, best first."""
        if side == BUY:
            bids = self._bids
            return [(-k, bids[-k][0]) for k in self._bid_keys[: max(n_levels, 0)]]
        asks = self._asks
        return [(k, asks[k][0]) for k in self._ask_keys[: max(n_levels, 0)]]

    def impact_price(self, side: int, lots: int) -> float | None:
        """Average price (ticks) at which a market order of ``lots`` would fill against ``side``'s orders.

        ``side`` is the resting side consumed (``BUY``: the bids, the impact bid; ``SELL``: the asks, the
        impact ask). None when that side holds fewer than ``lots``.
        """
        if lots <= 0:
            return None
        left = lots
        cost = 0
        if side == BUY:
            levels = self._bids
            for k in self._bid_keys:
                take = min(left, levels[-k][0])
                cost += -k * take
                left -= take
                if not left:
                    break
        else:
            levels = self._asks
            for k in self._ask_keys:
                take = min(left, levels[k][0])
                cost += k * take
                left -= take
                if not left:
                    break
        return cost / lots if not left else None

    def lots_between(self, side: int, far_price_ticks: int) -> int:
        """Resting lots on ``side`` from the best price up to and including ``far_price_ticks``.

        For bids ``far_price_ticks`` is the lowest price counted, for asks the highest.
        """
        total = 0
        if side == BUY:
            bids = self._bids
            for k in self._bid_keys:
                if -k < far_price_ticks:
                    break
                total += bids[-k][0]
        else:
            asks = self._asks
            for k in self._ask_keys:
                if k > far_price_ticks:
                    break
                total += asks[k][0]
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
        entry = self._orders.get(oid)
        return entry[0] if entry is not None else 0

    def order(self, oid: int) -> tuple[int, int, int, int] | None:
        """``(side, price_ticks, lots, owner)`` of a resting order, or None."""
        entry = self._orders.get(oid)
        if entry is None:
            return None
        lots, _, owner, side, price = entry
        return side, price, lots, owner

    def would_cross(self, side: int, price_ticks: int) -> bool:
        """Whether a limit order on ``side`` at ``price_ticks`` would trade at once."""
        if side == BUY:
            return bool(self._ask_keys) and self._ask_keys[0] <= price_ticks
        return bool(self._bid_keys) and -self._bid_keys[0] >= price_ticks

    def level_orders(self, side: int, price_ticks: int) -> list[tuple[int, int, int]]:
        """Resting ``(oid, lots, owner)`` at one price, in time priority (first is next to fill)."""
        level = (self._bids if side == BUY else self._asks).get(price_ticks)
        if level is None:
            return []
        return [(e[1], e[0], e[2]) for e in level[1] if e[0]]

    def prices(self, side: int) -> list[int]:
        """Prices with resting orders on ``side``, best first."""
        if side == BUY:
            return [-k for k in self._bid_keys]
        return self._ask_keys[:]

    def level_lots(self, side: int, price_ticks: int) -> int:
        """Total resting lots at one price (0 when there is no level)."""
        level = (self._bids if side == BUY else self._asks).get(price_ticks)
        return 0 if level is None else level[0]

    def __len__(self) -> int:
        """Number of resting orders."""
        return len(self._orders)

    def resting_oids(self) -> list[int]:
        """Ids of all resting orders (no particular order)."""
        return list(self._orders)

    def total_resting_lots(self) -> int:
        """Sum of resting lots over both sides."""
        return sum(lv[0] for lv in self._bids.values()) + sum(lv[0] for lv in self._asks.values())

    # ------------------------------------------------------------------ internals

    def _match(self, oid: int, owner: int, side: int, lots: int, limit: int | None, fills: list[Fill]) -> int:
        """Trade ``lots`` against the opposite side up to ``limit`` (None: any price).

        Appends the fills to ``fills`` (which the callers pass empty) and updates ``last_price_ticks``.
        Returns the lots left over; 0 as well when self-trade prevention expired the incoming order.
        """
        if side == BUY:  # takes the asks, best (lowest key) first; an ask's key is its price
            keys, levels, sign = self._ask_keys, self._asks, 1
            key_limit = (1 << 62) if limit is None else limit
        else:  # takes the bids; a bid's key is its negated price, so a sell limited at L takes keys <= -L
            keys, levels, sign = self._bid_keys, self._bids, -1
            key_limit = 0 if limit is None else -limit  # bid keys are < 0: a market sell takes every bid
        orders = self._orders
        append = fills.append
        stp = self._stp
        while keys:
            key = keys[0]
            if key > key_limit:
                break
            price = sign * key
            level = levels[price]
            fifo = level[1]
            taken = 0  # lots removed from this level; its total is settled once, after the loop
            done = 0  # entries consumed at the front of the fifo (filled, cancelled or self-traded)
            for entry in fifo:
                resting = entry[0]
                if not resting:
                    done += 1  # a cancelled order, deleted lazily
                    continue
                if stp and entry[2] == owner:
                    if self.self_trade == SELF_TRADE_CANCEL_TAKER:
                        lots = 0  # the rest of the incoming order expires; the maker stays
                        break
                    done += 1  # cancel_maker: the resting order goes, matching goes on
                    del orders[entry[1]]
                    taken += resting
                    continue
                if resting <= lots:  # the maker is filled in full
                    done += 1
                    del orders[entry[1]]
                    taken += resting
                    lots -= resting
                    append(_new_fill(Fill, (price, resting, entry[1], oid, entry[2], owner, side, 0)))
                    if not lots:
                        break
                else:  # the taker is filled in full; the maker keeps its place with the rest
                    left = resting - lots
                    entry[0] = left
                    taken += lots
                    append(_new_fill(Fill, (price, lots, entry[1], oid, entry[2], owner, side, left)))
                    lots = 0
                    break
            left = level[0] - taken
            if left:  # orders still rest here, so the incoming order is done (or expired)
                level[0] = left
                del fifo[:done]  # one slice deletion for all the consumed entries
                break
            del levels[price]  # nothing rests at this price any more (entries left are cancelled ones)
            del keys[0]
            if not lots:
                break
        if fills:
            self.last_price_ticks = fills[-1][0]
        return lots

    def _compact(self) -> None:
        """Drop the cancelled (zeroed) entries from every fifo; O(entries), run rarely (see cancel)."""
        for levels in (self._bids, self._asks):
            for level in levels.values():
                fifo = level[1]
                fifo[:] = [e for e in fifo if e[0]]
        self._dead = 0
        self._dead_limit = max(_COMPACT_MIN_DEAD, _COMPACT_RATIO * len(self._orders))
