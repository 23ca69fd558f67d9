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
from experiments.plots import ablation_figure, compare_figures, run_figures, study_figures
from experiments.rundir import RunResult, load_run
from experiments.stats import RISK_METRICS, ablation_table, numeric_column, risk_outcomes, threshold_label
from experiments.stylized import (
    ALT_SPREAD_MAX_BP,
    TAIL_FRACTION,
    StudyPredatesFacts,
    facts_table,
    run_facts_markdown,
    study_facts_markdown,
    study_facts_table,
    tick_sizes,
)
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


NOT_APPLICABLE = "\u2014"
"""The text of a cell that has no meaning for this run (an em dash), as opposed to a missing value."""

DAY_S = 86_400.0


def _magnitude_pct(value: Any) -> str:
    """A drawdown as summary.json keeps it: a positive magnitude in percent (``5.00%``)."""
    f = finite(value)
    return "-" if f is None else f"{abs(f):.2f}%"


def _fraction_pct(value: Any) -> str:
    """A fraction as a percentage, no sign (``37.6%``); an em dash when missing (not applicable)."""
    f = finite(value)
    return NOT_APPLICABLE if f is None else f"{f * 100:.1f}%"


def _vol(value: Any) -> str:
    f = finite(value)
    return "-" if f is None else f"{f:.4f}"


def _symbol_columns(summary: RunSummary) -> list[tuple[str, str, Formatter]]:
    """The per-symbol table's columns, with units, less those that mean nothing for this run's length."""
    cols: list[tuple[str, str, Formatter]] = [
        ("symbol", "symbol", str),
        ("return_pct", "return (%)", format_pct),
        ("max_drawdown_pct", "max drawdown (%, magnitude)", _magnitude_pct),
        ("liquidations_long_usd", "longs liquidated (USD)", format_usd),
        ("liquidations_short_usd", "shorts liquidated (USD)", format_usd),
        ("liquidation_count", "liquidations (events)", format_num),
        ("adl_count", "ADL (fills)", format_num),
        ("adl_notional_usd", "ADL notional (USD)", format_usd),
        ("oi_start_usd", "OI start (USD)", format_usd),
        ("oi_end_usd", "OI end (USD)", format_usd),
        ("oi_change_pct", "OI change (%)", format_pct),
        ("realized_vol", "realised vol (fraction/sqrt(day))", _vol),
    ]
    if summary.sim_seconds >= DAY_S:
        cols.append(("long_liq_max_day_usd", "longs, worst 24 h (USD)", format_usd))
    if summary.sim_seconds >= 7 * DAY_S:
        cols.append(("long_liq_max_week_usd", "longs, worst 7 d (USD)", format_usd))
    cols.append(("long_liq_share", "long share of liquidated (%)", _fraction_pct))
    return cols


_CASCADE_COLUMNS: list[tuple[str, str, Formatter]] = [
    ("n", "#", format_num),
    ("symbol", "symbol", str),
    ("side", "liquidated side", lambda v: "-" if v is None else str(v)),
    ("start_s", "start (h:m:s)", format_hms),
    ("end_s", "end (h:m:s)", format_hms),
    ("duration_s", "duration (h:m:s)", format_hms),
    ("move_pct", "detected move (%)", format_pct),
    ("drop_pct", "first to last sample (%)", format_pct),
    ("liquidated_usd", "liquidated (USD)", format_usd),
]

ADL_RANK_SENTENCE = (
    "The `rank` of an ADL fill is the deleveraged account's score in the venue's ADL queue when it was "
    "closed (higher scores are closed first): PnL% x effective leverage for the ranked queue "
    "(PnL% / leverage for a losing account), mark/entry x leverage for the Hyperliquid-style queue, and "
    "the account's share of the round for pro-rata."
)


