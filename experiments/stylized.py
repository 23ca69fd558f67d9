"""Stylized facts of a run's ordinary minutes against the real market's ranges (MARKET_FACTS.md §4-§5).

Three tables, one entry point (:func:`facts`):

* ``facts(RUN_DIR)``: one row per (symbol, fact) of one run (:func:`facts_table`): the value, the
  real-market range, its source, a note and whether the value is in range;
* ``facts(RUN_DIR, RUN_DIR, ...)``: the same per run, and **pooled** over the runs
  (:func:`pooled_facts_table`) with a bootstrap 90% interval;
* ``facts(STUDY_DIR)``: the distribution over a study's runs, per grid point (:func:`study_facts_table`),
  read from the ``fact_<SYMBOL>_<fact>`` columns each run's row carries (:func:`study_fact_columns`).

:func:`facts_markdown` renders any of them. The facts are measured on 1-minute samples of the perp's mid,
its index and the exogenous index path (``index_path``), so a run must be sampled at least once a minute
(``sample_seconds <= 60``); a run sampled more coarsely has no 1-minute returns and its return facts are
NaN (spreads, basis and turnover are still measured on the samples it has).

Pooling. The pooled value of a fact is the estimator applied to all the runs' minutes together: spreads,
basis and the return distribution (kurtosis, Hill) over the concatenated minutes; autocorrelations and
variance ratios with the pooled mean and variance but lagged pairs and hourly blocks taken inside each run
only (never across the seam between two runs); the R² of the index path and the volume-volatility
correlation over the pooled pairs. Turnover and liquidations per open interest per day are ratios of a
run's totals: their pooled value is the mean of the per-run values. The interval is a percentile
bootstrap over **runs** (seeds are the independent units; :data:`BOOTSTRAP_DRAWS` draws of as many runs
with replacement, the same draw for every symbol, generator seeded with :data:`BOOTSTRAP_SEED`, so the
interval is deterministic); with few runs (below about 10) it is coarse.

The estimators are pure functions below (tested on series of known shape: iid Gaussian, Student-t,
GARCH(1,1), a bid-ask bounce):

* autocorrelation of returns and of absolute returns at a lag (:func:`autocorrelation`,
  :func:`pooled_autocorrelation`), at :data:`ACF_LAGS` minutes;
* excess kurtosis (:func:`excess_kurtosis`), at :data:`KURTOSIS_HORIZONS` minutes (aggregational
  Gaussianity);
* the Hill estimator of the tail index over the largest :data:`TAIL_FRACTION` of |returns|
  (:func:`hill_tail_index`);
* the variance ratio ``var(1-h returns) / (60 var(1-min returns))`` (:func:`variance_ratio`);
* the share of the perp's 1-minute variance the exogenous index path explains (:func:`r_squared`: the R²
  of the regression of the perp's 1-minute log returns on the path's).

The median spread of an alt (every symbol but BTC, or but the first when there is no BTC) is checked
against §5's alt rule: at most ``max(2 x BTC's median spread, 2 ticks)`` and at most 4 bp; the tick comes
from the run's ``config.yaml`` (``market.symbols[...].tick_size_usd``), else from the model's defaults.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import yaml
from numpy.typing import ArrayLike, NDArray

from experiments.config import ConfigError, ExperimentConfig
from model.params import MarketParams

TAIL_FRACTION = 0.05
"""Share of the largest |returns| the Hill estimator uses."""

ACF_LAGS = (1, 2, 5, 10, 30)
BODY_LAGS = (1, 10)
"""Lags of the body's clustering (:data:`WINSOR_QUANTILE`): the two lags §5 ranges for the raw |r|."""
WINSOR_QUANTILE = 0.99
"""The body's clustering caps each run's |r| at this quantile of its own: the sample autocorrelation of a
heavy-tailed series is ruled by its few largest values (Cont 2001, §2), so a few huge minutes and the
minute that takes part of them back can make the raw |r| ACF at lag 1 look like clustering while the rest
of the distribution does not cluster at all."""
"""Lags (minutes) of the autocorrelations of returns and absolute returns in the table."""

KURTOSIS_HORIZONS = (1, 5, 15, 60)
"""Horizons (minutes) of the excess kurtosis of aggregated returns (aggregational Gaussianity)."""

BOOTSTRAP_DRAWS = 1000
"""Bootstrap draws of the pooled facts' intervals (each draw resamples the runs with replacement)."""

BOOTSTRAP_SEED = 20_251_010
"""Seed of the bootstrap's generator: the intervals are deterministic."""

CI_LEVEL = 0.90
"""Coverage of the pooled facts' percentile bootstrap interval."""

ALT_SPREAD_MAX_BP = 4.0
"""§5: an alt's median spread is at most 4 bp ..."""

ALT_SPREAD_LEADER_MULTIPLE = 2.0
"""... and at most max(2 x BTC's median spread, :data:`ALT_SPREAD_TICKS` ticks)."""

ALT_SPREAD_TICKS = 2.0
"""Ticks of the alt rule's floor (a book two ticks wide is not too wide, however tight BTC's is)."""

REFERENCE_SYMBOL = "BTC"
"""The symbol the alt rule compares with (the first symbol when a run has no BTC)."""

POOLED = "pooled"
"""The ``run`` label of the pooled rows of :func:`pooled_facts_table`."""

FACT_COLUMN_PREFIX = "fact_"
"""Prefix of the fact columns of a study's ``results.parquet``: ``fact_<SYMBOL>_<fact>``."""

HIGH_SUFFIX = "__high"
"""Suffix of a study column holding a run's own upper bound of a fact (the alt spread rule)."""


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
    "acf_abs_r_lag10": FactRange(0.0, math.inf, "§5: clustering persists (slow decay of abs-return ACF)"),
    "volume_per_oi_day": FactRange(0.5, 6.0, "§5: BTC perps turn over ~1-3x their open interest a day"),
    "variance_ratio_1h": FactRange(0.6, 1.4, "§5: no strong mean reversion or trending minute to hour"),
    "hill_tail_index": FactRange(2.0, 3.0, "§4-§5, Begusic et al. 2018: BTC's tail exponent roughly 2-3"),
}
"""Fact -> the real-market range it is checked against (inclusive) and its source. Facts without a range
are reported with a reference only (:data:`REFERENCES`). An alt's ``median_spread_bp`` is checked against
the alt rule instead (:data:`ALT_SPREAD_SOURCE`)."""

ALT_SPREAD_SOURCE = (
    "§5: alts quote wider than BTC, but not by an order of magnitude: <= max(2x BTC's, 2 ticks) and <= 4 bp"
)
"""Source of the alt rule of the median spread."""

