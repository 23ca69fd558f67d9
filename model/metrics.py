"""Pure functions over a run's tables: summaries, cascades, contagion, stylized facts, fragility.

Inputs are the DataFrames of :class:`model.market.CryptoMarket`: the long-format time series (one row
per ``time_s`` x ``symbol``), the liquidation events and the ADL events. Nothing here touches the
model, so the same functions serve notebooks, reports and Monte Carlo studies. Fractions are plain
fractions; ``*_pct`` values are percentages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

CASCADE_WINDOW_S = 900.0  # a cascade is judged over 15-minute windows
CASCADE_DROP = 0.03  # price move against the liquidated side of at least 3% ...
CASCADE_LIQ_SHARE = 0.01  # ... with liquidations of at least 1% of open interest in the window

ADL_LEVERAGE_BANDS = (1.0, 3.0)
"""Effective-leverage bounds of :func:`adl_metrics`' shares (``adl_share_below_1x``, ``..._3x``)."""


@dataclass(frozen=True)
class CascadeDefinition:
    """What counts as a liquidation cascade (:func:`detect_cascades`), with today's defaults.

    A window of at most ``window_s`` seconds of one symbol is a *hit* for the long side when the price at
    its end is at least ``min_drop`` below the highest price in the window and the longs liquidated in
    it reach both ``min_liq_share_of_oi`` of the open interest at the window's start and
    ``min_liquidated_usd``; the short side mirrors it (a rise from the window's lowest price, shorts
    liquidated). Overlapping hits of one symbol and side merge into one episode. An episode's reported
    ``move_pct`` is measured the same way (peak to trough for longs, trough to peak for shorts, within
    the episode), so it is never smaller in size than ``min_drop``.

    Attributes:
        min_drop: the price move against the liquidated side, a fraction (0.03 = 3%).
        window_s: the longest window, simulated seconds (900 = 15 minutes).
        min_liq_share_of_oi: liquidated notional of that side in the window over the symbol's open
            interest at the window's start, a fraction (0.01 = 1%).
        min_liquidated_usd: an absolute floor on that notional, USD (0: none).
    """

    min_drop: float = CASCADE_DROP
    window_s: float = CASCADE_WINDOW_S
    min_liq_share_of_oi: float = CASCADE_LIQ_SHARE
    min_liquidated_usd: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """The fields as a JSON-safe dict (``summary.json``'s ``cascade_definition``).

        Returns:
            Field name -> value.
        """
        return {k: float(v) for k, v in asdict(self).items()}

    def describe(self) -> str:
        """One sentence for reports and the terminal.

        Returns:
            The definition in words.
        """
        return describe_cascade_definition(self.as_dict())


def describe_cascade_definition(definition: dict[str, Any]) -> str:
    """A cascade definition (:meth:`CascadeDefinition.as_dict`) in one sentence.

    Args:
        definition: the fields of a :class:`CascadeDefinition`.

    Returns:
        The sentence.
    """
    d = {**CascadeDefinition().as_dict(), **definition}
    floor = d["min_liquidated_usd"]
    return (
        f"a cascade is a price move of at least {d['min_drop'] * 100:g}% against one side within "
        f"{d['window_s'] / 60:g} minutes while that side's liquidations reach "
        f"{d['min_liq_share_of_oi'] * 100:g}% "
        "of the open interest" + (f" and ${floor:,.0f}" if floor > 0 else "") + " in the same window"
    )


DEFAULT_CASCADE = CascadeDefinition()
"""Today's definition: 3% within 15 minutes with 1% of open interest liquidated."""


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
    timeseries: pd.DataFrame, definition: CascadeDefinition | None = None
) -> list[dict[str, Any]]:
    """Episodes where the price moved against one side while that side was liquidated heavily.

    A long cascade is a fall with long liquidations, a short cascade (squeeze) a rise with short
    liquidations; :class:`CascadeDefinition` says what a hit window is. Overlapping hit windows of one
    symbol and side merge into one episode.

    Args:
        timeseries: the sampled series (``mid``, ``open_interest_usd``, ``liq_long_usd``,
            ``liq_short_usd`` per ``time_s`` and ``symbol``).
        definition: the thresholds (default: :data:`DEFAULT_CASCADE`).

    Returns:
        Dicts with ``symbol``, ``side`` (the liquidated side), ``start_s``, ``end_s`` (simulated
        seconds), ``drop_pct`` (the signed price change from the episode's first to its last sample,
        %), ``liquidated_usd`` (that side's notional over the episode, USD) and ``move_pct`` (the move
        the detection measures, over the whole episode: minus the largest peak-to-trough fall for a long
        cascade, the largest trough-to-peak rise for a short one, %; at least ``min_drop`` in size).
    """
    d = definition or DEFAULT_CASCADE
    window_s, drop, liq_share = d.window_s, d.min_drop, d.min_liq_share_of_oi
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
                if (
                    sign * move >= drop
                    and liquidated >= liq_share * max(oi[j], 1.0)
                    and liquidated >= d.min_liquidated_usd
                ):
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
                seg = price[idx]
                ep["move_pct"] = (-max_drawdown(seg) if sign < 0 else max_drawup(seg)) * 100.0
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


