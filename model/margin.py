"""Initial and maintenance margin, tier brackets, liquidation and bankruptcy prices.

Two maintenance rules, as venues publish them (``MARKET_FACTS.md`` §3):

* ``tiers`` (Binance style): maintenance = notional x MMR(tier) - maintenance amount(tier). The
  maintenance amount makes the schedule continuous at each bracket bound:
  ``amount[0] = 0`` and ``amount[i] = amount[i-1] + bound[i-1] x (mmr[i] - mmr[i-1])``.
* ``half_initial`` (Hyperliquid style): maintenance = half the initial margin at max leverage,
  i.e. notional / (2 x max_leverage).

Margin amounts here are thresholds, not bookings: they are float64 US dollars, vectorised over
accounts. Money that moves is booked in integer micro-dollars by :mod:`model.ledger`.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

LONG = 1
SHORT = -1


class MarginSchedule:
    """Margin brackets of one symbol.

    Args:
        brackets: ``(max_notional_usd, mmr, imr)`` triples with increasing bounds. Notional above the last
            bound uses the last bracket. For the ``half_initial`` rule pass a single bracket
            ``(inf, 0.5 / max_leverage, 1 / max_leverage)`` (see :meth:`half_initial`).
        max_leverage: the venue's cap on leverage for this symbol (on top of the brackets' 1 / imr).
    """

    def __init__(
        self, brackets: Sequence[tuple[float, float, float]], max_leverage: float | None = None
    ) -> None:
        if not brackets:
            raise ValueError("a margin schedule needs at least one bracket")
        b = np.asarray(brackets, dtype=np.float64)
        self.bounds_usd: NDArray[np.float64] = b[:, 0]
        self.mmr: NDArray[np.float64] = b[:, 1]
        self.imr: NDArray[np.float64] = b[:, 2]
        if np.any(self.mmr >= self.imr):
            raise ValueError("every bracket needs mmr < imr")
        if np.any(np.diff(self.bounds_usd) <= 0):
            raise ValueError("bracket bounds must increase")
        amount = np.zeros_like(self.mmr)
        for i in range(1, len(amount)):
            amount[i] = amount[i - 1] + self.bounds_usd[i - 1] * (self.mmr[i] - self.mmr[i - 1])
        self.maint_amount_usd: NDArray[np.float64] = amount
        tier_cap = 1.0 / self.imr
        self.max_leverage_by_tier: NDArray[np.float64] = (
            np.minimum(tier_cap, max_leverage) if max_leverage is not None else tier_cap
        )
        # plain-float copies for the scalar fast paths used per order (numpy on scalars costs ~us)
        self._bounds = self.bounds_usd.tolist()
        self._last = len(self._bounds) - 1
        self._cap = self.max_leverage_by_tier.tolist()
        # knots of the piecewise-linear maintenance schedule for np.interp (continuous by construction)
        finite = [b for b in self._bounds if np.isfinite(b)]
        far = max(finite[-1] * 1e3 if finite else 1e15, 1e15)
        xs = np.array([0.0, *finite, far])
        self._knots_x = xs
        self._knots_y = self.maintenance_usd(xs)

    @classmethod
    def half_initial(cls, max_leverage: float) -> MarginSchedule:
        """Hyperliquid's rule: one bracket, IMR = 1 / max leverage, MMR = IMR / 2, no amount."""
        return cls([(float("inf"), 0.5 / max_leverage, 1.0 / max_leverage)], max_leverage=max_leverage)

    def maintenance_interp_usd(self, notional_usd: NDArray[np.float64]) -> NDArray[np.float64]:
        """:meth:`maintenance_usd` through one ``np.interp`` call (the schedule is piecewise linear).

        Used by the liquidation engine's vectorised check; equal to :meth:`maintenance_usd` up to float
        rounding.
        """
        return np.interp(notional_usd, self._knots_x, self._knots_y)

    def tier_index(self, notional_usd: ArrayLike) -> NDArray[np.intp]:
        """Index of the bracket each notional falls in (bounds are inclusive)."""
        idx = np.searchsorted(self.bounds_usd, np.asarray(notional_usd, dtype=np.float64), side="left")
        return np.minimum(idx, len(self.bounds_usd) - 1)

    def maintenance_usd(self, notional_usd: ArrayLike) -> NDArray[np.float64]:
        """Maintenance margin in USD for each (absolute) notional: notional x MMR - amount, >= 0."""
        notional = np.asarray(notional_usd, dtype=np.float64)
        i = self.tier_index(notional)
        return np.maximum(notional * self.mmr[i] - self.maint_amount_usd[i], 0.0)

    def max_leverage(self, notional_usd: float) -> float:
        """Highest leverage allowed for a position of this notional (a scalar)."""
        return self._cap[min(bisect_left(self._bounds, notional_usd), self._last)]

    def max_notional_usd(self, leverage: float) -> float:
        """Largest notional at which ``leverage`` is still allowed (inf when every bracket allows it)."""
        allowed = [b for b, cap in zip(self._bounds, self._cap, strict=True) if cap >= leverage - 1e-9]
        if not allowed:
            return 0.0
        # brackets allow less leverage as notional grows, so the allowed ones are a prefix
        return float("inf") if allowed[-1] == self._bounds[-1] else allowed[-1]

    def initial_usd_scalar(self, notional_usd: float, leverage: float) -> float:
        """:meth:`initial_usd` for one position, without numpy (the per-order path)."""
        cap = self._cap[min(bisect_left(self._bounds, notional_usd), self._last)]
        return notional_usd / (leverage if leverage < cap else cap)

    def initial_usd(self, notional_usd: ArrayLike, leverage: ArrayLike) -> NDArray[np.float64]:
        """Initial margin in USD: notional / leverage, with leverage capped by the notional's bracket."""
        notional = np.asarray(notional_usd, dtype=np.float64)
        cap = self.max_leverage_by_tier[self.tier_index(notional)]
        return notional / np.minimum(np.asarray(leverage, dtype=np.float64), cap)