def cascade_definition_text(summary: RunSummary) -> str:
    """The cascade definition a summary was found with, in words (the default when it does not say).

    Args:
        summary: the run's summary (its ``cascade_definition``).

    Returns:
        One sentence.
    """
    d = {"min_drop": 0.03, "window_s": 900.0, "min_liq_share_of_oi": 0.01, "min_liquidated_usd": 0.0}
    d.update(summary.cascade_definition or {})
    floor = f" and at least {format_usd(d['min_liquidated_usd'])}" if d["min_liquidated_usd"] > 0 else ""
    return (
        f"a cascade is a price move of at least {d['min_drop'] * 100:g}% against one side (from the "
        f"highest price for longs, the lowest for shorts) within {format_hms(d['window_s'])} (h:m:s) while "
        f"that side's liquidations in the same window reach {d['min_liq_share_of_oi'] * 100:g}% of the "
        f"symbol's open interest{floor}; overlapping windows merge into one episode"
    )


def _seconds(value: Any) -> str:
    f = finite(value)
    return NOT_APPLICABLE if f is None else f"{format_hms(f)} ({f:,.0f} s)"


def risk_section(summary: RunSummary) -> list[str]:
    """The report's insurance-fund and auto-deleveraging sections (markdown lines).

    Args:
        summary: the run's summary.

    Returns:
        Lines of markdown.
    """
    fund_rows = [
        {"k": "start (USD)", "v": format_usd(summary.insurance_fund_start_usd)},
        {"k": "peak (USD)", "v": format_usd(summary.insurance_fund_peak_usd)},
        {"k": "minimum (USD)", "v": format_usd(summary.insurance_fund_min_usd)},
        {"k": "end (USD)", "v": format_usd(summary.insurance_fund_end_usd)},
        {
            "k": "drawdown, start - minimum (USD, % of start)",
            "v": f"{format_usd(summary.insurance_fund_drawdown_usd)} "
            f"({_magnitude_pct(summary.insurance_fund_drawdown_pct)})",
        },
        {
            "k": "paid out: takeover losses + deficits covered (USD)",
            "v": format_usd(summary.insurance_fund_paid_usd),
        },
        {"k": "ran dry at (h:m:s)", "v": _seconds(summary.insurance_fund_exhausted_s)},
        {"k": "bad debt, covered by nobody (USD)", "v": format_usd(summary.bad_debt_usd)},
    ]
    lines = [
        "## Insurance fund",
        "",
        markdown_table(fund_rows, [("k", "figure", str), ("v", "value", str)]),
    ]
    by_symbol = summary.adl_notional_by_symbol_usd or {}
    adl_rows = [
        {"k": "ADL notional, all symbols (USD)", "v": format_usd(summary.adl_notional_usd)},
        *({"k": f"ADL notional, {sym} (USD)", "v": format_usd(v)} for sym, v in by_symbol.items()),
        {"k": "ADL rounds", "v": format_num(summary.adl_rounds)},
        {"k": "shortfall S (USD)", "v": format_usd(summary.adl_shortfall_usd)},
        {"k": "haircut H (USD)", "v": format_usd(summary.adl_haircut_usd)},
        {"k": "overshoot, sum of max(0, H - S) per round (USD)", "v": format_usd(summary.adl_overshoot_usd)},
        {
            "k": "share of ADL notional below 1x effective leverage",
            "v": _fraction_pct(summary.adl_share_below_1x),
        },
        {
            "k": "share of ADL notional below 3x effective leverage",
            "v": _fraction_pct(summary.adl_share_below_3x),
        },
        {"k": "first liquidation (h:m:s)", "v": _seconds(summary.first_liquidation_s)},
        {"k": "first ADL (h:m:s)", "v": _seconds(summary.first_adl_s)},
        {
            "k": "first liquidation to first ADL (s)",
            "v": NOT_APPLICABLE
            if finite(summary.liquidation_to_adl_s) is None
            else f"{finite(summary.liquidation_to_adl_s):,.0f}",
        },
    ]
    lines += [
        "## Auto-deleveraging",
        "",
        "Shortfall, haircut and overshoot are measured against the mark (docs/adl_overshoot.md): the "
        "overshoot is what the deleveraged accounts paid beyond what the bankrupt positions could not. "
        + ADL_RANK_SENTENCE,
        "",
        markdown_table(adl_rows, [("k", "figure", str), ("v", "value", str)]),
    ]
    return lines


