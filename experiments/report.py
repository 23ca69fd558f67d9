"""Markdown reports of a run and of a study (tables written here; no ``tabulate`` dependency).

``cascadelab report DIR`` re-renders either kind: a run directory (``summary.json`` + Parquet frames) or a
study directory (``study.yaml`` + ``results.parquet``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.config import ConfigError, ExperimentConfig

Formatter = Callable[[Any], str]


# --------------------------------------------------------------------------- formatting


def _finite(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_usd(value: Any) -> str:
    """Dollars, compact (``$1.23M``); ``-`` when missing.

    Args:
        value: an amount in USD.

    Returns:
        The text.
    """
    f = _finite(value)
    if f is None:
        return "-"
    sign = "-" if f < 0 else ""
    v = abs(f)
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if v >= div:
            return f"{sign}${v / div:,.2f}{unit}"
    return f"{sign}${v:,.0f}"


def fmt_pct(value: Any, digits: int = 2) -> str:
    """A number already in percent, with a sign: ``-3.25%``.

    Args:
        value: percent.
        digits: decimals.

    Returns:
        The text (``-`` when missing).
    """
    f = _finite(value)
    return "-" if f is None else f"{f:+.{digits}f}%"


def fmt_prob(value: Any) -> str:
    """A probability as a percentage without sign: ``12.5%``.

    Args:
        value: a fraction.

    Returns:
        The text.
    """
    f = _finite(value)
    return "-" if f is None else f"{f * 100:.1f}%"


def fmt_num(value: Any) -> str:
    """A plain number: integers with thousands separators, floats with 4 significant digits.

    Args:
        value: the number (or anything printable).

    Returns:
        The text.
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    f = _finite(value)
    if f is None:
        return str(value) if not isinstance(value, float) else "-"
    if f == int(f) and abs(f) < 1e15:
        return f"{int(f):,}"
    return f"{f:.4g}"


def fmt_time(seconds: Any) -> str:
    """Simulated seconds as ``[Nd ]HH:MM:SS``.

    Args:
        seconds: seconds.

    Returns:
        The text.
    """
    f = _finite(seconds)
    if f is None:
        return "-"
    from experiments.runner import format_hms

    return format_hms(f)


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
            fmt: Formatter = col[2] if len(col) == 3 else fmt_num
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
    ("return_pct", "return", fmt_pct),
    ("max_drawdown_pct", "max drawdown", lambda v: fmt_pct(-abs(v)) if _finite(v) is not None else "-"),
    ("liquidations_long_usd", "longs liquidated", fmt_usd),
    ("liquidations_short_usd", "shorts liquidated", fmt_usd),
    ("liquidation_count", "liquidations", fmt_num),
    ("adl_count", "ADL", fmt_num),
    ("oi_start_usd", "OI start", fmt_usd),
    ("oi_end_usd", "OI end", fmt_usd),
    ("oi_change_pct", "OI change", fmt_pct),
    ("realized_vol", "realised vol", fmt_num),
    ("long_liq_max_day_usd", "longs, worst 24 h", fmt_usd),
    ("long_liq_max_week_usd", "longs, worst 7 d", fmt_usd),
    ("long_liq_share", "long share", lambda v: fmt_num(100 * v) + "%" if _finite(v) is not None else "-"),
]

_CASCADE_COLUMNS: list[tuple[str, str, Formatter]] = [
    ("n", "#", fmt_num),
    ("symbol", "symbol", str),
    ("side", "liquidated side", lambda v: "-" if v is None else str(v)),
    ("start_s", "start", fmt_time),
    ("end_s", "end", fmt_time),
    ("duration_s", "duration", fmt_time),
    ("drop_pct", "price move", fmt_pct),
    ("liquidated_usd", "liquidated", fmt_usd),
]


