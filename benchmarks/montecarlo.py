"""Monte Carlo throughput: one-hour runs of the day benchmark's market through worker processes.

The market is the ``day`` benchmark's (DESIGN.md §10): BTC, ETH and SOL, 10,000 leveraged traders,
20 market makers, 5 large holders, a shock every simulated hour (here one per one-hour run, at 30 min),
1-second steps. The runs go through :func:`experiments.sweep` exactly as a study does (spawned worker
processes, one file per finished run, ``results.parquet``), so the figure includes process start-up,
config validation and the per-run bookkeeping.

Prints one JSON line::

    {"benchmark": "montecarlo", "runs": 8, "workers": 2, "hours": 1.0, "wall_s": ..., "runs_per_hour": ...}

Floor: 400 runs per hour on 2 cores; target 1,000.

Usage::

    python benchmarks/montecarlo.py [--runs 8] [--workers 2] [--hours 1] [--traders 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments.config import ExperimentConfig  # noqa: E402
from experiments.study import sweep  # noqa: E402


def day_market_config(hours: float = 1.0, traders: int = 10_000) -> ExperimentConfig:
    """The day benchmark's market, cut to ``hours`` simulated hours with a shock every hour.

    Args:
        hours: simulated hours per run.
        traders: leveraged traders (10,000 in the benchmark).

    Returns:
        The validated experiment config.
    """
    kinds: list[dict[str, Any]] = [
        {"kind": "index_jump", "symbol": "BTC", "pct": -0.02},
        {"kind": "macro_risk_off", "size": 2.0},
        {"kind": "whale_sale", "holder": 0, "fraction": 0.3, "duration_minutes": 10},
        {"kind": "maker_withdrawal", "fraction": 0.3, "duration_minutes": 10},
    ]
    n_shocks = max(1, int(hours))
    shocks = [{**kinds[i % len(kinds)], "at_hour": i + 0.5} for i in range(n_shocks) if i + 0.5 < hours]
    return ExperimentConfig.model_validate(
        {
            "name": "montecarlo_benchmark",
            "description": "one-hour runs of the day benchmark's market",
            "duration_hours": hours,
            "dt_seconds": 1.0,
            "sample_seconds": 60.0,
            "figures": False,
            "market": {
                "leveraged": {"count": traders},
                "market_makers": {"count": 20},
                "large_holders": {"count": 5},
                "shocks": shocks,
            },
        }
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one JSON line.

    Args:
        argv: command-line arguments.

    Returns:
        0 when every run succeeded, 1 otherwise.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=8, help="runs in total (seeds of the study)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours per run")
    parser.add_argument("--traders", type=int, default=10_000, help="leveraged traders per run")
    parser.add_argument("--master-seed", type=int, default=2025, help="master seed of the study")
    args = parser.parse_args(argv)

    cfg = day_market_config(args.hours, args.traders)
    with tempfile.TemporaryDirectory(prefix="cascadelab-mc-bench-") as tmp:
        t0 = time.perf_counter()
        table = sweep(
            cfg,
            seeds=args.runs,
            workers=args.workers,
            out=Path(tmp) / "study",
            master_seed=args.master_seed,
            report=False,
        )
        wall = time.perf_counter() - t0
    ok = table[table["status"] == "ok"]
    run_wall = ok["wall_seconds"].astype(float) if "wall_seconds" in ok else None
    median = round(float(run_wall.median()), 3) if run_wall is not None and len(run_wall) else None
    result = {
        "benchmark": "montecarlo",
        "runs": len(table),
        "ok": len(ok),
        "failed": len(table) - len(ok),
        "workers": args.workers,
        "hours": args.hours,
        "traders": args.traders,
        "wall_s": round(wall, 3),
        "runs_per_hour": round(len(ok) / wall * 3600, 1) if wall > 0 else None,
        "run_wall_s_median": median,
        "floor_runs_per_hour": 400,
        "target_runs_per_hour": 1000,
    }
    print(json.dumps(result))
    return 0 if len(ok) == len(table) else 1


if __name__ == "__main__":
    sys.exit(main())
