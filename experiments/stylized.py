"""Stylized facts of a run's ordinary minutes against the real market's ranges (MARKET_FACTS.md §4-§5).

``facts(run_dir)`` reads a run directory's ``timeseries.parquet`` and returns one
row per (symbol, fact): the value, the real-market range, its source and whether the value is in range.
The facts are measured on 1-minute samples of the perp's mid (and its index), so a run must be sampled at
least once a minute (``sample_seconds <= 60``); coarser samples are resampled to what they have and the
1-minute facts are left out.

The estimators are pure functions below (tested on series of known shape: iid Gaussian, Student-t,
GARCH(1,1), a bid-ask bounce):

* autocorrelation of returns and of absolute returns at a lag (:func:`autocorrelation`);
* excess kurtosis (:func:`excess_kurtosis`), at 1 minute, 15 minutes and 1 hour (aggregational
  Gaussianity);
* the Hill estimator of the tail index over the largest ``tail_fraction`` of |returns|
  (:func:`hill_tail_index`);
* the variance ratio ``var(1-h returns) / (60 var(1-min returns))`` (:func:`variance_ratio`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from experiments.config import ConfigError

TAIL_FRACTION = 0.05
"""Share of the largest |returns| the Hill estimator uses."""


class FactRange(NamedTuple):
    """A real-market range of one fact and where it comes from."""

    low: float
    high: float
    source: str


RANGES: dict[str, FactRange] = {
    "median_spread_bp": FactRange(0.0, 2.0, "§5: BTC books one tick wide; <= 2 bp for a scaled market"),
    "p95_spread_bp": FactRange(0.0, 10.0, "§5: 95th percentile of the spread <= 10 bp"),
    "basis_std_bp": FactRange(0.0, 5.0, "§5: arbitrage keeps a liquid perp within a few bp of spot"),
    "vol_ratio_perp_index": FactRange(0.8, 1.5, "§5: the perp is not noisier than the spot it tracks"),
    "acf_r_lag1": FactRange(-0.15, 0.10, "§5, Cont 2001: no linear predictability beyond a small bounce"),
    "excess_kurtosis_1m": FactRange(2.0, math.inf, "§5, Takaishi 2018: 1-min BTC returns are fat-tailed"),
    "acf_abs_r_lag1": FactRange(0.10, math.inf, "§5, Cont 2001: volatility clustering"),
    "acf_abs_r_lag10": FactRange(0.0, math.inf, "§5: clustering persists (slow decay of |r| ACF)"),
    "volume_per_oi_day": FactRange(0.5, 6.0, "§5: BTC perps turn over ~1-3x their open interest a day"),
    "variance_ratio_1h": FactRange(0.6, 1.4, "§5: no strong mean reversion or trending minute to hour"),
    "hill_tail_index": FactRange(2.0, 3.0, "§4-§5, Begusic et al. 2018: BTC's tail exponent roughly 2-3"),
}
"""Fact -> the real-market range it is checked against (inclusive) and its source. Facts without a range
are reported with a reference only (:data:`REFERENCES`)."""

REFERENCES: dict[str, str] = {
    "liquidations_per_oi_day": "§4, Cheng et al. 2021 (BitMEX): 3.51% (longs) + 1.89% (shorts) a day",
    "excess_kurtosis_15m": "§4, Cont 2001: aggregational Gaussianity, kurtosis falls with the horizon",
    "excess_kurtosis_1h": "§4, Cont 2001: aggregational Gaussianity",
    "volume_volatility_corr": "§4, Cont 2001: volume and volatility are positively correlated",
}
"""Facts reported without a range, with what the literature says."""


# --------------------------------------------------------------------------- estimators


def autocorrelation(x: ArrayLike, lag: int) -> float:
    """Sample autocorrelation of ``x`` at ``lag`` (NaN when undefined: too short or constant)."""
    a = np.asarray(x, dtype=float)
    a = a[np.isfinite(a)]
    if lag < 1 or len(a) <= lag + 1:
        return math.nan
    d = a - a.mean()
    denom = float(np.dot(d, d))
    return float(np.dot(d[:-lag], d[lag:]) / denom) if denom > 0 else math.nan


def excess_kurtosis(x: ArrayLike) -> float:
    """Excess kurtosis (0 for a Gaussian), the plain moment estimator; NaN below 4 values."""
    a = np.asarray(x, dtype=float)
    a = a[np.isfinite(a)]
    if len(a) < 4:
        return math.nan
    d = a - a.mean()
    m2 = float(np.mean(d * d))
    return float(np.mean(d**4) / (m2 * m2) - 3.0) if m2 > 0 else math.nan


def hill_tail_index(x: ArrayLike, tail_fraction: float = TAIL_FRACTION) -> float:
    """Hill estimator of the tail index of |x| over its largest ``tail_fraction`` (at least 10 values).

    ``alpha = 1 / mean(log(|x|_(i) / |x|_(k+1)))`` over the k largest; a Student-t with nu degrees of
    freedom has alpha = nu, a Gaussian a large and sample-dependent one.
    """
    a = np.abs(np.asarray(x, dtype=float))
    a = np.sort(a[np.isfinite(a) & (a > 0)])[::-1]
    k = int(len(a) * tail_fraction)
    if k < 10 or k >= len(a):
        return math.nan
    logs = np.log(a[:k] / a[k])
    mean = float(logs.mean())
    return 1.0 / mean if mean > 0 else math.nan


def variance_ratio(r: ArrayLike, horizon: int) -> float:
    """``var(sum of horizon consecutive returns) / (horizon x var(returns))`` over non-overlapping blocks."""
    a = np.asarray(r, dtype=float)
    a = a[np.isfinite(a)]
    blocks = len(a) // horizon
    if blocks < 2:
        return math.nan
    agg = a[: blocks * horizon].reshape(blocks, horizon).sum(axis=1)
    v1 = float(np.var(a, ddof=1))
    return float(np.var(agg, ddof=1) / (horizon * v1)) if v1 > 0 else math.nan


# --------------------------------------------------------------------------- the facts of a run


def _per_minute(g: pd.DataFrame) -> pd.DataFrame:
    """The samples at whole minutes (a run sampled more often keeps one sample a minute)."""
    minute = (g["time_s"] // 60).astype(int)
    return g.groupby(minute, sort=True).last()


def symbol_facts(ts: pd.DataFrame) -> dict[str, float]:
    """The facts of one symbol's time series (one row per sample, the run's columns).

    Args:
        ts: the symbol's rows of ``timeseries.parquet``, in time order.

    Returns:
        Fact name -> value (NaN where the series is too short for it).
    """
    g = _per_minute(ts)
    out: dict[str, float] = {}
    spread_bp = (g["best_ask"] - g["best_bid"]) / g["mid"] * 1e4
    out["median_spread_bp"] = float(np.nanmedian(spread_bp)) if len(g) else math.nan
    out["p95_spread_bp"] = float(np.nanpercentile(spread_bp, 95)) if len(g) else math.nan
    out["basis_std_bp"] = float(np.nanstd(g["mid"] / g["index"] - 1.0) * 1e4) if len(g) > 1 else math.nan
    r = np.diff(np.log(g["mid"].to_numpy(dtype=float)))
    ri = np.diff(np.log(g["index"].to_numpy(dtype=float)))
    sd_i = float(np.std(ri)) if len(ri) > 1 else math.nan
    out["vol_ratio_perp_index"] = float(np.std(r)) / sd_i if sd_i and sd_i > 0 else math.nan
    out["acf_r_lag1"] = autocorrelation(r, 1)
    out["acf_abs_r_lag1"] = autocorrelation(np.abs(r), 1)
    out["acf_abs_r_lag10"] = autocorrelation(np.abs(r), 10)
    out["excess_kurtosis_1m"] = excess_kurtosis(r)
    for minutes, name in ((15, "excess_kurtosis_15m"), (60, "excess_kurtosis_1h")):
        blocks = len(r) // minutes
        agg = r[: blocks * minutes].reshape(blocks, minutes).sum(axis=1) if blocks else np.array([])
        out[name] = excess_kurtosis(agg)
    out["hill_tail_index"] = hill_tail_index(r)
    out["variance_ratio_1h"] = variance_ratio(r, 60)
    vol = g["volume_usd"].to_numpy(dtype=float)[1:]
    out["volume_volatility_corr"] = (
        float(np.corrcoef(np.abs(r), vol)[0, 1]) if len(r) > 2 and np.std(vol) > 0 else math.nan
    )
    days = (float(ts["time_s"].iloc[-1]) - float(ts["time_s"].iloc[0])) / 86_400.0 if len(ts) > 1 else 0.0
    oi = float(np.nanmean(ts["open_interest_usd"]))
    if days > 0 and oi > 0:
        out["volume_per_oi_day"] = float(ts["volume_usd"].sum()) / oi / days
        liq = float(ts["liq_long_usd"].sum() + ts["liq_short_usd"].sum())
        out["liquidations_per_oi_day"] = liq / oi / days
    else:
        out["volume_per_oi_day"] = out["liquidations_per_oi_day"] = math.nan
    return out


def facts_table(timeseries: pd.DataFrame, symbols: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (symbol, fact): value, the real range, its source, and whether it is in range.

    Args:
        timeseries: a run's time series (long format: one row per time and symbol).
        symbols: the symbols to measure (all by default).

    Returns:
        Columns ``symbol, fact, value, low, high, in_range, source`` (``in_range`` is None for facts
        without a range, e.g. the kurtosis at 15 minutes, and for values that could not be measured).
    """
    rows: list[dict[str, object]] = []
    names = list(symbols) if symbols is not None else list(dict.fromkeys(timeseries["symbol"]))
    for name in names:
        g = timeseries[timeseries["symbol"] == name].sort_values("time_s")
        for fact, value in symbol_facts(g).items():
            rng = RANGES.get(fact)
            in_range = None
            if rng is not None and math.isfinite(value):
                in_range = rng.low <= value <= rng.high
            rows.append(
                {
                    "symbol": name,
                    "fact": fact,
                    "value": value,
                    "low": rng.low if rng else math.nan,
                    "high": rng.high if rng else math.nan,
                    "in_range": in_range,
                    "source": rng.source if rng else REFERENCES.get(fact, ""),
                }
            )
    return pd.DataFrame(rows)