def run_report_markdown(
    summary: Mapping[str, Any],
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
    name = summary.get("name") or (config.name if config else "run")
    lines = [f"# Run report: {name}", ""]
    if config is not None and config.description.strip():
        lines += [" ".join(config.description.split()), ""]
    settings = [
        {"k": "seed", "v": str(summary.get("seed"))},
        {"k": "simulated time", "v": fmt_time(summary.get("sim_seconds"))},
        {"k": "steps x dt", "v": f"{fmt_num(summary.get('steps'))} x {fmt_num(summary.get('dt_seconds'))} s"},
        {"k": "sampling", "v": f"every {fmt_num(summary.get('sample_seconds'))} s"},
        {"k": "wall time", "v": f"{fmt_num(summary.get('wall_seconds'))} s"},
        {"k": "simulated s per wall s", "v": fmt_num(summary.get("sim_seconds_per_wall_second"))},
        {"k": "ledger imbalance (micro-USD)", "v": fmt_num(summary.get("ledger_imbalance"))},
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
    symbols = summary.get("symbols", {}) or {}
    lines += ["## Per symbol", ""]
    lines.append(markdown_table([{"symbol": s, **dict(v)} for s, v in symbols.items()], _SYMBOL_COLUMNS))
    totals = summary.get("totals", {}) or {}
    lines += [
        f"All symbols: {fmt_usd(totals.get('liquidations_long_usd'))} of longs and "
        f"{fmt_usd(totals.get('liquidations_short_usd'))} of shorts liquidated in "
        f"{fmt_num(totals.get('liquidation_count'))} events; {fmt_num(totals.get('adl_count'))} ADL events; "
        f"open interest {fmt_pct(totals.get('oi_change_pct'))}.",
        "",
        "## Insurance fund",
        "",
        markdown_table(
            [
                {
                    "start": summary.get("insurance_fund_start_usd"),
                    "min": summary.get("insurance_fund_min_usd"),
                    "end": summary.get("insurance_fund_end_usd"),
                }
            ],
            [("start", "start", fmt_usd), ("min", "minimum", fmt_usd), ("end", "end", fmt_usd)],
        ),
        "## Cascades",
        "",
    ]
    cascades = [
        {
            "n": i + 1,
            **dict(c),
            "duration_s": (_finite(c.get("end_s")) or 0) - (_finite(c.get("start_s")) or 0),
        }
        for i, c in enumerate(summary.get("cascades", []) or [])
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
                    ("time_s", "time", fmt_time),
                    ("symbol", "symbol", str),
                    ("side", "side", str),
                    ("notional_usd", "notional", fmt_usd),
                    ("price_usd", "price", fmt_num),
                    ("rank", "rank", fmt_num),
                ],
            ),
        ]
    return _finish(lines, figures)


def _shock_text(shock: Mapping[str, Any]) -> str:
    kind = shock.get("kind", "?")
    rest = ", ".join(f"{k}={v}" for k, v in shock.items() if k not in ("kind", "at_hour"))
    return f"{kind} at {shock.get('at_hour')} h ({rest})"


