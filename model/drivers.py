"""Exogenous processes: the macro risk factor, index news, and scripted shocks.

Drivers never move a perp price directly: the macro factor shifts demand (agents read it) and tilts the
drift of the exogenous index path; the index moves the perp only through agents (fundamental traders
trade toward it) and the mark price. Scripted shocks act through agents too: a whale sale is carried
out by the large holder, a maker withdrawal by the makers.
"""

from __future__ import annotations

import math

import numpy as np

from model.params import IndexPathParams, MacroParams, Shock, SymbolParams


class MacroFactor:
    """A mean-reverting (Ornstein-Uhlenbeck) risk factor with Poisson and scheduled risk-off shocks.

    The factor is 0 on average; negative values are risk-off. Exact OU discretisation, so statistics do
    not depend on the step size.
    """

    def __init__(self, params: MacroParams, rng: np.random.Generator) -> None:
        self.p = params
        self.rng = rng
        self.value = 0.0
        self.shocks_fired = 0

    def step(self, dt_s: float) -> float:
        """Advance ``dt_s`` seconds; return the new value."""
        theta = self.p.reversion_per_hour / 3600.0
        sigma = self.p.vol_per_sqrt_hour / math.sqrt(3600.0)
        decay = math.exp(-theta * dt_s)
        sd = sigma * math.sqrt((1 - decay * decay) / (2 * theta))
        self.value = self.value * decay + sd * float(self.rng.standard_normal())
        if self.p.shocks_per_day > 0 and self.rng.random() < self.p.shocks_per_day * dt_s / 86400.0:
            self.shock(self.p.shock_size)
        return self.value

    def shock(self, size: float) -> None:
        """A risk-off shock: the factor drops by ``size``."""
        self.value -= size
        self.shocks_fired += 1


class IndexDriver:
    """Exogenous log-returns of each symbol's index per step.

    Each index follows a random walk with volatility ``index_vol_per_day`` plus a drift of
    ``macro.drift_per_unit_per_day`` per unit of the macro factor. With the index-coupling channel on,
    an alt's index also loads ``btc_beta`` on the leader's index log-return of the step before (alt spot
    follows BTC spot, which itself follows the BTC perp through basis arbitrage).
    """

    def __init__(
        self,
        symbols: list[SymbolParams],
        macro: MacroParams,
        coupling: bool,
        rng: np.random.Generator,
        path: IndexPathParams | None = None,
    ) -> None:
        self.vol_per_s = np.array([s.index_vol_per_day / math.sqrt(86400.0) for s in symbols])
        self.beta = np.array([s.btc_beta if (i > 0 and coupling) else 0.0 for i, s in enumerate(symbols)])
        self.drift_per_s = macro.drift_per_unit_per_day / 86400.0
        self.rng = rng
        self.pending_jumps = np.zeros(len(symbols))
        self.recorded = RecordedIndexPath(path, [s.name for s in symbols]) if path is not None else None
        # the calm volatility of each index's exogenous path per sqrt(second): its own news plus, coupled,
        # beta x the leader's (independent normal draws add in variance); a replayed symbol follows its
        # recording, not the leader, so it has no coupled share
        calm_beta = self.beta if self.recorded is None else np.where(self.recorded.has_symbol, 0.0, self.beta)
        self.calm_vol_per_s = np.sqrt(self.vol_per_s**2 + (calm_beta * self.vol_per_s[0]) ** 2)
        self.time_s = 0.0

    def returns(self, dt_s: float, macro_value: float, leader_log_return: float) -> np.ndarray:
        """Log-returns for this step, one per symbol.

        A symbol with a recorded path takes the path's log-return over the step instead (no noise, drift
        or coupling: the recording has them already); the normal draws are made for every symbol all the
        same, so replaying one symbol leaves the others' random streams as they were.
        """
        z = self.rng.standard_normal(len(self.vol_per_s))
        r = self.vol_per_s * math.sqrt(dt_s) * z + self.drift_per_s * macro_value * dt_s
        r += self.beta * leader_log_return
        if self.recorded is not None:
            replayed = self.recorded.log_returns(self.time_s, self.time_s + dt_s)
            mask = self.recorded.has_symbol
            r[mask] = replayed[mask]
        self.time_s += dt_s
        if self.pending_jumps.any():
            r += self.pending_jumps
            self.pending_jumps[:] = 0.0
        return r

    def jump(self, symbol: int, pct: float) -> None:
        """Schedule an index jump of ``pct`` (fraction) for the next step."""
        self.pending_jumps[symbol] += math.log1p(pct)


def due_shocks(shocks: list[Shock], t0_s: float, t1_s: float) -> list[Shock]:
    """The shocks whose time falls in ``[t0_s, t1_s)``, in config order."""
    return [sh for sh in shocks if t0_s <= sh.at_hour * 3600.0 < t1_s]


class RecordedIndexPath:
    """A recorded index (oracle) path per symbol, read from a CSV or Parquet file, replayed as log-returns.

    The file has a time column (seconds from the start of the run) and one price column per replayed
    symbol (named as the symbol, or as mapped in ``columns``). Between two records the log-price is
    interpolated linearly; after the last record it stays flat. The index starts at the symbol's
    ``price_usd`` and follows the recording's log-returns (its ratios, not its levels), so the venue's own
    grid and position sizes still apply.

    Args:
        params: the file and its columns.
        names: the market's symbol names, in order.

    Raises:
        ValueError: the file cannot be read, lacks a column, or its times do not increase.
    """

    def __init__(self, params: IndexPathParams, names: list[str]) -> None:
        frame = params.load()
        self.times_s = frame[params.time_column].to_numpy(dtype=np.float64)
        self.has_symbol = np.zeros(len(names), dtype=bool)
        self.log_prices = np.zeros((len(names), len(self.times_s)))
        for i, name in enumerate(names):
            column = params.columns.get(name, name)
            if column in frame.columns:
                self.has_symbol[i] = True
                self.log_prices[i] = np.log(frame[column].to_numpy(dtype=np.float64))

    def log_price(self, t_s: float) -> np.ndarray:
        """Interpolated log-price of each symbol at ``t_s`` (0 for symbols not replayed)."""
        return np.array([np.interp(t_s, self.times_s, row) for row in self.log_prices])

    def log_returns(self, t0_s: float, t1_s: float) -> np.ndarray:
        """Recorded log-return of each symbol from ``t0_s`` to ``t1_s``."""
        return self.log_price(t1_s) - self.log_price(t0_s)
