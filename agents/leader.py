"""The leader's move that an alt's index has not shown yet: how cross-asset desks price an alt off BTC.

An alt's index stands for the other venues' alt price. When BTC's perp moves, those venues follow, but
only as arbitrage carries the move there (``venue.index_arbitrage_per_second``). A desk that prices the
alt off BTC's book expects the part not yet shown: ``beta x`` BTC's mid log-move, accumulated at each
look and fading with a time constant of ``follow_seconds`` as the index catches up. With the spot
coupling on, the alt's index shows BTC's *index* moves already, so only BTC's perp move beyond its index
counts.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from model.view import MarketView

LEADER = 0
"""The symbol the alts are priced against (the leader, BTC)."""


class UnshownLeaderMove:
    """One agent's running estimate, per alt, of the leader's log-move its index has not shown.

    Args:
        follow_seconds: time constant of the fade, s (> 0): the index follows this venue's perp.
        index_coupling: whether the alts' indices load on the leader's (then the leader's index move is
            shown already and is taken off).
    """

    def __init__(self, follow_seconds: float, index_coupling: bool) -> None:
        if follow_seconds <= 0:
            raise ValueError(f"follow_seconds must be > 0, got {follow_seconds}")
        self.follow_seconds = follow_seconds
        self.index_coupling = index_coupling
        self._unshown: dict[int, float] = {}
        self._look: dict[int, tuple[float, float, float]] = {}  # leader's mid, index, time at the last look

    def update(self, view: MarketView, symbol: int, power: float, now_s: float) -> float:
        """The log-move, x ``power`` (the alt's share x its beta), not yet shown by ``symbol``'s index.

        It grows by ``power`` x the leader's mid log-move since this agent's last look at ``symbol`` and
        fades by ``exp(-elapsed / follow_seconds)``; the first look returns 0 (nothing seen yet).
        """
        lead_mid, lead_index = view.mid_ticks[LEADER], view.index_ticks[LEADER]
        seen = self._look.get(symbol)
        self._look[symbol] = (lead_mid, lead_index, now_s)
        if seen is None or seen[0] <= 0 or lead_mid <= 0:
            return self._unshown.get(symbol, 0.0)
        move = math.log(lead_mid / seen[0])
        if self.index_coupling and seen[1] > 0 and lead_index > 0:
            move -= math.log(lead_index / seen[1])
        fade = math.exp(-(now_s - seen[2]) / self.follow_seconds)
        left = self._unshown.get(symbol, 0.0) * fade + power * move
        self._unshown[symbol] = left
        return left

    def forget(self, symbol: int) -> None:
        """Start ``symbol`` afresh: its next look counts from there (a pause: the index followed)."""
        self._look.pop(symbol, None)
        self._unshown.pop(symbol, None)
