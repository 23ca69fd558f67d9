"""A run's outputs and the run-directory contract (DESIGN.md §8): what a run directory holds, write, load.

A run directory (``cascadelab run CONFIG --seed N --out DIR``) holds:

- ``config.yaml``: the resolved config (venue preset filled in) with the run's seed; it re-runs as is;
- ``summary.json``: :class:`~experiments.summary.RunSummary` as JSON (seed, simulated and wall seconds,
  ledger imbalance, per-symbol metrics, insurance fund start/min/end, totals and the cascades found);
- ``timeseries.parquet``, ``liquidations.parquet``, ``adl.parquet``: the model's frames;
- ``figures/*.png`` and ``report.md`` (rendered by :mod:`experiments.report`).

This module writes and reads the data files; :func:`staged_directory` makes writing a whole directory
atomic (a temporary sibling renamed into place), so a crash never leaves a half-written run directory.
It knows nothing of how a run is made (:mod:`experiments.runner`) or rendered (:mod:`experiments.report`).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from experiments.config import ConfigError, ExperimentConfig, dump_yaml, load_config, resolved_dict
from experiments.summary import RunSummary

RUN_FILES = ("config.yaml", "summary.json", "timeseries.parquet", "liquidations.parquet", "adl.parquet")
"""Files every run directory holds (plus ``figures/`` and ``report.md``)."""

FRAMES = ("timeseries", "liquidations", "adl")
"""The run's tables: attributes of :class:`RunResult`, each written as ``<name>.parquet``."""


@dataclass
class RunResult:
    """The outputs of one run.

    Attributes:
        config: the experiment config, with ``seed`` set to the run's seed.
        seed: the seed of the run's generator.
        summary: the run's summary (the content of ``summary.json``).
        timeseries: sampled series, one row per (time_s, symbol).
        liquidations: one row per liquidation event.
        adl: one row per auto-deleveraging event.
        out: the run directory, when one was written or read.
    """

    config: ExperimentConfig
    seed: int
    summary: RunSummary
    timeseries: pd.DataFrame
    liquidations: pd.DataFrame
    adl: pd.DataFrame
    out: Path | None = field(default=None)


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, paths and non-finite floats into plain JSON values (NaN -> None).

    Args:
        value: any nested structure of dicts, lists and scalars.

    Returns:
        The same structure with JSON-safe leaves.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, Path):
        return str(value)
    return value


def check_out_dir(out: str | Path) -> Path:
    """Check that ``out`` can receive a run directory (absent, empty, or a previous run's directory).

    Args:
        out: the target directory.

    Returns:
        The path.

    Raises:
        ConfigError: it is a file, or a non-empty directory that is not a run directory.
    """
    path = Path(out)
    if path.exists():
        if not path.is_dir():
            raise ConfigError([f"{path}: exists and is not a directory"])
        if any(path.iterdir()) and not (path / "summary.json").exists():
            raise ConfigError(
                [f"{path}: exists, is not empty and is not a run directory; choose another --out"]
            )
    return path


@contextmanager
def staged_directory(out: str | Path) -> Iterator[Path]:
    """Write a run directory atomically: yield a temporary sibling of ``out``, renamed into place on exit.

    A previous run directory at ``out`` is replaced only once the new one is complete; when the block
    raises, the temporary directory is removed and ``out`` is left as it was.

    Args:
        out: the target directory (checked with :func:`check_out_dir`).

    Yields:
        The temporary directory to write into.

    Raises:
        ConfigError: ``out`` cannot receive a run directory.
    """
    target = check_out_dir(out).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_run_files(result: RunResult, directory: str | Path) -> None:
    """Write the data files of a run (:data:`RUN_FILES`) into an existing directory.

    Args:
        result: the run.
        directory: where to write (usually the temporary directory of :func:`staged_directory`).
    """
    path = Path(directory)
    (path / "config.yaml").write_text(
        dump_yaml(resolved_dict(result.config, seed=result.seed)), encoding="utf-8"
    )
    (path / "summary.json").write_text(result.summary.to_json(), encoding="utf-8")
    for name in FRAMES:
        frame: pd.DataFrame = getattr(result, name)
        frame.to_parquet(path / f"{name}.parquet", index=False)


def load_run(run_dir: str | Path) -> RunResult:
    """Read a run directory back into a :class:`RunResult`.

    Args:
        run_dir: a directory written by :func:`experiments.run` (or ``cascadelab run``).

    Returns:
        The run, its summary parsed into a :class:`~experiments.summary.RunSummary` and its frames read
        from Parquet.

    Raises:
        ConfigError: the directory is not a run directory, its config does not validate, or its
            ``summary.json`` is not a run summary.
    """
    path = Path(run_dir)
    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if missing:
        raise ConfigError([f"{path}: not a run directory (missing {', '.join(missing)})"])
    cfg = load_config(path / "config.yaml")
    try:
        summary = RunSummary.read(path / "summary.json")
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(
            [f"{path / 'summary.json'}: not a run summary ({'; '.join(problems[:3])})"]
        ) from None
    except ValueError as exc:
        raise ConfigError([f"{path / 'summary.json'}: not JSON ({exc})"]) from None
    return RunResult(
        config=cfg,
        seed=summary.seed,
        summary=summary,
        timeseries=pd.read_parquet(path / "timeseries.parquet"),
        liquidations=pd.read_parquet(path / "liquidations.parquet"),
        adl=pd.read_parquet(path / "adl.parquet"),
        out=path,
    )
