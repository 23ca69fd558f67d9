"""Statistics of study tables: Wilson intervals, fragility tables, threshold labels, numeric columns.

A leaf: pure functions over pandas tables, no imports of the rest of the package. The fragility table
(``fragility.parquet`` of a study, DESIGN.md §8) gives, per grid point, the probability of a cascade, of a
leader drawdown beyond each threshold and of auto-deleveraging, with 95% Wilson score intervals, and the
distribution of the liquidated notional and the drawdowns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

WILSON_Z95 = 1.959963984540054
"""The standard normal quantile of a two-sided 95% interval."""


def numeric_column(df: pd.DataFrame, column: str) -> pd.Series:
    """A column as floats (NaN where missing or not a number; all NaN when the column is absent).

    Args:
        df: a table.
        column: the column name.

    Returns:
        A float Series aligned with ``df``.
    """
    if column not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype="float64")
    return pd.Series(pd.to_numeric(df[column], errors="coerce"), index=df.index, dtype="float64")


def wilson_interval(successes: int, n: int, z: float = WILSON_Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Args:
        successes: number of successes.
        n: number of trials.
        z: the normal quantile (1.96: 95%).

    Returns:
        (low, high); (0, 1) when ``n`` is 0.
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def threshold_label(threshold: float) -> str:
    """Column-name label of a drawdown threshold: 0.05 -> ``5pct``.

    Args:
        threshold: a fraction.

    Returns:
        The label.
    """
    return f"{threshold * 100:g}pct"


def fragility(results: pd.DataFrame, grid_keys: Sequence[str], thresholds: Sequence[float]) -> pd.DataFrame:
    """Per grid point: P(cascade) and P(leader drawdown >= t) with 95% Wilson intervals, and distributions.

    A run "has a cascade" when ``model.metrics.summarize`` found at least one (any symbol). The leader's
    drawdown is its ``max_drawdown_pct`` (percent) compared with each threshold (a fraction). Failed runs
    count in ``failed`` and nowhere else.

    Args:
        results: the study table.
        grid_keys: the grid keys.
        thresholds: drawdown thresholds, fractions.

    Returns:
        One row per grid point, sorted by point: ``point``, the grid keys, ``runs``, ``ok``, ``failed``;
        ``p_cascade``, ``p_drawdown_<t>`` per threshold (``p_drawdown_10pct``) and ``p_adl``, each a
        fraction of the ok runs with its 95% Wilson interval (``_lo``, ``_hi``); and ``_mean``, ``_p50``,
        ``_p90``, ``_p99`` of ``liquidated_usd`` (USD), ``leader_drawdown_pct``, ``alt_drawdown_pct``
        (percent) and ``insurance_fund_min_usd`` (USD). An empty table when ``results`` is empty.
    """
    rows: list[dict[str, Any]] = []
    if results.empty:
        return pd.DataFrame()
    for point, g in results.groupby("point", sort=True):
        ok = g[g["status"] == "ok"]
        n = len(ok)
        row: dict[str, Any] = {"point": int(str(point))}
        for key in grid_keys:
            row[key] = g[key].iloc[0] if key in g else None
        row.update({"runs": len(g), "ok": n, "failed": len(g) - n})

        def prob(name: str, mask: pd.Series, row: dict[str, Any] = row, n: int = n) -> None:
            k = int(mask.sum())
            lo, hi = wilson_interval(k, n)
            row[f"p_{name}"] = k / n if n else float("nan")
            row[f"p_{name}_lo"] = lo
            row[f"p_{name}_hi"] = hi

        prob("cascade", numeric_column(ok, "cascade_count").fillna(0) > 0)
        dd = numeric_column(ok, "leader_max_drawdown_pct").abs() / 100
        for t in thresholds:
            prob(f"drawdown_{threshold_label(t)}", dd >= t)
        adl = numeric_column(ok, "adl_count").fillna(0)
        prob("adl", adl > 0)
        for col, label in (
            ("liquidated_usd", "liquidated_usd"),
            ("leader_max_drawdown_pct", "leader_drawdown_pct"),
            ("alt_max_drawdown_pct", "alt_drawdown_pct"),
            ("insurance_fund_min_usd", "insurance_fund_min_usd"),
        ):
            values = numeric_column(ok, col).dropna()
            row[f"{label}_mean"] = float(values.mean()) if len(values) else float("nan")
            for q in (50, 90, 99):
                row[f"{label}_p{q}"] = float(np.percentile(values, q)) if len(values) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


RISK_METRICS: tuple[tuple[str, str], ...] = (
    ("bad_debt_usd", "bad debt (USD)"),
    ("adl_notional_usd", "ADL notional (USD)"),
    ("adl_overshoot_usd", "ADL overshoot (USD)"),
    ("leader_max_drawdown_pct", "leader max drawdown (%)"),
)
"""The per-run outcomes a policy study ranks grid points by: column of results.parquet -> label."""


def mean_interval(values: pd.Series, z: float = WILSON_Z95) -> tuple[float, float, float]:
    """Mean of the finite values with a normal-approximation interval ``mean +- z sd / sqrt(n)``.

    Args:
        values: one value per run.
        z: the normal quantile (1.96: 95%).

    Returns:
        ``(mean, low, high)``; NaN for all three when no value is finite, the mean itself as both bounds
        for a single value.
    """
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) == 1:
        return mean, mean, mean
    half = z * float(x.std(ddof=1)) / math.sqrt(len(x))
    return mean, mean - half, mean + half


def paired_t_interval(differences: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """Mean of paired differences with its 95% Student-t interval (n - 1 degrees of freedom).

    The differences are one per seed (common random numbers: the same seed with a mechanism on and
    off), so the interval is that of the mean effect of the mechanism over seeds.

    Args:
        differences: one difference per pair, in the metric's units.

    Returns:
        ``(mean, low, high)`` in the same units; NaN for all three with no pair, the mean with NaN bounds
        for a single pair (no spread to estimate).
    """
    d = np.asarray(differences, dtype=np.float64)
    n = len(d)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(d.mean())
    if n == 1:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, n - 1)) * float(d.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def risk_outcomes(results: pd.DataFrame, grid_keys: Sequence[str]) -> pd.DataFrame:
    """Per grid point: bad debt, ADL notional and overshoot, leader drawdown (means with 95% intervals,
    clipped at zero: they are magnitudes) and P(insurance fund exhausted) (Wilson), ranked best first.

    The rank orders by mean bad debt, then mean ADL notional, then mean overshoot, then mean drawdown
    (lower is better for each): the policy that leaves the least loss unpaid, then socialises the least.
    Failed runs are left out.

    Args:
        results: the study table (one row per run).
        grid_keys: the swept keys (columns of ``results``).

    Returns:
        One row per grid point with ``rank``, the grid values, ``runs``, ``<metric>_mean``,
        ``<metric>_lo``, ``<metric>_hi`` for each of :data:`RISK_METRICS`, and ``p_fund_exhausted`` with
        ``p_fund_exhausted_lo`` / ``_hi``.
    """
    ok = results[results["status"] == "ok"] if "status" in results else results
    rows: list[dict[str, Any]] = []
    for point, group in ok.groupby("point", sort=True):
        row: dict[str, Any] = {"point": point, "runs": len(group)}
        for key in grid_keys:
            row[key] = group[key].iloc[0] if key in group else None
        for col, _label in RISK_METRICS:
            mean, lo, hi = mean_interval(group[col]) if col in group else (math.nan,) * 3
            # every outcome here is a magnitude (>= 0): an interval below zero says nothing more
            row[f"{col}_mean"], row[f"{col}_lo"], row[f"{col}_hi"] = mean, max(lo, 0.0), hi
        exhausted = numeric_column(group, "fund_exhausted")
        if exhausted.notna().any():
            k, n = int(exhausted.fillna(0).sum()), int(exhausted.notna().sum())
            lo, hi = wilson_interval(k, n)
            row["p_fund_exhausted"], row["p_fund_exhausted_lo"], row["p_fund_exhausted_hi"] = k / n, lo, hi
        else:
            row["p_fund_exhausted"] = row["p_fund_exhausted_lo"] = row["p_fund_exhausted_hi"] = math.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    order = [f"{col}_mean" for col, _ in RISK_METRICS]
    table = table.sort_values(order, na_position="last", kind="stable").reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return table


def _block(value: Any) -> dict[str, Any] | None:
    """A grid value that sweeps a whole block (stored as a JSON mapping), parsed; None for anything else."""
    if not (isinstance(value, str) and value.startswith("{")):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _point_settings(group: pd.DataFrame, grid_keys: Sequence[str]) -> dict[str, Any]:
    """A grid point's settings, flattened: a key whose value is a JSON mapping (a whole block swept, like
    ``market.contagion``) gives one ``key.field`` entry per field."""
    out: dict[str, Any] = {}
    for key in grid_keys:
        value = group[key].iloc[0] if key in group else None
        parsed = _block(value)
        if parsed is not None:
            out.update({f"{key}.{k}": v for k, v in parsed.items()})
        else:
            out[key] = value
    return out


def _settings_label(settings: Mapping[str, Any], reference: Mapping[str, Any]) -> str:
    """What a point sets apart from the reference point, e.g. ``cross_margin=false``."""

    def show(v: Any) -> str:
        return json.dumps(v) if isinstance(v, bool) or v is None else str(v)

    diffs = [
        f"{k.split('.')[-1]}={show(settings.get(k))}"
        for k in sorted(set(settings) | set(reference))
        if settings.get(k) != reference.get(k)
    ]
    return ", ".join(diffs) if diffs else "(the reference)"


def ablation_table(
    results: pd.DataFrame, grid_keys: Sequence[str], metric: str, reference: int = 0
) -> pd.DataFrame:
    """Each grid point's effect on ``metric`` against a reference point, paired by seed.

    Every grid point of a study runs the same seeds (common random numbers), so the effect of switching a
    mechanism off is measured seed by seed: ``metric(point, seed) - metric(reference, seed)``. The interval
    is Student's t over the paired differences (95%, n - 1 degrees of freedom); it "excludes zero" when
    both ends have the same sign. Runs that failed, and seeds missing at either point, are left out.

    Args:
        results: the study table (one row per run: ``point``, ``seed_index``, ``status``, the metric).
        grid_keys: the swept keys (columns of ``results``); a key holding a JSON mapping is compared field
            by field for the labels.
        metric: the column to compare (e.g. ``alt_mean_drawdown_pct``, percent).
        reference: the grid point the others are compared with (the one with every mechanism on).

    Returns:
        One row per grid point other than the reference, ranked by the effect (most negative first: the
        mechanism whose removal lowers the metric most): ``rank``, ``point``, ``label`` (the settings that
        differ from the reference), ``pairs``, ``mean`` (the point's mean of the metric), ``reference_mean``
        (over the same seeds), ``effect`` and its ``effect_lo`` / ``effect_hi``, ``share`` (effect over the
        reference mean) and ``excludes_zero``. Empty when the metric or the reference point is missing.
    """
    columns = [
        "rank", "point", "label", "pairs", "mean", "reference_mean", "effect", "effect_lo", "effect_hi",
        "share", "excludes_zero",
    ]  # fmt: skip
    ok = results[results["status"] == "ok"] if "status" in results else results
    if metric not in ok or ok.empty or reference not in set(ok["point"]):
        return pd.DataFrame(columns=columns)
    values = ok.assign(_m=pd.to_numeric(ok[metric], errors="coerce"))
    ref_rows = values[values["point"] == reference]
    ref = ref_rows.set_index("seed_index")["_m"]
    ref_settings = _point_settings(ref_rows, grid_keys)
    rows: list[dict[str, Any]] = []
    for point in sorted(int(v) for v in values["point"].unique()):
        if point == reference:
            continue
        group = values[values["point"] == point]
        mine = group.set_index("seed_index")["_m"]
        paired = pd.concat([mine, ref], axis=1, join="inner").dropna()
        x, r = paired.iloc[:, 0].to_numpy(dtype=float), paired.iloc[:, 1].to_numpy(dtype=float)
        n = len(x)
        effect, effect_lo, effect_hi = paired_t_interval(x - r)
        ref_mean = float(r.mean()) if n else math.nan
        rows.append(
            {
                "point": point,
                "label": _settings_label(_point_settings(group, grid_keys), ref_settings),
                "pairs": n,
                "mean": float(x.mean()) if n else math.nan,
                "reference_mean": ref_mean,
                "effect": effect,
                "effect_lo": effect_lo,
                "effect_hi": effect_hi,
                "share": effect / ref_mean if n and ref_mean else math.nan,
                "excludes_zero": bool(n > 1 and (effect_lo > 0 or effect_hi < 0)),
            }
        )
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows).sort_values("effect", na_position="last", kind="stable")
    table.insert(0, "rank", range(1, len(table) + 1))
    return table.reset_index(drop=True)[columns]


def compact_grid_labels(frame: pd.DataFrame, grid_keys: Sequence[str]) -> pd.DataFrame:
    """A copy of a study table whose block-valued grid columns read as short labels, for figures.

    A grid key that sweeps a whole block (``market.contagion: [{...}, {...}]``) holds JSON mappings;
    drawn as they are they overlap. Each becomes what it sets apart from the first grid point's mapping
    (``cross_margin=false``); the first point (and any point equal to it) shows its own fields. Scalar
    grid columns are left as they are.

    Args:
        frame: a table with a ``point`` column and the grid columns (results or fragility).
        grid_keys: the swept keys.

    Returns:
        The relabelled copy (the input is not changed).
    """
    out = frame.copy()
    for key in grid_keys:
        if key not in out or out.empty:
            continue
        parsed: dict[Any, dict[str, Any]] = {}
        for value in out[key].unique():
            obj = _block(value)
            if obj is None:
                break
            parsed[value] = obj
        else:
            first_value = out.sort_values("point")[key].iloc[0] if "point" in out else out[key].iloc[0]
            first = parsed[first_value]
            own = _settings_label(first, {})
            # one setting a line: the labels stay narrow on a figure's axis
            labels = {
                v: (_settings_label(m, first) if m != first else own).replace(", ", "\n")
                for v, m in parsed.items()
            }
            out[key] = out[key].map(labels)
    return out