def _two_decimals(value: Any) -> str:
    return NOT_APPLICABLE if finite(value) is None else f"{value:.2f}"


def contagion_section(summary: RunSummary) -> list[str]:
    """The report's contagion table: each alt's drawdown over the leader's and their stress correlation.

    Args:
        summary: the run's summary (per-symbol ``contagion_*``).

    Returns:
        Lines of markdown (none when there is no alt with the figures).
    """
    leader = summary.leader or next(iter(summary.symbols), None)
    rows = [
        {
            "symbol": sym,
            "ratio": m.contagion_drawdown_ratio,
            "corr": m.contagion_stress_corr,
            "calm": m.contagion_calm_corr,
            "lag": m.contagion_lead_lag_s,
            "lag_corr": m.contagion_lead_lag_corr,
        }
        for sym, m in summary.symbols.items()
        if sym != leader and "contagion_drawdown_ratio" in m.model_fields_set
    ]
    if not rows:
        return []
    return [
        "## Contagion",
        "",
        f"Each alt's maximum drawdown over {leader}'s (> 1: the alt fell further); the correlation of "
        f"their sampled log-returns in the stress window ({leader}'s worst fall, peak to trough) and of "
        f"their 1-minute returns outside it (calm: on real venues BTC-ETH is ~0.7-0.8, and it rises under "
        f"stress); and the lag within a minute at which {leader}'s returns correlate most with the alt's "
        f"later ones (> 0: {leader} leads; the resolution is the sample period).",
        "",
        markdown_table(
            rows,
            [
                ("symbol", "symbol", str),
                ("ratio", f"drawdown / {leader}'s (x)", _two_decimals),
                ("corr", "return correlation in the stress window", _two_decimals),
                ("calm", "calm 1-min correlation", _two_decimals),
                (
                    "lag",
                    f"{leader} leads by (s)",
                    lambda v: NOT_APPLICABLE if finite(v) is None else f"{v:g}",
                ),
                ("lag_corr", "correlation at that lag", _two_decimals),
            ],
        ),
    ]


FACTS_HEADING = "## Stylized facts (MARKET_FACTS §4–§5)"
"""The heading of the run report's facts section."""

FACTS_FIGURE = "figures/facts.png"
"""The facts figure of a run directory (shown in the facts section, not among the other figures)."""


def facts_section(table: pd.DataFrame | None, figures: Sequence[str]) -> list[str]:
    """The run report's stylized-facts section: what is measured, the table, the facts figure.

    Args:
        table: the run's :func:`experiments.stylized.facts_table` (None: no section).
        figures: the run's figure paths (the facts figure is shown here when among them).

    Returns:
        Lines of markdown.
    """
    if table is None:
        return []
    lines = [
        FACTS_HEADING,
        "",
        "Measured on the run's 1-minute samples of each perp's mid, its index and the exogenous index path "
        "(`index_path`). ✓/✗: inside/outside the real market's range for a calm day (§5: the targets of "
        "the `baseline` scenario, whose index is a constant-volatility random walk), so a scenario with "
        "shocks is expected outside some; facts without a range are references (§4). An alt's median "
        "spread is checked against the alt rule (<= max(2x BTC's, 2 ticks) and "
        f"<= {ALT_SPREAD_MAX_BP:g} bp); the Hill index uses the largest {TAIL_FRACTION:.0%} of absolute "
        "1-minute returns; `index_path_var_share` is the share of the perp's 1-minute return variance "
        "the exogenous index path explains (R²).",
        "",
        run_facts_markdown(table) if len(table) else "No samples to measure.\n",
    ]
    if FACTS_FIGURE in figures:
        lines += [f"![stylized facts]({FACTS_FIGURE})", ""]
    return lines


