"""The liquidation engine's policies: disposal, backstop and auto-deleveraging (ADL), one small object each.

The engine (:mod:`model.liquidation`) runs the waterfall and asks its policies three questions:

* **disposal** — how much of a failing position goes to the book now, and what happens to what the book
  does not take (:class:`BankruptcyIOC`, :class:`MarketSlices`, :class:`TimeSpread`);
* **backstop** — who takes over what the book could not absorb, and when (:class:`InsuranceFund`,
  :class:`LiquidityVault`);
* **ADL** — when the backstop cannot bear a loss, which opposite positions are closed, how much of each and
  at what price (:class:`RankedQueue`, :class:`HyperliquidQueue`, :class:`ProRata`, :class:`NoAdl`).

Each policy is chosen per venue in the config (``venue.disposal``, ``venue.backstop``, ``venue.adl_policy``)
and can be swept in a study. Policies decide; only :class:`model.ledger.Ledger` methods move money, through
the engine, so the ledger stays exact whatever the combination.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

# ---------------------------------------------------------------------------------------------- disposal


class DisposalPlan(NamedTuple):
    """What to send to the book for one failing position.

    Attributes:
        lots: lots of the liquidation order sent now (at most the position).
        kind: event kind recorded for its fills (``"liquidation"`` or ``"partial"``).
        takeover_rest: the lots the order does not fill go to the backstop at once (else they wait for the
            next check).
        starts_cooldown: the account enters the partial-liquidation cooldown.
    """

    lots: int
    kind: str
    takeover_rest: bool
    starts_cooldown: bool


class BankruptcyIOC:
    """Binance-like: the whole position in one IOC at the bankruptcy price; the backstop takes the rest.

    Source: Binance, "Liquidation Protocols" (USDS-M futures FAQ, 2025): the engine cancels the account's
    orders, sends the position to the book at the bankruptcy price, and the insurance fund takes over
    what does not fill.
    """

    name = "bankruptcy_ioc"

    def plan(
        self, notional_usd: float, abs_lots: int, backstop: bool, in_cooldown: bool
    ) -> DisposalPlan | None:
        """The whole position, rest to the backstop."""
        return DisposalPlan(abs_lots, "liquidation", True, False)

    def cap_lots(self, lots: int, visible_lots: int) -> int:
        """No cap: the order may take the whole visible book down to the bankruptcy price."""
        return lots


class MarketSlices:
    """Hyperliquid-like: large positions go to the book a slice at a time, with a cooldown.

    A position above ``threshold_usd`` is liquidated ``fraction`` at a time; after a partial liquidation
    the account is in cooldown for ``cooldown_s``. With ``whole_in_cooldown`` (Hyperliquid's published
    rule: "during this cooldown period, all market liquidation orders for that user will be for the entire
    position", announcement of 2023-07, liquidations page of the docs as of 2025) an account found
    liquidatable again during the cooldown is liquidated whole; without it the engine waits for the
    cooldown to end. Below the backstop threshold (equity < 2/3 of maintenance) the position goes whole.

    Args:
        threshold_usd: notional above which positions are sliced (None: never).
        fraction: share of the position per slice.
        cooldown_s: seconds after a partial liquidation.
        whole_in_cooldown: liquidate the whole position during the cooldown (else nothing).
    """

    name = "market_slices"

    def __init__(
        self, threshold_usd: float | None, fraction: float, cooldown_s: float, whole_in_cooldown: bool
    ) -> None:
        self.threshold_usd = threshold_usd
        self.fraction = fraction
        self.cooldown_s = cooldown_s
        self.whole_in_cooldown = whole_in_cooldown

    def plan(
        self, notional_usd: float, abs_lots: int, backstop: bool, in_cooldown: bool
    ) -> DisposalPlan | None:
        """A slice (partial), the whole position in cooldown (or nothing), or the whole below the backstop."""
        partial = (
            self.threshold_usd is not None
            and notional_usd > self.threshold_usd
            and self.fraction < 1.0
            and not backstop
        )
        if not partial:
            return DisposalPlan(abs_lots, "liquidation", True, False)
        if in_cooldown:
            return DisposalPlan(abs_lots, "liquidation", True, False) if self.whole_in_cooldown else None
        lots = min(max(1, math.ceil(abs_lots * self.fraction)), abs_lots)
        return DisposalPlan(lots, "partial", False, True)

    def cap_lots(self, lots: int, visible_lots: int) -> int:
        """No cap on an order's size."""
        return lots


class TimeSpread:
    """Spread over time and capped at a share of visible depth (vega-market-sim's disposal parameters).

    A liquidation order takes at most ``max_book_share`` of the lots resting between the best price and
    the bankruptcy price; the backstop takes over the rest at once and disposes of its inventory every
    ``interval_s`` in slices of ``fraction`` of it, each again capped at ``max_book_share`` of the depth
    down (or up) to the mark, so a forced sale never sweeps the book.

    Args:
        interval_s: seconds between two disposal slices of the backstop's inventory.
        fraction: share of the inventory per slice.
        max_book_share: largest share of the visible depth one order may consume.
    """

    name = "time_spread"

    def __init__(self, interval_s: float, fraction: float, max_book_share: float) -> None:
        self.interval_s = interval_s
        self.fraction = fraction
        self.max_book_share = max_book_share

    def plan(
        self, notional_usd: float, abs_lots: int, backstop: bool, in_cooldown: bool
    ) -> DisposalPlan | None:
        """The whole position, capped by :meth:`cap_lots`; the rest to the backstop."""
        return DisposalPlan(abs_lots, "liquidation", True, False)

    def cap_lots(self, lots: int, visible_lots: int) -> int:
        """At most ``max_book_share`` of the visible lots (whole lots, rounded down)."""
        return min(lots, math.floor(visible_lots * self.max_book_share))


class TierStepDown:
    """Bybit/OKX-like laddered liquidation: a large position steps down through the margin tiers first.

    Source: Bybit help centre, "Liquidation Process" and "Risk Limit (USDT Contract)" (2024-25): for a
    position in a tier above the first, the system "will automatically reduce the level of maintenance
    margin by attempting to reduce the risk limit levels to the lowest possible level to avoid an
    immediate full liquidation". Here each check that finds the position liquidatable sells the lots above
    the bound of the tier below (one tier a step; the lower tier's rate lowers the maintenance margin), and
    a position in the first tier is liquidated whole at the bankruptcy price, the fund taking the rest.
    """

    name = "tier_step_down"

    def step_lots(self, abs_lots: int, lot_value_usd: float, lower_bound_usd: float | None) -> DisposalPlan:
        """The step for a position of ``abs_lots`` worth ``lot_value_usd`` a lot at the mark.

        Args:
            abs_lots: the position, lots.
            lot_value_usd: notional of one lot at the mark, USD.
            lower_bound_usd: the upper bound of the tier below the position's (None: it is in the first).
        """
        if lower_bound_usd is None or lot_value_usd <= 0:
            return DisposalPlan(abs_lots, "liquidation", True, False)
        keep = math.floor(lower_bound_usd / lot_value_usd)
        lots = min(abs_lots, max(1, abs_lots - keep))
        return DisposalPlan(lots, "partial" if lots < abs_lots else "liquidation", lots == abs_lots, False)

    def plan(
        self, notional_usd: float, abs_lots: int, backstop: bool, in_cooldown: bool
    ) -> DisposalPlan | None:
        """Without the tiers (see :meth:`step_lots`): the whole position."""
        return DisposalPlan(abs_lots, "liquidation", True, False)

    def cap_lots(self, lots: int, visible_lots: int) -> int:
        """No cap on an order's size."""
        return lots


Disposal = BankruptcyIOC | MarketSlices | TimeSpread | TierStepDown


# ---------------------------------------------------------------------------------------------- backstop


class InsuranceFund:
    """The insurance fund takes over what the book did not absorb, at the bankruptcy price, and unwinds it.

    It takes over when its equity after the loss this implies at the mark still covers the maintenance
    margin of its whole inventory (like any account); else ADL. The inventory is sold back through the
    book (see the disposal policy's pace).
    """

    name = "insurance_fund"
    takes_whole_account = False


class LiquidityVault:
    """Hyperliquid-like backstop: below 2/3 of maintenance a vault takes over the whole account.

    Source: Hyperliquid docs, "Liquidations" (2025): "If the account equity drops below 2/3 of the
    maintenance margin without successful liquidation through the order books, a backstop liquidation
    happens through the liquidator vault"; cross positions and margin move to the vault (an isolated
    position with its own margin). Above that threshold liquidations go to the book only, and what does
    not fill waits for the next check. The vault is the fund's account (its capital is
    ``insurance_fund_usd``); when it cannot bear a takeover, ADL follows as for the fund.
    """

    name = "liquidity_vault"
    takes_whole_account = True


Backstop = InsuranceFund | LiquidityVault


# ---------------------------------------------------------------------------------------------- ADL


class AdlCandidates(NamedTuple):
    """The opposite positions ADL may close, one row per account (all arrays aligned).

    Attributes:
        accounts: account ids.
        lots: absolute position in the symbol, lots.
        pnl_fraction: unrealised PnL / entry notional of the position.
        effective_leverage: position notional / the equity backing it (account equity for cross, isolated
            margin + PnL for isolated).
        notional_micro: position notional at the mark, micro-dollars.
        equity_micro: the equity backing the position, micro-dollars.
        gain_ratio: mark / average entry for a long, entry / mark for a short (> 1: in profit).
    """

    accounts: NDArray[np.intp]
    lots: NDArray[np.int64]
    pnl_fraction: NDArray[np.float64]
    effective_leverage: NDArray[np.float64]
    notional_micro: NDArray[np.float64]
    equity_micro: NDArray[np.float64]
    gain_ratio: NDArray[np.float64]


def adl_rank(
    pnl_fraction: NDArray[np.float64], effective_leverage: NDArray[np.float64]
) -> NDArray[np.float64]:
    """ADL ranking score: PnL% x leverage when profitable, PnL% / leverage when losing (higher goes first)."""
    lev = np.maximum(effective_leverage, 1e-12)
    return np.where(pnl_fraction > 0, pnl_fraction * lev, pnl_fraction / lev)


def _queue(cands: AdlCandidates, rank: NDArray[np.float64], lots: int) -> list[tuple[int, int, float]]:
    """Close ``lots`` down a queue: highest rank first (ties by account id), each up to its whole position."""
    order = np.lexsort((cands.accounts, -rank))
    out: list[tuple[int, int, float]] = []
    left = lots
    for i in order.tolist():
        take = min(left, int(cands.lots[i]))
        out.append((i, take, float(rank[i])))
        left -= take
        if not left:
            break
    return out


class RankedQueue:
    """Binance/Delta: a queue by PnL% x effective leverage, closed at the bankruptcy price.

    Source: Binance, "What Is Auto-Deleveraging (ADL)" (USDS-M futures FAQ, 2025): ranking = PnL% x
    effective leverage for profitable positions and PnL% / effective leverage for losing ones.
    """

    name = "ranked_queue"
    enabled = True
    at_oracle = False

    def allocate(self, cands: AdlCandidates, lots: int) -> list[tuple[int, int, float]]:
        """``(candidate index, lots, rank)`` in closing order."""
        return _queue(cands, adl_rank(cands.pnl_fraction, cands.effective_leverage), lots)


class HyperliquidQueue:
    """Hyperliquid: a queue by (mark / entry) x (notional / account value), closed at the previous oracle.

    Source: Hyperliquid docs, "Auto-deleveraging" (2025): "the users on the opposite side of the position
    are ranked by unrealized pnl and leverage used. The specific sorting index ... is (mark_price /
    entry_price) * (notional_position / account_value)"; positions "are closed at the previous oracle
    price". For a short the profit is in a falling mark, so its index uses entry / mark. Closing at the
    oracle rather than at the bankruptcy price moves money: when the oracle is beyond the bankruptcy price
    the counterparties pay more than the shortfall (the ADL overshoot goes to the liquidated account); when
    it is short of it the liquidated account is left with a negative balance that the fund covers, and
    what the fund cannot is bad debt.
    """

    name = "hyperliquid"
    enabled = True
    at_oracle = True

    def allocate(self, cands: AdlCandidates, lots: int) -> list[tuple[int, int, float]]:
        """``(candidate index, lots, rank)`` in closing order; accounts with no equity go last."""
        leverage = cands.notional_micro / np.maximum(cands.equity_micro, 1.0)
        rank = np.where(cands.equity_micro > 0, cands.gain_ratio * leverage, -np.inf)
        return _queue(cands, rank, lots)


class ProRata:
    """Every profitable opposite position closes in proportion to its size, at the bankruptcy price.

    Each gets ``floor(lots x size / total)``; the lots left by rounding go one each to the largest
    remainders (ties by account id). With no profitable opposite position, every opposite position
    shares. The rank column of the event rows holds each account's share of the total.
    """

    name = "pro_rata"
    enabled = True
    at_oracle = False

    def allocate(self, cands: AdlCandidates, lots: int) -> list[tuple[int, int, float]]:
        """``(candidate index, lots, share)``, largest take first."""
        idx = np.flatnonzero(cands.pnl_fraction > 0)
        if len(idx) == 0:
            idx = np.arange(len(cands.accounts))
        sizes = cands.lots[idx].astype(np.int64)
        total = int(sizes.sum())
        lots = min(lots, total)
        takes = (sizes * lots) // total
        rest = lots - int(takes.sum())
        remainders = sizes * lots - takes * total
        for j in np.lexsort((cands.accounts[idx], -remainders))[:rest].tolist():
            takes[j] += 1
        order = np.lexsort((cands.accounts[idx], -takes))
        return [(int(idx[j]), int(takes[j]), float(sizes[j]) / total) for j in order.tolist() if takes[j] > 0]


class NoAdl:
    """No ADL: the backstop takes everything, and what it cannot bear is bad debt (losses socialised)."""

    name = "none"
    enabled = False
    at_oracle = False

    def allocate(self, cands: AdlCandidates, lots: int) -> list[tuple[int, int, float]]:
        """Nothing is deleveraged."""
        return []


AdlPolicy = RankedQueue | HyperliquidQueue | ProRata | NoAdl

DISPOSALS = ("bankruptcy_ioc", "market_slices", "time_spread")
BACKSTOPS = ("insurance_fund", "liquidity_vault")
ADL_POLICIES = ("ranked_queue", "hyperliquid", "pro_rata", "none")
