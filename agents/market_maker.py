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
from agents.leader import UnshownLeaderMove
from model.exchange import MICRO
from model.orderbook import BUY, IOC, SELL

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
        leader_betas: each symbol's beta to the leader (``btc_beta``), for ``leader_pricing``; None: the
            alts are priced from their own book and index only.
        index_coupling: the alts' indices load on the leader's (the contagion switch): with
            ``leader_pricing_follow_seconds`` only the leader's perp move beyond its index is unshown.
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
        leader_betas: list[float] | None = None,
        index_coupling: bool = True,
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
        # one risk budget over a book that holds the leader: BTC's volatility is the whole book's risk
        self._book_has_leader = shared_budget and 0 in symbols
        # lead-lag quoting: the power of the leader's mid ratio that moves each alt's fair value
        self._leader_power = (
            {s: params.leader_pricing * leader_betas[s] for s in symbols if s != 0}
            if params.leader_pricing and leader_betas is not None
            else {}
        )
        self._last_leader: dict[int, float] = {}  # the leader's mid at each alt's last requote, ticks
        # leader_pricing_follow_seconds: per alt, the leader's log-move (x the power) its index has not shown
        # yet, and the leader's mid, index and the time at the last look
        self._index_coupling = index_coupling
        self._leader_unshown: UnshownLeaderMove | None = None
        self._symbol_out_until: dict[int, float] = {}
        self._last_ref: dict[int, float] = {}
        self._last_pos: dict[int, int] = {}
        self._last_half_bps: dict[int, float] = {}  # the half-spread last quoted, bp
        self._last_index: dict[int, float] = {}  # the index's exogenous path at the last requote, ticks
        self._n_quotes: dict[int, int] = {}
        # flow pricing: the tape, time, offset and the index's endogenous log-move at the last look
        self._tape: dict[int, tuple[int, float, float, float]] = {}
        # the slow average of the realised variance per sqrt(second)^2 and when it was last updated, per
        # symbol (flow_impact_vol_reference_halflife_seconds)
        self._vol_reference: dict[int, tuple[float, float]] = {}
        # hedge_share: the spot hedge held off this venue, per symbol, in perp lots (short spot < 0), and its
        # cost (lots x index ticks at each hedge trade)
        self.hedge_lots: dict[int, float] = {}
        self._last_hedge_s = 0.0
        self._hedge_cost_ticks: dict[int, float] = {}
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
        ex = self.exchange
        pos_row = ex.positions(self.account)  # hedging trades spot: it leaves the perp positions as they are
        if self._p.hedge_share:  # a maker keeps its hedge managed while its quotes are out
            self._hedge(pos_row)
        if now < self.withdrawn_until:
            return
        tv = ex.tick_value_micro
        scale = view.liquidity_scale
        hedge = self.hedge_lots
        # the inventory a maker skews and limits by: the perp position, net of the spot hedge if any
        net: list[float] | list[int] = (
            [lots + hedge.get(k, 0.0) for k, lots in enumerate(pos_row)] if hedge else pos_row
        )
        used = [
            abs(net[s]) * view.mid_ticks[s] * tv[s] / MICRO / (self.inventory_limit_usd * scale[s])
            for s in self.symbols
        ]
        if self.shared_budget:
            equity = self.equity_usd() + (self.hedge_pnl_usd() if hedge else 0.0)
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
                self._quote(view, s, budget_used, net[s], pos_row[s])
            return
        total_scale = sum(scale[s] for s in self.symbols)
        for i, s in enumerate(self.symbols):
            if now < self._symbol_out_until.get(s, -1.0):
                continue
            pnl = ex.unrealised_usd(self.account, s) + (self.hedge_pnl_usd(s) if hedge else 0.0)
            if pnl < -self.loss_limit_usd * scale[s] / total_scale:
                ex.cancel_all(self.account, s, stops=False)
                self._symbol_out_until[s] = now + self._p.withdraw_seconds
                self._last_ref.pop(s, None)
                self._last_index.pop(s, None)
                self._last_leader.pop(s, None)
                # back from the pause, the unshown leader move starts from that look (the index has had the
                # pause to follow)
                if self._leader_unshown is not None:
                    self._leader_unshown.forget(s)
                self._last_prices.pop(s, None)
                self.withdrawals += 1
                continue
            self._quote(view, s, min(used[i], 1.0), net[s], pos_row[s])

    def _hedge(self, pos_row: list[int]) -> None:
        """Move the spot hedge toward ``-hedge_share`` x the perp position, closing the gap with a
        half-life of ``hedge_halflife_seconds``.

        A maker that bought the perp sells spot on the venues the index is made of, and that selling
        moves the index (:meth:`model.exchange.Exchange.spot_flow`): the flow the makers absorb reaches
        spot, so a sale on this venue moves the common price, not only the perp's basis, and a hedged
        maker keeps quoting where an unhedged one would be full. The hedge is held off this venue (the
        ledger books this venue's money only): :meth:`hedge_pnl_usd` marks it at the index.
        """
        view = self.view
        tv = self.exchange.tick_value_micro
        p = self._p
        elapsed = view.time_s - self._last_hedge_s  # makers act on their own clock, not every step
        self._last_hedge_s = view.time_s
        step = 1.0 - 0.5 ** (elapsed / p.hedge_halflife_seconds)
        for s in self.symbols:
            hedge = self.hedge_lots.get(s, 0.0)
            trade = (-p.hedge_share * pos_row[s] - hedge) * step
            if abs(trade) < 0.5:  # less than half a lot: not worth a spot order
                continue
            index = view.index_ticks[s]
            self.hedge_lots[s] = hedge + trade
            self._hedge_cost_ticks[s] = self._hedge_cost_ticks.get(s, 0.0) + trade * index
            self.exchange.spot_flow(s, trade * index * tv[s] / MICRO)

    def hedge_pnl_usd(self, s: int | None = None) -> float:
        """Profit of the spot hedge (of symbol ``s``, or of all), marked at the index, USD."""
        view = self.view
        tv = self.exchange.tick_value_micro
        return sum(
            (lots * view.index_ticks[k] - self._hedge_cost_ticks[k]) * tv[k] / MICRO
            for k, lots in self.hedge_lots.items()
            if s is None or k == s
        )

    def withdraw(self, now: float, seconds: float) -> None:
        """Cancel every quote and stay out for ``seconds``."""
        self.exchange.cancel_all(self.account)
        self.withdrawn_until = now + seconds
        self.withdrawals += 1
        self._last_ref.clear()
        self._last_index.clear()
        self._last_leader.clear()
        self._last_prices.clear()  # nothing rests any more: no level to keep

    def _flow_offset(self, view: MarketView, s: int, mid: float, tv: int) -> float:
        """Log-move of fair value away from the index from the net taker flow on the tape.

        The tape's buyer- minus seller-initiated volume since the last look, in $1M (per $1M x the book's
        liquidity scale), moves fair value by ``flow_impact_bps_per_musd``, and the move fades with
        ``flow_impact_halflife_seconds``. With ``flow_impact_vol_elasticity`` the price per $1M scales
        with the realised volatility (:meth:`_flow_vol_multiple`). With ``flow_impact_net_of_index``
        what the index has followed since (its endogenous move: arbitrage pull and spot impact, the index's
        move less the news of its exogenous path) is taken off the move first, so the flow's impact is
        permanent in the share the index follows and counted once. Without it the move rides on the index
        wherever it goes: an index that follows the perp adds to it (a feedback, momentum, whose share
        grows with the venue's ``index_arbitrage_per_second``).
        """
        p = self._p
        now = view.time_s
        tape = self.exchange.signed_volume_lots[s]
        endogenous = math.log(view.index_ticks[s] / view.value_ticks[s])
        last_tape, last_t, offset, last_endogenous = self._tape.get(s, (tape, now, 0.0, endogenous))
        flow_musd = (tape - last_tape) * mid * tv / MICRO / 1e6 / view.liquidity_scale[s]
        if p.flow_impact_net_of_index:
            offset -= endogenous - last_endogenous
        offset *= 0.5 ** ((now - last_t) / p.flow_impact_halflife_seconds)
        knee_usd = p.flow_impact_linear_up_to_usd
        if knee_usd is not None and abs(flow_musd) > knee_usd / 1e6:
            # beyond the knee the price is concave in the flow (the square-root law)
            knee_musd = knee_usd / 1e6
            flow_musd = math.copysign(
                knee_musd * (abs(flow_musd) / knee_musd) ** p.flow_impact_concavity, flow_musd
            )
        offset += p.flow_impact_bps_per_musd * 1e-4 * flow_musd * self._flow_vol_multiple(view, s, now)
        self._tape[s] = (tape, now, offset, endogenous)
        return offset

    def _flow_vol_multiple(self, view: MarketView, s: int, now: float) -> float:
        """The flow price's multiple from volatility: (realised / reference)^``flow_impact_vol_elasticity``,
        within ``1 / flow_impact_max_multiple`` and ``flow_impact_max_multiple``; 1 when off or when the
        index has no calm volatility to compare with.

        The reference is the index's calm volatility, or with ``flow_impact_vol_reference_halflife_seconds``
        the maker's slow average of the realised variance since it started (from the calm one), updated
        here at each look.
        """
        p = self._p
        base = view.base_vol_1s[s]
        if not p.flow_impact_vol_elasticity or base <= 0:
            return 1.0
        vol = max(view.vol_1s[s], 0.0)
        halflife = p.flow_impact_vol_reference_halflife_seconds
        if halflife is not None:
            var, last_t = self._vol_reference.get(s, (base * base, now))
            var += (1.0 - 0.5 ** ((now - last_t) / halflife)) * (vol * vol - var)
            self._vol_reference[s] = (var, now)
            base = math.sqrt(var) if var > 0 else base
        top = p.flow_impact_max_multiple
        ratio = vol / base
        return min(max(ratio**p.flow_impact_vol_elasticity, 1.0 / top), top) if ratio > 0 else 1.0 / top

    def _unshown_move(self, view: MarketView, s: int, power: float, follow_s: float) -> float:
        """The leader's log-move, x ``power``, that alt ``s``'s index has not shown yet; updated at each look
        (:class:`agents.leader.UnshownLeaderMove`)."""
        if self._leader_unshown is None:
            self._leader_unshown = UnshownLeaderMove(follow_s, self._index_coupling)
        return self._leader_unshown.update(view, s, power, self.exchange.time_s)

    def _quote(self, view: MarketView, s: int, budget_used: float, inventory_lots: float, pos: int) -> None:
        """Requote symbol ``s`` if fair value or the position moved enough.

        Args:
            view: the market view.
            s: the symbol.
            budget_used: share of the risk budget in use, 0-1 (widens and shrinks the quotes).
            inventory_lots: the inventory the maker skews and limits by: its perp position net of its
                spot hedge, lots.
            pos: its perp position, lots (fills since the last requote trigger one).
        """
        ex = self.exchange
        p = self._p
        mid = view.mid_ticks[s]
        tv = ex.tick_value_micro[s]
        inventory_usd = inventory_lots * mid * tv / MICRO
        # spreads widen with volatility above the index's calm volatility (a calm book stays tight, a fast
        # one widens at once) and with the share of the risk budget in use
        vol = view.vol_1s[s]
        if p.vol_widening_above_calm:
            vol = max(vol - view.base_vol_1s[s], 0.0)
        if p.leader_vol_widening and self._book_has_leader and s != 0 and view.base_vol_1s[0] > 0:
            # one risk budget for the whole book: BTC's break widens the alts at once, in the alt's units
            lead = view.vol_1s[0] - (view.base_vol_1s[0] if p.vol_widening_above_calm else 0.0)
            lead *= p.leader_vol_widening * view.base_vol_1s[s] / view.base_vol_1s[0]
            vol = max(vol, lead)
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
        power = self._leader_power.get(s)
        if power:
            # the leader's book is the alts' fastest news: its move since this alt's last requote, scaled
            # by the alt's beta, moves the alt's fair value before anyone trades the alt
            leader = view.mid_ticks[0]
            moved *= (leader / self._last_leader.get(s, leader)) ** power
        anchor = p.index_anchor
        if p.index_anchor_fast is not None and view.base_vol_1s[s] > 0:
            # a fast market: the index (spot venues, with their latency) is stale; lean on the own book
            fast = (view.vol_1s[s] / view.base_vol_1s[s] - 1.0) / max(p.fast_vol_multiple - 1.0, 1e-9)
            anchor += min(max(fast, 0.0), 1.0) * (p.index_anchor_fast - p.index_anchor)
        if power and p.leader_pricing_follow_seconds is not None:
            # the index is other venues' alt price: it shows BTC's move only as it follows, so the anchor is
            # the index moved by what of BTC's move it has not shown yet (else the anchor takes it back)
            index *= math.exp(self._unshown_move(view, s, power, p.leader_pricing_follow_seconds))
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
            # reading the leader's volatility, a spread that moved by a layer requotes too: the alt's
            # fair value has not moved when BTC breaks, its risk has
            and not (
                p.leader_vol_widening
                and abs(half_bps - self._last_half_bps.get(s, half_bps)) >= p.layer_spacing_bps
            )
        ):
            return
        if p.leader_vol_widening:
            self._last_half_bps[s] = half_bps
        self._last_ref[s] = ref
        self._last_pos[s] = pos
        self._last_index[s] = news
        if power:
            self._last_leader[s] = view.mid_ticks[0]
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
        gap_bps = p.layer_spacing_bps
        off_bps = half_bps
        for k in range(p.layers):
            off = off_bps * 1e-4
            q = lots if k == 0 or p.layer_size_growth == 1.0 else max(1, round(lots * p.layer_size_growth**k))
            if quote_bids:
                bids.append((max(1, int(ref * (1.0 - off))), q))
            if quote_asks:
                asks.append((-int(-ref * (1.0 + off)), q))
            off_bps += gap_bps
            gap_bps *= p.layer_spacing_growth
        limits = ex.price_limits(s) if p.quote_within_price_band or p.take_stale_quotes else (1, 1)
        if p.quote_within_price_band:
            bids, asks = _within_band(bids, asks, *limits)
        if p.keep_queue:
            snap = 0.5 * p.layer_spacing_bps * 1e-4 * mid  # ticks
            old_b, old_a = self._last_prices.get(s, ((), ()))
            bids = [(_snap(px, old_b, snap), q) for px, q in bids]
            asks = [(_snap(px, old_a, snap), q) for px, q in asks]
            self._last_prices[s] = (tuple(px for px, _ in bids), tuple(px for px, _ in asks))
        ex.replace_quotes(self.account, s, bids, asks, keep_queue=p.keep_queue)
        if p.take_stale_quotes:
            self._take_stale(s, ref, bids, asks, limits)

    def _take_stale(
        self,
        s: int,
        ref: float,
        bids: list[tuple[int, int]],
        asks: list[tuple[int, int]],
        limits: tuple[int, int],
    ) -> None:
        """Hit others' resting orders that are stale by more than the taker fee: bids above fair value
        ``ref`` (ticks) x (1 + fee), asks below ``ref`` x (1 - fee). One IOC per side, limited there (and
        inside the price band's ``limits``, ticks), for the lots of the ladder's layers that would have
        crossed.

        A maker's fair value that has moved past someone's resting quote makes that quote a trade worth
        more than its fee: real makers pick such stale quotes off at once (the latency race of Budish,
        Cramton and Shim 2015), which is how a book follows news when its other resting orders lag.
        Quotes within the fee of fair value are left alone. The IOC cannot reach the maker's own ladder:
        its limit is beyond the maker's best price on its own side.
        """
        ex = self.exchange
        lo, hi = limits  # the price band at this requote
        fee = ex.taker_fee
        best_bid = ex.best_bid(s)
        if asks and best_bid is not None:
            limit = max(math.ceil(ref * (1.0 + fee)), asks[0][0], lo)
            if limit <= best_bid:
                lots = sum(q for px, q in asks if px <= best_bid)
                ex.submit(self.account, s, SELL, lots, price_ticks=limit, tif=IOC)
        best_ask = ex.best_ask(s)
        if bids and best_ask is not None:
            limit = min(math.floor(ref * (1.0 - fee)), bids[0][0], hi)
            if limit >= best_ask:
                lots = sum(q for px, q in bids if px >= best_ask)
                ex.submit(self.account, s, BUY, lots, price_ticks=limit, tif=IOC)


def _within_band(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], lo: int, hi: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Move bids above the band's ceiling ``hi`` down to it and asks below its floor ``lo`` up to it
    (both are then better prices for the maker than the ones it wanted), merging the layers that land on
    the edge into one order; layers beyond the band on the far side stay as they are (the router skips
    them)."""
    out: list[list[tuple[int, int]]] = []
    for quotes, clip in ((bids, lambda px: min(px, hi)), (asks, lambda px: max(px, lo))):
        side: list[tuple[int, int]] = []
        for px, q in quotes:
            px = clip(px)
            if side and side[-1][0] == px:
                side[-1] = (px, side[-1][1] + q)
            else:
                side.append((px, q))
        out.append(side)
    return out[0], out[1]


def _snap(price_ticks: int, resting: tuple[int, ...], within_ticks: float) -> int:
    """The resting price nearest ``price_ticks`` when it is within ``within_ticks``, else ``price_ticks``."""
    best = price_ticks
    gap = within_ticks
    for r in resting:
        d = abs(r - price_ticks)
        if d <= gap:
            best, gap = r, d
    return best
