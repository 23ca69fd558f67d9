"""The exchange: one order book per perpetual, the ledger, index/mark prices and funding.

Agents reach the market only through :class:`Exchange` methods: ``submit``/``cancel`` (fills come back
at once), account views and market data. ``Exchange`` is the thin front door over parts with one job
each:

* :mod:`model.ledger` (:class:`~model.ledger.Ledger`): accounts, positions and money, the only writer of
  balances and positions;
* :mod:`model.accounts` (:class:`~model.accounts.AccountViews`): equity, unrealised PnL and maintenance
  margin at the marks, read-only;
* :mod:`model.routing` (:class:`~model.routing.OrderRouter`): orders and stops into the books, price band,
  reduce-only and initial-margin checks, fills booked with fees;
* :mod:`model.prices` (:class:`~model.prices.MarketPrices`): index, mark and funding, and the clock.

The rules of each part are documented in its module. Rejections are results with a reason, not
exceptions: a bad order must not kill a simulation. An unknown symbol or account is a programming error
and raises ``KeyError``. Views return plain values or copies; the marks (``mark_ticks``) are a read-only
view of the array the prices update in place (so an agent's observation stays live and costs nothing).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from model.accounts import AccountViews
from model.ledger import FUNDING_SCALE, MICRO, Ledger
from model.margin import MarginSchedule
from model.orderbook import GTC, OrderBook
from model.params import SymbolParams, VenueParams
from model.prices import MarketPrices
from model.routing import OrderResult, OrderRouter, symbol_index

__all__ = ["FUNDING_SCALE", "MICRO", "Exchange", "OrderResult", "margin_schedule"]


def margin_schedule(sym: SymbolParams, venue: VenueParams) -> MarginSchedule:
    """The margin schedule of ``sym`` on a resolved ``venue``.

    The brackets are the symbol's own, else the venue's table for that symbol name, else the venue's
    default (:meth:`SymbolParams.tiers_on`); the leverage cap is the symbol's own or else the venue's
    (every preset sets one). Hyperliquid's rule (``half_initial``): each bracket's maintenance rate is half
    its initial rate, with the maintenance deduction keeping the schedule continuous ("Margin tiers",
    Hyperliquid docs, 2025); without brackets, one bracket at the cap. Binance's rule (``tiers``): the
    brackets as given.
    """
    cap = sym.max_leverage or venue.max_leverage
    if cap is None:
        raise ValueError("venue.max_leverage must be set (resolve the venue from its preset first)")
    tiers = sym.tiers_on(venue)
    if venue.maintenance_rule == "half_initial":
        if not tiers:
            return MarginSchedule.half_initial(cap)
        return MarginSchedule([(t.max_notional_usd, 0.5 * t.imr, t.imr) for t in tiers], max_leverage=cap)
    if not tiers:
        return MarginSchedule.half_initial(cap)
    return MarginSchedule([(t.max_notional_usd, t.mmr, t.imr) for t in tiers], max_leverage=cap)


def impact_notionals_usd(symbols: list[SymbolParams], venue: VenueParams) -> list[float | None]:
    """The funding premium's impact notional per symbol (None: the premium reads the mid).

    Binance: the impact margin notional, ``impact_margin_usd / imr`` at the symbol's max leverage (200 USDT
    at 20x is 4,000 USDT, "Introduction to Binance Futures Funding Rates"); Hyperliquid: a fixed notional
    per symbol (``impact_notional_usd``, with ``*`` for the others).
    """
    if venue.premium_source != "impact":
        return [None] * len(symbols)
    out: list[float | None] = []
    for sym in symbols:
        if venue.impact_margin_usd is not None:
            out.append(venue.impact_margin_usd * sym.max_leverage_on(venue))
        else:
            table = venue.impact_notional_usd or {}
            out.append(table.get(sym.name, table.get("*")))
    return out


class Exchange:
    """A perpetual-futures venue with one book per symbol.

    Args:
        symbols: the contracts (the first is the market leader, BTC by default).
        venue: venue rules; unset numbers are resolved from the preset here.
    """

    def __init__(self, symbols: list[SymbolParams], venue: VenueParams) -> None:
        venue = venue.resolved()
        self.venue = venue
        self.symbols = tuple(symbols)
        self.names = tuple(s.name for s in symbols)
        self.n_symbols = len(symbols)
        self.tick_size_usd = tuple(s.tick_size_usd for s in symbols)
        self.lot_size = tuple(s.lot_size for s in symbols)
        self.tick_value_micro = tuple(s.tick_value_micro for s in symbols)
        self.books = tuple(OrderBook(s.name, self_trade=venue.self_trade) for s in symbols)
        self.ledger = Ledger(list(self.tick_value_micro))
        self.schedules = tuple(margin_schedule(s, venue) for s in symbols)
        self.price_band = venue.price_band
        self.taker_fee = venue.taker_fee or 0.0  # fraction of notional (read by agents that weigh taking)
        self.prices = MarketPrices(
            symbols,
            venue,
            self.books,
            self.ledger,
            impact_notional_usd=impact_notionals_usd(symbols, venue),
            funding_on_oracle=venue.funding_price == "oracle",
        )
        # the marks as a read-only view of the prices' array: live (updated in place), never written here
        self.mark_ticks: NDArray[np.float64] = self.prices.mark_ticks.view()
        self.mark_ticks.flags.writeable = False
        self.accounts = AccountViews(
            self.ledger,
            self.schedules,
            self.mark_ticks,
            self.tick_value_micro,
            maintenance_at_entry=venue.maintenance_price == "entry",
        )
        self.router = OrderRouter(
            self.books,
            self.ledger,
            self.accounts,
            self.schedules,
            self.mark_ticks,
            self.tick_value_micro,
            self.names,
            venue.maker_fee or 0.0,
            venue.taker_fee or 0.0,
            venue.price_band,
        )
        self.insurance_fund_start_micro = 0
        insurance = round((venue.insurance_fund_usd or 0.0) * MICRO)
        if insurance:
            self.ledger.deposit(Ledger.FUND, insurance)
            self.insurance_fund_start_micro = insurance

    # ------------------------------------------------------------------ the parts' counters and clock

    @property
    def index_ticks(self) -> tuple[float, ...]:
        """Index prices, float ticks, one per symbol (a copy)."""
        return tuple(self.prices.index_ticks)

    @property
    def funding_rate(self) -> tuple[float, ...]:
        """The funding rate the current interval would pay, per symbol (a copy; > 0: longs pay)."""
        return tuple(self.prices.funding_rate)

    @property
    def last_funding_rate(self) -> tuple[float, ...]:
        """The funding rate paid at the last settlement, per symbol (a copy)."""
        return tuple(self.prices.last_funding_rate)

    @property
    def volume_lots(self) -> tuple[int, ...]:
        """Cumulative traded lots per symbol (a copy)."""
        return tuple(self.router.volume_lots)

    @property
    def signed_volume_lots(self) -> tuple[int, ...]:
        """Cumulative buyer-initiated minus seller-initiated lots per symbol (the public tape; a copy)."""
        return tuple(self.router.signed_volume_lots)

    @property
    def volume_notional_micro(self) -> tuple[int, ...]:
        """Cumulative traded notional per symbol, micro-dollars (a copy)."""
        return tuple(self.router.volume_notional_micro)

    @property
    def time_s(self) -> float:
        """Simulated seconds since the start (the exchange's clock)."""
        return self.prices.time_s

    @property
    def next_funding_s(self) -> float:
        """Time of the next funding settlement, simulated seconds."""
        return self.prices.next_funding_s

    @property
    def funding_interval_s(self) -> float:
        """Seconds between two funding settlements."""
        return self.prices.funding_interval_s

    @property
    def funding_paid_micro(self) -> int:
        """Total funding paid by payers so far (received + rounding remainder), micro-dollars."""
        return self.prices.funding_paid_micro

    @property
    def funding_settlements(self) -> int:
        """Funding settlements so far."""
        return self.prices.funding_settlements

    @property
    def messages(self) -> int:
        """Orders and cancels sent to the books so far."""
        return self.router.messages

    @property
    def stops_triggered(self) -> int:
        """Stop-market orders fired so far."""
        return self.router.stops_triggered

    @property
    def open_buy(self) -> NDArray[np.int64]:
        """Resting buy lots per (account, symbol) (the router's array: read only)."""
        return self.router.open_buy

    @property
    def open_sell(self) -> NDArray[np.int64]:
        """Resting sell lots per (account, symbol) (the router's array: read only)."""
        return self.router.open_sell

    # ------------------------------------------------------------------ ids and units

    def symbol_id(self, symbol: int | str) -> int:
        """Index of a symbol given by index or name; ``KeyError`` names the unknown symbol."""
        return symbol_index(self.names, symbol)

    def usd_to_lots(self, symbol: int, notional_usd: float, price_ticks: float) -> int:
        """Whole lots worth about ``notional_usd`` at ``price_ticks`` (rounded down)."""
        per_lot_usd = price_ticks * self.tick_value_micro[symbol] / MICRO
        return int(notional_usd // per_lot_usd) if per_lot_usd > 0 else 0

    # ------------------------------------------------------------------ accounts

    def open_account(self, deposit_usd: float, isolated: bool = False, leverage: float = 1.0) -> int:
        """Open an account with ``deposit_usd`` of collateral; return its id."""
        a = self.ledger.open_account(round(deposit_usd * MICRO), isolated=isolated, leverage=leverage)
        self.router.grow(a + 1)
        return a

    def deposit(self, account: int, amount_usd: float) -> None:
        """Add collateral to an account."""
        self.ledger.check_account(account)
        self.ledger.deposit(account, round(amount_usd * MICRO))

    def add_isolated_margin(self, account: int, symbol: int | str, amount_usd: float) -> None:
        """Add free collateral to an isolated position's margin (Binance's "Adjust Margin", Hyperliquid's
        isolated-margin update): the position's liquidation price moves away; equity is unchanged.

        Args:
            account: an isolated account holding a position in ``symbol``.
            symbol: the symbol (index or name).
            amount_usd: USD to move, rounded to the micro-dollar, within the free balance.
        """
        self.ledger.check_account(account)
        self.ledger.add_isolated_margin(account, self.symbol_id(symbol), round(amount_usd * MICRO))

    def allot_isolated_margin(self, account: int) -> None:
        """Split an isolated account's free balance equally over its open positions' margins, to the
        micro-dollar (the remainder stays free): each position then has its share of the account's
        collateral as its buffer, as if each symbol had a sub-account of its own."""
        led = self.ledger
        led.check_account(account)
        held = [s for s in range(self.n_symbols) if led.pos[account, s] != 0]
        free = int(led.balance[account])
        if not held or free <= 0:
            return
        share = free // len(held)
        for s in held:
            led.add_isolated_margin(account, s, share)

    def set_leverage(self, account: int, symbol: int | str, leverage: float) -> None:
        """Set the leverage an account uses for a symbol (initial margin = notional / leverage)."""
        self.ledger.check_account(account)
        self.ledger.set_leverage(account, self.symbol_id(symbol), leverage)

    def seed_position(
        self, long_account: int, short_account: int, symbol: int, lots: int, price_ticks: int
    ) -> None:
        """Book an off-book block trade (no fee), e.g. the open interest a market starts with."""
        self.ledger.check_account(long_account)
        self.ledger.check_account(short_account)
        self.ledger.book_trade(long_account, symbol, lots, price_ticks, 0)
        self.ledger.book_trade(short_account, symbol, -lots, price_ticks, 0)

    def position_lots(self, account: int, symbol: int) -> int:
        """Signed position in lots (long > 0)."""
        return int(self.ledger.pos[account, symbol])

    def positions(self, account: int) -> list[int]:
        """Signed positions in lots of every symbol, in symbol order (a copy: long > 0)."""
        return self.ledger.pos[account].tolist()

    def entry_price_ticks(self, account: int, symbol: int) -> float:
        """Average entry price in ticks (0.0 when flat)."""
        return self.accounts.entry_price_ticks(account, symbol)

    def equity_usd(self, account: int) -> float:
        """Account equity at the current marks (balance + isolated margins + unrealised PnL), USD."""
        return self.accounts.equity_usd(account)

    def unrealised_usd(self, account: int, symbol: int) -> float:
        """Unrealised PnL of one position at the mark, USD."""
        return self.accounts.unrealised_usd(account, symbol)

    def notional_usd(self, account: int, symbol: int) -> float:
        """Absolute position notional at the mark, USD."""
        return self.accounts.notional_usd(account, symbol)

    def maintenance_usd(self, account: int) -> float:
        """Maintenance margin of all the account's positions at the marks, USD."""
        return self.accounts.maintenance_usd(account)

    def margin_ratio(self, account: int) -> float:
        """Maintenance margin / equity (cross view); >= 1 means liquidatable, inf when equity <= 0."""
        eq = self.equity_usd(account)
        mm = self.maintenance_usd(account)
        if mm == 0:
            return 0.0
        return mm / eq if eq > 0 else float("inf")

    def available_usd(self, account: int) -> float:
        """Equity minus the initial margin of worst-case positions (resting orders included), USD."""
        return self.router.available_usd(account)

    def max_leverage(self, symbol: int, notional_usd: float = 0.0) -> float:
        """Highest leverage the venue allows on ``symbol`` for a position of ``notional_usd``."""
        return self.schedules[symbol].max_leverage(notional_usd)

    def max_notional_usd(self, symbol: int, leverage: float) -> float:
        """Largest notional on ``symbol`` at which ``leverage`` is still allowed, USD (may be inf)."""
        return self.schedules[symbol].max_notional_usd(leverage)

    def open_orders(self, account: int) -> list[int]:
        """Ids of the account's resting orders."""
        return self.router.open_orders(account)

    def stops_of(self, account: int) -> list[int]:
        """Ids of the account's live stop orders."""
        return self.router.stops_of(account)

    def stop_trigger_ticks(self, stop_id: int) -> int | None:
        """The trigger price of a live stop order, ticks (None when it is not live)."""
        return self.router.stop_trigger_ticks(stop_id)

    def order_info(self, oid: int) -> tuple[int, int, int, int, int] | None:
        """``(account, symbol, side, price_ticks, resting_lots)`` of a resting order, or None."""
        return self.router.order_info(oid)

    @property
    def insurance_fund_usd(self) -> float:
        """The insurance fund's equity at the marks (its balance plus any inventory it holds), USD."""
        return self.accounts.equity_usd(Ledger.FUND)

    def ledger_imbalance(self) -> int:
        """Deposits minus everything the ledger holds, in micro-dollars; 0 when the books balance."""
        return self.ledger.imbalance()

    def open_interest_lots(self) -> NDArray[np.int64]:
        """Per-symbol long lots (== short lots), fund and ADL counterparties included."""
        return self.ledger.open_interest_lots()[0]

    # ------------------------------------------------------------------ market data

    def best_bid(self, symbol: int) -> int | None:
        """Best bid in ticks."""
        return self.books[symbol].best_bid()

    def best_ask(self, symbol: int) -> int | None:
        """Best ask in ticks."""
        return self.books[symbol].best_ask()

    def price_limits(self, symbol: int) -> tuple[int, int]:
        """The lowest and highest limit prices, ticks, the price band allows now (whole ticks inside
        ``mark x (1 -+ price_band)``; ``(1, 2**62)`` with no band)."""
        return self.router.price_limits(symbol)

    def mid_ticks(self, symbol: int) -> float:
        """Mid in ticks. With one side empty: the last trade (or mark) clipped to the remaining side."""
        return self.prices.mid_ticks(symbol)

    def last_ticks(self, symbol: int) -> float:
        """Last trade price in ticks (the mid before any trade)."""
        return self.prices.last_ticks(symbol)

    def mark_usd(self, symbol: int) -> float:
        """Mark price in USD."""
        return float(self.mark_ticks[symbol]) * self.tick_size_usd[symbol]

    def index_usd(self, symbol: int) -> float:
        """Index price in USD."""
        return self.index_ticks[symbol] * self.tick_size_usd[symbol]

    def index_path_ticks(self, symbol: int) -> float:
        """The index's exogenous path (news, macro drift) without what arbitrage and spot impact added."""
        return self.prices.index_path_ticks(symbol)

    def depth_within_usd(self, symbol: int, fraction: float) -> tuple[float, float]:
        """Resting (bid, ask) notional in USD within ``fraction`` of the mid."""
        bid_lots, ask_lots = self.books[symbol].depth_within(fraction)
        per_lot = self.mid_ticks(symbol) * self.tick_value_micro[symbol] / MICRO
        return bid_lots * per_lot, ask_lots * per_lot

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
        return self.router.submit(account, symbol, side, lots, price_ticks, tif, reduce_only, _liquidation)

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
        post-only; quotes that would cross or fall outside the price band are skipped. With
        ``keep_queue`` orders at prices the new ladder keeps are amended in place and keep their time
        priority (:meth:`model.routing.OrderRouter.replace_quotes`).

        Returns:
            The number of orders posted; 0 when the ladder fails the margin check.
        """
        return self.router.replace_quotes(account, symbol, bids, asks, keep_queue)

    def cancel(self, account: int, oid: int) -> int:
        """Cancel one of the account's resting orders; return the lots cancelled (0 if not resting)."""
        return self.router.cancel(account, oid)

    def cancel_all(self, account: int, symbol: int | None = None, stops: bool = True) -> int:
        """Cancel all resting orders (and stops) of an account, optionally of one symbol.

        Returns the lots of resting orders cancelled.
        """
        return self.router.cancel_all(account, symbol, stops)

    def submit_stop(self, account: int, symbol: int, side: int, lots: int, trigger_ticks: int) -> int:
        """Place a reduce-only stop-market order; return its id.

        A sell stop fires when the last trade is at or below ``trigger_ticks`` (a buy stop: at or above)
        and then sends a reduce-only market order for at most the position it finds.
        """
        return self.router.submit_stop(account, symbol, side, lots, trigger_ticks)

    def cancel_stop(self, account: int, stop_id: int) -> bool:
        """Cancel a stop (lazily removed from its heap); False when it is not live."""
        return self.router.cancel_stop(account, stop_id)

    def trigger_stops(self, max_rounds: int = 50) -> int:
        """Fire every stop whose trigger the last trade has reached; repeat while fills trigger more.

        Returns the number of stops fired.
        """
        return self.router.trigger_stops(max_rounds)

    # ------------------------------------------------------------------ prices and funding

    def update_prices(
        self, dt_s: float, exo_log_returns: list[float] | NDArray[np.float64] | None = None
    ) -> None:
        """Advance time by ``dt_s``: move the index, then update marks and funding (both phases)."""
        self.prices.update_prices(dt_s, exo_log_returns)

    def move_index(
        self, dt_s: float, exo_log_returns: list[float] | NDArray[np.float64] | None = None
    ) -> None:
        """Move each index by its exogenous log-return and pull it toward the perp mid (basis arbitrage)."""
        self.prices.move_index(dt_s, exo_log_returns)

    def pull_index(self, dt_s: float) -> None:
        """Basis arbitrage after the step's trading (with ``venue.index_arbitrage_after_trading``)."""
        self.prices.pull_index(dt_s)

    def spot_flow(self, symbol: int, signed_notional_usd: float) -> None:
        """Net spot buying (> 0) or selling routed by arbitrageurs' hedges moves the index."""
        self.prices.spot_flow(symbol, signed_notional_usd)

    def update_marks(self, dt_s: float) -> None:
        """Advance the clock by ``dt_s``; sample basis and premium, update marks, settle funding when due."""
        self.prices.update_marks(dt_s)

    def settle_funding(self) -> None:
        """Settle funding now at the current rates: longs pay shorts when the rate is positive.

        Payers are rounded up and receivers down to the micro-dollar, the remainder goes to the fee account
        (zero-sum); isolated positions pay from and receive into their isolated margin. Every payer is
        marked for the liquidation engine's next check.
        """
        self.prices.settle_funding()