def stress_window(timeseries: pd.DataFrame, leader: str) -> tuple[float, float] | None:
    """The leader's worst fall: from the peak before its maximum drawdown to the trough, simulated seconds.

    Args:
        timeseries: the sampled series.
        leader: the symbol whose fall defines the window (the first symbol, BTC in the presets).

    Returns:
        ``(start_s, end_s)``, or None when the leader never fell (or has fewer than two samples).
    """
    g = symbol_frame(timeseries, leader)
    p = g["mid"].to_numpy(dtype=np.float64)
    if len(p) < 2 or not np.isfinite(p).all():
        return None
    peak = np.maximum.accumulate(p)
    dd = 1.0 - p / peak
    trough = int(np.argmax(dd))
    if dd[trough] <= 0:
        return None
    start = int(np.flatnonzero(p[: trough + 1] == peak[trough])[0])
    t = g["time_s"].to_numpy(dtype=np.float64)
    return float(t[start]), float(t[trough])


LEAD_LAG_MAX_S = 60.0
"""Largest lead or lag (s) the cross-correlation of :func:`contagion` looks at: BTC leads the alts by
seconds to a minute on real venues (MARKET_FACTS §3)."""


CALM_MIN_RETURNS = 10
"""Fewest 1-minute returns outside the stress window that :func:`contagion` computes a calm correlation
from (a correlation of a handful of points is near +-1 by chance)."""


def _corr(a: np.ndarray, b: np.ndarray, min_n: int = 3) -> float | None:
    """Pearson correlation, None for fewer than ``min_n`` pairs or a constant series."""
    if len(a) != len(b) or len(a) < min_n or a.std() <= 0 or b.std() <= 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def lead_lag(leader_r: np.ndarray, alt_r: np.ndarray, max_lag: int) -> tuple[int, float] | None:
    """The lag (in samples) at which the leader's returns correlate most with the alt's later returns.

    ``corr(leader[t], alt[t + k])`` for k in ``[-max_lag, max_lag]``; k > 0: the leader leads by k
    samples, k < 0: the alt leads. Ties go to the smallest |k|, then to the leader leading.

    Args:
        leader_r: the leader's returns, one per sample interval.
        alt_r: the alt's, on the same samples.
        max_lag: the largest |k| looked at, samples.

    Returns:
        ``(k, correlation at k)``, or None when no lag has a correlation.
    """
    best: tuple[int, float] | None = None
    n = min(len(leader_r), len(alt_r))
    for k in sorted(range(-max_lag, max_lag + 1), key=lambda k: (abs(k), -k)):
        c = _corr(leader_r[: n - k], alt_r[k:n]) if k >= 0 else _corr(leader_r[-k:n], alt_r[: n + k])
        if c is not None and (best is None or c > best[1]):
            best = (k, c)
    return best


