"""Venue presets: the numbers of a Binance-like and a Hyperliquid-like perpetual-futures venue.

Dated presets (rules change): Binance USDT-M BTCUSDT brackets as published historically (see
``MARKET_FACTS.md`` §3), Binance funding (8 h, I = 0.01%, clamp 0.05%), clearance fee up to 0.5%;
Hyperliquid (2025): hourly funding at 1/8 of the 8-h rate capped at 4%/h, maintenance = half the initial
margin at max leverage, positions above $100K liquidated 20% at a time with a 30-s cooldown, no
clearance fee. Both use a 5% price band around the mark (Binance's PERCENT_PRICE filter, Hyperliquid's
oracle band). Every number can be overridden in a config's ``venue`` section.
"""

from __future__ import annotations

from typing import Any

# (max_notional_usd, mmr, imr): the historical BTCUSDT bracket template.
BINANCE_BTC_TIERS: list[dict[str, float]] = [
    {"max_notional_usd": 50_000, "mmr": 0.004, "imr": 0.008},
    {"max_notional_usd": 250_000, "mmr": 0.005, "imr": 0.01},
    {"max_notional_usd": 1_000_000, "mmr": 0.01, "imr": 0.02},
    {"max_notional_usd": 5_000_000, "mmr": 0.025, "imr": 0.05},
    {"max_notional_usd": 20_000_000, "mmr": 0.05, "imr": 0.10},
    {"max_notional_usd": 50_000_000, "mmr": 0.10, "imr": 0.20},
    {"max_notional_usd": 100_000_000, "mmr": 0.125, "imr": 0.25},
    {"max_notional_usd": 200_000_000, "mmr": 0.15, "imr": 1 / 3},
    {"max_notional_usd": 500_000_000, "mmr": 0.25, "imr": 0.50},
]

PRESETS: dict[str, dict[str, Any]] = {
    "binance_like": {
        "maker_fee": 0.0002,
        "taker_fee": 0.0005,
        "liquidation_fee": 0.005,
        "funding_interval_hours": 8.0,
        "funding_interest_per_interval": 0.0001,
        "funding_clamp": 0.0005,
        "funding_cap": 0.0075,
        "mark_basis_window_seconds": 30.0,
        "maintenance_rule": "tiers",
        "max_leverage": 125.0,
        "tiers": BINANCE_BTC_TIERS,
        "partial_liquidation_notional_usd": None,
        "partial_liquidation_fraction": 1.0,
        "partial_liquidation_cooldown_seconds": 0.0,
        "insurance_fund_usd": 2_000_000.0,
        "price_band": 0.05,
    },
    "hyperliquid_like": {
        "maker_fee": 0.00015,
        "taker_fee": 0.00045,
        "liquidation_fee": 0.0,
        "funding_interval_hours": 1.0,
        "funding_interest_per_interval": 0.0001 / 8,
        "funding_clamp": 0.0005 / 8,
        "funding_cap": 0.04,
        "mark_basis_window_seconds": 30.0,
        "maintenance_rule": "half_initial",
        "max_leverage": 40.0,
        "tiers": None,
        "partial_liquidation_notional_usd": 100_000.0,
        "partial_liquidation_fraction": 0.2,
        "partial_liquidation_cooldown_seconds": 30.0,
        "insurance_fund_usd": 2_000_000.0,
        "price_band": 0.05,
    },
}
