"""Calibration by the simulated method of moments (SMM), with common random numbers.

``cascadelab calibrate CONFIG --targets TARGETS.yaml --out DIR`` (or :func:`calibrate`) fits chosen
numeric config keys so that the run's stylized facts (:func:`experiments.stylized.symbol_facts`) match
target values. The targets file (validated by :class:`CalibrationTargets`, every problem one line naming
its key, before anything runs)::

    parameters:                       # what is fitted, in a box
      - {key: market.market_makers.half_spread_bps, low: 0.5, high: 8, start: 2}
    moments:                          # what is matched
      - {name: median_spread_bp, symbol: BTC, target: 1.0}         # weight: 1 / variance at the start
      - {name: volume_per_oi_day, target: 2.0, weight: 4.0}
    seeds: 8                          # runs per evaluation: SeedSequence(seed).spawn(seeds), always the same
    seed: 0
    hours: 6                          # length of every run (default: the config's duration_hours)
    optimizer: {method: Nelder-Mead, max_evaluations: 100, tolerance: 0.001, initial_step: 0.1}
    jacobian_step: 0.05               # of each parameter's range, for the standard errors

The method (also written into ``fit_report.md``): with ``m_s(theta)`` the vector of moments of the run
with seed ``s`` and ``m(theta)`` their mean over the ``S`` seeds, the objective is
``J(theta) = sum_j w_j (m_j(theta) - target_j)^2``. The seeds are the same at every evaluation (common
random numbers), so ``J`` is a deterministic function of ``theta`` and differences between evaluations
are not seed noise. The parameters are optimised in the unit box ``u = (theta - low) / (high - low)``
(bounds respected) by Nelder-Mead or Powell (scipy). At the optimum the standard errors are the SMM
sandwich ``V = (1 + 1/S) (D'WD)^-1 D'W Omega W D (D'WD)^-1`` with ``D`` the central-difference Jacobian of
``m`` (same seeds), ``W = diag(w)`` and ``Omega`` the covariance of the per-seed moment vectors at the
optimum (which stands for the covariance of the target moments: targets measured on data of one run's
length).

Every evaluation runs its seeds as :class:`~experiments.study.RunTask` s through the study's executors
(:func:`experiments.study._execute`: local processes, or a Dask cluster); the worker
(:func:`moments_row`) returns the study row plus ``fact_<SYMBOL>_<fact>`` for every symbol.

A calibration directory holds:

- ``calibration_inputs.yaml``: the hash of the calibration (first line), the resolved config and targets;
- ``runs/<run_id>.json``: one row per finished run (atomic), so an interrupted evaluation keeps its seeds;
- ``evaluations.jsonl``: one line per finished evaluation (parameters, per-seed moments), appended and
  flushed at once. A re-run of the same calibration replays the optimiser's path from it (the optimiser
  is deterministic) and only simulates what is missing; one of other inputs is refused unless
  ``overwrite``. Raising ``optimizer.max_evaluations`` continues the same calibration;
- ``fit_report.md``, ``path.csv``, ``calibrated.yaml`` (the config with the fitted values, loadable by
  ``cascadelab run``) and ``calibration.json`` (the machine-readable result).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
import sys
import traceback
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from scipy import optimize
from tqdm import tqdm

from experiments.config import (
    CONFIG_DIR,
    MAX_SEED,
    TARGETS_SUFFIX,
    ConfigError,
    ExperimentConfig,
    clip,
    config_from,
    dump_yaml,
    format_validation_error,
    parse_yaml,
    resolved_dict,
    set_path,
)
from experiments.rundir import deferred_interrupts, jsonable
from experiments.runner import run
from experiments.study import (
    DEFAULT_RECYCLE,
    RunTask,
    _atomic_write_text,
    _base_row,
    _execute,
    _failed_row,
    _refuse_worker_bootstrap,
    _unguarded_note,
    expand_tasks,
    flatten_summary,
    read_rows,
    recover_run_files,
    study_seeds,
)
from experiments.stylized import RANGES, REFERENCES, symbol_facts
from model.params import DEFAULTS_VERSION, StrictModel

FACT_NAMES: tuple[str, ...] = tuple(dict.fromkeys([*RANGES, *REFERENCES]))
"""The facts a moment may name: every fact of :func:`experiments.stylized.symbol_facts`."""

INPUTS_FILE = "calibration_inputs.yaml"
JOURNAL_FILE = "evaluations.jsonl"
CALIBRATION_FILES = (
    INPUTS_FILE,
    JOURNAL_FILE,
    "fit_report.md",
    "path.csv",
    "calibrated.yaml",
    "calibration.json",
    "provenance.json",
)
"""A calibration's own top-level files (plus ``runs/*.json``): what ``overwrite`` replaces."""

HASH_LINE = "# cascadelab calibration hash: "
"""The first line of ``calibration_inputs.yaml``: the calibration's hash, checked before resuming."""

UNMEASURABLE_OBJECTIVE = 1e12
"""Objective of a point where a moment could not be measured on any seed (NaN): far above any fit."""

METHOD_TEXT = (
    "Simulated method of moments. For a parameter vector theta, every seed s of the S seeds gives one run "
    "and its moment vector m_s(theta) (the stylized facts of experiments.stylized.symbol_facts on the "
    "run's 1-minute samples); m(theta) is their mean. The objective is "
    "J(theta) = sum_j w_j (m_j(theta) - target_j)^2, with w_j the weight given in the targets file or, by "
    "default, 1 / (the variance of m_s,j across the seeds at the start point). The seeds are the same at "
    "every evaluation (common random numbers: SeedSequence(seed).spawn(S)), so J is a deterministic "
    "function of theta. The optimiser (scipy Nelder-Mead or Powell) works in the unit box "
    "u = (theta - low) / (high - low), bounds respected; Nelder-Mead stops when its simplex is within the "
    "tolerance in that box (J is deterministic but rough at small scales: a small parameter change "
    "re-routes a run's order flow). The estimate is the evaluated point of lowest J. "
    "Standard errors: V = (1 + 1/S) (D'WD)^-1 D'W Omega W D (D'WD)^-1, where D is the Jacobian of m at the "
    "estimate by central differences (a step of jacobian_step of each parameter's range, one-sided at a "
    "bound; the same seeds), W = diag(w) and Omega the covariance of the per-seed moment vectors at the "
    "estimate. Omega stands for the covariance of the target moments (targets measured on data as long as "
    "one run); the factor 1/S adds the simulation noise of the mean over S seeds. SE = sqrt(diag V). "
    "They are asymptotic (a locally linear m, moments near Gaussian) and do not include the error of "
    "the numerical Jacobian."
)
"""What the report says is computed."""


