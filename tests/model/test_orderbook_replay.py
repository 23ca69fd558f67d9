"""Replay the project's reference message streams and check the book reproduces their outcome exactly.

The streams live in ``../shared/bench`` beside the repository root (see the README there); they are present
in CI. A user's clone without them skips these tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from model.orderbook import OrderBook
from model.orderbook_replay import SUMMARY_KEYS, load_stream, mismatches, replay

BENCH_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "bench"
STREAMS = ["stream_200k.npz", "stream_200k_deep.npz"]


@pytest.mark.parametrize("name", STREAMS)
def test_replay_reproduces_the_reference_summary(name: str) -> None:
    path = BENCH_DIR / name
    if not path.is_file():
        pytest.skip(f"reference stream {path} not found (the shared bench directory is absent in this clone)")
    rows, expected = load_stream(path)
    assert len(rows) == expected["n"]
    book = OrderBook("BENCH")
    got = replay(book, rows)
    assert set(got) == set(SUMMARY_KEYS)
    assert mismatches(got, expected) == {}
    # the summary's counts agree with the book's own market data
    assert got["resting"] == len(book) == len(book.resting_oids())
    assert (
        sum(lots for _, lots in book.depth(0, 10**6)) + sum(lots for _, lots in book.depth(1, 10**6))
        == got["resting_qty"]
    )
    assert len(book.prices(0)) == expected["bid_levels"]
    assert len(book.prices(1)) == expected["ask_levels"]
