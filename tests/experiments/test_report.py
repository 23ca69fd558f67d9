"""The run, study and comparison reports say what a risk team asks, with the run's own numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

import experiments
from experiments.format import format_usd
from experiments.report import compare_runs, run_report_markdown, summary_text
from experiments.rundir import RunResult
from experiments.stylized import facts_table, tick_sizes
from tests.golden.cases import CASES


@pytest.fixture(scope="module")
def adl_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    """The golden whale_dump case (1.2 h, with liquidations, takeovers and ADL), written with figures."""
    case = CASES["whale_dump"]
    out = tmp_path_factory.mktemp("runs") / "whale"
    result = experiments.run(
        case.scenario, seed=case.seed, hours=case.hours, overrides=list(case.overrides), out=out, figures=True
    )
    return result, out


def test_the_run_report_has_the_risk_sections_with_the_summary_numbers(
    adl_run: tuple[RunResult, Path],
) -> None:
    result, out = adl_run
    s = result.summary
    text = (out / "report.md").read_text()
    assert s.adl_notional_usd is not None and s.adl_notional_usd > 0
    assert s.adl_notional_usd == pytest.approx(float(result.adl["notional_usd"].sum()))
    for heading in ("## Insurance fund", "## Auto-deleveraging", "## Contagion", "## Cascades"):
        assert heading in text
    assert "| ADL notional, all symbols (USD)" in text and format_usd(s.adl_notional_usd) in text
    assert format_usd(s.adl_overshoot_usd) in text and format_usd(s.adl_shortfall_usd) in text
    assert format_usd(s.insurance_fund_peak_usd) in text and format_usd(s.bad_debt_usd) in text
    assert "The `rank` of an ADL fill" in text
    assert f"{s.liquidation_to_adl_s:,.0f}" in text
    # the definition of a cascade is printed, and every reported move reaches it
    assert "Definition: a cascade is a price move of at least 3% against one side" in text
    for c in s.cascades:
        assert c.move_pct is not None and abs(c.move_pct) >= 3.0
    # units on the columns; no week column in a 1.2 h run; drawdowns as positive magnitudes
    assert "realised vol (fraction/sqrt(day))" in text and "max drawdown (%, magnitude)" in text
    assert "worst 7 d" not in text and "worst 24 h" not in text
    btc = s.symbols["BTC"].max_drawdown_pct
    assert btc is not None and f"{btc:.2f}%" in text and f"-{btc:.2f}%" not in text
    assert "adl.png" in text and (out / "figures" / "adl.png").is_file()
    assert "a cascade is a price move" in summary_text(s)
    # the contagion section: each alt's ratio, stress and calm correlations and BTC's lead, as summarised
    section = text.split("## Contagion")[1].split("\n## ")[0]
    for alt in ("ETH", "SOL"):
        m = s.symbols[alt]
        row = next(line for line in section.splitlines() if line.startswith(f"| {alt} "))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert (
            cells[1] == f"{m.contagion_drawdown_ratio:.2f}" and cells[2] == f"{m.contagion_stress_corr:.2f}"
        )
        assert m.contagion_calm_corr is not None and cells[3] == f"{m.contagion_calm_corr:.2f}"
        assert m.contagion_lead_lag_s is not None and cells[4] == f"{m.contagion_lead_lag_s:g}"


def test_the_adl_figures_in_summary_match_a_hand_check_of_the_adl_table(
    adl_run: tuple[RunResult, Path],
) -> None:
    result, _ = adl_run
    s, adl = result.summary, result.adl
    below3 = float(adl.loc[adl["effective_leverage"] < 3, "notional_usd"].sum()) / float(
        adl["notional_usd"].sum()
    )
    assert s.adl_share_below_3x == pytest.approx(below3)
    assert s.first_adl_s == pytest.approx(float(adl["time_s"].min()))
    assert s.first_liquidation_s == pytest.approx(float(result.liquidations["time_s"].min()))
    assert s.liquidation_to_adl_s == pytest.approx(s.first_adl_s - s.first_liquidation_s)
    assert s.adl_haircut_usd == pytest.approx(float(adl["haircut_usd"].sum()), abs=1e-6)
    assert s.adl_overshoot_usd is not None and s.adl_overshoot_usd >= 0
    start, low = s.insurance_fund_start_usd, s.insurance_fund_min_usd
    assert s.insurance_fund_drawdown_usd == pytest.approx(start - low)
    assert s.insurance_fund_drawdown_pct == pytest.approx((start - low) / start * 100)


def test_nothing_liquidated_shows_a_dash_for_the_long_share(adl_run: tuple[RunResult, Path]) -> None:
    result, _ = adl_run
    data = result.summary.to_json_dict()
    for m in data["symbols"].values():
        m.update(liquidations_long_usd=0.0, liquidations_short_usd=0.0, long_liq_share=0.0)
    summary = type(result.summary).model_validate(data)
    text = run_report_markdown(summary, None, [])
    row = next(line for line in text.splitlines() if line.startswith("| BTC"))
    assert row.rstrip(" |").endswith("\u2014") and "0.0%" not in row


def test_compare_runs_writes_a_side_by_side_table_and_overlaid_figures(
    adl_run: tuple[RunResult, Path], tmp_path: Path
) -> None:
    result, first = adl_run
    second = tmp_path / "calm"
    calm = experiments.run(
        "baseline", seed=1, hours=0.05, overrides=["sample_seconds=10"], out=second, figures=False
    )
    path = compare_runs([first, second], tmp_path / "cmp")
    text = path.read_text()
    header = next(line for line in text.splitlines() if line.startswith("| metric"))
    assert "whale" in header and "calm" in header
    row = next(line for line in text.splitlines() if line.startswith("| liquidated, longs + shorts"))
    assert format_usd(result.summary.totals.liquidated_usd) in row
    assert format_usd(calm.summary.totals.liquidated_usd) in row
    assert (tmp_path / "cmp" / "figures" / "compare_liquidations.png").is_file()
    assert "compare_price_BTC.png" in text
    with pytest.raises(ValueError):
        compare_runs([first], tmp_path / "one")


def test_the_run_report_has_the_stylized_facts_table_and_figure(adl_run: tuple[RunResult, Path]) -> None:
    result, out = adl_run
    text = (out / "report.md").read_text(encoding="utf-8")
    heading = "## Stylized facts (MARKET_FACTS §4–§5)"
    assert heading in text
    section = text.split(heading)[1].split("\n## ")[0]
    table = facts_table(result.timeseries, ticks=tick_sizes(result.config))
    for fact in ("acf_r_lag1", "excess_kurtosis_1m", "index_path_var_share"):
        rows = table[table["fact"] == fact]
        cells = []
        for _, row in rows.iterrows():
            mark = "" if row["in_range"] is None else (" ✓" if row["in_range"] else " ✗")
            cells.append(f"{row['value']:.3g}{mark}")
        assert f"| {fact} | " + " | ".join(cells) + " |" in section, fact
    assert "| fact | BTC | ETH | SOL | real range | source | note |" in section
    assert "![stylized facts](figures/facts.png)" in section and (out / "figures" / "facts.png").is_file()
    assert "facts.png" not in text.split("## Figures")[1]  # shown once, in its section
    # without figures: the table, no image
    bare = run_report_markdown(result.summary, result.config, [], result.adl, table)
    assert heading in bare and "| acf_r_lag1 |" in bare and "facts.png" not in bare
