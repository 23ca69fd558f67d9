"""The stylized-fact estimators on series of known shape, the facts table of a run (real and made by hand),
pooled facts over runs with their bootstrap interval, and the facts a study's rows carry."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import experiments
from experiments.cli import main
from experiments.study import execute_task, prepare, sweep
from experiments.stylized import (
    ACF_LAGS,
    POOLED,
    RANGES,
    STUDY_FACTS,
    WINSOR_QUANTILE,
    aggregate,
    autocorrelation,
    excess_kurtosis,
    facts_markdown,
    facts_table,
    hill_tail_index,
    minute_series,
    pooled_autocorrelation,
    pooled_facts_table,
    pooled_variance_ratio,
    r_squared,
    series_values,
    study_facts_markdown,
    study_facts_table,
    symbol_facts,
    variance_ratio,
    winsorised,
)
from tests.experiments.helpers import TINY_POPULATION, synthetic_timeseries

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


GARCH = (0.05, 0.1, 0.85)  # omega, alpha, beta


def _garch(rng: np.random.Generator) -> np.ndarray:
    """N returns of a GARCH(1,1) (:data:`GARCH`) with normal shocks."""
    omega, alpha, beta = GARCH
    z = rng.standard_normal(N)
    r = np.empty(N)
    var = omega / (1 - alpha - beta)
    for t in range(N):
        r[t] = math.sqrt(var) * z[t]
        var = omega + alpha * r[t] ** 2 + beta * var
    return r


def test_garch_returns_cluster_in_absolute_value_but_not_in_sign() -> None:
    _, alpha, beta = GARCH
    r = _garch(np.random.default_rng(3))
    assert abs(autocorrelation(r, 1)) < 0.02
    assert autocorrelation(np.abs(r), 1) > 0.1 and autocorrelation(np.abs(r), 10) > 0.05
    # GARCH(1,1) with normal shocks: kurtosis 3 (1 - (a + b)^2) / (1 - (a + b)^2 - 2 a^2) = 3.77, excess 0.77
    persistence = (alpha + beta) ** 2
    expected = 3 * (1 - persistence) / (1 - persistence - 2 * alpha**2) - 3
    assert excess_kurtosis(r) == pytest.approx(expected, abs=0.25)


def test_the_body_clustering_sees_garch_but_not_isolated_spike_pairs() -> None:
    """The raw |r| ACF at lag 1 of iid minutes with rare isolated spikes, each followed by a minute that
    takes part of it back (a stop burst and its rebound), looks like clustering; capped at the 99th
    percentile it is ~0, and at lag 10 both are. A GARCH(1,1)'s body clusters: capped, its ACF stays
    clearly positive at both lags."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(N)
    spikes = rng.choice(np.arange(0, N - 1, 2), N // 500, replace=False)  # 0.2% of minutes, never adjacent
    x[spikes] = 40.0
    x[spikes + 1] = -20.0
    a = np.abs(x)
    body = winsorised(a, WINSOR_QUANTILE)
    assert autocorrelation(a, 1) > 0.2
    assert abs(autocorrelation(body, 1)) < 0.02 and abs(autocorrelation(body, 10)) < 0.02
    garch_body = winsorised(np.abs(_garch(rng)), WINSOR_QUANTILE)
    assert autocorrelation(garch_body, 1) > 0.1 and autocorrelation(garch_body, 10) > 0.05


def test_winsorising_caps_at_the_quantile_and_keeps_gaps() -> None:
    x = np.array([1.0, 2.0, np.nan, 3.0, 100.0])
    out = winsorised(x, 0.5)  # the median of the finite values is 2.5
    assert out[0] == 1.0 and out[1] == 2.0 and math.isnan(out[2])
    assert out[3] == 2.5 and out[4] == 2.5


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


# --------------------------------------------------------------------------- estimators over several runs


def test_a_pooled_autocorrelation_takes_no_pair_across_two_runs_and_a_nan_is_a_gap() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(500), rng.standard_normal(300) + 0.5
    values = np.concatenate([a, b])
    m = values.mean()
    for lag in (1, 3, 10):
        by_hand = (np.dot(a[:-lag] - m, a[lag:] - m) + np.dot(b[:-lag] - m, b[lag:] - m)) / np.dot(
            values - m, values - m
        )
        assert pooled_autocorrelation([a, b], lag) == pytest.approx(by_hand, rel=1e-12)
    # the concatenation has one pair across the seam more: not the same number
    assert pooled_autocorrelation([a, b], 1) != pytest.approx(autocorrelation(values, 1), rel=1e-9)
    # a NaN in a series is a gap: at lag 1, the same as the two pieces on either side of it
    gapped = np.concatenate([a, [np.nan], b])
    assert autocorrelation(gapped, 1) == pytest.approx(pooled_autocorrelation([a, b], 1), rel=1e-12)


def test_a_pooled_variance_ratio_sums_hours_inside_each_run() -> None:
    rng = np.random.default_rng(6)
    runs = [rng.standard_normal(150), rng.standard_normal(130) * 2]
    hours = np.concatenate([aggregate(r, 60) for r in runs])
    assert len(hours) == 4  # two whole hours in each run, the rest left out
    expected = np.var(hours, ddof=1) / (60 * np.var(np.concatenate(runs), ddof=1))
    assert pooled_variance_ratio(runs, 60) == pytest.approx(expected, rel=1e-12)
    # mean reversion (negatively autocorrelated returns) shows as a ratio below 1
    e = rng.standard_normal(60_001)
    assert variance_ratio(np.diff(e), 60) < 0.1


def test_r_squared_is_the_share_of_variance_explained() -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal(N)
    assert r_squared(x + rng.standard_normal(N), x) == pytest.approx(0.5, abs=0.01)
    assert r_squared(x + 0.5 * rng.standard_normal(N), x) == pytest.approx(0.8, abs=0.01)
    assert r_squared(rng.standard_normal(N), x) == pytest.approx(0.0, abs=0.001)
    y = 3 * x + rng.standard_normal(N)
    assert r_squared(y, x) == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-9)
    assert math.isnan(r_squared([1.0, 2.0, 3.0], [1.0, 1.0, 1.0]))