def facts(run_dir: str | Path) -> pd.DataFrame:
    """The facts table of a run directory (see :func:`facts_table`).

    Raises:
        ConfigError: the directory has no readable ``timeseries.parquet``.
    """
    path = Path(run_dir) / "timeseries.parquet"
    try:
        ts = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ConfigError([f"{path}: cannot read the run's time series ({type(exc).__name__})"]) from None
    return facts_table(ts)


def facts_markdown(table: pd.DataFrame) -> str:
    """The facts table as markdown: one row per fact, one column per symbol, a mark where out of range."""
    lines = ["| fact | " + " | ".join(dict.fromkeys(table["symbol"])) + " | real range | source |"]
    lines.append("|---|" + "---|" * (table["symbol"].nunique() + 2))
    for fact, g in table.groupby("fact", sort=False):
        cells = []
        for _, row in g.iterrows():
            v = float(row["value"])
            mark = "" if row["in_range"] is None else (" ✓" if row["in_range"] else " ✗")
            cells.append(("—" if not math.isfinite(v) else f"{v:.3g}") + mark)
        rng = RANGES.get(str(fact))
        real = "—" if rng is None else f"{rng.low:g} to {rng.high:g}".replace("inf", "∞")
        source = rng.source if rng else REFERENCES.get(str(fact), "")
        lines.append(f"| {fact} | " + " | ".join(cells) + f" | {real} | {source} |")
    return "\n".join(lines) + "\n"