def bankruptcy_price(side: int, entry_price: float, qty: float, margin_usd: float) -> float:
    """Price at which a position's margin is used up exactly (no fees).

    Long: entry - margin / qty; short: entry + margin / qty. With margin = entry x qty / leverage this is
    entry x (1 - 1/leverage) for a long. Any consistent units work: USD per coin, coins and USD; or, as
    the liquidation engine uses it, the mark in ticks as the "entry", the position's tick value
    (lots x micro-dollars per tick) as the quantity and the position's share of equity in micro-dollars
    as the margin.

    Args:
        side: ``LONG`` (+1) or ``SHORT`` (-1).
        entry_price: reference price (average entry, or the mark with the equity left at the mark).
        qty: position size (> 0).
        margin_usd: the margin (equity) the position has at ``entry_price``.
    """
    return entry_price - side * margin_usd / qty


def bankruptcy_ticks(pos_lots: int, mark_ticks: float, equity_micro: float, tick_value_micro: int) -> int:
    """The bankruptcy price of a position in whole ticks, rounded on the side that protects the fund.

    The price at which a position of ``pos_lots`` (signed) that has ``equity_micro`` of equity at
    ``mark_ticks`` is worth nothing (:func:`bankruptcy_price`); a long sells at or above it (rounded up),
    a short buys at or below it (rounded down), so the account never ends below zero; at least one tick.
    """
    side = LONG if pos_lots > 0 else SHORT
    price = bankruptcy_price(side, mark_ticks, abs(pos_lots) * tick_value_micro, equity_micro)
    ticks = math.ceil(price - 1e-9) if pos_lots > 0 else math.floor(price + 1e-9)
    return max(1, ticks)


def liquidation_price(
    side: int, entry_price: float, qty: float, margin_usd: float, schedule: MarginSchedule
) -> float:
    """Mark price at which an isolated position reaches maintenance margin (Binance one-way formula).

    Solves margin + side x qty x (P - entry) = qty x P x MMR - amount for P, with the bracket of the
    position's notional at the solution (brackets are tried from the entry's notional outward until the
    solution falls in the bracket used). Fees are ignored, as in the venues' calculators.

    Returns:
        The liquidation price in USD (0.0 when a long can never be liquidated, e.g. at 1x leverage).
    """
    n = len(schedule.bounds_usd)
    start = int(schedule.tier_index(entry_price * qty))
    order = sorted(range(n), key=lambda i: abs(i - start))
    price = 0.0
    for i in order:
        mmr, amount = schedule.mmr[i], schedule.maint_amount_usd[i]
        # margin + side*qty*(P - E) = qty*P*mmr - amount
        #   =>  P = (side*qty*E - margin - amount) / (side*qty - qty*mmr)
        denom = side * qty - qty * mmr
        price = float((side * qty * entry_price - margin_usd - amount) / denom)
        if int(schedule.tier_index(max(price, 0.0) * qty)) == i:
            break
    return max(price, 0.0)
