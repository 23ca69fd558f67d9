"""A policy study ranks grid points by their risk outcomes, with intervals (the exchange risk team's view)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.plots import risk_outcomes_plot
from experiments.stats import WILSON_Z95, mean_interval, risk_outcomes
from experiments.study import sweep


def test_risk_outcomes_rank_by_bad_debt_then_adl_with_intervals() -> None:
    results = pd.DataFrame(
        {
            "status": ["ok"] * 6,
            "point": [0, 0, 0, 1, 1, 1],
            "market.venue.adl_policy": ["none"] * 3 + ["ranked_queue"] * 3,
            "bad_debt_usd": [100.0, 200.0, 300.0, 0.0, 0.0, 0.0],
            "adl_notional_usd": [0.0, 0.0, 0.0, 5e6, 6e6, 7e6],
            "adl_overshoot_usd": [0.0] * 6,
            "leader_max_drawdown_pct": [10.0, 12.0, 14.0, 11.0, 12.0, 13.0],
            "fund_exhausted": [True, True, False, False, False, True],
        }
    )
    table = risk_outcomes(results, ["market.venue.adl_policy"])
    assert table["market.venue.adl_policy"].tolist() == ["ranked_queue", "none"]  # no bad debt ranks first
    assert table["rank"].tolist() == [1, 2]
    none = table.iloc[1]
    half = WILSON_Z95 * 100.0 / math.sqrt(3)  # sd of 100, 200, 300 is 100; z = 1.96
    assert (none["bad_debt_usd_mean"], none["bad_debt_usd_lo"], none["bad_debt_usd_hi"]) == pytest.approx(
        (200.0, 200.0 - half, 200.0 + half)
    )
    assert none["p_fund_exhausted"] == pytest.approx(2 / 3)
    assert 0 < none["p_fund_exhausted_lo"] < 2 / 3 < none["p_fund_exhausted_hi"] < 1
    assert mean_interval(pd.Series([np.nan, "x"])) == pytest.approx((math.nan,) * 3, nan_ok=True)
    fig = risk_outcomes_plot(table, ["market.venue.adl_policy"])
    bars = [p for p in fig.axes[0].patches if p.get_width() > 0]  # bad debt: only "none" has a bar
    assert len(bars) == 1 and bars[0].get_width() == pytest.approx(200.0)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["ranked_queue", "none"]


def test_the_policy_study_writes_the_ranked_risk_table(tmp_path: Path) -> None:
    overrides = [
        "market.leveraged.count=400",
        "market.market_makers.count=3",
        "market.large_holders.count=1",
        "market.background.fundamental_count=6",
        "market.background.noise_count=9",
        "market.venue.insurance_fund_usd=1000",
        "duration_hours=0.3",
        "sample_seconds=30",
        "market.shocks=[{kind: index_jump, at_hour: 0.05, symbol: BTC, pct: -0.08}]",
    ]
    table = sweep(
        "policy_compare",
        seeds=2,
        grid={"market.venue.adl_policy": ["ranked_queue", "none"]},
        overrides=overrides,
        workers=2,
        out=tmp_path / "study",
    )
    assert (table["status"] == "ok").all()
    for col in ("bad_debt_usd", "adl_notional_usd", "adl_overshoot_usd", "fund_exhausted"):
        assert col in table.columns
    none = table[table["market.venue.adl_policy"] == "none"]
    assert (none["adl_notional_usd"].fillna(0) == 0).all()  # no ADL under "none": losses go to bad debt
    # a run that needed an injection ran its fund dry, whatever the samples saw
    assert (table.loc[table["bad_debt_usd"] > 0, "fund_exhausted"] == 1.0).all()
    report = (tmp_path / "study" / "report.md").read_text()
    assert "## Risk outcomes by grid point, ranked" in report
    section = report.split("## Risk outcomes by grid point, ranked")[1]
    assert "ranked_queue" in section and "none" in section and "P(fund exhausted)" in section
    assert (tmp_path / "study" / "figures" / "risk_outcomes.png").stat().st_size > 0