# --------------------------------------------------------------------------- one run's table


def _by_fact(table: pd.DataFrame, symbol: str) -> pd.DataFrame:
    return table[table["symbol"] == symbol].set_index("fact")


def _returns(ts: pd.DataFrame, symbol: str, column: str = "mid") -> np.ndarray:
    g = ts[ts["symbol"] == symbol].sort_values("time_s")
    return np.diff(np.log(g[column].to_numpy(dtype=float)))


def test_the_table_has_the_acf_at_every_lag_and_keeps_the_ranges_of_lag_one_and_abs_lag_ten() -> None:
    ts = synthetic_timeseries(3000, seed=8, tails_df=4.0)
    table = facts_table(ts)
    btc = _by_fact(table, "BTC")
    r = _returns(ts, "BTC")
    for lag in ACF_LAGS:
        assert btc.loc[f"acf_r_lag{lag}", "value"] == pytest.approx(autocorrelation(r, lag), rel=1e-12)
        assert btc.loc[f"acf_abs_r_lag{lag}", "value"] == pytest.approx(
            autocorrelation(np.abs(r), lag), rel=1e-12
        )
    ranged = {"acf_r_lag1", "acf_abs_r_lag1", "acf_abs_r_lag10"}
    for fact in [f"acf_r_lag{lag}" for lag in ACF_LAGS] + [f"acf_abs_r_lag{lag}" for lag in ACF_LAGS]:
        if fact in ranged:
            assert (btc.loc[fact, "low"], btc.loc[fact, "high"]) == RANGES[fact][:2]
            assert btc.loc[fact, "in_range"] in (True, False)
        else:
            assert btc.loc[fact, "in_range"] is None and math.isnan(btc.loc[fact, "high"]), fact
    # one symbol's facts alone give the same values
    alone = symbol_facts(ts[ts["symbol"] == "BTC"], tick_size_usd=0.1)
    assert np.allclose([alone[f] for f in btc.index], btc["value"].to_numpy(dtype=float), equal_nan=True)
    # iid returns: no clustering at lag 1, so the table marks it out of range
    assert btc.loc["acf_abs_r_lag1", "in_range"] is False
    for minutes, fact in ((1, "excess_kurtosis_1m"), (5, "excess_kurtosis_5m"), (60, "excess_kurtosis_1h")):
        agg = r if minutes == 1 else aggregate(r, minutes)
        assert btc.loc[fact, "value"] == pytest.approx(excess_kurtosis(agg), rel=1e-12)
    assert btc.loc["excess_kurtosis_1m", "value"] > 1.0  # Student-t(4) own returns: fat-tailed


