"""Large holders (whales): a big long inventory with a cost basis, and the selling it can be forced into.

A holder sells when its unrealised loss against its cost basis exceeds ``drawdown_limit`` (or when a
scripted whale sale tells it to), either at once (a block market order) or in TWAP slices. Out of a
drawdown it may accumulate at round-number supports. Its selling reaches others only through the book
and, through prices and liquidations, the sentiment index.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from agents.base import Trader
from model.orderbook import BUY, SELL

if TYPE_CHECKING:
    from model.market import CryptoMarket, MarketView


class LargeHolder(Trader):
    """A whale holding a long position in the leader (symbol 0).

    Args:
        model: the market.
        capital_usd: collateral (the inventory is held at about 1x leverage).
        cost_basis_ticks: the price it bought at, ticks.
    """

    def __init__(self, model: CryptoMarket, capital_usd: float, cost_basis_ticks: float) -> None:
        super().__init__(model, capital_usd, isolated=False, leverage=2.0)
        self._p = model.params.large_holders
        self.cost_basis_ticks = cost_basis_ticks
        self.symbol = 0
        self.slices_left = 0
        self.slice_lots = 0
        self.next_slice_s = 0.0
        self.slice_interval_s = self._p.twap_interval_seconds
        self.forced_sales = 0
        self.sold_lots = 0
        self._next_decision_s = 0.0

    def start_sale(self, fraction: float, mode: str, duration_s: float, now: float) -> None:
        """Begin selling ``fraction`` of the inventory: at once (block) or in slices over ``duration_s``."""
        pos = self.position(self.symbol)
        lots = int(pos * fraction)
        if lots <= 0:
            return
        if mode == "block":
            self._sell(lots)
            return
        slices = max(1, int(duration_s // self.slice_interval_s))
        self.slices_left = slices
        self.slice_lots = max(1, math.ceil(lots / slices))
        self.next_slice_s = now

    def step(self) -> None:
        """Every step: carry on a TWAP program; at its own decision rate, check the drawdown trigger."""
        view = self.model.view
        now = view.time_s
        if self.slices_left and now >= self.next_slice_s:
            self._sell(self.slice_lots)
            self.slices_left -= 1
            self.next_slice_s = now + self.slice_interval_s
        if now < self._next_decision_s:
            return
        self._next_decision_s = now + float(self.model.rng.exponential(3600.0 / self._p.decisions_per_hour))
        self.decide_and_act(view)

    def decide_and_act(self, view: MarketView) -> None:
        """Forced selling on a drawdown; accumulation at support otherwise."""
        pos = self.position(self.symbol)
        if pos <= 0 or self.slices_left:
            return
        drawdown = 1.0 - view.mark_ticks[self.symbol] / self.cost_basis_ticks
        if drawdown > self._p.drawdown_limit:
            self.forced_sales += 1
            duration = self._p.twap_slices * self._p.twap_interval_seconds
            self.start_sale(0.3, self._p.sell_mode, duration, view.time_s)
        elif self._p.accumulate_at_support and drawdown < self._p.drawdown_limit / 2:
            spacing = self.model.params.leveraged.support_spacing_usd.get(self.exchange.names[0], 0.0)
            spacing_ticks = spacing / self.exchange.tick_size_usd[0]
            price = view.mid_ticks[0]
            if spacing_ticks > 0 and price / (math.floor(price / spacing_ticks) * spacing_ticks) - 1 < 0.003:
                lots = max(1, pos // 200)
                self.exchange.submit(self.account, 0, BUY, lots)

    def _sell(self, lots: int) -> None:
        pos = self.position(self.symbol)
        lots = min(lots, pos)
        if lots > 0:
            res = self.exchange.submit(self.account, self.symbol, SELL, lots, reduce_only=True)
            self.sold_lots += res.filled_lots
