"""One run of an experiment: build the market, step it, summarise it, and write a run directory.

A run directory (``cascadelab run CONFIG --seed N --out DIR``, DESIGN.md §8) holds:

- ``config.yaml``: the resolved config (venue preset filled in) with the run's seed; it re-runs as is;
- ``summary.json``: seed, simulated and wall seconds, ledger imbalance, per-symbol metrics, insurance fund
  start/min/end, totals and the cascades found;
- ``timeseries.parquet``, ``liquidations.parquet``, ``adl.parquet``: the model's frames;
- ``figures/*.png`` and ``report.md``.

The directory is written into a temporary sibling first and renamed into place, so a crash never leaves a
half-written run directory behind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.config import MAX_SEED, ConfigError, ExperimentConfig, config_from, dump_yaml, resolved_dict

RUN_FILES = ("config.yaml", "summary.json", "timeseries.parquet", "liquidations.parquet", "adl.parquet")
"""Files every run directory holds (plus ``figures/`` and ``report.md``)."""

SYMBOL_METRICS = (
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
"""Per-symbol keys of ``summary.json["symbols"][SYM]`` (from ``model.metrics.summarize``)."""


class LedgerImbalanceError(RuntimeError):
    """The exchange's books did not balance to the micro-dollar at the end of a run (a model bug)."""


@dataclass
class RunResult:
    """The outputs of one run.

    Attributes:
        config: the experiment config, with ``seed`` set to the run's seed.
        seed: the seed of the run's generator.
        summary: the content of ``summary.json``.
        timeseries: sampled series, one row per (time_s, symbol).
        liquidations: one row per liquidation event.
        adl: one row per auto-deleveraging event.
        out: the run directory, when one was written.
    """

    config: ExperimentConfig
    seed: int
    summary: dict[str, Any]
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


def format_hms(seconds: float) -> str:
    """Format simulated seconds as ``[Nd ]HH:MM:SS``.

    Args:
        seconds: a duration in seconds.

    Returns:
        The formatted text.
    """
    s = round(seconds)
    days, s = divmod(s, 86_400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{days}d {h:02d}:{m:02d}:{s:02d}" if days else f"{h:02d}:{m:02d}:{s:02d}"


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


def _release_model(model: Any) -> None:
    """Drop mesa 3.3's class-level reference to a finished model so that its memory can be freed."""
    try:
        import mesa

        ids = getattr(mesa.Agent, "_ids", None)
        if isinstance(ids, dict):
            ids.pop(model, None)
    except Exception:  # pragma: no cover - mesa internals differ by version
        pass


def summarize_run(
    cfg: ExperimentConfig,
    seed: int,
    metrics: Mapping[str, Any],
    extras: Mapping[str, Any],
    *,
    sim_seconds: float,
    wall_seconds: float,
    steps: int,
    ledger_imbalance: int,
    hours: float | None,
) -> dict[str, Any]:
    """Assemble ``summary.json`` from the model's metrics and the run's bookkeeping.

    Args:
        cfg: the run's config.
        seed: the run's seed.
        metrics: ``model.metrics.summarize`` output (``symbols`` and ``cascades``).
        extras: ``CryptoMarket.summary_extras()`` (insurance fund start/min/end, ...).
        sim_seconds: simulated seconds elapsed.
        wall_seconds: wall-clock seconds of building and stepping the model.
        steps: steps taken.
        ledger_imbalance: the exchange's ledger imbalance in micro-dollars (0 when exact).
        hours: the truncation asked for (None: the full duration).

    Returns:
        The summary mapping (JSON-safe).
    """
    symbols = {str(k): dict(v) for k, v in dict(metrics.get("symbols", {})).items()}
    cascades = [dict(c) for c in metrics.get("cascades", [])]
    names = [s.name for s in cfg.market.symbols]
    leader = names[0] if names else None
    totals: dict[str, Any] = {
        "liquidations_long_usd": sum(float(v.get("liquidations_long_usd") or 0) for v in symbols.values()),
        "liquidations_short_usd": sum(float(v.get("liquidations_short_usd") or 0) for v in symbols.values()),
        "liquidation_count": sum(int(v.get("liquidation_count") or 0) for v in symbols.values()),
        "adl_count": sum(int(v.get("adl_count") or 0) for v in symbols.values()),
        "oi_start_usd": sum(float(v.get("oi_start_usd") or 0) for v in symbols.values()),
        "oi_end_usd": sum(float(v.get("oi_end_usd") or 0) for v in symbols.values()),
        "cascade_count": len(cascades),
    }
    totals["liquidated_usd"] = totals["liquidations_long_usd"] + totals["liquidations_short_usd"]
    oi0 = totals["oi_start_usd"]
    totals["oi_change_pct"] = (totals["oi_end_usd"] / oi0 - 1) * 100 if oi0 > 0 else None
    summary: dict[str, Any] = {
        "name": cfg.name,
        "seed": int(seed),
        "sim_seconds": float(sim_seconds),
        "wall_seconds": float(wall_seconds),
        "steps": int(steps),
        "dt_seconds": cfg.dt_seconds,
        "sample_seconds": cfg.sample_seconds,
        "duration_hours": cfg.duration_hours,
        "hours_run": hours if hours is not None else cfg.duration_hours,
        "sim_seconds_per_wall_second": sim_seconds / wall_seconds if wall_seconds > 0 else None,
        "ledger_imbalance": int(ledger_imbalance),
        "leader": leader,
        **dict(extras),
        "totals": totals,
        "symbols": symbols,
        "cascades": cascades,
    }
    out: dict[str, Any] = jsonable(summary)
    return out


def run(
    config: ExperimentConfig | Mapping[str, Any] | str | Path,
    seed: int | None = None,
    out: str | Path | None = None,
    progress: bool = False,
    hours: float | None = None,
    *,
    overrides: list[str] | None = None,
    figures: bool | None = None,
) -> RunResult:
    """Run one experiment and optionally write its run directory.

    Args:
        config: an :class:`ExperimentConfig`, a raw mapping, a YAML path or a scenario name.
        seed: the run's seed (default: ``config.seed``); 0 <= seed < 2**63.
        out: write the run directory here (created; a previous run directory there is replaced).
        progress: show a progress bar (simulated time, ETA) on stderr.
        hours: simulate only the first ``hours`` hours of the run (<= ``duration_hours``); shocks scheduled
            later simply do not happen.
        overrides: ``key.path=value`` items applied to the config first.
        figures: write ``figures/*.png`` (default: the config's ``figures``).

    Returns:
        The :class:`RunResult`.

    Raises:
        ConfigError: invalid config, seed, hours or output directory (before anything runs).
        LedgerImbalanceError: the exchange's ledger did not balance exactly.
    """
    cfg = config_from(config, overrides)
    seed = cfg.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) < MAX_SEED:
        raise ConfigError([f"seed: must be an integer with 0 <= seed < 2**63 (got {seed!r})"])
    seed = int(seed)
    if hours is not None and not (0 < hours <= cfg.duration_hours):
        raise ConfigError(
            [
                f"--hours: must be > 0 and at most duration_hours ({cfg.duration_hours:g}); "
                f"to run longer use --set duration_hours={hours:g} (got {hours:g})"
            ]
        )
    if out is not None:
        check_out_dir(out)
    if cfg.seed != seed:
        cfg = cfg.model_copy(update={"seed": seed})

    from model.market import CryptoMarket
    from model.metrics import summarize

    end_s = (hours if hours is not None else cfg.duration_hours) * 3600.0
    n_steps = max(1, math.ceil(end_s / cfg.dt_seconds - 1e-9))
    t0 = time.perf_counter()
    market = CryptoMarket(cfg.market, seed=seed, dt_seconds=cfg.dt_seconds, sample_seconds=cfg.sample_seconds)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_steps, unit="step", desc=cfg.name, dynamic_ncols=True, leave=True)
    try:
        last_tick = time.perf_counter()
        shown = 0
        for i in range(n_steps):
            market.step()
            if bar is not None:
                now = time.perf_counter()
                if now - last_tick >= 0.25 or i == n_steps - 1:
                    bar.update(i + 1 - shown)
                    shown = i + 1
                    bar.set_postfix_str(
                        f"sim {format_hms(market.time_s)} / {format_hms(end_s)}", refresh=False
                    )
                    last_tick = now
    finally:
        if bar is not None:
            bar.close()
    timeseries = market.timeseries_frame()
    liquidations = market.liquidations_frame()
    adl = market.adl_frame()
    imbalance = int(market.exchange.ledger_imbalance())
    extras = dict(market.summary_extras())
    wall = time.perf_counter() - t0
    sim_seconds = float(market.time_s)
    _release_model(market)
    del market
    metrics = summarize(timeseries, liquidations, adl)
    summary = summarize_run(
        cfg,
        seed,
        metrics,
        extras,
        sim_seconds=sim_seconds,
        wall_seconds=wall,
        steps=n_steps,
        ledger_imbalance=imbalance,
        hours=hours,
    )
    if imbalance != 0:
        raise LedgerImbalanceError(
            f"ledger_imbalance = {imbalance} micro-dollars after {sim_seconds:g} simulated seconds "
            f"(config {cfg.name!r}, seed {seed}): the exchange's books do not balance"
        )
    result = RunResult(cfg, seed, summary, timeseries, liquidations, adl)
    if out is not None:
        result.out = write_run_dir(result, out, figures=cfg.figures if figures is None else figures)
    return result