def test_the_hill_row_states_its_tail_fraction() -> None:
    ts = synthetic_timeseries(3000, seed=9, tails_df=3.0)
    table = facts_table(ts)
    btc = _by_fact(table, "BTC")
    assert "largest 5% of abs 1-min returns" in btc.loc["hill_tail_index", "note"]
    assert btc.loc["hill_tail_index", "value"] == pytest.approx(hill_tail_index(_returns(ts, "BTC"), 0.05))
    line = next(x for x in facts_markdown(table).splitlines() if x.startswith("| hill_tail_index |"))
    assert "largest 5% of abs 1-min returns" in line and "2 to 3" in line


def test_the_variance_share_the_index_path_explains_is_the_r2_of_the_perp_on_the_path() -> None:
    ts = synthetic_timeseries(5000, seed=10)  # the path explains half of each perp's variance
    table = facts_table(ts)
    for sym in ("BTC", "ETH", "SOL"):
        share = _by_fact(table, sym).loc["index_path_var_share", "value"]
        assert share == pytest.approx(
            r_squared(_returns(ts, sym), _returns(ts, sym, "index_path")), rel=1e-12
        )
        assert share == pytest.approx(0.5, abs=0.04)
    assert "index_path_var_share" in STUDY_FACTS
    # a run recorded before index_path existed: not measured, not a crash
    old = facts_table(synthetic_timeseries(500, seed=10, index_path=False))
    assert math.isnan(_by_fact(old, "BTC").loc["index_path_var_share", "value"])
    assert "| index_path_var_share | — | — | — |" in facts_markdown(old)


def _write_run_dir(path: Path, ts: pd.DataFrame, config: dict[str, object] | None = None) -> Path:
    path.mkdir(parents=True)
    ts.to_parquet(path / "timeseries.parquet", index=False)
    if config is not None:
        (path / "config.yaml").write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


def test_an_alts_median_spread_is_checked_against_the_alt_rule_with_the_tick_of_the_runs_config(
    tmp_path: Path,
) -> None:
    # BTC 1 bp; ETH 1.8 bp <= 2 x BTC's; SOL 3 bp > 2 x BTC's and > 2 default ticks (2 x 0.01 / 150 = 1.3 bp)
    ts = synthetic_timeseries(300, seed=11, spreads_bp={"BTC": 1.0, "ETH": 1.8, "SOL": 3.0})
    table = facts_table(ts)  # the model's default ticks
    btc, eth, sol = (_by_fact(table, s) for s in ("BTC", "ETH", "SOL"))
    assert btc.loc["median_spread_bp", "high"] == RANGES["median_spread_bp"].high == 2.0
    assert eth.loc["median_spread_bp", "high"] == pytest.approx(2.0)  # 2 x BTC's 1 bp
    assert eth.loc["median_spread_bp", "in_range"] is True
    assert sol.loc["median_spread_bp", "in_range"] is False
    assert "alts quote wider" in sol.loc["median_spread_bp", "source"]
    assert sol.loc["median_spread_ticks", "value"] == pytest.approx(
        float(np.median(_spread_usd(ts, "SOL"))) / 0.01, rel=1e-9
    )
    # a SOL tick of 0.025 USD (from the run's config.yaml): two ticks are about 3.3 bp, SOL's 3 bp pass
    run = _write_run_dir(
        tmp_path / "run", ts, {"market": {"symbols": [{"name": "SOL", "tick_size_usd": 0.025}]}}
    )
    sol = _by_fact(experiments.facts(run), "SOL")
    two_ticks_bp = 2 * 0.025 / float(np.median(ts.loc[ts["symbol"] == "SOL", "mid"])) * 1e4
    assert sol.loc["median_spread_bp", "high"] == pytest.approx(two_ticks_bp, rel=1e-12)
    assert sol.loc["median_spread_bp", "in_range"] is True
    assert f"2 ticks = {two_ticks_bp:.3g} bp" in sol.loc["median_spread_bp", "note"]
    # a run directory without config.yaml: the default ticks
    plain = _by_fact(experiments.facts(_write_run_dir(tmp_path / "plain", ts)), "SOL")
    assert plain.loc["median_spread_bp", "in_range"] is False
    # the 4 bp cap binds however wide BTC is
    wide = facts_table(synthetic_timeseries(300, seed=11, spreads_bp={"BTC": 3.0, "ETH": 5.0, "SOL": 3.0}))
    assert _by_fact(wide, "ETH").loc["median_spread_bp", "high"] == 4.0
    assert _by_fact(wide, "ETH").loc["median_spread_bp", "in_range"] is False
    line = next(x for x in facts_markdown(table).splitlines() if x.startswith("| median_spread_bp |"))
    assert "BTC: <= 2; ETH: <= 2; SOL: <= 2" in line and "1.8 ✓" in line and "3 ✗" in line