def run_report_markdown(
    summary: RunSummary,
    config: ExperimentConfig | None,
    figures: Sequence[str],
    adl: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
) -> str:
    """The text of a run's ``report.md``.

    Args:
        summary: the run's summary.
        config: the run's config (for the description and settings), if known.
        figures: figure paths relative to the run directory.
        adl: ADL events (for a short table of the largest), optional.
        facts: the run's stylized facts (:func:`experiments.stylized.facts_table`), optional: a section
            with the table and the facts figure (``figures/facts.png``, when among ``figures``).

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
        origin = config.origin
        hours_run = finite(summary.hours_run)
        end_h = hours_run if hours_run is not None else config.duration_hours
        planned = finite(summary.duration_hours) or config.planned_hours
        duration = f"{format_num(end_h)} h"
        if planned is not None and end_h < planned:
            duration += f" of the config's {format_num(planned)} h (cut short with --hours)"
        settings += [
            {"k": "config", "v": origin.source or "(given directly)"},
            {"k": "overrides (--set)", "v": "; ".join(f"`{o}`" for o in origin.overrides) or "none"},
            {"k": "duration", "v": duration},
            {"k": "venue preset", "v": m.venue.preset},
            {
                "k": "population",
                "v": f"{m.leveraged.count:,} leveraged, {m.market_makers.count} makers, "
                f"{m.large_holders.count} large holders, "
                f"{m.background.fundamental_count + m.background.noise_count} background"
                + (f", {m.background.value_count} value" if m.background.value_count else ""),
            },
            {
                "k": "shocks",
                "v": "; ".join(_shock_text(s.model_dump(), reached=s.at_hour < end_h) for s in m.shocks)
                or "none",
            },
        ]
        unreached = [s for s in m.shocks if s.at_hour >= end_h]
        if unreached:
            lines += [
                f"**Warning:** {len(unreached)} scheduled shock(s) not reached: the run ended at "
                f"{format_num(end_h)} h, before "
                + ", ".join(f"the {s.kind} at {format_num(s.at_hour)} h" for s in unreached)
                + ".",
                "",
            ]
    lines += ["## Settings", "", markdown_table(settings, [("k", "setting", str), ("v", "value", str)])]
    rows = [{"symbol": s, **m.to_json_dict()} for s, m in summary.symbols.items()]
    for row in rows:  # no share of nothing: an em dash where nothing was liquidated
        if not (finite(row.get("liquidations_long_usd")) or finite(row.get("liquidations_short_usd"))):
            row["long_liq_share"] = None
    lines += ["## Per symbol", "", markdown_table(rows, _symbol_columns(summary))]
    totals = summary.totals
    lines += [
        f"All symbols: {format_usd(totals.liquidations_long_usd)} of longs and "
        f"{format_usd(totals.liquidations_short_usd)} of shorts liquidated in "
        f"{format_num(totals.liquidation_count)} events; {format_num(totals.adl_count)} ADL fills; "
        f"open interest {format_pct(totals.oi_change_pct)}. Drawdowns are positive magnitudes "
        "(5% = a 5% fall from the peak), as in summary.json.",
        "",
    ]
    lines += contagion_section(summary)
    lines += risk_section(summary)
    lines += ["## Cascades", "", f"Definition: {cascade_definition_text(summary)}.", ""]
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
                    ("time_s", "time (h:m:s)", format_hms),
                    ("symbol", "symbol", str),
                    ("side", "side", str),
                    ("notional_usd", "notional (USD)", format_usd),
                    ("price_usd", "price (USD)", format_num),
                    ("effective_leverage", "effective leverage (x)", format_num),
                    ("rank", "rank (score)", format_num),
                ],
            ),
        ]
    lines += facts_section(facts, figures)
    shown = [f for f in figures if not (facts is not None and f == FACTS_FIGURE)]
    return _finish(lines, shown)


def _shock_text(shock: Mapping[str, Any], *, reached: bool = True) -> str:
    kind = shock.get("kind", "?")
    rest = ", ".join(f"{k}={v}" for k, v in shock.items() if k not in ("kind", "at_hour"))
    return f"{kind} at {shock.get('at_hour')} h ({rest})" + ("" if reached else " - not reached")


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
    table = (
        facts_table(result.timeseries, ticks=tick_sizes(result.config)) if len(result.timeseries) else None
    )
    text = run_report_markdown(result.summary, result.config, rels, result.adl, table)
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
        "Probabilities with 95% Wilson intervals; a run has a cascade when `model.metrics.summarize` found "
        "at least one (by default: a 3% move against one side within 15 minutes with 1% of open interest "
        "liquidated), and ADL when any position was auto-deleveraged (P(ADL)); the drawdown is the "
        "leader's (first symbol's) maximum drawdown, a positive magnitude; money in USD.",
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
        metrics.append(("adl", "P(ADL)"))
        for rec in records:
            for metric, _ in metrics:
                rec[f"_{metric}"] = _prob_ci(rec, metric)
        cols += [(f"_{metric}", header, str) for metric, header in metrics]
        cols += [
            ("liquidated_usd_mean", "liquidated mean", format_usd),
            ("liquidated_usd_p90", "liquidated p90", format_usd),
            ("alt_drawdown_pct_mean", "alt DD mean (%)", _magnitude_pct),
            ("alt_drawdown_pct_p90", "alt DD p90 (%)", _magnitude_pct),
            ("insurance_fund_min_usd_mean", "fund min mean", format_usd),
            ("insurance_fund_min_usd_p50", "fund min p50", format_usd),
        ]
        lines.append(markdown_table(records, cols))
    else:
        lines.append("(no finished runs)\n")
    risk = risk_outcomes(results, grid_keys)
    if len(risk) and grid_keys:
        lines += [
            "## Risk outcomes by grid point, ranked",
            "",
            "Best first: by mean bad debt, then ADL notional, then ADL overshoot (what ADL cost the "
            "deleveraged accounts beyond the shortfall it covered, `docs/adl_overshoot.md`), then the "
            "leader's drawdown; means over the runs with 95% intervals (mean +- 1.96 sd / sqrt(n), clipped "
            "at zero); P(fund exhausted) (the engine found the fund's equity below zero) with "
            "a 95% Wilson interval. The same seeds run at every grid point, so "
            "differences between points are differences of policy, not of luck.",
            "",
        ]
        rcols: list[tuple[str, str] | tuple[str, str, Formatter]] = [("rank", "rank", format_num)]
        rcols += [(k, k.split(".")[-1], str) for k in grid_keys]
        rcols.append(("runs", "runs", format_num))
        records = risk.to_dict("records")
        for rec in records:
            for col, _label in RISK_METRICS:
                fmt = _magnitude_pct if col.endswith("_pct") else format_usd
                mean, lo, hi = rec[f"{col}_mean"], rec[f"{col}_lo"], rec[f"{col}_hi"]
                rec[f"_{col}"] = "-" if finite(mean) is None else f"{fmt(mean)} [{fmt(lo)}, {fmt(hi)}]"
            rec["_fund"] = _prob_ci(rec, "fund_exhausted")
        rcols += [(f"_{col}", label, str) for col, label in RISK_METRICS]
        rcols.append(("_fund", "P(fund exhausted)", str))
        lines.append(markdown_table(records, rcols))
    lines += ablation_section(results, config, grid_keys)
    lines += study_facts_section(results, grid_keys)
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


ABLATION_HEADING = "## Ablation: each variant against the reference, paired by seed"
"""The heading of the study report's ablation section."""


