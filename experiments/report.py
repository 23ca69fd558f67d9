"""Markdown reports of a run and of a study (tables written here; no ``tabulate`` dependency).

The report layer renders what it is given: a :class:`~experiments.rundir.RunResult` (``report.md`` and
``figures/`` of a run directory) or a study's tables (``report.md`` and ``figures/`` of a study
directory). It reads a run directory back through :mod:`experiments.rundir` only; it never runs a
model or a study (``cascadelab report DIR`` is dispatched by the CLI).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.config import ExperimentConfig
from experiments.format import finite, format_hms, format_num, format_pct, format_prob, format_usd
from experiments.plots import run_figures, study_figures
from experiments.rundir import RunResult, load_run
from experiments.stats import numeric_column, threshold_label
from experiments.summary import RunSummary

Formatter = Callable[[Any], str]
"""A cell formatter of :func:`markdown_table`: value -> text."""


# --------------------------------------------------------------------------- tables


def markdown_table(
    rows: Sequence[Mapping[Any, Any]],
    columns: Sequence[tuple[str, str] | tuple[str, str, Formatter]],
) -> str:
    """A GitHub-flavoured markdown table.

    Args:
        rows: the records.
        columns: (key, header) or (key, header, formatter); numbers are right-aligned.

    Returns:
        The table text (a line ``(none)`` when there are no rows).
    """
    if not rows:
        return "(none)\n"
    headers = [c[1] for c in columns]
    body: list[list[str]] = []
    numeric = [True] * len(columns)
    for row in rows:
        cells = []
        for j, col in enumerate(columns):
            value = row.get(col[0])
            fmt: Formatter = col[2] if len(col) == 3 else format_num
            text = fmt(value)
            if not isinstance(value, int | float) or isinstance(value, bool):
                numeric[j] = numeric[j] and value is None
            cells.append(text.replace("|", "\\|").replace("\n", " "))
        body.append(cells)
    widths = [max(len(headers[j]), *(len(r[j]) for r in body)) for j in range(len(columns))]
    head = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if num else ("-" * (w + 2)) for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    lines = [head, sep]
    for cells in body:
        lines.append(
            "| "
            + " | ".join(
                c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- run report


_SYMBOL_COLUMNS: list[tuple[str, str, Formatter]] = [
    ("symbol", "symbol", str),
    ("return_pct", "return", format_pct),
    ("max_drawdown_pct", "max drawdown", lambda v: format_pct(-abs(v)) if finite(v) is not None else "-"),
    ("liquidations_long_usd", "longs liquidated", format_usd),
    ("liquidations_short_usd", "shorts liquidated", format_usd),
    ("liquidation_count", "liquidations", format_num),
    ("adl_count", "ADL", format_num),
    ("oi_start_usd", "OI start", format_usd),
    ("oi_end_usd", "OI end", format_usd),
    ("oi_change_pct", "OI change", format_pct),
    ("realized_vol", "realised vol", format_num),
    ("long_liq_max_day_usd", "longs, worst 24 h", format_usd),
    ("long_liq_max_week_usd", "longs, worst 7 d", format_usd),
    ("long_liq_share", "long share", lambda v: format_num(100 * v) + "%" if finite(v) is not None else "-"),
]

_CASCADE_COLUMNS: list[tuple[str, str, Formatter]] = [
    ("n", "#", format_num),
    ("symbol", "symbol", str),
    ("side", "liquidated side", lambda v: "-" if v is None else str(v)),
    ("start_s", "start", format_hms),
    ("end_s", "end", format_hms),
    ("duration_s", "duration", format_hms),
    ("drop_pct", "price move", format_pct),
    ("liquidated_usd", "liquidated", format_usd),
]


def run_report_markdown(
    summary: RunSummary,
    config: ExperimentConfig | None,
    figures: Sequence[str],
    adl: pd.DataFrame | None = None,
) -> str:
    """The text of a run's ``report.md``.

    Args:
        summary: the run's summary.
        config: the run's config (for the description and settings), if known.
        figures: figure paths relative to the run directory.
        adl: ADL events (for a short table of the largest), optional.

    Returns:
        Markdown text.
    """
    name = summary.name or (config.name if config else "run")
    lines = [f"# Run report: {name}", ""]
    if config is not None and config.description.strip():
        lines += [" ".join(config.description.split()), ""]
    settings = [
        {"k": "seed", "v": str(summary.seed)},
        {"k": "simulated time", "v": format_hms(summary.sim_seconds)},
        {"k": "steps x dt", "v": f"{format_num(summary.steps)} x {format_num(summary.dt_seconds)} s"},
        {"k": "sampling", "v": f"every {format_num(summary.sample_seconds)} s"},
        {"k": "wall time", "v": f"{format_num(summary.wall_seconds)} s"},
        {"k": "simulated s per wall s", "v": format_num(summary.sim_seconds_per_wall_second)},
        {"k": "ledger imbalance (micro-USD)", "v": format_num(summary.ledger_imbalance)},
    ]
    if config is not None:
        m = config.market
        settings += [
            {"k": "venue preset", "v": m.venue.preset},
            {
                "k": "population",
                "v": f"{m.leveraged.count:,} leveraged, {m.market_makers.count} makers, "
                f"{m.large_holders.count} large holders, "
                f"{m.background.fundamental_count + m.background.noise_count} background"
                + (f", {m.background.value_count} value" if m.background.value_count else ""),
            },
            {"k": "shocks", "v": "; ".join(_shock_text(s.model_dump()) for s in m.shocks) or "none"},
        ]
    lines += ["## Settings", "", markdown_table(settings, [("k", "setting", str), ("v", "value", str)])]
    rows = [{"symbol": s, **m.to_json_dict()} for s, m in summary.symbols.items()]
    lines += ["## Per symbol", "", markdown_table(rows, _SYMBOL_COLUMNS)]
    totals = summary.totals
    lines += [
        f"All symbols: {format_usd(totals.liquidations_long_usd)} of longs and "
        f"{format_usd(totals.liquidations_short_usd)} of shorts liquidated in "
        f"{format_num(totals.liquidation_count)} events; {format_num(totals.adl_count)} ADL events; "
        f"open interest {format_pct(totals.oi_change_pct)}.",
        "",
        "## Insurance fund",
        "",
        markdown_table(
            [
                {
                    "start": summary.insurance_fund_start_usd,
                    "min": summary.insurance_fund_min_usd,
                    "end": summary.insurance_fund_end_usd,
                }
            ],
            [("start", "start", format_usd), ("min", "minimum", format_usd), ("end", "end", format_usd)],
        ),
        "## Cascades",
        "",
    ]
    cascades = [
        {
            "n": i + 1,
            **c.to_json_dict(),
            "duration_s": (finite(c.end_s) or 0) - (finite(c.start_s) or 0),
        }
        for i, c in enumerate(summary.cascades)
    ]
    lines.append(markdown_table(cascades, _CASCADE_COLUMNS) if cascades else "No cascade found.\n")
    if adl is not None and len(adl):
        top = adl.sort_values("notional_usd", ascending=False).head(10)
        lines += [
            "## Largest auto-deleveraging events",
            "",
            markdown_table(
                top.to_dict("records"),
                [
                    ("time_s", "time", format_hms),
                    ("symbol", "symbol", str),
                    ("side", "side", str),
                    ("notional_usd", "notional", format_usd),
                    ("price_usd", "price", format_num),
                    ("rank", "rank", format_num),
                ],
            ),
        ]
    return _finish(lines, figures)


def _shock_text(shock: Mapping[str, Any]) -> str:
    kind = shock.get("kind", "?")
    rest = ", ".join(f"{k}={v}" for k, v in shock.items() if k not in ("kind", "at_hour"))
    return f"{kind} at {shock.get('at_hour')} h ({rest})"


def write_run_report(run_dir: str | Path, result: RunResult, *, figures: bool = True) -> Path:
    """Render a run's figures and ``report.md`` into a directory.

    Args:
        run_dir: the run directory (or the temporary directory it is being written in).
        result: the run (summary, config and frames).
        figures: render ``figures/*.png`` (otherwise the report links none).

    Returns:
        The path of ``report.md``.
    """
    path = Path(run_dir)
    rels: list[str] = []
    if figures:
        pngs = run_figures(result.timeseries, result.liquidations, result.adl, path / "figures")
        rels = [p.relative_to(path).as_posix() for p in pngs]
    text = run_report_markdown(result.summary, result.config, rels, result.adl)
    (path / "report.md").write_text(text, encoding="utf-8")
    return path / "report.md"


def rerender_run(run_dir: str | Path) -> Path:
    """Re-render the figures and ``report.md`` of a run directory from its files alone.

    Args:
        run_dir: a run directory.

    Returns:
        The path of ``report.md``.

    Raises:
        ConfigError: not a run directory (see :func:`experiments.rundir.load_run`).
    """
    run = load_run(run_dir)
    return write_run_report(run_dir, run, figures=True)


# --------------------------------------------------------------------------- study report


def study_report_markdown(
    results: pd.DataFrame,
    frag: pd.DataFrame,
    config: ExperimentConfig,
    grid_keys: Sequence[str],
    figures: Sequence[str],
    hours: float | None = None,
) -> str:
    """The text of a study's ``report.md``.

    Args:
        results: the study table.
        frag: the fragility table.
        config: the base config with the effective study settings.
        grid_keys: the swept keys.
        figures: figure paths relative to the study directory.
        hours: the truncation of every run (None: the full duration).

    Returns:
        Markdown text.
    """
    study = config.study
    n_ok = int((results["status"] == "ok").sum()) if len(results) else 0
    n_failed = len(results) - n_ok
    lines = [f"# Study report: {config.name}", ""]
    if config.description.strip():
        lines += [" ".join(config.description.split()), ""]
    wall = numeric_column(results, "wall_seconds")
    settings = [
        {"k": "runs", "v": f"{len(results):,} ({n_ok:,} ok, {n_failed:,} failed)"},
        {"k": "seeds per point", "v": f"{study.seeds} (master seed {study.master_seed})"},
        {"k": "grid", "v": "; ".join(f"{k} = {v}" for k, v in study.grid.items()) or "(none)"},
        {
            "k": "run length",
            "v": (f"first {hours:g} h of " if hours is not None else "")
            + f"{config.duration_hours:g} h at dt = {config.dt_seconds:g} s",
        },
        {"k": "mean run wall time", "v": f"{float(wall.mean()):.3g} s" if wall.notna().any() else "-"},
    ]
    lines += ["## Settings", "", markdown_table(settings, [("k", "setting", str), ("v", "value", str)])]
    lines += [
        "## Fragility",
        "",
        "Probabilities with 95% Wilson intervals; a cascade is any cascade found by "
        "`model.metrics.summarize`; the drawdown is the leader's (first symbol's) maximum drawdown.",
        "",
    ]
    if len(frag):
        cols: list[tuple[str, str] | tuple[str, str, Formatter]] = [("point", "point", format_num)]
        cols += [(k, k.split(".")[-1], format_num) for k in grid_keys]
        cols.append(("ok", "runs", format_num))
        records = frag.to_dict("records")
        metrics = [("cascade", "P(cascade)")] + [
            (f"drawdown_{threshold_label(t)}", f"P(DD>={t:.0%})") for t in study.thresholds
        ]
        for rec in records:
            for metric, _ in metrics:
                rec[f"_{metric}"] = _prob_ci(rec, metric)
        cols += [(f"_{metric}", header, str) for metric, header in metrics]
        cols += [
            ("liquidated_usd_mean", "liquidated mean", format_usd),
            ("liquidated_usd_p90", "liquidated p90", format_usd),
            ("alt_drawdown_pct_mean", "alt DD mean %", format_num),
            ("alt_drawdown_pct_p90", "alt DD p90 %", format_num),
        ]
        lines.append(markdown_table(records, cols))
    else:
        lines.append("(no finished runs)\n")
    if n_failed:
        failed = results[results["status"] != "ok"].head(20)
        lines += [
            "## Failed runs",
            "",
            markdown_table(
                failed.to_dict("records"),
                [
                    ("run_id", "run", str),
                    ("point", "point", format_num),
                    ("seed", "seed", str),
                    ("error", "error", str),
                ],
            ),
        ]
    return _finish(lines, figures)


def _prob_ci(rec: Mapping[Any, Any], metric: str) -> str:
    p, lo, hi = rec.get(f"p_{metric}"), rec.get(f"p_{metric}_lo"), rec.get(f"p_{metric}_hi")
    if finite(p) is None:
        return "-"
    return f"{format_prob(p)} [{format_prob(lo)}, {format_prob(hi)}]"


def write_study_report(
    study_dir: str | Path,
    *,
    results: pd.DataFrame,
    frag: pd.DataFrame,
    config: ExperimentConfig,
    grid_keys: Sequence[str],
    figures: bool = True,
    hours: float | None = None,
) -> Path:
    """Render a study's figures and ``report.md``.

    Args:
        study_dir: the study directory.
        results: the study table.
        frag: the fragility table.
        config: the base config with the effective study settings.
        grid_keys: the swept keys.
        figures: render ``figures/*.png``.
        hours: the truncation of every run (None: the full duration).

    Returns:
        The path of ``report.md``.
    """
    path = Path(study_dir)
    rels: list[str] = []
    if figures and len(frag):
        pngs = study_figures(results, frag, grid_keys, config.study.thresholds, path / "figures")
        rels = [p.relative_to(path).as_posix() for p in pngs]
    text = study_report_markdown(results, frag, config, grid_keys, rels, hours)
    (path / "report.md").write_text(text, encoding="utf-8")
    return path / "report.md"


# --------------------------------------------------------------------------- terminal


def summary_text(summary: RunSummary) -> str:
    """A few lines for the terminal after a run.

    Args:
        summary: the run's summary.

    Returns:
        The text.
    """
    totals = summary.totals
    parts = [
        f"simulated {format_hms(summary.sim_seconds)} in {format_num(summary.wall_seconds)} s wall",
        f"liquidated {format_usd(totals.liquidated_usd)} "
        f"({format_num(totals.liquidation_count)} events, {format_num(totals.adl_count)} ADL), "
        f"{format_num(totals.cascade_count)} cascade(s)",
    ]
    for sym, m in summary.symbols.items():
        drawdown = -abs(finite(m.max_drawdown_pct) or 0.0)
        parts.append(
            f"{sym}: return {format_pct(m.return_pct)}, max drawdown {format_pct(drawdown)}, "
            f"OI {format_pct(m.oi_change_pct)}"
        )
    return "\n".join(parts)


def dumps(obj: Any) -> str:
    """JSON text for the terminal (``--json`` outputs).

    Args:
        obj: a JSON-safe structure.

    Returns:
        The text.
    """
    return json.dumps(obj, indent=2, default=str)


def _finish(lines: list[str], figures: Sequence[str]) -> str:
    """Append the figures section (one heading and image per figure path) and join the report."""
    if figures:
        lines += ["## Figures", ""]
        for rel in figures:
            title = Path(rel).stem.replace("_", " ")
            lines += [f"### {title}", "", f"![{title}]({rel})", ""]
    return "\n".join(lines).rstrip() + "\n"
