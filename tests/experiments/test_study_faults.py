"""Studies under faults and misuse: a different study in --out, dead workers, a killed sweep, a script
without a main guard, temporary files left by a signal; every failure row readable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import CancelledError, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pandas as pd
import pytest

from experiments import study as study_module
from experiments.cli import main
from experiments.config import ConfigError, load_config
from experiments.study import RunTask, _failed_row, expand_tasks, recover_run_files, sweep
from tests.experiments.helpers import ROOT, TINY_POPULATION, subprocess_env, wait_for

OVERRIDES = [*TINY_POPULATION, "market.large_holders.count=1", "sample_seconds=10"]
HOURS = 0.01
GRID = {"market.leveraged.leverage_cap": [5, 50]}


def _sweep_args(
    out: Path, seeds: int, workers: int, hours: float = HOURS, config: str = "leverage_sweep"
) -> list[str]:
    args = ["sweep", config, "--seeds", str(seeds), "--hours", str(hours), "--workers", str(workers)]
    args += ["--out", str(out), "--quiet", "--recycle", "50"]
    if config == "leverage_sweep":
        args += ["--grid", "market.leveraged.leverage_cap=5,50"]
    for item in OVERRIDES:
        args += ["--set", item]
    return args


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _workers_of(pid: int) -> list[int]:
    """The spawned worker processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _n_runs(out: Path) -> int:
    runs = out / "runs"
    return len(list(runs.glob("*.json"))) if runs.is_dir() else 0


