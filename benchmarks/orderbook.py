"""Order-book throughput on the project's reference message streams (DESIGN.md §10).

For each stream (``../shared/bench/stream_200k*.npz`` beside the repository root, see the README there):

1. replay it once through :class:`model.orderbook.OrderBook`'s public API (``limit``/``market``/``cancel``,
   owner 0, via :func:`model.orderbook_replay.replay`, which also walks every returned fill) and check the
   outcome against the stream's ``summary``; an invalid outcome exits with status 1 before anything is
   timed;
2. time ``--repeat`` replays on a fresh book each, and as many replays of ``refbook.py``'s ``RefBook`` (the
   deliberately simple reference book beside the streams) on the same messages, interleaved so that both
   see the same machine load;
3. print one JSON line::

    {"stream": "stream_200k.npz", "n": 200000, "repeat": 7, "msgs_per_s": ..., "ns_per_msg": ...,
     "valid": true, "refbook_msgs_per_s": ..., "ratio_vs_refbook": ...}

``msgs_per_s`` and ``ns_per_msg`` are medians over the repeats; ``ratio_vs_refbook`` is the median of our
speed over the median of RefBook's. The garbage collector is disabled while a replay is timed (and
collected between replays): neither book creates reference cycles, so this only removes collection pauses
triggered by the allocation count, which would otherwise land at random in one book's timing or the
other's. Floor: 500,000 msgs/s on the main stream; target 1,000,000 (2 shared cores).

Usage::

    python benchmarks/orderbook.py [--stream PATH ...] [--repeat N]
"""

from __future__ import annotations

import os

# numpy (loaded to read the streams) starts OpenBLAS worker threads; on 2 shared cores they only compete
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import gc
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model.orderbook import OrderBook  # noqa: E402
from model.orderbook_replay import Row, load_stream, mismatches, replay  # noqa: E402

BENCH_DIR = ROOT.parent / "shared" / "bench"
DEFAULT_STREAMS = [BENCH_DIR / "stream_200k.npz", BENCH_DIR / "stream_200k_deep.npz"]


def load_refbook(path: Path) -> ModuleType:
    """Import ``refbook.py`` from ``path`` (it is not a package of this project)."""
    spec = importlib.util.spec_from_file_location("refbook", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by ``run()`` with the garbage collector off, and what it returned."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
    return seconds, result


def bench_stream(path: Path, repeat: int, refbook: ModuleType) -> dict[str, Any]:
    """Validate, then time our book and RefBook on one stream; return the JSON record."""
    rows: list[Row]
    rows, expected = load_stream(path)
    n = len(rows)
    record: dict[str, Any] = {"stream": path.name, "n": n, "repeat": repeat}

    bad = mismatches(replay(OrderBook(path.stem), rows), expected)
    if bad:
        record.update(valid=False, mismatches={k: list(v) for k, v in bad.items()})
        return record

    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeat):
        seconds, got = timed(lambda: replay(OrderBook(path.stem), rows))
        if mismatches(got, expected):  # every timed run is checked too (outside the timer)
            record.update(valid=False, mismatches={k: list(v) for k, v in mismatches(got, expected).items()})
            return record
        ours.append(seconds)
        seconds, _ = timed(partial(refbook.replay, refbook.RefBook(), rows))
        theirs.append(seconds)

    ours_s = statistics.median(ours)
    theirs_s = statistics.median(theirs)
    record.update(
        msgs_per_s=round(n / ours_s),
        ns_per_msg=round(ours_s / n * 1e9, 1),
        valid=True,
        refbook_msgs_per_s=round(n / theirs_s),
        ratio_vs_refbook=round(theirs_s / ours_s, 2),
    )
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--stream",
        action="append",
        type=Path,
        help="a reference stream (.npz); repeat the option for several (default: both in ../shared/bench)",
    )
    parser.add_argument("--repeat", type=int, default=7, help="timed replays per book and stream (default 7)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    streams: list[Path] = args.stream or DEFAULT_STREAMS
    missing = [str(p) for p in streams if not p.is_file()]
    if missing:
        print(f"stream not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    refbook_path = streams[0].resolve().parent / "refbook.py"
    if not refbook_path.is_file():
        refbook_path = BENCH_DIR / "refbook.py"
    refbook = load_refbook(refbook_path)

    status = 0
    for path in streams:
        record = bench_stream(path, args.repeat, refbook)
        print(json.dumps(record), flush=True)
        if not record["valid"]:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
