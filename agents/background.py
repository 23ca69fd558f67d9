"""Background flow: fundamental (value) traders and noise traders.

Fundamental traders (basis arbitrageurs) buy when the perp trades below its index by more than a
threshold and sell above it, hedging on spot, which anchors the perp to spot and gives mean reversion;
their hedges move the index in turn (``Exchange.spot_flow``). Noise traders post small limit orders
around the mid (depth), send occasional market orders (volume), cancel their oldest orders, and cut a
position that has grown too large. Together they make an ordinary market when nothing is happening.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from agents.base import Trader
from model.orderbook import BUY, IOC, SELL

if TYPE_CHECKING:
    from model.market import CryptoMarket, MarketView


class FundamentalTrader(Trader):
    """Trades its symbol toward the index.

    Args:
        model: the market.
        capital_usd: collateral.
        symbol: the symbol it trades.
        rate_per_s: decisions per second.
    """

    def __init__(self, model: CryptoMarket, capital_usd: float, symbol: int, rate_per_s: float) -> None:
        super().__init__(model, capital_usd, leverage=5.0, rate_per_s=rate_per_s)
        self.symbol = symbol
        self._p = model.params.background

    def decide(self, view: MarketView) -> tuple[int, int, int] | None:
        """(side, lots, limit ticks) toward the index, or None inside the threshold."""
        s = self.symbol
        mid = view.mid_ticks[s]
        index = view.index_ticks[s]
        gap = mid / index - 1.0
        th = self._p.fundamental_threshold_bps * 1e-4
        size_usd = self._p.fundamental_size_usd * self.model.liquidity_scale[s]
        size_usd *= min(abs(gap) / th, 5.0) if abs(gap) > th else 0.0
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
            self.symbol, self.capital_usd * 2.0, self.model.view.mid_ticks[self.symbol]
        )
        if (side == BUY and pos + lots > cap) or (side == SELL and pos - lots < -cap):
            return  # position cap: value traders are not leveraged speculators
        res = self.exchange.submit(self.account, self.symbol, side, lots, price_ticks=max(1, limit), tif=IOC)
        if res.filled_lots:  # hedge on spot: buying the perp means selling spot, which moves the index
            ex = self.exchange
            notional = sum(f.price_ticks * f.lots for f in res.fills) * ex.tick_value_micro[self.symbol] / 1e6
            ex.spot_flow(self.symbol, -notional if side == BUY else notional)


class NoiseTrader(Trader):
    """Random small orders around the mid.

    Args:
        model: the market.
        capital_usd: collateral.
        symbol: the symbol it trades.
        rate_per_s: orders per second.
    """

    MAX_RESTING = 4

    def __init__(self, model: CryptoMarket, capital_usd: float, symbol: int, rate_per_s: float) -> None:
        super().__init__(model, capital_usd, leverage=5.0, rate_per_s=rate_per_s)
        self.symbol = symbol
        self._p = model.params.background
        self._resting: deque[int] = deque()

    def decide(self, view: MarketView) -> tuple[int, int, int | None] | None:
        """(side, lots, price ticks or None for a market order)."""
        rng = self.model.rng
        s = self.symbol
        mid = view.mid_ticks[s]
        size_usd = self._p.noise_size_usd * self.model.liquidity_scale[s] * float(rng.exponential(1.0))
        lots = max(1, self.exchange.usd_to_lots(s, size_usd, mid))
        pos = self.position(s)
        limit_lots = self.exchange.usd_to_lots(
            s, 10 * self._p.noise_size_usd * self.model.liquidity_scale[s], mid
        )
        if abs(pos) > max(limit_lots, 1):
            return (SELL if pos > 0 else BUY, abs(pos) // 2 or 1, None)
        side = BUY if rng.random() < 0.5 else SELL
        if rng.random() < self._p.noise_market_share:
            return (side, lots, None)
        offset = float(rng.exponential(8e-4))  # mean 8 bps away from the mid
        price = mid * (1.0 - offset) if side == BUY else mid * (1.0 + offset)
        return (side, lots, max(1, round(price)))

    def act(self, intent: tuple[int, int, int | None]) -> None:
        """Cancel the oldest order when at the limit, then send the new one."""
        side, lots, price = intent
        ex = self.exchange
        while len(self._resting) >= self.MAX_RESTING:
            ex.cancel(self.account, self._resting.popleft())
        res = ex.submit(self.account, self.symbol, side, lots, price_ticks=price)
        if res.status == "resting" and res.oid is not None:
            self._resting.append(res.oid)
