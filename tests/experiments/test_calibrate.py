"""SMM calibration: the targets file, the standard errors, resume, recovery of planted values, executors.

Most tests drive the optimiser through :func:`experiments.calibrate.calibrate` with a fast surrogate
simulator (``simulate=``): the same code path as the market (targets against a real config, the journal,
the optimiser, the SEs, the files) without the runs. The market itself is exercised by a CLI round trip,
a Dask evaluation and, under ``-m slow``, the recovery of two planted parameters.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import experiments
from experiments import cli
from experiments.calibrate import (
    FACT_NAMES,
    JOURNAL_FILE,
    CalibrationError,
    CalibrationResult,
    RunEvaluator,
    calibrate,
    load_targets,
    moments_row,
    prepare_calibration,
    smm_covariance,
)
from experiments.cli import main
from experiments.config import CONFIG_DIR, ConfigError, load_config
from experiments.runner import run
from experiments.study import study_seeds
from experiments.stylized import symbol_facts
from tests.experiments.helpers import TINY_POPULATION

SPREAD = "market.market_makers.half_spread_bps"
NOISE = "market.background.noise_orders_per_hour"
TINY_MARKET = [*TINY_POPULATION, "market.large_holders.count=1"]


def _targets(**changes: Any) -> dict[str, Any]:
    """Two parameters of the baseline, three moments (targets filled in by the tests that need them)."""
    spec: dict[str, Any] = {
        "parameters": [
            {"key": SPREAD, "low": 0.5, "high": 8.0, "start": 1.0},
            {"key": NOISE, "low": 10.0, "high": 600.0, "start": 40.0},
        ],
        "moments": [
            {"name": "median_spread_bp", "target": 5.0},
            {"name": "volume_per_oi_day", "target": 2.0},
            {"name": "basis_std_bp", "target": 2.0},
        ],
        "seeds": 8,
        "seed": 1,
        "hours": 1,
        "optimizer": {"max_evaluations": 150, "tolerance": 1e-3},
    }
    spec.update(changes)
    return spec


# --------------------------------------------------------------------------- surrogates


def _market_like(theta: np.ndarray) -> np.ndarray:
    """Smooth stand-ins for (spread, turnover, basis) as functions of (half-spread, noise order rate):
    the order rate moves the spread and the turnover, the half-spread all three."""
    a, b = float(theta[0]), float(theta[1])
    return np.array(
        [1.2 + 1.6 * a - 0.8 * np.log(b / 60), 1.5 * np.sqrt(b / 60) / (1 + 0.1 * a), 1 + 0.4 * a]
    )


class Surrogate:
    """A simulator with common random numbers: seed s always draws the same noise, and a rough,
    parameter-dependent part (like a market's path reacting to a change) keeps the objective bumpy."""

    def __init__(self, seeds: Sequence[int], *, fail_on_call: int | None = None) -> None:
        self.z = np.array([np.random.default_rng(s).standard_normal(3) for s in seeds])
        self.phase = np.array([np.random.default_rng(s + 1).uniform(0, 2 * np.pi, 3) for s in seeds])
        self.calls = 0
        self.points = 0
        self.fail_on_call = fail_on_call

    def __call__(self, points: Sequence[np.ndarray]) -> list[np.ndarray]:
        self.calls += 1
        if self.fail_on_call is not None and self.calls == self.fail_on_call:
            raise KeyboardInterrupt
        self.points += len(points)
        out = []
        for theta in points:
            rough = 0.3 * np.sin(11 * theta[0] + 5 * np.log(theta[1]) + self.phase)
            out.append(_market_like(theta) * (1 + 0.04 * (self.z + rough)))
        return out


def _surrogate_for(spec: dict[str, Any], **kw: Any) -> Surrogate:
    return Surrogate(study_seeds(int(spec["seed"]), int(spec["seeds"])), **kw)


def _with_targets(spec: dict[str, Any], values: Sequence[float]) -> dict[str, Any]:
    return {
        **spec,
        "moments": [{**m, "target": float(v)} for m, v in zip(spec["moments"], values, strict=True)],
    }


# --------------------------------------------------------------------------- the targets file


def test_the_moment_names_are_the_facts_of_a_run() -> None:
    minutes = 200
    rng = np.random.default_rng(0)
    mid = 100 * np.exp(np.cumsum(rng.normal(0, 1e-4, minutes)))
    ts = pd.DataFrame(
        {
            "time_s": np.arange(minutes) * 60.0,
            "mid": mid,
            "index": mid * (1 + rng.normal(0, 1e-4, minutes)),
            "best_bid": mid * 0.9999,
            "best_ask": mid * 1.0001,
            "volume_usd": rng.uniform(1, 2, minutes),
            "open_interest_usd": np.full(minutes, 10.0),
            "liq_long_usd": np.zeros(minutes),
            "liq_short_usd": np.zeros(minutes),
        }
    )
    assert set(FACT_NAMES) == set(symbol_facts(ts))


def _bad(path: str, value: Any) -> dict[str, Any]:
    """The default targets with one value replaced (``path`` dotted; list items by index)."""
    spec = json.loads(json.dumps(_targets()))
    parts = path.split(".")
    node: Any = spec
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return spec


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("parameters.0.hgh", 3.0, "targets: parameters.0.hgh: unknown key (did you mean 'high'?)"),
        ("seeeds", 3, "targets: seeeds: unknown key (did you mean 'seeds'?)"),
        (
            "optimizer.max_evals",
            3,
            "targets: optimizer.max_evals: unknown key (did you mean 'max_evaluations'?)",
        ),
        ("parameters.0.high", 0.2, "targets: parameters.0.high: must be above low (low = 0.5, high = 0.2)"),
        (
            "parameters.1.start",
            1000.0,
            "targets: parameters.1.start: 1000 is outside [low, high] = [10, 600]",
        ),
        ("parameters.0.key", "half_spread_bps", "targets: parameters.0.key: String should match pattern"),
        (
            "moments.1.name",
            "volume_per_oi",
            "targets: moments.1.name: unknown fact 'volume_per_oi' (did you mean 'volume_per_oi_day'?",
        ),
        ("moments.0.target", _DELETE, "targets: moments.0.target: required key is missing"),
        ("moments.0.weight", -1.0, "targets: moments.0.weight: Input should be greater than 0"),
        ("seeds", 1, "targets: seeds: Input should be greater than or equal to 2"),
        ("optimizer.method", "BFGS", "targets: optimizer.method: Input should be 'Nelder-Mead' or 'Powell'"),
        ("hours", "six", "targets: hours: Input should be a valid number"),
        (
            "moments",
            [{"name": "median_spread_bp", "target": 1.0}],
            "targets: moments: 1 moment(s) cannot identify 2",
        ),
    ],
)
def test_a_wrong_key_or_value_of_the_targets_is_one_error_naming_it(
    path: str, value: Any, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_targets(_bad(path, value))
    assert len(info.value.problems) == 1, info.value.problems
    assert info.value.problems[0].startswith(expected), info.value.problems


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "parameters.0.key",
            "market.market_makers.half_sprad_bps",
            "parameters.0.key: market.market_makers.half_sprad_bps is not a key of the config "
            "(did you mean 'half_spread_bps'?)",
        ),
        (
            "parameters.0.key",
            "market.market_makers",
            "parameters.0.key: market.market_makers is not a number",
        ),
        ("parameters.0.key", "market.venue.preset", "parameters.0.key: market.venue.preset is not a number"),
        (
            "parameters.0.key",
            "market.leveraged.count",
            "parameters.0.key: market.leveraged.count takes whole numbers only",
        ),
        (
            "parameters.0.low",
            -1.0,
            "parameters.0.low = -1: market.market_makers.half_spread_bps: Input should be greater than 0",
        ),
        (
            "moments.2.symbol",
            "DOGE",
            "moments.2.symbol: 'DOGE' is not a symbol of the config (BTC, ETH, SOL)",
        ),
        ("hours", 48, "hours: 48 is longer than the config's duration_hours (24)"),
    ],
)
def test_targets_are_checked_against_the_config_before_anything_runs(
    path: str, value: Any, expected: str
) -> None:
    never = _surrogate_for(_targets())
    with pytest.raises(ConfigError) as info:
        calibrate("baseline", _bad(path, value), simulate=never)
    assert [p for p in info.value.problems if p.startswith(expected)], info.value.problems
    assert never.calls == 0


