"""The exchange: one order book per perpetual, the ledger, index/mark prices and funding.

Agents reach the market only through :class:`Exchange` methods: ``submit``/``cancel`` (fills come back
at once), account views and market data. The exchange checks initial margin and reduce-only before an
order reaches a book, books every fill to both accounts with maker/taker fees, and keeps the index,
mark and funding of each symbol.

Rules chosen (sources in ``MARKET_FACTS.md`` §3):

* **Index**: exogenous log-returns from the drivers, pulled toward the perp mid by basis arbitrage:
  ``index += k dt (mid - index)`` with ``k = venue.index_arbitrage_per_second``; arbitrageurs' spot
  hedges move it too (:meth:`Exchange.spot_flow`, ``spot_impact_per_musd``). These endogenous moves
  decay back toward the exogenous path with a half-life of ``spot_resilience_hours``.
* **Mark** (Binance): median of ``index x (1 + F x time_to_funding / interval)``,
  ``index + moving average of (mid - index)`` over ``mark_basis_window_seconds`` and the last trade.
* **Funding** (Binance/BitMEX): the premium ``(mid - index) / index`` is sampled every step; at each
  settlement ``F = P + clamp(I - P, -clamp, +clamp)``, capped at ``+-cap``, with P the time-average of the
  premium over the interval scaled to the interval (``x hours / 8``: Hyperliquid pays 1/8 of the 8-h rate
  every hour). Longs pay shorts when F > 0. Payments use the mark in whole ticks and F in
  units of 1e-9; payers are rounded up and receivers down to the micro-dollar, the remainder goes to the
  fee account, so funding is zero-sum to the micro-dollar.
* **Initial margin**: an order is accepted when, with every resting order of the account filled too,
  the account's equity covers the initial margin of its worst-case positions (cross), or the free
  balance covers the extra margin (isolated). Orders that do not increase the worst-case exposure
  always pass. Leverage above the bracket's maximum is rejected.
* **Price band** (price protection): a limit order priced more than ``venue.price_band`` away from the
  mark is rejected, and a market order trades only up to that band (it is an IOC limited at
  ``mark x (1 +- band)``), so a thin moment of the book cannot print an absurd price.
* Rejections are results with a reason, not exceptions: a bad order must not kill a simulation. An
  unknown symbol or account is a programming error and raises ``KeyError``.
"""

from __future__ import annotations

import heapq
import math
import numbers
from collections import deque
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from model.ledger import Ledger, fee_micro, fee_rate_units
from model.margin import MarginSchedule
from model.orderbook import BUY, GTC, IOC, POST_ONLY, SELL, Fill, OrderBook
from model.params import SymbolParams, VenueParams

MICRO = 1_000_000
FUNDING_SCALE = 10**9  # funding rates are applied in integer units of 1e-9


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


