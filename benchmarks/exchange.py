"""Exchange hot paths: the liquidation engine's trigger check and the cost of booking a fill.

Measurements (medians over ``--repeat`` repeats, one JSON line each, times in microseconds):

* ``liquidatable_full``: :meth:`LiquidationEngine.liquidatable` with ``full=True``, the vectorised check of
  every account against maintenance margin at the mark, over ``--accounts`` accounts (default 10,000) x 3
  symbols (BTC, ETH, SOL at the default prices) holding realistic random positions: log-normal capital
  (median $5,000), leverage drawn from the leveraged traders' default choices, 70% cross accounts, 30% of
  them in all three symbols, a long bias, a few accounts already close to maintenance.
* ``liquidatable_step``: the call as the market makes it, once per 1-second step while the marks move by a
  random 2 bp a step, so that the engine's screening runs a full check every 60 s (or after a 1% move) and
  checks only the accounts at risk in between. ``median_us`` is the typical step, ``mean_us`` includes the
  periodic full checks. Target: well under 1 ms a step.
* ``submit_fill``: :meth:`Exchange.submit` of a crossing IOC limit order that fills against exactly one
  resting order (margin check, matching, both accounts booked with fees), per fill.
* ``book_trade``: :meth:`Ledger.book_trade` alone, per call (alternately opening and closing a lot).

Each line looks like::

    {"benchmark": "exchange", "measure": "liquidatable_full", "accounts": 10001, "symbols": 3,
     "repeat": 7, "median_us": ..., ...}

The garbage collector is off while a measurement is timed.

Usage::

    python benchmarks/exchange.py [--accounts 10000] [--repeat 7] [--seed 1]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # 2 shared cores: no BLAS worker threads

import argparse
import gc
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import mesa  # noqa: E402

from model.exchange import MICRO, Exchange  # noqa: E402
from model.liquidation import LiquidationEngine  # noqa: E402
from model.orderbook import BUY, IOC, SELL  # noqa: E402
from model.params import LeveragedTraderParams, VenueParams, default_symbols  # noqa: E402


def timed(run: Callable[[], Any]) -> float:
    """Seconds taken by ``run()`` with the garbage collector off."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    finally:
        gc.enable()


def emit(measure: str, samples_us: list[float], **extra: Any) -> None:
    """Print one JSON line with the median (and spread) of per-operation times in microseconds."""
    line = {
        "benchmark": "exchange",
        "measure": measure,
        **extra,
        "repeat": len(samples_us),
        "median_us": round(statistics.median(samples_us), 3),
        "min_us": round(min(samples_us), 3),
        "max_us": round(max(samples_us), 3),
    }
    print(json.dumps(line), flush=True)


# ---------------------------------------------------------------------------------------------- market


def populated_market(n_accounts: int, seed: int) -> tuple[Exchange, LiquidationEngine]:
    """An exchange with ``n_accounts`` leveraged traders holding random positions in BTC, ETH and SOL.

    Positions are booked off-book (:meth:`Exchange.seed_position`) against a few large counterparties, so
    open interest balances exactly as it would after trading.
    """
    rng = np.random.default_rng(seed)
    ex = Exchange(default_symbols(), VenueParams(preset="binance_like"))
    model = mesa.Model(rng=seed)
    engine = LiquidationEngine(model, ex)
    cps = [ex.open_account(1e9, leverage=5) for _ in range(4)]  # market makers / arbitrageurs
    lev_params = LeveragedTraderParams()
    choices = np.array(lev_params.leverage_choices)
    weights = np.array(lev_params.leverage_weights) / sum(lev_params.leverage_weights)
    capital = rng.lognormal(math.log(5_000), 1.2, n_accounts).clip(50, 5e6)
    leverage = rng.choice(choices, n_accounts, p=weights)
    isolated = rng.random(n_accounts) > 0.7
    multi = rng.random(n_accounts) < 0.3
    single = rng.choice(3, n_accounts, p=[0.5, 0.25, 0.25])
    long_side = rng.random(n_accounts) < 0.65
    usage = rng.uniform(0.3, 0.9, n_accounts)  # share of the capital used as margin
    marks = ex.mark_ticks
    for i in range(n_accounts):
        a = ex.open_account(float(capital[i]), isolated=bool(isolated[i]), leverage=float(leverage[i]))
        symbols = [0, 1, 2] if multi[i] else [int(single[i])]
        for s in symbols:
            cap = ex.schedules[s].max_leverage(float(capital[i] * leverage[i]))
            lev = min(float(leverage[i]), cap)
            ex.set_leverage(a, s, lev)
            notional = capital[i] * usage[i] * lev / len(symbols)
            lots = max(1, ex.usd_to_lots(s, notional, marks[s]))
            price = round(float(marks[s]) * (1 + rng.normal(0, 0.01)))  # entries around the current price
            cp = cps[i % len(cps)]
            if long_side[i]:
                ex.seed_position(a, cp, s, lots, price)
            else:
                ex.seed_position(cp, a, s, lots, price)
    assert ex.ledger_imbalance() == 0
    return ex, engine


