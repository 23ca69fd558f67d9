"""A run's outputs and the run-directory contract (DESIGN.md §8): what a run directory holds, write, load.

A run directory (``cascadelab run CONFIG --seed N --out DIR``) holds:

- ``config.yaml``: the resolved config (venue preset filled in) with the run's seed; it re-runs as is;
- ``summary.json``: :class:`~experiments.summary.RunSummary` as JSON (seed, simulated and wall seconds,
  ledger imbalance, per-symbol metrics, insurance fund start/min/end, totals and the cascades found);
- ``timeseries.parquet``, ``liquidations.parquet``, ``adl.parquet``: the model's frames;
- ``figures/*.png`` and ``report.md`` (rendered by :mod:`experiments.report`).

This module writes and reads the data files; :func:`staged_directory` makes writing a whole directory
atomic (a temporary sibling renamed into place), so a crash never leaves a half-written run directory.
Replacing a run directory replaces only the run's own files (:data:`OWN_NAMES`): anything else a user put
there survives; a directory holding other files is refused unless it is a run directory. Temporary
siblings left by a killed process (``.NAME.tmp-PID-*``) are removed on the next write.
:func:`deferred_interrupts` holds Ctrl-C and SIGTERM back over a short critical section (a file's
write and rename, a simulation step).
It knows nothing of how a run is made (:mod:`experiments.runner`) or rendered (:mod:`experiments.report`).
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import signal
import threading
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

OWN_NAMES = (*RUN_FILES, "report.md", "figures")
"""Entries of a run directory that belong to the run: replaced on a new write, everything else is kept."""

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


def _own_entry(name: str) -> bool:
    return name in OWN_NAMES


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` is a run directory: its ``summary.json`` is a run summary and ``config.yaml`` exists.

    Args:
        path: a directory.

    Returns:
        True for a directory written by a run (complete, or interrupted and marked so).
    """
    p = Path(path)
    if not (p / "config.yaml").is_file() or not (p / "summary.json").is_file():
        return False
    try:
        data = json.loads((p / "summary.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and "seed" in data


def _describe_run(path: Path) -> str:
    try:
        data = json.loads((path / "summary.json").read_text(encoding="utf-8"))
        what = f"a run of {data.get('name', '?')} with seed {data.get('seed', '?')}"
        return what + (" (interrupted)" if data.get("interrupted") else "")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return "a run"


def check_out_dir(out: str | Path, *, overwrite: bool = True) -> Path:
    """Check that ``out`` can receive a run directory.

    ``out`` may be absent, empty, or hold only a run's own files (:data:`OWN_NAMES`); or it may be a run
    directory (:func:`is_run_dir`) that also holds other files, which survive a new write.

    Args:
        out: the target directory.
        overwrite: allow replacing a previous run there (the CLI's ``--overwrite``; the Python API
            :func:`experiments.run` replaces, as documented).

    Returns:
        The path.

    Raises:
        ConfigError: it is a file, a previous run and ``overwrite`` is false, or a non-empty directory
            that is not a run directory (even with ``overwrite``).
    """
    path = Path(out)
    if path.exists():
        if not path.is_dir():
            raise ConfigError([f"{path}: exists and is not a directory"])
        names = [p.name for p in path.iterdir()]
        if not names:
            return path
        run_dir = is_run_dir(path)
        if not run_dir and not all(_own_entry(n) for n in names):
            raise ConfigError(
                [f"{path}: exists, is not empty and is not a run directory; choose another --out"]
            )
        if not overwrite:
            what = _describe_run(path) if run_dir else "a partial run's files"
            raise ConfigError(
                [f"{path}: already holds {what}; pass --overwrite to replace it, or choose another --out"]
            )
    return path


_TMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)(?:-[0-9a-f]+)?$")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine).

    Args:
        pid: a process id.

    Returns:
        True when it exists (or exists under another user).
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temporaries(target: str | Path) -> list[Path]:
    """Temporary siblings of ``target`` (``.NAME.tmp-PID[-TOKEN]``, ``.NAME.old-PID``) of dead processes.

    Args:
        target: a file or directory that is written through a temporary sibling.

    Returns:
        The leftovers of writers that no longer run (the current process's own are never listed).
    """
    t = Path(target)
    parent = t.parent
    if not parent.is_dir():
        return []
    found: list[Path] = []
    for p in parent.iterdir():
        m = _TMP_NAME.match(p.name)
        if m is None or m["name"] != t.name:
            continue
        pid = int(m["pid"])
        if pid != os.getpid() and not pid_alive(pid):
            found.append(p)
    return found


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Remove the temporary siblings of ``target`` left by dead processes (see :func:`stale_temporaries`).

    Args:
        target: a file or directory.

    Returns:
        What was removed.
    """
    removed = []
    for p in stale_temporaries(target):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def _user_mkdir(parent: Path, name: str) -> Path:
    """Make ``parent/.NAME.tmp-PID-TOKEN`` with the user's normal mode (0777 minus the umask)."""
    while True:
        path = parent / f".{name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir(mode=0o777)
            return path
        except FileExistsError:  # pragma: no cover - a 32-bit token collision
            continue


def _install_over(tmp: Path, target: Path) -> None:
    """Move the run's files from ``tmp`` into an existing ``target``, keeping its other files."""
    (target / "summary.json").unlink(missing_ok=True)  # until summary.json is back, it is not a whole run
    new = {p.name for p in tmp.iterdir()}
    for name in OWN_NAMES:  # the previous run's files that this run does not write (figures, ...)
        old = target / name
        if name in new or not old.exists():
            continue
        if old.is_dir() and not old.is_symlink():
            for f in old.glob("*.png"):
                f.unlink()
            with_other = any(old.iterdir())
            if not with_other:
                old.rmdir()
        else:
            old.unlink()
    for entry in sorted(tmp.iterdir(), key=lambda p: p.name == "summary.json"):
        dest = target / entry.name
        if entry.is_dir():
            if dest.exists() and not dest.is_dir():
                dest.unlink()
            dest.mkdir(exist_ok=True)
            if entry.name == "figures":
                for f in dest.glob("*.png"):
                    if not (entry / f.name).exists():
                        f.unlink()
            for f in entry.iterdir():
                os.replace(f, dest / f.name)
        else:
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            os.replace(entry, dest)
    shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def staged_directory(out: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Write a run directory atomically: yield a temporary sibling of ``out``, moved into place on exit.

    A previous run directory at ``out`` is replaced only once the new one is complete; when the block
    raises, the temporary directory is removed and ``out`` is left as it was. Only the run's own files
    (:data:`OWN_NAMES`) are replaced: a run directory that also holds other files keeps them (its run
    files are then replaced one by one, ``summary.json`` last). The directory gets the user's normal
    mode (0777 minus the umask). Temporary siblings left by dead processes are removed first.

    Args:
        out: the target directory (checked with :func:`check_out_dir`).
        overwrite: allow replacing a previous run (see :func:`check_out_dir`).

    Yields:
        The temporary directory to write into.

    Raises:
        ConfigError: ``out`` cannot receive a run directory.
    """
    target = check_out_dir(out, overwrite=overwrite).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = _user_mkdir(target.parent, target.name)
    try:
        yield tmp
        if not target.exists():
            os.replace(tmp, target)
        elif all(_own_entry(p.name) for p in target.iterdir()):
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            if old.exists():
                shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            _install_over(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def deferred_interrupts(*, deliver: bool = True) -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM back over a short critical section, then deliver them.

    In the main thread, a signal whose handler is a Python function (Ctrl-C's KeyboardInterrupt, the
    CLI's SIGTERM handler) arriving inside the block is recorded and, with ``deliver``, re-raised through
    that handler once the block is done (so a file is never left between its write and its rename). A
    signal left to its default action (SIGTERM in a worker process) is not held back; outside the main
    thread the block runs unprotected.

    Args:
        deliver: re-raise the first signal held back when the block ends (False: the caller handles it).

    Yields:
        The signals received so far inside the block (the caller may look, e.g. to stop a loop).
    """
    pending: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    previous: dict[signal.Signals, Any] = {}

    def hold(signum: int, _frame: Any) -> None:
        pending.append(signum)

    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            if callable(signal.getsignal(sig)):  # only a Python handler is held back (not SIG_DFL/IGN)
                previous[sig] = signal.signal(sig, hold)
        yield pending
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pending and deliver:
            signal.raise_signal(pending[0])


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


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or SIGTERM; what it had simulated was kept (and written, with ``out``).

    Attributes:
        result: the partial run (its summary marked ``interrupted: true``).
    """

    def __init__(self, result: RunResult) -> None:
        super().__init__("run interrupted")
        self.result = result


def mark_interrupted(summary: RunSummary) -> RunSummary:
    """The summary of a run stopped before its end: the same, with ``interrupted: true``.

    Args:
        summary: the summary of what was simulated.

    Returns:
        A copy with the extra key ``interrupted`` set to True.
    """
    data = summary.model_dump(mode="json")
    data["interrupted"] = True
    return RunSummary.model_validate(data)