def _popen_sweep(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", *args],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _reap(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# --------------------------------------------------------------------------- a different study in --out


def test_a_sweep_of_another_config_into_a_study_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lev"
    kw = {"seeds": 1, "grid": GRID, "hours": HOURS, "overrides": OVERRIDES, "workers": 1}
    sweep("leverage_sweep", out=out, **kw)  # type: ignore[arg-type]
    (out / "mine.txt").write_text("keep")
    report = (out / "report.md").read_text()
    first_line = (out / "study.yaml").read_text().splitlines()[0]
    assert first_line.startswith("# cascadelab study hash: ")
    assert json.loads((out / "study.json").read_text())["study_hash"] == first_line.split(": ")[1]
    capsys.readouterr()
    code = main(_sweep_args(out, 1, 1, config="whale_dump"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert str(out) in err[0] and "leverage_sweep" in err[0] and "--overwrite" in err[0]
    assert (out / "report.md").read_text() == report and _n_runs(out) == 2  # nothing touched
    with pytest.raises(ConfigError, match="not this study"):
        sweep("leverage_sweep", out=out, master_seed=99, **kw)  # type: ignore[arg-type]
    # the same study resumes (more seeds extend it)
    again = sweep("leverage_sweep", out=out, **{**kw, "seeds": 2})  # type: ignore[arg-type]
    assert len(again) == 4 and (again["status"] == "ok").all()
    # --overwrite replaces the study's own files, nothing else
    assert main([*_sweep_args(out, 1, 1, config="whale_dump"), "--overwrite"]) == 0
    assert (out / "mine.txt").read_text() == "keep"
    assert _n_runs(out) == 1  # no per-run file of the leverage study left among whale_dump's
    assert load_config(out / "study.yaml").name == "whale_dump"
    assert len(pd.read_parquet(out / "results.parquet")) == 1


# --------------------------------------------------------------------------- the write window


def test_resume_adopts_complete_temporary_files_and_removes_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "s"
    kw = {"seeds": 1, "grid": GRID, "hours": HOURS, "overrides": OVERRIDES, "workers": 1}
    first = sweep("leverage_sweep", out=out, **kw)  # type: ignore[arg-type]
    runs = out / "runs"
    run_id = str(first["run_id"].iloc[0])
    dead = _dead_pid()
    whole = runs / f".{run_id}.json.tmp-{dead}"
    os.replace(runs / f"{run_id}.json", whole)  # killed between the write and the rename
    half = runs / f".{first['run_id'].iloc[1]}.json.tmp-{dead}"
    half.write_text('{"run_id": "')
    (runs / f"{first['run_id'].iloc[1]}.json").unlink()
    assert recover_run_files(runs) == (1, 1)
    assert (runs / f"{run_id}.json").is_file() and not whole.exists() and not half.exists()
    again = sweep("leverage_sweep", out=out, **kw)  # type: ignore[arg-type]
    # the adopted run is not recomputed: its wall time is the first one's
    assert again["wall_seconds"].iloc[0] == first["wall_seconds"].iloc[0]
    assert (again["status"] == "ok").all() and len(again) == 2
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]


# --------------------------------------------------------------------------- readable failures


def test_every_failure_row_carries_a_readable_error() -> None:
    task = expand_tasks(load_config("leverage_sweep", OVERRIDES), {}, 1, 1, HOURS)[0]
    for exc in (CancelledError(), BrokenProcessPool(), RuntimeError("")):
        error = _failed_row(task, exc)["error"]
        name, _, message = error.partition(": ")
        assert name == type(exc).__name__ and len(message) > 10, error
    assert "scheduler" in _failed_row(task, CancelledError())["error"]


# --------------------------------------------------------------------------- dead workers, a dead sweep


def test_a_run_lost_with_a_killed_worker_is_retried(tmp_path: Path) -> None:
    out = tmp_path / "s"
    proc = _popen_sweep(_sweep_args(out, 6, 2, hours=0.05))
    try:
        wait_for(lambda: _n_runs(out) >= 1 or proc.poll() is not None, 300, "a finished run")
        workers = _workers_of(proc.pid)
        assert proc.poll() is None and workers, "the study ended before a worker could be killed"
        os.kill(workers[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=300)
    finally:
        _reap(proc)
    assert proc.returncode == 0, err.decode()
    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == 12 and (table["status"] == "ok").all(), table["error"].tolist()


class _BreaksOnSubmit(ThreadPoolExecutor):
    """An executor whose pool "breaks" on one submit, the way a process pool says a worker died after
    ``wait`` returned: the refused task never ran; the futures already in flight still finish."""

    refusals = (3,)  # the submit numbers (1-based, over every pool made) that raise

    submits = 0

    def submit(self, fn, /, *args, **kwargs):
        type(self).submits += 1
        if type(self).submits in self.refusals:
            raise BrokenProcessPool("a child process terminated abruptly")
        return super().submit(fn, *args, **kwargs)


def test_a_pool_found_broken_on_submit_is_replaced_and_no_run_is_lost_or_doubled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tasks = expand_tasks(load_config("leverage_sweep", OVERRIDES), GRID, 4, 1, HOURS)
    ran: list[str] = []
    pools: list[_BreaksOnSubmit] = []

    def fake_pool(workers: int, recycle_after: int | None) -> study_module._Pool:
        ex = _BreaksOnSubmit(max_workers=workers)
        pools.append(ex)
        return study_module._Pool(ex, workers, lambda: ex.shutdown(wait=True), "threads")

    def fake_task(task: RunTask) -> dict[str, object]:
        ran.append(task.run_id)
        return {"run_id": task.run_id, "status": "ok"}

    monkeypatch.setattr(_BreaksOnSubmit, "submits", 0)
    monkeypatch.setattr(study_module, "_local_pool", fake_pool)
    rows: list[dict[str, object]] = []
    failed = study_module._execute(tasks, 2, None, None, rows.append, None, worker=fake_task)
    assert failed == 0
    assert len(pools) == 2, "the broken pool was not replaced"
    assert sorted(str(r["run_id"]) for r in rows) == sorted(t.run_id for t in tasks)  # each recorded once
    assert len(ran) >= len(tasks) and set(ran) == {t.run_id for t in tasks}


def test_workers_die_with_a_killed_sweep(tmp_path: Path) -> None:
    out = tmp_path / "s"
    proc = _popen_sweep(_sweep_args(out, 10, 2, hours=0.05))
    workers: list[int] = []
    try:
        wait_for(lambda: _n_runs(out) >= 1 or proc.poll() is not None, 300, "a finished run")
        workers = _workers_of(proc.pid)
        assert proc.poll() is None and workers, "the study ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)  # the sweep only, not its process group
        proc.wait(timeout=30)
        wait_for(lambda: not [w for w in workers if Path(f"/proc/{w}").exists()], 30, "the workers to exit")
    finally:
        for w in workers:
            if Path(f"/proc/{w}").exists():
                os.kill(w, signal.SIGKILL)
        _reap(proc)


# --------------------------------------------------------------------------- a script without a guard


def test_sweep_at_the_top_level_of_a_script_is_one_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "study_script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import experiments
            table = experiments.sweep("leverage_sweep", seeds=1, hours={HOURS}, workers=1,
                                      overrides={OVERRIDES!r})
            print("rows:", len(table), list(table["status"]))
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0, proc.stdout
    assert "rows:" not in proc.stdout  # no table of BrokenProcessPool failures
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("experiments.study.UnguardedMainError:"), proc.stderr
    assert 'if __name__ == "__main__":' in last and str(script) in last


def test_a_damaged_run_file_is_named_and_its_run_is_run_again(tmp_path: Path) -> None:
    kw = {"seeds": 2, "hours": 0.01, "overrides": [*TINY_POPULATION, "market.large_holders.count=1"]}
    out = tmp_path / "study"
    first = sweep("leverage_sweep", grid={"market.leveraged.leverage_cap": [5]}, out=out, workers=1, **kw)
    victim = sorted((out / "runs").glob("*.json"))[0]
    victim.write_text(victim.read_text()[:40])  # truncated mid-write by a crash
    with pytest.warns(RuntimeWarning, match=rf"{victim.name}: damaged run file .* run again"):
        again = sweep("leverage_sweep", grid={"market.leveraged.leverage_cap": [5]}, out=out, workers=1, **kw)
    assert (out / "runs" / (victim.name + ".damaged")).is_file()
    assert json.loads(victim.read_text())["run_id"] == victim.stem  # written anew
    assert (again["status"] == "ok").all() and len(again) == len(first) == 2
    cols = ["run_id", "leader_max_drawdown_pct"]
    pd.testing.assert_frame_equal(again[cols], first[cols])  # the rerun gives the same numbers


def test_a_study_keeps_the_full_tables_of_its_worst_runs(tmp_path: Path) -> None:
    out = tmp_path / "study"
    args = [
        "sweep",
        "leverage_sweep",
        "--seeds",
        "3",
        "--grid",
        "market.leveraged.leverage_cap=5",
        "--hours",
        "0.01",
        "--workers",
        "1",
        "--out",
        str(out),
        "--quiet",
        "--keep-tables",
        "worst:2",
    ]
    for item in [*TINY_POPULATION, "market.large_holders.count=1"]:
        args += ["--set", item]
    assert main(args) == 0
    table = pd.read_parquet(out / "results.parquet")
    worst = table.sort_values(["leader_max_drawdown_pct", "run_id"], ascending=[False, True])["run_id"][:2]
    kept = sorted(p.name for p in (out / "tables").iterdir())
    assert kept == sorted(worst)
    for run_id in kept:  # the kept tables are the study's run: its summary gives the study's row
        summary = json.loads((out / "tables" / run_id / "summary.json").read_text())
        row = table[table["run_id"] == run_id].iloc[0]
        assert summary["symbols"]["BTC"]["max_drawdown_pct"] == pytest.approx(row["leader_max_drawdown_pct"])
        assert summary["totals"]["liquidation_count"] == row["liquidation_count"]
        assert (out / "tables" / run_id / "timeseries.parquet").is_file()
    for bad in ("worst:0", "best:3", "zz"):
        assert main([*args[:-2], "--keep-tables", bad]) == 2


def test_kept_tables_are_replayed_on_the_studys_workers(tmp_path: Path) -> None:
    """``--keep-tables all`` with two workers replays the runs on two processes: every run's tables are
    kept, and each is the study's run (its summary gives the study's row), as with one worker."""
    out = tmp_path / "study"
    args = ["sweep", "leverage_sweep", "--seeds", "3", "--grid", "market.leveraged.leverage_cap=5", "--hours"]
    args += ["0.01", "--workers", "2", "--out", str(out), "--quiet", "--keep-tables", "all"]
    for item in [*TINY_POPULATION, "market.large_holders.count=1"]:
        args += ["--set", item]
    assert main(args) == 0
    table = pd.read_parquet(out / "results.parquet")
    assert sorted(p.name for p in (out / "tables").iterdir()) == sorted(table["run_id"])
    for run_id in table["run_id"]:
        summary = json.loads((out / "tables" / run_id / "summary.json").read_text())
        row = table[table["run_id"] == run_id].iloc[0]
        assert summary["symbols"]["BTC"]["max_drawdown_pct"] == pytest.approx(row["leader_max_drawdown_pct"])
        assert summary["totals"]["liquidation_count"] == row["liquidation_count"]