def ablation_section(results: pd.DataFrame, config: ExperimentConfig, grid_keys: Sequence[str]) -> list[str]:
    """The study report's ablation ranking (only for a study with ``study.ablation``).

    Args:
        results: the study table.
        config: the study's config (its ``study.ablation`` names the metric and the reference point).
        grid_keys: the swept keys.

    Returns:
        Markdown lines: the table of :func:`experiments.stats.ablation_table`, or a line saying why there
        is none; nothing without an ablation section.
    """
    ablation = config.study.ablation
    if ablation is None:
        return []
    table = ablation_table(results, grid_keys, ablation.metric, ablation.reference)
    lines = [
        ABLATION_HEADING,
        "",
        f"Each grid point against point {ablation.reference} (the reference), on `{ablation.metric}`: the "
        "effect is the variant's value minus the reference's on the same seed (every point runs the same "
        "seeds), averaged over the seeds, with a 95% Student-t interval over the paired differences. "
        "Ranked by effect, most negative first: the mechanism whose removal lowers the metric most carries "
        "most of it. *share* is the effect over the reference's mean.",
        "",
    ]
    if table.empty:
        return [*lines, "(no pair of finished runs to compare)", ""]
    records = table.to_dict("records")
    for rec in records:
        rec["_effect"] = (
            f"{format_num(rec['effect'])} [{format_num(rec['effect_lo'])}, {format_num(rec['effect_hi'])}]"
        )
        rec["_share"] = format_pct(100.0 * rec["share"]) if finite(rec["share"]) is not None else "-"
        rec["_excl"] = "yes" if rec["excludes_zero"] else "no"
    cols: list[tuple[str, str] | tuple[str, str, Formatter]] = [
        ("rank", "rank", format_num),
        ("label", "variant (what differs from the reference)", str),
        ("pairs", "seeds", format_num),
        ("mean", f"{ablation.metric}", format_num),
        ("reference_mean", "reference", format_num),
        ("_effect", "effect [95% interval]", str),
        ("_share", "share of the reference", str),
        ("_excl", "interval excludes 0", str),
    ]
    return [*lines, markdown_table(records, cols), ""]


