"""Emergence, shown by ablation: same seeds, one mechanism switched off, the effect measured.

Each claim runs several seeds of a small market and compares means with a margin; the measured figures
are printed (``pytest -s``) so that they can be quoted. Nothing here scripts a price: every move comes
from agents trading in the books after an exogenous event (a whale's sale, a jump of BTC's spot index).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import numpy as np
import pytest

from model.metrics import detect_cascades
from model.params import default_symbols
from tests.model.market_helpers import drawdowns_pct, mean, run_market, small_params, summary

SEEDS = (1, 2, 3)
CHANNELS = (
    "cross_margin",
    "shared_mm_budget",
    "btc_watchers",
    "sentiment",
    "relative_value",
    "maker_leader_pricing",
    "asset_leverage",
    "index_coupling",
)
# the perp-level channels the small market has: relative-value desks only when it has some, makers'
# pricing off BTC only when they do it, alt-specific leverage only when set (by default none of them, and a
# channel nothing carries cannot be ablated)
_CARRIED = {
    "relative_value": small_params().relative_value.count > 0,
    "maker_leader_pricing": small_params().market_makers.leader_pricing > 0,
    "asset_leverage": small_params().leveraged.alt_leverage_weights is not None
    or small_params().leveraged.alt_long_tilt != 0,
}
PERP_CHANNELS = tuple(ch for ch in CHANNELS[:-1] if _CARRIED.get(ch, True))
BTC_CRASH = [{"kind": "index_jump", "symbol": "BTC", "pct": -0.08, "at_hour": 0.05}]
WHALE_SALE = [{"kind": "whale_sale", "at_hour": 0.1, "fraction": 1.0, "mode": "twap", "duration_minutes": 10}]


def _key(d: dict[str, Any]) -> str:
    return json.dumps(d, sort_keys=True)


@lru_cache(maxsize=64)
def _run(override_json: str, seed: int, hours: float, dt_seconds: float = 1.0) -> dict[str, Any]:
    market = run_market(small_params(**json.loads(override_json)), seed, hours, dt_seconds=dt_seconds)
    ts = market.timeseries_frame()
    return {
        "dd": drawdowns_pct(market),
        "summary": summary(market),
        "ts": ts,
        "imbalance": market.exchange.ledger_imbalance(),
        "stops": market.exchange.stops_triggered,
    }


def run(override: dict[str, Any], seed: int, hours: float, dt_seconds: float = 1.0) -> dict[str, Any]:
    return _run(_key(override), seed, hours, dt_seconds)


def alt_dd(result: dict[str, Any]) -> float:
    return (result["dd"]["ETH"] + result["dd"]["SOL"]) / 2.0


# --------------------------------------------------------------------------- 1. calm baseline


def test_calm_baseline_stays_calm() -> None:
    for seed in SEEDS:
        r = run({}, seed, 1.5)
        s = r["summary"]
        assert r["imbalance"] == 0
        assert s["cascades"] == [], s["cascades"]
        assert r["dd"]["BTC"] < 3.0
        assert max(r["dd"]["ETH"], r["dd"]["SOL"]) < 5.0
        for sym in s["symbols"].values():
            liquidated = sym["liquidations_long_usd"] + sym["liquidations_short_usd"]
            assert liquidated < 0.03 * sym["oi_start_usd"]


# --------------------------------------------------------------------------- 2. leverage amplifies


def test_leverage_amplifies_a_whale_sale_through_liquidations() -> None:
    levered = [run({"shocks": WHALE_SALE}, seed, 0.5) for seed in SEEDS]
    unlevered = [run({"shocks": WHALE_SALE, "leveraged": {"leverage_cap": 1}}, seed, 0.5) for seed in SEEDS]
    dd_lev = mean([r["dd"]["BTC"] for r in levered])
    dd_1x = mean([r["dd"]["BTC"] for r in unlevered])
    liq_lev = mean([r["summary"]["symbols"]["BTC"]["liquidations_long_usd"] for r in levered])
    liq_1x = mean([r["summary"]["symbols"]["BTC"]["liquidations_long_usd"] for r in unlevered])
    print(
        f"\nwhale sale: BTC drawdown {dd_lev:.2f}% levered vs {dd_1x:.2f}% at 1x, "
        f"amplification {dd_lev / dd_1x:.2f}x"
    )
    print(f"  long liquidations ${liq_lev / 1e6:.1f}M levered vs ${liq_1x / 1e6:.1f}M at 1x")
    assert dd_lev > 1.25 * dd_1x
    # the extra move comes with liquidations, which the unlevered market cannot have
    assert liq_lev > 1e6 and liq_1x == 0.0


# --------------------------------------------------------------------------- 3. contagion


def _contagion(switches: dict[str, bool], seeds: tuple[int, ...] = SEEDS) -> list[dict[str, Any]]:
    return [run({"shocks": BTC_CRASH, "contagion": switches}, seed, 0.3) for seed in seeds]


def test_btc_shock_spreads_to_alts_only_through_the_channels() -> None:
    on = _contagion({})
    off = _contagion(dict.fromkeys(CHANNELS, False))
    no_spot = _contagion({"index_coupling": False})
    alt_on, alt_off = mean([alt_dd(r) for r in on]), mean([alt_dd(r) for r in off])
    alt_no_spot = mean([alt_dd(r) for r in no_spot])
    btc_on, btc_off = mean([r["dd"]["BTC"] for r in on]), mean([r["dd"]["BTC"] for r in off])
    print(f"\nBTC -8% index jump: BTC dd {btc_on:.2f}% (channels on) / {btc_off:.2f}% (off)")
    print(
        f"  alt dd {alt_on:.2f}% every channel on, {alt_no_spot:.2f}% spot coupling off, "
        f"{alt_off:.2f}% all off"
    )
    assert btc_on > 6.0 and btc_off > 6.0  # the shock hits BTC either way
    assert alt_on > 3.0 and alt_on > 4.0 * alt_off  # a BTC-only shock moves ETH and SOL
    assert alt_off < 1.5  # all channels off: the alts are nearly untouched
    assert alt_no_spot < 0.5 * alt_on  # spot-index coupling is the strongest channel in this calibration


def test_switching_off_each_perp_level_channel_lowers_the_alt_drawdown() -> None:
    """Ablation of the perp-level channels, measured with spot coupling off (which would mask them).

    With spot-index coupling on, the alts follow their falling index and the perp-level channels add
    less than the seed-to-seed noise, so each of them is ablated from the 'spot coupling off' market.
    """
    perp_only = {"index_coupling": False}
    base = mean([alt_dd(r) for r in _contagion(perp_only)])
    none = mean([alt_dd(r) for r in _contagion(dict.fromkeys(CHANNELS, False))])
    print(f"\nperp-level channels on: alt dd {base:.2f}%; all off {none:.2f}%")
    for ch in PERP_CHANNELS:
        without = mean([alt_dd(r) for r in _contagion({**perp_only, ch: False})])
        print(f"  {ch:>18} off: alt dd {without:.2f}% ({without - base:+.2f} pp)")
        assert without < base, ch
        assert without >= none - 0.1, ch
    assert base > 2.0 * none


# --------------------------------------------------------------------------- 4. support levels


def _support_market(clustered: bool) -> dict[str, Any]:
    symbols = [s.model_dump() for s in default_symbols()]
    symbols[0]["price_usd"] = 75_400.0  # just above the $75K support
    return {
        "symbols": symbols,
        "leveraged": {
            "stops_at_support": clustered,
            "support_spacing_usd": {"BTC": 5000.0, "ETH": 250.0, "SOL": 10.0},
            "strategy_mix": {"trend": 0.2, "dip_buyer": 0.5, "short_bounce": 0.05, "noise": 0.25},
        },
        "shocks": WHALE_SALE,
    }


def _fall_after_break(result: dict[str, Any], level: float = 75_000.0, window_s: float = 180.0) -> float:
    """Fall (fraction) of BTC's mid in the ``window_s`` after it first trades below ``level``."""
    ts = result["ts"]
    btc = ts[ts["symbol"] == "BTC"].sort_values("time_s")
    below = btc[btc["mid"] < level]
    if below.empty:
        return 0.0
    t0 = float(below["time_s"].iloc[0])
    after = btc[(btc["time_s"] >= t0) & (btc["time_s"] <= t0 + window_s)]
    return float(1.0 - after["mid"].min() / level)


