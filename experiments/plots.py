"""Seaborn/matplotlib figures of a run and of a study, written as PNG files.

Figures are plain ``matplotlib.figure.Figure`` objects, not pyplot's: drawing them neither selects a
backend nor registers them with pyplot, so importing this module in a notebook leaves inline plotting as
it was, and a long study's figures are freed when written. The seaborn style applies only inside
:func:`run_figures` and :func:`study_figures` (a context, not ``set_theme``), so it never leaks into the
caller's own plots.

Run figures (one PNG each, under ``figures/``): ``price_<SYM>.png`` (mid and index with liquidation and
ADL markers and event lines), ``open_interest.png``, ``funding.png``, ``depth.png``, ``liquidations.png``,
``insurance_fund.png``, ``adl.png`` (when there was ADL), ``sentiment.png``, ``facts.png`` (the stylized
facts of the 1-minute returns: autocorrelations, distribution, kurtosis by horizon). Each ``*_figure`` (and
``liquidation_bars``) function writes a PNG and returns its path; the matching ``*_plot`` function returns
the ``Figure`` itself (for notebooks and tests). :func:`compare_figures` overlays several runs. Study
figures: ``fragility.png`` (probabilities with confidence intervals against the swept parameter),
``liquidated.png`` and ``drawdowns.png``.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from experiments.format import format_hms, format_usd
from experiments.stats import ablation_table, compact_grid_labels, risk_outcomes, threshold_label
from experiments.stylized import KURTOSIS_HORIZONS, aggregate, autocorrelation, excess_kurtosis, minute_series

_DPI = 110
_LONG = "#d62728"
_SHORT = "#2ca02c"
_ADL = "#000000"
_FUND = "#9467bd"


def _seaborn() -> ModuleType:
    """seaborn, imported when the first figure is drawn.

    Importing seaborn takes about half a second (it imports scipy.stats and pyplot). Every process that
    imports the run layer pays for this module's imports, also those that draw nothing: ``cascadelab
    validate``, ``--help`` and each study worker (which runs with ``figures=False``). So seaborn, alone
    of the dependencies, is imported here, in a function.
    """
    import seaborn

    return seaborn


def _time_axis(ts: pd.DataFrame) -> tuple[str, float]:
    """Column label and divisor to show simulated time in minutes, hours or days."""
    span = float(ts["time_s"].max() - ts["time_s"].min()) if len(ts) else 0.0
    if span > 4 * 86_400:
        return "simulated time (days)", 86_400.0
    if span > 3 * 3600:
        return "simulated time (hours)", 3600.0
    return "simulated time (minutes)", 60.0


def _subplots(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    """A figure outside pyplot (no backend, no global registry) and its axes, as ``plt.subplots``."""
    fig_kw = {k: kwargs.pop(k) for k in ("figsize",) if k in kwargs}
    fig = Figure(**fig_kw)
    return fig, fig.subplots(nrows, ncols, **kwargs)


@contextmanager
def _style() -> Iterator[None]:
    """The report's seaborn style, for the figures drawn inside the block only."""
    sns = _seaborn()
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        yield


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    return path


def _symbols(ts: pd.DataFrame) -> list[str]:
    return [str(s) for s in pd.unique(ts["symbol"])] if "symbol" in ts else []


def _usd_formatter(value: float, _pos: int | None = None) -> str:
    """Axis ticks in compact dollars, three significant digits (``$1.23B``, ``$4.5M``, ``$950``)."""
    return format_usd(value, significant=3)


def _fund_exhausted_s(ts: pd.DataFrame) -> float | None:
    """First sample time at which the insurance fund was <= 0 (simulated seconds), or None."""
    if "insurance_fund_usd" not in ts or ts.empty:
        return None
    g = _global_series(ts, "insurance_fund_usd")
    dry = g.loc[g["insurance_fund_usd"] <= 0.0, "time_s"]
    return float(dry.iloc[0]) if len(dry) else None


def _event_lines(ax: Any, ts: pd.DataFrame, adl: pd.DataFrame | None, div: float) -> None:
    """Vertical lines at the first ADL fill and at the insurance fund's exhaustion (when they happen)."""
    if adl is not None and len(adl):
        ax.axvline(float(adl["time_s"].min()) / div, color=_ADL, ls=":", lw=1.2, label="first ADL")
    dry = _fund_exhausted_s(ts)
    if dry is not None:
        ax.axvline(dry / div, color=_FUND, ls="--", lw=1.2, label="insurance fund exhausted")


