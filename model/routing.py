"""Order routing: orders and stops from accounts to the books, with the exchange's pre-trade checks.

The router owns the order state: ids, which account rests which order, each account's open buy and sell
lots per symbol (for the worst-case margin check), live stop-market orders, and the counters of book
messages and traded volume. It checks an order before it reaches a book: price band around the mark,
reduce-only, leverage against the bracket, initial margin (cross: the account's equity covers the initial
margin of its worst-case positions with every resting order filled; isolated: the free balance covers
the extra margin); orders that do not increase the worst-case exposure always pass. Fills are booked to
both accounts through :meth:`model.ledger.Ledger.book_trade` with maker/taker fees.

Rejections are results with a reason, not exceptions: a bad order must not kill a simulation. An unknown
symbol or account is a programming error and raises ``KeyError``.
"""

from __future__ import annotations

import heapq
import math
import numbers
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from model.accounts import AccountViews
from model.ledger import MICRO, Ledger, fee_micro, fee_rate_units
from model.margin import MarginSchedule
from model.orderbook import BUY, GTC, IOC, POST_ONLY, SELL, Fill, OrderBook


class OrderResult(NamedTuple):
    """What happened to a submitted order.

    Attributes:
        status: ``"filled"``, ``"partial"`` (IOC/market: the rest was dropped), ``"resting"`` (the rest
            rests in the book), ``"expired"`` (IOC/market: nothing filled) or ``"rejected"``.
        oid: the order id (None when rejected).
        filled_lots: lots traded at once.
        fills: the book's fills, in order.
        reason: why the order was rejected ('' otherwise).
    """

    status: str
    oid: int | None
    filled_lots: int
    fills: list[Fill]
    reason: str = ""


