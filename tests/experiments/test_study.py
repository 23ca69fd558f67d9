"""Monte Carlo studies: seeds, run ids, executors (1 worker, 2 workers, Dask), resume, failures, fragility."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from experiments import stats, study
from experiments.cli import main
from experiments.config import ConfigError, load_config
from experiments.study import (
    _execute,
    comparable,
    execute_task,
    expand_tasks,
    flatten_summary,
    prepare,
    study_seeds,
    sweep,
)
from experiments.summary import RunSummary
from tests.experiments.helpers import ROOT, TINY_POPULATION, subprocess_env, wait_for
from tests.golden.cases import CASES, golden_dir

GOLDEN_DIR = golden_dir()

# Very short runs of the leverage study: 36 one-second steps, small populations.
STUDY_OVERRIDES = [*TINY_POPULATION, "market.large_holders.count=1", "sample_seconds=10"]
HOURS = 0.01
GRID = {"market.leveraged.leverage_cap": [5, 50]}


def _cli_sweep_args(out: Path, seeds: int, workers: int, extra: list[str] | None = None) -> list[str]:
    args = [
        "sweep",
        "leverage_sweep",
        "--seeds",
        str(seeds),
        "--grid",
        "market.leveraged.leverage_cap=5,50",
        "--hours",
        str(HOURS),
        "--workers",
        str(workers),
        "--out",
        str(out),
        "--quiet",
    ]
    for item in STUDY_OVERRIDES:
        args += ["--set", item]
    return args + (extra or [])


# --------------------------------------------------------------------------- pure parts


def test_seeds_come_from_a_seed_sequence() -> None:
    seeds = study_seeds(42, 100)
    assert seeds == study_seeds(42, 100)
    assert seeds[:10] == study_seeds(42, 10)  # spawning more keeps the first ones
    assert len(set(seeds)) == 100
    assert all(isinstance(s, int) and 0 <= s < 2**63 for s in seeds)
    assert seeds != study_seeds(43, 100)
    child = np.random.SeedSequence(42).spawn(1)[0]
    assert seeds[0] == int(child.generate_state(1, dtype=np.uint64)[0]) >> 1


def test_tasks_are_ordered_and_ids_are_stable() -> None:
    cfg = load_config("leverage_sweep", STUDY_OVERRIDES)
    tasks = expand_tasks(cfg, GRID, 3, 7, HOURS)
    assert [(t.point, t.seed_index) for t in tasks] == [(p, i) for p in range(2) for i in range(3)]
    assert [t.seed for t in tasks[:3]] == [t.seed for t in tasks[3:]]  # common random numbers
    assert len({t.run_id for t in tasks}) == 6
    again = expand_tasks(load_config("leverage_sweep", STUDY_OVERRIDES), GRID, 3, 7, HOURS)
    assert [t.run_id for t in tasks] == [t.run_id for t in again]
    assert tasks[0].config["market"]["leveraged"]["leverage_cap"] == 5
    assert tasks[3].config["market"]["leveraged"]["leverage_cap"] == 50


def test_prepare_rejects_bad_grids_before_running() -> None:
    with pytest.raises(ConfigError, match=r"market.leveraged.leverage_cap: Input should be greater than 0"):
        prepare("leverage_sweep", seeds=2, grid={"market.leveraged.leverage_cap": [5, 0]})
    with pytest.raises(ConfigError, match=r"--hours"):
        prepare("leverage_sweep", seeds=2, hours=10)


def test_a_failed_run_is_recorded_and_does_not_stop_the_others() -> None:
    cfg = load_config("leverage_sweep", STUDY_OVERRIDES)
    good = expand_tasks(cfg, {}, 2, 1, HOURS)
    bad = type(good[0])(
        run_id="bad0000000000000",
        point=0,
        seed_index=99,
        seed=1,
        params={},
        config={**good[0].config, "market": {"leveraged": {"no_such_key": 1}}},
        hours=HOURS,
    )
    row = execute_task(bad)
    assert row["status"] == "failed" and "no_such_key" in row["error"]
    rows: dict[str, dict[str, object]] = {}
    failed = _execute(
        [good[0], bad, good[1]], 2, None, 5, lambda r: rows.__setitem__(str(r["run_id"]), r), None
    )
    assert failed == 1
    assert rows[bad.run_id]["status"] == "failed"
    assert rows[good[0].run_id]["status"] == "ok" and rows[good[1].run_id]["status"] == "ok"


# --------------------------------------------------------------------------- executors


def test_same_table_with_one_and_two_workers(tmp_path: Path) -> None:
    kw = {"seeds": 2, "grid": GRID, "hours": HOURS, "overrides": STUDY_OVERRIDES, "master_seed": 3}
    one = sweep("leverage_sweep", workers=1, out=tmp_path / "one", **kw)  # type: ignore[arg-type]
    two = sweep("leverage_sweep", workers=2, out=tmp_path / "two", **kw)  # type: ignore[arg-type]
    assert len(one) == 4 and (one["status"] == "ok").all(), one.get("error")
    pd.testing.assert_frame_equal(comparable(one), comparable(two))
    assert list(one["market.leveraged.leverage_cap"]) == [5, 5, 50, 50]
    assert (one["ledger_imbalance"] == 0).all()
    # the table on disk is the table returned
    on_disk = pd.read_parquet(tmp_path / "two" / "results.parquet")
    pd.testing.assert_frame_equal(comparable(on_disk), comparable(two), check_dtype=False)
    for name in (
        "study.yaml",
        "study.json",
        "fragility.parquet",
        "fragility.csv",
        "report.md",
        "figures/fragility.png",
    ):
        assert (tmp_path / "two" / name).is_file(), name
    assert len(list((tmp_path / "two" / "runs").glob("*.json"))) == 4
    # a second sweep over the same directory recomputes nothing
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "two" / "runs").glob("*.json")}
    again = sweep("leverage_sweep", workers=2, out=tmp_path / "two", **kw)  # type: ignore[arg-type]
    assert mtimes == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "two" / "runs").glob("*.json")}
    pd.testing.assert_frame_equal(comparable(again), comparable(two), check_dtype=False)


def test_in_memory_sweep_matches_and_report_rerenders(tmp_path: Path) -> None:
    kw = {"seeds": 2, "grid": GRID, "hours": HOURS, "overrides": STUDY_OVERRIDES}
    disk = sweep("leverage_sweep", workers=2, out=tmp_path / "s", **kw)  # type: ignore[arg-type]
    memory = sweep("leverage_sweep", workers=2, out=None, **kw)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(comparable(disk), comparable(memory))
    (tmp_path / "s" / "report.md").unlink()
    assert main(["report", str(tmp_path / "s")]) == 0
    assert "## Fragility" in (tmp_path / "s" / "report.md").read_text()


def _run_files(out: Path) -> dict[str, int]:
    runs = out / "runs"
    return {p.name: p.stat().st_mtime_ns for p in runs.glob("*.json")} if runs.is_dir() else {}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_resume_after_an_interrupted_study(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "study"
    seeds = 6
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", *_cli_sweep_args(out, seeds, 1, ["--recycle", "50"])],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_for(lambda: len(_run_files(out)) >= 2 or proc.poll() is not None, 300, "two finished runs")
        if sig == signal.SIGKILL:
            os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers: nothing is flushed
        else:
            os.kill(proc.pid, signal.SIGINT)  # Ctrl-C to the sweep process only
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    before = _run_files(out)
    assert 2 <= len(before) <= 2 * seeds
    # 12 runs on one worker, interrupted after the second: the study cannot have finished
    assert len(before) < 2 * seeds, "the study finished before it could be interrupted"
    if sig == signal.SIGINT:
        assert proc.returncode == 130, proc.stderr.read().decode() if proc.stderr else ""
        partial = pd.read_parquet(out / "results.parquet")  # written on Ctrl-C
        assert set(partial["run_id"]) == {Path(n).stem for n in before}
    assert not [
        p for p in (out / "runs").iterdir() if not p.name.endswith(".json") and not p.name.startswith(".")
    ]
    for name in before:
        json.loads((out / "runs" / name).read_text())  # every finished file is whole

    assert main(_cli_sweep_args(out, seeds, 2)) == 0
    after = _run_files(out)
    assert len(after) == 2 * seeds
    assert {k: after[k] for k in before} == before  # finished runs were not recomputed
    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == 2 * seeds and (table["status"] == "ok").all()
    assert list(zip(table["point"], table["seed_index"], strict=True)) == [
        (p, i) for p in range(2) for i in range(seeds)
    ]

    fresh = sweep("leverage_sweep", seeds=seeds, grid=GRID, hours=HOURS, overrides=STUDY_OVERRIDES, workers=2)
    pd.testing.assert_frame_equal(comparable(table), comparable(fresh), check_dtype=False)


# --------------------------------------------------------------------------- Dask


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dask_command() -> list[str]:
    exe = Path(sys.executable).parent / "dask"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("dask")
    if found:
        return [found]
    raise AssertionError(
        "the dask command is not installed: the test suite needs the cluster extra "
        "(pip install -e '.[dev,cluster]')"
    )


def test_same_table_on_a_dask_cluster(tmp_path: Path) -> None:
    import distributed  # noqa: F401  (the cluster extra; the README's test command installs it)
    from distributed import Client

    dask = _dask_command()
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = subprocess_env()
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                cwd=ROOT,
                env=env,
                stdout=open(logs / "scheduler.log", "wb"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
        )
        procs.append(
            subprocess.Popen(
                [
                    *dask,
                    "worker",
                    address,
                    "--nworkers",
                    "2",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                cwd=ROOT,
                env=env,
                stdout=open(logs / "worker.log", "wb"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
        )
        client = Client(address, timeout="60s")
        try:
            client.wait_for_workers(2, timeout=120)
        finally:
            client.close()

        kw = {"seeds": 2, "grid": GRID, "hours": HOURS, "overrides": STUDY_OVERRIDES}
        on_dask = sweep("leverage_sweep", scheduler=address, out=tmp_path / "dask", **kw)  # type: ignore[arg-type]
        local = sweep("leverage_sweep", workers=1, out=tmp_path / "local", **kw)  # type: ignore[arg-type]
        assert (on_dask["status"] == "ok").all(), on_dask.get("error")
        pd.testing.assert_frame_equal(comparable(on_dask), comparable(local))
        meta = json.loads((tmp_path / "dask" / "study.json").read_text())
        assert meta["executor"].startswith("dask tcp://127.0.0.1")
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_cli_sweep_with_bad_scheduler_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import distributed  # noqa: F401  (the cluster extra; the README's test command installs it)

    monkeypatch.setattr(study, "DASK_CONNECT_TIMEOUT", "2s")
    port = _free_port()
    code = main(_cli_sweep_args(tmp_path / "s", 1, 1, ["--scheduler", f"tcp://127.0.0.1:{port}"]))
    assert code == 2
    assert "cannot connect" in capsys.readouterr().err


# --------------------------------------------------------------------------- a real study (slow)


@pytest.mark.slow
def test_leverage_study_fragility_grows_with_leverage(tmp_path: Path) -> None:
    table = sweep(
        "leverage_sweep",
        seeds=20,
        grid={"market.leveraged.leverage_cap": [2, 100]},
        hours=1.2,
        workers=2,
        out=tmp_path / "study",
    )
    assert (table["status"] == "ok").all()
    frag = pd.read_parquet(tmp_path / "study" / "fragility.parquet")
    low, high = frag.iloc[0], frag.iloc[1]
    assert high["liquidated_usd_mean"] >= low["liquidated_usd_mean"]
    assert high["p_cascade"] >= low["p_cascade"]
    assert high["leader_drawdown_pct_mean"] >= low["leader_drawdown_pct_mean"]


# --------------------------------------------------------------------------- the results table


def _dict_row(summary: dict[str, Any]) -> dict[str, Any]:
    """The row of ``results.parquet`` as the dict-based code built it before ``RunSummary``."""
    symbol_metrics = (
        "return_pct",
        "max_drawdown_pct",
        "liquidations_long_usd",
        "liquidations_short_usd",
        "liquidation_count",
        "adl_count",
        "oi_start_usd",
        "oi_end_usd",
        "oi_change_pct",
        "realized_vol",
    )

    def abs_or_none(value: Any) -> float | None:
        return None if value is None else abs(float(value))

    row: dict[str, Any] = {}
    for key in ("sim_seconds", "wall_seconds", "steps", "ledger_imbalance"):
        row[key] = summary.get(key)
    for key in ("insurance_fund_start_usd", "insurance_fund_min_usd", "insurance_fund_end_usd"):
        row[key] = summary.get(key)
    totals = summary["totals"]
    for key in (
        "cascade_count",
        "liquidated_usd",
        "liquidations_long_usd",
        "liquidations_short_usd",
        "liquidation_count",
        "adl_count",
        "oi_change_pct",
    ):
        row[key] = totals.get(key)
    # added with the venue-policy outcomes (after the redesign): the risk outcomes a policy study ranks on
    row["bad_debt_usd"] = summary.get("bad_debt_usd")
    row["adl_notional_usd"] = summary.get("adl_notional_usd")
    row["adl_overshoot_usd"] = summary.get("adl_overshoot_usd")
    row["insurance_fund_drawdown_pct"] = summary.get("insurance_fund_drawdown_pct")
    row["fund_exhausted"] = float(summary.get("insurance_fund_exhausted_s") is not None)
    symbols = summary["symbols"]
    names = list(symbols)
    leader = summary.get("leader") or names[0]
    row["leader_return_pct"] = symbols[leader].get("return_pct")
    row["leader_max_drawdown_pct"] = abs_or_none(symbols[leader].get("max_drawdown_pct"))
    alt = [abs_or_none(symbols[n].get("max_drawdown_pct")) for n in names if n != leader]
    alt_values = [v for v in alt if v is not None]
    row["alt_max_drawdown_pct"] = max(alt_values) if alt_values else None
    row["alt_mean_drawdown_pct"] = float(np.mean(alt_values)) if alt_values else None
    row["long_cascade_count"] = sum(1 for c in summary["cascades"] if c.get("side", "long") == "long")
    row["short_cascade_count"] = sum(1 for c in summary["cascades"] if c.get("side") == "short")
    for name in names:
        for metric in symbol_metrics:
            row[f"{name}_{metric}"] = symbols[name].get(metric)
        for metric, value in symbols[name].items():
            if metric not in symbol_metrics:
                row[f"{name}_{metric}"] = value
    return row


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_results_row_of_a_summary_is_the_row_of_before(name: str) -> None:
    data = json.loads((GOLDEN_DIR / name / "summary.json").read_text())
    data = {**data, "wall_seconds": 3.5, "sim_seconds_per_wall_second": 1500.0}
    row = flatten_summary(RunSummary.model_validate(data))
    expected = _dict_row(data)
    assert row == expected
    assert list(row) == list(expected)  # the columns of results.parquet, in order
    assert {type(v) for v in row.values()} <= {int, float, type(None)}


def test_montecarlo_is_a_deprecated_alias_of_study_and_stats() -> None:
    sys.modules.pop("experiments.montecarlo", None)
    with pytest.warns(DeprecationWarning, match="experiments.study"):
        montecarlo = importlib.import_module("experiments.montecarlo")
    for name in montecarlo.__all__:
        source = study if hasattr(study, name) else stats
        assert getattr(montecarlo, name) is getattr(source, name), name
    assert montecarlo.sweep is study.sweep and montecarlo.fragility is stats.fragility
