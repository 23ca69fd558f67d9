"""Ablation studies: a grid of variants against a reference point, paired by seed (``study.ablation``).

The shipped ``contagion_channels`` study is run small here: the report ranks each channel by its paired
effect on the alts' drawdown with 95% t intervals, ``ablation.csv`` holds the same ranking, and the figure
draws one bar per variant at its effect with its interval. The full study (10 seeds) is in the notes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import sweep
from experiments.plots import ablation_plot
from experiments.report import ABLATION_HEADING
from experiments.stats import ablation_table


def test_ablation_figure_draws_each_variants_effect_and_interval() -> None:
    table = pd.DataFrame(
        {
            "rank": [1, 2],
            "point": [2, 1],
            "label": ["relative_value=false", "sentiment=false"],
            "pairs": [5, 5],
            "mean": [0.4, 1.9],
            "reference_mean": [2.0, 2.0],
            "effect": [-1.6, -0.1],
            "effect_lo": [-1.9, -0.4],
            "effect_hi": [-1.3, 0.2],
            "share": [-0.8, -0.05],
            "excludes_zero": [True, False],
        }
    )
    fig = ablation_plot(table, "alt_mean_drawdown_pct")
    ax = fig.axes[0]
    bars = sorted(ax.patches, key=lambda p: -p.get_y())  # top first: the ranking's order
    assert [b.get_width() for b in bars] == pytest.approx([-1.6, -0.1])
    # dark where the interval excludes zero, light where it does not
    assert bars[0].get_facecolor() != bars[1].get_facecolor()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["relative_value=false", "sentiment=false"]
    # the error bars span each interval
    segments = [seg for coll in ax.collections for seg in coll.get_segments()]
    spans = sorted((round(float(s[0][0]), 6), round(float(s[1][0]), 6)) for s in segments)
    assert spans == [(-1.9, -1.3), (-0.4, 0.2)]
    assert "effect on alt_mean_drawdown_pct" in ax.get_xlabel()


@pytest.fixture(scope="module")
def channel_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("channels") / "study"
    sweep("contagion_channels", seeds=3, workers=2, out=out)
    return out


def test_the_channel_study_ranks_every_channel_with_an_interval(channel_study: Path) -> None:
    results = pd.read_parquet(channel_study / "results.parquet")
    assert (results["status"] == "ok").all() and len(results) == 9 * 3
    ranked = pd.read_csv(channel_study / "ablation.csv")
    expected = ablation_table(results, ["market.contagion"], "alt_mean_drawdown_pct", reference=0)
    assert list(ranked["label"]) == list(expected["label"])
    assert ranked["effect"].to_numpy() == pytest.approx(expected["effect"].to_numpy())
    assert set(ranked["label"]) == {
        "cross_margin=false, cross_margin_off=sub_accounts",
        "shared_mm_budget=false",
        "btc_watchers=false",
        "sentiment=false",
        "relative_value=false",
        "maker_leader_pricing=false",
        "asset_leverage=false",
        "asset_leverage=false, btc_watchers=false, cross_margin=false, cross_margin_off=sub_accounts, "
        "maker_leader_pricing=false, relative_value=false, sentiment=false, shared_mm_budget=false",
    }
    assert (ranked["pairs"] == 3).all() and np.isfinite(ranked[["effect_lo", "effect_hi"]].to_numpy()).all()
    assert (ranked["effect_lo"] <= ranked["effect"]).all() and (ranked["effect"] <= ranked["effect_hi"]).all()
    report = (channel_study / "report.md").read_text()
    section = report.split(ABLATION_HEADING)[1].split("\n## ")[0]
    for label in (
        "cross_margin=false, cross_margin_off=sub_accounts",
        "relative_value=false",
        "interval excludes 0",
    ):
        assert label in section
    assert (channel_study / "figures" / "ablation.png").stat().st_size > 0
    assert "figures/ablation.png" in report


def test_with_the_spot_coupling_off_the_agents_carry_btcs_crash_into_the_alts(channel_study: Path) -> None:
    """The claim the study exists for, small: switching every agent channel off lowers the alts'
    drawdown on each seed; the channels together carry most of it."""
    results = pd.read_parquet(channel_study / "results.parquet")
    ranked = ablation_table(results, ["market.contagion"], "alt_mean_drawdown_pct", reference=0)
    all_off = ranked[ranked["label"].str.count("=false") == 7].iloc[0]
    ref = results[results["point"] == 0].sort_values("seed_index")["alt_mean_drawdown_pct"].to_numpy()
    off = results[results["point"] == 8].sort_values("seed_index")["alt_mean_drawdown_pct"].to_numpy()
    print(f"\nalt mean drawdown: all channels on {ref}, all off {off}")
    print(ranked[["label", "effect", "effect_lo", "effect_hi"]].to_string())
    assert (off < ref).all()
    assert all_off["share"] < -0.5
    btc = results[results["point"] == 0]["leader_max_drawdown_pct"]
    assert (btc > 6.0).all()  # the jump hits BTC at every seed


@pytest.mark.slow
def test_over_ten_seeds_the_agents_carry_half_of_btcs_fall_into_the_alts(tmp_path: Path) -> None:
    """Issue 13's claim 1 over 10 seeds: with the spot coupling off, a BTC-only -8% index jump moves the
    alts by at least half of BTC's drawdown (mean over the seeds), and the agent channels together account
    for most of it (all off: a drop of more than half, its 95% interval excluding zero). The channels one
    by one are printed (claim 2 holds for some of them only: see docs/contagion.md)."""
    out = tmp_path / "study"
    sweep("contagion_channels", workers=2, out=out)
    results = pd.read_parquet(out / "results.parquet")
    ref = results[results["point"] == 0]
    ratio = float(ref["alt_mean_drawdown_pct"].mean() / ref["leader_max_drawdown_pct"].mean())
    ranked = pd.read_csv(out / "ablation.csv")
    print(f"\nalts' mean drawdown / BTC's: {ratio:.2f}")
    print(ranked[["label", "pairs", "effect", "effect_lo", "effect_hi", "share"]].to_string())
    assert ratio >= 0.5
    all_off = ranked[ranked["label"].str.count("=false") == 7].iloc[0]
    assert all_off["pairs"] == 10 and all_off["effect_hi"] < 0.0 and all_off["share"] < -0.5
