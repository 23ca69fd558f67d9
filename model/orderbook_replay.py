"""Replay a reference order-book message stream through :class:`model.orderbook.OrderBook`.

The reference streams (``../shared/bench/stream_200k*.npz``, see the README there) hold one message per
row, ``(type, side, price, qty, oid)``: type 0 is a limit order, 1 a cancel of a resting order, 2 a
market order. Each file also holds ``summary``, the outcome a correct price-time-priority book must
reproduce exactly. The unit test ``tests/model/test_orderbook_replay.py`` and the benchmark
``benchmarks/orderbook.py`` share this module, so what is timed is exactly what is tested.

Only the book's public API is used (``limit``/``market``/``cancel`` with owner 0, market-data methods
for the summary), so the replay measures what a caller of the book pays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model.orderbook import OrderBook

#: Summary keys a replay must reproduce exactly (the reference also reports level counts; not checked).
SUMMARY_KEYS = ("fills", "volume", "notional", "resting", "resting_qty", "best_bid", "best_ask")

LIMIT = 0
CANCEL = 1
MARKET = 2

Row = tuple[int, int, int, int, int]


def load_stream(path: str | Path) -> tuple[list[Row], dict[str, Any]]:
    """Load a reference stream.

    Args:
        path: an ``.npz`` file with ``rows`` (int64, shape (N, 5)) and ``summary`` (a JSON string).

    Returns:
        ``(rows, summary)``: the rows as tuples of plain Python ints (numpy scalars would slow every
        comparison in the book) and the expected summary as a dict.
    """
    import numpy as np  # imported here: the book itself never needs numpy

    with np.load(path) as z:
        rows: list[Row] = [tuple(r) for r in z["rows"].tolist()]
        summary: dict[str, Any] = json.loads(str(z["summary"]))
    return rows, summary


def replay(book: OrderBook, rows: list[Row]) -> dict[str, Any]:
    """Send every row to ``book`` (owner 0, GTC limits) and summarise the outcome.

    The loop is part of the measured path in the benchmark, so it is kept lean: bound methods are
    looked up once and fills are read by index. It walks every returned fill, as a caller that books
    the fills (the exchange) must, so the benchmark includes the cost of consuming the book's output.

    Args:
        book: the book to drive (normally a fresh, empty one).
        rows: messages ``(type, side, price, qty, oid)`` from :func:`load_stream`.

    Returns:
        A dict with the keys of :data:`SUMMARY_KEYS`: ``fills`` (passive fills), ``volume`` (lots
        traded), ``notional`` (sum of lots x price), ``resting`` (resting orders), ``resting_qty``
        (resting lots), ``best_bid`` and ``best_ask`` (None when a side is empty).
    """
    limit = book.limit
    market = book.market
    cancel = book.cancel
    n_fills = 0
    volume = 0
    notional = 0
    for kind, side, price, qty, oid in rows:
        if kind == LIMIT:
            fills = limit(oid, 0, side, price, qty)
        elif kind == CANCEL:
            cancel(oid)
            continue
        elif kind == MARKET:
            fills = market(oid, 0, side, qty)
        else:
            raise ValueError(f"unknown message type {kind} (order {oid})")
        if fills:
            n_fills += len(fills)
            for f in fills:
                lots = f[1]  # Fill.lots; indexing is cheaper than the field's descriptor
                volume += lots
                notional += f[0] * lots  # Fill.price_ticks
    return {
        "fills": n_fills,
        "volume": volume,
        "notional": notional,
        "resting": len(book),
        "resting_qty": book.total_resting_lots(),
        "best_bid": book.best_bid(),
        "best_ask": book.best_ask(),
    }


def mismatches(got: dict[str, Any], expected: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The summary keys where ``got`` differs from ``expected``, as ``{key: (got, expected)}``."""
    return {k: (got.get(k), expected.get(k)) for k in SUMMARY_KEYS if got.get(k) != expected.get(k)}
