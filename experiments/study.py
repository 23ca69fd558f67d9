"""Monte Carlo studies: grid points x seeds as independent runs on a ``concurrent.futures`` executor.

(This module was ``experiments.montecarlo``, which remains as a deprecated alias.) The statistics of a
study's table (Wilson intervals, the fragility table) live in :mod:`experiments.stats`, its report in
:mod:`experiments.report`; this module runs the study, writes its directory and reads it back.

A study directory (``cascadelab sweep CONFIG --seeds N --grid key=v1,v2 --out DIR``) holds:

- ``study.yaml``: the base config, resolved, with the effective ``study`` section (seeds, grid, thresholds);
- ``study.json``: bookkeeping (grid keys, tasks, ``hours``, executor);
- ``runs/<run_id>.json``: one small file per finished run (its row), written atomically (temporary file
  + ``os.replace``) the moment the run comes back; an interrupted study resumes from them;
- ``results.parquet``: one row per run (grid values, seed, status, error, summary metrics and the run's
  stylized facts as ``fact_<SYMBOL>_<fact>`` columns), sorted by (grid point, seed index);
- ``fragility.parquet`` / ``fragility.csv``: per grid point, P(cascade) and P(leader drawdown >= t) with
  95% Wilson intervals, and the distribution of liquidated notional and drawdowns;
- ``ablation.csv`` (a study with ``study.ablation``): each grid point's effect on a metric against a
  reference point, paired by seed, with 95% t intervals, ranked;
- ``figures/*.png`` and ``report.md``.

Seeds: ``SeedSequence(master_seed).spawn(seeds)``, the same seeds at every grid point (common random
numbers: differences between points are not seed noise). A run's id is a hash of its resolved config and
seed, so re-running a study skips the runs already finished, and results do not depend on the executor or
the number of workers. Runs that fail are recorded with their error (and retried on the next resume).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError
from tqdm import tqdm

from experiments.config import (
    MAX_SEED,
    ConfigError,
    ExperimentConfig,
    check_grid,
    config_from,
    config_hash,
    dump_yaml,
    format_validation_error,
    grid_points,
    load_config,
    point_config,
    resolved_dict,
)
from experiments.report import write_study_report
from experiments.rundir import deferred_interrupts, jsonable, pid_alive
from experiments.runner import run
from experiments.stats import ablation_table, fragility
from experiments.stylized import facts_table, study_fact_columns, tick_sizes
from experiments.summary import SYMBOL_METRICS, WALL_CLOCK_FIELDS, RunSummary

BASE_COLUMNS = ("run_id", "point", "seed_index", "seed")
"""First columns of ``results.parquet``; the grid keys and ``status``, ``error`` follow, then metrics."""

NONDETERMINISTIC_COLUMNS = WALL_CLOCK_FIELDS
"""Columns that measure the machine, not the model: excluded when comparing studies."""

DASK_CONNECT_TIMEOUT = "30s"
"""How long to wait for a Dask scheduler before giving up."""

DEFAULT_RECYCLE = 20
"""Runs per local worker process before it is replaced (keeps memory flat over thousands of runs)."""

LOST_RUN_RETRIES = 2
"""Times a run lost with its worker (killed, out of memory) is tried again before it is recorded failed."""

STUDY_FILES = (
    "study.yaml",
    "study.json",
    "results.parquet",
    "fragility.parquet",
    "fragility.csv",
    "report.md",
)
"""A study's own top-level files (plus ``runs/*.json``, ``figures/*.png``): what ``--overwrite`` replaces."""

HASH_LINE = "# cascadelab study hash: "
"""The first line of ``study.yaml``: the study's hash (:func:`study_hash`), checked before resuming."""

WATCHDOG_INTERVAL_S = 0.5
"""How often a local worker checks that the sweep that started it is still alive."""


class UnguardedMainError(RuntimeError):
    """``sweep`` was called at the top level of a script that its worker processes re-import."""


# --------------------------------------------------------------------------- tasks and seeds


@dataclass(frozen=True)
class RunTask:
    """One run of a study: picklable, sent to a worker.

    Attributes:
        run_id: hash of the resolved config, the seed and the truncation.
        point: index of the grid point.
        seed_index: index of the seed in the study's spawned seeds.
        seed: the run's seed (< 2**63).
        params: grid key -> value of this point.
        config: the point's resolved config as a plain mapping.
        hours: truncation of the run (None: the full duration).
    """

    run_id: str
    point: int
    seed_index: int
    seed: int
    params: dict[str, Any] = field(hash=False)
    config: dict[str, Any] = field(hash=False)
    hours: float | None = None


def study_seeds(master_seed: int, n: int) -> list[int]:
    """Seeds of a study: ``SeedSequence(master_seed).spawn(n)``, each turned into an int below 2**63.

    Args:
        master_seed: the study's master seed.
        n: number of seeds.

    Returns:
        ``n`` distinct-with-overwhelming-probability seeds, deterministic in ``master_seed``.
    """
    children = np.random.SeedSequence(master_seed).spawn(n)
    return [int(int(c.generate_state(1, dtype=np.uint64)[0]) >> 1) for c in children]