def _spread_usd(ts: pd.DataFrame, symbol: str) -> np.ndarray:
    g = ts[ts["symbol"] == symbol]
    return (g["best_ask"] - g["best_bid"]).to_numpy(dtype=float)


def test_a_run_sampled_less_than_once_a_minute_has_no_one_minute_facts() -> None:
    ts = synthetic_timeseries(600, seed=12)
    coarse = ts[ts["time_s"] % 120 == 0]
    btc = _by_fact(facts_table(coarse), "BTC")
    assert math.isnan(btc.loc["acf_r_lag1", "value"]) and math.isnan(btc.loc["excess_kurtosis_1m", "value"])
    assert math.isfinite(btc.loc["median_spread_bp", "value"])
    # sampled every 10 s: one return a minute, the volume summed over the minute's samples
    fine = ts.copy()
    s = minute_series(fine[fine["symbol"] == "BTC"])
    assert len(s.r) == 600 and np.isfinite(s.r).all()


# --------------------------------------------------------------------------- pooled over runs


def _runs(n: int, minutes: int = 1500) -> dict[str, pd.DataFrame]:
    return {
        f"seed{i}": synthetic_timeseries(minutes, seed=100 + i, tails_df=4.0, vol=1e-3 * (1 + i))
        for i in range(n)
    }


def test_pooled_facts_pool_the_runs_minutes_and_keep_each_runs_values() -> None:
    runs = _runs(3)
    table = pooled_facts_table(runs, draws=50)
    assert list(dict.fromkeys(table["run"])) == ["seed0", "seed1", "seed2", POOLED]
    for label, ts in runs.items():
        own = facts_table(ts)
        mine = table[table["run"] == label].reset_index(drop=True)
        assert np.allclose(mine["value"], own["value"], equal_nan=True)
        assert mine["ci_low"].isna().all()
    pooled = _by_fact(table[table["run"] == POOLED], "BTC")
    rs = [_returns(ts, "BTC") for ts in runs.values()]
    assert pooled.loc["excess_kurtosis_1m", "value"] == pytest.approx(excess_kurtosis(np.concatenate(rs)))
    assert pooled.loc["acf_abs_r_lag1", "value"] == pytest.approx(
        pooled_autocorrelation([np.abs(r) for r in rs], 1)
    )
    assert pooled.loc["variance_ratio_1h", "value"] == pytest.approx(pooled_variance_ratio(rs, 60))
    assert pooled.loc["hill_tail_index", "value"] == pytest.approx(hill_tail_index(np.concatenate(rs)))
    # a ratio of a run's totals is averaged over the runs, not pooled
    per_run = table[
        (table["symbol"] == "BTC") & (table["fact"] == "volume_per_oi_day") & (table["run"] != POOLED)
    ]
    assert pooled.loc["volume_per_oi_day", "value"] == pytest.approx(per_run["value"].mean())
    # runs of different volatility pooled: a variance mixture, fatter-tailed than any one of them
    each = [excess_kurtosis(r) for r in rs]
    assert pooled.loc["excess_kurtosis_1m", "value"] > max(each)


def test_the_bootstrap_interval_resamples_runs_with_a_fixed_seed() -> None:
    runs = _runs(4, minutes=600)
    a = pooled_facts_table(runs, draws=200)
    b = pooled_facts_table(runs, draws=200)
    pd.testing.assert_frame_equal(a, b)  # deterministic
    other = pooled_facts_table(runs, draws=200, seed=1)
    pooled = a[a["run"] == POOLED].set_index(["symbol", "fact"])
    assert not np.allclose(pooled["ci_low"], other[other["run"] == POOLED]["ci_low"], equal_nan=True)
    # resampling runs: a run-average lies between the smallest and the largest run's value
    rows = a[(a["symbol"] == "BTC") & (a["fact"] == "basis_std_bp")]
    per_run = rows[rows["run"] != POOLED]["value"]
    lo, hi = pooled.loc[("BTC", "basis_std_bp"), ["ci_low", "ci_high"]]
    assert per_run.min() - 1e-9 <= lo < hi <= per_run.max() + 1e-9
    # the same run four times: every resample is that run, the interval has no width (resampling minutes
    # would have some)
    same = next(iter(runs.values()))
    copies = pooled_facts_table({f"copy{i}": same for i in range(4)}, draws=50)
    c = copies[copies["run"] == POOLED]
    finite = c["ci_low"].notna()
    assert finite.sum() > 20
    assert np.allclose(c.loc[finite, "ci_low"], c.loc[finite, "value"])
    assert np.allclose(c.loc[finite, "ci_high"], c.loc[finite, "value"])


