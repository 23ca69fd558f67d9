"""Figures are drawn without touching the caller's matplotlib state (backend, pyplot, style)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from experiments import plots
from experiments.runner import run
from experiments.stylized import autocorrelation, excess_kurtosis
from tests.experiments.helpers import TINY, subprocess_env, synthetic_timeseries


def test_importing_plots_keeps_the_chosen_backend() -> None:
    # a fresh interpreter, as in a notebook: the user's backend choice survives importing the module
    code = (
        "import matplotlib; matplotlib.use('svg'); import experiments.plots; print(matplotlib.get_backend())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env(), check=True
    )
    assert out.stdout.strip() == "svg"


def test_the_cli_and_the_study_workers_do_not_import_seaborn_until_a_figure_is_drawn() -> None:
    # seaborn costs about half a second per process: `cascadelab validate` and every study worker
    code = (
        "import sys; import experiments.cli, experiments.study; print('seaborn' in sys.modules); "
        "from experiments.plots import _style\nwith _style(): pass\nprint('seaborn' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env(), check=True
    )
    assert out.stdout.split() == ["False", "True"]


def test_run_figures_write_pngs_and_leave_pyplot_and_style_alone(tmp_path: Path) -> None:
    importlib.reload(plots)
    result = run("baseline", seed=2, overrides=TINY)
    before = {k: matplotlib.rcParams[k] for k in ("axes.grid", "axes.facecolor", "font.size")}
    open_before = plt.get_fignums()
    paths = plots.run_figures(result.timeseries, result.liquidations, result.adl, tmp_path)
    assert {p.name for p in paths} >= {"price_BTC.png", "open_interest.png", "sentiment.png", "facts.png"}
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5_000
    assert plt.get_fignums() == open_before  # nothing registered with pyplot: freed once written
    assert {k: matplotlib.rcParams[k] for k in before} == before  # the seaborn style did not leak


# --------------------------------------------------------------------------- figures by their artists


def _month_of_liquidations() -> pd.DataFrame:
    """30 days sampled every 30 s (86,400 samples per symbol), liquidations in a few spikes, $179M in all."""
    t = np.arange(0, 30 * 86_400, 30.0)
    rows = []
    for sym in ("BTC", "ETH", "SOL"):
        longs = np.zeros(len(t))
        shorts = np.zeros(len(t))
        longs[[1000, 40_000, 80_000]] = [10e6, 40e6, 5e6]
        shorts[20_000] = 4.67e6
        rows.append(
            pd.DataFrame(
                {
                    "time_s": t,
                    "symbol": sym,
                    "mid": 100.0,
                    "liq_long_usd": longs,
                    "liq_short_usd": shorts,
                    "insurance_fund_usd": 1e6,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _visible(patch: Any) -> bool:
    r, g, b, a = patch.get_facecolor()
    return a > 0 and (r, g, b) != (1.0, 1.0, 1.0) and patch.get_visible()


def test_the_largest_liquidation_bars_of_a_month_long_run_are_visible() -> None:
    ts = _month_of_liquidations()
    assert ts["liq_long_usd"].sum() + ts["liq_short_usd"].sum() == pytest.approx(179.01e6)
    with plots._style():  # the seaborn style (white patch edges) the run figures are drawn in
        fig = plots.liquidation_bars_plot(ts)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    axes = fig.axes
    assert len(axes) == 3
    for ax in axes:
        longs, shorts = ax.containers[0], ax.containers[1]
        assert len(longs) <= plots.MAX_BARS  # binned: bars of a few pixels, not 86,400 hairlines
        biggest = max(longs, key=lambda p: p.get_height())
        assert biggest.get_height() == pytest.approx(40e6)  # the largest value's bar, summed into its bin
        assert _visible(biggest) and biggest.get_linewidth() == 0  # no white edge over the fill
        # at least a pixel wide on the canvas
        extent = biggest.get_window_extent(canvas.get_renderer())
        assert extent.width >= 1.0 and extent.height > 10
        lowest = min(shorts, key=lambda p: p.get_height())
        assert lowest.get_height() == pytest.approx(-4.67e6) and _visible(lowest)
        assert sum(p.get_height() for p in longs) == pytest.approx(55e6)  # nothing lost in binning


def _adl_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time_s": [600.0, 630.0, 660.0],
            "symbol": ["BTC", "BTC", "ETH"],
            "price_usd": [99.0, 98.0, 50.0],
            "notional_usd": [1e6, 2e6, 5e5],
            "effective_leverage": [0.2, 2.0, 5.0],
            "rank": [0.0, 1.0, 0.0],
        }
    )


def test_price_figure_marks_adl_fills_and_the_fund_running_dry() -> None:
    ts = _month_of_liquidations()
    ts = ts[ts["time_s"] < 3600].copy()
    ts.loc[ts["time_s"] >= 1200, "insurance_fund_usd"] = 0.0
    liq = pd.DataFrame(
        {"time_s": [30.0], "symbol": ["BTC"], "side": ["long"], "price_usd": [100.0], "notional_usd": [1e5]}
    )
    with plots._style():
        fig = plots.price_plot(ts, liq, "BTC", _adl_table())
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "ADL fills (2)" in labels and "first ADL" in labels and "insurance fund exhausted" in labels
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["first ADL"].get_xdata()[0] == pytest.approx(10.0)  # minutes
    assert lines["insurance fund exhausted"].get_xdata()[0] == pytest.approx(20.0)
    adl_points = next(c for c in ax.collections if c.get_label() == "ADL fills (2)")
    assert adl_points.get_offsets().tolist() == [[10.0, 99.0], [10.5, 98.0]]


def test_adl_figure_shows_cumulative_notional_and_leverage_by_rank() -> None:
    ts = _month_of_liquidations()
    ts = ts[ts["time_s"] < 3600]
    with plots._style():
        fig = plots.adl_plot(ts, _adl_table())
    top, bottom = fig.axes[0], fig.axes[1]
    btc = next(line for line in top.get_lines() if line.get_label() == "BTC")
    assert btc.get_ydata()[-1] == pytest.approx(3e6)
    dots = bottom.collections[0]
    assert dots.get_offsets()[:, 1].tolist() == [0.2, 2.0, 5.0]
    assert dots.get_array().tolist() == [0.0, 1.0, 0.0]  # coloured by the ranking score


def test_comparison_figures_overlay_every_run(tmp_path: Path) -> None:
    a = _month_of_liquidations()
    a = a[a["time_s"] < 86_400].copy()
    b = a.copy()
    b["mid"] = 90.0
    b["liq_long_usd"] *= 2
    with plots._style():
        price = plots.compare_price_plot({"a": a, "b": b}, "BTC")
        cum = plots.compare_liquidations_plot({"a": a, "b": b})
    assert [line.get_label() for line in price.axes[0].get_lines()] == ["a", "b"]
    assert price.axes[0].get_lines()[1].get_ydata()[0] == 90.0
    ends = [line.get_ydata()[-1] for line in cum.axes[0].get_lines()]
    assert ends == pytest.approx([3 * 10e6, 3 * 20e6])
    paths = plots.compare_figures({"a": a, "b": b}, tmp_path)
    assert {p.name for p in paths} == {
        "compare_price_BTC.png",
        "compare_price_ETH.png",
        "compare_price_SOL.png",
        "compare_liquidations.png",
    }


# --------------------------------------------------------------------------- the stylized facts figure


def _lines(ax: Any) -> dict[str, Any]:
    return {line.get_label(): line for line in ax.get_lines()}


def test_the_facts_figure_draws_each_symbols_acf_return_distribution_and_kurtosis_by_horizon() -> None:
    ts = synthetic_timeseries(2400, seed=21, tails_df=4.0)
    fig = plots.facts_plot(ts)
    axes = np.array(fig.axes).reshape(3, 3)
    assert "Stylized facts" in fig.get_suptitle()
    for (acf_ax, dist_ax, kurt_ax), sym in zip(axes, ("BTC", "ETH", "SOL"), strict=True):
        mid = ts.loc[ts["symbol"] == sym, "mid"].to_numpy(dtype=float)
        r = np.diff(np.log(mid))  # the 1-minute log returns, by hand
        n = len(r)
        # ACF of r and |r| at lags 1-30 with the +-1.96/sqrt(n) band
        lines = _lines(acf_ax)
        lags = np.arange(1, 31)
        for label, x in (("returns r", r), ("absolute returns |r|", np.abs(r))):
            assert np.array_equal(lines[label].get_xdata(), lags)
            assert np.allclose(lines[label].get_ydata(), [autocorrelation(x, int(k)) for k in lags])
        band = lines[f"±1.96/√n, no autocorrelation (n = {n})"]
        assert np.allclose(band.get_ydata(), 1.96 / np.sqrt(n))
        assert np.allclose(lines["_band_low"].get_ydata(), -1.96 / np.sqrt(n))
        assert acf_ax.get_xlabel() == "lag (minutes)" and sym in acf_ax.get_title()
        assert acf_ax.get_legend() is not None
        # the histogram's density (counted here per drawn bin) and a Gaussian of the same variance
        z = r * 1e4
        lines = _lines(dist_ax)
        sim = lines[f"simulated (n = {n})"]
        x, y = np.asarray(sim.get_xdata()), np.asarray(sim.get_ydata())
        width = float(np.min(np.diff(x)))
        counts = [np.sum((z >= c - width / 2 - 1e-9) & (z <= c + width / 2 + 1e-9)) for c in x]
        assert np.allclose(y, np.array(counts) / (n * width), rtol=1e-6)
        gauss = lines["Gaussian, same mean and variance"]
        gx = np.asarray(gauss.get_xdata())
        pdf = np.exp(-0.5 * ((gx - z.mean()) / z.std()) ** 2) / (z.std() * np.sqrt(2 * np.pi))
        assert np.allclose(gauss.get_ydata(), pdf)
        assert gx.min() <= z.min() + 1e-9 and gx.max() >= z.max() - 1e-9
        assert dist_ax.get_yscale() == "log" and "(bp)" in dist_ax.get_xlabel()
        # fat tails: the outermost bins lie above the Gaussian
        assert y[0] > np.interp(x[0], gx, pdf) and y[-1] > np.interp(x[-1], gx, pdf)
        # excess kurtosis of 1, 5, 15 and 60-minute sums
        lines = _lines(kurt_ax)
        k = lines["simulated"]
        assert list(k.get_xdata()) == [1, 5, 15, 60]
        by_hand = [excess_kurtosis(r[: n // h * h].reshape(-1, h).sum(axis=1)) for h in (1, 5, 15, 60)]
        assert np.allclose(k.get_ydata(), by_hand)
        assert np.allclose(lines["Gaussian (0)"].get_ydata(), 0.0)
        assert kurt_ax.get_xscale() == "log" and "minutes" in kurt_ax.get_xlabel()
        assert kurt_ax.get_ylabel() == "excess kurtosis"


def test_the_facts_figure_of_a_run_too_short_for_minutes_says_so() -> None:
    result = run("baseline", seed=2, overrides=TINY)  # 72 s: one 1-minute return
    fig = plots.facts_plot(result.timeseries)
    assert len(fig.axes) == 9
    for ax in fig.axes:
        assert not [line for line in ax.get_lines() if not line.get_label().startswith("_")]
        assert any("too few" in t.get_text() for t in ax.texts)
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