def price_plot(ts: pd.DataFrame, liq: pd.DataFrame, symbol: str, adl: pd.DataFrame | None = None) -> Figure:
    """Mid and index of one symbol with liquidation and ADL markers and the run's event lines.

    A triangle per liquidation (size ~ sqrt(notional); down: a long, up: a short), a black cross per ADL
    fill, a dotted line at the first ADL and a dashed one when the insurance fund ran dry.

    Args:
        ts: the run's time series (long format).
        liq: the run's liquidation events.
        symbol: the symbol to draw.
        adl: the run's ADL events (None: no ADL markers).

    Returns:
        The figure.
    """
    label, div = _time_axis(ts)
    g = ts[ts["symbol"] == symbol]
    fig, ax = _subplots(figsize=(10, 4.2))
    ax.plot(g["time_s"] / div, g["mid"], lw=1.1, color="#1f77b4", label="mid")
    if "index" in g:
        ax.plot(g["time_s"] / div, g["index"], lw=0.8, ls="--", color="#7f7f7f", label="index")
    if len(liq) and "symbol" in liq:
        ev = liq[liq["symbol"] == symbol]
        if "kind" in ev:
            ev = ev[ev["kind"] != "adl"]  # the ADL closes are drawn as ADL fills
        if len(ev):
            notional = ev["notional_usd"].astype(float).to_numpy()
            size = 8 + 60 * np.sqrt(notional / max(float(notional.max()), 1.0))
            for side, color, marker in (("long", _LONG, "v"), ("short", _SHORT, "^")):
                mask = (ev["side"] == side).to_numpy()
                if mask.any():
                    ax.scatter(
                        ev["time_s"].to_numpy()[mask] / div,
                        ev["price_usd"].to_numpy()[mask],
                        s=size[mask],
                        c=color,
                        marker=marker,
                        alpha=0.55,
                        lw=0,
                        label=f"{side}s liquidated ({int(mask.sum())})",
                    )
    sym_adl = adl[adl["symbol"] == symbol] if adl is not None and len(adl) else None
    if sym_adl is not None and len(sym_adl):
        ax.scatter(
            sym_adl["time_s"].to_numpy() / div,
            sym_adl["price_usd"].to_numpy(),
            s=22,
            c=_ADL,
            marker="x",
            lw=1.0,
            label=f"ADL fills ({len(sym_adl)})",
        )
    _event_lines(ax, ts, adl, div)
    ax.set_title(f"{symbol}: price, liquidations and ADL")
    ax.set_xlabel(label)
    ax.set_ylabel("USD")
    ax.legend(loc="best", fontsize=8)
    return fig


def price_figure(
    ts: pd.DataFrame, liq: pd.DataFrame, symbol: str, path: Path, adl: pd.DataFrame | None = None
) -> Path:
    """:func:`price_plot` written as a PNG.

    Args:
        ts: the run's time series (long format).
        liq: the run's liquidation events.
        symbol: the symbol to draw.
        path: the PNG to write.
        adl: the run's ADL events (None: no ADL markers).

    Returns:
        ``path``.
    """
    return _save(price_plot(ts, liq, symbol, adl), path)


def _per_symbol_panels(
    ts: pd.DataFrame,
    column: str,
    title: str,
    ylabel: str,
    path: Path,
    *,
    scale: float = 1.0,
    usd: bool = False,
) -> Path:
    sns = _seaborn()
    label, div = _time_axis(ts)
    symbols = _symbols(ts)
    fig, axes = _subplots(len(symbols), 1, figsize=(10, 2.3 * len(symbols) + 0.6), sharex=True, squeeze=False)
    palette = sns.color_palette(n_colors=max(len(symbols), 1))
    for ax, sym, color in zip(axes[:, 0], symbols, palette, strict=False):
        g = ts[ts["symbol"] == sym]
        sns.lineplot(x=g["time_s"] / div, y=g[column] * scale, ax=ax, color=color, lw=1.1)
        ax.set_ylabel(f"{sym}\n{ylabel}")
        ax.set_xlabel("")
        if usd:
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_usd_formatter))
    axes[-1, 0].set_xlabel(label)
    axes[0, 0].set_title(title)
    return _save(fig, path)


MAX_BARS = 240
"""At most this many bars per panel of :func:`liquidation_bars_plot` (samples are summed into bins)."""


def _binned_liquidations(g: pd.DataFrame, max_bars: int) -> tuple[pd.DataFrame, float]:
    """One symbol's long/short liquidations summed into at most ``max_bars`` equal time bins.

    Returns:
        The bins (``time_s``: the bin's start, ``liq_long_usd``, ``liq_short_usd``) and the bin width
        in simulated seconds.
    """
    t = g["time_s"].to_numpy(dtype=np.float64)
    step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    span = float(t.max() - t.min()) + step if len(t) else step
    width = max(step, span / max_bars)
    width = step * math.ceil(width / step - 1e-9)
    key = np.floor((t - (t.min() if len(t) else 0.0)) / width)
    binned = g.groupby(key)[["liq_long_usd", "liq_short_usd"]].sum()
    binned["time_s"] = (t.min() if len(t) else 0.0) + binned.index.to_numpy() * width
    return binned.reset_index(drop=True), width