def test_the_pooled_markdown_shows_each_run_the_pooled_value_and_its_interval() -> None:
    table = pooled_facts_table(_runs(2, minutes=600), draws=100)
    text = facts_markdown(table)
    assert "### BTC" in text and "### SOL" in text and "100 draws" in text and "resampling runs" in text
    row = table[
        (table["run"] == POOLED) & (table["symbol"] == "ETH") & (table["fact"] == "excess_kurtosis_1m")
    ]
    rec = row.iloc[0]
    eth = text.split("### ETH")[1].split("### SOL")[0]
    line = next(x for x in eth.splitlines() if x.startswith("| excess_kurtosis_1m |"))
    mark = " ✓" if rec["in_range"] else " ✗"
    assert f"| {rec['value']:.3g}{mark} | [{rec['ci_low']:.3g}, {rec['ci_high']:.3g}] | >= 2 |" in line
    assert line.count("✓") + line.count("✗") == 3  # each run's value and the pooled one


def test_a_symbol_missing_from_a_run_is_pooled_over_the_runs_that_have_it() -> None:
    runs = _runs(3, minutes=300)
    runs["seed1"] = runs["seed1"][runs["seed1"]["symbol"] != "SOL"]
    table = pooled_facts_table(runs, draws=40)
    sol = table[(table["symbol"] == "SOL") & (table["run"] == POOLED)].set_index("fact")
    rs = [_returns(runs[k], "SOL") for k in ("seed0", "seed2")]
    assert sol.loc["excess_kurtosis_1m", "value"] == pytest.approx(excess_kurtosis(np.concatenate(rs)))
    assert set(table.loc[table["symbol"] == "SOL", "run"]) == {"seed0", "seed2", POOLED}
    assert all(math.isnan(v) for v in series_values([]).values())


def test_cascadelab_facts_pools_several_run_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs = [_write_run_dir(tmp_path / label, ts) for label, ts in _runs(2, minutes=400).items()]
    assert main(["facts", *map(str, dirs), "--draws", "30", "--csv", str(tmp_path / "pooled.csv")]) == 0
    out = capsys.readouterr().out
    assert "Pooled over the minutes of 2 runs" in out and "| fact | seed0 | seed1 | runs in range |" in out
    table = pd.read_csv(tmp_path / "pooled.csv")
    assert set(table["run"]) == {"seed0", "seed1", POOLED}
    expected = experiments.facts(*dirs, draws=30)
    assert np.allclose(table["ci_high"], expected["ci_high"], equal_nan=True)
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.yaml").write_text("name: x\n")
    assert main(["facts", str(dirs[0]), str(study)]) == 2  # a study goes alone
    assert "give it alone" in capsys.readouterr().err


# --------------------------------------------------------------------------- studies


STUDY_GRID = {"market.leveraged.leverage_cap": [5, 50]}
STUDY_KW = {
    "seeds": 2,
    "grid": STUDY_GRID,
    "hours": 0.3,
    "overrides": [*TINY_POPULATION, "market.large_holders.count=1", "sample_seconds=10"],
}


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("facts") / "study"
    sweep("baseline", workers=2, out=out, **STUDY_KW)  # type: ignore[arg-type]
    return out


def test_a_study_row_carries_the_facts_its_run_measured(tiny_study: Path) -> None:
    results = pd.read_parquet(tiny_study / "results.parquet")
    fact_columns = [c for c in results.columns if c.startswith("fact_")]
    expected = {f"fact_{s}_{f}" for s in ("BTC", "ETH", "SOL") for f in STUDY_FACTS}
    expected |= {f"fact_{s}_median_spread_bp__high" for s in ("BTC", "ETH", "SOL")}
    assert set(fact_columns) == expected
    # the worker's facts are those of the run's own time series
    study = prepare("baseline", **STUDY_KW)  # type: ignore[arg-type]
    task = study.tasks[1]
    row = execute_task(task)
    run = experiments.run(experiments.ExperimentConfig.model_validate(task.config), seed=task.seed, hours=0.3)
    own = facts_table(run.timeseries)
    for rec in own.to_dict("records"):
        if rec["fact"] in STUDY_FACTS:
            got = row[f"fact_{rec['symbol']}_{rec['fact']}"]
            assert (got is None and math.isnan(rec["value"])) or got == pytest.approx(rec["value"]), rec
    stored = results.set_index("run_id").loc[task.run_id]
    assert stored["fact_BTC_acf_r_lag1"] == pytest.approx(row["fact_BTC_acf_r_lag1"])
    assert math.isnan(stored["fact_BTC_hill_tail_index"])  # 18 minutes: too few returns for a 5% tail