_NO_LINEAR = "§4, Cont 2001: no linear autocorrelation beyond very short lags"
_SLOW_DECAY = "§4, Cont 2001; Takaishi 2018: the abs-return ACF decays slowly (power law)"

REFERENCES: dict[str, str] = {
    "median_spread_ticks": "§5: real BTC perp books quote one tick wide",
    "index_path_var_share": "§5: the facts must emerge from the agents; R² of the perp's 1-min returns on "
    "the exogenous index path's (1: the perp only follows the driver)",
    **{f"acf_r_lag{lag}": _NO_LINEAR for lag in ACF_LAGS if f"acf_r_lag{lag}" not in RANGES},
    **{f"acf_abs_r_lag{lag}": _SLOW_DECAY for lag in ACF_LAGS if f"acf_abs_r_lag{lag}" not in RANGES},
    **{
        f"acf_abs_r_body_lag{lag}": "§4, Cont 2001: clustering of the body, not of a few extreme minutes; "
        "real 1-min BTC returns cluster in the body too"
        for lag in BODY_LAGS
    },
    "excess_kurtosis_5m": "§4, Cont 2001: aggregational Gaussianity, kurtosis falls with the horizon",
    "excess_kurtosis_15m": "§4, Cont 2001: aggregational Gaussianity, kurtosis falls with the horizon",
    "excess_kurtosis_1h": "§4, Cont 2001: aggregational Gaussianity",
    "volume_volatility_corr": "§4, Cont 2001: volume and volatility are positively correlated",
    "liquidations_per_oi_day": "§4, Cheng et al. 2021 (BitMEX): 3.51% (longs) + 1.89% (shorts) a day",
}
"""Facts reported without a range, with what the literature says."""

NOTES: dict[str, str] = {
    "hill_tail_index": f"over the largest {TAIL_FRACTION:.0%} of abs 1-min returns (tail fraction "
    f"{TAIL_FRACTION:g})",
    "index_path_var_share": "share of the perp's 1-min return variance",
    **{
        f"acf_abs_r_body_lag{lag}": f"|r| capped at each run's {WINSOR_QUANTILE:.0%} quantile"
        for lag in BODY_LAGS
    },
    "variance_ratio_1h": "non-overlapping hours inside each run",
    "vol_ratio_perp_index": "std of 1-min log returns, perp mid over index",
}
"""A fact's note, shown beside it (what exactly is measured)."""


def _kurtosis_name(minutes: int) -> str:
    return "excess_kurtosis_1h" if minutes == 60 else f"excess_kurtosis_{minutes}m"


FACTS: tuple[str, ...] = (
    "median_spread_bp",
    "median_spread_ticks",
    "p95_spread_bp",
    "basis_std_bp",
    "vol_ratio_perp_index",
    "index_path_var_share",
    *(f"acf_r_lag{lag}" for lag in ACF_LAGS),
    *(f"acf_abs_r_lag{lag}" for lag in ACF_LAGS),
    *(f"acf_abs_r_body_lag{lag}" for lag in BODY_LAGS),
    *(_kurtosis_name(m) for m in KURTOSIS_HORIZONS),
    "hill_tail_index",
    "variance_ratio_1h",
    "volume_volatility_corr",
    "volume_per_oi_day",
    "liquidations_per_oi_day",
)
"""Every fact of the table, in its order."""

STUDY_FACTS: tuple[str, ...] = tuple(
    f
    for f in FACTS
    if f in RANGES or f.startswith("excess_kurtosis_") or f in ("hill_tail_index", "index_path_var_share")
)
"""The facts a study's rows carry (``fact_<SYMBOL>_<fact>``): the ranged ones, the kurtosis at every
horizon, the Hill index and the index path's variance share."""

PER_RUN_RANGE: tuple[str, ...] = ("median_spread_bp",)
"""Facts whose range depends on the run (the alt rule): a study row carries its upper bound too."""

TABLE_COLUMNS = ("symbol", "fact", "value", "low", "high", "in_range", "source", "note")
"""Columns of :func:`facts_table`."""


# --------------------------------------------------------------------------- estimators


def _finite(x: ArrayLike) -> NDArray[np.float64]:
    a = np.asarray(x, dtype=float)
    return a[np.isfinite(a)]


def winsorised(x: ArrayLike, quantile: float) -> NDArray[np.float64]:
    """``x`` with every value above its ``quantile`` (over the finite values) set to that quantile.

    NaNs stay NaN (they are gaps for :func:`pooled_autocorrelations`); a series without finite values
    comes back as it is.
    """
    a = np.asarray(x, dtype=float)
    finite = a[np.isfinite(a)]
    if not len(finite):
        return a
    cap = float(np.quantile(finite, quantile))
    return np.where(np.isfinite(a), np.minimum(a, cap), a)


def pooled_autocorrelations(segments: Iterable[ArrayLike], lags: Sequence[int]) -> list[float]:
    """Autocorrelations at several lags of several series taken together, no pair across two of them.

    The mean and the variance are those of all the values; the lagged products are summed inside each
    series (a NaN is a gap: no pair with it). One series gives :func:`autocorrelation`.

    Args:
        segments: the series (e.g. one run's 1-minute returns each).
        lags: the lags, in steps (each >= 1).

    Returns:
        One autocorrelation per lag (NaN when undefined: too few values, or constant).
    """
    arrays = [np.asarray(s, dtype=float) for s in segments]
    masks = [np.isfinite(a) for a in arrays]
    counts = [int(m.sum()) for m in masks]
    n = sum(counts)
    if n < 3:
        return [math.nan] * len(lags)
    mean = sum(float(a[m].sum()) for a, m in zip(arrays, masks, strict=True)) / n
    centred = [np.where(m, a - mean, 0.0) for a, m in zip(arrays, masks, strict=True)]
    denom = sum(float(np.dot(d, d)) for d in centred)
    out: list[float] = []
    for lag in lags:
        pairs = sum(max(0, c - lag) for c in counts)
        if lag < 1 or n <= lag + 1 or pairs < 1 or not denom > 0:
            out.append(math.nan)
            continue
        num = sum(float(np.dot(d[:-lag], d[lag:])) for d in centred if len(d) > lag)
        out.append(num / denom)
    return out


def pooled_autocorrelation(segments: Iterable[ArrayLike], lag: int) -> float:
    """:func:`pooled_autocorrelations` at one lag."""
    return pooled_autocorrelations(segments, [lag])[0]


def autocorrelation(x: ArrayLike, lag: int) -> float:
    """Sample autocorrelation of ``x`` at ``lag`` (a NaN is a gap; NaN if too short or constant)."""
    return pooled_autocorrelation([x], lag)


