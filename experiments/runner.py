"""One run of an experiment: build the market, step it, summarise it, and optionally write its directory.

:func:`run` returns a :class:`~experiments.rundir.RunResult`; with ``out`` it also writes the run
directory (DESIGN.md §8; the files are described in :mod:`experiments.rundir`): the data files through
:mod:`experiments.rundir`, ``report.md`` and ``figures/`` through :mod:`experiments.report`, all in a
temporary sibling renamed into place, so a crash never leaves a half-written run directory behind.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mesa
import numpy as np
from tqdm import tqdm

from experiments.config import MAX_SEED, ConfigError, ExperimentConfig, config_from, cut_config, provenance
from experiments.format import format_hms
from experiments.report import write_run_report
from experiments.rundir import (
    RunInterrupted,
    RunResult,
    check_out_dir,
    deferred_interrupts,
    jsonable,
    load_run,
    mark_interrupted,
    staged_directory,
    write_run_files,
)
from experiments.summary import RunSummary
from model.market import CryptoMarket
from model.metrics import summarize

__all__ = [
    "PROVENANCE_FILE",
    "LedgerImbalanceError",
    "RunResult",
    "load_run",
    "run",
    "summarize_run",
    "write_provenance",
    "write_run_dir",
]


PROVENANCE_FILE = "provenance.json"
"""File of a run directory that records what made it (:func:`experiments.config.provenance`)."""


class LedgerImbalanceError(RuntimeError):
    """The exchange's books did not balance to the micro-dollar at the end of a run (a model bug)."""


def _release_model(model: Any) -> None:
    """Drop mesa 3.3's class-level reference to a finished model so that its memory can be freed."""
    try:
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
) -> RunSummary:
    """Assemble the run's summary (``summary.json``) from the model's metrics and the run's bookkeeping.

    Args:
        cfg: the run's config (cut to the hours run: see :func:`experiments.config.cut_config`).
        seed: the run's seed.
        metrics: ``model.metrics.summarize`` output (``symbols`` and ``cascades``).
        extras: ``CryptoMarket.summary_extras()`` (insurance fund start/min/end, ...).
        sim_seconds: simulated seconds elapsed.
        wall_seconds: wall-clock seconds of building and stepping the model.
        steps: steps taken.
        ledger_imbalance: the exchange's ledger imbalance in micro-dollars (0 when exact).
        hours: the truncation asked for (None: the config's duration, which a cut config already is).

    Returns:
        The summary (non-finite numbers stored as None, as ``summary.json`` writes them). Its
        ``duration_hours`` is the duration before any cut (``cfg.planned_hours``), ``hours_run`` the hours
        simulated, and ``cascade_definition`` the config's ``cascade`` thresholds.
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
        "duration_hours": cfg.planned_hours,
        "hours_run": hours if hours is not None else cfg.duration_hours,
        "sim_seconds_per_wall_second": sim_seconds / wall_seconds if wall_seconds > 0 else None,
        "ledger_imbalance": int(ledger_imbalance),
        "leader": leader,
        **dict(extras),
        "cascade_definition": cfg.cascade.definition().as_dict(),
        "totals": totals,
        "symbols": symbols,
        "cascades": cascades,
    }
    return RunSummary.model_validate(jsonable(summary))


def run(
    config: ExperimentConfig | Mapping[str, Any] | str | Path,
    seed: int | None = None,
    out: str | Path | None = None,
    progress: bool = False,
    hours: float | None = None,
    *,
    overrides: list[str] | None = None,
    figures: bool | None = None,
    overwrite: bool = False,
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
        overwrite: replace a previous run in ``out`` (only its own files); without it a run directory
            already there is refused before anything runs (nothing is replaced without being asked).

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
        check_out_dir(out, overwrite=overwrite)
    if cfg.seed != seed:
        cfg = cfg.model_copy(update={"seed": seed})
    cfg = cut_config(cfg, hours)  # the run that happens: config.yaml re-runs it as it is

    end_s = (hours if hours is not None else cfg.duration_hours) * 3600.0
    n_steps = max(1, math.ceil(end_s / cfg.dt_seconds - 1e-9))
    t0 = time.perf_counter()
    market = CryptoMarket(cfg.market, seed=seed, dt_seconds=cfg.dt_seconds, sample_seconds=cfg.sample_seconds)
    bar = None
    if progress:
        bar = tqdm(total=n_steps, unit="step", desc=cfg.name, dynamic_ncols=True, leave=True)
    steps_done = 0
    try:
        last_tick = time.perf_counter()
        shown = 0
        with deferred_interrupts(deliver=False) as stop:  # Ctrl-C/SIGTERM end the run at a step boundary
            for i in range(n_steps):
                if stop:
                    break
                market.step()
                steps_done = i + 1
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
    metrics = summarize(timeseries, liquidations, adl, cfg.cascade.definition())
    summary = summarize_run(
        cfg,
        seed,
        metrics,
        extras,
        sim_seconds=sim_seconds,
        wall_seconds=wall,
        steps=steps_done,
        ledger_imbalance=imbalance,
        hours=hours,
    )
    interrupted = bool(stop)
    if interrupted:
        summary = mark_interrupted(summary)
    if imbalance != 0:
        raise LedgerImbalanceError(
            f"ledger_imbalance = {imbalance} micro-dollars after {sim_seconds:g} simulated seconds "
            f"(config {cfg.name!r}, seed {seed}): the exchange's books do not balance"
        )
    result = RunResult(cfg, seed, summary, timeseries, liquidations, adl)
    if out is not None:
        result.out = write_run_dir(
            result, out, figures=cfg.figures if figures is None else figures, overwrite=overwrite
        )
    if interrupted:
        raise RunInterrupted(result)
    return result


def write_run_dir(
    result: RunResult, out: str | Path, *, figures: bool = True, overwrite: bool = False
) -> Path:
    """Write a run directory atomically: data files, ``report.md`` and figures, then renamed into place.

    Args:
        result: the run.
        out: the target directory.
        figures: also render ``figures/*.png`` (``report.md`` is always written).
        overwrite: replace a previous run there (its own files only); else one there is refused.

    Returns:
        The run directory (absolute), with ``provenance.json`` (see :func:`write_provenance`).

    Raises:
        ConfigError: ``out`` cannot receive a run directory.
    """
    with staged_directory(out, overwrite=overwrite) as tmp:
        write_run_files(result, tmp)
        write_provenance(tmp)
        write_run_report(tmp, result, figures=figures)
    return Path(out).resolve()


def write_provenance(directory: str | Path) -> Path:
    """Write ``provenance.json`` (cascadelab's version and git commit, dependency and Python versions,
    the model's ``defaults_version``) into a run or study directory.

    Args:
        directory: an existing directory.

    Returns:
        The file written.
    """
    path = Path(directory) / PROVENANCE_FILE
    path.write_text(json.dumps(provenance(), indent=2) + "\n", encoding="utf-8")
    return path
