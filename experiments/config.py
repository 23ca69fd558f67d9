"""Experiment configs: the market parameters of ``model/params.py`` plus run and study settings.

An experiment is one YAML mapping validated by :class:`ExperimentConfig` (``extra="forbid"`` at every level):

.. code-block:: yaml

    name: whale_dump
    seed: 7
    duration_hours: 6
    dt_seconds: 1
    market:                 # model.params.MarketParams
      large_holders: {count: 3, inventory_usd: 50_000_000}
      shocks:
        - {kind: whale_sale, at_hour: 1.0, fraction: 0.8}
    study:                  # only used by ``cascadelab sweep``
      seeds: 100
      grid: {market.leveraged.leverage_cap: [5, 10, 25, 50]}

``--set a.b.c=value`` overrides any key (list items by index: ``market.symbols.0.price_usd=50000``) and
is validated the same way. Every problem is reported as one line ``path.to.key: reason`` in a
:class:`ConfigError`, before anything runs.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import platform
import re
import subprocess
import types
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from experiments.summary import SYMBOL_METRICS
from model.metrics import CASCADE_DROP, CASCADE_LIQ_SHARE, CASCADE_WINDOW_S, CascadeDefinition
from model.params import DEFAULTS_VERSION, SHOCK_CLASSES, MarketParams, StrictModel

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
"""Directory of the shipped scenarios (``experiments/configs/*.yaml``)."""

TARGETS_SUFFIX = ".targets.yaml"
"""Files in :data:`CONFIG_DIR` ending so are calibration targets (``cascadelab calibrate``), not scenarios."""

MAX_SEED = 2**63
"""Seeds must be below this so that they fit Parquet's int64."""


NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""What an experiment's ``name`` may be: safe as one path component (no '/', no leading '.')."""

MIN_DT_SECONDS = 0.01
"""Shortest step, simulated seconds."""

MAX_STEPS = 50_000_000
"""Most steps one run may take (duration_hours x 3600 / dt_seconds): a leap year at 1 s is 31.6M."""

MAX_SAMPLES = 2_000_000
"""Most time-series samples one run may hold per symbol (duration_hours x 3600 / sample_seconds)."""

MAX_YAML_DEPTH = 32
"""Deepest nesting of mappings and lists a config (file, ``--set`` or grid value) may have."""

MAX_YAML_NODES = 200_000
"""Most YAML nodes a document may expand to, aliases counted at their full size (alias bombs)."""

ECHO_LIMIT = 200
"""Most characters of a user's value that an error message repeats."""


def _whole_multiple(value: float, step: float) -> bool:
    ratio = value / step
    return abs(ratio - round(ratio)) <= 1e-9 * max(1.0, ratio)


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """Shorten ``text`` to at most ``limit`` characters (ending in ``...`` when cut).

    Args:
        text: the text to echo in an error message.
        limit: the most characters kept.

    Returns:
        The text, cut if needed.
    """
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ConfigError(Exception):
    """Invalid experiment input: one line per problem, each ``path.to.key: reason``.

    Attributes:
        problems: the problem lines, in the order found.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: list[str] = [clip(p, 2000) for p in problems] or ["invalid configuration"]
        super().__init__("\n".join(self.problems))


# --------------------------------------------------------------------------- schema
# The market's own rules (tiers against leverage caps, symbols named by shocks, ...) live once, in
# model.params; this schema only adds the run and study settings and the rules that tie them to the market.


ABLATION_METRICS = (
    "alt_mean_drawdown_pct",
    "alt_max_drawdown_pct",
    "leader_max_drawdown_pct",
    "leader_return_pct",
    "liquidated_usd",
    "liquidations_long_usd",
    "liquidations_short_usd",
    "cascade_count",
    "bad_debt_usd",
    "adl_notional_usd",
    "insurance_fund_drawdown_pct",
)
"""Run-level columns of ``results.parquet`` an ablation can compare (``<SYMBOL>_<metric>`` of
:data:`experiments.summary.SYMBOL_METRICS` too)."""


class AblationParams(StrictModel):
    """An ablation study: each grid point against a reference point, paired seed by seed.

    The grid lists the variants (typically one key, a whole block such as ``market.contagion``, with one
    mechanism switched off per value); the study report ranks the variants by their effect on ``metric``
    with 95% intervals over the paired seeds (:func:`experiments.stats.ablation_table`) and draws it.
    """

    metric: str = Field(
        "alt_mean_drawdown_pct",
        description="the results.parquet column compared: one of ABLATION_METRICS or <SYMBOL>_<metric> "
        "(e.g. ETH_max_drawdown_pct); percent or USD as the column is",
    )
    reference: Annotated[int, Field(ge=0)] = Field(
        0, description="index of the grid point the others are compared with (every mechanism on)"
    )


class StudyParams(StrictModel):
    """Monte Carlo study settings, used by ``cascadelab sweep`` (ignored by a single run)."""

    seeds: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=10,
        description="runs per grid point; their seeds come from SeedSequence(master_seed).spawn(seeds)",
    )
    master_seed: Annotated[int, Field(ge=0, lt=MAX_SEED)] = Field(
        default=0,
        description="master seed of the study's SeedSequence (the same seeds are used at every grid point)",
    )
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(
        default_factory=dict,
        description="dotted key path -> values to sweep, e.g. {market.leveraged.leverage_cap: [5, 25, 100]}; "
        "several keys make a Cartesian product",
    )
    thresholds: Annotated[list[Annotated[float, Field(gt=0, le=1)]], Field(min_length=1)] = Field(
        default_factory=lambda: [0.05, 0.1, 0.2],
        description="leader (BTC) drawdown thresholds, fractions, for the fragility table",
    )
    ablation: AblationParams | None = Field(
        None,
        description="compare every grid point with a reference point, seed by seed (the report's "
        "ablation ranking); None: no ablation section",
    )

    @field_validator("grid")
    @classmethod
    def _grid_keys(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key in grid:
            if not re.fullmatch(r"[A-Za-z_]\w*(\.\w+)*", key):
                raise ValueError(
                    f"grid key {key!r} is not a dotted key path like market.leveraged.leverage_cap"
                )
            if key.split(".")[0] in {"study", "seed", "name", "description", "origin"}:
                raise ValueError(f"grid key {key!r}: only market and run settings can be swept")
        return grid


class CascadeParams(StrictModel):
    """What counts as a liquidation cascade in a run's summary and report (a ``CascadeDefinition``).

    A window of at most ``window_s`` seconds of one symbol is a cascade of longs when the price at its end
    is at least ``min_drop`` below the window's high and the longs liquidated in it reach both
    ``min_liq_share_of_oi`` of the open interest at the window's start and ``min_liquidated_usd``; shorts
    mirror it. These thresholds only classify the run's events: they do not change the run itself.
    """

    min_drop: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=CASCADE_DROP,
        description="price move against the liquidated side within the window, a fraction (0.03 = 3%)",
    )
    window_s: Annotated[float, Field(gt=0, le=366 * 86_400)] = Field(
        default=CASCADE_WINDOW_S, description="longest window, simulated seconds (900 = 15 minutes)"
    )
    min_liq_share_of_oi: Annotated[float, Field(ge=0, le=1)] = Field(
        default=CASCADE_LIQ_SHARE,
        description="notional of that side liquidated in the window over the symbol's open interest at "
        "the window's start, a fraction (0.01 = 1%)",
    )
    min_liquidated_usd: Annotated[float, Field(ge=0, le=1e15)] = Field(
        default=0.0, description="absolute floor on that liquidated notional, USD (0: none)"
    )

    def definition(self) -> CascadeDefinition:
        """The thresholds as the model's :class:`~model.metrics.CascadeDefinition`.

        Returns:
            The definition ``model.metrics.summarize`` takes.
        """
        return CascadeDefinition(
            min_drop=self.min_drop,
            window_s=self.window_s,
            min_liq_share_of_oi=self.min_liq_share_of_oi,
            min_liquidated_usd=self.min_liquidated_usd,
        )


class RunOrigin(StrictModel):
    """Where a run's config came from; written into the run directory's ``config.yaml``.

    A record, filled in by ``load_config`` and the runner: the ``--set`` items it lists are already
    applied to the values of the config (they are not applied again when it is re-run).
    """

    source: str = Field(
        default="", description="the scenario name or YAML file the config was first loaded from"
    )
    overrides: list[Annotated[str, Field(max_length=4000)]] = Field(
        default_factory=list, description="the --set items applied to it, in order (already applied)"
    )
    duration_hours: Annotated[float, Field(gt=0, le=24 * 366)] | None = Field(
        default=None,
        description="the duration of the config before --hours cut the run short (None: not cut); "
        "summary.json reports it as duration_hours, and shocks scheduled between the end of the run and "
        "it are listed as not reached",
    )


class ExperimentConfig(StrictModel):
    """One experiment: run settings at the top level, the market under ``market``, the study in ``study``."""

    name: str = Field(
        default="experiment",
        pattern=NAME_PATTERN,
        description="name of the experiment (used in reports and in the default run directory "
        "runs/<name>-seed<N>): 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit",
    )
    description: str = Field(default="", description="free text shown in reports and `cascadelab scenarios`")
    seed: Annotated[int, Field(ge=0, lt=MAX_SEED)] = Field(
        default=0, description="seed of the run's numpy Generator (same config + seed => identical outputs)"
    )
    duration_hours: Annotated[float, Field(gt=0, le=24 * 366)] = Field(
        default=24.0, description="simulated duration of the run, hours"
    )
    dt_seconds: Annotated[float, Field(ge=MIN_DT_SECONDS, le=3600)] = Field(
        default=1.0,
        description="simulated seconds per step (every rate is scaled by it); at least 0.01 s, and a run "
        f"holds at most {MAX_STEPS:_} steps (duration_hours x 3600 / dt_seconds)",
    )
    sample_seconds: Annotated[float, Field(gt=0, le=86_400)] = Field(
        default=60.0,
        description="sampling period of the time series, simulated seconds: a whole multiple of dt_seconds; "
        f"a run holds at most {MAX_SAMPLES:_} samples (duration_hours x 3600 / sample_seconds)",
    )
    figures: bool = Field(default=True, description="write figures/*.png into the run directory")
    cascade: CascadeParams = Field(
        default_factory=CascadeParams,
        description="what counts as a liquidation cascade in summary.json and the report",
    )
    origin: RunOrigin = Field(
        default_factory=RunOrigin, description="where the config came from (a record; see RunOrigin)"
    )
    market: MarketParams = Field(default_factory=MarketParams, description="the market (model.params)")
    study: StudyParams = Field(default_factory=StudyParams, description="Monte Carlo study settings")

    @model_validator(mode="after")
    def _run_consistent(self) -> ExperimentConfig:
        problems: list[str] = []
        if self.dt_seconds > self.sample_seconds:
            problems.append(
                f"dt_seconds: a step ({self.dt_seconds:g} s) must not exceed sample_seconds "
                f"({self.sample_seconds:g} s)"
            )
        elif not _whole_multiple(self.sample_seconds, self.dt_seconds):
            problems.append(
                f"sample_seconds: must be a whole multiple of dt_seconds ({self.sample_seconds:g} s is "
                f"{self.sample_seconds / self.dt_seconds:.4g} steps of {self.dt_seconds:g} s)"
            )
        steps = self.duration_hours * 3600 / self.dt_seconds
        if steps > MAX_STEPS:
            problems.append(
                f"dt_seconds: {self.duration_hours:g} h at {self.dt_seconds:g} s per step is "
                f"{steps:.4g} steps; "
                f"a run holds at most {MAX_STEPS:_} (raise dt_seconds or shorten duration_hours)"
            )
        samples = self.duration_hours * 3600 / self.sample_seconds
        if samples > MAX_SAMPLES:
            problems.append(
                f"sample_seconds: {self.duration_hours:g} h sampled every {self.sample_seconds:g} s is "
                f"{samples:.4g} samples; a run holds at most {MAX_SAMPLES:_} (raise sample_seconds)"
            )
        if self.duration_hours * 3600 < self.dt_seconds:
            problems.append(
                f"duration_hours: the run ({self.duration_hours:g} h) is shorter than one step "
                f"({self.dt_seconds:g} s)"
            )
        planned = self.origin.duration_hours
        if planned is not None and planned < self.duration_hours:
            problems.append(
                f"origin.duration_hours: the duration before the cut ({planned:g} h) is shorter than the "
                f"run (duration_hours = {self.duration_hours:g})"
            )
        end = max(self.duration_hours, planned or 0.0)
        for i, shock in enumerate(self.market.shocks):
            if shock.at_hour >= end:
                problems.append(
                    f"market.shocks.{i}.at_hour: the {shock.kind} shock at hour {shock.at_hour:g} is at or "
                    f"after the end of the run (duration_hours = {end:g})"
                )
        if problems:
            # Several problems travel as one message; format_validation_error splits them again.
            raise ValueError("\n".join(problems))
        return self

    @property
    def planned_hours(self) -> float:
        """The config's duration before any ``--hours`` cut (``origin.duration_hours``, else the duration)."""
        return self.origin.duration_hours if self.origin.duration_hours is not None else self.duration_hours

    def unreached_shocks(self) -> list[tuple[int, Any]]:
        """The scheduled shocks that a run of this config never reaches (at or after its end).

        Returns:
            (index in ``market.shocks``, shock) pairs; empty unless ``--hours`` cut the run short.
        """
        return [(i, s) for i, s in enumerate(self.market.shocks) if s.at_hour >= self.duration_hours]


def cut_config(cfg: ExperimentConfig, hours: float | None) -> ExperimentConfig:
    """The config of the run that happens when ``cfg`` is run for its first ``hours`` hours.

    Its ``duration_hours`` is ``hours`` and ``origin.duration_hours`` keeps the duration it was cut from
    (shocks scheduled after the cut stay in ``market.shocks``: they are not reached). Running the result
    in full gives the same run, and the same ``summary.json``, as running ``cfg`` with ``hours``.

    Args:
        cfg: the config.
        hours: the truncation (None, or at least the duration: no cut).

    Returns:
        ``cfg`` itself when nothing is cut, else the cut config (validated).

    Raises:
        ConfigError: ``hours`` is not > 0.
    """
    if hours is None or hours >= cfg.duration_hours:
        return cfg
    if not hours > 0:
        raise ConfigError([f"--hours: must be > 0 (got {hours:g})"])
    data = cfg.model_dump(mode="json")
    data["duration_hours"] = float(hours)
    data["origin"]["duration_hours"] = cfg.planned_hours
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


# --------------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """Safe loader with YAML 1.2 floats (``1e-4`` is a number) and duplicate keys rejected."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key: PyYAML reports it below
            continue
        if duplicate:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class YAMLLimitError(yaml.YAMLError):
    """A YAML document nested too deep or expanding (through aliases) to too many nodes."""


def check_yaml_limits(text: str) -> None:
    """Refuse a document nested deeper than :data:`MAX_YAML_DEPTH` or expanding to more than
    :data:`MAX_YAML_NODES` nodes (an alias counts as the whole node it names), before building it.

    Reads PyYAML's event stream, which is not recursive, so any depth is measured safely.

    Args:
        text: the YAML document.

    Raises:
        YAMLLimitError: the document is too deep or too large.
        yaml.YAMLError: a syntax error.
    """
    # per open collection: [anchor, nodes inside (expanded), depth below]
    stack: list[list[Any]] = []
    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (expanded nodes, depth)
    total = 0

    def add(nodes: int, depth: int, anchor: str | None) -> None:
        nonlocal total
        if anchor is not None:
            sizes[anchor] = (nodes, depth)
        total += nodes if not stack else 0
        if stack:
            stack[-1][1] += nodes
            stack[-1][2] = max(stack[-1][2], depth)
        if len(stack) + depth > MAX_YAML_DEPTH:
            raise YAMLLimitError(f"nested deeper than {MAX_YAML_DEPTH} levels")
        expanded = total + sum(frame[1] for frame in stack)
        if expanded > MAX_YAML_NODES:
            raise YAMLLimitError(f"expands to more than {MAX_YAML_NODES:_} values (through aliases?)")

    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 0, 0])
            if len(stack) > MAX_YAML_DEPTH:
                raise YAMLLimitError(f"nested deeper than {MAX_YAML_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, nodes, depth = stack.pop()
            add(nodes + 1, depth + 1, anchor)
        elif isinstance(event, yaml.ScalarEvent):
            add(1, 0, event.anchor)
        elif isinstance(event, yaml.AliasEvent):
            nodes, depth = sizes.get(event.anchor or "", (1, 0))
            add(nodes, depth, None)


def parse_yaml(text: str) -> Any:
    """Parse YAML text with YAML 1.2 number rules (``1e-4`` -> float) and duplicate keys rejected.

    Args:
        text: the YAML document.

    Returns:
        The parsed Python value.

    Raises:
        YAMLLimitError: nested deeper than :data:`MAX_YAML_DEPTH` or expanding to more than
            :data:`MAX_YAML_NODES` values.
        yaml.YAMLError: on a syntax error or a duplicate key.
    """
    check_yaml_limits(text)
    return yaml.load(text, Loader=_Loader)


def parse_value(text: str) -> Any:
    """Parse the value of a ``--set`` override or a grid value (YAML, numbers as in YAML 1.2).

    Args:
        text: the text after ``=``; empty text is an empty string.

    Returns:
        The parsed value (number, bool, None, string, list or mapping).
    """
    if text.strip() == "":
        return ""
    try:
        return parse_yaml(text)
    except YAMLLimitError as exc:
        raise ConfigError([f"{clip(text, 60)}: value refused: {exc}"]) from None
    except yaml.YAMLError:
        return text


def resolve_config_path(name_or_path: str | Path) -> Path:
    """Find a config file: an existing path, or the name of a shipped scenario.

    Args:
        name_or_path: a file path, or a scenario name such as ``baseline``
            (``experiments/configs/baseline.yaml``).

    Returns:
        The path of the YAML file.

    Raises:
        ConfigError: when neither a file nor a scenario of that name exists.
    """
    path = Path(name_or_path)
    if path.exists():
        return path
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    if path.parent == Path(".") and not stem.endswith(".targets") and (CONFIG_DIR / f"{stem}.yaml").is_file():
        return CONFIG_DIR / f"{stem}.yaml"
    known = [name for name, _ in list_scenarios()]
    close = difflib.get_close_matches(stem, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(
        [
            f"{clip(str(name_or_path))}: no such file, and not a shipped scenario "
            f"({hint}known: {', '.join(known)})"
        ]
    )


def load_raw(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into a plain mapping (not validated yet).

    Args:
        path: the file, or a scenario name.

    Returns:
        The top-level mapping.

    Raises:
        ConfigError: missing or unreadable file, YAML syntax error, or a top level that is not a mapping.
    """
    p = resolve_config_path(path)
    if p.is_dir():
        raise ConfigError([f"{p}: is a directory, not a YAML config file"])
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{p}: cannot read the file ({exc.__class__.__name__}: {exc})"]) from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"{p}{where}: invalid YAML: {problem}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{p}: the top level must be a mapping of keys, got a {type(data).__name__}"])
    return data


# --------------------------------------------------------------------------- overrides


def _split_override(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError([f"--set {clip(item)}: expected key.path=value"])
    if not re.fullmatch(r"[A-Za-z_]\w*(\.\w+)*", key) or key.count(".") >= MAX_YAML_DEPTH:
        raise ConfigError(
            [f"--set {clip(item)}: {clip(key)!r} is not a dotted key path like market.venue.taker_fee"]
        )
    return key, value


def _default_tree() -> dict[str, Any]:
    return ExperimentConfig().model_dump(mode="json")


def set_path(data: dict[str, Any], key: str, value: Any, *, origin: str | None = None) -> None:
    """Set ``data[a][b][c] = value`` for ``key = "a.b.c"`` (in place); list items by integer index.

    Missing mappings are created; a missing list (one left to its default, like ``market.symbols``) is
    first filled with the schema's default so that ``market.symbols.0.price_usd`` works on any config.

    Args:
        data: the raw config mapping, modified in place.
        key: the dotted key path.
        value: the value to set (validated later with the whole config).
        origin: how to name the override in errors (default: the key).

    Raises:
        ConfigError: the path crosses a scalar, or a list index is not an integer or is out of range.
    """
    parts = key.split(".")
    label = origin or key
    node: Any = data
    defaults: Any = _default_tree()
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        here = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit():
                raise ConfigError([f"{label}: {'.'.join(parts[:depth])} is a list; {part!r} is not an index"])
            idx = int(part)
            if idx >= len(node):
                parent = ".".join(parts[:depth])
                raise ConfigError(
                    [f"{label}: {here}: index {idx} out of range ({len(node)} item(s) in {parent})"]
                )
            defaults = defaults[idx] if isinstance(defaults, list) and idx < len(defaults) else None
            if last:
                node[idx] = value
                return
            node = node[idx]
            continue
        if not isinstance(node, dict):
            raise ConfigError(
                [f"{label}: {'.'.join(parts[:depth])} is a value, not a section; cannot set {part!r}"]
            )
        sub_default = defaults.get(part) if isinstance(defaults, dict) else None
        if last:
            node[part] = value
            return
        if part not in node or node[part] is None:
            if isinstance(sub_default, list):
                node[part] = json.loads(json.dumps(sub_default))
            else:
                node[part] = {}
        node = node[part]
        defaults = sub_default


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> list[str]:
    """Apply ``key.path=value`` overrides to a raw config mapping, in order (later ones win).

    Args:
        data: the raw mapping, modified in place.
        overrides: items like ``market.venue.taker_fee=4e-4`` (the value is parsed as YAML).

    Returns:
        Problems found (one line each); empty when every override applied.
    """
    problems: list[str] = []
    for item in overrides:
        try:
            key, text = _split_override(item)
            set_path(data, key, parse_value(text), origin=f"--set {clip(item)}")
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems


# --------------------------------------------------------------------------- error formatting


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types an annotation may hold (Annotated, Optional and unions removed)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        out: list[Any] = []
        for arg in get_args(annotation):
            if arg is not type(None):
                out.extend(_unwrap(arg))
        return out
    return [annotation]


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The pydantic model class that owns the keys at ``loc`` (None if it is not a model)."""
    current: Any = ExperimentConfig
    for part in loc:
        candidates = _unwrap(current)
        nxt: Any = None
        for cand in candidates:
            origin = get_origin(cand)
            if isinstance(cand, type) and issubclass(cand, BaseModel) and isinstance(part, str):
                field = cand.model_fields.get(part)
                if field is not None:
                    nxt = field.annotation
                    break
            elif origin is list and isinstance(part, int):
                nxt = get_args(cand)[0]
                break
            elif origin is dict and isinstance(part, str):
                nxt = get_args(cand)[1]
                break
        if nxt is None and isinstance(part, str) and part in SHOCK_CLASSES:
            nxt = SHOCK_CLASSES[part]
        if nxt is None:
            return None
        current = nxt
    for cand in _unwrap(current):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _clean_loc(loc: Sequence[str | int]) -> list[str | int]:
    """Drop pydantic's internal loc items (union tags, validator names)."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if isinstance(part, str) and ("[" in part or "(" in part):
            continue
        if isinstance(part, str) and part in SHOCK_CLASSES and i > 0 and isinstance(loc[i - 1], int):
            continue
        out.append(part)
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_PATH_MSG = re.compile(r"^([A-Za-z_]\w*(?:\.\w+)*): (.+)$", re.S)


def format_validation_error(exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[str]:
    """Turn a pydantic error into lines ``path.to.key: reason``.

    Args:
        exc: the validation error of :class:`ExperimentConfig` (or a model at ``prefix``).
        prefix: the path of the validated model inside the experiment config.

    Returns:
        One line per problem, de-duplicated, in pydantic's order.
    """
    lines: list[str] = []
    for err in exc.errors():
        loc = [*prefix, *_clean_loc(err["loc"])]
        kind = err["type"]
        msg = str(err["msg"])
        if kind == "extra_forbidden":
            key = loc[-1] if loc else "?"
            raw = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or "(" in p))]
            parent = _model_at([*prefix, *raw[:-1]])
            hint = ""
            if parent is not None and isinstance(key, str):
                close = difflib.get_close_matches(key, list(parent.model_fields), n=1)
                if close:
                    hint = f" (did you mean {close[0]!r}?)"
                else:
                    hint = f" (known keys: {', '.join(parent.model_fields)})"
            reason = f"unknown key{hint}"
        elif kind == "missing":
            reason = "required key is missing"
        elif kind in ("value_error", "assertion_error"):
            reason = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        else:
            reason = msg
            if "input" in err and not isinstance(err["input"], dict | list):
                reason += f" (got {_short(err['input'])})"
        for part in reason.split("\n"):
            sub_loc = [str(p) for p in loc]
            match = _PATH_MSG.match(part)
            if kind == "value_error" and match:
                head = match.group(1)
                rel = head.split(".")
                # A validator at loc X naming a path relative to X ("shocks.0.holder: ...") or absolute
                # ("market.shocks.0.at_hour: ..."): build the full path once.
                if rel[: len(sub_loc)] == sub_loc or (rel and rel[0] in ExperimentConfig.model_fields):
                    path = head
                else:
                    path = ".".join([*sub_loc, head])
                line = f"{path}: {match.group(2)}"
            else:
                line = f"{'.'.join(sub_loc) or '(top level)'}: {part}"
            if line not in lines:
                lines.append(line)
    return lines


# --------------------------------------------------------------------------- loading and grids


def validate_dict(data: Mapping[str, Any]) -> ExperimentConfig:
    """Validate a raw mapping into an :class:`ExperimentConfig`, including every grid point.

    Args:
        data: the raw config (as read from YAML, overrides applied).

    Returns:
        The validated config.

    Raises:
        ConfigError: one line per problem.
    """
    try:
        cfg = ExperimentConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    problems = check_grid(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def load_config(path: str | Path, overrides: Iterable[str] | None = None) -> ExperimentConfig:
    """Load and validate an experiment config file (or a shipped scenario by name).

    Args:
        path: a YAML file, or a scenario name such as ``baseline``.
        overrides: ``key.path=value`` items applied before validation (``--set``).

    Returns:
        The validated config.

    Raises:
        ConfigError: one line ``path.to.key: reason`` per problem (file, YAML, overrides, schema, grid).
    """
    data = load_raw(path)
    overrides = list(overrides or [])
    problems = apply_overrides(data, overrides)
    if problems:
        raise ConfigError(problems)
    record_origin(data, source=_source_name(path), overrides=overrides)
    return validate_dict(data)


def _source_name(path: str | Path) -> str:
    """A scenario's name, or the file's path as given."""
    try:
        resolved = resolve_config_path(path).resolve()
    except ConfigError:
        return str(path)
    if resolved.parent == CONFIG_DIR:
        return resolved.stem
    return str(path)


def record_origin(data: dict[str, Any], *, source: str = "", overrides: Sequence[str] = ()) -> None:
    """Note in a raw config where it came from (``origin``), in place, before it is validated.

    A source already recorded is kept (a run directory's ``config.yaml`` names the scenario it was made
    from); the ``overrides`` are appended to those already recorded.

    Args:
        data: the raw config mapping.
        source: the scenario name or file the config was loaded from.
        overrides: the ``--set`` items just applied.
    """
    origin = data.get("origin")
    if origin is None:
        origin = {}
    if not isinstance(origin, dict):
        return  # validation reports it
    if source and not origin.get("source"):
        origin["source"] = source
    if overrides:
        before = origin.get("overrides") or []
        if not isinstance(before, list):
            return
        origin["overrides"] = [*before, *(str(o) for o in overrides)]
    if origin:
        data["origin"] = origin


def config_from(
    config: ExperimentConfig | Mapping[str, Any] | str | Path, overrides: Iterable[str] | None = None
) -> ExperimentConfig:
    """Accept a config object, a raw mapping, a file path or a scenario name.

    Args:
        config: the experiment.
        overrides: optional ``key.path=value`` items.

    Returns:
        A validated :class:`ExperimentConfig`.
    """
    overrides = list(overrides or [])
    if isinstance(config, ExperimentConfig):
        if not overrides:
            return config
        data: dict[str, Any] = config.model_dump(mode="json", exclude_unset=False)
    elif isinstance(config, Mapping):
        data = json.loads(json.dumps(dict(config), default=str)) if overrides else dict(config)
    else:
        return load_config(config, overrides)
    problems = apply_overrides(data, overrides)
    if problems:
        raise ConfigError(problems)
    record_origin(data, overrides=overrides)
    return validate_dict(data)


def resolved_dict(cfg: ExperimentConfig, *, seed: int | None = None, study: bool = True) -> dict[str, Any]:
    """The config as a plain mapping with the venue preset resolved (every number explicit).

    Args:
        cfg: the config.
        seed: write this seed instead of ``cfg.seed``.
        study: include the ``study`` section.

    Returns:
        A JSON/YAML-safe mapping that validates back to the same experiment.
    """
    data = cfg.model_dump(mode="json")
    data["market"]["venue"] = cfg.market.venue.resolved().model_dump(mode="json")
    if seed is not None:
        data["seed"] = int(seed)
    if not study:
        data.pop("study", None)
    return data


def dump_yaml(data: Mapping[str, Any]) -> str:
    """YAML text of a mapping, keys in schema order.

    Args:
        data: the mapping (JSON-safe values).

    Returns:
        The YAML document.
    """
    return yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=None, width=110)


def config_hash(cfg: ExperimentConfig, seed: int, hours: float | None = None) -> str:
    """Stable id of a run: a hash of the resolved market and run settings plus the seed.

    ``name``, ``description``, ``figures``, ``origin`` (a record) and ``study`` do not enter the hash:
    renaming a study does not invalidate its finished runs. The model's
    :data:`~model.params.DEFAULTS_VERSION` does: runs made under other defaults are not reused.

    Args:
        cfg: the (grid point's) config.
        seed: the run's seed.
        hours: the truncation of the run (``--hours``), None for the full duration.

    Returns:
        16 hex digits.
    """
    data = resolved_dict(cfg, seed=seed, study=False)
    for key in ("name", "description", "figures", "origin"):
        data.pop(key, None)
    if hours is not None and hours < cfg.duration_hours:
        data["hours_run"] = float(hours)
    if cfg.origin.duration_hours is not None:  # a cut config: summary.json reports the duration it had
        data["planned_hours"] = float(cfg.origin.duration_hours)
    data["defaults_version"] = DEFAULTS_VERSION
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def split_grid_values(text: str) -> list[str]:
    """Split ``v1,v2,[a,b],{k: v}`` at top-level commas (commas inside brackets or quotes stay).

    Args:
        text: the part after ``=`` of a ``--grid`` item.

    Returns:
        The value texts.
    """
    out: list[str] = []
    depth = 0
    quote: str | None = None
    cur: list[str] = []
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return out


def parse_grid(items: Iterable[str]) -> dict[str, list[Any]]:
    """Parse ``--grid key=v1,v2,...`` items into a grid mapping.

    Args:
        items: the command-line items.

    Returns:
        key path -> list of values (parsed as YAML).

    Raises:
        ConfigError: an item without ``=`` or without values.
    """
    grid: dict[str, list[Any]] = {}
    problems: list[str] = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            problems.append(f"--grid {clip(item)}: expected key.path=value1,value2,...")
            continue
        grid[key] = [parse_value(v) for v in split_grid_values(text)]
    if problems:
        raise ConfigError(problems)
    return grid


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The Cartesian product of a grid, in a stable order (keys as given, values as listed).

    Args:
        grid: key path -> values.

    Returns:
        One mapping key -> value per point; ``[{}]`` for an empty grid.
    """
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


def point_config(cfg: ExperimentConfig, point: Mapping[str, Any]) -> ExperimentConfig:
    """The config of one grid point (validated).

    Args:
        cfg: the study's base config.
        point: key path -> value.

    Returns:
        The validated config with the point's values set.

    Raises:
        ConfigError: lines prefixed with the grid point.
    """
    data = cfg.model_dump(mode="json")
    data["study"] = {}
    label = clip(", ".join(f"{k}={clip(repr(v))}" for k, v in point.items()))
    problems: list[str] = []
    for key, value in point.items():
        try:
            set_path(data, key, value, origin=f"study.grid {key}")
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    try:
        out = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            [f"study.grid [{label}]: {line}" for line in format_validation_error(exc)]
        ) from None
    return out.model_copy(update={"study": cfg.study})


def ablation_problems(cfg: ExperimentConfig, grid: Mapping[str, Sequence[Any]]) -> list[str]:
    """What is wrong with a study's ``ablation`` section against its grid (empty when nothing is).

    Args:
        cfg: the study's config.
        grid: the grid it will run (``study.grid`` with any command-line entries merged).

    Returns:
        Problem lines naming ``study.ablation.<key>``.
    """
    ablation = cfg.study.ablation
    if ablation is None:
        return []
    problems: list[str] = []
    points = math.prod(len(v) for v in grid.values()) if grid else 1
    if points < 2:
        problems.append("study.ablation: needs a grid of at least two points (a reference and a variant)")
    elif ablation.reference >= points:
        problems.append(
            f"study.ablation.reference: {ablation.reference} is not a grid point (the grid has {points}, "
            f"numbered from 0)"
        )
    names = [s.name for s in cfg.market.symbols]
    per_symbol = {f"{n}_{m}" for n in names for m in SYMBOL_METRICS}
    if ablation.metric not in ABLATION_METRICS and ablation.metric not in per_symbol:
        close = difflib.get_close_matches(ablation.metric, [*ABLATION_METRICS, *sorted(per_symbol)], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(
            f"study.ablation.metric: {ablation.metric!r} is not a results column an ablation compares{hint}; "
            f"use one of {', '.join(ABLATION_METRICS)} or <SYMBOL>_<metric> with a metric of "
            f"{', '.join(SYMBOL_METRICS)}"
        )
    return problems


def check_grid(cfg: ExperimentConfig, grid: Mapping[str, Sequence[Any]] | None = None) -> list[str]:
    """Validate every grid point of a study before anything runs.

    Args:
        cfg: the base config.
        grid: the grid to check (default: ``cfg.study.grid``).

    Returns:
        Problem lines (empty when every point is a valid config).
    """
    grid = cfg.study.grid if grid is None else grid
    problems: list[str] = []
    for key, values in grid.items():
        if not values:
            problems.append(f"study.grid.{key}: needs at least one value")
    if problems:
        return problems
    problems += ablation_problems(cfg, grid)
    for point in grid_points(grid):
        try:
            point_config(cfg, point)
        except ConfigError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    return problems


def list_scenarios() -> list[tuple[str, str]]:
    """The shipped scenarios: (name, description), sorted by name.

    Returns:
        Pairs read from ``experiments/configs/*.yaml`` (description empty when unreadable), calibration
        targets (``*.targets.yaml``) left out.
    """
    out: list[tuple[str, str]] = []
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        if path.name.endswith(TARGETS_SUFFIX):
            continue
        desc = ""
        try:
            data = parse_yaml(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                desc = " ".join(str(data.get("description", "")).split())
        except (OSError, yaml.YAMLError):
            desc = "(unreadable)"
        out.append((path.stem, desc))
    return out


# --------------------------------------------------------------------------- provenance

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The root of the clone (or of the installed tree) that holds ``experiments/``."""

PROVENANCE_PACKAGES = ("mesa", "numpy", "pandas", "pyarrow", "pydantic", "scipy", "matplotlib", "PyYAML")
"""The main dependencies whose versions :func:`provenance` records."""


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@lru_cache(maxsize=1)
def _static_provenance() -> dict[str, Any]:
    commit = _git("rev-parse", "HEAD") if (REPO_ROOT / ".git").exists() else None
    dirty = None
    if commit is not None:
        status = _git("status", "--porcelain", "--untracked-files=no")
        dirty = bool(status) if status is not None else None
    return {
        "cascadelab_version": _package_version("cascadelab"),
        "git_commit": commit,
        "git_dirty": dirty,
        "defaults_version": DEFAULTS_VERSION,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: _package_version(name) for name in PROVENANCE_PACKAGES},
    }


def provenance() -> dict[str, Any]:
    """What made a result, so that it can be traced and re-run: written as ``provenance.json``.

    Returns:
        ``cascadelab_version`` (None when the clone is not installed), ``git_commit`` and ``git_dirty``
        (tracked files changed since that commit; both None outside a git clone), ``defaults_version``
        (:data:`model.params.DEFAULTS_VERSION`), ``python``, ``platform`` and ``packages`` (name -> version
        of the main dependencies, None when missing).
    """
    data = _static_provenance()
    return {**data, "packages": dict(data["packages"])}