def _positive_int(value: object) -> int | None:
    """``value`` as a plain int when it is a positive integer of any integer type (numpy's too), else None.

    Floats, even integral ones, and booleans are refused: a quantity must be counted, not rounded.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        as_int = int(value)
        return as_int if as_int > 0 else None
    return None


def _rejected(reason: str) -> OrderResult:
    return OrderResult("rejected", None, 0, [], reason)


def symbol_index(names: Sequence[str], symbol: int | str) -> int:
    """Index of a symbol given by index or name; ``KeyError`` names the unknown symbol."""
    if isinstance(symbol, str):
        try:
            return list(names).index(symbol)
        except ValueError:
            raise KeyError(f"unknown symbol {symbol!r} (have {list(names)})") from None
    if not 0 <= symbol < len(names):
        raise KeyError(f"unknown symbol index {symbol} (have 0..{len(names) - 1})")
    return symbol


class OrderRouter:
    """Routes orders and stops of accounts into the books.

    Args:
        books: one order book per symbol.
        ledger: the ledger fills are booked to.
        accounts: account views (equity, positions) for the margin checks.
        schedules: margin schedules, one per symbol.
        mark_ticks: the live marks (float ticks), for the price band and margin checks.
        tick_value_micro: micro-dollars per tick per lot, one per symbol.
        names: symbol names (for error messages).
        maker_fee: maker fee, fraction of notional (negative: a rebate).
        taker_fee: taker fee, fraction of notional.
        price_band: largest fraction away from the mark an order may trade at (None: no band).
    """

    def __init__(
        self,
        books: Sequence[OrderBook],
        ledger: Ledger,
        accounts: AccountViews,
        schedules: Sequence[MarginSchedule],
        mark_ticks: NDArray[np.float64],
        tick_value_micro: Sequence[int],
        names: Sequence[str],
        maker_fee: float,
        taker_fee: float,
        price_band: float | None,
    ) -> None:
        self.books = list(books)
        self.ledger = ledger
        self.accounts = accounts
        self.schedules = tuple(schedules)
        self.mark_ticks = mark_ticks
        self.tick_value_micro = tuple(tick_value_micro)
        self.names = tuple(names)
        self.n_symbols = len(self.books)
        self.price_band = price_band
        self.maker_units = fee_rate_units(maker_fee)
        self.taker_units = fee_rate_units(taker_fee)
        self.open_buy = np.zeros((len(ledger.balance), self.n_symbols), dtype=np.int64)
        self.open_sell = np.zeros_like(self.open_buy)
        self._next_oid = 1
        self._orders: dict[int, tuple[int, int, int]] = {}  # oid -> (account, symbol, side)
        self._account_orders: dict[int, set[int]] = {}
        # stop-market orders (reduce-only), triggered on the last trade price
        self._stops: dict[
            int, tuple[int, int, int, int, int]
        ] = {}  # id -> (account, symbol, side, lots, trigger)
        self._account_stops: dict[int, set[int]] = {}
        self._sell_stops: list[list[tuple[int, int]]] = [[] for _ in self.books]  # heap of (-trigger, id)
        self._buy_stops: list[list[tuple[int, int]]] = [[] for _ in self.books]  # heap of (trigger, id)
        self.stops_triggered = 0
        self.messages = 0  # orders and cancels sent to the books
        self.volume_lots = [0] * self.n_symbols  # cumulative traded lots
        self.volume_notional_micro = [0] * self.n_symbols
        self.signed_volume_lots = [0] * self.n_symbols  # the tape: buyer- minus seller-initiated lots

    def symbol_id(self, symbol: int | str) -> int:
        """Index of a symbol given by index or name; ``KeyError`` names the unknown symbol."""
        return symbol_index(self.names, symbol)

    def grow(self, n_accounts: int) -> None:
        """Make room in the open-order arrays for ``n_accounts`` accounts (rows are never reused)."""
        if n_accounts > len(self.open_buy):
            grown = np.zeros((len(self.ledger.balance), self.n_symbols), dtype=np.int64)
            grown[: len(self.open_buy)] = self.open_buy
            self.open_buy = grown
            grown = np.zeros_like(self.open_buy)
            grown[: len(self.open_sell)] = self.open_sell
            self.open_sell = grown

    # ------------------------------------------------------------------ views of the order state

    def open_orders(self, account: int) -> list[int]:
        """Ids of the account's resting orders."""
        return sorted(self._account_orders.get(account, ()))

    def order_info(self, oid: int) -> tuple[int, int, int, int, int] | None:
        """``(account, symbol, side, price_ticks, resting_lots)`` of a resting order, or None."""
        info = self._orders.get(oid)
        if info is None:
            return None
        a, s, side = info
        o = self.books[s].order(oid)
        if o is None:
            return None
        return a, s, side, o[1], o[2]

    def stops_of(self, account: int) -> list[int]:
        """Ids of the account's live stop orders."""
        return sorted(self._account_stops.get(account, ()))

    def price_limits(self, symbol: int) -> tuple[int, int]:
        """The lowest and highest limit prices, ticks, the price band allows now: the whole ticks inside
        ``mark x (1 -+ price_band)`` (``(1, 2**62)`` with no band)."""
        band = self.price_band
        if band is None:
            return 1, 1 << 62
        mark = float(self.mark_ticks[symbol])
        return max(1, math.ceil(mark * (1.0 - band))), math.floor(mark * (1.0 + band))

    def stop_trigger_ticks(self, stop_id: int) -> int | None:
        """The trigger price of a live stop order, ticks (None when it is not live)."""
        stop = self._stops.get(stop_id)
        return None if stop is None else stop[4]

    def available_usd(self, account: int) -> float:
        """Equity minus the initial margin of worst-case positions (resting orders included), USD."""
        return self.accounts.equity_usd(account) - self._initial_margin_usd(account, None, 0, 0)

    # ------------------------------------------------------------------ orders

    def submit(
        self,
        account: int,
        symbol: int,
        side: int,
        lots: int,
        price_ticks: int | None = None,
        tif: int = GTC,
        reduce_only: bool = False,
        _liquidation: bool = False,
    ) -> OrderResult:
        """Check an order and send it to its book; the arguments and result are :meth:`Exchange.submit`'s.

        The checks run in this order, cheapest first: account and symbol ids, lots, side and price as
        positive integers, the price band (a market order becomes an IOC limited at the band), reduce-only
        or the initial-margin check (skipped for the liquidation engine's own orders), post-only crossing.
        """
        led = self.ledger
        if not 0 <= account < led.n:
            led.check_account(account)
        if not 0 <= symbol < self.n_symbols:
            self.symbol_id(symbol)
        if lots.__class__ is not int or lots <= 0:  # slow path only: numpy integers become plain ints
            checked = _positive_int(lots)
            if checked is None:
                return _rejected(f"lots must be a positive integer, got {lots!r}")
            lots = checked
        if side != BUY and side != SELL:
            return _rejected(f"side must be BUY (0) or SELL (1), got {side!r}")
        if price_ticks is not None and (price_ticks.__class__ is not int or price_ticks <= 0):
            checked = _positive_int(price_ticks)
            if checked is None:
                return _rejected(f"price_ticks must be a positive integer, got {price_ticks!r}")
            price_ticks = checked
        book = self.books[symbol]
        band = self.price_band
        if band is not None:
            mark = float(self.mark_ticks[symbol])
            if price_ticks is None:  # a market order trades only inside the band
                price_ticks = (
                    math.ceil(mark * (1.0 + band)) if side == BUY else max(1, math.floor(mark * (1.0 - band)))
                )
                tif = IOC
            elif not _liquidation and not (mark * (1.0 - band) <= price_ticks <= mark * (1.0 + band)):
                return _rejected(f"price {price_ticks} ticks is outside the {band:.0%} band around the mark")
        if reduce_only:
            pos = int(led.pos[account, symbol])
            if pos == 0 or (pos > 0) == (side == BUY):
                return _rejected("reduce-only order would open or increase a position")
            if lots > abs(pos):
                return _rejected(f"reduce-only order of {lots} lots exceeds the position of {abs(pos)} lots")
        elif not _liquidation:
            reason = self._margin_check(account, symbol, side, lots, price_ticks)
            if reason:
                return _rejected(reason)
        if tif == POST_ONLY and price_ticks is not None and book.would_cross(side, price_ticks):
            return _rejected("post-only order would cross the spread")
        oid = self._next_oid
        self._next_oid = oid + 1
        self.messages += 1
        if price_ticks is None:
            fills = book.market(oid, account, side, lots)
            rests = False
        else:
            fills = book.limit(oid, account, side, price_ticks, lots, tif)
            rests = tif != IOC
        filled = self._book_fills(symbol, fills, 0 if _liquidation else self.taker_units) if fills else 0
        # ask the book: self-trade prevention may have expired the rest of the order
        if rests and filled < lots and book.resting_lots(oid):
            self._orders[oid] = (account, symbol, side)
            self._account_orders.setdefault(account, set()).add(oid)
            if side == BUY:
                self.open_buy[account, symbol] += lots - filled
            else:
                self.open_sell[account, symbol] += lots - filled
            return OrderResult("resting", oid, filled, fills)
        if filled == lots:
            return OrderResult("filled", oid, filled, fills)
        return OrderResult("partial" if filled else "expired", oid, filled, fills)

    def replace_quotes(
        self,
        account: int,
        symbol: int,
        bids: list[tuple[int, int]],
        asks: list[tuple[int, int]],
        keep_queue: bool = False,
    ) -> int:
        """Replace all of an account's orders in ``symbol`` by post-only quotes, with one margin check.

        A batch endpoint for market makers: the old orders are cancelled, the whole ladder is checked for
        initial margin at once (as if every quote filled), and each ``(price_ticks, lots)`` is posted
        post-only; quotes that would cross or fall outside the price band are skipped.

        With ``keep_queue`` the old orders are amended instead of cancelled wherever the new ladder
        quotes the same price: an order already resting there is kept (its time priority with it),
        reduced in place when the ladder wants less there, or topped up by a new order behind the queue
        when it wants more (Binance's order modify keeps priority only when the size decreases). Only the
        prices the ladder leaves are cancelled and only the new ones posted, so a ladder shifted by one
        layer costs a few messages instead of a whole ladder's. The margin check and what rests afterwards
        (price, side and lots at each level) are the same as without it.

        Returns:
            The number of orders posted (kept orders not counted); 0 when the ladder fails the margin check.
        """
        if keep_queue:
            return self._amend_quotes(account, symbol, bids, asks)
        mine = self._account_orders.setdefault(account, set())
        orders = self._orders
        if mine:  # cancel the account's orders in this symbol (inlined: this is the makers' hot path)
            book = self.books[symbol]
            for oid in [o for o in mine if orders[o][1] == symbol]:
                side = orders.pop(oid)[2]
                mine.discard(oid)
                lots = book.cancel(oid)
                self.messages += 1
                if side == BUY:
                    self.open_buy[account, symbol] -= lots
                else:
                    self.open_sell[account, symbol] -= lots
        buy_lots = sum(q for _, q in bids)
        sell_lots = sum(q for _, q in asks)
        if buy_lots + sell_lots == 0:
            return 0
        led = self.ledger
        worst = self._worst_lots(account, symbol, buy_lots, sell_lots)
        if worst > self._worst_lots(account, symbol):
            notional = worst * float(self.mark_ticks[symbol]) * self.tick_value_micro[symbol] / MICRO
            if float(led.leverage[account, symbol]) > self.schedules[symbol].max_leverage(notional) + 1e-9:
                return 0
            if self._initial_margin_usd(account, symbol, buy_lots, sell_lots) > self.accounts.equity_usd(
                account
            ):
                return 0
        lo, hi = self.price_limits(symbol)
        placed = self._post_side(account, symbol, BUY, bids, lo, hi)
        return placed + self._post_side(account, symbol, SELL, asks, lo, hi)

    def _post_side(
        self, account: int, symbol: int, side: int, quotes: list[tuple[int, int]], lo: int, hi: int
    ) -> int:
        """Post one side's ``(price_ticks, lots)`` quotes post-only, in order, skipping empty ones, those
        outside ``[lo, hi]`` and those that would cross (a plain loop: this is the makers' hot path).

        Returns:
            The number of orders posted.
        """
        book = self.books[symbol]
        orders = self._orders
        mine = self._account_orders.setdefault(account, set())
        placed = 0
        rested = 0
        for price, lots in quotes:
            if lots <= 0 or not lo <= price <= hi or book.would_cross(side, price):
                continue
            oid = self._next_oid
            self._next_oid = oid + 1
            self.messages += 1
            book.limit(oid, account, side, price, lots, POST_ONLY)
            orders[oid] = (account, symbol, side)
            mine.add(oid)
            rested += lots
            placed += 1
        if side == BUY:
            self.open_buy[account, symbol] += rested
        else:
            self.open_sell[account, symbol] += rested
        return placed

    def _amend_quotes(
        self, account: int, symbol: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]
    ) -> int:
        """:meth:`replace_quotes` with ``keep_queue``: amend the resting ladder into the new one."""
        mine = self._account_orders.setdefault(account, set())
        orders = self._orders
        book = self.books[symbol]
        current = sorted(o for o in mine if orders[o][1] == symbol)  # oldest first: queue order
        buy_lots = sum(q for _, q in bids)
        sell_lots = sum(q for _, q in asks)
        # the margin check of the cancel-and-post path: the resting orders in this symbol count as gone
        open_b = int(self.open_buy[account, symbol])
        open_s = int(self.open_sell[account, symbol])
        fails = buy_lots + sell_lots == 0
        if not fails:
            worst = self._worst_lots(account, symbol, buy_lots - open_b, sell_lots - open_s)
            if worst > self._worst_lots(account, symbol, -open_b, -open_s):
                notional = worst * float(self.mark_ticks[symbol]) * self.tick_value_micro[symbol] / MICRO
                led = self.ledger
                if (
                    float(led.leverage[account, symbol])
                    > self.schedules[symbol].max_leverage(notional) + 1e-9
                ) or self._initial_margin_usd(
                    account, symbol, buy_lots - open_b, sell_lots - open_s
                ) > self.accounts.equity_usd(account):
                    fails = True
        if fails:
            for oid in current:
                self._cancel(oid, orders[oid])
            return 0
        lo, hi = self.price_limits(symbol)
        want: dict[tuple[int, int], int] = {}
        for side, quotes in ((BUY, bids), (SELL, asks)):
            for price, lots in quotes:
                if lots > 0 and lo <= price <= hi:
                    want[side, price] = want.get((side, price), 0) + lots
        # pass 1: keep, reduce or cancel what rests (before posting, so no new quote meets an old one)
        for oid in current:
            side, price, resting, _owner = book.order(oid)  # type: ignore[misc]
            take = min(resting, want.get((side, price), 0))
            if take == 0:
                self._cancel(oid, orders[oid])
                continue
            want[side, price] -= take
            if take < resting:
                book.reduce(oid, resting - take)  # priority kept
                self.messages += 1
                if side == BUY:
                    self.open_buy[account, symbol] -= resting - take
                else:
                    self.open_sell[account, symbol] -= resting - take
        # pass 2: post what the ladder still wants, in ladder order (top-ups join the back of their queue)
        posts: dict[int, list[tuple[int, int]]] = {BUY: [], SELL: []}
        for side, quotes in ((BUY, bids), (SELL, asks)):
            for price, _ in quotes:
                lots = want.pop((side, price), 0)
                if lots > 0:
                    posts[side].append((price, lots))
        placed = self._post_side(account, symbol, BUY, posts[BUY], lo, hi)
        return placed + self._post_side(account, symbol, SELL, posts[SELL], lo, hi)

    def cancel(self, account: int, oid: int) -> int:
        """Cancel one of the account's resting orders; return the lots cancelled (0 if not resting)."""
        info = self._orders.get(oid)
        if info is None or info[0] != account:
            return 0
        return self._cancel(oid, info)

    def cancel_all(self, account: int, symbol: int | None = None, stops: bool = True) -> int:
        """Cancel all resting orders (and stops) of an account, optionally of one symbol.

        Returns the lots of resting orders cancelled.
        """
        if stops:
            for sid in list(self._account_stops.get(account, ())):
                if symbol is None or self._stops[sid][1] == symbol:
                    self.cancel_stop(account, sid)
        oids = self._account_orders.get(account)
        if not oids:
            return 0
        total = 0
        for oid in list(oids):
            info = self._orders[oid]
            if symbol is None or info[1] == symbol:
                total += self._cancel(oid, info)
        return total

    def submit_stop(self, account: int, symbol: int, side: int, lots: int, trigger_ticks: int) -> int:
        """Place a reduce-only stop-market order; return its id.

        A sell stop fires when the last trade is at or below ``trigger_ticks`` (a buy stop: at or above)
        and then sends a reduce-only market order for at most the position it finds.
        """
        self.ledger.check_account(account)
        self.symbol_id(symbol)
        if lots <= 0 or trigger_ticks <= 0:
            raise ValueError("stop lots and trigger_ticks must be > 0")
        sid = self._next_oid
        self._next_oid = sid + 1
        self._stops[sid] = (account, symbol, side, lots, trigger_ticks)
        self._account_stops.setdefault(account, set()).add(sid)
        if side == SELL:
            heapq.heappush(self._sell_stops[symbol], (-trigger_ticks, sid))
        else:
            heapq.heappush(self._buy_stops[symbol], (trigger_ticks, sid))
        return sid

    def cancel_stop(self, account: int, stop_id: int) -> bool:
        """Cancel a stop (lazily removed from its heap); False when it is not live."""
        info = self._stops.get(stop_id)
        if info is None or info[0] != account:
            return False
        del self._stops[stop_id]
        self._account_stops[account].discard(stop_id)
        return True

    def trigger_stops(self, max_rounds: int = 50) -> int:
        """Fire every stop whose trigger the last trade has reached; repeat while fills trigger more.

        Returns the number of stops fired.
        """
        fired = 0
        for _ in range(max_rounds):
            batch = []
            for s in range(self.n_symbols):
                last = self.books[s].last_price_ticks
                if last is None:
                    continue
                heap = self._sell_stops[s]
                while heap and (-heap[0][0] >= last or heap[0][1] not in self._stops):
                    sid = heapq.heappop(heap)[1]
                    if sid in self._stops:
                        batch.append(sid)
                heap = self._buy_stops[s]
                while heap and (heap[0][0] <= last or heap[0][1] not in self._stops):
                    sid = heapq.heappop(heap)[1]
                    if sid in self._stops:
                        batch.append(sid)
            if not batch:
                break
            for sid in batch:
                account, symbol, side, lots, _trigger = self._stops.pop(sid)
                self._account_stops[account].discard(sid)
                pos = int(self.ledger.pos[account, symbol])
                if pos == 0 or (pos > 0) == (side == BUY):
                    continue  # nothing left to reduce
                self.submit(account, symbol, side, min(lots, abs(pos)), reduce_only=True)
                fired += 1
        self.stops_triggered += fired
        return fired

    def _cancel(self, oid: int, info: tuple[int, int, int]) -> int:
        account, symbol, side = info
        lots = self.books[symbol].cancel(oid)
        self.messages += 1
        del self._orders[oid]
        self._account_orders[account].discard(oid)
        if side == BUY:
            self.open_buy[account, symbol] -= lots
        else:
            self.open_sell[account, symbol] -= lots
        return lots

    def _book_fills(self, symbol: int, fills: list[Fill], taker_units: int) -> int:
        """Book fills to both accounts; return the lots the taker traded."""
        led = self.ledger
        book_trade = led.book_trade
        tv = self.tick_value_micro[symbol]
        maker_units = self.maker_units
        open_maker = self.open_sell if fills[0].aggressor_side == BUY else self.open_buy
        filled = 0
        notional_total = 0
        for price, lots, maker_oid, _toid, maker, taker, aggressor, maker_left in fills:
            notional = price * lots * tv
            signed = lots if aggressor == BUY else -lots
            book_trade(taker, symbol, signed, price, fee_micro(notional, taker_units) if taker_units else 0)
            book_trade(maker, symbol, -signed, price, fee_micro(notional, maker_units) if maker_units else 0)
            open_maker[maker, symbol] -= lots
            if not maker_left:
                del self._orders[maker_oid]
                self._account_orders[maker].discard(maker_oid)
            filled += lots
            notional_total += notional
        self.volume_lots[symbol] += filled
        self.signed_volume_lots[symbol] += filled if fills[0].aggressor_side == BUY else -filled
        self.volume_notional_micro[symbol] += notional_total
        return filled

    def _worst_lots(self, account: int, symbol: int, extra_buy: int = 0, extra_sell: int = 0) -> int:
        """Largest absolute position the account could reach if all its resting orders filled."""
        pos = int(self.ledger.pos[account, symbol])
        return max(
            abs(pos + int(self.open_buy[account, symbol]) + extra_buy),
            abs(pos - int(self.open_sell[account, symbol]) - extra_sell),
        )

    def _initial_margin_usd(self, account: int, symbol: int | None, extra_buy: int, extra_sell: int) -> float:
        """Initial margin of the account's worst-case positions (with an extra order on ``symbol``)."""
        led = self.ledger
        pos = led.pos[account].tolist()
        ob = self.open_buy[account].tolist()
        os_ = self.open_sell[account].tolist()
        lev = led.leverage[account].tolist()
        marks = self.mark_ticks.tolist()
        total = 0.0
        for s in range(self.n_symbols):
            eb, es = (extra_buy, extra_sell) if s == symbol else (0, 0)
            lots = max(abs(pos[s] + ob[s] + eb), abs(pos[s] - os_[s] - es))
            if lots:
                notional = lots * marks[s] * self.tick_value_micro[s] / MICRO
                total += self.schedules[s].initial_usd_scalar(notional, lev[s])
        return total

    def _margin_check(self, account: int, symbol: int, side: int, lots: int, price_ticks: int | None) -> str:
        """Return '' when the order passes the initial-margin check, else the reason."""
        if account == Ledger.FUND:
            return ""
        eb, es = (lots, 0) if side == BUY else (0, lots)
        before = self._worst_lots(account, symbol)
        after = self._worst_lots(account, symbol, eb, es)
        if after <= before:
            return ""  # does not increase the worst-case exposure
        led = self.ledger
        ref = float(self.mark_ticks[symbol])
        if price_ticks is not None and side == BUY:
            ref = max(ref, float(price_ticks))
        tv = self.tick_value_micro[symbol]
        notional = after * ref * tv / MICRO
        lev = float(led.leverage[account, symbol])
        cap = self.schedules[symbol].max_leverage(notional)
        if lev > cap + 1e-9:
            return f"leverage {lev:g}x exceeds the {cap:g}x maximum for a ${notional:,.0f} position"
        if led.isolated[account]:
            extra = (after - before) * ref * tv / MICRO / lev
            free = int(led.balance[account]) / MICRO
            if extra > free:
                return f"insufficient margin: needs ${extra:,.2f}, free balance ${free:,.2f}"
            return ""
        need = self._initial_margin_usd(account, symbol, eb, es)
        equity = self.accounts.equity_usd(account)
        if need > equity:
            return f"insufficient margin: needs ${need:,.2f} initial margin, equity ${equity:,.2f}"
        return ""
