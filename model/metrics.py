"""Pure functions over a run's tables: summaries, cascades, contagion, stylized facts, fragility.

Inputs are the DataFrames of :class:`model.market.CryptoMarket`: the long-format time series (one row
per ``time_s`` x ``symbol``), the liquidation events and the ADL events. Nothing here touches the
model, so the same functions serve notebooks, reports and Monte Carlo studies. Fractions are plain
fractions; ``*_pct`` values are percentages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

CASCADE_WINDOW_S = 900.0  # a cascade is judged over 15-minute windows
CASCADE_DROP = 0.03  # price move against the liquidated side of at least 3% ...
CASCADE_LIQ_SHARE = 0.01  # ... with liquidations of at least 1% of open interest in the window


def max_drawdown(prices: ArrayLike) -> float:
    """Largest peak-to-trough fall of a price path, as a fraction (0.2 = -20%)."""
    p = np.asarray(prices, dtype=np.float64)
    p = p[np.isfinite(p)]
    if len(p) < 2:
        return 0.0
    peak = np.maximum.accumulate(p)
    return float(np.max(1.0 - p / peak))


def max_drawup(prices: ArrayLike) -> float:
    """Largest trough-to-peak rise, as a fraction of the trough."""
    p = np.asarray(prices, dtype=np.float64)
    p = p[np.isfinite(p)]
    if len(p) < 2:
        return 0.0
    trough = np.minimum.accumulate(p)
    return float(np.max(p / trough - 1.0))


def log_returns(prices: ArrayLike) -> NDArray[np.float64]:
    """Log-returns of a price path (non-finite prices dropped)."""
    p = np.asarray(prices, dtype=np.float64)
    p = p[np.isfinite(p) & (p > 0)]
    return np.diff(np.log(p))


def realized_vol_per_day(prices: ArrayLike, sample_seconds: float) -> float:
    """Standard deviation of log-returns scaled to one day (fraction per sqrt(day))."""
    r = log_returns(prices)
    if len(r) < 2:
        return 0.0
    return float(np.std(r, ddof=1) * np.sqrt(86400.0 / sample_seconds))


def symbol_frame(timeseries: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """The rows of one symbol, sorted by time."""
    return timeseries[timeseries["symbol"] == symbol].sort_values("time_s").reset_index(drop=True)


def rolling_liquidations(timeseries: pd.DataFrame, symbol: str, window_s: float) -> pd.DataFrame:
    """Long and short liquidated notional over a trailing window (e.g. 86,400 s or 604,800 s), USD."""
    g = symbol_frame(timeseries, symbol)
    idx = pd.to_timedelta(g["time_s"], unit="s")
    rolled = (
        g.set_index(idx)[["liq_long_usd", "liq_short_usd"]].rolling(pd.to_timedelta(window_s, unit="s")).sum()
    )
    rolled.index = g["time_s"].to_numpy()
    return rolled


def detect_cascades(
    timeseries: pd.DataFrame,
    window_s: float = CASCADE_WINDOW_S,
    drop: float = CASCADE_DROP,
    liq_share: float = CASCADE_LIQ_SHARE,
) -> list[dict[str, Any]]:
    """Episodes where price moved by ``drop`` and liquidations reached ``liq_share`` of OI in a window.

    A long cascade is a fall with long liquidations, a short cascade (squeeze) a rise with short
    liquidations. Overlapping windows of one symbol and side merge into one episode.

    Returns:
        Dicts with ``symbol``, ``side`` (the liquidated side), ``start_s``, ``end_s``, ``drop_pct`` (the
        signed price move over the episode, %), ``liquidated_usd``.
    """
    episodes: list[dict[str, Any]] = []
    for symbol in timeseries["symbol"].unique():
        g = symbol_frame(timeseries, symbol)
        if len(g) < 2:
            continue
        t = g["time_s"].to_numpy()
        price = g["mid"].to_numpy()
        oi = g["open_interest_usd"].to_numpy()
        liq_long = np.cumsum(g["liq_long_usd"].to_numpy())
        liq_short = np.cumsum(g["liq_short_usd"].to_numpy())
        for side, cum, sign in (("long", liq_long, -1.0), ("short", liq_short, 1.0)):
            hits: list[tuple[int, int]] = []
            j = 0
            for i in range(len(t)):
                while t[i] - t[j] > window_s:
                    j += 1
                if i == j:
                    continue
                window = price[j : i + 1]
                move = (window[-1] / window.max() - 1.0) if sign < 0 else (window[-1] / window.min() - 1.0)
                liquidated = cum[i] - cum[j]
                if sign * move >= drop and liquidated >= liq_share * max(oi[j], 1.0):
                    hits.append((j, i))
            for j0, i0 in hits:
                if episodes and episodes[-1]["symbol"] == symbol and episodes[-1]["side"] == side:
                    last = episodes[-1]
                    if t[j0] <= last["end_s"]:
                        last["end_s"] = float(t[i0])
                        continue
                episodes.append(
                    {"symbol": symbol, "side": side, "start_s": float(t[j0]), "end_s": float(t[i0])}
                )
            for ep in episodes:
                if ep["symbol"] != symbol or ep["side"] != side or "drop_pct" in ep:
                    continue
                mask = (t >= ep["start_s"]) & (t <= ep["end_s"])
                idx = np.flatnonzero(mask)
                ep["drop_pct"] = float((price[idx[-1]] / price[idx[0]] - 1.0) * 100.0)
                ep["liquidated_usd"] = float(cum[idx[-1]] - (cum[idx[0] - 1] if idx[0] > 0 else 0.0))
    return sorted(episodes, key=lambda e: (e["start_s"], e["symbol"]))


def contagion_ratio(timeseries: pd.DataFrame, leader: str = "BTC") -> dict[str, float]:
    """Each alt's max drawdown divided by the leader's (> 1: the alt fell further)."""
    lead = max_drawdown(symbol_frame(timeseries, leader)["mid"])
    out = {}
    for symbol in timeseries["symbol"].unique():
        if symbol != leader:
            dd = max_drawdown(symbol_frame(timeseries, symbol)["mid"])
            out[symbol] = dd / lead if lead > 0 else float("nan")
    return out


def autocorrelation(x: ArrayLike, lag: int) -> float:
    """Sample autocorrelation at ``lag``."""
    a = np.asarray(x, dtype=np.float64)
    if len(a) <= lag + 1:
        return float("nan")
    a = a - a.mean()
    denom = float(np.dot(a, a))
    return float(np.dot(a[:-lag], a[lag:]) / denom) if denom > 0 else float("nan")


def hill_tail_index(returns: ArrayLike, tail_fraction: float = 0.05) -> float:
    """Hill estimator of the power-law exponent of |returns| over the largest ``tail_fraction``."""
    a = np.sort(np.abs(np.asarray(returns, dtype=np.float64)))[::-1]
    a = a[a > 0]
    k = max(int(len(a) * tail_fraction), 5)
    if len(a) <= k:
        return float("nan")
    return float(1.0 / np.mean(np.log(a[:k] / a[k])))


def stylized_facts(prices: ArrayLike) -> dict[str, float]:
    """Excess kurtosis, autocorrelation of returns and of |returns| (lags 1, 10), Hill tail index."""
    r = log_returns(prices)
    if len(r) < 30:
        return {}
    from scipy import stats

    return {
        "excess_kurtosis": float(stats.kurtosis(r)),
        "acf_r_1": autocorrelation(r, 1),
        "acf_r_10": autocorrelation(r, 10),
        "acf_abs_1": autocorrelation(np.abs(r), 1),
        "acf_abs_10": autocorrelation(np.abs(r), 10),
        "tail_index": hill_tail_index(r),
    }


def long_liquidation_peaks(timeseries: pd.DataFrame, symbol: str) -> tuple[float, float]:
    """The worst trailing 24 hours and 7 days of long liquidations of one symbol, USD."""
    day = rolling_liquidations(timeseries, symbol, 86_400.0)["liq_long_usd"].to_numpy()
    week = rolling_liquidations(timeseries, symbol, 7 * 86_400.0)["liq_long_usd"].to_numpy()
    return (float(day.max()) if len(day) else 0.0, float(week.max()) if len(week) else 0.0)


def deleveraging_profile(timeseries: pd.DataFrame, symbol: str = "BTC") -> dict[str, float]:
    """The figures ``MARKET_FACTS.md`` §1 gives for a multi-week deleveraging, measured on one symbol.

    Liquidation windows are trailing sums of the sampled long/short liquidated notional; the ratios say
    how persistent the clearing is: a one-day crash has ``week_over_day`` near 1 and ``total_over_week``
    near 1, a clearing spread evenly over a month near 7 and 4.3. §1 reports about 9 (the quoted day was
    not the worst) and 2.

    Returns:
        ``return_pct``, ``max_drawdown_pct``, ``min_price_usd``, ``oi_change_pct``,
        ``long_liq_max_day_usd``, ``long_liq_max_week_usd``, ``long_liq_total_usd``,
        ``week_over_day``, ``total_over_week``, ``long_share`` (long / all liquidated notional),
        ``days_with_long_liq`` (days whose long liquidations exceed 5% of the worst day's).
    """
    g = symbol_frame(timeseries, symbol)
    mid = g["mid"].to_numpy(dtype=np.float64)
    t = g["time_s"].to_numpy(dtype=np.float64)
    longs = g["liq_long_usd"].to_numpy(dtype=np.float64)
    shorts = g["liq_short_usd"].to_numpy(dtype=np.float64)
    max_day, max_week = long_liquidation_peaks(timeseries, symbol)
    total = float(longs.sum())
    daily = pd.Series(longs).groupby((t // 86_400.0).astype(np.int64)).sum().to_numpy()
    oi0, oi1 = float(g["open_interest_usd"].iloc[0]), float(g["open_interest_usd"].iloc[-1])
    liquidated = total + float(shorts.sum())
    return {
        "return_pct": float((mid[-1] / mid[0] - 1.0) * 100.0),
        "max_drawdown_pct": max_drawdown(mid) * 100.0,
        "min_price_usd": float(np.nanmin(mid)),
        "oi_change_pct": float((oi1 / oi0 - 1.0) * 100.0) if oi0 > 0 else 0.0,
        "long_liq_max_day_usd": max_day,
        "long_liq_max_week_usd": max_week,
        "long_liq_total_usd": total,
        "week_over_day": max_week / max_day if max_day > 0 else 0.0,
        "total_over_week": total / max_week if max_week > 0 else 0.0,
        "long_share": total / liquidated if liquidated > 0 else 0.0,
        "days_with_long_liq": int((daily > 0.05 * max_day).sum()) if max_day > 0 else 0,
    }


def summarize(timeseries: pd.DataFrame, liquidations: pd.DataFrame, adl: pd.DataFrame) -> dict[str, Any]:
    """Per-symbol metrics and the cascades of a run (the keys of ``summary.json``).

    Per symbol: ``return_pct``, ``max_drawdown_pct``, ``liquidations_long_usd``,
    ``liquidations_short_usd``, ``liquidation_count``, ``adl_count``, ``oi_start_usd``, ``oi_end_usd``,
    ``oi_change_pct``, ``realized_vol`` (per sqrt(day)), ``volume_usd``, and from
    :func:`long_liquidation_peaks` ``long_liq_max_day_usd`` and ``long_liq_max_week_usd``, and
    ``long_liq_share`` (long / all liquidated notional), so that studies can measure how persistent
    the clearing is.
    """
    symbols: dict[str, dict[str, float]] = {}
    sample_s = (
        float(np.median(np.diff(np.unique(timeseries["time_s"]))))
        if timeseries["time_s"].nunique() > 1
        else 1.0
    )
    for symbol in timeseries["symbol"].unique():
        g = symbol_frame(timeseries, symbol)
        mid = g["mid"].to_numpy()
        liq = liquidations[liquidations["symbol"] == symbol] if len(liquidations) else liquidations
        oi0, oi1 = float(g["open_interest_usd"].iloc[0]), float(g["open_interest_usd"].iloc[-1])
        symbols[str(symbol)] = {
            "return_pct": float((mid[-1] / mid[0] - 1.0) * 100.0),
            "max_drawdown_pct": max_drawdown(mid) * 100.0,
            "liquidations_long_usd": float(g["liq_long_usd"].sum()),
            "liquidations_short_usd": float(g["liq_short_usd"].sum()),
            "liquidation_count": len(liq),
            "adl_count": int((adl["symbol"] == symbol).sum()) if len(adl) else 0,
            "oi_start_usd": oi0,
            "oi_end_usd": oi1,
            "oi_change_pct": float((oi1 / oi0 - 1.0) * 100.0) if oi0 > 0 else 0.0,
            "realized_vol": realized_vol_per_day(mid, sample_s),
            "volume_usd": float(g["volume_usd"].sum()),
        }
        metrics = symbols[str(symbol)]
        metrics["long_liq_max_day_usd"], metrics["long_liq_max_week_usd"] = long_liquidation_peaks(
            timeseries, str(symbol)
        )
        liquidated = metrics["liquidations_long_usd"] + metrics["liquidations_short_usd"]
        metrics["long_liq_share"] = metrics["liquidations_long_usd"] / liquidated if liquidated > 0 else 0.0
    return {"symbols": symbols, "cascades": detect_cascades(timeseries)}