def liquidation_bars_plot(ts: pd.DataFrame, max_bars: int = MAX_BARS) -> Figure:
    """Long (up) and short (down) liquidated notional per time bin, one panel per symbol.

    The samples are summed into at most ``max_bars`` bins, so that a month-long run still shows bars a
    few pixels wide; the bars are drawn opaque with no edge (the seaborn style's white edges used to
    cover narrow bars entirely).

    Args:
        ts: the run's time series (``liq_long_usd``, ``liq_short_usd`` per sample).
        max_bars: the most bars per panel.

    Returns:
        The figure; each panel's first container holds the long bars, its second the short bars
        (heights negative).
    """
    label, div = _time_axis(ts)
    symbols = _symbols(ts)
    fig, axes = _subplots(len(symbols), 1, figsize=(10, 2.3 * len(symbols) + 0.6), sharex=True, squeeze=False)
    width_s = 0.0
    for ax, sym in zip(axes[:, 0], symbols, strict=False):
        binned, width_s = _binned_liquidations(ts[ts["symbol"] == sym], max_bars)
        x = (binned["time_s"].to_numpy() + width_s / 2) / div
        for values, color, name in (
            (binned["liq_long_usd"], _LONG, "longs"),
            (-binned["liq_short_usd"], _SHORT, "shorts (below 0)"),
        ):
            ax.bar(
                x,
                values,
                width=width_s / div,
                color=color,
                edgecolor=color,
                linewidth=0,
                alpha=1.0,
                label=name,
            )
        ax.axhline(0, color="black", lw=0.5)
        ax.set_ylabel(f"{sym}\nUSD")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_usd_formatter))
    axes[0, 0].legend(loc="best", fontsize=8)
    axes[0, 0].set_title(f"liquidated notional per {format_hms(width_s)} (h:m:s)")
    axes[-1, 0].set_xlabel(label)
    return fig


def liquidation_bars(ts: pd.DataFrame, path: Path) -> Path:
    """:func:`liquidation_bars_plot` written as a PNG.

    Args:
        ts: the run's time series (``liq_long_usd``, ``liq_short_usd`` per sample).
        path: the PNG to write.

    Returns:
        ``path``.
    """
    return _save(liquidation_bars_plot(ts), path)


def _global_series(ts: pd.DataFrame, column: str) -> pd.DataFrame:
    """A market-wide column (one value per time): the first symbol's rows."""
    first = _symbols(ts)[0]
    return ts.loc[ts["symbol"] == first, ["time_s", column]]


def insurance_fund_plot(ts: pd.DataFrame, adl: pd.DataFrame | None = None) -> Figure:
    """The insurance fund's balance over time, with its minimum and the run's event lines.

    Args:
        ts: the run's time series.
        adl: the run's ADL events (a dotted line at the first fill; None: none).

    Returns:
        The figure.
    """
    sns = _seaborn()
    label, div = _time_axis(ts)
    g = _global_series(ts, "insurance_fund_usd")
    fig, ax = _subplots(figsize=(10, 3.2))
    sns.lineplot(x=g["time_s"] / div, y=g["insurance_fund_usd"], ax=ax, color=_FUND, label="balance")
    if len(g):
        i_low = int(np.argmin(g["insurance_fund_usd"].to_numpy(dtype=float)))
        ax.scatter(
            [float(g["time_s"].iloc[i_low]) / div],
            [float(g["insurance_fund_usd"].iloc[i_low])],
            color=_FUND,
            marker="o",
            zorder=3,
        )
    _event_lines(ax, ts, adl, div)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_usd_formatter))
    ax.set_title("insurance fund (dot: sampled minimum)")
    ax.set_xlabel(label)
    ax.set_ylabel("USD")
    ax.legend(loc="best", fontsize=8)
    return fig


def insurance_fund_figure(ts: pd.DataFrame, path: Path, adl: pd.DataFrame | None = None) -> Path:
    """:func:`insurance_fund_plot` written as a PNG.

    Args:
        ts: the run's time series.
        path: the PNG to write.
        adl: the run's ADL events, optional.

    Returns:
        ``path``.
    """
    return _save(insurance_fund_plot(ts, adl), path)