class CalibrationError(RuntimeError):
    """The calibration cannot go on: runs of an evaluation failed (their errors in the message)."""


# --------------------------------------------------------------------------- the targets file


class OptimizerOptions(StrictModel):
    """How the objective is minimised."""

    method: Literal["Nelder-Mead", "Powell"] = Field(
        default="Nelder-Mead", description="scipy.optimize.minimize method, in the unit box (bounded)"
    )
    max_evaluations: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="most objective evaluations (each one runs every seed); raising it continues a "
        "calibration that stopped at it",
    )
    tolerance: float = Field(
        default=1e-3,
        gt=0,
        lt=1,
        description="convergence tolerance in the unit box: Nelder-Mead stops when its simplex is this "
        "small (xatol; the objective's values are not compared: a simulated objective is rough at small "
        "scales), Powell uses it as xtol and as ftol (relative change of the objective)",
    )
    initial_step: float = Field(
        default=0.1,
        gt=0,
        le=0.5,
        description="size of the first steps in the unit box (Nelder-Mead's initial simplex, Powell's "
        "initial directions)",
    )


class ParameterTarget(StrictModel):
    """One fitted parameter: a numeric config key and its box."""

    key: str = Field(
        pattern=r"^[A-Za-z_]\w*(\.\w+)+$",
        description="dotted config key path of a number, e.g. market.market_makers.half_spread_bps",
    )
    low: float = Field(description="lower bound of the box")
    high: float = Field(description="upper bound of the box")
    start: float | None = Field(default=None, description="starting value (default: the config's value)")

    @model_validator(mode="after")
    def _inside(self) -> ParameterTarget:
        if not self.low < self.high:
            raise ValueError(f"high: must be above low (low = {self.low:g}, high = {self.high:g})")
        if self.start is not None and not self.low <= self.start <= self.high:
            raise ValueError(f"start: {self.start:g} is outside [low, high] = [{self.low:g}, {self.high:g}]")
        return self


class MomentTarget(StrictModel):
    """One matched moment: a fact of one symbol and its target value."""

    name: str = Field(description="a fact of experiments.stylized.symbol_facts, e.g. median_spread_bp")
    symbol: str | None = Field(default=None, description="the symbol measured (default: the first symbol)")
    target: float = Field(description="the value to match")
    weight: float | None = Field(
        default=None,
        gt=0,
        description="weight in the objective (default: 1 / the moment's variance across the seeds at "
        "the start point)",
    )

    @field_validator("name")
    @classmethod
    def _known_fact(cls, name: str) -> str:
        if name not in FACT_NAMES:
            close = difflib.get_close_matches(name, FACT_NAMES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"unknown fact {clip(name, 60)!r} ({hint}known: {', '.join(FACT_NAMES)})")
        return name


class CalibrationTargets(StrictModel):
    """A calibration: the parameters fitted, the moments matched, the seeds, the run length, the optimiser."""

    description: str = Field(default="", description="free text shown in the report")
    parameters: list[ParameterTarget] = Field(min_length=1, max_length=50, description="fitted parameters")
    moments: list[MomentTarget] = Field(min_length=1, max_length=500, description="matched moments")
    seeds: int = Field(
        default=8,
        ge=2,
        le=10_000,
        description="runs per evaluation (at least 2: the default weights and the SEs need a variance)",
    )
    seed: int = Field(
        default=0, ge=0, lt=MAX_SEED, description="master seed: the runs' seeds are SeedSequence(seed).spawn"
    )
    hours: float | None = Field(
        default=None, gt=0, le=24 * 366, description="length of every run (default: duration_hours)"
    )
    optimizer: OptimizerOptions = Field(default_factory=OptimizerOptions)
    jacobian_step: float = Field(
        default=0.05,
        gt=0,
        le=0.25,
        description="central-difference step of the SEs' Jacobian, as a share of each parameter's range",
    )

    @model_validator(mode="after")
    def _consistent(self) -> CalibrationTargets:
        problems: list[str] = []
        seen: dict[str, int] = {}
        for i, p in enumerate(self.parameters):
            if p.key in seen:
                problems.append(f"parameters.{i}.key: {p.key} is already parameters.{seen[p.key]}")
            seen.setdefault(p.key, i)
        if len(self.moments) < len(self.parameters):
            problems.append(
                f"moments: {len(self.moments)} moment(s) cannot identify {len(self.parameters)} parameters "
                "(give at least as many moments as parameters)"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self


_MODELS: dict[str, type[StrictModel]] = {
    "": CalibrationTargets,
    "parameters": ParameterTarget,
    "moments": MomentTarget,
    "optimizer": OptimizerOptions,
}


def _targets_problems(exc: ValidationError, label: str) -> list[str]:
    """Lines ``LABEL: path.to.key: reason`` for a validation error of :class:`CalibrationTargets`."""
    lines: list[str] = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not (isinstance(p, str) and ("[" in p or "(" in p))]
        kind = err["type"]
        msg = str(err["msg"]).removeprefix("Value error, ")
        if kind == "extra_forbidden":
            section = next((p for p in reversed(loc[:-1]) if not p.isdigit()), "")
            fields = list(_MODELS.get(section, CalibrationTargets).model_fields)
            close = difflib.get_close_matches(loc[-1], fields, n=1)
            msg = "unknown key " + (
                f"(did you mean {close[0]!r}?)" if close else f"(known: {', '.join(fields)})"
            )
        elif kind == "missing":
            msg = "required key is missing"
        elif kind != "value_error" and "input" in err and not isinstance(err["input"], dict | list):
            msg += f" (got {clip(repr(err['input']), 60)})"
        for part in msg.split("\n"):
            where = list(loc)
            head, sep, rest = part.partition(": ")
            if kind == "value_error" and sep and head.replace(".", "").replace("_", "").isalnum():
                where = [*loc, head] if not head.startswith(("parameters", "moments")) else [head]
                part = rest
            line = f"{label}: {'.'.join(where) or '(top level)'}: {part}"
            if line not in lines:
                lines.append(line)
    return lines