def contagion(timeseries: pd.DataFrame, leader: str) -> dict[str, dict[str, float | None]]:
    """How each alt followed the leader: drawdown ratio, lead-lag and return correlations.

    - ``drawdown_ratio``: :func:`contagion_ratio` (the alt's maximum drawdown over the leader's, over the
      whole run; > 1: the alt fell further).
    - ``stress_corr``: the Pearson correlation of the sampled log-returns of the alt and the leader inside
      :func:`stress_window` (the leader's worst fall).
    - ``calm_corr``: the same correlation of 1-minute log-returns (the samples' when they are coarser)
      outside that window: the ordinary co-movement, against which the stress correlation rises (None
      with fewer than :data:`CALM_MIN_RETURNS` returns there).
    - ``lead_lag_s`` and ``lead_lag_corr``: the lag (s, > 0: the leader leads) within
      :data:`LEAD_LAG_MAX_S` at which the leader's sampled returns correlate most with the alt's later
      ones (:func:`lead_lag`), over the whole run, and that correlation; the resolution is the sample
      period, so a lead of seconds needs samples of a few seconds.

    Each is None when too few returns hold it or a series is constant.

    Args:
        timeseries: the sampled series.
        leader: the leader symbol.

    Returns:
        Alt symbol -> ``{"drawdown_ratio", "stress_corr", "calm_corr", "lead_lag_s", "lead_lag_corr"}``.
    """
    ratios = contagion_ratio(timeseries, leader)
    window = stress_window(timeseries, leader)
    lead = symbol_frame(timeseries, leader)
    t = lead["time_s"].to_numpy(dtype=np.float64)
    sample_s = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    b_log = np.log(lead["mid"].to_numpy(dtype=np.float64))
    # 1-minute returns: every k-th sample when the samples divide a minute, else the samples themselves
    step = round(60.0 / sample_s) if 0 < sample_s < 60.0 and (60.0 / sample_s) % 1 == 0 else 1
    max_lag = int(LEAD_LAG_MAX_S // sample_s) if sample_s > 0 else 0
    out: dict[str, dict[str, float | None]] = {}
    for symbol, ratio in ratios.items():
        alt = symbol_frame(timeseries, symbol)
        a_log = np.log(alt["mid"].to_numpy(dtype=np.float64))
        same = len(a_log) == len(b_log)
        stress: float | None = None
        calm: float | None = None
        if same and window is not None:
            inside = (t >= window[0]) & (t <= window[1])
            # returns whose both ends lie inside the window
            both = inside[1:] & inside[:-1]
            stress = _corr(np.diff(a_log)[both], np.diff(b_log)[both])
            ta, am, bm = t[::step], a_log[::step], b_log[::step]
            outside = ~((ta >= window[0]) & (ta <= window[1]))
            keep = outside[1:] & outside[:-1]
            calm = _corr(np.diff(am)[keep], np.diff(bm)[keep], CALM_MIN_RETURNS)
        elif same:
            calm = _corr(np.diff(a_log[::step]), np.diff(b_log[::step]), CALM_MIN_RETURNS)
        lag: tuple[int, float] | None = None
        if same and max_lag >= 1:
            lag = lead_lag(np.diff(b_log), np.diff(a_log), max_lag)
        out[symbol] = {
            "drawdown_ratio": ratio if np.isfinite(ratio) else None,
            "stress_corr": stress,
            "calm_corr": calm,
            "lead_lag_s": lag[0] * sample_s if lag is not None else None,
            "lead_lag_corr": lag[1] if lag is not None else None,
        }
    return out


def adl_metrics(adl: pd.DataFrame) -> dict[str, Any]:
    """Who bore the auto-deleveraging: notional per symbol and by effective leverage.

    Args:
        adl: the ADL events (``ADL_COLUMNS``: ``symbol``, ``notional_usd``, ``effective_leverage``).

    Returns:
        ``adl_notional_usd`` (all fills, USD), ``adl_notional_by_symbol_usd`` (symbol -> USD, symbols with
        ADL only), ``adl_share_below_1x`` and ``adl_share_below_3x`` (the share of the ADL notional closed
        on accounts whose effective leverage was below 1x / 3x, fractions; None without ADL).
    """
    if adl is None or len(adl) == 0:
        return {
            "adl_notional_usd": 0.0,
            "adl_notional_by_symbol_usd": {},
            "adl_share_below_1x": None,
            "adl_share_below_3x": None,
        }
    notional = adl["notional_usd"].to_numpy(dtype=np.float64)
    lev = adl["effective_leverage"].to_numpy(dtype=np.float64)
    total = float(notional.sum())
    by_symbol = adl.groupby("symbol", sort=False)["notional_usd"].sum()
    out: dict[str, Any] = {
        "adl_notional_usd": total,
        "adl_notional_by_symbol_usd": {str(k): float(v) for k, v in by_symbol.items()},
    }
    for bound in ADL_LEVERAGE_BANDS:
        share = float(notional[lev < bound].sum()) / total if total > 0 else None
        out[f"adl_share_below_{bound:g}x"] = share
    return out


def insurance_fund_profile(
    times_s: ArrayLike,
    balance_usd: ArrayLike,
    start_usd: float,
    minimum_usd: float,
    exhausted_s: float | None = None,
) -> dict[str, float | None]:
    """The insurance fund's peak, drawdown and the first time it ran dry.

    Args:
        times_s: sample times, simulated seconds.
        balance_usd: the fund's balance at those times, USD.
        start_usd: its balance at the start, USD.
        minimum_usd: its lowest balance (the engine's, checked every step), USD.
        exhausted_s: when the engine found the fund's equity below zero (before its ADL or an injection
            restored it, so a sample may never see it), simulated seconds; None: never.

    Returns:
        ``insurance_fund_peak_usd`` (the highest sampled balance, at least the start, USD),
        ``insurance_fund_drawdown_usd`` (start - minimum, USD, >= 0),
        ``insurance_fund_drawdown_pct`` (that over the start, percent, >= 0; None for an empty fund) and
        ``insurance_fund_exhausted_s`` (the earlier of ``exhausted_s`` and the first sample at which the
        balance was <= 0, simulated seconds; None when neither happened).
    """
    t = np.asarray(times_s, dtype=np.float64)
    b = np.asarray(balance_usd, dtype=np.float64)
    dry = np.flatnonzero(b <= 0.0)
    times = [float(t[dry[0]])] if len(dry) else []
    if exhausted_s is not None:
        times.append(float(exhausted_s))
    drawdown = max(0.0, float(start_usd) - float(minimum_usd))
    return {
        "insurance_fund_peak_usd": max(float(start_usd), float(b.max()) if len(b) else float(start_usd)),
        "insurance_fund_drawdown_usd": drawdown,
        "insurance_fund_drawdown_pct": drawdown / float(start_usd) * 100.0 if start_usd > 0 else None,
        "insurance_fund_exhausted_s": min(times, default=None),
    }


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


def summarize(
    timeseries: pd.DataFrame,
    liquidations: pd.DataFrame,
    adl: pd.DataFrame,
    definition: CascadeDefinition | None = None,
) -> dict[str, Any]:
    """Per-symbol metrics and the cascades of a run (the keys of ``summary.json``).

    Per symbol: ``return_pct``, ``max_drawdown_pct``, ``liquidations_long_usd``,
    ``liquidations_short_usd``, ``liquidation_count``, ``adl_count``, ``oi_start_usd``, ``oi_end_usd``,
    ``oi_change_pct``, ``realized_vol`` (per sqrt(day)), ``volume_usd``, and from
    :func:`long_liquidation_peaks` ``long_liq_max_day_usd`` and ``long_liq_max_week_usd``, and
    ``long_liq_share`` (long / all liquidated notional), so that studies can measure how persistent
    the clearing is; then ``adl_notional_usd`` (USD closed by ADL in that symbol) and, for every symbol
    but the leader (the first), ``contagion_drawdown_ratio``, ``contagion_stress_corr``,
    ``contagion_calm_corr``, ``contagion_lead_lag_s`` and ``contagion_lead_lag_corr`` (see
    :func:`contagion`).

    Args:
        timeseries: the sampled series.
        liquidations: the liquidation events.
        adl: the ADL events.
        definition: what counts as a cascade (default: :data:`DEFAULT_CASCADE`).

    Returns:
        ``symbols`` (symbol -> metrics), ``cascades`` (:func:`detect_cascades`) and
        ``cascade_definition`` (the definition used, :meth:`CascadeDefinition.as_dict`).
    """
    definition = definition or DEFAULT_CASCADE
    symbols: dict[str, dict[str, Any]] = {}
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
        metrics["adl_notional_usd"] = (
            float(adl.loc[adl["symbol"] == symbol, "notional_usd"].sum()) if len(adl) else 0.0
        )
    names = list(symbols)
    if names:
        for symbol, c in contagion(timeseries, names[0]).items():
            symbols[symbol]["contagion_drawdown_ratio"] = c["drawdown_ratio"]
            symbols[symbol]["contagion_stress_corr"] = c["stress_corr"]
            symbols[symbol]["contagion_calm_corr"] = c["calm_corr"]
            symbols[symbol]["contagion_lead_lag_s"] = c["lead_lag_s"]
            symbols[symbol]["contagion_lead_lag_corr"] = c["lead_lag_corr"]
    return {
        "symbols": symbols,
        "cascades": detect_cascades(timeseries, definition),
        "cascade_definition": definition.as_dict(),
    }