# ---------------------------------------------------------------------------------------------- measures


def bench_liquidatable(n_accounts: int, repeat: int, seed: int) -> None:
    ex, engine = populated_market(n_accounts, seed)
    accounts = ex.ledger.n
    flagged = len(engine.liquidatable(full=True))
    calls = 50
    full = [
        timed(lambda: [engine.liquidatable(full=True) for _ in range(calls)]) / calls * 1e6
        for _ in range(repeat)
    ]
    emit("liquidatable_full", full, accounts=accounts, symbols=ex.n_symbols, flagged=flagged, calls=calls)

    rng = np.random.default_rng(seed + 1)
    base = ex.mark_ticks.copy()
    steps = 600  # ten minutes of 1-s steps: ten full checks
    per_step: list[float] = []
    step_means: list[float] = []
    for _ in range(repeat):
        ex.prices.mark_ticks[:] = base
        engine.liquidatable(full=True)
        samples = []
        gc.collect()
        gc.disable()
        try:
            for _ in range(steps):
                ex.time_s += 1.0
                ex.mark_ticks *= 1.0 + rng.normal(0.0, 0.0002, ex.n_symbols)
                start = time.perf_counter()
                engine.liquidatable()
                samples.append(time.perf_counter() - start)
        finally:
            gc.enable()
        per_step.append(statistics.median(samples) * 1e6)
        step_means.append(statistics.fmean(samples) * 1e6)
    emit(
        "liquidatable_step",
        per_step,
        accounts=accounts,
        symbols=ex.n_symbols,
        steps=steps,
        mean_us=round(statistics.median(step_means), 3),
    )


def bench_submit_fill(repeat: int) -> None:
    ex = Exchange(default_symbols(), VenueParams(preset="binance_like"))
    maker = ex.open_account(1e9, leverage=10)
    taker = ex.open_account(1e9, leverage=10)
    price = round(float(ex.mark_ticks[0]))
    n = 2_000
    samples = []
    for r in range(repeat):
        side_taker = BUY if r % 2 == 0 else SELL  # alternate, so positions do not grow without bound
        side_maker = SELL if side_taker == BUY else BUY
        for _ in range(n):  # n resting orders of one lot: each crossing order fills exactly one
            assert ex.submit(maker, 0, side_maker, 1, price).status == "resting"

        def run(side: int = side_taker, submit: Callable[..., Any] = ex.submit) -> None:
            for _ in range(n):
                submit(taker, 0, side, 1, price, IOC)

        samples.append(timed(run) / n * 1e6)
        assert ex.books[0].total_resting_lots() == 0
    assert ex.ledger_imbalance() == 0
    emit("submit_fill", samples, fills=n)


def bench_book_trade(repeat: int) -> None:
    ex = Exchange(default_symbols(), VenueParams(preset="binance_like"))
    a = ex.open_account(1e6, leverage=10)
    led = ex.ledger
    price = round(float(ex.mark_ticks[0]))
    fee = 39 * MICRO // 1000
    n = 20_000
    book_trade = led.book_trade

    def run() -> None:
        for _ in range(n // 2):
            book_trade(a, 0, 1, price, fee)  # open
            book_trade(a, 0, -1, price + 1, fee)  # close

    samples = [timed(run) / n * 1e6 for _ in range(repeat)]
    emit("book_trade", samples, calls=n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000, help="leveraged trader accounts")
    parser.add_argument("--repeat", type=int, default=7, help="repeats per measurement")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    bench_liquidatable(args.accounts, args.repeat, args.seed)
    bench_submit_fill(args.repeat)
    bench_book_trade(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