def adl_plot(ts: pd.DataFrame, adl: pd.DataFrame) -> Figure:
    """ADL over time: cumulative ADL notional per symbol (top) and each fill's effective leverage (bottom).

    In the bottom panel a dot is one ADL fill: its effective leverage (log scale), its size ~ sqrt(its
    notional) and its colour its ADL ranking score (the ``rank`` column: the policy's score, higher scores
    closed first; a pro-rata policy's share of the round).

    Args:
        ts: the run's time series (for the time axis).
        adl: the ADL events (``time_s``, ``symbol``, ``notional_usd``, ``effective_leverage``, ``rank``).

    Returns:
        The figure.
    """
    sns = _seaborn()
    label, div = _time_axis(ts)
    fig, (top, bottom) = _subplots(2, 1, figsize=(10, 5.6), sharex=True)
    symbols = [str(s) for s in pd.unique(adl["symbol"])]
    palette = sns.color_palette(n_colors=max(len(symbols), 1))
    t_end = float(ts["time_s"].max()) if len(ts) else float(adl["time_s"].max())
    for sym, color in zip(symbols, palette, strict=False):
        g = adl[adl["symbol"] == sym].sort_values("time_s")
        t = np.concatenate([g["time_s"].to_numpy(dtype=float), [t_end]]) / div
        cum = np.cumsum(g["notional_usd"].to_numpy(dtype=float))
        top.step(t, np.concatenate([cum, cum[-1:]]), where="post", color=color, label=sym)
    top.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_usd_formatter))
    top.set_ylabel("cumulative ADL\nnotional, USD")
    top.set_title("auto-deleveraging over time")
    top.legend(loc="best", fontsize=8)
    notional = adl["notional_usd"].to_numpy(dtype=float)
    lev = np.maximum(adl["effective_leverage"].to_numpy(dtype=float), 1e-3)
    points = bottom.scatter(
        adl["time_s"].to_numpy(dtype=float) / div,
        lev,
        s=8 + 60 * np.sqrt(notional / max(float(notional.max()), 1.0)),
        c=adl["rank"].to_numpy(dtype=float),
        cmap="viridis",
        alpha=0.8,
        lw=0,
    )
    fig.colorbar(points, ax=bottom, label="ADL ranking score (higher: closed first)")
    for bound in (1.0, 3.0):
        bottom.axhline(bound, color="grey", ls="--", lw=0.7)
    bottom.set_yscale("log")
    bottom.set_ylabel("effective leverage\n(x, log)")
    bottom.set_xlabel(label)
    return fig


def adl_figure(ts: pd.DataFrame, adl: pd.DataFrame, path: Path) -> Path:
    """:func:`adl_plot` written as a PNG.

    Args:
        ts: the run's time series.
        adl: the ADL events.
        path: the PNG to write.

    Returns:
        ``path``.
    """
    return _save(adl_plot(ts, adl), path)


def sentiment_figure(ts: pd.DataFrame, path: Path) -> Path:
    """The fear-and-greed index (0-100) and the macro risk factor.

    Args:
        ts: the run's time series.
        path: the PNG to write.

    Returns:
        ``path``.
    """
    sns = _seaborn()
    label, div = _time_axis(ts)
    g = _global_series(ts, "sentiment")
    fig, ax = _subplots(figsize=(10, 3.4))
    ax.axhspan(0, 25, color=_LONG, alpha=0.08)
    ax.axhspan(75, 100, color=_SHORT, alpha=0.08)
    sns.lineplot(x=g["time_s"] / div, y=g["sentiment"], ax=ax, color="#ff7f0e", label="fear & greed")
    ax.set_ylim(0, 100)
    ax.set_ylabel("fear & greed (0-100)")
    ax.set_xlabel(label)
    if "macro" in ts:
        m = _global_series(ts, "macro")
        ax2 = ax.twinx()
        ax2.plot(m["time_s"] / div, m["macro"], color="#17becf", lw=0.9, label="macro factor")
        ax2.set_ylabel("macro factor")
        ax2.legend(loc="lower right", fontsize=8)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("sentiment and macro risk factor")
    return _save(fig, path)


FACTS_PLOT_LAGS = tuple(range(1, 31))
"""Lags (minutes) of the autocorrelation panels of :func:`facts_plot`."""

MIN_FACTS_RETURNS = 10
"""Fewer 1-minute returns than this and a :func:`facts_plot` panel says so instead of drawing."""

_R = "#1f77b4"
_ABS_R = "#d62728"


def _not_enough(ax: Any, n: int) -> None:
    ax.text(
        0.5,
        0.5,
        f"{n} one-minute returns: too few to measure\n(the run is too short or sampled too coarsely)",
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontsize=8,
    )


def _acf_panel(ax: Any, sym: str, r: np.ndarray, n: int) -> None:
    lags = [lag for lag in FACTS_PLOT_LAGS if lag < n - 1]
    if n >= MIN_FACTS_RETURNS and lags:
        ax.plot(
            lags,
            [autocorrelation(r, lag) for lag in lags],
            marker="o",
            ms=3,
            lw=1.2,
            color=_R,
            label="returns r",
        )
        ax.plot(
            lags,
            [autocorrelation(np.abs(r), lag) for lag in lags],
            marker="s",
            ms=3,
            lw=1.2,
            color=_ABS_R,
            label="absolute returns |r|",
        )
        band = 1.96 / math.sqrt(n)
        ax.axhspan(-band, band, color="grey", alpha=0.15, lw=0)
        ax.axhline(band, color="grey", ls="--", lw=0.9, label=f"±1.96/√n, no autocorrelation (n = {n})")
        ax.axhline(-band, color="grey", ls="--", lw=0.9, label="_band_low")
        ax.axhline(0.0, color="black", lw=0.6, label="_zero")
        ax.legend(loc="best", fontsize=7)
    else:
        _not_enough(ax, n)
    ax.set_title(f"{sym}: autocorrelation of 1-min returns")
    ax.set_xlabel("lag (minutes)")
    ax.set_ylabel("autocorrelation")


