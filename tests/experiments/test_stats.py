"""Statistics of study tables: Wilson intervals, threshold labels, numeric columns, the fragility table, the
ablation table (paired effects with t intervals) and compact labels of block-valued grid points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments.stats import (
    ablation_table,
    compact_grid_labels,
    fragility,
    numeric_column,
    paired_t_interval,
    threshold_label,
    wilson_interval,
)


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0 and hi == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_fragility_table() -> None:
    results = pd.DataFrame(
        {
            "point": [0, 0, 0, 0, 1, 1, 1, 1],
            "seed_index": [0, 1, 2, 3] * 2,
            "x": [1, 1, 1, 1, 2, 2, 2, 2],
            "status": ["ok"] * 7 + ["failed"],
            "cascade_count": [0, 0, 1, 0, 1, 2, 1, np.nan],
            "leader_max_drawdown_pct": [1.0, 4.0, 12.0, 2.0, 6.0, 25.0, 11.0, np.nan],
            "liquidated_usd": [0.0, 10.0, 100.0, 0.0, 50.0, 500.0, 70.0, np.nan],
            "alt_max_drawdown_pct": [2.0, 8.0, 30.0, 3.0, 9.0, 40.0, 20.0, np.nan],
            "adl_count": [0, 0, 0, 0, 0, 3, 0, np.nan],
            "insurance_fund_min_usd": [1.0] * 8,
        }
    )
    frag = fragility(results, ["x"], [0.05, 0.1, 0.2])
    assert list(frag["x"]) == [1, 2]
    assert list(frag["ok"]) == [4, 3] and list(frag["failed"]) == [0, 1]
    assert list(frag["p_cascade"]) == pytest.approx([0.25, 1.0])
    assert list(frag["p_drawdown_10pct"]) == pytest.approx([0.25, 2 / 3])
    assert list(frag["p_drawdown_20pct"]) == pytest.approx([0.0, 1 / 3])
    assert list(frag["p_adl"]) == pytest.approx([0.0, 1 / 3])
    assert frag.loc[0, "liquidated_usd_mean"] == pytest.approx(27.5)
    assert (frag["p_cascade_lo"] <= frag["p_cascade"]).all() and (
        frag["p_cascade"] <= frag["p_cascade_hi"]
    ).all()


def test_wilson_interval_contains_the_proportion_and_narrows_with_n() -> None:
    for k, n in [(0, 1), (1, 3), (7, 7), (50, 100)]:
        lo, hi = wilson_interval(k, n)
        assert 0.0 <= lo <= k / n <= hi <= 1.0
    assert np.diff(wilson_interval(500, 1000)) < np.diff(wilson_interval(5, 10))
    lo99, hi99 = wilson_interval(5, 10, z=2.5758293035489)
    lo95, hi95 = wilson_interval(5, 10)
    assert lo99 < lo95 and hi99 > hi95


def test_threshold_labels_name_fractions_in_percent() -> None:
    assert threshold_label(0.05) == "5pct"
    assert threshold_label(0.1) == "10pct"
    assert threshold_label(0.125) == "12.5pct"


def test_numeric_column_coerces_and_fills_absent_columns() -> None:
    df = pd.DataFrame({"a": [1, "2.5", None, "x"]}, index=[10, 11, 12, 13])
    got = numeric_column(df, "a")
    assert got.dtype == np.float64 and list(got.index) == [10, 11, 12, 13]
    assert got.iloc[:2].tolist() == [1.0, 2.5] and got.iloc[2:].isna().all()
    absent = numeric_column(df, "nope")
    assert absent.isna().all() and list(absent.index) == [10, 11, 12, 13]


def test_fragility_of_an_empty_table_is_empty() -> None:
    assert fragility(pd.DataFrame(), ["x"], [0.1]).empty


def _ablation_results() -> pd.DataFrame:
    """Three grid points over four seeds; point 1 is 1.0 lower than point 0 on every seed but one, point 2
    differs from it by noise around zero; point 2's last seed failed."""
    ref = [2.0, 3.0, 2.5, 4.0]
    one = [1.0, 2.0, 1.6, 3.1]
    two = [2.2, 2.7, 2.6, 9.9]
    block = [
        '{"index_coupling": false}',
        '{"index_coupling": false, "cross_margin": false}',
        '{"index_coupling": false, "sentiment": false}',
    ]
    return pd.DataFrame(
        {
            "point": [0] * 4 + [1] * 4 + [2] * 4,
            "seed_index": [0, 1, 2, 3] * 3,
            "market.contagion": [b for b in block for _ in range(4)],
            "status": ["ok"] * 11 + ["failed"],
            "alt_mean_drawdown_pct": ref + one + two,
        }
    )


def test_ablation_pairs_seeds_and_gives_a_t_interval() -> None:
    table = ablation_table(_ablation_results(), ["market.contagion"], "alt_mean_drawdown_pct", reference=0)
    assert list(table["point"]) == [1, 2]  # ranked: the larger drop first
    assert list(table["label"]) == ["cross_margin=false", "sentiment=false"]
    one, two = table.iloc[0], table.iloc[1]
    diff = np.array([1.0, 2.0, 1.6, 3.1]) - np.array([2.0, 3.0, 2.5, 4.0])
    half = stats.t.ppf(0.975, 3) * diff.std(ddof=1) / 2.0
    assert one["pairs"] == 4 and one["effect"] == pytest.approx(diff.mean())
    assert one["effect_lo"] == pytest.approx(diff.mean() - half) and one["effect_hi"] == pytest.approx(
        diff.mean() + half
    )
    assert one["excludes_zero"] and one["share"] == pytest.approx(diff.mean() / 2.875)
    # the failed run's seed is left out of both sides of the pair
    assert two["pairs"] == 3 and two["reference_mean"] == pytest.approx(2.5)
    assert two["effect"] == pytest.approx(np.mean([0.2, -0.3, 0.1]))
    assert not two["excludes_zero"]


def test_the_paired_interval_is_scipys_one_sample_t_interval() -> None:
    diff = [0.4, 0.1, 0.9, 0.3, 0.6]
    mean, lo, hi = paired_t_interval(diff)
    ci = stats.ttest_1samp(diff, 0.0).confidence_interval(0.95)
    assert mean == pytest.approx(np.mean(diff))
    assert lo == pytest.approx(ci.low) and hi == pytest.approx(ci.high)
    assert lo > 0.0  # this sample's effect excludes zero; with one sign flipped it does not
    assert paired_t_interval([0.4, 0.1, 0.9, -0.3, -0.6])[1] < 0.0
    one = paired_t_interval([2.5])
    assert one[0] == 2.5 and np.isnan(one[1]) and np.isnan(one[2])  # no spread from one pair
    assert all(np.isnan(v) for v in paired_t_interval([]))


def test_ablation_without_the_metric_or_the_reference_is_empty() -> None:
    results = _ablation_results()
    assert ablation_table(results, ["market.contagion"], "no_such_column").empty
    assert ablation_table(results, ["market.contagion"], "alt_mean_drawdown_pct", reference=7).empty


def test_compact_grid_labels_name_what_each_point_changes() -> None:
    results = _ablation_results()
    out = compact_grid_labels(results, ["market.contagion"])
    labels = list(dict.fromkeys(out["market.contagion"]))
    assert labels == ["index_coupling=false", "cross_margin=false", "sentiment=false"]
    assert results["market.contagion"].iloc[0].startswith("{")  # the input is left as it was
    scalar = pd.DataFrame({"point": [0, 1], "x": [5, 10]})
    assert list(compact_grid_labels(scalar, ["x"])["x"]) == [5, 10]
