"""The stylized-fact estimators on series of known shape, and the facts table of a real short run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import experiments
from experiments.cli import main
from experiments.stylized import (
    RANGES,
    autocorrelation,
    excess_kurtosis,
    facts_markdown,
    facts_table,
    hill_tail_index,
    variance_ratio,
)
from tests.experiments.helpers import TINY_POPULATION

N = 200_000


def test_iid_gaussian_has_no_excess_kurtosis_no_autocorrelation_and_a_thin_tail() -> None:
    x = np.random.default_rng(1).standard_normal(N)
    assert excess_kurtosis(x) == pytest.approx(0.0, abs=0.05)
    assert abs(autocorrelation(x, 1)) < 0.01 and abs(autocorrelation(np.abs(x), 1)) < 0.01
    assert hill_tail_index(x) > 4.0  # far above a power law's 2-3
    assert variance_ratio(x, 60) == pytest.approx(1.0, abs=0.1)


def test_student_t_with_three_degrees_of_freedom_has_a_hill_index_near_three() -> None:
    x = np.random.default_rng(2).standard_t(3, N)
    # at a 5% tail fraction the Hill estimator of a t(3) sits a little above 3 (its second-order bias)
    assert hill_tail_index(x, 0.05) == pytest.approx(3.0, abs=0.5)
    assert excess_kurtosis(x) > 5.0


def test_garch_returns_cluster_in_absolute_value_but_not_in_sign() -> None:
    rng = np.random.default_rng(3)
    omega, alpha, beta = 0.05, 0.1, 0.85
    z = rng.standard_normal(N)
    r = np.empty(N)
    var = omega / (1 - alpha - beta)
    for t in range(N):
        r[t] = math.sqrt(var) * z[t]
        var = omega + alpha * r[t] ** 2 + beta * var
    assert abs(autocorrelation(r, 1)) < 0.02
    assert autocorrelation(np.abs(r), 1) > 0.1 and autocorrelation(np.abs(r), 10) > 0.05
    # GARCH(1,1) with normal shocks: kurtosis 3 (1 - (a + b)^2) / (1 - (a + b)^2 - 2 a^2) = 3.77, excess 0.77
    persistence = (alpha + beta) ** 2
    expected = 3 * (1 - persistence) / (1 - persistence - 2 * alpha**2) - 3
    assert excess_kurtosis(r) == pytest.approx(expected, abs=0.25)


def test_a_bid_ask_bounce_shows_negative_lag_one_autocorrelation() -> None:
    rng = np.random.default_rng(4)
    fundamental = np.cumsum(rng.standard_normal(N) * 0.1)
    trade = fundamental + 0.5 * rng.choice([-1.0, 1.0], N)  # trades at the bid or the ask
    acf = autocorrelation(np.diff(trade), 1)
    assert acf < -0.3  # Roll's bounce: -s^2/4 / (sigma^2 + s^2/2) = -0.25 / 0.6 = -0.42
    assert RANGES["acf_r_lag1"].low > acf  # and the facts table would mark it out of range


def test_undefined_estimates_are_nan() -> None:
    assert math.isnan(autocorrelation([1.0, 1.0, 1.0, 1.0], 1))
    assert math.isnan(excess_kurtosis([1.0, 2.0]))
    assert math.isnan(hill_tail_index(np.arange(50.0)))  # 5% of 50 is too few values
    assert math.isnan(variance_ratio(np.ones(10), 60))


def test_the_facts_table_of_a_short_run_measures_every_symbol() -> None:
    run = experiments.run("baseline", seed=11, hours=2, figures=False)
    table = facts_table(run.timeseries)
    assert set(table["symbol"]) == {"BTC", "ETH", "SOL"}
    btc = table[table["symbol"] == "BTC"].set_index("fact")
    # the spread from the run's own best bid/ask, by hand at one minute
    ts = run.timeseries[run.timeseries["symbol"] == "BTC"]
    spread = ((ts["best_ask"] - ts["best_bid"]) / ts["mid"] * 1e4).to_numpy()
    assert btc.loc["median_spread_bp", "value"] == pytest.approx(
        float(np.median(spread[ts["time_s"] % 60 == 0]))
    )
    for fact in ("vol_ratio_perp_index", "acf_r_lag1", "excess_kurtosis_1m", "volume_per_oi_day"):
        assert math.isfinite(btc.loc[fact, "value"]), fact
        assert btc.loc[fact, "in_range"] in (True, False)
    text = facts_markdown(table)
    assert "| median_spread_bp |" in text and "§5" in text


def test_cascadelab_facts_prints_the_table_of_a_run_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    experiments.run("baseline", seed=11, hours=1, out=out, figures=False)
    assert main(["facts", str(out), "--csv", str(tmp_path / "facts.csv")]) == 0
    text = capsys.readouterr().out
    assert "| median_spread_bp |" in text and "| BTC | ETH | SOL |" in text
    table = pd.read_csv(tmp_path / "facts.csv")
    assert set(table["symbol"]) == {"BTC", "ETH", "SOL"} and "hill_tail_index" in set(table["fact"])
    assert experiments.facts(out).shape == table.shape
    assert main(["facts", str(tmp_path)]) == 2  # not a run directory: one line, exit 2


def test_the_time_series_records_the_exogenous_index_path_beside_the_index() -> None:
    jump = "market.shocks=[{kind: index_jump, at_hour: 0.5, symbol: BTC, pct: -0.08}]"
    run = experiments.run("baseline", seed=1, hours=1, overrides=[*TINY_POPULATION, jump], figures=False)
    btc = run.timeseries[run.timeseries["symbol"] == "BTC"].set_index("time_s")
    assert btc["index_path"].iloc[0] == pytest.approx(78_000.0)  # the symbol's start price
    # the index is the path times what arbitrage and spot impact added: close to it, but not it
    deviation = btc["index"] / btc["index_path"] - 1.0
    assert deviation.abs().max() < 0.01 and deviation.abs().max() > 1e-5
    # the scripted jump is in the path (one minute of the random walk aside)
    assert btc.loc[1860.0, "index_path"] / btc.loc[1800.0, "index_path"] == pytest.approx(0.92, abs=0.003)
