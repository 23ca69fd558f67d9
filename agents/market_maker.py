"""Market makers: layered two-sided quotes with inventory skew (Avellaneda-Stoikov style).

Fair value is the book's mid pulled toward the index by ``index_anchor`` (makers also watch other
venues), so price impact on this venue decays and a one-off dump is resisted until inventory limits bind.

The reservation price moves against inventory (``risk_aversion`` x inventory / limit x half-spread), the
half-spread widens with realised volatility, the side that would grow inventory beyond the limit is not
quoted, and a maker whose drawdown from its equity peak exceeds ``loss_limit_usd`` cancels everything
and stays out for ``withdraw_seconds``. A maker quoting several symbols from one account (the shared
risk-budget channel) widens and thins its quotes in every symbol as its total inventory fills the
budget, and withdraws from all of them at once when a loss in one binds.

Quotes are replaced (one batch call, :meth:`Exchange.replace_quotes`) only when the reservation price
has moved by a layer spacing (or half the spread, when that is wider) or fills have moved the position
by ``requote_position_layers`` layers' size, so a calm book costs little. With ``keep_queue`` a requote
amends the ladder instead: levels within half a layer of a resting order, and sizes within a quarter of
the last, stay where they rest and keep their place in the queue; only the levels that move are cancelled
and posted.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from agents.base import Trader
from model.exchange import MICRO

if TYPE_CHECKING:
    import mesa

    from model.exchange import Exchange
    from model.params import MarketMakerParams
    from model.view import MarketView


class MarketMaker(Trader):
    """A layered quoter.

    Args:
        model: the Mesa model the agent belongs to.
        exchange: the venue.
        view: the per-step market view (mids, index, volatility, each book's liquidity scale).
        params: the market makers' parameter block (spreads, layers, skew, budget rules).
        capital_usd: collateral of the maker's account.
        symbols: symbols it quotes from this account.
        loss_limit_usd: drawdown from the equity peak at which it withdraws.
        inventory_limit_usd: gross inventory per symbol at which it stops quoting the growing side.
        shared_budget: one risk budget for all its symbols (else one per symbol, same capital).
    """

    def __init__(
        self,
        model: mesa.Model,
        exchange: Exchange,
        view: MarketView,
        params: MarketMakerParams,
        capital_usd: float,
        symbols: list[int],
        loss_limit_usd: float,
        inventory_limit_usd: float,
        shared_budget: bool = True,
    ) -> None:
        super().__init__(model, exchange, view, capital_usd, isolated=False, leverage=params.account_leverage)
        self.symbols = symbols
        self.loss_limit_usd = loss_limit_usd
        self.inventory_limit_usd = inventory_limit_usd
        self._p = params
        self.peak_equity = capital_usd
        self.withdrawn_until = -1.0
        self.withdrawals = 0
        self._budget_period_end = params.budget_period_seconds
        self.shared_budget = shared_budget
        self._symbol_out_until: dict[int, float] = {}
        self._last_ref: dict[int, float] = {}
        self._last_pos: dict[int, int] = {}
        self._last_index: dict[int, float] = {}  # the index's exogenous path at the last requote, ticks
        self._n_quotes: dict[int, int] = {}
        self._tape: dict[int, tuple[int, float, float]] = {}  # flow impact: (tape, time, offset)
        self._last_lots: dict[int, int] = {}  # keep_queue: the layer size and prices last quoted
        self._last_prices: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def step(self) -> None:
        """Check the risk budget, then requote every symbol that needs it.

        With a shared budget (the contagion channel) the loss limit applies to the whole account and
        the inventory budget to all symbols together: a loss or inventory in BTC pulls and thins the alt
        quotes too. With separate budgets each symbol has its share of the limits (in proportion to its
        liquidity) and withdraws alone, on its own unrealised loss; the capital is the same.
        """
        view = self.view
        now = view.time_s
        if now < self.withdrawn_until:
            return
        ex = self.exchange
        pos_row = ex.positions(self.account)
        tv = ex.tick_value_micro
        scale = view.liquidity_scale
        used = [
            abs(pos_row[s]) * view.mid_ticks[s] * tv[s] / MICRO / (self.inventory_limit_usd * scale[s])
            for s in self.symbols
        ]
        if self.shared_budget:
            equity = self.equity_usd()
            if now >= self._budget_period_end:  # a new hourly risk-budget period
                self.peak_equity = equity
                self._budget_period_end = now + self._p.budget_period_seconds
            self.peak_equity = max(self.peak_equity, equity)
            if self.peak_equity - equity > self.loss_limit_usd:
                self.withdraw(now, self._p.withdraw_seconds)
                self.peak_equity = equity  # a new budget period after the pause
                return
            budget_used = min(sum(used) / len(used), 1.0)
            for s in self.symbols:
                self._quote(view, s, budget_used, pos_row[s])
            return
        total_scale = sum(scale[s] for s in self.symbols)
        for i, s in enumerate(self.symbols):
            if now < self._symbol_out_until.get(s, -1.0):
                continue
            if ex.unrealised_usd(self.account, s) < -self.loss_limit_usd * scale[s] / total_scale:
                ex.cancel_all(self.account, s, stops=False)
                self._symbol_out_until[s] = now + self._p.withdraw_seconds
                self._last_ref.pop(s, None)
                self._last_index.pop(s, None)
                self._last_prices.pop(s, None)
                self.withdrawals += 1
                continue
            self._quote(view, s, min(used[i], 1.0), pos_row[s])

    def withdraw(self, now: float, seconds: float) -> None:
        """Cancel every quote and stay out for ``seconds``."""
        self.exchange.cancel_all(self.account)
        self.withdrawn_until = now + seconds
        self.withdrawals += 1
        self._last_ref.clear()
        self._last_index.clear()
        self._last_prices.clear()  # nothing rests any more: no level to keep

    def _flow_offset(self, view: MarketView, s: int, mid: float, tv: int) -> float:
        """Log-move of fair value from the net taker flow on the tape since this maker last looked.

        The tape's buyer- minus seller-initiated volume since the last look, in $1M (per $1M x the book's
        liquidity scale), moves fair value by ``flow_impact_bps_per_musd``; what the index has not followed
        fades with ``flow_impact_halflife_seconds``.
        """
        p = self._p
        now = view.time_s
        tape = self.exchange.signed_volume_lots[s]
        last_tape, last_t, offset = self._tape.get(s, (tape, now, 0.0))
        flow_musd = (tape - last_tape) * mid * tv / MICRO / 1e6 / view.liquidity_scale[s]
        offset = offset * 0.5 ** ((now - last_t) / p.flow_impact_halflife_seconds)
        offset += p.flow_impact_bps_per_musd * 1e-4 * flow_musd
        self._tape[s] = (tape, now, offset)
        return offset

    def _quote(self, view: MarketView, s: int, budget_used: float, pos: int) -> None:
        ex = self.exchange
        p = self._p
        mid = view.mid_ticks[s]
        tv = ex.tick_value_micro[s]
        inventory_usd = pos * mid * tv / MICRO
        # spreads widen with volatility above the index's calm volatility (a calm book stays tight, a fast
        # one widens at once) and with the share of the risk budget in use
        vol = view.vol_1s[s]
        if p.vol_widening_above_calm:
            vol = max(vol - view.base_vol_1s[s], 0.0)
        half_bps = min(
            (p.half_spread_bps + p.vol_widening * vol) * (1.0 + p.budget_spread_widening * budget_used),
            p.max_half_spread_bps,
        )
        limit_usd = self.inventory_limit_usd * view.liquidity_scale[s]  # thin books: smaller limits
        skew_bps = -p.risk_aversion * (inventory_usd / limit_usd) * p.skew_scale_bps
        # fair value: the own book's mid moved by the news since the last requote (the move of the index's
        # exogenous path: news reach every venue at once, so the perp does not lag spot; the index's own
        # response to this book's flow is not news), anchored toward the index's level (other venues'
        # prices), then skewed
        index = view.index_ticks[s]
        news = view.value_ticks[s]
        seen = self._last_index.get(s, news)
        moved = mid * (news / seen) ** p.index_news_passthrough if p.index_news_passthrough else mid
        anchor = p.index_anchor
        if p.index_anchor_fast is not None and view.base_vol_1s[s] > 0:
            # a fast market: the index (spot venues, with their latency) is stale; lean on the own book
            fast = (view.vol_1s[s] / view.base_vol_1s[s] - 1.0) / max(p.fast_vol_multiple - 1.0, 1e-9)
            anchor += min(max(fast, 0.0), 1.0) * (p.index_anchor_fast - p.index_anchor)
        fair = (1.0 - anchor) * moved + anchor * index
        if p.flow_impact_bps_per_musd:
            fair *= math.exp(self._flow_offset(view, s, mid, tv))
        ref = fair * (1.0 + skew_bps * 1e-4)
        # quotes move when fair value has moved by a layer spacing or half the spread, whichever is more
        tolerance_ticks = max(p.layer_spacing_bps, half_bps) * 1e-4 * mid
        size_usd = p.layer_size_usd * view.liquidity_scale[s] * (1.0 - p.budget_size_shrink * budget_used)
        lots = max(1, ex.usd_to_lots(s, size_usd, mid))
        last = self._last_ref.get(s)
        if (
            last is not None
            and abs(ref - last) < tolerance_ticks
            and abs(self._last_pos.get(s, 0) - pos) < p.requote_position_layers * lots  # small fills: keep
        ):
            return
        self._last_ref[s] = ref
        self._last_pos[s] = pos
        self._last_index[s] = news
        bids: list[tuple[int, int]] = []
        asks: list[tuple[int, int]] = []
        quote_bids = inventory_usd < limit_usd
        quote_asks = inventory_usd > -limit_usd
        if p.keep_queue:
            # queue-aware: a level within half a layer of where an order already rests, and a size within
            # a quarter of the last one, stay as they are (moving them would lose their place in the queue)
            old_lots = self._last_lots.get(s)
            if old_lots is not None and abs(lots - old_lots) <= 0.25 * old_lots:
                lots = old_lots
            self._last_lots[s] = lots
        for k in range(p.layers):
            off = (half_bps + k * p.layer_spacing_bps) * 1e-4
            if quote_bids:
                bids.append((max(1, int(ref * (1.0 - off))), lots))
            if quote_asks:
                asks.append((-int(-ref * (1.0 + off)), lots))
        if p.keep_queue:
            snap = 0.5 * p.layer_spacing_bps * 1e-4 * mid  # ticks
            old_b, old_a = self._last_prices.get(s, ((), ()))
            bids = [(_snap(px, old_b, snap), q) for px, q in bids]
            asks = [(_snap(px, old_a, snap), q) for px, q in asks]
            self._last_prices[s] = (tuple(px for px, _ in bids), tuple(px for px, _ in asks))
        ex.replace_quotes(self.account, s, bids, asks, keep_queue=p.keep_queue)


def _snap(price_ticks: int, resting: tuple[int, ...], within_ticks: float) -> int:
    """The resting price nearest ``price_ticks`` when it is within ``within_ticks``, else ``price_ticks``."""
    best = price_ticks
    gap = within_ticks
    for r in resting:
        d = abs(r - price_ticks)
        if d <= gap:
            best, gap = r, d
    return best