def write_run_report(
    run_dir: str | Path,
    *,
    summary: Mapping[str, Any],
    timeseries: pd.DataFrame,
    liquidations: pd.DataFrame,
    adl: pd.DataFrame,
    config: ExperimentConfig | None = None,
    figures: bool = True,
) -> Path:
    """Render a run's figures and ``report.md`` into its directory.

    Args:
        run_dir: the run directory.
        summary: the run's summary.
        timeseries: the sampled series.
        liquidations: the liquidation events.
        adl: the ADL events.
        config: the run's config.
        figures: render ``figures/*.png`` (otherwise the report links none).

    Returns:
        The path of ``report.md``.
    """
    path = Path(run_dir)
    rels: list[str] = []
    if figures:
        from experiments.plots import run_figures

        pngs = run_figures(timeseries, liquidations, adl, path / "figures")
        rels = [p.relative_to(path).as_posix() for p in pngs]
    text = run_report_markdown(summary, config, rels, adl)
    (path / "report.md").write_text(text, encoding="utf-8")
    return path / "report.md"


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
    from experiments.montecarlo import numeric_column, threshold_label

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
        cols: list[tuple[str, str] | tuple[str, str, Formatter]] = [("point", "point", fmt_num)]
        cols += [(k, k.split(".")[-1], fmt_num) for k in grid_keys]
        cols.append(("ok", "runs", fmt_num))
        records = frag.to_dict("records")
        metrics = [("cascade", "P(cascade)")] + [
            (f"drawdown_{threshold_label(t)}", f"P(DD>={t:.0%})") for t in study.thresholds
        ]
        for rec in records:
            for metric, _ in metrics:
                rec[f"_{metric}"] = _prob_ci(rec, metric)
        cols += [(f"_{metric}", header, str) for metric, header in metrics]
        cols += [
            ("liquidated_usd_mean", "liquidated mean", fmt_usd),
            ("liquidated_usd_p90", "liquidated p90", fmt_usd),
            ("alt_drawdown_pct_mean", "alt DD mean %", fmt_num),
            ("alt_drawdown_pct_p90", "alt DD p90 %", fmt_num),
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
                    ("point", "point", fmt_num),
                    ("seed", "seed", str),
                    ("error", "error", str),
                ],
            ),
        ]
    return _finish(lines, figures)


def _prob_ci(rec: Mapping[Any, Any], metric: str) -> str:
    p, lo, hi = rec.get(f"p_{metric}"), rec.get(f"p_{metric}_lo"), rec.get(f"p_{metric}_hi")
    if _finite(p) is None:
        return "-"
    return f"{fmt_prob(p)} [{fmt_prob(lo)}, {fmt_prob(hi)}]"


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
        from experiments.plots import study_figures

        pngs = study_figures(results, frag, grid_keys, config.study.thresholds, path / "figures")
        rels = [p.relative_to(path).as_posix() for p in pngs]
    text = study_report_markdown(results, frag, config, grid_keys, rels, hours)
    (path / "report.md").write_text(text, encoding="utf-8")
    return path / "report.md"


# --------------------------------------------------------------------------- dispatch


def render(directory: str | Path) -> Path:
    """Re-render the report of a run directory or a study directory.

    Args:
        directory: a run directory (``summary.json``) or a study directory (``study.yaml``).

    Returns:
        The path of ``report.md``.

    Raises:
        ConfigError: the directory is neither.
    """
    path = Path(directory)
    if not path.is_dir():
        raise ConfigError([f"{path}: no such directory"])
    if (path / "study.yaml").is_file():
        from experiments.montecarlo import rerender_study

        return rerender_study(path)
    if (path / "summary.json").is_file():
        from experiments.runner import load_run

        run = load_run(path)
        return write_run_report(
            path,
            summary=run.summary,
            timeseries=run.timeseries,
            liquidations=run.liquidations,
            adl=run.adl,
            config=run.config,
            figures=True,
        )
    raise ConfigError([f"{path}: neither a run directory (summary.json) nor a study directory (study.yaml)"])


def summary_text(summary: Mapping[str, Any]) -> str:
    """A few lines for the terminal after a run.

    Args:
        summary: the run's summary.

    Returns:
        The text.
    """
    totals = summary.get("totals", {}) or {}
    parts = [
        f"simulated {fmt_time(summary.get('sim_seconds'))} in {fmt_num(summary.get('wall_seconds'))} s wall",
        f"liquidated {fmt_usd(totals.get('liquidated_usd'))} "
        f"({fmt_num(totals.get('liquidation_count'))} events, {fmt_num(totals.get('adl_count'))} ADL), "
        f"{fmt_num(totals.get('cascade_count'))} cascade(s)",
    ]
    for sym, m in (summary.get("symbols", {}) or {}).items():
        drawdown = -abs(_finite(m.get("max_drawdown_pct")) or 0.0)
        parts.append(
            f"{sym}: return {fmt_pct(m.get('return_pct'))}, max drawdown {fmt_pct(drawdown)}, "
            f"OI {fmt_pct(m.get('oi_change_pct'))}"
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