def resolve_targets_path(name_or_path: str | Path) -> Path:
    """A targets file: an existing path, or a shipped one's name (``experiments/configs/NAME.targets.yaml``).

    Raises:
        ConfigError: neither exists.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    stem = path.name.removesuffix(".yaml").removesuffix(".targets")
    shipped = CONFIG_DIR / f"{stem}{TARGETS_SUFFIX}"
    if path.parent == Path(".") and shipped.is_file():
        return shipped
    known = sorted(p.name.removesuffix(TARGETS_SUFFIX) for p in CONFIG_DIR.glob(f"*{TARGETS_SUFFIX}"))
    raise ConfigError(
        [
            f"--targets {clip(str(name_or_path))}: no such file, and not a shipped targets file "
            f"(known: {', '.join(known)})"
        ]
    )


def load_targets(source: str | Path | Mapping[str, Any] | CalibrationTargets) -> CalibrationTargets:
    """Read and validate a targets file (or a mapping) into :class:`CalibrationTargets`.

    Args:
        source: a YAML file, a shipped targets name (``calibrate_baseline``), a mapping or targets.

    Returns:
        The validated targets.

    Raises:
        ConfigError: one line per problem, ``FILE: path.to.key: reason``.
    """
    if isinstance(source, CalibrationTargets):
        return source
    if isinstance(source, Mapping):
        data: Any = dict(source)
        label = "targets"
    else:
        path = resolve_targets_path(source)
        label = str(source)
        try:
            data = parse_yaml(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"{label}: cannot read the file ({type(exc).__name__}: {exc})"]) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError([f"{label}{where}: invalid YAML: {problem}"]) from None
        if not isinstance(data, dict):
            raise ConfigError(
                [f"{label}: the top level must be a mapping of keys (parameters, moments, ...)"]
            )
    try:
        return CalibrationTargets.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_targets_problems(exc, label)) from None


# --------------------------------------------------------------------------- the problem against a config


@dataclass(frozen=True)
class Moment:
    """One matched moment, resolved against the config."""

    name: str
    symbol: str
    target: float
    weight: float | None

    @property
    def column(self) -> str:
        """Its column in a run's row: ``fact_<SYMBOL>_<fact>``."""
        return f"fact_{self.symbol}_{self.name}"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.symbol})"


@dataclass(frozen=True)
class Problem:
    """A calibration resolved against its config: what :func:`fit` needs (see :func:`prepare_calibration`).

    Attributes:
        config: the base config.
        targets: the validated targets.
        keys: the fitted key paths, in order.
        low, high, start: the box and the start, in the keys' order.
        moments: the matched moments, in order.
        seeds: the runs' seeds (the same at every evaluation).
        hours: the length of every run.
    """

    config: ExperimentConfig
    targets: CalibrationTargets
    keys: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    start: np.ndarray
    moments: tuple[Moment, ...]
    seeds: tuple[int, ...]
    hours: float

    @property
    def columns(self) -> list[str]:
        return [m.column for m in self.moments]

    def to_unit(self, theta: Sequence[float] | np.ndarray) -> np.ndarray:
        return (np.asarray(theta, dtype=float) - self.low) / (self.high - self.low)

    def from_unit(self, u: Sequence[float] | np.ndarray) -> np.ndarray:
        return self.low + np.clip(np.asarray(u, dtype=float), 0.0, 1.0) * (self.high - self.low)

    def params(self, theta: Sequence[float] | np.ndarray) -> dict[str, float]:
        return {k: float(v) for k, v in zip(self.keys, theta, strict=True)}


def _lookup(data: Any, key: str) -> tuple[bool, Any, list[str]]:
    """(found, value, keys known at the level where the path stopped) of a dotted path in a mapping."""
    node = data
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False, None, list(node) if isinstance(node, dict) else []
    return True, node, []


def config_with(cfg: ExperimentConfig, values: Mapping[str, float]) -> ExperimentConfig:
    """The config with ``values`` set at their key paths (validated).

    Raises:
        ConfigError: the result does not validate (lines ``path.to.key: reason``).
    """
    data = cfg.model_dump(mode="json")
    for key, value in values.items():
        set_path(data, key, float(value))
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


def prepare_calibration(
    config: ExperimentConfig | Mapping[str, Any] | str | Path,
    targets: CalibrationTargets | Mapping[str, Any] | str | Path,
    overrides: Sequence[str] | None = None,
) -> Problem:
    """Check the targets against the config, before anything runs.

    Every parameter key must be a number of the config whose box (low, high, start) validates; every
    moment's symbol a symbol of the config; the config sampled at least once a minute; ``hours`` at most
    its duration.

    Raises:
        ConfigError: one line per problem, naming the key.
    """
    cfg = config_from(config, list(overrides or []))
    spec = load_targets(targets)
    problems: list[str] = []
    if cfg.sample_seconds > 60:
        problems.append(
            f"sample_seconds: the facts are measured on 1-minute samples; the config samples every "
            f"{cfg.sample_seconds:g} s (set sample_seconds <= 60)"
        )
    hours = spec.hours if spec.hours is not None else cfg.duration_hours
    if hours > cfg.duration_hours:
        problems.append(
            f"hours: {hours:g} is longer than the config's duration_hours ({cfg.duration_hours:g})"
        )
    tree = resolved_dict(cfg, study=False)
    starts: list[float] = []
    for i, p in enumerate(spec.parameters):
        found, value, known = _lookup(tree, p.key)
        if not found:
            close = difflib.get_close_matches(p.key.rsplit(".", 1)[-1], known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"parameters.{i}.key: {p.key} is not a key of the config{hint}")
            starts.append(math.nan)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            what = "a section" if isinstance(value, dict | list) else f"{clip(repr(value), 40)}"
            problems.append(f"parameters.{i}.key: {p.key} is not a number (it is {what})")
            starts.append(math.nan)
            continue
        start = p.start if p.start is not None else float(value)
        if p.start is None and not p.low <= start <= p.high:
            problems.append(
                f"parameters.{i}.start: not given, and the config's value {start:g} is outside "
                f"[low, high] = [{p.low:g}, {p.high:g}]"
            )
        starts.append(start)
        for which, v in (("low", p.low), ("high", p.high), ("start", start)):
            try:
                config_with(cfg, {p.key: v})
            except ConfigError as exc:
                if any("valid integer" in line for line in exc.problems):
                    problems.append(
                        f"parameters.{i}.key: {p.key} takes whole numbers only; SMM fits continuous "
                        "parameters"
                    )
                    break
                problems.extend(f"parameters.{i}.{which} = {v:g}: {line}" for line in exc.problems)
    names = [s.name for s in cfg.market.symbols]
    moments: list[Moment] = []
    seen: dict[tuple[str, str], int] = {}
    for j, m in enumerate(spec.moments):
        symbol = m.symbol if m.symbol is not None else names[0]
        if symbol not in names:
            problems.append(
                f"moments.{j}.symbol: {clip(symbol, 40)!r} is not a symbol of the config ({', '.join(names)})"
            )
        elif (m.name, symbol) in seen:
            problems.append(f"moments.{j}: {m.name} of {symbol} is already moments.{seen[(m.name, symbol)]}")
        seen.setdefault((m.name, symbol), j)
        moments.append(Moment(m.name, symbol, float(m.target), m.weight))
    if problems:
        raise ConfigError(problems)
    return Problem(
        config=cfg,
        targets=spec,
        keys=tuple(p.key for p in spec.parameters),
        low=np.array([p.low for p in spec.parameters], dtype=float),
        high=np.array([p.high for p in spec.parameters], dtype=float),
        start=np.array(starts, dtype=float),
        moments=tuple(moments),
        seeds=tuple(study_seeds(spec.seed, spec.seeds)),
        hours=float(hours),
    )


