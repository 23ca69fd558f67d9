"""The unshown leader move (agents/leader.py): beta x the leader's move, fading as the index follows."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest

from agents.leader import UnshownLeaderMove


def _view(btc_mid: float, btc_index: float) -> Any:
    return SimpleNamespace(mid_ticks=[btc_mid, 100.0], index_ticks=[btc_index, 100.0])


def test_it_accumulates_the_leaders_move_and_fades_with_the_follow_time() -> None:
    move = UnshownLeaderMove(follow_seconds=50.0, index_coupling=False)
    assert move.update(_view(1000.0, 1000.0), 1, power=0.5, now_s=0.0) == 0.0  # the first look sees nothing
    after_drop = move.update(_view(960.0, 1000.0), 1, power=0.5, now_s=1.0)
    assert after_drop == pytest.approx(0.5 * math.log(0.96))
    # 50 s later, BTC unchanged: the unshown part has faded by e
    assert move.update(_view(960.0, 1000.0), 1, 0.5, now_s=51.0) == pytest.approx(after_drop / math.e)
    move.forget(1)
    assert move.update(_view(900.0, 1000.0), 1, 0.5, now_s=52.0) == 0.0  # afresh after a pause


def test_with_the_spot_coupling_only_the_perp_move_beyond_the_leaders_index_counts() -> None:
    move = UnshownLeaderMove(follow_seconds=50.0, index_coupling=True)
    move.update(_view(1000.0, 1000.0), 2, power=1.0, now_s=0.0)
    # BTC's perp and index both fell 4%: the alt's coupled index shows it already
    assert move.update(_view(960.0, 960.0), 2, power=1.0, now_s=1.0) == pytest.approx(0.0, abs=1e-12)
    assert move.update(_view(950.4, 960.0), 2, power=1.0, now_s=1.0) == pytest.approx(math.log(0.99))


def test_a_follow_time_must_be_positive() -> None:
    with pytest.raises(ValueError, match="follow_seconds"):
        UnshownLeaderMove(follow_seconds=0.0, index_coupling=False)