class Exchange:
    """A perpetual-futures venue with one book per symbol.

    Args:
        symbols: the contracts (the first is the market leader, BTC by default).
        venue: venue rules; unset numbers are resolved from the preset here.
    """

    def __init__(self, symbols: list[SymbolParams], venue: VenueParams) -> None:
        venue = venue.resolved()
        self.venue = venue
        self.symbols = list(symbols)
        self.names = [s.name for s in symbols]
        self._sym_index = {name: i for i, name in enumerate(self.names)}
        self.n_symbols = len(symbols)
        self.tick_size_usd = [s.tick_size_usd for s in symbols]
        self.lot_size = [s.lot_size for s in symbols]
        self.tick_value_micro = [s.tick_value_micro for s in symbols]
        self.books = [OrderBook(s.name, self_trade=venue.self_trade) for s in symbols]
        self.ledger = Ledger(self.tick_value_micro)
        self.schedules = [self._schedule(s, venue) for s in symbols]
        self.price_band = venue.price_band
        self._maker_units = fee_rate_units(venue.maker_fee or 0.0)
        self._taker_units = fee_rate_units(venue.taker_fee or 0.0)
        self.open_buy = np.zeros((len(self.ledger.balance), self.n_symbols), dtype=np.int64)
        self.open_sell = np.zeros_like(self.open_buy)
        self._next_oid = 1
        self._orders: dict[int, tuple[int, int, int]] = {}  # oid -> (account, symbol, side)
        self._account_orders: dict[int, set[int]] = {}
        # stop-market orders (reduce-only), triggered on the last trade price
        self._stops: dict[
            int, tuple[int, int, int, int, int]
        ] = {}  # id -> (account, symbol, side, lots, trigger)
        self._account_stops: dict[int, set[int]] = {}
        self._sell_stops: list[list[tuple[int, int]]] = [[] for _ in symbols]  # heap of (-trigger, id)
        self._buy_stops: list[list[tuple[int, int]]] = [[] for _ in symbols]  # heap of (trigger, id)
        self.stops_triggered = 0
        self.time_s = 0.0
        # prices in (float) ticks; marks as an array for vectorised checks
        self.index_ticks = [s.price_usd / s.tick_size_usd for s in symbols]
        self.mark_ticks: NDArray[np.float64] = np.array(self.index_ticks, dtype=np.float64)
        # log-deviation of each index from its exogenous path, and its decay per second
        self._index_dev = [0.0] * self.n_symbols
        self._index_decay = [0.5 ** (1.0 / (s.spot_resilience_hours * 3600.0)) for s in symbols]
        window = max(1, round(venue.mark_basis_window_seconds or 30.0))
        self._basis_window_s = float(window)
        self._basis: list[deque[tuple[float, float]]] = [deque() for _ in symbols]  # (time, basis)
        self._basis_sum = [0.0] * self.n_symbols
        self.funding_interval_s = float(venue.funding_interval_hours or 8.0) * 3600.0
        self.next_funding_s = self.funding_interval_s
        self._premium_sum = [0.0] * self.n_symbols  # time-weighted premium over the interval
        self._premium_time = [0.0] * self.n_symbols
        self.funding_rate = [float(venue.funding_interest_per_interval or 0.0)] * self.n_symbols
        self.last_funding_rate = [0.0] * self.n_symbols
        self.volume_lots = [0] * self.n_symbols  # cumulative traded lots
        self.volume_notional_micro = [0] * self.n_symbols
        self.messages = 0  # orders and cancels sent to the books
        self.funding_paid_micro = 0  # total paid by payers (received + remainder)
        self.funding_settlements = 0  # settlement times passed (whatever the rates were)
        self.insurance_fund_start_micro = 0
        insurance = round((venue.insurance_fund_usd or 0.0) * MICRO)
        if insurance:
            self.ledger.deposit(Ledger.FUND, insurance)
            self.insurance_fund_start_micro = insurance

    @staticmethod
    def _schedule(sym: SymbolParams, venue: VenueParams) -> MarginSchedule:
        cap = sym.max_leverage or venue.max_leverage
        if venue.maintenance_rule == "half_initial":
            return MarginSchedule.half_initial(cap or 40.0)
        tiers = sym.tiers or venue.tiers
        if not tiers:
            return MarginSchedule.half_initial(cap or 20.0)
        return MarginSchedule([(t.max_notional_usd, t.mmr, t.imr) for t in tiers], max_leverage=cap)

    # ------------------------------------------------------------------ ids and units

    def symbol_id(self, symbol: int | str) -> int:
        """Index of a symbol given by index or name; ``KeyError`` names the unknown symbol."""
        if isinstance(symbol, str):
            try:
                return self._sym_index[symbol]
            except KeyError:
                raise KeyError(f"unknown symbol {symbol!r} (have {self.names})") from None
        if not 0 <= symbol < self.n_symbols:
            raise KeyError(f"unknown symbol index {symbol} (have 0..{self.n_symbols - 1})")
        return symbol

    def usd_to_ticks(self, symbol: int, price_usd: float) -> int:
        """Nearest tick to a USD price (at least 1)."""
        return max(1, round(price_usd / self.tick_size_usd[symbol]))

    def ticks_to_usd(self, symbol: int, price_ticks: float) -> float:
        """USD price of a (possibly fractional) tick count."""
        return price_ticks * self.tick_size_usd[symbol]

    def usd_to_lots(self, symbol: int, notional_usd: float, price_ticks: float) -> int:
        """Whole lots worth about ``notional_usd`` at ``price_ticks`` (rounded down)."""
        per_lot_usd = price_ticks * self.tick_value_micro[symbol] / MICRO
        return int(notional_usd // per_lot_usd) if per_lot_usd > 0 else 0

    # ------------------------------------------------------------------ accounts

    def open_account(self, deposit_usd: float, isolated: bool = False, leverage: float = 1.0) -> int:
        """Open an account with ``deposit_usd`` of collateral; return its id."""
        a = self.ledger.open_account(round(deposit_usd * MICRO), isolated=isolated, leverage=leverage)
        if a >= len(self.open_buy):
            grown = np.zeros((len(self.ledger.balance), self.n_symbols), dtype=np.int64)
            grown[: len(self.open_buy)] = self.open_buy
            self.open_buy = grown
            grown = np.zeros_like(self.open_buy)
            grown[: len(self.open_sell)] = self.open_sell
            self.open_sell = grown
        return a

    def deposit(self, account: int, amount_usd: float) -> None:
        """Add collateral to an account."""
        self.ledger.check_account(account)
        self.ledger.deposit(account, round(amount_usd * MICRO))

    def set_leverage(self, account: int, symbol: int | str, leverage: float) -> None:
        """Set the leverage an account uses for a symbol (initial margin = notional / leverage)."""
        self.ledger.check_account(account)
        s = self.symbol_id(symbol)
        if leverage <= 0:
            raise ValueError("leverage must be > 0")
        self.ledger.leverage[account, s] = leverage

    def position_lots(self, account: int, symbol: int) -> int:
        """Signed position in lots (long > 0)."""
        return int(self.ledger.pos[account, symbol])

    def positions(self, account: int) -> list[int]:
        """Signed positions in lots of every symbol, in symbol order (a copy: long > 0)."""
        return self.ledger.pos[account].tolist()

    def max_leverage(self, symbol: int, notional_usd: float = 0.0) -> float:
        """Highest leverage the venue allows on ``symbol`` for a position of ``notional_usd``."""
        return self.schedules[symbol].max_leverage(notional_usd)

    def max_notional_usd(self, symbol: int, leverage: float) -> float:
        """Largest position notional on ``symbol`` at which ``leverage`` is still allowed, USD (may be inf)."""
        return self.schedules[symbol].max_notional_usd(leverage)

    def entry_price_ticks(self, account: int, symbol: int) -> float:
        """Average entry price in ticks (0.0 when flat)."""
        p = int(self.ledger.pos[account, symbol])
        return int(self.ledger.cost[account, symbol]) / p if p else 0.0

    def equity_usd(self, account: int) -> float:
        """Account equity at the current marks (balance + isolated margins + unrealised PnL), USD."""
        led = self.ledger
        total = float(led.balance[account]) + float(led.iso_margin[account].sum())
        marks = self.mark_ticks.tolist()
        for s, (pos, cost) in enumerate(
            zip(led.pos[account].tolist(), led.cost[account].tolist(), strict=True)
        ):
            if pos or cost:
                total += (pos * marks[s] - cost) * self.tick_value_micro[s]
        return total / MICRO

    def unrealised_usd(self, account: int, symbol: int) -> float:
        """Unrealised PnL of one position at the mark, USD."""
        led = self.ledger
        pos = int(led.pos[account, symbol])
        return (
            (pos * self.mark_ticks[symbol] - int(led.cost[account, symbol]))
            * self.tick_value_micro[symbol]
            / MICRO
        )

    def notional_usd(self, account: int, symbol: int) -> float:
        """Absolute position notional at the mark, USD."""
        pos = abs(int(self.ledger.pos[account, symbol]))
        return pos * float(self.mark_ticks[symbol]) * self.tick_value_micro[symbol] / MICRO

    def maintenance_usd(self, account: int) -> float:
        """Maintenance margin of all the account's positions at the marks, USD."""
        return sum(
            float(self.schedules[s].maintenance_usd(self.notional_usd(account, s)))
            for s in range(self.n_symbols)
        )

    def margin_ratio(self, account: int) -> float:
        """Maintenance margin / equity (cross view); >= 1 means liquidatable, inf when equity <= 0."""
        eq = self.equity_usd(account)
        mm = self.maintenance_usd(account)
        if mm == 0:
            return 0.0
        return mm / eq if eq > 0 else math.inf

    def available_usd(self, account: int) -> float:
        """Equity minus the initial margin of worst-case positions (resting orders included), USD."""
        return self.equity_usd(account) - self._initial_margin_usd(account, None, 0, 0)

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

    # ------------------------------------------------------------------ market data

    def best_bid(self, symbol: int) -> int | None:
        """Best bid in ticks."""
        return self.books[symbol].best_bid()

    def best_ask(self, symbol: int) -> int | None:
        """Best ask in ticks."""
        return self.books[symbol].best_ask()

    def mid_ticks(self, symbol: int) -> float:
        """Mid in ticks. With one side empty: the last trade (or mark) clipped to the remaining side."""
        book = self.books[symbol]
        m = book.mid()
        if m is not None:
            return m
        last = book.last_price_ticks
        ref = float(last) if last is not None else float(self.mark_ticks[symbol])
        bid, ask = book.best_bid(), book.best_ask()
        if ask is not None:
            return min(ref, float(ask))
        if bid is not None:
            return max(ref, float(bid))
        return ref

    def last_ticks(self, symbol: int) -> float:
        """Last trade price in ticks (the mid before any trade)."""
        last = self.books[symbol].last_price_ticks
        return float(last) if last is not None else self.mid_ticks(symbol)

    def mark_usd(self, symbol: int) -> float:
        """Mark price in USD."""
        return float(self.mark_ticks[symbol]) * self.tick_size_usd[symbol]

    def index_usd(self, symbol: int) -> float:
        """Index price in USD."""
        return self.index_ticks[symbol] * self.tick_size_usd[symbol]

    def index_path_ticks(self, symbol: int) -> float:
        """The index's exogenous path (drivers: news, macro drift), without its endogenous deviation.

        The index is this path times ``exp(dev)``, where ``dev`` is what basis arbitrage and spot impact
        added and spot resilience has not yet decayed; value traders read the path as fundamental value.
        """
        return self.index_ticks[symbol] * math.exp(-self._index_dev[symbol])

    def depth_within_usd(self, symbol: int, fraction: float) -> tuple[float, float]:
        """Resting (bid, ask) notional in USD within ``fraction`` of the mid."""
        bid_lots, ask_lots = self.books[symbol].depth_within(fraction)
        per_lot = self.mid_ticks(symbol) * self.tick_value_micro[symbol] / MICRO
        return bid_lots * per_lot, ask_lots * per_lot

    def open_interest_lots(self) -> NDArray[np.int64]:
        """Per-symbol long lots (== short lots), fund and ADL counterparties included."""
        return self.ledger.open_interest_lots()[0]

    def ledger_imbalance(self) -> int:
        """Deposits minus everything the ledger holds, in micro-dollars; 0 when the books balance."""
        return self.ledger.imbalance()

    @property
    def insurance_fund_usd(self) -> float:
        """The insurance fund's equity at the marks (its balance plus any inventory it holds), USD."""
        return self.equity_usd(Ledger.FUND)

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
        """Send an order: a limit order when ``price_ticks`` is given, else a market order.

        Args:
            account: the sending account.
            symbol: symbol index.
            side: ``BUY`` or ``SELL``.
            lots: quantity in lots (> 0).
            price_ticks: limit price in ticks; None for a market order.
            tif: ``GTC``, ``IOC`` or ``POST_ONLY`` (limit orders only).
            reduce_only: reject unless the order only reduces the current position.
            _liquidation: internal (the liquidation engine): no margin check, no taker fee.

        Returns:
            An :class:`OrderResult`; rejected orders carry a reason and change nothing.

        Raises:
            KeyError: unknown account or symbol.
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
        filled = self._book_fills(symbol, fills, 0 if _liquidation else self._taker_units) if fills else 0
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
        self, account: int, symbol: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]
    ) -> int:
        """Replace all of an account's orders in ``symbol`` by post-only quotes, with one margin check.

        A batch endpoint for market makers: the old orders are cancelled, the whole ladder is checked for
        initial margin at once (as if every quote filled), and each ``(price_ticks, lots)`` is posted
        post-only; quotes that would cross or fall outside the price band are skipped.

        Returns:
            The number of quotes resting afterwards; 0 when the ladder fails the margin check.
        """
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
            if self._initial_margin_usd(account, symbol, buy_lots, sell_lots) > self.equity_usd(account):
                return 0
        book = self.books[symbol]
        placed = 0
        band = self.price_band
        mark = float(self.mark_ticks[symbol])
        lo, hi = (mark * (1.0 - band), mark * (1.0 + band)) if band is not None else (0.0, math.inf)
        for side, quotes in ((BUY, bids), (SELL, asks)):
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

    def stops_of(self, account: int) -> list[int]:
        """Ids of the account's live stops."""
        return sorted(self._account_stops.get(account, ()))

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

    def seed_position(
        self, long_account: int, short_account: int, symbol: int, lots: int, price_ticks: int
    ) -> None:
        """Book an off-book block trade (no fee), e.g. the open interest a market starts with."""
        self.ledger.check_account(long_account)
        self.ledger.check_account(short_account)
        self.ledger.book_trade(long_account, symbol, lots, price_ticks, 0)
        self.ledger.book_trade(short_account, symbol, -lots, price_ticks, 0)

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
        maker_units = self._maker_units
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
        equity = self.equity_usd(account)
        if need > equity:
            return f"insufficient margin: needs ${need:,.2f} initial margin, equity ${equity:,.2f}"
        return ""

    # ------------------------------------------------------------------ prices and funding

    def update_prices(
        self, dt_s: float, exo_log_returns: list[float] | NDArray[np.float64] | None = None
    ) -> None:
        """Advance time by ``dt_s``: move the index, then update marks and funding (both phases)."""
        self.move_index(dt_s, exo_log_returns)
        self.update_marks(dt_s)

    def move_index(
        self, dt_s: float, exo_log_returns: list[float] | NDArray[np.float64] | None = None
    ) -> None:
        """Move each index by its exogenous log-return and pull it toward the perp mid (basis arbitrage).

        Args:
            dt_s: simulated seconds of this step.
            exo_log_returns: exogenous index log-returns of this step, one per symbol (drivers).
        """
        k = min(1.0, self.venue.index_arbitrage_per_second * dt_s)
        for s in range(self.n_symbols):
            mid = self.books[s].mid()
            index = self.index_ticks[s]
            if exo_log_returns is not None:
                index *= math.exp(float(exo_log_returns[s]))
            dev = self._index_dev[s]
            if mid is not None:
                pulled = max(index + k * (mid - index), 1.0)
                dev += math.log(pulled / index)
                index = pulled
            # endogenous moves of the index (arbitrage pull, spot impact) decay: spot is resilient
            decayed = dev * self._index_decay[s] ** dt_s
            index *= math.exp(decayed - dev)
            self._index_dev[s] = decayed
            self.index_ticks[s] = max(index, 1.0)

    def spot_flow(self, symbol: int, signed_notional_usd: float) -> None:
        """Net spot buying (> 0) or selling routed by arbitrageurs' hedges moves the index.

        The index moves by ``spot_impact_per_musd`` (log) per million dollars: spot depth is finite, so a
        perp sell-off that arbitrageurs absorb is passed on to the index they hedge on.
        """
        impact = self.symbols[symbol].spot_impact_per_musd * signed_notional_usd / 1e6
        self.index_ticks[symbol] = max(1.0, self.index_ticks[symbol] * math.exp(impact))
        self._index_dev[symbol] += impact

    def update_marks(self, dt_s: float) -> None:
        """Advance the clock by ``dt_s``; sample basis and premium, update marks, settle funding when due."""
        self.time_s += dt_s
        now = self.time_s
        window = self._basis_window_s
        to_funding = (self.next_funding_s - now) / self.funding_interval_s
        for s in range(self.n_symbols):
            book = self.books[s]
            mid = book.mid()
            index = self.index_ticks[s]
            ref = mid if mid is not None else self.last_ticks(s)
            basis = ref - index
            buf = self._basis[s]
            buf.append((now, basis))
            self._basis_sum[s] += basis
            while buf and buf[0][0] <= now - window:
                self._basis_sum[s] -= buf.popleft()[1]
            ma_basis = self._basis_sum[s] / len(buf)
            self._premium_sum[s] += basis / index * dt_s
            self._premium_time[s] += dt_s
            if self._premium_time[s] > 0:  # a zero-length update right after a settlement has no premium yet
                premium = self._premium_sum[s] / self._premium_time[s]
                self.funding_rate[s] = self._funding_from_premium(premium)
            last = book.last_price_ticks
            candidates = sorted(
                (
                    index * (1.0 + self.funding_rate[s] * max(to_funding, 0.0)),
                    index + ma_basis,
                    float(last) if last is not None else ref,
                )
            )
            self.mark_ticks[s] = max(candidates[1], 1.0)
        if now >= self.next_funding_s - 1e-9:
            self.settle_funding()
            self.next_funding_s += self.funding_interval_s

    def _funding_from_premium(self, premium: float) -> float:
        """Funding rate per interval from the average premium (an 8-hour rate, as the venues define it).

        ``F = P x h/8 + clamp(I - P x h/8, -clamp, +clamp)`` with the interest ``I`` and the clamp given per
        interval of ``h`` hours: for an 8-h interval this is Binance's rule, for a 1-h interval it is
        Hyperliquid's "one eighth of the 8-hour rate, paid hourly" (and Binance's for its 1-h and 4-h
        contracts). The result is capped at ``+-funding_cap``.
        """
        v = self.venue
        interest = v.funding_interest_per_interval or 0.0
        clamp = v.funding_clamp or 0.0
        cap = v.funding_cap or 1.0
        p = premium * self.funding_interval_s / (8 * 3600.0)
        rate = p + min(max(interest - p, -clamp), clamp)
        return min(max(rate, -cap), cap)

    def settle_funding(self) -> None:
        """Settle funding at the current rates: longs pay shorts when the rate is positive.

        Rounding: payers pay ``ceil(|pos| x mark x tick value x |F|)``, receivers get the floor; the
        remainder goes to the fee account (zero-sum to the micro-dollar). Isolated positions pay from and
        receive into their isolated margin.
        """
        led = self.ledger
        n = led.n
        self.funding_settlements += 1
        for s in range(self.n_symbols):
            rate_units = round(self.funding_rate[s] * FUNDING_SCALE)
            self.last_funding_rate[s] = rate_units / FUNDING_SCALE
            self._premium_sum[s] = 0.0
            self._premium_time[s] = 0.0
            if rate_units == 0:
                continue
            mark = round(float(self.mark_ticks[s]))
            tv = self.tick_value_micro[s]
            holders = np.nonzero(led.pos[:n, s])[0].tolist()
            paid = received = 0
            for a in holders:
                pos = int(led.pos[a, s])
                amount = pos * mark * tv * rate_units  # > 0: this account pays
                if amount > 0:
                    pay = -(-amount // FUNDING_SCALE)
                    paid += pay
                    delta = -pay
                else:
                    get = -amount // FUNDING_SCALE
                    received += get
                    delta = get
                if led.isolated[a]:
                    led.iso_margin[a, s] += delta
                else:
                    led.balance[a] += delta
            led.fee_account_micro += paid - received
            self.funding_paid_micro += paid