STUDY_FACTS_HEADING = "## Stylized facts over runs (MARKET_FACTS §4–§5)"
"""The heading of the study report's facts section."""


def study_facts_section(results: pd.DataFrame, grid_keys: Sequence[str]) -> list[str]:
    """The study report's stylized facts: their distribution over the finished runs, per grid point.

    Args:
        results: the study table (with each run's ``fact_*`` columns).
        grid_keys: the swept keys.

    Returns:
        Lines of markdown: the facts each run measured (median, 5th-95th percentile, share in range), or
        one sentence when the study's rows carry none or no run was long enough.
    """
    lines = [STUDY_FACTS_HEADING, ""]
    try:
        table = study_facts_table(results, grid_keys)
    except StudyPredatesFacts:
        return [*lines, "The study's rows carry no facts: it was run before the runs computed them.", ""]
    measured = table[table["runs"] > 0] if len(table) else table
    if measured.empty:
        return [
            *lines,
            "No run measured its 1-minute facts (they need runs of a few minutes at least, sampled at "
            "least once a minute).",
            "",
        ]
    lines += [
        "Each run measures its facts at its end (as `cascadelab facts` does on a run directory); here "
        "their median and 5th-95th percentile over the finished runs, and the share of runs inside the "
        "real market's range for a calm day (§5; an alt's median spread against its run's alt rule).",
        "",
        study_facts_markdown(measured, grid_keys),
    ]
    return lines


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
        ablation = config.study.ablation
        if ablation is not None:
            png = ablation_figure(
                results, grid_keys, ablation.metric, ablation.reference, path / "figures" / "ablation.png"
            )
            pngs += [png] if png is not None else []
        rels = [p.relative_to(path).as_posix() for p in pngs]
    text = study_report_markdown(results, frag, config, grid_keys, rels, hours)
    (path / "report.md").write_text(text, encoding="utf-8")
    return path / "report.md"


# --------------------------------------------------------------------------- comparison of runs


_COMPARE_ROWS: list[tuple[str, Callable[[RunSummary], Any], Formatter]] = [
    ("seed", lambda r: r.seed, format_num),
    ("simulated time (h:m:s)", lambda r: r.sim_seconds, format_hms),
    ("liquidated, longs + shorts (USD)", lambda r: r.totals.liquidated_usd, format_usd),
    ("longs liquidated (USD)", lambda r: r.totals.liquidations_long_usd, format_usd),
    ("shorts liquidated (USD)", lambda r: r.totals.liquidations_short_usd, format_usd),
    ("liquidations (events)", lambda r: r.totals.liquidation_count, format_num),
    ("ADL (fills)", lambda r: r.totals.adl_count, format_num),
    ("ADL notional (USD)", lambda r: r.adl_notional_usd, format_usd),
    ("ADL overshoot (USD)", lambda r: r.adl_overshoot_usd, format_usd),
    ("first liquidation to first ADL (s)", lambda r: r.liquidation_to_adl_s, format_num),
    ("cascades", lambda r: r.totals.cascade_count, format_num),
    ("open interest change (%)", lambda r: r.totals.oi_change_pct, format_pct),
    (
        "leader max drawdown (%, magnitude)",
        lambda r: getattr(r.leader_metrics, "max_drawdown_pct", None),
        _magnitude_pct,
    ),
    ("insurance fund minimum (USD)", lambda r: r.insurance_fund_min_usd, format_usd),
    ("insurance fund drawdown (% of start)", lambda r: r.insurance_fund_drawdown_pct, _magnitude_pct),
    ("bad debt (USD)", lambda r: r.bad_debt_usd, format_usd),
]