def test_stops_clustered_under_a_round_number_accelerate_the_break() -> None:
    clustered = [run(_support_market(True), seed, 0.4) for seed in SEEDS]
    spread = [run(_support_market(False), seed, 0.4) for seed in SEEDS]
    fall_c, fall_s = (
        mean([_fall_after_break(r) for r in clustered]),
        mean([_fall_after_break(r) for r in spread]),
    )
    print(f"\nfall in the 3 min after breaking $75K: {fall_c:.2%} with stops under it, {fall_s:.2%} without")
    print(
        f"  stops fired: {mean([r['stops'] for r in clustered]):.0f} "
        f"vs {mean([r['stops'] for r in spread]):.0f}"
    )
    assert mean([r["stops"] for r in clustered]) > 50
    assert fall_c > fall_s


# --------------------------------------------------------------------------- 5. deleveraging


def test_a_cascade_deleverages_longs() -> None:
    found = 0
    for r in _contagion({}):
        ts = r["ts"]
        for cascade in detect_cascades(ts):
            if cascade["symbol"] != "BTC" or cascade["side"] != "long":
                continue
            found += 1
            btc = ts[
                (ts["symbol"] == "BTC")
                & (ts["time_s"] >= cascade["start_s"])
                & (ts["time_s"] <= cascade["end_s"])
            ]
            oi0, oi1 = float(btc["open_interest_usd"].iloc[0]), float(btc["open_interest_usd"].iloc[-1])
            longs, shorts = float(btc["liq_long_usd"].sum()), float(btc["liq_short_usd"].sum())
            print(
                f"\ncascade {cascade['start_s']:.0f}-{cascade['end_s']:.0f}s: OI {oi1 / oi0 - 1:+.1%}, "
                f"long share {longs / (longs + shorts):.0%}"
            )
            assert oi1 < oi0
            assert longs / (longs + shorts) > 0.8
    assert found >= len(SEEDS)