def excess_kurtosis(x: ArrayLike) -> float:
    """Excess kurtosis (0 for a Gaussian), the plain moment estimator; NaN below 4 values."""
    a = _finite(x)
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
    a = np.abs(_finite(x))
    a = np.sort(a[a > 0])[::-1]
    k = int(len(a) * tail_fraction)
    if k < 10 or k >= len(a):
        return math.nan
    logs = np.log(a[:k] / a[k])
    mean = float(logs.mean())
    return 1.0 / mean if mean > 0 else math.nan


def aggregate(r: ArrayLike, horizon: int) -> NDArray[np.float64]:
    """Sums of ``horizon`` consecutive returns over non-overlapping blocks from the start (blocks with a
    NaN are left out)."""
    a = np.asarray(r, dtype=float)
    blocks = len(a) // horizon
    if blocks < 1:
        return np.array([])
    agg = a[: blocks * horizon].reshape(blocks, horizon).sum(axis=1)
    return agg[np.isfinite(agg)]


def pooled_variance_ratio(segments: Iterable[ArrayLike], horizon: int) -> float:
    """:func:`variance_ratio` of several series taken together: blocks inside each, variances pooled."""
    arrays = [np.asarray(s, dtype=float) for s in segments]
    agg = np.concatenate([aggregate(a, horizon) for a in arrays]) if arrays else np.array([])
    values = np.concatenate([_finite(a) for a in arrays]) if arrays else np.array([])
    if len(agg) < 2 or len(values) < 2:
        return math.nan
    v1 = float(np.var(values, ddof=1))
    return float(np.var(agg, ddof=1) / (horizon * v1)) if v1 > 0 else math.nan


def variance_ratio(r: ArrayLike, horizon: int) -> float:
    """``var(sum of horizon consecutive returns) / (horizon x var(returns))`` over non-overlapping blocks."""
    return pooled_variance_ratio([r], horizon)


def r_squared(y: ArrayLike, x: ArrayLike) -> float:
    """R² of the least-squares regression of ``y`` on ``x`` with an intercept (the pairs where both are
    finite): the share of ``y``'s variance that ``x`` explains. NaN below 3 pairs or when one is constant."""
    rho = correlation(y, x)  # with one regressor, R² is the squared correlation
    return rho * rho


