"""Small markets for the model tests: fewer traders and shorter runs, same mechanics as the default."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from model.market import CryptoMarket
from model.metrics import max_drawdown, summarize
from model.params import MarketParams

SMALL: dict[str, Any] = {
    "leveraged": {"count": 1500},
    "market_makers": {"count": 10},
    "large_holders": {"count": 3},
    "background": {"fundamental_count": 45, "noise_count": 60},
}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base`` (dicts merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def small_params(**override: Any) -> MarketParams:
    """The small test market with ``override`` merged in (validated)."""
    return MarketParams.model_validate(merge(SMALL, override))


def run_market(
    params: MarketParams, seed: int, hours: float, dt_seconds: float = 1.0, sample_seconds: float = 60.0
):
    """Build and run a market; return it (frames via its methods)."""
    market = CryptoMarket(params, seed=seed, dt_seconds=dt_seconds, sample_seconds=sample_seconds)
    market.run_for(hours * 3600.0)
    return market


def drawdowns_pct(market: CryptoMarket) -> dict[str, float]:
    """Max drawdown of each symbol's sampled mid, %."""
    ts = market.timeseries_frame()
    return {str(s): max_drawdown(ts[ts["symbol"] == s]["mid"]) * 100.0 for s in ts["symbol"].unique()}


def summary(market: CryptoMarket) -> dict[str, Any]:
    """``model.metrics.summarize`` of a finished market."""
    return summarize(market.timeseries_frame(), market.liquidations_frame(), market.adl_frame())


def mean(values: list[float]) -> float:
    """Arithmetic mean as a float."""
    return float(np.mean(values))