def expand_tasks(
    cfg: ExperimentConfig,
    grid: Mapping[str, Sequence[Any]],
    seeds: int,
    master_seed: int,
    hours: float | None = None,
) -> list[RunTask]:
    """Grid x seeds as tasks, ordered by (grid point, seed index).

    Args:
        cfg: the base config.
        grid: key path -> values.
        seeds: runs per grid point.
        master_seed: the study's master seed.
        hours: truncation of every run (None: the full duration).

    Returns:
        The tasks.

    Raises:
        ConfigError: a grid point does not validate.
    """
    seed_list = study_seeds(master_seed, seeds)
    tasks: list[RunTask] = []
    for p, point in enumerate(grid_points(grid)):
        pcfg = point_config(cfg, point)
        base = resolved_dict(pcfg, study=False)
        for i, seed in enumerate(seed_list):
            assert 0 <= seed < MAX_SEED
            tasks.append(
                RunTask(
                    run_id=config_hash(pcfg, seed, hours),
                    point=p,
                    seed_index=i,
                    seed=seed,
                    params=dict(point),
                    config={**base, "seed": seed},
                    hours=hours,
                )
            )
    return tasks


# --------------------------------------------------------------------------- one run -> one row


def _param_value(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else json.dumps(value)


def flatten_summary(summary: RunSummary) -> dict[str, Any]:
    """The flat metrics of one run: its columns of ``results.parquet``.

    Args:
        summary: the run's summary.

    Returns:
        Scalars, in column order: run bookkeeping (``sim_seconds``, ``wall_seconds``, ``steps``,
        ``ledger_imbalance``), the insurance fund (USD), totals, the leader's return and drawdown and the
        worst and mean alt drawdown (percent, >= 0), the long and short cascade counts, and
        ``<SYM>_<metric>`` for every per-symbol metric (the DESIGN.md §8 ones first, then any further
        scalar one the summary holds).
    """
    totals = summary.totals
    row: dict[str, Any] = {
        "sim_seconds": summary.sim_seconds,
        "wall_seconds": summary.wall_seconds,
        "steps": summary.steps,
        "ledger_imbalance": summary.ledger_imbalance,
        "insurance_fund_start_usd": summary.insurance_fund_start_usd,
        "insurance_fund_min_usd": summary.insurance_fund_min_usd,
        "insurance_fund_end_usd": summary.insurance_fund_end_usd,
        "cascade_count": totals.cascade_count,
        "liquidated_usd": totals.liquidated_usd,
        "liquidations_long_usd": totals.liquidations_long_usd,
        "liquidations_short_usd": totals.liquidations_short_usd,
        "liquidation_count": totals.liquidation_count,
        "adl_count": totals.adl_count,
        "oi_change_pct": totals.oi_change_pct,
    }
    # the risk outcomes a policy study ranks on (stats.risk_outcomes): bad debt, ADL and its overshoot,
    # the fund's drawdown and whether it ran dry
    row["bad_debt_usd"] = summary.bad_debt_usd
    row["adl_notional_usd"] = getattr(summary, "adl_notional_usd", None)
    row["adl_overshoot_usd"] = getattr(summary, "adl_overshoot_usd", None)
    row["insurance_fund_drawdown_pct"] = getattr(summary, "insurance_fund_drawdown_pct", None)
    exhausted = getattr(summary, "insurance_fund_exhausted_s", None)
    # 1.0 when the fund ran dry (the engine saw its equity below zero, or a sample did); a float, so
    # results.parquet holds numbers and P() is a mean
    row["fund_exhausted"] = None if summary.insurance_fund_min_usd is None else float(exhausted is not None)
    lead = summary.leader_metrics
    row["leader_return_pct"] = lead.return_pct if lead is not None else None
    row["leader_max_drawdown_pct"] = _abs_or_none(lead.max_drawdown_pct) if lead is not None else None
    leader = summary.leader or next(iter(summary.symbols), None)
    alt_dd = [_abs_or_none(m.max_drawdown_pct) for n, m in summary.symbols.items() if n != leader]
    alt_dd_values = [v for v in alt_dd if v is not None]
    row["alt_max_drawdown_pct"] = max(alt_dd_values) if alt_dd_values else None
    row["alt_mean_drawdown_pct"] = float(np.mean(alt_dd_values)) if alt_dd_values else None
    row["long_cascade_count"] = sum(1 for c in summary.cascades if c.side == "long")
    row["short_cascade_count"] = sum(1 for c in summary.cascades if c.side == "short")
    for name, symbol in summary.symbols.items():
        metrics = symbol.to_json_dict()
        for metric in SYMBOL_METRICS:
            row[f"{name}_{metric}"] = metrics.get(metric)
        for metric, value in metrics.items():  # any further scalar metric of the model (volume, ...)
            if metric not in SYMBOL_METRICS and isinstance(value, int | float | bool | None):
                row[f"{name}_{metric}"] = value
    return row


def _abs_or_none(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return abs(f) if math.isfinite(f) else None


def _base_row(task: RunTask) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": task.run_id,
        "point": task.point,
        "seed_index": task.seed_index,
        "seed": task.seed,
    }
    for key, value in task.params.items():
        row[key] = _param_value(value)
    return row


_EMPTY_MESSAGES = {
    "CancelledError": "the cluster cancelled the run (the Dask scheduler was lost or restarted)",
    "BrokenProcessPool": "a worker process died while the run was in flight (killed, or out of memory)",
    "KilledWorker": "the run's Dask workers kept dying while running it (out of memory?)",
    "TimeoutError": "the run timed out",
    "MemoryError": "out of memory",
}
"""A readable message for the exceptions that usually come without one (a failure row is never empty)."""


def _failed_row(task: RunTask, exc: BaseException, tb: str | None = None) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        first = "; ".join(format_validation_error(exc))
    elif isinstance(exc, ConfigError):
        first = "; ".join(exc.problems)
    else:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not first:
        first = _EMPTY_MESSAGES.get(type(exc).__name__, "raised without a message")
    return {
        **_base_row(task),
        "status": "failed",
        "error": f"{type(exc).__name__}: {first}"[:500],
        "traceback": (tb or "")[-4000:],
    }


def execute_task(task: RunTask) -> dict[str, Any]:
    """Run one task and return its row (never raises for a failing run: the error goes into the row).

    Module-level so that spawned worker processes and Dask workers can import it.

    Args:
        task: the run.

    Returns:
        The row: ids, grid values, ``status`` (``ok``/``failed``), ``error``, the flat metrics
        (:func:`flatten_summary`) and the run's stylized facts, measured here at the run's end so that a
        study needs no tables for them (``fact_<SYMBOL>_<fact>``:
        :func:`experiments.stylized.study_fact_columns`; None where a run is too short to measure one).
    """
    try:
        cfg = ExperimentConfig.model_validate(task.config)
        result = run(cfg, seed=task.seed, hours=task.hours, figures=False)
    except Exception as exc:  # a failed run is data, not a crash of the study
        failed: dict[str, Any] = jsonable(_failed_row(task, exc, traceback.format_exc()))
        return failed
    facts = study_fact_columns(facts_table(result.timeseries, ticks=tick_sizes(cfg)))
    row: dict[str, Any] = jsonable(
        {**_base_row(task), "status": "ok", "error": None, **flatten_summary(result.summary), **facts}
    )
    return row


# --------------------------------------------------------------------------- study directory


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _atomic_parquet(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def study_hash(config: ExperimentConfig, hours: float | None) -> str:
    """The hash of a study: its base config (without name, description, figures), grid, master seed, hours.

    The number of seeds is left out (more seeds extend a study: the first ones are the same) and so are
    the thresholds (they only change the report).

    Args:
        config: the base config with its effective ``study`` section.
        hours: the truncation of every run (None: the full duration).

    Returns:
        16 hex digits.
    """
    data = resolved_dict(config, study=False)
    for key in ("name", "description", "figures", "seed"):
        data.pop(key, None)
    data["study"] = {
        "grid": config.study.grid,
        "master_seed": config.study.master_seed,
        "hours": None if hours is None or hours >= config.duration_hours else float(hours),
    }
    text = json.dumps(jsonable(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stored_study_hash(path: Path) -> str | None:
    """The hash a study directory was written with (``study.yaml``'s first line, else recomputed).

    Args:
        path: a study directory.

    Returns:
        The hash, or None when ``study.yaml`` is missing or unreadable.
    """
    yaml_path = path / "study.yaml"
    try:
        first = yaml_path.read_text(encoding="utf-8").split("\n", 1)[0]
    except (OSError, UnicodeDecodeError):
        return None
    if first.startswith(HASH_LINE):
        return first[len(HASH_LINE) :].strip()
    try:  # a study written before the hash was kept
        cfg = load_config(yaml_path)
        meta = json.loads((path / "study.json").read_text(encoding="utf-8"))
        return study_hash(cfg, meta.get("hours"))
    except (ConfigError, OSError, ValueError, AttributeError):
        return None


def _describe_study(path: Path) -> str:
    try:
        meta = json.loads((path / "study.json").read_text(encoding="utf-8"))
        grid = ", ".join(meta.get("grid_keys", [])) or "no grid"
        return f"a study of {meta.get('name', '?')} ({meta.get('tasks', '?')} runs; {grid})"
    except (OSError, ValueError, AttributeError):
        return "a study of another config"


def check_study_dir(out: str | Path, *, expected_hash: str | None = None, overwrite: bool = False) -> Path:
    """Check that ``out`` can hold a study: absent, empty, or a previous study of the same config.

    Args:
        out: the directory.
        expected_hash: the hash of the study to run (:func:`study_hash`); None skips the comparison.
        overwrite: a study of a different config there may be replaced (``--overwrite``).

    Returns:
        The path.

    Raises:
        ConfigError: it is a file, a non-empty directory that is not a study directory, or a study of a
            different config and ``overwrite`` is false.
    """
    path = Path(out)
    if path.exists():
        if not path.is_dir():
            raise ConfigError([f"{path}: exists and is not a directory"])
        if any(path.iterdir()) and not ((path / "study.yaml").exists() or (path / "runs").is_dir()):
            raise ConfigError(
                [f"{path}: exists, is not empty and is not a study directory; choose another --out"]
            )
        if expected_hash is not None and (path / "study.yaml").exists() and not overwrite:
            stored = stored_study_hash(path)
            if stored != expected_hash:
                raise ConfigError(
                    [
                        f"{path}: holds {_describe_study(path)}, not this study; pass --overwrite to "
                        "replace it, or choose another --out (the same study resumes)"
                    ]
                )
    return path


def _clear_study(path: Path) -> None:
    """Remove a previous study's own files (``--overwrite``); anything else in the directory is kept."""
    for name in STUDY_FILES:
        (path / name).unlink(missing_ok=True)
    for pattern in ("runs/*.json", "runs/.*.tmp-*", "figures/*.png"):
        for f in path.glob(pattern):
            f.unlink(missing_ok=True)


def recover_run_files(runs_dir: Path) -> tuple[int, int]:
    """Tidy ``runs/`` before a resume: adopt complete temporary files of dead writers, remove the rest.

    A writer killed between writing ``.ID.json.tmp-PID`` and renaming it leaves a whole row behind: it
    is renamed into place (when ``ID.json`` is missing); a partial one is removed.

    Args:
        runs_dir: the study's ``runs/`` directory.

    Returns:
        (adopted, removed).
    """
    adopted = removed = 0
    if not runs_dir.is_dir():
        return adopted, removed
    for tmp in runs_dir.glob(".*.json.tmp-*"):
        name, _, pid = tmp.name[1:].rpartition(".tmp-")
        if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        final = runs_dir / name
        try:
            row = json.loads(tmp.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            row = None
        if isinstance(row, dict) and row.get("run_id") == final.stem and not final.exists():
            os.replace(tmp, final)
            adopted += 1
        else:
            tmp.unlink(missing_ok=True)
            removed += 1
    return adopted, removed


def read_rows(
    runs_dir: Path, ids: set[str] | None = None, *, set_aside: bool = False
) -> dict[str, dict[str, Any]]:
    """Read the per-run files of a study; a damaged one is named in a ``RuntimeWarning`` and left out.

    Args:
        runs_dir: the study's ``runs/`` directory.
        ids: only these run ids (default: all).
        set_aside: rename a damaged file to ``ID.json.damaged`` (a resuming sweep: the run is run
            again and its new file takes the name; a report only reads).

    Returns:
        run_id -> row.
    """
    rows: dict[str, dict[str, Any]] = {}
    if not runs_dir.is_dir():
        return rows
    for path in runs_dir.glob("*.json"):
        if path.name.startswith(".") or (ids is not None and path.stem not in ids):
            continue
        try:
            row = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            row = None
            why = f"{type(exc).__name__}: {str(exc)[:120]}"
        else:
            why = "not a run row of this file's id"
        if isinstance(row, dict) and row.get("run_id") == path.stem:
            rows[path.stem] = row
            continue
        # a damaged run file: say which and, when resuming, keep it aside so that the run is run again
        if set_aside:
            aside = path.with_name(path.name + ".damaged")
            with contextlib.suppress(OSError):
                os.replace(path, aside)
            what = f"kept as {aside.name}, the run will be run again"
        else:
            what = "left out of the table"
        warnings.warn(f"{path}: damaged run file ({why}); {what}", RuntimeWarning, stacklevel=2)
    return rows


def results_frame(rows: Sequence[Mapping[str, Any]], grid_keys: Sequence[str] = ()) -> pd.DataFrame:
    """One row per run, sorted by (grid point, seed index), columns in a stable order.

    Args:
        rows: the run rows (as written to ``runs/*.json``).
        grid_keys: the grid keys (placed after the base columns).

    Returns:
        The study table (``traceback`` left out; it stays in the run files).
    """
    ordered = sorted(rows, key=lambda r: (int(r["point"]), int(r["seed_index"])))
    lead = [*BASE_COLUMNS, *grid_keys, "status", "error"]
    columns: list[str] = list(lead)
    for r in ordered:
        for key in r:
            if key not in columns and key != "traceback":
                columns.append(key)
    df = pd.DataFrame([{c: r.get(c) for c in columns} for r in ordered], columns=columns)
    for col in ("point", "seed_index", "seed"):
        df[col] = df[col].astype("int64")
    for col in df.columns:
        if col in lead:
            continue
        if df[col].dtype == object:
            converted = pd.to_numeric(df[col], errors="coerce")
            if converted.notna().sum() == df[col].notna().sum():
                df[col] = converted.astype("float64")
    return df


def comparable(results: pd.DataFrame) -> pd.DataFrame:
    """The study table without the columns that measure the machine (wall time).

    Args:
        results: a study table.

    Returns:
        A copy to compare across executors and worker counts.
    """
    return results.drop(columns=[c for c in NONDETERMINISTIC_COLUMNS if c in results.columns]).reset_index(
        drop=True
    )


# --------------------------------------------------------------------------- executors


@dataclass
class _Pool:
    executor: Executor
    slots: int
    close: Callable[[], None]
    kind: str


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(WATCHDOG_INTERVAL_S)
        if os.getppid() != parent_pid:  # the sweep is gone (SIGKILL): nobody will collect this run
            os._exit(1)


def worker_init(parent_pid: int) -> None:
    """Set up a local worker process: it dies with the sweep that started it, and leaves Ctrl-C to it.

    A daemon thread checks every :data:`WATCHDOG_INTERVAL_S` seconds that the worker's parent is still
    ``parent_pid`` and ends the process when it is not (the sweep was killed). SIGINT is ignored: on
    Ctrl-C the sweep stops its workers itself.

    Args:
        parent_pid: the sweep's process id.
    """
    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()


def _unguarded_note(parent_pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"cascadelab-unguarded-main-{parent_pid}"


def _unguarded_message() -> str:
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None) or "the calling script"
    return (
        f"experiments.sweep() runs at the top level of {script}, which every worker process imports "
        'again: put the call under `if __name__ == "__main__":` (or pass scheduler= for a Dask cluster)'
    )


def _refuse_worker_bootstrap() -> None:
    """Raise :class:`UnguardedMainError` inside a worker that is importing the caller's script."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        message = _unguarded_message()
        with contextlib.suppress(OSError):
            _unguarded_note(os.getppid()).write_text(message, encoding="utf-8")
        raise UnguardedMainError(message)


def _raise_if_unguarded() -> None:
    """After a broken pool: raise the clear error a worker left when it found an unguarded script."""
    note = _unguarded_note(os.getpid())
    if note.exists():
        note.unlink(missing_ok=True)
        raise UnguardedMainError(_unguarded_message())  # named from here: the parent knows its script


def _local_pool(workers: int, recycle_after: int | None) -> _Pool:
    ctx = multiprocessing.get_context("spawn")
    ex = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        max_tasks_per_child=recycle_after,
        initializer=worker_init,
        initargs=(os.getpid(),),
    )

    def close() -> None:
        ex.shutdown(wait=True, cancel_futures=True)

    return _Pool(ex, workers, close, "processes")


def _dask_pool(address: str) -> _Pool:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - optional dependency
        raise ConfigError(
            [
                "--scheduler: dask[distributed] is not installed; from the clone: "
                "pip install -e '.[cluster]' (or python3 tasks.py test, which installs it)"
            ]
        ) from None
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError([f"--scheduler {address}: cannot connect ({exc})"]) from None
    info = client.scheduler_info()
    slots = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()) or 1
    ex = client.get_executor(pure=False)

    def close() -> None:
        try:
            ex.shutdown(wait=False)
        finally:
            client.close()

    return _Pool(ex, slots, close, f"dask {address}")


def _kill_local_workers(executor: Executor) -> None:
    """Stop a process pool's workers at once (on Ctrl-C): their runs are lost, finished ones are on disk."""
    procs = getattr(executor, "_processes", None) or {}
    for proc in list(procs.values()):
        with contextlib.suppress(Exception):  # already gone
            proc.terminate()


# --------------------------------------------------------------------------- the study


@dataclass
class Study:
    """A prepared study: its config, grid, seeds and tasks (see :func:`prepare`).

    Attributes:
        config: the base config, with ``study`` set to the effective study settings.
        grid: key path -> values.
        tasks: the runs, ordered by (grid point, seed index).
        hours: the truncation of every run (None: full duration).
    """

    config: ExperimentConfig
    grid: dict[str, list[Any]]
    tasks: list[RunTask]
    hours: float | None

    @property
    def grid_keys(self) -> list[str]:
        """The swept key paths."""
        return list(self.grid)


def prepare(
    config: ExperimentConfig | Mapping[str, Any] | str | Path,
    seeds: int | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    master_seed: int | None = None,
    hours: float | None = None,
    overrides: list[str] | None = None,
) -> Study:
    """Validate a study and expand it into tasks, before anything runs.

    Args:
        config: the base config (object, mapping, YAML path or scenario name).
        seeds: runs per grid point (default: ``study.seeds``).
        grid: extra or replacing grid entries (merged over ``study.grid``).
        master_seed: the study's master seed (default: ``study.master_seed``).
        hours: truncate every run to its first ``hours`` hours.
        overrides: ``key.path=value`` items applied to the config first.

    Returns:
        The :class:`Study`.

    Raises:
        ConfigError: any problem of the config, grid, seeds or hours.
    """
    cfg = config_from(config, overrides)
    merged = {**cfg.study.grid, **{k: list(v) for k, v in (grid or {}).items()}}
    problems: list[str] = []
    n_seeds = cfg.study.seeds if seeds is None else seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        problems.append(f"--seeds: must be a positive integer (got {n_seeds!r})")
    master = cfg.study.master_seed if master_seed is None else master_seed
    if isinstance(master, bool) or not isinstance(master, int) or not 0 <= master < MAX_SEED:
        problems.append(f"--master-seed: must be an integer with 0 <= seed < 2**63 (got {master!r})")
    if hours is not None and not (0 < hours <= cfg.duration_hours):
        problems.append(
            f"--hours: must be > 0 and at most duration_hours ({cfg.duration_hours:g}) (got {hours:g})"
        )
    try:
        study_cfg = cfg.study.model_copy(update={"grid": merged, "seeds": n_seeds, "master_seed": master})
        study_cfg = type(cfg.study).model_validate(study_cfg.model_dump())
    except Exception as exc:  # pydantic ValidationError on the merged grid
        if isinstance(exc, ValidationError):
            problems.extend(format_validation_error(exc, ("study",)))
        else:  # pragma: no cover
            raise
    if problems:
        raise ConfigError(problems)
    problems = check_grid(cfg, merged)
    if problems:
        raise ConfigError(problems)
    cfg = cfg.model_copy(update={"study": study_cfg})
    tasks = expand_tasks(cfg, merged, n_seeds, master, hours)
    return Study(config=cfg, grid=merged, tasks=tasks, hours=hours)


def _write_study_files(out: Path, study: Study, pool_kind: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(exist_ok=True)
    digest = study_hash(study.config, study.hours)
    _atomic_write_text(out / "study.yaml", f"{HASH_LINE}{digest}\n" + dump_yaml(resolved_dict(study.config)))
    meta = {
        "name": study.config.name,
        "study_hash": digest,
        "grid_keys": study.grid_keys,
        "points": len(grid_points(study.grid)),
        "seeds": study.config.study.seeds,
        "master_seed": study.config.study.master_seed,
        "thresholds": list(study.config.study.thresholds),
        "tasks": len(study.tasks),
        "hours": study.hours,
        "executor": pool_kind,
    }
    _atomic_write_text(out / "study.json", json.dumps(meta, indent=2) + "\n")


def sweep(
    config: ExperimentConfig | Mapping[str, Any] | str | Path,
    seeds: int | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    *,
    master_seed: int | None = None,
    hours: float | None = None,
    overrides: list[str] | None = None,
    progress: bool = False,
    recycle_after: int | None = DEFAULT_RECYCLE,
    report: bool = True,
    overwrite: bool = False,
    keep_tables: str | None = None,
) -> pd.DataFrame:
    """Run a Monte Carlo study (grid x seeds) and return its table.

    A study directory of the same study (:func:`study_hash`) is resumed: its finished runs are kept.
    One of a different config is refused unless ``overwrite`` (then its own files are replaced, other
    files in the directory are kept). A run lost with its worker process is retried
    (:data:`LOST_RUN_RETRIES` times) before it is recorded as failed.

    Args:
        config: the base config (object, mapping, YAML path or scenario name).
        seeds: runs per grid point (default: ``study.seeds``).
        grid: key path -> values, merged over ``study.grid``.
        workers: local worker processes (default: the machine's cores); ignored with ``scheduler``.
        scheduler: a Dask scheduler address (``tcp://HOST:PORT``): run on that cluster instead.
        out: the study directory (resumable); None keeps everything in memory.
        master_seed: the study's master seed (default: ``study.master_seed``).
        hours: truncate every run to its first ``hours`` simulated hours.
        overrides: ``key.path=value`` items applied to the config first.
        progress: show a progress bar (runs done, failed, ETA) on stderr.
        recycle_after: runs per local worker before it is replaced (None: never).
        report: write ``fragility.*``, ``figures/`` and ``report.md`` into ``out``.
        overwrite: replace a study of a different config in ``out``.
        keep_tables: keep the full run directory (tables, summary, report) of chosen runs under
            ``out/tables/RUN_ID/`` so that a study's tails can be drilled into: ``all``, ``worst:N`` (the N
            runs with the largest leader drawdown, ties by run id) or run ids (or unique prefixes)
            separated by commas. They are made by replaying the chosen runs after the study (same config
            and seed: the same tables as the study's run); runs kept already are not replayed.

    Returns:
        The study table (one row per run, sorted by grid point and seed index); see ``results.parquet``.

    Raises:
        ConfigError: invalid input, or ``out`` holds a different study (before anything runs).
        UnguardedMainError: called at the top level of a script without ``if __name__ == "__main__":``.
        KeyboardInterrupt: interrupted; every finished run is on disk and ``results.parquet`` is written.
    """
    if scheduler is None:
        _refuse_worker_bootstrap()
        _unguarded_note(os.getpid()).unlink(missing_ok=True)
    study = prepare(config, seeds, grid, master_seed=master_seed, hours=hours, overrides=overrides)
    if keep_tables is not None:
        if out is None:
            raise ConfigError(["--keep-tables: needs a study directory (--out)"])
        parse_keep_tables(keep_tables)  # refuse a bad spec before anything runs
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    if scheduler is None and (isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1):
        raise ConfigError([f"--workers: must be a positive integer (got {n_workers!r})"])
    digest = study_hash(study.config, study.hours)
    out_dir = check_study_dir(out, expected_hash=digest, overwrite=overwrite) if out is not None else None
    ids = {t.run_id for t in study.tasks}
    rows: dict[str, dict[str, Any]] = {}
    if out_dir is not None:
        if overwrite and (out_dir / "study.yaml").exists() and stored_study_hash(out_dir) != digest:
            _clear_study(out_dir)
        recover_run_files(out_dir / "runs")
        found = read_rows(out_dir / "runs", ids, set_aside=True)
        rows = {k: v for k, v in found.items() if v.get("status") == "ok"}
    pending = [t for t in study.tasks if t.run_id not in rows]
    pool_kind = f"dask {scheduler}" if scheduler else f"processes x{n_workers}"
    if out_dir is not None:
        _write_study_files(out_dir, study, pool_kind)

    def record(row: dict[str, Any]) -> None:
        row = json.loads(json.dumps(row, allow_nan=False))  # the same values whether read back or not
        rows[str(row["run_id"])] = row
        if out_dir is not None:
            text = json.dumps(row, indent=1) + "\n"
            with deferred_interrupts():  # Ctrl-C/SIGTERM wait until the file is whole and in place
                _atomic_write_text(out_dir / "runs" / f"{row['run_id']}.json", text)

    bar = None
    if progress:
        bar = tqdm(
            total=len(study.tasks), initial=len(rows), unit="run", desc=study.config.name, dynamic_ncols=True
        )
    try:
        if pending:
            _execute(pending, n_workers, scheduler, recycle_after, record, bar)
    except KeyboardInterrupt:
        if out_dir is not None:
            _finish(out_dir, study, rows, report=False)
        raise
    finally:
        if bar is not None:
            bar.close()
    table = _finish(out_dir, study, rows, report=report)
    if out_dir is not None and keep_tables is not None:
        local_workers = n_workers if scheduler is None else 1
        keep_run_tables(
            out_dir, study, table, keep_tables, workers=local_workers, recycle_after=recycle_after
        )
    return table


def parse_keep_tables(spec: str) -> tuple[str, int | list[str]]:
    """``all``, ``worst:N`` or a comma-separated list of run ids, as ``(kind, N or ids)``.

    Raises:
        ConfigError: anything else (one line).
    """
    text = spec.strip()
    if text == "all":
        return "all", 0
    if text.startswith("worst:"):
        n = text.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise ConfigError([f"--keep-tables: worst:N needs a positive whole N (got {spec!r})"])
        return "worst", int(n)
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids or not all(re.fullmatch(r"[0-9a-f]{4,64}", i) for i in ids):
        raise ConfigError(
            [f"--keep-tables: 'all', 'worst:N' or run ids separated by commas (got {spec[:80]!r})"]
        )
    return "ids", ids


def keep_run_tables(
    out_dir: Path,
    study: Study,
    table: pd.DataFrame,
    spec: str,
    *,
    workers: int = 1,
    recycle_after: int | None = DEFAULT_RECYCLE,
) -> list[Path]:
    """Write the run directories of the runs ``spec`` chooses under ``out_dir/tables/`` (see :func:`sweep`).

    The replays run on ``workers`` local processes (a study on a Dask cluster replays on this machine,
    one at a time: the directories are this machine's). Each replay is the study's run (same config and
    seed), so the tables are the same whatever the number of workers.

    Returns:
        The run directories kept.

    Raises:
        ConfigError: a run id that is not one (or not a unique prefix of one) of the study's finished runs.
        RuntimeError: a replay failed (the others are kept; its run ids and first error are named).
    """
    kind, arg = parse_keep_tables(spec)
    ok = table[table["status"] == "ok"] if len(table) else table
    finished = [str(i) for i in ok["run_id"]] if len(ok) else []
    if kind == "all":
        chosen = finished
    elif kind == "worst":
        ranked = ok.assign(_dd=pd.to_numeric(ok["leader_max_drawdown_pct"], errors="coerce").fillna(-1.0))
        chosen = [str(i) for i in ranked.sort_values(["_dd", "run_id"], ascending=[False, True])["run_id"]]
        chosen = chosen[: arg if isinstance(arg, int) else 0]
    else:
        chosen = []
        for prefix in arg if isinstance(arg, list) else []:
            hits = [i for i in finished if i.startswith(prefix)]
            if len(hits) != 1:
                raise ConfigError(
                    [f"--keep-tables: {prefix!r} matches {len(hits)} finished run(s) of this study, not one"]
                )
            chosen.append(hits[0])
    tasks = {t.run_id: t for t in study.tasks}
    tables_dir = out_dir / "tables"
    kept = [tables_dir / run_id for run_id in chosen]
    todo = [tasks[run_id] for run_id in chosen if not (tables_dir / run_id / "summary.json").is_file()]
    if workers <= 1 or len(todo) <= 1:
        for task in todo:
            _replay_into(str(tables_dir), task)
        return kept
    failed: list[dict[str, Any]] = []

    def record(row: dict[str, Any]) -> None:
        if row.get("status") != "ok":
            failed.append(row)

    _execute(todo, workers, None, recycle_after, record, None, worker=partial(_replay_into, str(tables_dir)))
    if failed:
        ids = ", ".join(str(r["run_id"]) for r in failed)
        raise RuntimeError(f"--keep-tables: {len(failed)} replay(s) failed ({ids}): {failed[0].get('error')}")
    return kept


def _replay_into(tables_dir: str, task: RunTask) -> dict[str, Any]:
    """Replay one study run into ``tables_dir/RUN_ID/`` (a worker function: module level, picklable)."""
    cfg = ExperimentConfig.model_validate(task.config)
    run(cfg, seed=task.seed, hours=task.hours, out=Path(tables_dir) / task.run_id, figures=False)
    return {"run_id": task.run_id, "status": "ok"}


def _execute(
    tasks: list[RunTask],
    workers: int,
    scheduler: str | None,
    recycle_after: int | None,
    record: Callable[[dict[str, Any]], None],
    bar: Any,
    retries: int = LOST_RUN_RETRIES,
    *,
    worker: Callable[[RunTask], dict[str, Any]] = execute_task,
) -> int:
    """Run tasks on an executor, a bounded number in flight; returns the number of failed runs.

    A local worker that dies breaks the pool: the runs in flight are lost with it. They are tried
    again on a fresh pool (up to ``retries`` times each, the lost ones first) before being recorded as
    failed. ``worker`` turns a task into its row (default :func:`execute_task`; another module-level
    function, such as the calibration's, may run on the same executors).
    """
    pool = _dask_pool(scheduler) if scheduler else _local_pool(min(workers, len(tasks)), recycle_after)
    window = max(2 * pool.slots, 2)
    queue: Iterator[RunTask] = iter(tasks)
    again: list[RunTask] = []  # runs lost with a worker, to try again first
    lost: dict[str, int] = {}  # run_id -> times lost
    inflight: dict[Future[dict[str, Any]], RunTask] = {}
    counts = {"ok": 0, "failed": 0}

    def fill() -> bool:
        """Submit until the window is full; False when the local pool turned out broken on submit.

        A worker can die after ``wait`` returned and before the next submit (the pool only says so
        then): the task that was refused never ran, so it goes back to the front, not lost.
        """
        while len(inflight) < window:
            task = again.pop(0) if again else next(queue, None)
            if task is None:
                return True
            try:
                fut = pool.executor.submit(worker, task)
            except BrokenProcessPool:
                if scheduler is not None:
                    raise
                again.insert(0, task)
                return False
            inflight[fut] = task
        return True

    def done_row(row: dict[str, Any]) -> None:
        record(row)
        counts["ok" if row.get("status") == "ok" else "failed"] += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(ok=counts["ok"], failed=counts["failed"], refresh=False)

    def lose(task: RunTask) -> None:
        lost[task.run_id] = lost.get(task.run_id, 0) + 1
        if lost[task.run_id] <= retries:
            again.append(task)
            return
        exc = BrokenProcessPool(
            f"its worker process died each of the {lost[task.run_id]} times it ran (killed, or out of memory)"
        )
        done_row(_failed_row(task, exc, None))

    def recover() -> None:
        """Replace a broken local pool; its runs in flight are kept if they finished, else lost."""
        nonlocal pool
        _raise_if_unguarded()
        pool.executor.shutdown(wait=False, cancel_futures=True)
        for fut, task in list(inflight.items()):
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                done_row(fut.result())  # it finished before the pool broke
            else:
                fut.cancel()
                lose(task)
        inflight.clear()
        pool = _local_pool(min(workers, max(1, len(tasks))), recycle_after)

    def refill() -> None:
        while not fill():
            recover()

    try:
        refill()
        while inflight:
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                task = inflight.pop(fut)
                try:
                    row = fut.result()
                except BrokenProcessPool as exc:
                    if scheduler is None:
                        broken = True
                        lose(task)
                        continue
                    row = _failed_row(task, exc, traceback.format_exc())
                except Exception as exc:  # a Dask KilledWorker or CancelledError, a pickling error, ...
                    row = _failed_row(task, exc, traceback.format_exc())
                done_row(row)
            if broken:
                recover()
            refill()
    except KeyboardInterrupt:
        for fut in inflight:
            fut.cancel()
        if scheduler is None:
            _kill_local_workers(pool.executor)
            pool.executor.shutdown(wait=False, cancel_futures=True)
        else:
            pool.close()
        raise
    except BaseException:
        if scheduler is None:
            _kill_local_workers(pool.executor)
            pool.executor.shutdown(wait=False, cancel_futures=True)
        else:
            pool.close()
        raise
    pool.close()
    return counts["failed"]


def _finish(
    out_dir: Path | None, study: Study, rows: dict[str, dict[str, Any]], *, report: bool
) -> pd.DataFrame:
    ids = [t.run_id for t in study.tasks]
    table = results_frame([rows[i] for i in ids if i in rows], study.grid_keys)
    if out_dir is None:
        return table
    _atomic_parquet(table, out_dir / "results.parquet")
    if report and len(table):
        frag = fragility(table, study.grid_keys, study.config.study.thresholds)
        _atomic_parquet(frag, out_dir / "fragility.parquet")
        frag.to_csv(out_dir / "fragility.csv", index=False)
        _write_ablation(out_dir, table, study.config, study.grid_keys)
        write_study_report(
            out_dir,
            results=table,
            frag=frag,
            config=study.config,
            grid_keys=study.grid_keys,
            hours=study.hours,
        )
    return table


def _write_ablation(out_dir: Path, table: pd.DataFrame, cfg: ExperimentConfig, keys: Sequence[str]) -> None:
    """``ablation.csv``: the study's ablation ranking (:func:`experiments.stats.ablation_table`), for a
    study with ``study.ablation``."""
    ablation = cfg.study.ablation
    if ablation is not None:
        ranked = ablation_table(table, keys, ablation.metric, ablation.reference)
        ranked.to_csv(out_dir / "ablation.csv", index=False)


def load_study(study_dir: str | Path) -> tuple[ExperimentConfig, dict[str, Any], pd.DataFrame]:
    """Read a study directory back.

    Args:
        study_dir: a directory written by :func:`sweep`.

    Returns:
        (config with its study section, ``study.json`` metadata, the study table).

    Raises:
        ConfigError: not a study directory.
    """
    path = Path(study_dir)
    if not (path / "study.yaml").is_file():
        raise ConfigError([f"{path}: not a study directory (no study.yaml)"])
    cfg = load_config(path / "study.yaml")
    meta_path = path / "study.json"
    meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    keys = list(meta.get("grid_keys", list(cfg.study.grid)))
    if (path / "results.parquet").is_file():
        table = pd.read_parquet(path / "results.parquet")
    else:
        table = results_frame(list(read_rows(path / "runs").values()), keys)
    return cfg, meta, table


def rerender_study(study_dir: str | Path) -> Path:
    """Recompute the fragility table and re-render a study's figures and report.

    Args:
        study_dir: a directory written by :func:`sweep`.

    Returns:
        The path of ``report.md``.
    """
    path = Path(study_dir)
    cfg, meta, table = load_study(path)
    keys = list(meta.get("grid_keys", list(cfg.study.grid)))
    frag = fragility(table, keys, cfg.study.thresholds)
    if len(frag):
        _atomic_parquet(frag, path / "fragility.parquet")
        frag.to_csv(path / "fragility.csv", index=False)
    _write_ablation(path, table, cfg, keys)
    return write_study_report(
        path, results=table, frag=frag, config=cfg, grid_keys=keys, hours=meta.get("hours")
    )
