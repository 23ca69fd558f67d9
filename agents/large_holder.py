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
    import mesa

    from model.exchange import Exchange
    from model.params import LargeHolderParams
    from model.view import MarketView


class LargeHolder(Trader):
    """A whale holding a long position in the leader (symbol 0).

    The market seeds its inventory after building it (``Exchange.seed_position``); the holder only
    sells it (forced or scripted) and adds to it at support.

    Args:
        model: the Mesa model the agent belongs to (its ``rng`` times the holder's decisions).
        exchange: the venue.
        view: the per-step market view.
        params: the large holders' parameter block.
        capital_usd: collateral (``collateral_ratio`` x the inventory: it is held at about 1x leverage).
        cost_basis_ticks: the price it bought at, ticks.
        support_spacing_usd: round-number spacing of the leader's support levels, USD (0: none).
    """

    def __init__(
        self,
        model: mesa.Model,
        exchange: Exchange,
        view: MarketView,
        params: LargeHolderParams,
        capital_usd: float,
        cost_basis_ticks: float,
        support_spacing_usd: float = 0.0,
    ) -> None:
        super().__init__(model, exchange, view, capital_usd, isolated=False, leverage=params.account_leverage)
        self._p = params
        self.cost_basis_ticks = cost_basis_ticks
        self.support_spacing_usd = support_spacing_usd
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
        view = self.view
        now = view.time_s
        if self.slices_left and now >= self.next_slice_s:
            self._sell(self.slice_lots)
            self.slices_left -= 1
            self.next_slice_s = now + self.slice_interval_s
        if now < self._next_decision_s:
            return
        self._next_decision_s = now + float(self.rng.exponential(3600.0 / self._p.decisions_per_hour))
        self.decide_and_act(view)

    def decide_and_act(self, view: MarketView) -> None:
        """Forced selling on a drawdown; accumulation at support otherwise."""
        p = self._p
        pos = self.position(self.symbol)
        if pos <= 0 or self.slices_left:
            return
        drawdown = 1.0 - view.mark_ticks[self.symbol] / self.cost_basis_ticks
        if drawdown > p.drawdown_limit:
            self.forced_sales += 1
            duration = p.twap_slices * p.twap_interval_seconds
            self.start_sale(p.forced_sale_fraction, p.sell_mode, duration, view.time_s)
        elif p.accumulate_at_support and drawdown < p.drawdown_limit * p.accumulate_max_drawdown_share:
            spacing_ticks = self.support_spacing_usd / self.exchange.tick_size_usd[0]
            price = view.mid_ticks[0]
            if (
                spacing_ticks > 0
                and price / (math.floor(price / spacing_ticks) * spacing_ticks) - 1 < p.accumulate_band
            ):
                lots = max(1, pos // p.accumulate_slices)
                self.exchange.submit(self.account, 0, BUY, lots)

    def _sell(self, lots: int) -> None:
        pos = self.position(self.symbol)
        lots = min(lots, pos)
        if lots > 0:
            res = self.exchange.submit(self.account, self.symbol, SELL, lots, reduce_only=True)
            self.sold_lots += res.filled_lots