def write_run_dir(result: RunResult, out: str | Path, *, figures: bool = True) -> Path:
    """Write a run directory atomically: into a temporary sibling, then renamed into place.

    Args:
        result: the run.
        out: the target directory (replaced if it holds a previous run).
        figures: also render ``figures/*.png`` (``report.md`` is always written).

    Returns:
        The run directory.
    """
    target = check_out_dir(out).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        (tmp / "config.yaml").write_text(
            dump_yaml(resolved_dict(result.config, seed=result.seed)), encoding="utf-8"
        )
        (tmp / "summary.json").write_text(
            json.dumps(jsonable(result.summary), indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        result.timeseries.to_parquet(tmp / "timeseries.parquet", index=False)
        result.liquidations.to_parquet(tmp / "liquidations.parquet", index=False)
        result.adl.to_parquet(tmp / "adl.parquet", index=False)
        from experiments.report import write_run_report

        write_run_report(
            tmp,
            summary=result.summary,
            timeseries=result.timeseries,
            liquidations=result.liquidations,
            adl=result.adl,
            config=result.config,
            figures=figures,
        )
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
    return target


def load_run(run_dir: str | Path) -> RunResult:
    """Read a run directory back into a :class:`RunResult`.

    Args:
        run_dir: a directory written by :func:`run`.

    Returns:
        The run, its frames read from Parquet.

    Raises:
        ConfigError: the directory is not a run directory, or its config does not validate.
    """
    path = Path(run_dir)
    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if missing:
        raise ConfigError([f"{path}: not a run directory (missing {', '.join(missing)})"])
    from experiments.config import load_config

    cfg = load_config(path / "config.yaml")
    summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    return RunResult(
        config=cfg,
        seed=int(summary.get("seed", cfg.seed)),
        summary=summary,
        timeseries=pd.read_parquet(path / "timeseries.parquet"),
        liquidations=pd.read_parquet(path / "liquidations.parquet"),
        adl=pd.read_parquet(path / "adl.parquet"),
        out=path,
    )
