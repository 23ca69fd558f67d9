"""The golden runs: every shipped scenario, short, with its shocks brought forward.

Each case is a scenario name with a seed, the hours to simulate and ``--set`` overrides chosen so that
the window holds at least one funding settlement, liquidation, insurance-fund takeover and ADL (the
golden test asserts each count is > 0). The outputs of these runs, as the code produced them when the
golden files were last regenerated, live in ``tests/golden/mesa-X.Y/<case>/``, one set per supported
Mesa minor version: mesa 3.5 (Python 3.12) orders agents differently from 3.3 (its ``AgentSet`` shuffles
and keeps its order its own way), so the same seed gives a different, equally deterministic run.
``python -m tests.golden.regenerate`` writes the set of the Mesa it runs under anew (only on purpose,
with the reason in the commit message; regenerate both sets).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import mesa


def golden_dir() -> Path:
    """The golden set of the installed Mesa (``tests/golden/mesa-3.3`` or ``mesa-3.5``)."""
    major, minor = mesa.__version__.split(".")[:2]
    return Path(__file__).resolve().parent / f"mesa-{major}.{minor}"


class GoldenCase(NamedTuple):
    """One golden run: ``experiments.run(scenario, seed=seed, hours=hours, overrides=overrides)``."""

    scenario: str
    seed: int
    hours: float
    overrides: tuple[str, ...]


WALL_CLOCK_KEYS = ("wall_seconds", "sim_seconds_per_wall_second")
"""summary.json keys that measure the machine, not the model: left out of the comparison."""

TABLES = ("timeseries", "liquidations", "adl")
"""The run's Parquet tables, compared by content."""

_FUND = "market.venue.insurance_fund_usd=20000"  # a small fund: takeovers first, then ADL
_HOURLY_FUNDING = "market.venue.funding_interval_hours=1"  # a settlement inside a short window

CASES: dict[str, GoldenCase] = {
    "baseline": GoldenCase(
        "baseline",
        1,
        1.5,
        (_HOURLY_FUNDING, _FUND, "market.shocks=[{kind: index_jump, at_hour: 0.5, symbol: BTC, pct: -0.08}]"),
    ),
    "calm_market": GoldenCase(
        "calm_market",
        1,
        1.5,
        (_HOURLY_FUNDING, _FUND, "market.shocks=[{kind: index_jump, at_hour: 0.5, symbol: BTC, pct: -0.08}]"),
    ),
    "contagion_channels": GoldenCase(
        "contagion_channels", 1, 1.2, ("duration_hours=1.2", _HOURLY_FUNDING, _FUND)
    ),
    "whale_dump": GoldenCase("whale_dump", 2, 1.2, (_HOURLY_FUNDING, _FUND, "market.shocks.0.at_hour=0.3")),
    "flash_crash": GoldenCase(
        "flash_crash",
        5,
        1.3,
        (
            "market.venue.insurance_fund_usd=50000",  # the preset pays funding hourly already
            "market.shocks.0.at_hour=0.3",
            "market.shocks.1.at_hour=0.3",
            "market.shocks.2.at_hour=0.32",
            "market.shocks.3.at_hour=0.4",
            "market.shocks.4.at_hour=0.4",
            "market.shocks.5.at_hour=0.45",
        ),
    ),
    "leverage_sweep": GoldenCase(
        "leverage_sweep",
        6,
        1.5,
        (
            _HOURLY_FUNDING,
            _FUND,
            "market.shocks.0.at_hour=0.5",
            "market.shocks.1.at_hour=0.5",
            "market.shocks.1.pct=-0.08",
        ),
    ),
    "macro_risk_off": GoldenCase(
        "macro_risk_off",
        3,
        1.5,
        (
            _HOURLY_FUNDING,
            _FUND,
            "market.shocks=[{kind: macro_risk_off, at_hour: 0.3, size: 3.0}, "
            "{kind: index_jump, at_hour: 0.5, symbol: BTC, pct: -0.08}]",
        ),
    ),
    # a study config added after the redesign (its files come from the code that added it); it runs
    # Hyperliquid's ADL at the previous oracle, the time-spread disposal and the liquidity vault, so the net
    # holds the policies that no preset selects by default
    "policy_compare": GoldenCase(
        "policy_compare",
        5,
        1.3,
        (
            "market.venue.insurance_fund_usd=50000",
            "market.venue.adl_policy=hyperliquid",
            "market.venue.disposal=time_spread",
            "market.venue.backstop=liquidity_vault",
        ),
    ),
    "seed_selloff": GoldenCase(
        "seed_selloff",
        4,
        30.0,
        (
            _FUND,
            "market.shocks=[{kind: macro_risk_off, at_hour: 2, size: 2.0}, "
            "{kind: index_jump, at_hour: 6, symbol: BTC, pct: -0.08}, "
            "{kind: whale_sale, at_hour: 8, holder: 0, fraction: 0.5, mode: twap, duration_minutes: 360}]",
        ),
    ),
}