def calibration_hash(problem: Problem) -> str:
    """The hash of a calibration: the config (less name, description, figures, seed, origin), the resolved
    targets (less ``description`` and ``optimizer.max_evaluations``: raising it continues the same path)
    and the model's defaults version. 16 hex digits."""
    data = resolved_dict(problem.config, study=False)
    for key in ("name", "description", "figures", "seed", "origin"):
        data.pop(key, None)
    spec = problem.targets.model_dump(mode="json")
    spec.pop("description", None)
    spec["optimizer"].pop("max_evaluations", None)
    spec["hours"] = problem.hours
    spec["start"] = [float(v) for v in problem.start]
    spec["moments"] = [dataclasses.asdict(m) for m in problem.moments]
    payload = {"config": data, "targets": spec, "defaults_version": DEFAULTS_VERSION}
    text = json.dumps(jsonable(payload), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- simulation


Simulate = Callable[[Sequence[np.ndarray]], list[np.ndarray]]
"""Parameter vectors (in the problem's key order) -> per vector an (S, M) array: row s the moments of seed
s (NaN where a fact could not be measured). :class:`RunEvaluator` runs the market; tests plug in others."""


def run_facts(timeseries: pd.DataFrame) -> dict[str, float]:
    """``fact_<SYMBOL>_<fact>`` -> value for every symbol of a run's time series (NaN: not measurable)."""
    out: dict[str, float] = {}
    for name, g in timeseries.groupby("symbol", sort=False):
        for fact, value in symbol_facts(g.sort_values("time_s")).items():
            out[f"fact_{name}_{fact}"] = float(value)
    return out


def moments_row(task: RunTask) -> dict[str, Any]:
    """Worker: run one task and return its study row plus the facts of every symbol (never raises).

    Module-level, so that spawned worker processes and Dask workers import it; the study's executor
    (:func:`experiments.study._execute`) runs it in place of :func:`~experiments.study.execute_task`.

    Args:
        task: the run.

    Returns:
        The row of :func:`~experiments.study.execute_task` plus ``fact_<SYMBOL>_<fact>`` columns.
    """
    try:
        cfg = ExperimentConfig.model_validate(task.config)
        result = run(cfg, seed=task.seed, hours=task.hours, figures=False)
        facts = run_facts(result.timeseries)
    except Exception as exc:  # a failed run is data: the calibration reports it
        failed: dict[str, Any] = jsonable(_failed_row(task, exc, traceback.format_exc()))
        return failed
    row: dict[str, Any] = jsonable(
        {**_base_row(task), "status": "ok", "error": None, **flatten_summary(result.summary), **facts}
    )
    return row


@dataclass
class RunEvaluator:
    """Simulates parameter vectors on the market: every seed of every vector is one task on the executor.

    The tasks are a study's (:func:`experiments.study.expand_tasks` of the point, ``seeds`` seeds spawned
    from ``master_seed``): the same run ids, so the runs of a calibration are the runs of a sweep of the
    same config, point and master seed.

    Attributes:
        config: the base config.
        keys: the fitted key paths.
        columns: the moment columns (``fact_<SYMBOL>_<fact>``).
        seeds: runs per point.
        master_seed: the seeds' master seed.
        hours: the length of every run.
        runs_dir: where finished runs are kept (``runs/``; None: in memory only).
        workers: local worker processes (ignored with ``scheduler``).
        scheduler: a Dask scheduler address.
        recycle_after: runs per local worker before it is replaced.
        runs_done: runs simulated so far by this evaluator (not found in ``runs_dir``).
    """

    config: ExperimentConfig
    keys: Sequence[str]
    columns: Sequence[str]
    seeds: int
    master_seed: int
    hours: float | None
    runs_dir: Path | None = None
    workers: int = 1
    scheduler: str | None = None
    recycle_after: int | None = DEFAULT_RECYCLE
    runs_done: int = 0

    def tasks(self, points: Sequence[np.ndarray]) -> list[list[RunTask]]:
        """The tasks of each point, in seed order.

        Raises:
            ConfigError: a point's config does not validate.
        """
        out: list[list[RunTask]] = []
        for j, theta in enumerate(points):
            grid = {k: [float(v)] for k, v in zip(self.keys, theta, strict=True)}
            tasks = expand_tasks(self.config, grid, self.seeds, self.master_seed, self.hours)
            out.append([dataclasses.replace(t, point=j) for t in tasks])
        return out

    def __call__(self, points: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per point an (S, M) array of the seeds' moments; finished runs in ``runs_dir`` are not rerun.

        Raises:
            CalibrationError: some runs failed (nothing is recorded for them).
        """
        by_point = self.tasks(points)
        flat = [t for ts in by_point for t in ts]
        rows: dict[str, dict[str, Any]] = {}
        if self.runs_dir is not None:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            recover_run_files(self.runs_dir)
            found = read_rows(self.runs_dir, {t.run_id for t in flat}, set_aside=True)
            rows = {k: v for k, v in found.items() if v.get("status") == "ok"}
        pending = list({t.run_id: t for t in flat if t.run_id not in rows}.values())
        failed: list[dict[str, Any]] = []

        def record(row: dict[str, Any]) -> None:
            row = json.loads(json.dumps(row, allow_nan=False))  # the same values whether read back or not
            if row.get("status") != "ok":
                failed.append(row)
                return
            rows[str(row["run_id"])] = row
            self.runs_done += 1
            if self.runs_dir is not None:
                text = json.dumps(row, indent=1) + "\n"
                with deferred_interrupts():
                    _atomic_write_text(self.runs_dir / f"{row['run_id']}.json", text)

        if pending:
            _execute(
                pending, self.workers, self.scheduler, self.recycle_after, record, None, worker=moments_row
            )
        if failed:
            errors = sorted({str(r.get("error")) for r in failed})
            raise CalibrationError(
                f"{len(failed)} run(s) of {len(points)} evaluation point(s) failed: " + "; ".join(errors[:3])
            )
        return [
            np.array(
                [[_number(rows[t.run_id].get(c)) for c in self.columns] for t in ts], dtype=float
            ).reshape(len(ts), len(self.columns))
            for ts in by_point
        ]


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


# --------------------------------------------------------------------------- the journal of evaluations


@dataclass
class Journal:
    """The finished evaluations: parameter vector -> per-seed moments; appended to ``evaluations.jsonl``.

    Attributes:
        path: the journal file (None: in memory only).
        entries: (parameter values) -> (S, M) array.
    """

    path: Path | None = None
    entries: dict[tuple[float, ...], np.ndarray] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path | None, problem: Problem) -> Journal:
        """Read a journal back (a partial last line, from a writer killed mid-line, is dropped)."""
        journal = cls(path)
        if path is None or not path.is_file():
            return journal
        good: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                theta = tuple(float(entry["parameters"][k]) for k in problem.keys)
                values = np.array(
                    [[_number(v) for v in entry["moments"][c]] for c in problem.columns], dtype=float
                ).T
            except (ValueError, KeyError, TypeError):
                continue
            if values.shape != (len(problem.seeds), len(problem.columns)):
                continue
            journal.entries[theta] = np.ascontiguousarray(values)
            good.append(line)
        text = "".join(f"{g}\n" for g in good)
        if text != path.read_text(encoding="utf-8"):
            _atomic_write_text(path, text)  # drop what could not be read: appends start on a clean line
        return journal

    def get(self, theta: np.ndarray) -> np.ndarray | None:
        return self.entries.get(tuple(float(v) for v in theta))

    def add(self, problem: Problem, theta: np.ndarray, values: np.ndarray, kind: str) -> None:
        key = tuple(float(v) for v in theta)
        # one memory layout, whether simulated now or read back: numpy's sums depend on it in the last bits
        values = np.ascontiguousarray(values, dtype=float)
        self.entries[key] = values
        if self.path is None:
            return
        entry = {
            "evaluation": len(self.entries),
            "kind": kind,
            "parameters": problem.params(theta),
            "moments": {c: jsonable(values[:, j]) for j, c in enumerate(problem.columns)},
        }
        line = json.dumps(entry, allow_nan=False, separators=(",", ":")) + "\n"
        with deferred_interrupts(), open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())


# --------------------------------------------------------------------------- the fit


def smm_covariance(jacobian: np.ndarray, weights: np.ndarray, omega: np.ndarray, seeds: int) -> np.ndarray:
    """The SMM sandwich: ``(1 + 1/S) (D'WD)^-1 D'W Omega W D (D'WD)^-1``.

    Args:
        jacobian: ``D``, (M, K): d mean moment / d parameter.
        weights: ``w``, (M,): the diagonal of ``W`` (or an (M, M) weight matrix).
        omega: (M, M) covariance of one seed's moment vector.
        seeds: ``S``, the seeds averaged at every evaluation.

    Returns:
        (K, K) covariance of the estimate; NaN where ``D'WD`` is singular (parameters not identified).
    """
    d = np.atleast_2d(np.asarray(jacobian, dtype=float))
    w = np.asarray(weights, dtype=float)
    wm = np.diag(w) if w.ndim == 1 else w
    bread = d.T @ wm @ d
    k = bread.shape[0]
    if not np.all(np.isfinite(bread)) or np.linalg.matrix_rank(bread) < k:
        return np.full((k, k), math.nan)
    inv = np.linalg.inv(bread)
    meat = d.T @ wm @ np.asarray(omega, dtype=float) @ wm @ d
    return (1.0 + 1.0 / seeds) * inv @ meat @ inv


class _Budget(Exception):
    """The optimiser asked for more than ``max_evaluations`` evaluations."""


@dataclass
class CalibrationResult:
    """What a calibration found (also written as ``calibration.json``).

    Attributes:
        keys: the fitted key paths.
        estimate: key -> fitted value (the evaluated point of lowest objective).
        standard_errors: key -> SMM standard error (NaN: not identified).
        covariance: (K, K) SMM covariance of the estimate.
        objective: J at the estimate; ``start_objective`` J at the start.
        moments: per moment: name, symbol, target, simulated (mean), its standard error over the seeds,
            weight, weight source, weighted contribution and share of J.
        path: one row per objective evaluation: evaluation, the parameters, objective, best so far.
        converged: whether the optimiser met its tolerance (False: stopped at max_evaluations).
        message: the optimiser's message.
        jacobian: (M, K) at the estimate; ``omega`` (M, M) the per-seed moment covariance there.
        out: the calibration directory (None: in memory).
        runs_simulated: runs simulated by this call (0 when everything came from the directory).
    """

    keys: list[str]
    estimate: dict[str, float]
    standard_errors: dict[str, float]
    covariance: np.ndarray
    objective: float
    start_objective: float
    moments: list[dict[str, Any]]
    path: pd.DataFrame
    converged: bool
    message: str
    jacobian: np.ndarray
    omega: np.ndarray
    start: dict[str, float]
    bounds: dict[str, tuple[float, float]]
    method: str
    seeds: int
    hours: float
    calibration_hash: str
    out: Path | None = None
    runs_simulated: int = 0

    def to_json_dict(self) -> dict[str, Any]:
        """The result as ``calibration.json`` holds it (deterministic: no wall times, no session counts)."""
        sd = np.sqrt(np.clip(np.diag(self.covariance), 0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = self.covariance / np.outer(sd, sd)
        return jsonable(
            {
                "calibration_hash": self.calibration_hash,
                "method": self.method,
                "seeds": self.seeds,
                "hours": self.hours,
                "converged": self.converged,
                "message": self.message,
                "evaluations": len(self.path),
                "objective": self.objective,
                "start_objective": self.start_objective,
                "parameters": [
                    {
                        "key": k,
                        "estimate": self.estimate[k],
                        "standard_error": self.standard_errors[k],
                        "start": self.start[k],
                        "low": self.bounds[k][0],
                        "high": self.bounds[k][1],
                    }
                    for k in self.keys
                ],
                "moments": self.moments,
                "covariance": self.covariance,
                "correlation": corr,
                "jacobian": self.jacobian,
                "moment_covariance": self.omega,
                "standard_error_method": METHOD_TEXT,
            }
        )


def _mean(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: NaN, handled by the caller
        return np.asarray(np.nanmean(values, axis=0), dtype=float)


def fit(
    problem: Problem,
    simulate: Simulate,
    journal: Journal | None = None,
    *,
    progress: bool = False,
    digest: str = "",
) -> CalibrationResult:
    """Minimise the SMM objective from the start point, then compute the standard errors.

    Every evaluation is looked up in ``journal`` first and simulated only when missing (then appended),
    so a repeated or resumed calibration replays its path without simulating.

    Args:
        problem: the calibration (:func:`prepare_calibration`).
        simulate: parameter vectors -> per-seed moments (:class:`RunEvaluator`, or a surrogate).
        journal: the finished evaluations (None: a fresh in-memory one).
        progress: a progress bar of evaluations on stderr.
        digest: the calibration's hash (recorded in the result).

    Returns:
        The :class:`CalibrationResult`.

    Raises:
        ConfigError: a moment cannot be measured at the start point, or has no variance there and no weight.
        CalibrationError: runs failed.
        KeyboardInterrupt: interrupted (the finished evaluations are in the journal).
    """
    journal = journal if journal is not None else Journal()
    spec = problem.targets
    opts = spec.optimizer
    k = len(problem.keys)
    targets = np.array([m.target for m in problem.moments], dtype=float)

    def evaluate(points: Sequence[np.ndarray], kind: str) -> list[np.ndarray]:
        missing: list[np.ndarray] = []
        for theta in points:
            if journal.get(theta) is None and not any(np.array_equal(theta, m) for m in missing):
                missing.append(theta)
        if missing:
            for theta, values in zip(missing, simulate(missing), strict=True):
                journal.add(problem, theta, np.asarray(values, dtype=float), kind)
        out = []
        for theta in points:
            got = journal.get(theta)
            assert got is not None
            out.append(got)
        return out

    # the start as the optimiser will ask for it (through the unit box: equal to ``start`` but for the last
    # bit), so that its first evaluation is this one
    start_values = evaluate([problem.from_unit(problem.to_unit(problem.start))], "path")[0]
    weights = np.empty(len(problem.moments))
    sources: list[str] = []
    problems: list[str] = []
    for j, m in enumerate(problem.moments):
        column = start_values[:, j]
        if not np.all(np.isfinite(column)):
            problems.append(
                f"moments.{j}: {m.label} cannot be measured on {int((~np.isfinite(column)).sum())} of "
                f"{len(column)} run(s) of {problem.hours:g} h at the start point (lengthen hours, or drop it)"
            )
            continue
        if m.weight is not None:
            weights[j] = m.weight
            sources.append("given")
            continue
        var = float(np.var(column, ddof=1))
        if not var > 0:
            problems.append(
                f"moments.{j}: {m.label} has no variance across the seeds at the start point; "
                "give it a weight"
            )
            continue
        weights[j] = 1.0 / var
        sources.append("1/variance at start")
    if problems:
        raise ConfigError(problems)

    path_rows: list[dict[str, Any]] = []
    bar = (
        tqdm(total=opts.max_evaluations, unit="eval", desc="calibrate", dynamic_ncols=True)
        if progress
        else None
    )

    def objective_of(values: np.ndarray) -> float:
        gap = _mean(values) - targets
        if not np.all(np.isfinite(gap)):
            return UNMEASURABLE_OBJECTIVE
        return float(np.sum(weights * gap * gap))

    def objective(u: np.ndarray) -> float:
        if len(path_rows) >= opts.max_evaluations:
            raise _Budget
        theta = problem.from_unit(u)
        value = objective_of(evaluate([theta], "path")[0])
        best = min([value, *(r["objective"] for r in path_rows)])
        path_rows.append(
            {"evaluation": len(path_rows) + 1, **problem.params(theta), "objective": value, "best": best}
        )
        if bar is not None:
            bar.update(1)
            bar.set_postfix(best=f"{best:.4g}", refresh=False)
        return value

    u0 = problem.to_unit(problem.start)
    step = opts.initial_step
    converged = False
    try:
        if opts.method == "Nelder-Mead":
            simplex = [u0]
            for i in range(k):
                vertex = u0.copy()
                vertex[i] = u0[i] + step if u0[i] + step <= 1.0 else u0[i] - step
                simplex.append(vertex)
            # the first K + 1 evaluations are known in advance: run them as one batch (one pool, K+1 x S
            # runs in parallel); the optimiser then finds them in the journal
            evaluate([problem.from_unit(v) for v in simplex[: opts.max_evaluations]], "path")
            res = optimize.minimize(
                objective,
                u0,
                method="Nelder-Mead",
                bounds=[(0.0, 1.0)] * k,
                options={
                    # the simplex's size alone decides: with common random numbers the objective is
                    # deterministic but rough at small scales, where its values stop meaning anything
                    "xatol": opts.tolerance,
                    "fatol": math.inf,
                    "maxfev": opts.max_evaluations,
                    "maxiter": 10 * opts.max_evaluations,
                    "initial_simplex": np.array(simplex),
                },
            )
        else:
            res = optimize.minimize(
                objective,
                u0,
                method="Powell",
                bounds=[(0.0, 1.0)] * k,
                options={
                    "xtol": opts.tolerance,
                    "ftol": opts.tolerance,
                    "maxfev": opts.max_evaluations,
                    "direc": step * np.eye(k),
                },
            )
        converged = bool(res.success)
        message = str(res.message)
    except _Budget:
        message = f"stopped at max_evaluations ({opts.max_evaluations}) before the tolerance was met"
    finally:
        if bar is not None:
            bar.close()
    if not converged and len(path_rows) >= opts.max_evaluations:
        message = f"stopped at max_evaluations ({opts.max_evaluations}) before the tolerance was met"
    elif not converged:
        message = f"{message} (stopped before the tolerance was met)"

    path = pd.DataFrame(path_rows, columns=["evaluation", *problem.keys, "objective", "best"])
    best_row = int(np.argmin(path["objective"].to_numpy()))
    theta_hat = path.loc[best_row, list(problem.keys)].to_numpy(dtype=float)
    at_hat = evaluate([theta_hat], "path")[0]

    # standard errors: central differences of the mean moments in the unit box, one batch of 2K points
    u_hat = problem.to_unit(theta_hat)
    plus, minus = [], []
    for i in range(k):
        up, dn = u_hat.copy(), u_hat.copy()
        up[i] = min(1.0, u_hat[i] + spec.jacobian_step)
        dn[i] = max(0.0, u_hat[i] - spec.jacobian_step)
        plus.append(problem.from_unit(up))
        minus.append(problem.from_unit(dn))
    sides = evaluate([*plus, *minus], "jacobian")
    jac = np.empty((len(problem.moments), k))
    for i in range(k):
        jac[:, i] = (_mean(sides[i]) - _mean(sides[k + i])) / (plus[i][i] - minus[i][i])
    finite_rows = at_hat[np.all(np.isfinite(at_hat), axis=1)]
    omega = (
        np.atleast_2d(np.cov(finite_rows, rowvar=False, ddof=1))
        if len(finite_rows) >= 2
        else np.full((len(problem.moments),) * 2, math.nan)
    )
    cov = smm_covariance(jac, weights, omega, len(problem.seeds))
    se = np.sqrt(np.where(np.diag(cov) >= 0, np.diag(cov), math.nan))

    mean_hat = _mean(at_hat)
    j_hat = float(path["objective"].to_numpy()[best_row])
    moments_out = []
    for j, m in enumerate(problem.moments):
        gap = mean_hat[j] - m.target
        contribution = float(weights[j] * gap * gap)
        n_ok = int(np.isfinite(at_hat[:, j]).sum())
        moments_out.append(
            {
                "name": m.name,
                "symbol": m.symbol,
                "target": m.target,
                "simulated": float(mean_hat[j]),
                "simulated_se": float(np.nanstd(at_hat[:, j], ddof=1) / math.sqrt(n_ok))
                if n_ok > 1
                else None,
                "weight": float(weights[j]),
                "weight_source": sources[j],
                "contribution": contribution,
                "share": contribution / j_hat if j_hat > 0 else None,
            }
        )
    return CalibrationResult(
        keys=list(problem.keys),
        estimate=problem.params(theta_hat),
        standard_errors={key: float(v) for key, v in zip(problem.keys, se, strict=True)},
        covariance=cov,
        objective=j_hat,
        start_objective=float(path["objective"].to_numpy()[0]),
        moments=moments_out,
        path=path,
        converged=converged,
        message=message,
        jacobian=jac,
        omega=omega,
        start=problem.params(problem.start),
        bounds={
            key: (float(lo), float(hi))
            for key, lo, hi in zip(problem.keys, problem.low, problem.high, strict=True)
        },
        method=opts.method,
        seeds=len(problem.seeds),
        hours=problem.hours,
        calibration_hash=digest,
    )


# --------------------------------------------------------------------------- the calibration directory


def stored_calibration_hash(path: Path) -> str | None:
    """The hash a calibration directory was written with (None: no readable ``calibration_inputs.yaml``)."""
    try:
        first = (path / INPUTS_FILE).read_text(encoding="utf-8").split("\n", 1)[0]
    except (OSError, UnicodeDecodeError):
        return None
    return first[len(HASH_LINE) :].strip() if first.startswith(HASH_LINE) else None


def check_calibration_dir(out: str | Path, *, expected_hash: str, overwrite: bool = False) -> Path:
    """Check that ``out`` can hold this calibration: absent, empty, or a calibration of the same inputs.

    Raises:
        ConfigError: a file, a non-empty directory that is not a calibration directory, or a calibration of
            other inputs (config or targets) when ``overwrite`` is false.
    """
    path = Path(out)
    if path.exists():
        if not path.is_dir():
            raise ConfigError([f"{path}: exists and is not a directory"])
        ours = (path / INPUTS_FILE).exists()
        if any(path.iterdir()) and not ours:
            raise ConfigError(
                [f"{path}: exists, is not empty and is not a calibration directory; choose another --out"]
            )
        if ours and not overwrite and stored_calibration_hash(path) != expected_hash:
            raise ConfigError(
                [
                    f"{path}: holds a calibration of other inputs (config or targets), not this one; pass "
                    "--overwrite to replace it, or choose another --out (the same calibration resumes)"
                ]
            )
    return path


def _clear_calibration(path: Path) -> None:
    """Remove a previous calibration's own files (``overwrite``); anything else in the directory is kept."""
    for name in CALIBRATION_FILES:
        (path / name).unlink(missing_ok=True)
    for pattern in ("runs/*.json", "runs/.*.tmp-*", "runs/*.json.damaged", ".*.tmp-*"):
        for f in path.glob(pattern):
            f.unlink(missing_ok=True)


def _write_inputs(out: Path, problem: Problem, digest: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "config": resolved_dict(problem.config),
        "targets": problem.targets.model_dump(mode="json"),
        "resolved": {
            "hours": problem.hours,
            "start": problem.params(problem.start),
            "seeds": list(problem.seeds),
            "moments": [dataclasses.asdict(m) for m in problem.moments],
        },
    }
    _atomic_write_text(out / INPUTS_FILE, f"{HASH_LINE}{digest}\n" + dump_yaml(jsonable(data)))


def calibrated_config(problem: Problem, result: CalibrationResult) -> ExperimentConfig:
    """The input config with the fitted values set (``origin.overrides`` records them, as ``--set`` would)."""
    cfg = config_with(problem.config, result.estimate)
    origin = cfg.origin.model_copy(
        update={"overrides": [*cfg.origin.overrides, *(f"{k}={v!r}" for k, v in result.estimate.items())]}
    )
    return ExperimentConfig.model_validate({**cfg.model_dump(mode="json"), "origin": origin.model_dump()})


def _g(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    f = float(value)
    return "—" if not math.isfinite(f) else f"{f:.{digits}g}"


def fit_report(problem: Problem, result: CalibrationResult, *, targets_source: str = "") -> str:
    """``fit_report.md``: the fitted parameters with SEs, the distance per moment, the optimiser's path."""
    cfg = problem.config
    spec = problem.targets
    lines = [f"# Calibration of {cfg.name}: simulated method of moments", ""]
    if spec.description.strip():
        lines += [" ".join(spec.description.split()), ""]
    source = cfg.origin.source or cfg.name
    lines += [
        f"- config: {source}"
        + (f" (overrides: {', '.join(cfg.origin.overrides)})" if cfg.origin.overrides else ""),
        f"- targets: {targets_source or 'given as a mapping'}; calibration hash {result.calibration_hash}",
        f"- {result.seeds} seeds per evaluation (common random numbers: SeedSequence({spec.seed}).spawn"
        f"({result.seeds}), the same at every evaluation), runs of {result.hours:g} h",
        f"- optimiser: {result.method} in the unit box, {len(result.path)} evaluation(s) of at most "
        f"{spec.optimizer.max_evaluations}, tolerance {spec.optimizer.tolerance:g}: {result.message}",
        f"- objective J: {_g(result.start_objective)} at the start, {_g(result.objective)} at the estimate",
        "",
        "## Calibrated parameters",
        "",
        "| parameter | start | estimate | SMM s.e. | s.e. / estimate | low | high |",
        "|---|---|---|---|---|---|---|",
    ]
    for k in result.keys:
        est, se = result.estimate[k], result.standard_errors[k]
        rel = se / abs(est) if est and math.isfinite(se) else math.nan
        lo, hi = result.bounds[k]
        lines.append(
            f"| {k} | {_g(result.start[k])} | {_g(est, 6)} | {_g(se)} | {_g(rel, 2)} | {_g(lo)} | {_g(hi)} |"
        )
    lines += [
        "",
        "## Distance per moment (at the estimate)",
        "",
        "| moment | target | simulated (mean) | s.e. of the mean | weight | weight from "
        "| weighted contribution | share of J |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in result.moments:
        lines.append(
            f"| {m['name']} ({m['symbol']}) | {_g(m['target'])} | {_g(m['simulated'])} "
            f"| {_g(m['simulated_se'])} | {_g(m['weight'])} | {m['weight_source']} "
            f"| {_g(m['contribution'])} | {_g(m['share'], 2)} |"
        )
    lines += [
        "",
        "## The optimiser's path",
        "",
        "| evaluation | " + " | ".join(result.keys) + " | objective | best |",
    ]
    lines.append("|---|" + "---|" * (len(result.keys) + 2))
    for row in result.path.to_dict("records"):
        cells = [_g(row[k], 6) for k in result.keys]
        lines.append(
            f"| {row['evaluation']} | "
            + " | ".join(cells)
            + f" | {_g(row['objective'])} | {_g(row['best'])} |"
        )
    lines += [
        "",
        "## What is computed",
        "",
        METHOD_TEXT,
        "",
        f"The Jacobian's step is {spec.jacobian_step:g} of each parameter's range "
        f"({2 * len(result.keys)} more evaluations, not on the path). Files: `path.csv` (the path), "
        "`calibration.json` (everything here "
        "and the Jacobian, the moment covariance and the estimate's covariance), `calibrated.yaml` (the "
        "config with the estimate set: `cascadelab run calibrated.yaml`), `evaluations.jsonl` (every "
        "evaluation's per-seed moments; a re-run of the same command reuses them).",
        "",
    ]
    return "\n".join(lines)


def write_outputs(
    out: Path, problem: Problem, result: CalibrationResult, *, targets_source: str = ""
) -> None:
    """Write ``path.csv``, ``calibration.json``, ``calibrated.yaml`` and ``fit_report.md`` into ``out``."""
    _atomic_write_text(out / "path.csv", result.path.to_csv(index=False))
    data = result.to_json_dict()
    _atomic_write_text(out / "calibration.json", json.dumps(data, indent=2, allow_nan=False) + "\n")
    cfg = calibrated_config(problem, result)
    head = [f"# Calibrated by cascadelab calibrate (SMM, hash {result.calibration_hash}):"]
    head += [f"#   {k} = {result.estimate[k]!r} (s.e. {_g(result.standard_errors[k])})" for k in result.keys]
    _atomic_write_text(out / "calibrated.yaml", "\n".join(head) + "\n" + dump_yaml(resolved_dict(cfg)))
    _atomic_write_text(out / "fit_report.md", fit_report(problem, result, targets_source=targets_source))


def calibrate(
    config: ExperimentConfig | Mapping[str, Any] | str | Path,
    targets: CalibrationTargets | Mapping[str, Any] | str | Path,
    out: str | Path | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    overrides: list[str] | None = None,
    progress: bool = False,
    recycle_after: int | None = DEFAULT_RECYCLE,
    simulate: Simulate | None = None,
) -> CalibrationResult:
    """Fit the targets' parameters to their moments by SMM (see the module's docstring).

    A calibration directory of the same inputs is resumed: its finished evaluations (``evaluations.jsonl``)
    and runs (``runs/``) are reused, and the optimiser replays its path from them. One of other inputs is
    refused unless ``overwrite`` (then its own files are replaced; other files are kept).

    Args:
        config: the base config (object, mapping, YAML path or scenario name).
        targets: the targets (object, mapping, YAML path or shipped targets name).
        out: the calibration directory (None: nothing is written, nothing resumes).
        workers: local worker processes (default: the machine's cores); ignored with ``scheduler``.
        scheduler: a Dask scheduler address (``tcp://HOST:PORT``): run on that cluster instead.
        overwrite: replace a calibration of other inputs in ``out``.
        overrides: ``key.path=value`` items applied to the config first.
        progress: show a progress bar of evaluations on stderr.
        recycle_after: runs per local worker before it is replaced.
        simulate: evaluate points with this function instead of running the market (a surrogate).

    Returns:
        The :class:`CalibrationResult` (``out`` also holds its files).

    Raises:
        ConfigError: invalid input, or ``out`` holds another calibration (before anything runs).
        CalibrationError: runs failed.
        KeyboardInterrupt: interrupted; the finished evaluations and runs are kept in ``out``.
    """
    if simulate is None and scheduler is None:
        _refuse_worker_bootstrap()
        _unguarded_note(os.getpid()).unlink(missing_ok=True)
    problem = prepare_calibration(config, targets, overrides)
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    if scheduler is None and (isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1):
        raise ConfigError([f"--workers: must be a positive integer (got {n_workers!r})"])
    digest = calibration_hash(problem)
    out_dir = None
    if out is not None:
        out_dir = check_calibration_dir(out, expected_hash=digest, overwrite=overwrite)
        if overwrite and (out_dir / INPUTS_FILE).exists() and stored_calibration_hash(out_dir) != digest:
            _clear_calibration(out_dir)
        _write_inputs(out_dir, problem, digest)
    evaluator = None
    if simulate is None:
        evaluator = RunEvaluator(
            problem.config,
            problem.keys,
            problem.columns,
            len(problem.seeds),
            problem.targets.seed,
            problem.hours,
            runs_dir=out_dir / "runs" if out_dir is not None else None,
            workers=n_workers,
            scheduler=scheduler,
            recycle_after=recycle_after,
        )
        simulate = evaluator
    journal = Journal.open(out_dir / JOURNAL_FILE if out_dir is not None else None, problem)
    result = fit(problem, simulate, journal, progress=progress, digest=digest)
    result.out = out_dir
    result.runs_simulated = evaluator.runs_done if evaluator is not None else 0
    if out_dir is not None:
        source = targets if isinstance(targets, str | Path) else ""
        write_outputs(out_dir, problem, result, targets_source=str(source))
    return result


class _CallableModule(types.ModuleType):
    """``experiments.calibrate`` names both this module and its function: calling the module calls
    :func:`calibrate` (the import system sets the package's attribute to the module once it is imported)."""

    def __call__(self, *args: Any, **kwargs: Any) -> CalibrationResult:
        return calibrate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