def compare_markdown(labels: Sequence[str], summaries: Sequence[RunSummary], figures: Sequence[str]) -> str:
    """The text of a comparison report: one column per run, one row per key metric.

    Args:
        labels: the runs' column headers (their directory names).
        summaries: the runs' summaries, in the same order.
        figures: figure paths relative to the report's directory.

    Returns:
        Markdown text.
    """
    lines = ["# Comparison of runs", ""]
    lines += [f"- `{label}`: {s.name}, seed {s.seed}" for label, s in zip(labels, summaries, strict=True)]
    lines.append("")
    rows: list[dict[str, Any]] = []
    for name, get, fmt in _COMPARE_ROWS:
        row: dict[str, Any] = {"metric": name}
        for i, s in enumerate(summaries):
            row[f"r{i}"] = fmt(get(s))
        rows.append(row)
    for sym in dict.fromkeys(sym for s in summaries for sym in s.symbols):
        row = {"metric": f"{sym} return (%)"}
        for i, s in enumerate(summaries):
            m = s.symbols.get(sym)
            row[f"r{i}"] = format_pct(m.return_pct) if m is not None else NOT_APPLICABLE
        rows.append(row)
    cols: list[tuple[str, str] | tuple[str, str, Formatter]] = [("metric", "metric", str)]
    cols += [(f"r{i}", label, str) for i, label in enumerate(labels)]
    lines += ["## Key metrics", "", markdown_table(rows, cols)]
    return _finish(lines, figures)


def compare_runs(run_dirs: Sequence[str | Path], out_dir: str | Path, *, figures: bool = True) -> Path:
    """Write a side-by-side report of two or more run directories: ``report.md`` and ``figures/``.

    The table holds each run's key metrics (liquidations, ADL, cascades, drawdown, insurance fund); the
    figures overlay the runs' mid prices per symbol and their cumulative liquidated notional.

    Args:
        run_dirs: the run directories (at least two), in the order of the columns.
        out_dir: where to write (created).
        figures: also render the overlaid figures.

    Returns:
        The path of the comparison's ``report.md``.

    Raises:
        ValueError: fewer than two runs.
        ConfigError: one of them is not a run directory.
    """
    if len(run_dirs) < 2:
        raise ValueError(f"compare needs at least two run directories, got {len(run_dirs)}")
    runs = [load_run(d) for d in run_dirs]
    labels = _unique_labels([Path(d).name or str(d) for d in run_dirs])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rels: list[str] = []
    if figures:
        pngs = compare_figures(
            {lab: r.timeseries for lab, r in zip(labels, runs, strict=True)}, out / "figures"
        )
        rels = [p.relative_to(out).as_posix() for p in pngs]
    text = compare_markdown(labels, [r.summary for r in runs], rels)
    (out / "report.md").write_text(text, encoding="utf-8")
    return out / "report.md"


def _unique_labels(names: Sequence[str]) -> list[str]:
    """Directory names, made unique by a suffix where two runs share one."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


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
        f"{format_num(totals.cascade_count)} cascade(s) ({cascade_definition_text(summary)})",
    ]
    for sym, m in summary.symbols.items():
        parts.append(
            f"{sym}: return {format_pct(m.return_pct)}, max drawdown {_magnitude_pct(m.max_drawdown_pct)}, "
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