def correlation(x: ArrayLike, y: ArrayLike) -> float:
    """Pearson correlation over the pairs where both are finite (NaN below 3 pairs or one constant)."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < 3:
        return math.nan
    da, db = a - a.mean(), b - b.mean()
    saa, sbb = float(np.dot(da, da)), float(np.dot(db, db))
    if not (saa > 0 and sbb > 0):
        return math.nan
    return float(np.dot(da, db) / math.sqrt(saa * sbb))


def _median(x: NDArray[np.float64], q: float = 50.0) -> float:
    a = _finite(x)
    return float(np.percentile(a, q)) if len(a) else math.nan


# --------------------------------------------------------------------------- one run's minutes


@dataclass(frozen=True)
class MinuteSeries:
    """One symbol's 1-minute series in one run: what its facts are measured on.

    ``r`` and its companions hold one value per minute after the first (NaN where two samples are not a
    minute apart); the quote arrays one value per minute.

    Attributes:
        r: log returns of the perp's mid.
        r_index: log returns of the index.
        r_path: log returns of the exogenous index path (NaN: a run recorded before the column existed).
        volume: traded notional over each return's minute (USD).
        mid: the mid at each minute (USD).
        spread_bp: best ask - best bid over the mid, basis points.
        spread_ticks: the spread in ticks (NaN when the tick is not known).
        basis: mid / index - 1.
        volume_per_oi_day: the run's traded notional over its mean open interest, per day.
        liquidations_per_oi_day: the run's liquidated notional over its mean open interest, per day.
    """

    r: NDArray[np.float64]
    r_index: NDArray[np.float64]
    r_path: NDArray[np.float64]
    volume: NDArray[np.float64]
    mid: NDArray[np.float64]
    spread_bp: NDArray[np.float64]
    spread_ticks: NDArray[np.float64]
    basis: NDArray[np.float64]
    volume_per_oi_day: float
    liquidations_per_oi_day: float


def _per_minute(g: pd.DataFrame) -> pd.DataFrame:
    """The last sample of each whole minute, with the traded volume summed over the minute's samples."""
    minute = (g["time_s"] // 60).astype(int)
    last = g.groupby(minute, sort=True).last()
    if "volume_usd" in g:
        last["volume_usd"] = g.groupby(minute, sort=True)["volume_usd"].sum()
    return last


def _log_returns(values: NDArray[np.float64], valid: NDArray[np.bool_]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.diff(np.log(values))
    return np.where(valid & np.isfinite(r), r, np.nan)


def minute_series(ts: pd.DataFrame, tick_size_usd: float = math.nan) -> MinuteSeries:
    """One symbol's 1-minute series from its rows of ``timeseries.parquet``.

    Args:
        ts: the symbol's rows (any order), the run's columns (``index_path`` optional).
        tick_size_usd: the symbol's tick (for the spread in ticks; NaN: unknown).

    Returns:
        The :class:`MinuteSeries`. A run sampled less often than once a minute has no returns (all NaN).
    """
    ts = ts.sort_values("time_s")
    g = _per_minute(ts)
    times = g["time_s"].to_numpy(dtype=float)
    step = float(np.median(np.diff(ts["time_s"].to_numpy(dtype=float)))) if len(ts) > 1 else math.inf
    dt = np.diff(times)
    valid = (np.abs(dt - 60.0) <= step / 2 + 1e-6) if step <= 60.0 + 1e-9 else np.zeros(len(dt), dtype=bool)
    mid = g["mid"].to_numpy(dtype=float)
    nan_r = np.full(len(dt), np.nan)
    r_path = (
        _log_returns(g["index_path"].to_numpy(dtype=float), valid) if "index_path" in g.columns else nan_r
    )
    spread = (g["best_ask"] - g["best_bid"]).to_numpy(dtype=float)
    tick = float(tick_size_usd)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread_bp = spread / mid * 1e4
        basis = mid / g["index"].to_numpy(dtype=float) - 1.0
    volume = g["volume_usd"].to_numpy(dtype=float)[1:] if "volume_usd" in g else nan_r
    days = (float(ts["time_s"].iloc[-1]) - float(ts["time_s"].iloc[0])) / 86_400.0 if len(ts) > 1 else 0.0
    oi = float(np.nanmean(ts["open_interest_usd"])) if len(ts) else math.nan
    if days > 0 and oi > 0:
        turnover = float(ts["volume_usd"].sum()) / oi / days
        liquidated = float(ts["liq_long_usd"].sum() + ts["liq_short_usd"].sum()) / oi / days
    else:
        turnover = liquidated = math.nan
    return MinuteSeries(
        r=_log_returns(mid, valid),
        r_index=_log_returns(g["index"].to_numpy(dtype=float), valid),
        r_path=r_path,
        volume=np.where(valid, volume, np.nan),
        mid=mid,
        spread_bp=spread_bp,
        spread_ticks=spread / tick if tick > 0 else np.full(len(spread), np.nan),
        basis=basis,
        volume_per_oi_day=turnover,
        liquidations_per_oi_day=liquidated,
    )


def _cat(series: Sequence[MinuteSeries], attr: str) -> NDArray[np.float64]:
    return np.concatenate([getattr(s, attr) for s in series]) if series else np.array([])


def _mean_of(values: Iterable[float]) -> float:
    a = _finite(list(values))
    return float(a.mean()) if len(a) else math.nan


def series_values(series: Sequence[MinuteSeries]) -> dict[str, float]:
    """The facts (:data:`FACTS`, in order) of one symbol's minutes in one or several runs (pooled).

    Args:
        series: the symbol's :class:`MinuteSeries`, one per run.

    Returns:
        Fact -> value (NaN where the minutes are too few for it; all NaN for no series).
    """
    if not series:
        return dict.fromkeys(FACTS, math.nan)
    out: dict[str, float] = {}
    spread = _finite(_cat(series, "spread_bp"))
    median, p95 = np.percentile(spread, [50.0, 95.0]) if len(spread) else (math.nan, math.nan)
    out["median_spread_bp"] = float(median)
    out["median_spread_ticks"] = _median(_cat(series, "spread_ticks"))
    out["p95_spread_bp"] = float(p95)
    basis = _finite(_cat(series, "basis"))
    out["basis_std_bp"] = float(np.std(basis) * 1e4) if len(basis) > 1 else math.nan
    r, ri = _cat(series, "r"), _cat(series, "r_index")
    fr, fi = _finite(r), _finite(ri)
    sd_i = float(np.std(fi)) if len(fi) > 1 else math.nan
    out["vol_ratio_perp_index"] = float(np.std(fr)) / sd_i if len(fr) > 1 and sd_i > 0 else math.nan
    out["index_path_var_share"] = r_squared(r, _cat(series, "r_path"))
    segments = [s.r for s in series]
    abs_segments = [np.abs(s.r) for s in series]
    for lag, value in zip(ACF_LAGS, pooled_autocorrelations(segments, ACF_LAGS), strict=True):
        out[f"acf_r_lag{lag}"] = value
    for lag, value in zip(ACF_LAGS, pooled_autocorrelations(abs_segments, ACF_LAGS), strict=True):
        out[f"acf_abs_r_lag{lag}"] = value
    body = [winsorised(a, WINSOR_QUANTILE) for a in abs_segments]
    for lag, value in zip(BODY_LAGS, pooled_autocorrelations(body, BODY_LAGS), strict=True):
        out[f"acf_abs_r_body_lag{lag}"] = value
    for minutes in KURTOSIS_HORIZONS:
        agg = r if minutes == 1 else np.concatenate([aggregate(s.r, minutes) for s in series])
        out[_kurtosis_name(minutes)] = excess_kurtosis(agg)
    out["hill_tail_index"] = hill_tail_index(r)
    out["variance_ratio_1h"] = pooled_variance_ratio(segments, 60)
    out["volume_volatility_corr"] = correlation(np.abs(r), _cat(series, "volume"))
    out["volume_per_oi_day"] = _mean_of(s.volume_per_oi_day for s in series)
    out["liquidations_per_oi_day"] = _mean_of(s.liquidations_per_oi_day for s in series)
    return out


def symbol_facts(ts: pd.DataFrame, tick_size_usd: float = math.nan) -> dict[str, float]:
    """The facts of one symbol's time series (one row per sample, the run's columns).

    Args:
        ts: the symbol's rows of ``timeseries.parquet``.
        tick_size_usd: the symbol's tick (for ``median_spread_ticks``; NaN: unknown).

    Returns:
        Fact -> value (:data:`FACTS`; NaN where the series is too short for it). The alt rule needs
        the other symbols: see :func:`facts_table`.
    """
    return series_values([minute_series(ts, tick_size_usd)])


# --------------------------------------------------------------------------- tick sizes


def tick_sizes(config: ExperimentConfig | Mapping[str, Any] | None = None) -> dict[str, float]:
    """Symbol -> tick size (USD) of a run's config, the model's defaults filling what it does not name.

    Args:
        config: an :class:`ExperimentConfig`, or a config as a plain mapping (a run's ``config.yaml``
            read as YAML); None: the defaults (``model.params.MarketParams().symbols``).

    Returns:
        The tick of every symbol the config or the defaults name.
    """
    ticks = {s.name: float(s.tick_size_usd) for s in MarketParams().symbols}
    if isinstance(config, ExperimentConfig):
        ticks.update({s.name: float(s.tick_size_usd) for s in config.market.symbols})
        return ticks
    market = config.get("market") if isinstance(config, Mapping) else None
    symbols = market.get("symbols") if isinstance(market, Mapping) else None
    for item in symbols if isinstance(symbols, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            try:
                ticks[item["name"]] = float(item["tick_size_usd"])
            except (KeyError, TypeError, ValueError):
                continue
    return ticks


def run_dir_tick_sizes(run_dir: str | Path) -> dict[str, float]:
    """:func:`tick_sizes` of a run directory's ``config.yaml`` (the defaults when it has none or it does
    not read)."""
    path = Path(run_dir) / "config.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    return tick_sizes(data if isinstance(data, Mapping) else None)


# --------------------------------------------------------------------------- tables


def _reference(symbols: Sequence[str]) -> str | None:
    return REFERENCE_SYMBOL if REFERENCE_SYMBOL in symbols else (symbols[0] if symbols else None)


def _two_ticks_bp(series: Sequence[MinuteSeries], tick: float) -> float:
    mid = _median(_cat(series, "mid"))
    return ALT_SPREAD_TICKS * tick / mid * 1e4 if tick > 0 and mid > 0 else math.nan


def _alt_bound(reference_median_bp: float, two_ticks_bp: float) -> float:
    """§5's alt rule: ``min(4 bp, max(2 x the reference's median spread, 2 ticks))`` (NaN: neither known)."""
    floor = float(np.fmax(ALT_SPREAD_LEADER_MULTIPLE * reference_median_bp, two_ticks_bp))
    return min(ALT_SPREAD_MAX_BP, floor) if math.isfinite(floor) else math.nan


def _rows(
    values: Mapping[str, Mapping[str, float]], two_ticks_bp: Mapping[str, float]
) -> list[dict[str, Any]]:
    """The table's rows of per-symbol values: each fact with its range (the alt rule for alts' spreads)."""
    symbols = list(values)
    ref = _reference(symbols)
    rows: list[dict[str, Any]] = []
    for name in symbols:
        for fact in FACTS:
            value = float(values[name].get(fact, math.nan))
            rng = RANGES.get(fact)
            low, high = (rng.low, rng.high) if rng else (math.nan, math.nan)
            source = rng.source if rng else REFERENCES.get(fact, "")
            note = NOTES.get(fact, "")
            if fact == "median_spread_bp" and ref is not None and name != ref:
                ref_median = float(values[ref].get("median_spread_bp", math.nan))
                ticks2 = two_ticks_bp.get(name, math.nan)
                low, high, source = 0.0, _alt_bound(ref_median, ticks2), ALT_SPREAD_SOURCE
                note = f"alt rule: <= max(2 x {ref}'s {ref_median:.3g}, 2 ticks = {ticks2:.3g} bp), <= 4 bp"
            in_range = None
            if rng is not None and math.isfinite(value) and not math.isnan(high):
                in_range = bool(low <= value <= high)
            rows.append(
                {
                    "symbol": name,
                    "fact": fact,
                    "value": value,
                    "low": low,
                    "high": high,
                    "in_range": in_range,
                    "source": source,
                    "note": note,
                }
            )
    return rows


def _symbols_of(timeseries: pd.DataFrame, symbols: Sequence[str] | None) -> list[str]:
    return list(symbols) if symbols is not None else [str(s) for s in dict.fromkeys(timeseries["symbol"])]


def run_series(
    timeseries: pd.DataFrame, ticks: Mapping[str, float] | None = None, symbols: Sequence[str] | None = None
) -> dict[str, MinuteSeries]:
    """Symbol -> :class:`MinuteSeries` of one run's time series.

    Args:
        timeseries: the run's time series (long format).
        ticks: symbol -> tick size (default: :func:`tick_sizes` of the model's defaults).
        symbols: the symbols (all by default, in the order of the table).

    Returns:
        The series, in symbol order.
    """
    ticks = tick_sizes() if ticks is None else ticks
    return {
        name: minute_series(timeseries[timeseries["symbol"] == name], ticks.get(name, math.nan))
        for name in _symbols_of(timeseries, symbols)
    }


def facts_table(
    timeseries: pd.DataFrame,
    symbols: Sequence[str] | None = None,
    ticks: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One row per (symbol, fact): value, the real range, its source, a note, and whether it is in range.

    Args:
        timeseries: a run's time series (long format: one row per time and symbol).
        symbols: the symbols to measure (all by default).
        ticks: symbol -> tick size in USD (default: the model's defaults, :func:`tick_sizes`).

    Returns:
        Columns :data:`TABLE_COLUMNS` (``in_range`` is None for facts without a range, e.g. the kurtosis
        at 15 minutes, and for values that could not be measured). An alt's ``median_spread_bp`` carries
        the alt rule's bound as its ``high``.
    """
    ticks = tick_sizes() if ticks is None else ticks
    series = run_series(timeseries, ticks, symbols)
    values = {name: series_values([s]) for name, s in series.items()}
    two = {name: _two_ticks_bp([s], ticks.get(name, math.nan)) for name, s in series.items()}
    return pd.DataFrame(_rows(values, two), columns=list(TABLE_COLUMNS))


def pooled_facts_table(
    runs: Mapping[str, pd.DataFrame],
    ticks: Mapping[str, Mapping[str, float]] | None = None,
    *,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
    level: float = CI_LEVEL,
) -> pd.DataFrame:
    """The facts of each run and pooled over the runs, the pooled ones with a bootstrap interval.

    See the module's docstring for how each fact is pooled and how the interval is drawn (resampling
    runs, :data:`BOOTSTRAP_DRAWS` draws, a fixed seed).

    Args:
        runs: run label -> its time series (long format), in the order to show.
        ticks: run label -> symbol -> tick size (default: the model's defaults). The pooled alt rule uses
            a symbol's tick when every run has the same, else none (its two-tick floor is left out).
        draws: bootstrap draws (0: no interval).
        seed: the bootstrap generator's seed.
        level: the interval's coverage (0.9: the 5th to the 95th percentile of the draws).

    Returns:
        Columns ``run`` (the label, or :data:`POOLED`), then :data:`TABLE_COLUMNS` with ``ci_low`` and
        ``ci_high`` after ``value`` (NaN on the per-run rows); the runs' rows first, the pooled last.

    Raises:
        ValueError: no runs.
    """
    if not runs:
        raise ValueError("pooled facts need at least one run")
    labels = list(runs)
    per_run_ticks = {lab: dict(ticks[lab]) if ticks and lab in ticks else tick_sizes() for lab in labels}
    symbols: list[str] = []
    for ts in runs.values():
        symbols += [s for s in _symbols_of(ts, None) if s not in symbols]
    series = {lab: run_series(runs[lab], per_run_ticks[lab], None) for lab in labels}
    frames: list[pd.DataFrame] = []
    for lab in labels:
        s = series[lab]
        values = {name: series_values([s[name]]) for name in s}
        two = {name: _two_ticks_bp([s[name]], per_run_ticks[lab].get(name, math.nan)) for name in s}
        frames.append(pd.DataFrame(_rows(values, two)).assign(run=lab))
    by_symbol = {name: [series[lab][name] for lab in labels if name in series[lab]] for name in symbols}
    pooled_ticks: dict[str, float] = {}
    for name in symbols:
        seen = {per_run_ticks[lab].get(name, math.nan) for lab in labels if name in series[lab]}
        pooled_ticks[name] = seen.pop() if len(seen) == 1 else math.nan
    values = {name: series_values(by_symbol[name]) for name in symbols}
    two = {name: _two_ticks_bp(by_symbol[name], pooled_ticks[name]) for name in symbols}
    pooled = pd.DataFrame(_rows(values, two)).assign(run=POOLED)
    aligned = {name: [series[lab].get(name) for lab in labels] for name in symbols}
    lo, hi = _bootstrap(aligned, draws, seed, level)
    pooled["ci_low"] = [lo[s][f] for s, f in zip(pooled["symbol"], pooled["fact"], strict=True)]
    pooled["ci_high"] = [hi[s][f] for s, f in zip(pooled["symbol"], pooled["fact"], strict=True)]
    table = pd.concat([*frames, pooled], ignore_index=True)
    columns = ["run", "symbol", "fact", "value", "ci_low", "ci_high", *TABLE_COLUMNS[3:]]
    out = table.reindex(columns=columns)
    out.attrs["bootstrap"] = {"resampled": "runs", "draws": int(draws), "seed": int(seed), "level": level}
    return out


def _bootstrap(
    by_symbol: Mapping[str, Sequence[MinuteSeries | None]], draws: int, seed: int, level: float
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Percentile intervals of the pooled facts, resampling runs with replacement (one draw, all symbols).

    ``by_symbol`` holds each symbol's series run by run (None: a run without that symbol), so that a draw
    picks the same runs for every symbol. A fact's interval is NaN when fewer than half the draws could
    measure it.
    """
    names = list(by_symbol)
    n_runs = max((len(v) for v in by_symbol.values()), default=0)
    nan = {name: dict.fromkeys(FACTS, math.nan) for name in names}
    if draws < 1 or n_runs < 1:
        return nan, {k: dict(v) for k, v in nan.items()}
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_runs, size=(draws, n_runs))
    lo: dict[str, dict[str, float]] = {}
    hi: dict[str, dict[str, float]] = {}
    q = (1.0 - level) / 2.0 * 100.0
    for name in names:
        runs = list(by_symbol[name])
        samples = np.full((draws, len(FACTS)), np.nan)
        for b in range(draws):
            chosen = [x for x in (runs[i] for i in picks[b]) if x is not None]
            v = series_values(chosen)
            samples[b] = [v[f] for f in FACTS]
        lo[name], hi[name] = {}, {}
        for j, fact in enumerate(FACTS):
            col = samples[:, j]
            col = col[np.isfinite(col)]
            ok = len(col) >= draws / 2
            lo[name][fact] = float(np.percentile(col, q)) if ok else math.nan
            hi[name][fact] = float(np.percentile(col, 100.0 - q)) if ok else math.nan
    return lo, hi


# --------------------------------------------------------------------------- studies


def study_fact_columns(table: pd.DataFrame) -> dict[str, float]:
    """A run's facts as the columns of its study row: ``fact_<SYMBOL>_<fact>`` for :data:`STUDY_FACTS`,
    and ``fact_<SYMBOL>_<fact>__high`` for the run's own bound of :data:`PER_RUN_RANGE` facts.

    Args:
        table: the run's :func:`facts_table`.

    Returns:
        Column -> value (NaN where not measured), in table order.
    """
    out: dict[str, float] = {}
    for rec in table.to_dict("records"):
        fact = str(rec["fact"])
        if fact not in STUDY_FACTS:
            continue
        column = f"{FACT_COLUMN_PREFIX}{rec['symbol']}_{fact}"
        out[column] = float(rec["value"])
        if fact in PER_RUN_RANGE:
            out[column + HIGH_SUFFIX] = float(rec["high"])
    return out


def parse_fact_column(column: str) -> tuple[str, str, bool] | None:
    """``fact_<SYMBOL>_<fact>[__high]`` -> (symbol, fact, is the bound); None for any other column."""
    if not column.startswith(FACT_COLUMN_PREFIX):
        return None
    rest = column[len(FACT_COLUMN_PREFIX) :]
    bound = rest.endswith(HIGH_SUFFIX)
    if bound:
        rest = rest[: -len(HIGH_SUFFIX)]
    for fact in sorted(FACTS, key=len, reverse=True):
        if rest.endswith("_" + fact) and len(rest) > len(fact) + 1:
            return rest[: -len(fact) - 1], fact, bound
    return None


class StudyPredatesFacts(ConfigError):
    """A study whose rows carry no facts (written before the runs computed them)."""


def study_facts_table(results: pd.DataFrame, grid_keys: Sequence[str] = ()) -> pd.DataFrame:
    """The distribution of each fact over a study's finished runs, per grid point.

    Args:
        results: the study table (``results.parquet``), with the ``fact_*`` columns of its runs.
        grid_keys: the swept keys (one group per grid point; none: one group).

    Returns:
        One row per (point, symbol, fact): ``point``, the grid keys, ``symbol``, ``fact``, ``runs`` (runs
        that measured it), ``median``, ``p05``, ``p95`` (5th and 95th percentiles over the runs),
        ``in_range`` (share of the runs judged that are inside the range; NaN for a fact without one),
        ``in_range_runs`` and ``judged_runs`` (the runs inside, and those with a value and a bound),
        ``low``, ``high`` (the range; an alt's spread bound is the median of the runs' own), ``source``.

    Raises:
        StudyPredatesFacts: no ``fact_*`` column (a study made before the runs computed their facts).
    """
    parsed = {c: parse_fact_column(str(c)) for c in results.columns}
    values = {c: p for c, p in parsed.items() if p is not None and not p[2]}
    if not values:
        raise StudyPredatesFacts(["the study predates stylized facts (no fact_* columns in its rows)"])
    ok = results[results["status"] == "ok"] if "status" in results.columns else results
    keys = [k for k in grid_keys if k in ok.columns]
    groups: list[tuple[int, pd.DataFrame]] = (
        [(int(str(p)), g) for p, g in ok.groupby("point", sort=True)] if "point" in ok.columns else [(0, ok)]
    )
    rows: list[dict[str, Any]] = []
    symbols = list(dict.fromkeys(p[0] for p in values.values()))
    for point, g in groups:
        head = {k: g[k].iloc[0] for k in keys}
        for sym in symbols:
            for fact in STUDY_FACTS:
                column = f"{FACT_COLUMN_PREFIX}{sym}_{fact}"
                if column not in values:
                    continue
                v = pd.to_numeric(g[column], errors="coerce").to_numpy(dtype=float)
                rng = RANGES.get(fact)
                high = np.full(len(v), rng.high if rng else np.nan)
                low = rng.low if rng else math.nan
                source = rng.source if rng else REFERENCES.get(fact, "")
                if column + HIGH_SUFFIX in g.columns:
                    own = pd.to_numeric(g[column + HIGH_SUFFIX], errors="coerce").to_numpy(dtype=float)
                    if not np.allclose(own[np.isfinite(own)], high[np.isfinite(own)]):
                        source = ALT_SPREAD_SOURCE
                    high = own
                finite = np.isfinite(v)
                judged = finite & ~np.isnan(high) if rng else np.zeros(len(v), dtype=bool)
                hits = int(np.sum((v[judged] >= low) & (v[judged] <= high[judged])))
                fv = v[finite]
                own_bounds = column + HIGH_SUFFIX in g.columns
                # the bound shown: the median of the judged runs' own (the fixed one otherwise)
                fh = high[judged] if own_bounds else np.array([rng.high if rng else math.nan])
                rows.append(
                    {
                        "point": point,
                        **head,
                        "symbol": sym,
                        "fact": fact,
                        "runs": int(finite.sum()),
                        "median": float(np.median(fv)) if len(fv) else math.nan,
                        "p05": float(np.percentile(fv, 5)) if len(fv) else math.nan,
                        "p95": float(np.percentile(fv, 95)) if len(fv) else math.nan,
                        "in_range": hits / int(judged.sum()) if judged.any() else math.nan,
                        "in_range_runs": hits,
                        "judged_runs": int(judged.sum()),
                        "low": low,
                        "high": float(np.median(fh)) if len(fh) else math.nan,  # inf: no upper bound
                        "source": source,
                    }
                )
    return pd.DataFrame(rows)


def predates_facts_message(study_dir: str | Path) -> str:
    """The one line that says a study's rows carry no facts, and how to get them."""
    path = Path(study_dir)
    text = (
        f"{path}: the study predates stylized facts (its rows have no fact_* columns): run it again into "
        "a new --out, or run the same sweep command with --keep-tables all (it keeps the finished runs "
        f"and replays their tables) and then: cascadelab facts {path}/tables/*"
    )
    if (path / "tables").is_dir() and any((path / "tables").iterdir()):
        text += f" (tables already kept: cascadelab facts {path}/tables/*)"
    return text


# --------------------------------------------------------------------------- directories


def _read_timeseries(run_dir: Path) -> pd.DataFrame:
    path = run_dir / "timeseries.parquet"
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ConfigError([f"{path}: cannot read the run's time series ({type(exc).__name__})"]) from None


def is_study_dir(path: str | Path) -> bool:
    """Whether ``path`` is a study directory (``study.yaml``, written by ``cascadelab sweep``)."""
    return (Path(path) / "study.yaml").is_file()


def study_dir_facts(study_dir: str | Path) -> pd.DataFrame:
    """:func:`study_facts_table` of a study directory (its ``results.parquet`` and ``study.json``).

    Raises:
        ConfigError: no readable ``results.parquet``, or a study that predates facts (one line each).
    """
    path = Path(study_dir)
    results_path = path / "results.parquet"
    try:
        results = pd.read_parquet(results_path)
    except (OSError, ValueError) as exc:
        raise ConfigError([f"{results_path}: cannot read the study's table ({type(exc).__name__})"]) from None
    keys: list[str] = []
    try:
        meta = json.loads((path / "study.json").read_text(encoding="utf-8"))
        keys = [str(k) for k in meta.get("grid_keys", [])]
    except (OSError, ValueError, AttributeError):
        keys = []
    try:
        return study_facts_table(results, keys)
    except StudyPredatesFacts:
        raise StudyPredatesFacts([predates_facts_message(path)]) from None


def _labels(paths: Sequence[Path]) -> list[str]:
    """Directory names, made unique by a suffix where two runs share one."""
    seen: dict[str, int] = {}
    out = []
    for p in paths:
        name = p.name or str(p)
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def facts(
    *dirs: str | Path | Sequence[str | Path], draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED
) -> pd.DataFrame:
    """The facts of one run directory, of several pooled, or of a study directory.

    ``facts(RUN_DIR)`` is :func:`facts_table` of the run (ticks from its ``config.yaml``);
    ``facts(RUN_DIR, RUN_DIR, ...)`` (or a list) is :func:`pooled_facts_table` of the runs, labelled by
    their directory names; ``facts(STUDY_DIR)`` is :func:`study_facts_table` of the study.

    Args:
        dirs: the directories.
        draws: bootstrap draws of the pooled intervals.
        seed: the bootstrap's seed.

    Returns:
        The table.

    Raises:
        ConfigError: no directory, a directory without a readable ``timeseries.parquet``, a study among
            several directories, or a study that predates facts.
    """
    paths: list[Path] = []
    for d in dirs:
        if isinstance(d, str | Path):
            paths.append(Path(d))
        else:
            paths.extend(Path(p) for p in d)
    if not paths:
        raise ConfigError(["facts: give a run directory, several, or a study directory"])
    studies = [p for p in paths if is_study_dir(p)]
    if studies:
        if len(paths) > 1:
            raise ConfigError([f"{studies[0]}: a study directory; give it alone (or run directories only)"])
        return study_dir_facts(paths[0])
    frames = {p: _read_timeseries(p) for p in paths}
    if len(paths) == 1:
        return facts_table(frames[paths[0]], ticks=run_dir_tick_sizes(paths[0]))
    labels = _labels(paths)
    return pooled_facts_table(
        {lab: frames[p] for lab, p in zip(labels, paths, strict=True)},
        {lab: run_dir_tick_sizes(p) for lab, p in zip(labels, paths, strict=True)},
        draws=draws,
        seed=seed,
    )


# --------------------------------------------------------------------------- markdown


def _num(v: Any) -> str:
    f = float(v) if isinstance(v, int | float | np.floating | np.integer) else math.nan
    return "—" if not math.isfinite(f) else f"{f:.3g}"


def _mark(in_range: Any) -> str:
    if in_range is None or (isinstance(in_range, float) and math.isnan(in_range)):
        return ""
    return " ✓" if bool(in_range) else " ✗"


def range_text(low: float, high: float) -> str:
    """A range as the tables show it: ``0.8 to 1.5``, ``>= 2``, ``<= 5`` (an em dash: no range)."""
    if math.isnan(low) and math.isnan(high):
        return "—"
    if math.isnan(high):
        return f">= {low:.3g}, upper bound unknown"
    if math.isinf(high):
        return f">= {low:.3g}"
    if low == 0.0 and math.isfinite(high):
        return f"<= {high:.3g}"
    return f"{low:.3g} to {high:.3g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fact_ranges(g: pd.DataFrame) -> str:
    """The range column of one fact's rows: one range, or one per symbol where they or their rules differ."""
    pairs = [(float(lo), float(hi)) for lo, hi in zip(g["low"], g["high"], strict=True)]
    texts = [range_text(lo, hi) for lo, hi in pairs]
    if len(set(texts)) <= 1 and g["source"].nunique() <= 1:
        return texts[0] if texts else "—"
    return "; ".join(f"{s}: {t}" for s, t in zip(g["symbol"], texts, strict=True))


def _joined(values: Iterable[Any]) -> str:
    return "; ".join(dict.fromkeys(str(v) for v in values if isinstance(v, str) and v))


def _notes(g: pd.DataFrame) -> str:
    """The note column of one fact's rows: one note, or each symbol's where they differ."""
    notes = {
        str(sym): str(n) for sym, n in zip(g["symbol"], g["note"], strict=True) if isinstance(n, str) and n
    }
    if len(set(notes.values())) <= 1:
        return next(iter(notes.values()), "")
    return "; ".join(f"{sym}: {n}" for sym, n in notes.items())


def run_facts_markdown(table: pd.DataFrame) -> str:
    """One run's facts table (:func:`facts_table`) as markdown: one row per fact, one column per symbol
    with a ✓ or ✗ where the fact has a range, then the real range, the source and a note."""
    symbols = list(dict.fromkeys(table["symbol"]))
    has_note = "note" in table.columns
    head = "| fact | " + " | ".join(symbols) + " | real range | source |" + (" note |" if has_note else "")
    lines = [head, "|---|" + "---|" * (len(symbols) + 2 + int(has_note))]
    for fact, g in table.groupby("fact", sort=False):
        cells = [_num(row["value"]) + _mark(row["in_range"]) for _, row in g.iterrows()]
        line = f"| {fact} | " + " | ".join(cells) + f" | {_fact_ranges(g)} | {_cell(_joined(g['source']))} |"
        if has_note:
            line += f" {_cell(_notes(g))} |"
        lines.append(line)
    return "\n".join(lines) + "\n"


MAX_RUN_COLUMNS = 6
"""The pooled table shows each run's value up to this many runs, else their median and range."""


def pooled_facts_markdown(table: pd.DataFrame) -> str:
    """The pooled facts (:func:`pooled_facts_table`) as markdown: one table per symbol, one row per fact:
    the runs' values (each, up to :data:`MAX_RUN_COLUMNS` runs), how many runs are in range, the pooled
    value with its mark and interval, the real range and the source."""
    runs = [r for r in dict.fromkeys(table["run"]) if r != POOLED]
    each = len(runs) <= MAX_RUN_COLUMNS
    pooled = table[table["run"] == POOLED]
    boot = dict(table.attrs.get("bootstrap", {}))
    level = float(boot.get("level", CI_LEVEL))
    lines = [
        f"Pooled over the minutes of {len(runs)} runs; interval: {level:.0%} percentile bootstrap "
        f"resampling runs ({boot.get('draws', BOOTSTRAP_DRAWS)} draws, seed "
        f"{boot.get('seed', BOOTSTRAP_SEED)}). ✓/✗: inside/outside the real range; runs in range: "
        "the runs whose own value is inside.",
        "",
    ]
    run_heads = [_cell(str(r)) for r in runs] if each else ["runs: median [min, max]"]
    for sym in dict.fromkeys(pooled["symbol"]):
        lines += [f"### {sym}", ""]
        head = [
            "fact",
            *run_heads,
            "runs in range",
            "pooled",
            f"{level:.0%} interval",
            "real range",
            "source",
        ]
        head.append("note")
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        mine = table[table["symbol"] == sym]
        for _, row in pooled[pooled["symbol"] == sym].iterrows():
            fact = row["fact"]
            per = mine[(mine["fact"] == fact) & (mine["run"] != POOLED)]
            by_run = {str(r["run"]): r for _, r in per.iterrows()}
            if each:
                cells = [
                    _num(by_run[r]["value"]) + _mark(by_run[r]["in_range"]) if r in by_run else "—"
                    for r in map(str, runs)
                ]
            else:
                v = _finite(per["value"].to_numpy(dtype=float))
                cells = [f"{_num(np.median(v))} [{_num(v.min())}, {_num(v.max())}]" if len(v) else "—"]
            judged = [r for r in per["in_range"] if _mark(r)]
            inside = f"{sum(bool(r) for r in judged)}/{len(judged)}" if judged else "—"
            interval = (
                f"[{_num(row['ci_low'])}, {_num(row['ci_high'])}]"
                if math.isfinite(float(row["ci_low"]))
                else "—"
            )
            lines.append(
                "| "
                + " | ".join(
                    [
                        str(fact),
                        *cells,
                        inside,
                        _num(row["value"]) + _mark(row["in_range"]),
                        interval,
                        range_text(float(row["low"]), float(row["high"])),
                        _cell(str(row["source"])),
                        _cell(str(row["note"] or "")),
                    ]
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _point_title(g: pd.DataFrame, keys: Sequence[str], several: bool) -> str:
    if not several:
        return "all runs"
    values = ", ".join(f"{k.split('.')[-1]} = {g[k].iloc[0]}" for k in keys)
    return f"grid point {int(g['point'].iloc[0])}" + (f": {values}" if values else "")


def study_facts_markdown(table: pd.DataFrame, grid_keys: Sequence[str] | None = None) -> str:
    """The study's fact distribution (:func:`study_facts_table`) as markdown: per grid point (one table
    overall when the study has one), each symbol's facts: runs, median, 5th-95th percentile over the runs
    and the share of runs in range."""
    if table.empty:
        return "(no finished runs)\n"
    fixed = {"point", "symbol", "fact", "runs", "median", "p05", "p95", "in_range", "in_range_runs"}
    fixed |= {"judged_runs"}
    fixed |= {"low", "high", "source"}
    keys = list(grid_keys) if grid_keys is not None else [c for c in table.columns if c not in fixed]
    points = list(dict.fromkeys(table["point"]))
    lines: list[str] = []
    head = [
        "symbol",
        "fact",
        "runs",
        "median",
        "5th-95th percentile",
        "runs in range",
        "real range",
        "source",
    ]
    for point in points:
        g = table[table["point"] == point]
        lines += [f"### {_point_title(g, keys, len(points) > 1)}", ""]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for _, row in g.iterrows():
            share = float(row["in_range"])
            judged = (
                f"{share:.0%} ({int(row['in_range_runs'])}/{int(row['judged_runs'])})"
                if math.isfinite(share)
                else "—"
            )
            lines.append(
                "| "
                + " | ".join(
                    [
                        str(row["symbol"]),
                        str(row["fact"]),
                        str(int(row["runs"])),
                        _num(row["median"]),
                        f"{_num(row['p05'])} to {_num(row['p95'])}" if int(row["runs"]) else "—",
                        judged,
                        range_text(float(row["low"]), float(row["high"]))
                        + (" (median of the runs' own bounds)" if row["source"] == ALT_SPREAD_SOURCE else ""),
                        _cell(str(row["source"])),
                    ]
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def facts_markdown(table: pd.DataFrame) -> str:
    """Any of the three tables as markdown: a run's (:func:`run_facts_markdown`), pooled runs'
    (:func:`pooled_facts_markdown`, a ``run`` column) or a study's (:func:`study_facts_markdown`, a
    ``median`` column)."""
    if "run" in table.columns:
        return pooled_facts_markdown(table)
    if "median" in table.columns:
        return study_facts_markdown(table)
    return run_facts_markdown(table)
