"""MarketView: what agents observe in a step, computed once per step so each observation is cheap.

The view is the agents' read-only window on the market besides their own account: prices in ticks
(mid, index, mark, the index's fundamental path), mid log-returns over any window up to
``ViewParams.history_seconds``, the realised volatility of the mark, sentiment and the macro factor, and
each symbol's ``liquidity_scale``. The market refreshes it once per step (its ``observe`` phase), after
the drivers moved the index and before any agent acts; agents never write it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from model.exchange import Exchange
from model.params import SymbolParams, ViewParams


class MarketView:
    """The per-step market view.

    Args:
        exchange: the venue whose books, index and marks are read.
        symbols: the symbols' parameters, in the exchange's symbol order (calm volatility, liquidity).
        dt_s: simulated seconds per step (> 0).
        params: the history kept and the volatility half-life.
        calm_vol_1s: the calm volatility per sqrt(second) of each index's exogenous path, news and the
            leader's share with the spot coupling on (:attr:`model.drivers.IndexDriver.calm_vol_per_s`);
            None: each symbol's ``index_vol_per_day`` (an index without coupling).

    Attributes:
        time_s: simulated time of the step being decided, seconds (the start of the step).
        mid_ticks: mid per symbol, ticks (see :meth:`Exchange.mid_ticks`).
        index_ticks: index per symbol, ticks.
        value_ticks: the index's exogenous path per symbol (fundamental value), ticks.
        mark_ticks: the exchange's mark array (live: it is the exchange's own array), ticks.
        sentiment: fear-and-greed index, 0-100 (50 when the sentiment channel is off).
        macro: macro risk factor (negative: risk-off).
        vol_1s: realised volatility of the mark per sqrt(second), exponentially weighted.
        base_vol_1s: the calm volatility per sqrt(second) of each index (``calm_vol_1s``; without it from
            ``index_vol_per_day`` alone).
        liquidity_scale: each book's ``liquidity_scale`` (thin alts < 1), a tuple.
        last_log_return: mid log-returns over the last step, per symbol.
    """

    def __init__(
        self,
        exchange: Exchange,
        symbols: Sequence[SymbolParams],
        dt_s: float,
        params: ViewParams,
        calm_vol_1s: Sequence[float] | None = None,
    ) -> None:
        self.exchange = exchange
        self.dt_s = dt_s
        n = exchange.n_symbols
        if len(symbols) != n:
            raise ValueError(f"one SymbolParams per exchange symbol: got {len(symbols)} for {n}")
        self.time_s = 0.0
        self.mid_ticks = [exchange.mid_ticks(s) for s in range(n)]
        self.index_ticks = list(exchange.index_ticks)
        self.value_ticks = [exchange.index_path_ticks(s) for s in range(n)]  # fundamental value
        self.mark_ticks = exchange.mark_ticks  # the exchange's array (live)
        self.sentiment = 50.0
        self.macro = 0.0
        if calm_vol_1s is None:
            calm_vol_1s = [s.index_vol_per_day / math.sqrt(86400.0) for s in symbols]
        elif len(calm_vol_1s) != n:
            raise ValueError(f"one calm volatility per exchange symbol: got {len(calm_vol_1s)} for {n}")
        self.vol_1s = [float(v) for v in calm_vol_1s]
        self.base_vol_1s = list(self.vol_1s)
        self.liquidity_scale: tuple[float, ...] = tuple(s.liquidity_scale for s in symbols)
        self._len = int(params.history_seconds / dt_s) + 1
        self._hist = np.tile(np.log(np.asarray(self.mid_ticks, dtype=np.float64)), (self._len, 1))
        self._pos = 0
        self.last_log_return: NDArray[np.float64] = np.zeros(n)
        self._prev_mark_log = np.log(self.mark_ticks)
        self._vol_alpha = 1.0 - math.exp(-math.log(2.0) * dt_s / params.vol_halflife_seconds)

    def refresh(self, time_s: float, sentiment: float, macro: float) -> None:
        """Read the books and the index (after the drivers moved them) and push the mids into the history.

        Args:
            time_s: simulated time of the step, seconds.
            sentiment: the fear-and-greed value agents should see, 0-100.
            macro: the macro factor agents should see.
        """
        ex = self.exchange
        self.time_s = time_s
        self.sentiment = sentiment
        self.macro = macro
        for s in range(ex.n_symbols):
            self.mid_ticks[s] = ex.mid_ticks(s)
            self.index_ticks[s] = ex.index_ticks[s]
            self.value_ticks[s] = ex.index_path_ticks(s)
        logs = np.log(np.asarray(self.mid_ticks, dtype=np.float64))
        prev = self._hist[self._pos]
        self._pos = (self._pos + 1) % self._len
        self._hist[self._pos] = logs
        self.last_log_return = logs - prev
        # realised volatility from the mark (robust to a thin moment of the book: a jumpy mid would
        # feed back into makers' spreads), per sqrt(second), exponentially weighted
        mark_logs = np.log(self.mark_ticks)
        r = mark_logs - self._prev_mark_log
        self._prev_mark_log = mark_logs
        a = self._vol_alpha
        for s in range(ex.n_symbols):
            var = self.vol_1s[s] ** 2
            var += a * (float(r[s]) ** 2 / self.dt_s - var)
            self.vol_1s[s] = math.sqrt(max(var, 0.0))

    def refresh_mids(self) -> None:
        """Re-read the books' mids within the step (after the makers requoted first); the history and the
        volatility keep the step's first reading."""
        ex = self.exchange
        for s in range(ex.n_symbols):
            self.mid_ticks[s] = ex.mid_ticks(s)

    def ret(self, symbol: int, seconds: float) -> float:
        """Log-return of the mid over the last ``seconds`` (capped at the history kept)."""
        k = min(int(seconds / self.dt_s), self._len - 1)
        return float(self._hist[self._pos, symbol] - self._hist[(self._pos - k) % self._len, symbol])
