"""Benchmark: one simulated day of the full market (a measurement, not a test).

3 symbols (BTC, ETH, SOL), 10,000 leveraged traders, 20 market makers, 5 large holders and the default
background flow, 1-second steps, with an hourly shock (cycling: a BTC index drop of 1.5%, a whale
selling 20% of its inventory over 10 minutes, a macro risk-off shock, an ETH index drop of 2%).

    python benchmarks/day.py                 # one day, 3 runs (about 10 minutes)
    python benchmarks/day.py --hours 1 --runs 3
    python benchmarks/day.py --hours 1 --runs 1 --phase-times   # wall seconds spent in each phase

Prints one JSON line per run set: ``hours``, ``runs``, ``wall_s`` (median), ``sim_per_wall``,
``book_msgs_per_s``, ``liquidations``, ``peak_rss_mb``, plus the per-run figures (with ``--phase-times``,
``phase_s``: seconds per phase of ``CryptoMarket.phases``, measured by wrapping each one; the wrappers
add a little time of their own). Each run is a fresh process (so peak RSS is per run) with seed 1, 2, ...;
the machine is shared, so read medians.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model.market import CryptoMarket, Phase  # noqa: E402 (importable once the checkout is on the path)
from model.params import MarketParams  # noqa: E402


def day_params(hours: float) -> dict[str, Any]:
    """The benchmark market: the default market at 10,000 traders with hourly shocks."""
    cycle = [
        {"kind": "index_jump", "symbol": "BTC", "pct": -0.015},
        {"kind": "whale_sale", "fraction": 0.2, "mode": "twap", "duration_minutes": 10, "holder": 0},
        {"kind": "macro_risk_off", "size": 1.0},
        {"kind": "index_jump", "symbol": "ETH", "pct": -0.02},
    ]
    shocks = []
    for h in range(1, int(hours) + 1):
        if h >= hours:
            break
        shock = dict(cycle[(h - 1) % len(cycle)])
        if shock["kind"] == "whale_sale":
            shock["holder"] = (h // len(cycle)) % 5
        shocks.append({**shock, "at_hour": float(h)})
    return {
        "leveraged": {"count": 10_000},
        "market_makers": {"count": 20},
        "large_holders": {"count": 5},
        "shocks": shocks,
    }


def _timed(phase: Phase, spent: dict[str, float], name: str) -> Phase:
    def run() -> None:
        t0 = time.perf_counter()
        phase()
        spent[name] += time.perf_counter() - t0

    return run


def one_run(hours: float, seed: int, phase_times: bool = False) -> dict[str, Any]:
    """Run the market in this process and measure it (and each phase, with ``phase_times``)."""
    params = MarketParams.model_validate(day_params(hours))
    t0 = time.perf_counter()
    market = CryptoMarket(params, seed=seed)
    build_s = time.perf_counter() - t0
    spent = {name: 0.0 for name, _ in market.phases}
    if phase_times:
        for name, phase in market.phases:
            market.replace_phase(name, _timed(phase, spent, name))
    t1 = time.perf_counter()
    market.run_for(hours * 3600.0)
    wall = time.perf_counter() - t1
    assert market.exchange.ledger_imbalance() == 0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    extra = {"phase_s": {k: round(v, 2) for k, v in spent.items()}} if phase_times else {}
    return {
        "seed": seed,
        "build_s": round(build_s, 2),
        "wall_s": round(wall, 2),
        "book_msgs": market.exchange.messages,
        "liquidations": len(market.engine.events),
        "adl": len(market.engine.adl_events),
        "peak_rss_mb": round(rss_mb, 1),
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=24.0, help="simulated hours per run (default 24)")
    ap.add_argument("--runs", type=int, default=3, help="runs (fresh processes), default 3")
    ap.add_argument("--phase-times", action="store_true", help="also time each phase of the step")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(one_run(args.hours, args.child, args.phase_times)))
        return 0
    results = []
    for seed in range(1, args.runs + 1):
        flags = ["--phase-times"] if args.phase_times else []
        out = subprocess.run(
            [sys.executable, __file__, "--hours", str(args.hours), "--child", str(seed), *flags],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    wall = statistics.median(r["wall_s"] for r in results)
    msgs = statistics.median(r["book_msgs"] / r["wall_s"] for r in results)
    print(
        json.dumps(
            {
                "benchmark": "day",
                "hours": args.hours,
                "runs": len(results),
                "wall_s": wall,
                "sim_per_wall": round(args.hours * 3600.0 / wall, 1),
                "book_msgs_per_s": round(msgs),
                "liquidations": statistics.median(r["liquidations"] for r in results),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
                "per_run": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
