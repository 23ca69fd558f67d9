"""Helpers shared by the experiments tests: a tiny market that runs in well under a second."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

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


SYNTHETIC_PRICES = {"BTC": 78_000.0, "ETH": 2_500.0, "SOL": 150.0}
"""Start prices of :func:`synthetic_timeseries` (the default market's)."""


def synthetic_timeseries(
    minutes: int,
    seed: int,
    *,
    spreads_bp: dict[str, float] | None = None,
    vol: float = 1e-3,
    tails_df: float | None = None,
    index_path: bool = True,
) -> pd.DataFrame:
    """A run's time series made by hand, one sample a minute, for BTC, ETH and SOL (long format).

    Each perp's 1-minute log return is the exogenous path's return plus an independent one of the same
    variance (so the path explains half the perp's variance); the index is the mid with a small basis
    noise; the spread is constant in basis points. ``tails_df`` draws the perp's own returns from a
    Student-t with that many degrees of freedom (scaled to ``vol``) instead of a Gaussian.
    """
    rng = np.random.default_rng(seed)
    spreads = spreads_bp or {"BTC": 1.0, "ETH": 1.5, "SOL": 3.0}
    t = np.arange(minutes + 1) * 60.0
    frames = []
    for name, price in SYNTHETIC_PRICES.items():
        path_r = rng.standard_normal(minutes) * vol
        if tails_df is None:
            own_r = rng.standard_normal(minutes) * vol
        else:
            own_r = rng.standard_t(tails_df, minutes) * vol / np.sqrt(tails_df / (tails_df - 2))
        path = price * np.exp(np.concatenate([[0.0], np.cumsum(path_r)]))
        mid = price * np.exp(np.concatenate([[0.0], np.cumsum(path_r + own_r)]))
        half = spreads[name] * mid / 1e4 / 2
        frame = pd.DataFrame(
            {
                "time_s": t,
                "symbol": name,
                "mid": mid,
                "index": mid * (1 + 1e-4 * rng.standard_normal(minutes + 1)),
                "best_bid": mid - half,
                "best_ask": mid + half,
                "volume_usd": rng.uniform(1e5, 2e5, minutes + 1),
                "open_interest_usd": 1e7,
                "liq_long_usd": 0.0,
                "liq_short_usd": 0.0,
            }
        )
        if index_path:
            frame.insert(4, "index_path", path)
        frames.append(frame)
    return pd.concat(frames).sort_values(["time_s", "symbol"], kind="stable").reset_index(drop=True)


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