# --------------------------------------------------------------------------- 6. time step


@pytest.mark.parametrize("hours", [1.5])
def test_statistics_agree_across_time_steps(hours: float) -> None:
    """Rates are per simulated second: dt = 1 s and dt = 10 s give the same market within tolerance.

    Tolerances: volume per hour and realised volatility within 30% (means over seeds); liquidations
    small (< 2% of open interest) in both.
    """
    out: dict[float, dict[str, float]] = {}
    for dt in (1.0, 10.0):
        rs = [run({}, seed, hours, dt_seconds=dt) for seed in (1, 2)]
        btc = [r["summary"]["symbols"]["BTC"] for r in rs]
        out[dt] = {
            "volume_per_hour": mean([b["volume_usd"] / hours for b in btc]),
            "vol": mean([b["realized_vol"] for b in btc]),
            "liq_share": mean(
                [(b["liquidations_long_usd"] + b["liquidations_short_usd"]) / b["oi_start_usd"] for b in btc]
            ),
        }
    print(f"\ndt=1s: {out[1.0]}\ndt=10s: {out[10.0]}")
    for key in ("volume_per_hour", "vol"):
        assert out[10.0][key] == pytest.approx(out[1.0][key], rel=0.3), key
    assert out[1.0]["liq_share"] < 0.02 and out[10.0]["liq_share"] < 0.02
    assert np.isfinite(out[10.0]["vol"])


# --------------------------------------------------------------------------- the long versions


@pytest.mark.slow
def test_leverage_amplification_over_many_seeds() -> None:
    seeds = tuple(range(1, 11))
    levered = [run({"shocks": WHALE_SALE}, seed, 0.5)["dd"]["BTC"] for seed in seeds]
    unlevered = [
        run({"shocks": WHALE_SALE, "leveraged": {"leverage_cap": 1}}, seed, 0.5)["dd"]["BTC"]
        for seed in seeds
    ]
    print(f"\n10 seeds: BTC drawdown {mean(levered):.2f}% levered vs {mean(unlevered):.2f}% at 1x")
    assert mean(levered) > 1.25 * mean(unlevered)
    assert sum(a > b for a, b in zip(levered, unlevered, strict=True)) >= 7


@pytest.mark.slow
def test_perp_channel_ablation_over_many_seeds() -> None:
    seeds = tuple(range(1, 9))
    perp_only = {"index_coupling": False}
    base = mean([alt_dd(r) for r in _contagion(perp_only, seeds)])
    for ch in PERP_CHANNELS:
        without = mean([alt_dd(r) for r in _contagion({**perp_only, ch: False}, seeds)])
        print(f"\n8 seeds, {ch} off: alt dd {without:.2f}% vs {base:.2f}%")
        assert without < base, ch
