"""Background flow: fundamental (value) traders and noise traders.

Fundamental traders (basis arbitrageurs) buy when the perp trades below its index by more than a
threshold and sell above it, hedging on spot, which anchors the perp to spot and gives mean reversion;
their hedges move the index in turn (``Exchange.spot_flow``). Noise traders post small limit orders
around the mid (depth), send occasional market orders (volume), cancel their oldest orders, and cut a
position that has grown too large. Together they make an ordinary market when nothing is happening.

Value traders are the slow money of a multi-day run: they compare the perp with the index's exogenous
path (fundamental value: news and macro drift, without the moves that arbitrage and spot impact add),
build a position against the gap once it exceeds a threshold, up to their capital at a full gap, and
unwind it once the price is back at value (never buying above value nor selling below it). They wait
while the price is still falling fast (momentum must stop first), so a cascade runs its course over
minutes and value returns over hours to days.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any

from agents.base import Trader
from agents.leader import UnshownLeaderMove
from model.orderbook import BUY, IOC, SELL

if TYPE_CHECKING:
    import mesa

    from model.exchange import Exchange
    from model.params import BackgroundParams
    from model.view import MarketView


class BackgroundTrader(Trader):
    """A background participant trading one symbol, sized by the background flow's parameter block.

    Subclasses name the block's leverage field in ``LEVERAGE_FIELD``.

    Args:
        model: the Mesa model the agent belongs to.
        exchange: the venue.
        view: the per-step market view.
        params: the background flow's parameter block.
        capital_usd: collateral, USD.
        symbol: the symbol it trades.
        rate_per_s: decisions per simulated second.
    """

    LEVERAGE_FIELD = "fundamental_leverage"

    def __init__(
        self,
        model: mesa.Model,
        exchange: Exchange,
        view: MarketView,
        params: BackgroundParams,
        capital_usd: float,
        symbol: int,
        rate_per_s: float,
    ) -> None:
        leverage = float(getattr(params, self.LEVERAGE_FIELD))
        super().__init__(model, exchange, view, capital_usd, leverage=leverage, rate_per_s=rate_per_s)
        self.symbol = symbol
        self._p = params


class FundamentalTrader(BackgroundTrader):
    """Trades its symbol toward the index.

    Args:
        model: the Mesa model the agent belongs to.
        exchange: the venue.
        view: the per-step market view.
        params: the background flow's parameter block.
        capital_usd: collateral.
        symbol: the symbol it trades.
        rate_per_s: decisions per second.
    """

    LEVERAGE_FIELD = "fundamental_leverage"

    leader_power = 0.0
    """``fundamental_leader_pricing x btc_beta`` of its alt, set by the market when the channel is on."""
    leader_move: UnshownLeaderMove | None = None
    """Its estimate of the leader's move the alt's index has not shown (None: it trades the index as is)."""

    def reference_ticks(self, view: MarketView) -> float:
        """The price it trades the perp toward: the index, moved (with leader pricing) by the part of
        ``leader_power`` x BTC's move that the index has not shown yet, ticks."""
        index = view.index_ticks[self.symbol]
        if self.leader_move is None:
            return index
        return index * math.exp(self.leader_move.update(view, self.symbol, self.leader_power, view.time_s))

    def decide(self, view: MarketView) -> tuple[int, int, int] | None:
        """(side, lots, limit ticks) toward the reference (the index), or None inside the threshold."""
        s = self.symbol
        mid = view.mid_ticks[s]
        index = self.reference_ticks(view)
        gap = mid / index - 1.0
        p = self._p
        th = p.fundamental_threshold_bps * 1e-4
        size_usd = p.fundamental_size_usd * view.liquidity_scale[s]
        size_usd *= min(abs(gap) / th, p.fundamental_max_size_multiple) if abs(gap) > th else 0.0
        lots = self.exchange.usd_to_lots(s, size_usd, mid)
        if lots < 1:
            return None
        if gap < 0:
            return (BUY, lots, int(index))
        return (SELL, lots, -int(-index))

    def act(self, intent: tuple[int, int, int]) -> None:
        """An IOC limited at the index: it never pays through fair value."""
        side, lots, limit = intent
        pos = self.position(self.symbol)
        cap = self.exchange.usd_to_lots(
            self.symbol,
            self.capital_usd * self._p.fundamental_position_cap_capital,
            self.view.mid_ticks[self.symbol],
        )
        if (side == BUY and pos + lots > cap) or (side == SELL and pos - lots < -cap):
            return  # position cap: value traders are not leveraged speculators
        res = self.exchange.submit(self.account, self.symbol, side, lots, price_ticks=max(1, limit), tif=IOC)
        if res.filled_lots:  # hedge on spot: buying the perp means selling spot, which moves the index
            ex = self.exchange
            notional = sum(f.price_ticks * f.lots for f in res.fills) * ex.tick_value_micro[self.symbol] / 1e6
            ex.spot_flow(self.symbol, -notional if side == BUY else notional)


