"""Relative-value (pairs) traders: they keep an alt's price in line with BTC's and carry BTC's moves into it.

A relative-value desk trades one alt against the leader. It tracks the log spread
``z = log(alt mid) - beta x log(leader mid)`` (``beta``: the alt's ``btc_beta``) against its own slow
reference, an exponential average of ``z`` with a half-life of ``halflife_seconds``. When BTC's perp
falls and the alt's has not followed, ``z`` is above its reference: the alt is rich against BTC, and the
desk sells the alt and (``hedge_leader``) buys ``beta`` times the notional of BTC, and the reverse when the
alt is cheap. Its target position grows from nothing at ``threshold`` to its whole capital at
``full_gap``, so a small dislocation brings a small trade and a crash brings the desk's capital; each
decision trades toward the target by at most ``order_usd`` with IOCs that pay at most ``limit_slippage``
through the mid. When the spread is back at its reference the desk unwinds.

This is the contagion that real desks carry (MARKET_FACTS §2-§3): stat-arb and basket hedgers sell the
alts when BTC falls. It is the ``relative_value`` channel of :class:`model.params.ContagionParams`:
switched off, the desks exist (their clocks draw the same numbers) but read no BTC and never trade.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from agents.base import Trader
from model.orderbook import BUY, IOC, SELL

if TYPE_CHECKING:
    import mesa

    from model.exchange import Exchange
    from model.params import RelativeValueParams
    from model.view import MarketView

LEADER = 0
"""The symbol a relative-value desk prices its alt against (the leader, BTC)."""


class RelativeValueTrader(Trader):
    """A pairs desk trading one alt perp against the leader's.

    Its clock runs in the leader's operational time (``clock_on_leader``): with attention on, it looks
    more often when BTC moves.

    Args:
        model: the Mesa model the agent belongs to.
        exchange: the venue.
        view: the per-step market view.
        params: the relative-value block.
        symbol: the alt it trades (not the leader).
        beta: the alt's beta to the leader (its ``btc_beta``): the log-move of the alt that a log-move of
            BTC implies.
        active: whether the desk reads BTC and trades (the ``relative_value`` contagion channel).
    """

    clock_on_leader = True

    def __init__(
        self,
        model: mesa.Model,
        exchange: Exchange,
        view: MarketView,
        params: RelativeValueParams,
        symbol: int,
        beta: float,
        active: bool = True,
    ) -> None:
        super().__init__(
            model,
            exchange,
            view,
            params.capital_usd,
            leverage=params.leverage,
            rate_per_s=params.decisions_per_hour / 3600.0,
        )
        if symbol == LEADER:
            raise ValueError("a relative-value desk trades an alt against the leader, not the leader itself")
        self.symbol = symbol
        self.beta = beta
        self.active = active
        self._p = params
        self._ref: float | None = None  # the spread's slow reference (log)
        self._ref_time_s = 0.0

    def spread(self, view: MarketView) -> float:
        """``log(alt mid) - beta x log(leader mid)`` now."""
        return math.log(view.mid_ticks[self.symbol]) - self.beta * math.log(view.mid_ticks[LEADER])

    def gap(self, view: MarketView) -> float:
        """The spread less its reference (> 0: the alt is rich against BTC); updates the reference.

        The reference moves toward the spread with the half-life ``halflife_seconds`` of the time since
        the last decision, after the gap is read: a dislocation is traded before it becomes the norm.
        """
        z = self.spread(view)
        now = view.time_s
        if self._ref is None:
            self._ref, self._ref_time_s = z, now
            return 0.0
        gap = z - self._ref
        decay = 0.5 ** ((now - self._ref_time_s) / self._p.halflife_seconds)
        self._ref = z + (self._ref - z) * decay
        self._ref_time_s = now
        return gap

    def target_usd(self, gap: float) -> float:
        """The signed alt position it wants at ``gap``, USD (short when the alt is rich)."""
        p = self._p
        weight = min(max((abs(gap) - p.threshold) / (p.full_gap - p.threshold), 0.0), 1.0)
        return -math.copysign(weight, gap) * p.capital_usd * p.position_capital_multiple

    def decide(self, view: MarketView) -> tuple[int, int] | None:
        """(side, lots) of the alt toward the target, or None."""
        if not self.active:
            return None
        gap = self.gap(view)
        s = self.symbol
        ex = self.exchange
        mid = view.mid_ticks[s]
        target = self.target_usd(gap)
        want = ex.usd_to_lots(s, abs(target), mid) * (1 if target > 0 else -1)
        diff = want - self.position(s)
        lots = min(abs(diff), ex.usd_to_lots(s, self._p.order_usd, mid))
        if lots < 1:
            return None
        return (BUY if diff > 0 else SELL, lots)

    def step(self) -> None:
        """One decision: trade the alt toward its target, then keep the leader's leg at beta x the alt."""
        intent = self.decide(self.observe())
        if intent is not None:
            self.act(intent)
        if self.active and self._p.hedge_leader:
            self.hedge()

    def act(self, intent: tuple[int, int]) -> None:
        """An IOC on the alt within ``limit_slippage`` of the mid."""
        side, lots = intent
        s = self.symbol
        mid = self.view.mid_ticks[s]
        slip = self._p.limit_slippage
        limit = mid * (1.0 + slip) if side == BUY else mid * (1.0 - slip)
        self.exchange.submit(self.account, s, side, lots, price_ticks=max(1, round(limit)), tif=IOC)

    def hedge(self) -> None:
        """The leader's leg: ``-beta x`` the alt position's notional, by IOCs within ``limit_slippage`` of the
        leader's mid and at most ``beta x order_usd`` a decision; what a thin book does not fill is tried
        again at the next decision."""
        p = self._p
        ex = self.exchange
        view = self.view
        s = self.symbol
        alt_usd = self.position(s) * ex.tick_value_micro[s] * view.mid_ticks[s] / 1e6
        lead_mid = view.mid_ticks[LEADER]
        want = -ex.usd_to_lots(LEADER, abs(alt_usd) * self.beta, lead_mid) * (1 if alt_usd > 0 else -1)
        diff = want - self.position(LEADER)
        lots = min(abs(diff), ex.usd_to_lots(LEADER, p.order_usd * self.beta, lead_mid))
        if lots < 1:
            return
        side = BUY if diff > 0 else SELL
        limit = lead_mid * (1.0 + p.limit_slippage) if side == BUY else lead_mid * (1.0 - p.limit_slippage)
        ex.submit(self.account, LEADER, side, lots, price_ticks=max(1, round(limit)), tif=IOC)