def test_cascadelab_facts_of_a_study_shows_each_points_distribution(
    tiny_study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["facts", str(tiny_study), "--csv", str(tiny_study.parent / "study_facts.csv")]) == 0
    out = capsys.readouterr().out
    assert "### grid point 0: leverage_cap = 5" in out and "### grid point 1: leverage_cap = 50" in out
    results = pd.read_parquet(tiny_study / "results.parquet")
    point1 = results[results["point"] == 1]["fact_ETH_acf_r_lag1"].to_numpy(dtype=float)
    lo, med, hi = np.percentile(point1, [5, 50, 95])
    inside = int(((point1 >= -0.15) & (point1 <= 0.10)).sum())
    section = out.split("### grid point 1")[1]
    line = next(x for x in section.splitlines() if x.startswith("| ETH | acf_r_lag1 |"))
    assert line.startswith(
        f"| ETH | acf_r_lag1 | 2 | {med:.3g} | {lo:.3g} to {hi:.3g} | {inside / 2:.0%} ({inside}/2) |"
    )
    table = pd.read_csv(tiny_study.parent / "study_facts.csv")
    assert {"point", "market.leveraged.leverage_cap", "symbol", "fact", "median", "p05", "p95"} <= set(
        table.columns
    )
    # the study report lists the same distribution
    report = (tiny_study / "report.md").read_text(encoding="utf-8")
    facts_part = report.split("## Stylized facts over runs (MARKET_FACTS §4–§5)")[1]
    assert line in facts_part.split("### grid point 1")[1]


def test_the_study_distribution_judges_each_run_against_its_own_alt_bound() -> None:
    results = pd.DataFrame(
        {
            "run_id": ["a", "b", "c", "d", "e"],
            "point": [0, 0, 0, 0, 0],
            "seed_index": [0, 1, 2, 3, 4],
            "seed": [1, 2, 3, 4, 5],
            "status": ["ok", "ok", "ok", "ok", "failed"],
            "fact_BTC_excess_kurtosis_1m": [1.0, 3.0, 5.0, np.nan, 100.0],
            "fact_ETH_median_spread_bp": [1.0, 2.0, 3.0, np.nan, 0.0],
            "fact_ETH_median_spread_bp__high": [2.5, 1.5, 4.0, 2.0, 4.0],
        }
    )
    table = study_facts_table(results).set_index(["symbol", "fact"])
    kurt = table.loc[("BTC", "excess_kurtosis_1m")]
    assert kurt["runs"] == 3 and kurt["median"] == 3.0  # the failed run is left out
    assert kurt["p05"] == pytest.approx(np.percentile([1, 3, 5], 5))
    assert kurt["in_range"] == pytest.approx(2 / 3)  # >= 2
    spread = table.loc[("ETH", "median_spread_bp")]
    assert spread["in_range"] == pytest.approx(2 / 3) and spread["judged_runs"] == 3  # 1 <= 2.5, 3 <= 4
    assert spread["high"] == 2.5 and "alts quote wider" in spread["source"]
    text = study_facts_markdown(study_facts_table(results))
    assert "### all runs" in text
    line = (
        "| ETH | median_spread_bp | 3 | 2 | 1.1 to 2.9 | 67% (2/3) | <= 2.5 (median of the runs' own bounds)"
    )
    assert line + " |" in text


def test_facts_of_a_study_that_predates_facts_is_a_one_line_error(
    tiny_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old_study"
    shutil.copytree(tiny_study, old)
    results = pd.read_parquet(old / "results.parquet")
    results.drop(columns=[c for c in results.columns if c.startswith("fact_")]).to_parquet(
        old / "results.parquet", index=False
    )
    assert main(["facts", str(old)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "predates stylized facts" in err[0] and "--keep-tables all" in err[0]
    assert main(["report", str(old)]) == 0
    report = (old / "report.md").read_text(encoding="utf-8")
    assert "The study's rows carry no facts" in report