class NoiseTrader(BackgroundTrader):
    """Random small orders around the mid.

    Args:
        model: the Mesa model the agent belongs to (its ``rng`` draws the orders).
        exchange: the venue.
        view: the per-step market view.
        params: the background flow's parameter block.
        capital_usd: collateral.
        symbol: the symbol it trades.
        rate_per_s: orders per second.
    """

    LEVERAGE_FIELD = "noise_leverage"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resting: deque[int] = deque()

    def decide(self, view: MarketView) -> tuple[int, int, int | None] | None:
        """(side, lots, price ticks or None for a market order)."""
        rng = self.rng
        p = self._p
        s = self.symbol
        mid = view.mid_ticks[s]
        scale = view.liquidity_scale[s]
        size_usd = p.noise_size_usd * scale * float(rng.exponential(1.0))
        lots = max(1, self.exchange.usd_to_lots(s, size_usd, mid))
        pos = self.position(s)
        limit_lots = self.exchange.usd_to_lots(
            s, p.noise_position_limit_orders * p.noise_size_usd * scale, mid
        )
        if abs(pos) > max(limit_lots, 1):
            return (SELL if pos > 0 else BUY, abs(pos) // 2 or 1, None)
        side = BUY if rng.random() < 0.5 else SELL
        if rng.random() < p.noise_market_share:
            return (side, lots, None)
        offset = float(rng.exponential(p.noise_offset_bps * 1e-4))  # mean distance from the mid
        price = mid * (1.0 - offset) if side == BUY else mid * (1.0 + offset)
        return (side, lots, max(1, round(price)))

    def act(self, intent: tuple[int, int, int | None]) -> None:
        """Cancel the oldest order when at the limit, then send the new one."""
        side, lots, price = intent
        ex = self.exchange
        while len(self._resting) >= self._p.noise_max_resting_orders:
            ex.cancel(self.account, self._resting.popleft())
        res = ex.submit(self.account, self.symbol, side, lots, price_ticks=price)
        if res.status == "resting" and res.oid is not None:
            self._resting.append(res.oid)


class ValueTrader(BackgroundTrader):
    """Slow money that buys the perp below fundamental value and sells it above (the long-run anchor).

    Its target position is ``-sign(gap) x capital x clip((|gap| - threshold) / (full_gap - threshold), 0, 1)``
    with ``gap = log(mid / value)``; each decision trades toward the target by at most ``value_order_usd``
    (both scaled by the symbol's ``liquidity_scale``), with an IOC that never pays through value.

    Args:
        model: the Mesa model the agent belongs to.
        exchange: the venue.
        view: the per-step market view.
        params: the background flow's parameter block.
        capital_usd: collateral; also the largest position it takes (1x), USD.
        symbol: the symbol it trades.
        rate_per_s: decisions per second.
    """

    LEVERAGE_FIELD = "value_leverage"

    def target_usd(self, view: MarketView) -> float:
        """The signed position it wants at the current gap to value, USD (long > 0)."""
        p = self._p
        s = self.symbol
        gap = math.log(view.mid_ticks[s] / view.value_ticks[s])
        weight = min(max((abs(gap) - p.value_threshold) / (p.value_full_gap - p.value_threshold), 0.0), 1.0)
        return -math.copysign(weight, gap) * self.capital_usd * view.liquidity_scale[s]

    def decide(self, view: MarketView) -> tuple[int, int, int] | None:
        """(side, lots, limit ticks) toward the target position, or None."""
        p = self._p
        s = self.symbol
        mid = view.mid_ticks[s]
        ex = self.exchange
        target_usd = self.target_usd(view)
        want = ex.usd_to_lots(s, abs(target_usd), mid) * (1 if target_usd > 0 else -1)
        diff = want - self.position(s)
        order = ex.usd_to_lots(s, p.value_order_usd * view.liquidity_scale[s], mid)
        lots = min(abs(diff), order)
        if lots < 1:
            return None
        momentum = view.ret(s, p.value_momentum_window_seconds)
        value = view.value_ticks[s]
        if diff > 0:
            if momentum < -p.value_falling_knife:
                return None  # no catching a falling knife: wait until the selling slows
            # never pays more than value: a short is covered, and a long built, only at value or below
            return (BUY, lots, max(1, math.floor(min(mid * (1.0 + p.value_limit_slippage), value))))
        if momentum > p.value_falling_knife:
            return None
        # never sells below value: a long bought at a discount is unwound at value, not dumped on the way up
        return (SELL, lots, math.ceil(max(mid * (1.0 - p.value_limit_slippage), value)))

    def act(self, intent: tuple[int, int, int]) -> None:
        """An IOC limited near the mid and never through value."""
        side, lots, limit = intent
        self.exchange.submit(self.account, self.symbol, side, lots, price_ticks=limit, tif=IOC)
