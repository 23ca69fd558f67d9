"""Index, mark and funding of each symbol: the exchange's prices and its clock.

Rules chosen (sources in ``MARKET_FACTS.md`` §3):

* **Index**: exogenous log-returns from the drivers, pulled toward the perp mid by basis arbitrage:
  ``index += k dt (mid - index)`` with ``k = venue.index_arbitrage_per_second``, toward the mid before the
  step's trading or, with ``venue.index_arbitrage_after_trading``, the mid after it; arbitrageurs' spot
  hedges move it too (:meth:`MarketPrices.spot_flow`, ``spot_impact_per_musd``). These endogenous moves
  decay back toward the exogenous path with a half-life of ``spot_resilience_hours``.
* **Mark** (Binance): median of ``index x (1 + F x time_to_funding / interval)``,
  ``index + moving average of (mid - index)`` over ``mark_basis_window_seconds`` and the last trade.
* **Funding** (Binance/BitMEX): the premium ``(mid - index) / index`` is sampled every step; at each
  settlement ``F = P + clamp(I - P, -clamp, +clamp)``, capped at ``+-cap``, with P the time-average of the
  premium over the interval scaled to the interval (``x hours / 8``: Hyperliquid pays 1/8 of the 8-h rate
  every hour). Longs pay shorts when F > 0. Payments use the mark in whole ticks and F in units of 1e-9
  and are booked by :meth:`model.ledger.Ledger.settle_funding` (zero-sum to the micro-dollar).

Prices are float ticks. The marks are one numpy array, updated in place, that the account views, the
router and the liquidation engine read live.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from model.ledger import FUNDING_SCALE, Ledger
from model.orderbook import BUY, SELL, OrderBook
from model.params import SymbolParams, VenueParams


class MarketPrices:
    """The index, mark and funding rate of every symbol, and the exchange's clock.

    Args:
        symbols: the contracts.
        venue: the resolved venue rules (every number set).
        books: one order book per symbol (read: mid and last trade).
        ledger: where funding payments are booked.
    """

    def __init__(
        self,
        symbols: Sequence[SymbolParams],
        venue: VenueParams,
        books: Sequence[OrderBook],
        ledger: Ledger,
        *,
        impact_notional_usd: Sequence[float | None] | None = None,
        funding_on_oracle: bool = False,
    ) -> None:
        self.venue = venue
        # Binance's premium index reads the impact bid/ask (the average fill of the impact margin notional)
        # instead of the mid; None per symbol: the mid
        self.impact_notional_usd = list(impact_notional_usd or [None] * len(symbols))
        self._lot_value_per_tick_usd = [s.tick_value_micro / 1e6 for s in symbols]
        self.funding_on_oracle = funding_on_oracle  # Hyperliquid pays funding on the oracle, not the mark
        self.symbols = list(symbols)
        self.books = list(books)
        self.ledger = ledger
        self.n_symbols = len(self.symbols)
        self.time_s = 0.0
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
        self.funding_paid_micro = 0  # total paid by payers (received + remainder)
        self.funding_settlements = 0  # settlement times passed (whatever the rates were)

    def index_path_ticks(self, symbol: int) -> float:
        """The index's exogenous path (drivers: news, macro drift), without its endogenous deviation.

        The index is this path times ``exp(dev)``, where ``dev`` is what basis arbitrage and spot impact
        added and spot resilience has not yet decayed; value traders read the path as fundamental value.
        """
        return self.index_ticks[symbol] * math.exp(-self._index_dev[symbol])

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
        # after trading, the pull waits for :meth:`pull_index` at the end of the step
        k = 0.0 if self.venue.index_arbitrage_after_trading else self._pull_share(dt_s)
        for s in range(self.n_symbols):
            mid = self.books[s].mid()
            index = self.index_ticks[s]
            if exo_log_returns is not None:
                index *= math.exp(float(exo_log_returns[s]))
            dev = self._index_dev[s]
            if mid is not None and k > 0.0:
                pulled = max(index + k * (mid - index), 1.0)
                dev += math.log(pulled / index)
                index = pulled
            # endogenous moves of the index (arbitrage pull, spot impact) decay: spot is resilient
            decayed = dev * self._index_decay[s] ** dt_s
            index *= math.exp(decayed - dev)
            self._index_dev[s] = decayed
            self.index_ticks[s] = max(index, 1.0)

    def _pull_share(self, dt_s: float) -> float:
        """The share of the basis that arbitrage closes in ``dt_s`` seconds: ``min(1, k dt)``."""
        return min(1.0, self.venue.index_arbitrage_per_second * dt_s)

    def pull_index(self, dt_s: float) -> None:
        """Basis arbitrage after the step's trading: pull each index toward the mid the trading left.

        Only with ``venue.index_arbitrage_after_trading`` (otherwise :meth:`move_index` pulls, and this
        does nothing). The pull is an endogenous move of the index: it decays with spot resilience from
        the next step on, as in :meth:`move_index`.
        """
        if not self.venue.index_arbitrage_after_trading:
            return
        k = self._pull_share(dt_s)
        if k <= 0.0:
            return
        for s in range(self.n_symbols):
            mid = self.books[s].mid()
            if mid is None:
                continue
            index = self.index_ticks[s]
            pulled = max(index + k * (mid - index), 1.0)
            self._index_dev[s] += math.log(pulled / index)
            self.index_ticks[s] = pulled

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
            imn = self.impact_notional_usd[s]
            premium = basis / index if imn is None else self._impact_premium(s, index, basis, imn)
            self._premium_sum[s] += premium * dt_s
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

    def _impact_premium(self, s: int, index: float, basis: float, imn_usd: float) -> float:
        """Binance's premium: ``[max(0, impact bid - index) - max(0, index - impact ask)] / index``.

        The impact bid (ask) is the average price at which a market order for the impact margin notional
        ``imn_usd`` would fill against the bids (asks). When a side is too thin to fill it, the sample falls
        back to the mid's basis ``basis / index``.
        """
        lots = max(1, round(imn_usd / (index * self._lot_value_per_tick_usd[s])))
        book = self.books[s]
        bid = book.impact_price(BUY, lots)
        ask = book.impact_price(SELL, lots)
        if bid is None or ask is None:
            return basis / index
        return (max(0.0, bid - index) - max(0.0, index - ask)) / index

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

        Each symbol's rate is taken in units of 1e-9 and its mark (or, on a venue that pays on the oracle,
        its index) rounded to a whole tick; the ledger books
        the payments (:meth:`model.ledger.Ledger.settle_funding`). The premium averages start again.
        """
        self.funding_settlements += 1
        for s in range(self.n_symbols):
            rate_units = round(self.funding_rate[s] * FUNDING_SCALE)
            self.last_funding_rate[s] = rate_units / FUNDING_SCALE
            self._premium_sum[s] = 0.0
            self._premium_time[s] = 0.0
            if rate_units == 0:
                continue
            price = self.index_ticks[s] if self.funding_on_oracle else float(self.mark_ticks[s])
            paid, _received = self.ledger.settle_funding(s, round(price), rate_units)
            self.funding_paid_micro += paid