def _distribution_panel(ax: Any, sym: str, r: np.ndarray, n: int) -> None:
    z = r[np.isfinite(r)] * 1e4
    if n >= MIN_FACTS_RETURNS and float(np.std(z)) > 0:
        density, edges = np.histogram(z, bins=min(60, max(10, n // 20)), density=True)
        centres = (edges[:-1] + edges[1:]) / 2
        seen = density > 0
        ax.plot(
            centres[seen], density[seen], marker="o", ms=3, lw=1.0, color=_R, label=f"simulated (n = {n})"
        )
        mu, sd = float(np.mean(z)), float(np.std(z))
        grid = np.linspace(float(edges[0]), float(edges[-1]), 200)
        pdf = np.exp(-0.5 * ((grid - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        ax.plot(grid, pdf, ls="--", lw=1.2, color="black", label="Gaussian, same mean and variance")
        ax.set_yscale("log")
        ax.set_ylim(bottom=float(density[seen].min()) / 5)
        ax.legend(loc="best", fontsize=7)
        title = f"{sym}: 1-min returns vs a Gaussian (excess kurtosis {excess_kurtosis(z):.2f})"
    else:
        _not_enough(ax, n)
        title = f"{sym}: 1-min returns vs a Gaussian"
    ax.set_title(title)
    ax.set_xlabel("1-min log return of the mid (bp)")
    ax.set_ylabel("density (1/bp, log scale)")


def _kurtosis_panel(ax: Any, sym: str, r: np.ndarray, n: int) -> None:
    horizons = list(KURTOSIS_HORIZONS)
    if n >= MIN_FACTS_RETURNS:
        values = [excess_kurtosis(r if h == 1 else aggregate(r, h)) for h in horizons]
        ax.plot(horizons, values, marker="o", lw=1.2, color=_R, label="simulated")
        ax.axhline(0.0, color="black", ls="--", lw=0.9, label="Gaussian (0)")
        ax.legend(loc="best", fontsize=7)
    else:
        _not_enough(ax, n)
    ax.set_xscale("log")
    ax.set_xticks(horizons, [str(h) for h in horizons])
    ax.set_title(f"{sym}: excess kurtosis by horizon")
    ax.set_xlabel("horizon (minutes, log scale)")
    ax.set_ylabel("excess kurtosis")


def facts_plot(ts: pd.DataFrame) -> Figure:
    """The stylized facts of a run's 1-minute returns, one row of three panels per symbol.

    Left: the autocorrelation of returns and of absolute returns at lags of 1 to 30 minutes, with the
    ±1.96/√n band of no autocorrelation; middle: the distribution of 1-minute log returns (a histogram's
    density, bp) against a Gaussian of the same mean and variance, on a log density scale; right: the
    excess kurtosis of returns aggregated over 1, 5, 15 and 60 minutes (aggregational Gaussianity: it
    falls toward 0). The returns are those of :func:`experiments.stylized.minute_series`, the facts
    table's own.

    Args:
        ts: the run's time series (long format).

    Returns:
        The figure (its rows of axes in symbol order: ACF, distribution, kurtosis).
    """
    symbols = _symbols(ts)
    fig, axes = _subplots(
        max(len(symbols), 1), 3, figsize=(15, 3.9 * max(len(symbols), 1) + 0.5), squeeze=False
    )
    for row, sym in zip(axes, symbols, strict=False):
        r = minute_series(ts[ts["symbol"] == sym]).r
        n = int(np.isfinite(r).sum())
        _acf_panel(row[0], sym, r, n)
        _distribution_panel(row[1], sym, r, n)
        _kurtosis_panel(row[2], sym, r, n)
    fig.suptitle("Stylized facts of the perp's 1-minute returns (MARKET_FACTS §4–§5)")
    return fig


def facts_figure(ts: pd.DataFrame, path: Path) -> Path:
    """:func:`facts_plot` written as a PNG.

    Args:
        ts: the run's time series.
        path: the PNG to write.

    Returns:
        ``path``.
    """
    return _save(facts_plot(ts), path)


def run_figures(ts: pd.DataFrame, liq: pd.DataFrame, adl: pd.DataFrame, fig_dir: str | Path) -> list[Path]:
    """Render every figure of a run.

    Args:
        ts: sampled time series (long format, one row per time and symbol).
        liq: liquidation events.
        adl: ADL events (markers on the price figures, event lines, ``adl.png`` when there are any).
        fig_dir: directory for the PNGs (created).

    Returns:
        The files written, in report order.
    """
    out = Path(fig_dir)
    out.mkdir(parents=True, exist_ok=True)
    if ts.empty:
        return []
    with _style():
        return _draw_run_figures(ts, liq, adl, out)


def _draw_run_figures(ts: pd.DataFrame, liq: pd.DataFrame, adl: pd.DataFrame, out: Path) -> list[Path]:
    paths: list[Path] = []
    for sym in _symbols(ts):
        paths.append(price_figure(ts, liq, sym, out / f"price_{sym}.png", adl))
    paths.append(
        _per_symbol_panels(
            ts, "open_interest_usd", "open interest", "USD", out / "open_interest.png", usd=True
        )
    )
    paths.append(
        _per_symbol_panels(ts, "funding_rate", "funding rate", "bps", out / "funding.png", scale=1e4)
    )
    paths.append(
        _per_symbol_panels(
            ts, "depth_1pct_usd", "book depth within 1% of mid", "USD", out / "depth.png", usd=True
        )
    )
    paths.append(liquidation_bars(ts, out / "liquidations.png"))
    paths.append(insurance_fund_figure(ts, out / "insurance_fund.png", adl))
    if adl is not None and len(adl):
        paths.append(adl_figure(ts, adl, out / "adl.png"))
    paths.append(sentiment_figure(ts, out / "sentiment.png"))
    paths.append(facts_figure(ts, out / "facts.png"))
    return paths


# --------------------------------------------------------------------------- study


def _x_values(frag: pd.DataFrame, keys: Sequence[str]) -> tuple[str, pd.Series, bool]:
    """The x column of a fragility plot: the first grid key (numeric or categorical), or the point index."""
    if keys:
        col = keys[0]
        x = frag[col]
        numeric = bool(pd.api.types.is_numeric_dtype(x)) and not pd.api.types.is_bool_dtype(x)
        return col, x, numeric
    return "grid point", frag["point"], False


def fragility_figure(
    frag: pd.DataFrame,
    keys: Sequence[str],
    thresholds: Sequence[float],
    path: Path,
    *,
    log_x: bool | None = None,
) -> Path:
    """Fragility curves: P(cascade) and P(leader drawdown >= t) with Wilson intervals vs the swept parameter.

    Args:
        frag: the fragility table (one row per grid point).
        keys: the grid keys (the first is the x axis, the second the hue).
        thresholds: drawdown thresholds (fractions).
        path: the PNG to write.
        log_x: logarithmic x axis (default: when the numeric x spans more than a factor of 20).

    Returns:
        ``path``.
    """
    sns = _seaborn()
    metrics = [("cascade", "P(cascade)")] + [
        (f"drawdown_{threshold_label(t)}", f"P(leader drawdown >= {t:.0%})") for t in thresholds
    ]
    xcol, x, numeric = _x_values(frag, keys)
    hue_key = keys[1] if len(keys) > 1 else None
    groups: list[tuple[Any, pd.DataFrame]] = (
        list(frag.groupby(hue_key, sort=False)) if hue_key else [(None, frag)]
    )
    # categories with long labels (a block swept, see compact_grid_labels) get an inch each
    wide = not numeric and max((len(str(v)) for v in pd.unique(x)), default=0) > 10
    panel_in = max(4.2, 1.1 * len(pd.unique(x))) if wide else 4.2
    fig, axes = _subplots(
        1, len(metrics), figsize=(panel_in * len(metrics), 5.5 if wide else 3.8), sharey=True, squeeze=False
    )
    palette = sns.color_palette(n_colors=max(len(groups), 1))
    positions = {v: i for i, v in enumerate(pd.unique(x))}
    for ax, (metric, title) in zip(axes[0], metrics, strict=False):
        for (hue_value, g), color in zip(groups, palette, strict=False):
            gx = g[xcol] if keys else g["point"]
            xs = gx.to_numpy(dtype=float) if numeric else np.array([positions[v] for v in gx], dtype=float)
            p = g[f"p_{metric}"].to_numpy(dtype=float)
            lo = g[f"p_{metric}_lo"].to_numpy(dtype=float)
            hi = g[f"p_{metric}_hi"].to_numpy(dtype=float)
            order = np.argsort(xs)
            label = f"{hue_key}={hue_value}" if hue_key else None
            ax.plot(xs[order], p[order], marker="o", color=color, label=label)
            ax.fill_between(xs[order], lo[order], hi[order], color=color, alpha=0.2, lw=0)
        ax.set_title(title)
        ax.set_xlabel(xcol)
        ax.set_ylim(-0.02, 1.02)
        if not numeric:
            ax.set_xticks(
                list(positions.values()),
                [str(v) for v in positions],
                rotation=30,
                ha="right",
                fontsize=8 if wide else None,
            )
        elif log_x or (
            log_x is None and len(x) and float(x.min()) > 0 and float(x.max()) / float(x.min()) > 20
        ):
            ax.set_xscale("log")
    axes[0, 0].set_ylabel("probability (95% Wilson interval)")
    if hue_key:
        axes[0, -1].legend(fontsize=8)
    return _save(fig, path)


def study_figures(
    results: pd.DataFrame,
    frag: pd.DataFrame,
    keys: Sequence[str],
    thresholds: Sequence[float],
    fig_dir: str | Path,
) -> list[Path]:
    """Render the figures of a Monte Carlo study.

    Args:
        results: one row per run (``results.parquet``).
        frag: the fragility table.
        keys: the grid keys.
        thresholds: drawdown thresholds (fractions).
        fig_dir: directory for the PNGs (created).

    Returns:
        The files written.
    """
    out = Path(fig_dir)
    out.mkdir(parents=True, exist_ok=True)
    if frag.empty:
        return []
    # a grid over a whole block (JSON mappings) is labelled by what each point changes
    results, frag = compact_grid_labels(results, keys), compact_grid_labels(frag, keys)
    with _style():
        return _draw_study_figures(results, frag, keys, thresholds, out)


def _draw_study_figures(
    results: pd.DataFrame, frag: pd.DataFrame, keys: Sequence[str], thresholds: Sequence[float], out: Path
) -> list[Path]:
    sns = _seaborn()
    paths: list[Path] = []
    paths.append(fragility_figure(frag, keys, thresholds, out / "fragility.png"))
    risk = risk_outcomes(results, keys)
    if len(risk) and keys and risk["bad_debt_usd_mean"].notna().any():
        paths.append(_save(risk_outcomes_plot(risk, keys), out / "risk_outcomes.png"))
    ok = results[results["status"] == "ok"] if "status" in results else results
    if ok.empty:
        return paths
    xcol = keys[0] if keys else "point"
    hue = keys[1] if len(keys) > 1 else None
    data = ok.copy()
    data[xcol] = data[xcol].astype(str) if xcol in data else data["point"].astype(str)
    if hue:
        data[hue] = data[hue].astype(str)
    if "liquidated_usd" in data:
        fig, ax = _subplots(figsize=(max(8.0, 1.3 * data[xcol].nunique()), 4.5))
        with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11's deprecated `vert`
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*vert.*")
            sns.boxplot(data=data, x=xcol, y="liquidated_usd", hue=hue, ax=ax, showfliers=True, fliersize=2)
        if data[xcol].map(lambda v: len(str(v))).max() > 10:  # long categories: slanted, not overlapping
            ax.tick_params(axis="x", labelrotation=30, labelsize=8)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_usd_formatter))
        ax.set_title("liquidated notional per run")
        ax.set_ylabel("USD")
        paths.append(_save(fig, out / "liquidated.png"))
    if (
        "leader_max_drawdown_pct" in data
        and "alt_max_drawdown_pct" in data
        and data["alt_max_drawdown_pct"].notna().any()
    ):
        fig, ax = _subplots(figsize=(6, 5))
        sns.scatterplot(
            data=data, x="leader_max_drawdown_pct", y="alt_max_drawdown_pct", hue=xcol, ax=ax, s=18
        )
        lim = float(
            np.nanmax(data[["leader_max_drawdown_pct", "alt_max_drawdown_pct"]].to_numpy(dtype=float))
        )
        ax.plot([0, lim], [0, lim], ls="--", color="grey", lw=0.8)
        ax.set_xlabel("leader max drawdown (%)")
        ax.set_ylabel("worst alt max drawdown (%)")
        ax.set_title("contagion: alt vs leader drawdown")
        paths.append(_save(fig, out / "drawdowns.png"))
    return paths


def ablation_plot(table: pd.DataFrame, metric: str) -> Figure:
    """Each variant's paired effect on ``metric`` against the reference, with its 95% interval.

    Args:
        table: :func:`experiments.stats.ablation_table` (ranked: the largest drop on top).
        metric: the compared column (the x label).

    Returns:
        A figure of one horizontal bar per variant (effect = variant - reference, seed by seed), a t
        interval as its error bar and a line at zero; bars whose interval excludes zero are filled dark.
    """
    labels = [textwrap.fill(str(v), 36) for v in table["label"]]
    lines = sum(label.count("\n") + 1 for label in labels)
    fig, ax = _subplots(figsize=(10, max(2.5, 0.3 * lines + 0.25 * len(table) + 1.5)))
    y = np.arange(len(table))[::-1]
    effect = table["effect"].to_numpy(dtype=float)
    lo = table["effect_lo"].to_numpy(dtype=float)
    hi = table["effect_hi"].to_numpy(dtype=float)
    err = np.vstack([np.nan_to_num(effect - lo), np.nan_to_num(hi - effect)])
    colors = ["#1f4e79" if bool(x) else "#9ecae1" for x in table["excludes_zero"]]
    ax.barh(y, np.nan_to_num(effect), xerr=err, color=colors, edgecolor="none", capsize=3)
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel(f"effect on {metric} (variant - reference, paired by seed; 95% t interval)")
    ax.set_title("ablation: each variant against the reference (dark: interval excludes 0)")
    return fig


def ablation_figure(
    results: pd.DataFrame, keys: Sequence[str], metric: str, reference: int, path: str | Path
) -> Path | None:
    """Draw :func:`ablation_plot` of a study's results to ``path`` (None when there is nothing to draw).

    Args:
        results: the study table.
        keys: the grid keys.
        metric: the compared column.
        reference: the reference grid point.
        path: the PNG to write.

    Returns:
        The file written, or None.
    """
    table = ablation_table(results, keys, metric, reference)
    if table.empty:
        return None
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _style():
        return _save(ablation_plot(table, metric), out)


def risk_outcomes_plot(risk: pd.DataFrame, keys: Sequence[str]) -> Figure:
    """Bad debt and ADL notional per grid point (means with their 95% intervals), in rank order.

    Args:
        risk: :func:`experiments.stats.risk_outcomes` (ranked).
        keys: the grid keys (the points are labelled by their values).

    Returns:
        A figure with two panels of horizontal bars with error bars, best point on top.
    """
    labels = [", ".join(str(row[k]) for k in keys) for _, row in risk.iterrows()]
    fig, axes = _subplots(1, 2, figsize=(11, max(3.0, 0.35 * len(risk) + 1.5)), sharey=True)
    y = np.arange(len(risk))[::-1]
    for ax, (col, title) in zip(
        axes, (("bad_debt_usd", "bad debt"), ("adl_notional_usd", "ADL notional")), strict=True
    ):
        mean = risk[f"{col}_mean"].to_numpy(dtype=float)
        lo = risk[f"{col}_lo"].to_numpy(dtype=float)
        hi = risk[f"{col}_hi"].to_numpy(dtype=float)
        err = np.vstack([np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)])
        ax.barh(y, np.nan_to_num(mean), xerr=err, color="#1f77b4", alpha=0.85, edgecolor="none", capsize=2)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_usd_formatter))
        ax.set_title(f"{title} per run (mean, 95% interval)")
        ax.set_xlabel("USD")
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(labels, fontsize=7)
    axes[0].set_ylabel(" / ".join(k.split(".")[-1] for k in keys))
    return fig


# --------------------------------------------------------------------------- comparison of runs


def compare_price_plot(runs: Mapping[str, pd.DataFrame], symbol: str) -> Figure:
    """One symbol's mid price in several runs, overlaid (one line per run).

    Args:
        runs: run label -> its time series (long format).
        symbol: the symbol to draw (runs without it are skipped).

    Returns:
        The figure (one line per run that has the symbol, labelled with the run's label).
    """
    sns = _seaborn()
    first = next(iter(runs.values()))
    label, div = _time_axis(first)
    fig, ax = _subplots(figsize=(10, 4))
    for (name, ts), color in zip(runs.items(), sns.color_palette(n_colors=max(len(runs), 1)), strict=False):
        g = ts[ts["symbol"] == symbol]
        if len(g):
            ax.plot(g["time_s"] / div, g["mid"], lw=1.1, color=color, label=name)
    ax.set_title(f"{symbol}: mid price by run")
    ax.set_xlabel(label)
    ax.set_ylabel("USD")
    ax.legend(loc="best", fontsize=8)
    return fig


def compare_liquidations_plot(runs: Mapping[str, pd.DataFrame]) -> Figure:
    """Cumulative liquidated notional (longs + shorts, all symbols) of several runs, overlaid.

    Args:
        runs: run label -> its time series (long format).

    Returns:
        The figure (one line per run).
    """
    sns = _seaborn()
    first = next(iter(runs.values()))
    label, div = _time_axis(first)
    fig, ax = _subplots(figsize=(10, 4))
    for (name, ts), color in zip(runs.items(), sns.color_palette(n_colors=max(len(runs), 1)), strict=False):
        per_t = (ts["liq_long_usd"] + ts["liq_short_usd"]).groupby(ts["time_s"]).sum().sort_index()
        ax.plot(per_t.index.to_numpy() / div, per_t.cumsum().to_numpy(), lw=1.2, color=color, label=name)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_usd_formatter))
    ax.set_title("cumulative liquidated notional, all symbols")
    ax.set_xlabel(label)
    ax.set_ylabel("USD")
    ax.legend(loc="best", fontsize=8)
    return fig


def compare_figures(runs: Mapping[str, pd.DataFrame], fig_dir: str | Path) -> list[Path]:
    """Write the comparison figures: ``compare_price_<SYM>.png`` and ``compare_liquidations.png``.

    Args:
        runs: run label -> its time series (long format), in the order to show.
        fig_dir: directory for the PNGs (created).

    Returns:
        The files written.
    """
    out = Path(fig_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = {k: v for k, v in runs.items() if not v.empty}
    if not frames:
        return []
    symbols: list[str] = []
    for ts in frames.values():
        symbols += [s for s in _symbols(ts) if s not in symbols]
    with _style():
        paths = [_save(compare_price_plot(frames, sym), out / f"compare_price_{sym}.png") for sym in symbols]
        paths.append(_save(compare_liquidations_plot(frames), out / "compare_liquidations.png"))
    return paths
