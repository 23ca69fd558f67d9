"""Helpers shared by the experiments tests: a tiny market that runs in well under a second."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TINY_POPULATION = [
    "market.leveraged.count=30",
    "market.market_makers.count=2",
    "market.background.fundamental_count=4",
    "market.background.noise_count=6",
]
"""Overrides that keep every population small (large holders are left as the scenario needs them)."""

TINY = [*TINY_POPULATION, "market.large_holders.count=1", "duration_hours=0.02", "sample_seconds=10"]
"""A tiny baseline-like run: 72 one-second steps, small populations."""


def subprocess_env() -> dict[str, str]:
    """Environment for child processes: the repository first on the path, no user site."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("MPLBACKEND", "Agg")
    return env