def test_a_start_left_to_the_config_must_lie_in_the_box() -> None:
    spec = _bad("parameters.1.start", _DELETE)
    assert prepare_calibration("baseline", spec).start[1] == 60.0  # the config's noise_orders_per_hour
    spec["parameters"][1]["low"] = 100.0
    with pytest.raises(
        ConfigError, match=r"parameters.1.start: not given, and the config's value 60 is outside"
    ):
        prepare_calibration("baseline", spec)


def test_a_bad_targets_file_stops_the_cli_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.targets.yaml"
    bad.write_text(yaml.safe_dump(_bad("parameters.0.hgh", 3.0)))
    out = tmp_path / "cal"
    assert main(["calibrate", "baseline", "--targets", str(bad), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {bad}: parameters.0.hgh: unknown key (did you mean 'high'?)"]
    assert not out.exists()
    bad.write_text("parameters: [\n")
    assert main(["calibrate", "baseline", "--targets", str(bad), "--out", str(out)]) == 2
    assert "invalid YAML" in capsys.readouterr().err


def test_the_shipped_baseline_targets_validate() -> None:
    problem = prepare_calibration("baseline", "calibrate_baseline")
    assert (CONFIG_DIR / "calibrate_baseline.targets.yaml").is_file()
    assert set(problem.keys) >= {SPREAD, NOISE}
    assert {m.name for m in problem.moments} >= {"median_spread_bp", "volume_per_oi_day", "acf_r_lag1"}
    assert "calibrate_baseline.targets" not in [name for name, _ in experiments.config.list_scenarios()]


# --------------------------------------------------------------------------- standard errors


def test_the_sandwich_reduces_to_the_exactly_identified_formula() -> None:
    rng = np.random.default_rng(3)
    d = rng.normal(size=(3, 3))
    root = rng.normal(size=(3, 3))
    omega = root @ root.T
    inv = np.linalg.inv(d)
    expected = (1 + 1 / 5) * inv @ omega @ inv.T  # K = M: the weights drop out
    for weights in (np.ones(3), np.array([1.0, 10.0, 0.1])):
        np.testing.assert_allclose(smm_covariance(d, weights, omega, 5), expected, rtol=1e-10)
    assert np.isnan(smm_covariance(np.ones((3, 2)), np.ones(3), omega, 5)).all()  # collinear: not identified


class Linear:
    """Moments linear in the parameters with Gaussian noise of known covariance: m_s = A theta + c + L z_s."""

    A = np.array([[2.0, 0.005], [0.3, 0.015], [1.0, -0.01]])  # in units of the parameters' ranges
    C = np.array([1.0, 2.0, 0.5])
    L = np.array([[0.3, 0.0, 0.0], [0.1, 0.2, 0.0], [0.05, -0.1, 0.4]])

    def __init__(self, seeds: Sequence[int]) -> None:
        self.z = np.array([np.random.default_rng(s).standard_normal(3) for s in seeds])

    def mean(self, theta: np.ndarray) -> np.ndarray:
        return np.asarray(self.A @ theta + self.C)

    def __call__(self, points: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self.mean(np.asarray(t)) + self.z @ self.L.T for t in points]

    @classmethod
    def analytic_se(cls, seeds: int) -> np.ndarray:
        sigma = cls.L @ cls.L.T
        w = np.diag(1 / np.diag(sigma))
        bread = np.linalg.inv(cls.A.T @ w @ cls.A)
        cov = (1 + 1 / seeds) * bread @ cls.A.T @ w @ sigma @ w @ cls.A @ bread
        return np.asarray(np.sqrt(np.diag(cov)))


def _linear_spec(seeds: int, seed: int, targets: np.ndarray) -> dict[str, Any]:
    return {
        "parameters": [
            {"key": SPREAD, "low": 0.5, "high": 8.0, "start": 4.0},
            {"key": NOISE, "low": 10, "high": 600, "start": 300},
        ],
        "moments": [
            {"name": n, "target": float(t)}
            for n, t in zip(("median_spread_bp", "volume_per_oi_day", "basis_std_bp"), targets, strict=True)
        ],
        "seeds": seeds,
        "seed": seed,
        "optimizer": {"max_evaluations": 600, "tolerance": 1e-9},
        "jacobian_step": 0.05,
    }


def test_standard_errors_match_the_analytic_ones_on_a_linear_model() -> None:
    seeds = 4000
    truth = np.array([3.0, 200.0])
    targets = Linear(study_seeds(77, 1))([truth])[0][0]  # one data draw
    spec = _linear_spec(seeds, 5, targets)
    sim = Linear(study_seeds(5, seeds))
    result = calibrate("baseline", spec, simulate=sim)
    np.testing.assert_allclose(result.jacobian, Linear.A, rtol=1e-6, atol=1e-12)  # CRN: exact on a linear m
    se = np.array([result.standard_errors[k] for k in (SPREAD, NOISE)])
    np.testing.assert_allclose(se, Linear.analytic_se(seeds), rtol=0.05)
    # the estimate is the weighted least-squares solution of the linear moments
    w = np.array([m["weight"] for m in result.moments])
    zbar = sim.z.mean(axis=0) @ Linear.L.T
    a = Linear.A
    exact = np.linalg.solve(a.T @ np.diag(w) @ a, a.T @ np.diag(w) @ (targets - Linear.C - zbar))
    est = np.array([result.estimate[k] for k in (SPREAD, NOISE)])
    np.testing.assert_allclose(est, exact, rtol=1e-4)


def test_standard_errors_cover_the_spread_of_repeated_fits() -> None:
    """Data drawn afresh (covariance Omega) and fitted with S new seeds, many times: the spread of the
    estimates is the SE's (1 + 1/S) Omega sandwich, not the 1/S simulation noise alone."""
    seeds, reps = 10, 80
    truth = np.array([3.0, 200.0])
    estimates, ses = [], []
    for r in range(reps):
        data = Linear(study_seeds(10_000 + r, 1))([truth])[0][0]
        spec = _linear_spec(seeds, r, data)
        spec["optimizer"] = {"max_evaluations": 400, "tolerance": 1e-7}
        result = calibrate("baseline", spec, simulate=Linear(study_seeds(r, seeds)))
        estimates.append([result.estimate[k] for k in (SPREAD, NOISE)])
        ses.append([result.standard_errors[k] for k in (SPREAD, NOISE)])
    spread = np.std(np.array(estimates), axis=0, ddof=1)
    ratio = spread / Linear.analytic_se(seeds)
    assert np.all((ratio > 0.75) & (ratio < 1.3)), ratio
    ratio_reported = np.median(np.array(ses), axis=0) / Linear.analytic_se(seeds)
    assert np.all((ratio_reported > 0.75) & (ratio_reported < 1.3)), ratio_reported


# --------------------------------------------------------------------------- resume


def _fitted(spec: dict[str, Any]) -> dict[str, Any]:
    """The surrogate's moments at a planted point, measured on seeds the calibration does not use."""
    truth = np.array([3.0, 150.0])
    measured = Surrogate(study_seeds(1000, 32))([truth])[0].mean(axis=0)
    return _with_targets(spec, measured)


def _result_files(out: Path) -> dict[str, str]:
    return {
        n: (out / n).read_text() for n in ("calibration.json", "path.csv", "calibrated.yaml", "fit_report.md")
    }


def test_a_repeated_calibration_reuses_its_evaluations(tmp_path: Path) -> None:
    spec = _fitted(_targets())
    first = _surrogate_for(spec)
    one = calibrate("baseline", spec, tmp_path / "cal", simulate=first)
    files = _result_files(tmp_path / "cal")
    assert first.points >= len({tuple(r) for r in one.path[[SPREAD, NOISE]].to_numpy()}) + 1
    again = _surrogate_for(spec)
    two = calibrate("baseline", spec, tmp_path / "cal", simulate=again)
    assert again.calls == 0  # everything came from evaluations.jsonl
    assert _result_files(tmp_path / "cal") == files
    assert two.estimate == one.estimate and two.standard_errors == one.standard_errors
    lines = (tmp_path / "cal" / JOURNAL_FILE).read_text().splitlines()
    assert len(lines) == first.points  # one line per simulated point, nothing written twice


def test_an_interrupted_calibration_resumes_to_the_same_result(tmp_path: Path) -> None:
    spec = _fitted(_targets())
    fresh = _surrogate_for(spec)
    calibrate("baseline", spec, tmp_path / "fresh", simulate=fresh)
    stopped = _surrogate_for(spec, fail_on_call=9)  # Ctrl-C while the 9th batch of points runs
    with pytest.raises(KeyboardInterrupt):
        calibrate("baseline", spec, tmp_path / "cal", simulate=stopped)
    kept = len((tmp_path / "cal" / JOURNAL_FILE).read_text().splitlines())
    assert kept == stopped.points > 0  # every finished evaluation is on disk
    resumed = _surrogate_for(spec)
    calibrate("baseline", spec, tmp_path / "cal", simulate=resumed)
    assert resumed.points == fresh.points - kept  # only what was missing is simulated
    assert _result_files(tmp_path / "cal") == _result_files(tmp_path / "fresh")


def test_raising_max_evaluations_continues_the_same_path(tmp_path: Path) -> None:
    spec = _fitted(_targets())
    short = {**spec, "optimizer": {"max_evaluations": 12, "tolerance": 1e-3}}
    partial = calibrate("baseline", short, tmp_path / "cal", simulate=_surrogate_for(spec))
    assert not partial.converged and "max_evaluations (12)" in partial.message
    assert len(partial.path) == 12
    more = _surrogate_for(spec)
    full = calibrate("baseline", spec, tmp_path / "cal", simulate=more)
    fresh = calibrate("baseline", spec, tmp_path / "fresh", simulate=_surrogate_for(spec))
    pd.testing.assert_frame_equal(full.path, fresh.path)
    pd.testing.assert_frame_equal(full.path.iloc[:12], partial.path)
    assert full.converged and full.estimate == fresh.estimate


def test_other_inputs_in_the_directory_are_refused_unless_overwrite(tmp_path: Path) -> None:
    spec = _fitted(_targets())
    out = tmp_path / "cal"
    calibrate("baseline", spec, out, simulate=_surrogate_for(spec))
    other = json.loads(json.dumps(spec))
    other["moments"][0]["target"] += 0.5
    never = _surrogate_for(other)
    with pytest.raises(ConfigError, match="holds a calibration of other inputs"):
        calibrate("baseline", other, out, simulate=never)
    with pytest.raises(ConfigError, match="holds a calibration of other inputs"):
        calibrate("baseline", spec, out, overrides=["market.background.noise_size_usd=6000"], simulate=never)
    assert never.calls == 0
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a calibration directory"):
        calibrate("baseline", spec, tmp_path / "foreign", simulate=never)
    (out / "notes.txt").write_text("mine")
    replaced = _surrogate_for(other)
    calibrate("baseline", other, out, overwrite=True, simulate=replaced)
    assert replaced.points == len((out / JOURNAL_FILE).read_text().splitlines())  # nothing of the old kept
    assert (out / "notes.txt").read_text() == "mine"


def test_a_torn_last_journal_line_is_dropped(tmp_path: Path) -> None:
    spec = _fitted(_targets())
    out = tmp_path / "cal"
    stopped = _surrogate_for(spec, fail_on_call=6)
    with pytest.raises(KeyboardInterrupt):
        calibrate("baseline", spec, out, simulate=stopped)
    with open(out / JOURNAL_FILE, "a") as fh:
        fh.write('{"evaluation": 99, "kind": "path", "parame')  # a writer killed mid-line
    calibrate("baseline", spec, out, simulate=_surrogate_for(spec))
    for line in (out / JOURNAL_FILE).read_text().splitlines():
        json.loads(line)
    assert _result_files(out) == _result_files(_fresh(tmp_path, spec))


def _fresh(tmp_path: Path, spec: dict[str, Any]) -> Path:
    out = tmp_path / "fresh"
    calibrate("baseline", spec, out, simulate=_surrogate_for(spec))
    return out


# --------------------------------------------------------------------------- recovery (surrogate)


@pytest.mark.parametrize("method", ["Nelder-Mead", "Powell"])
def test_planted_parameters_are_recovered_on_a_surrogate(method: str, tmp_path: Path) -> None:
    """Targets from a planted (half-spread, order rate) measured on 32 other seeds; the order rate moves
    two moments (spread and turnover), so the two are fitted jointly, from a start far from the truth."""
    truth = {SPREAD: 3.0, NOISE: 150.0}
    spec = _fitted(_targets(optimizer={"method": method, "max_evaluations": 300, "tolerance": 1e-3}))
    assert not set(study_seeds(1000, 32)) & set(study_seeds(spec["seed"], spec["seeds"]))
    result = experiments.calibrate("baseline", spec, tmp_path / "cal", simulate=_surrogate_for(spec))
    assert isinstance(result, CalibrationResult)
    for key, value in truth.items():
        assert result.estimate[key] == pytest.approx(value, rel=0.10), (key, result.estimate)
        assert result.start[key] < 0.5 * value  # started far away
        assert result.standard_errors[key] < 0.25 * value
    assert result.objective < 0.05 * result.start_objective
    report = (tmp_path / "cal" / "fit_report.md").read_text()
    assert "SMM s.e." in report and "(1 + 1/S)" in report and "| evaluation |" in report
    data = json.loads((tmp_path / "cal" / "calibration.json").read_text())
    assert [p["key"] for p in data["parameters"]] == [SPREAD, NOISE]
    assert data["evaluations"] == len(pd.read_csv(tmp_path / "cal" / "path.csv"))
    calibrated = load_config(tmp_path / "cal" / "calibrated.yaml")
    assert calibrated.market.market_makers.half_spread_bps == result.estimate[SPREAD]
    assert calibrated.market.background.noise_orders_per_hour == result.estimate[NOISE]


def test_a_moment_that_cannot_be_measured_is_named() -> None:
    spec = _fitted(_targets())

    def nan_turnover(points: Sequence[np.ndarray]) -> list[np.ndarray]:
        out = _surrogate_for(spec)(points)
        for values in out:
            values[:, 1] = math.nan
        return out

    with pytest.raises(
        ConfigError, match=r"moments.1: volume_per_oi_day \(BTC\) cannot be measured on 8 of 8"
    ):
        calibrate("baseline", spec, simulate=nan_turnover)


# --------------------------------------------------------------------------- the real market


TINY_SPEC: dict[str, Any] = {
    "parameters": [{"key": SPREAD, "low": 0.5, "high": 8.0, "start": 2.0}],
    "moments": [{"name": "median_spread_bp", "target": 5.0}, {"name": "volume_per_oi_day", "target": 3.0}],
    "seeds": 2,
    "seed": 3,
    "hours": 0.1,
    "optimizer": {"max_evaluations": 2},
}
"""One parameter, two seeds, 6-minute runs: a real calibration of a few seconds."""


def _tiny_targets(path: Path) -> Path:
    path.write_text(yaml.safe_dump(TINY_SPEC, sort_keys=False))
    return path


def test_the_cli_calibrates_a_real_market_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = _tiny_targets(tmp_path / "tiny.targets.yaml")
    out = tmp_path / "cal"
    args = [
        "calibrate",
        "baseline",
        "--targets",
        str(targets),
        "--out",
        str(out),
        "--workers",
        "2",
        "--quiet",
    ]
    for item in TINY_MARKET:
        args += ["--set", item]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert SPREAD in printed and "run(s) simulated now" in printed
    for name in ("fit_report.md", "path.csv", "calibrated.yaml", "calibration.json", "provenance.json"):
        assert (out / name).is_file(), name
    runs = sorted((out / "runs").glob("*.json"))
    assert len(runs) == 2 * (2 + 2)  # start and one more point, then the Jacobian's two: 2 seeds each
    # a row's facts are the facts of the same run made directly
    row = json.loads(runs[0].read_text())
    direct = run(
        load_config("baseline", [*TINY_MARKET, f"{SPREAD}={row[SPREAD]!r}"]),
        seed=int(row["seed"]),
        hours=0.1,
        figures=False,
    )
    btc = direct.timeseries[direct.timeseries["symbol"] == "BTC"].sort_values("time_s")
    expected = symbol_facts(btc)["median_spread_bp"]
    assert row["fact_BTC_median_spread_bp"] == pytest.approx(expected, rel=1e-12)
    calibrated = load_config(out / "calibrated.yaml")
    data = json.loads((out / "calibration.json").read_text())
    assert calibrated.market.market_makers.half_spread_bps == data["parameters"][0]["estimate"]
    assert calibrated.market.leveraged.count == 30  # the --set items stay in the calibrated config
    before = {p.name: p.stat().st_mtime_ns for p in runs}
    files = _result_files(out)
    assert main(args) == 0
    assert "0 run(s) simulated now" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")} == before
    assert _result_files(out) == files


@pytest.mark.parametrize(
    ("exc", "code", "says"),
    [
        (KeyboardInterrupt(), 130, "interrupted: finished evaluations and runs are kept"),
        (
            CalibrationError("2 run(s) of 1 evaluation point(s) failed: ValueError: boom"),
            1,
            "ValueError: boom",
        ),
    ],
)
def test_the_cli_says_what_is_kept_when_a_calibration_stops(
    exc: BaseException,
    code: int,
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def stop(*_args: Any, **_kw: Any) -> None:
        raise exc

    monkeypatch.setattr(cli, "calibrate", stop)
    targets = _tiny_targets(tmp_path / "tiny.targets.yaml")
    assert (
        main(["calibrate", "baseline", "--targets", str(targets), "--out", str(tmp_path / "c"), "-q"]) == code
    )
    assert says in capsys.readouterr().err


def test_an_evaluation_on_a_dask_cluster_matches_the_local_one() -> None:
    from distributed import LocalCluster

    cfg = load_config("baseline", TINY_MARKET)
    problem = prepare_calibration(cfg, TINY_SPEC)
    point = np.array([2.5])
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as cluster:
        evaluator = RunEvaluator(
            cfg,
            problem.keys,
            problem.columns,
            2,
            problem.targets.seed,
            problem.hours,
            scheduler=cluster.scheduler_address,
        )
        (on_dask,) = evaluator([point])
    assert evaluator.runs_done == 2 and on_dask.shape == (2, 2)
    here = [moments_row(t) for t in evaluator.tasks([point])[0]]  # the same tasks in this process
    expected = np.array([[r[c] for c in problem.columns] for r in here], dtype=float)
    np.testing.assert_array_equal(on_dask, expected)


# --------------------------------------------------------------------------- recovery on the market (slow)

NOISE_OFFSET = "market.background.noise_offset_bps"
RECOVERY_MARKET = [
    "market.leveraged.count=30",
    "market.market_makers.count=2",
    "market.background.fundamental_count=4",
    "market.background.noise_count=40",
    "market.large_holders.count=1",
    "market.symbols=[{name: BTC, price_usd: 78000.0, tick_size_usd: 0.1, lot_size: 0.001}]",
    "dt_seconds=3",
]
"""One symbol, a noise flow large enough to drive the turnover, 3-s steps: a market where 4-hour runs take
about a second and the two noise parameters move the spread and the turnover by more than their noise."""


@pytest.mark.slow
def test_planted_parameters_are_recovered_on_the_real_market(tmp_path: Path) -> None:
    """Targets from 24 runs at a planted (noise order rate, noise limit-order offset), on seeds the
    calibration never uses; both parameters move both the spread and the turnover (the rate raises the
    turnover and narrows the spread, the offset widens it and lowers the turnover), fitted jointly from
    a start 40% below the truth. Each estimate must be within 10% of the truth."""
    truth = {NOISE: 90.0, NOISE_OFFSET: 10.0}
    cfg = load_config("baseline", RECOVERY_MARKET)
    moments = ["median_spread_bp", "volume_per_oi_day", "basis_std_bp"]
    spec: dict[str, Any] = {
        "parameters": [
            {"key": NOISE, "low": 20.0, "high": 300.0, "start": 54.0},
            {"key": NOISE_OFFSET, "low": 2.0, "high": 30.0, "start": 6.0},
        ],
        "moments": [{"name": n, "target": 0.0} for n in moments],
        "seeds": 8,
        "seed": 11,
        "hours": 4,
        "optimizer": {"max_evaluations": 45, "tolerance": 0.005, "initial_step": 0.1},
    }
    problem = prepare_calibration(cfg, spec)
    workers = min(4, os.cpu_count() or 1)
    planted = RunEvaluator(cfg, problem.keys, problem.columns, 24, 999, 4.0, workers=workers)
    (at_truth,) = planted([np.array([truth[NOISE], truth[NOISE_OFFSET]])])
    assert not set(study_seeds(999, 24)) & set(problem.seeds)
    spec["moments"] = [
        {"name": n, "target": float(v)} for n, v in zip(moments, at_truth.mean(axis=0), strict=True)
    ]
    result = calibrate(cfg, spec, tmp_path / "cal", workers=workers)
    shutil.copy(tmp_path / "cal" / "fit_report.md", tmp_path / "report.md")
    for key, value in truth.items():
        assert result.estimate[key] == pytest.approx(value, rel=0.10), (
            key,
            result.estimate,
            result.standard_errors,
        )
        # the SEs (for targets measured on one run's worth of data) are of the order of the tolerance:
        # a 10% recovery is a real test, not one any estimate would pass (measured: 8% and 8.5%)
        assert result.standard_errors[key] < 0.15 * value


@pytest.mark.parametrize("targets", sorted(p.name for p in CONFIG_DIR.glob("*.targets.yaml")))
def test_every_shipped_targets_file_validates_against_its_scenario(targets: str) -> None:
    name = targets.removesuffix(".targets.yaml")
    scenario = name.removeprefix("calibrate_")
    problem = prepare_calibration(scenario, name)
    assert len(problem.moments) >= len(problem.keys) >= 1
