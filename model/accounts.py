"""Account views: positions, equity, unrealised PnL and maintenance margin at the marks.

This is the one place where an account's equity and maintenance margin are computed, as scalars (for an
agent's decision) and vectorised over ledger rows (for the liquidation engine's check). It reads the
ledger and the marks and writes nothing: money moves only through :class:`model.ledger.Ledger` methods.

Amounts computed here are thresholds, not bookings: float US dollars (``*_usd``) or float micro-dollars
(``*_micro`` arrays). The marks are the :class:`model.prices.MarketPrices` array itself (read live).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from model.ledger import MICRO, Ledger
from model.margin import MarginSchedule


def row_sum(x: NDArray[np.float64] | NDArray[np.int64]) -> NDArray[np.float64]:
    """Sum over the (few) symbol columns; much faster than ``x.sum(axis=1)`` on a tall, narrow array."""
    total = x[:, 0].astype(np.float64)
    for j in range(1, x.shape[1]):
        total = total + x[:, j]
    return total


def row_min(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Minimum over the symbol columns (see :func:`row_sum`)."""
    out = x[:, 0]
    for j in range(1, x.shape[1]):
        out = np.minimum(out, x[:, j])
    return out


class AccountViews:
    """Read-only views of the ledger's accounts at the current marks.

    Args:
        ledger: the exchange's ledger.
        schedules: one margin schedule per symbol.
        mark_ticks: the marks, float ticks, one per symbol (the live array the prices update in place).
        tick_value_micro: micro-dollars per tick per lot, one per symbol.
        maintenance_at_entry: measure maintenance margin on the notional at the entry price (Bybit: "MM
            = position value at entry x MMR - deduction") instead of at the mark.
    """

    def __init__(
        self,
        ledger: Ledger,
        schedules: Sequence[MarginSchedule],
        mark_ticks: NDArray[np.float64],
        tick_value_micro: Sequence[int],
        maintenance_at_entry: bool = False,
    ) -> None:
        self.maintenance_at_entry = maintenance_at_entry
        self.ledger = ledger
        self.schedules = tuple(schedules)
        self.mark_ticks = mark_ticks
        self.tick_value_micro = tuple(tick_value_micro)
        self.n_symbols = len(self.tick_value_micro)

    # ------------------------------------------------------------------ scalars (one account)

    def position_lots(self, account: int, symbol: int) -> int:
        """Signed position in lots (long > 0)."""
        return int(self.ledger.pos[account, symbol])

    def positions(self, account: int) -> list[int]:
        """Signed positions in lots of every symbol, in symbol order (a copy)."""
        return self.ledger.pos[account].tolist()

    def entry_price_ticks(self, account: int, symbol: int) -> float:
        """Average entry price in ticks (0.0 when flat)."""
        p = int(self.ledger.pos[account, symbol])
        return int(self.ledger.cost[account, symbol]) / p if p else 0.0

    def equity_usd(self, account: int) -> float:
        """Account equity at the marks (balance + isolated margins + unrealised PnL), USD."""
        led = self.ledger
        total = float(led.balance[account]) + float(led.iso_margin[account].sum())
        marks = self.mark_ticks.tolist()
        for s, (pos, cost) in enumerate(
            zip(led.pos[account].tolist(), led.cost[account].tolist(), strict=True)
        ):
            if pos or cost:
                total += (pos * marks[s] - cost) * self.tick_value_micro[s]
        return total / MICRO

    def unrealised_usd(self, account: int, symbol: int) -> float:
        """Unrealised PnL of one position at the mark, USD."""
        led = self.ledger
        pos = int(led.pos[account, symbol])
        return (
            (pos * self.mark_ticks[symbol] - int(led.cost[account, symbol]))
            * self.tick_value_micro[symbol]
            / MICRO
        )

    def notional_usd(self, account: int, symbol: int) -> float:
        """Absolute position notional at the mark, USD."""
        return self.lots_notional_usd(symbol, int(self.ledger.pos[account, symbol]))

    def lots_notional_usd(self, symbol: int, lots: int) -> float:
        """Absolute notional of a position of ``lots`` (signed) lots at the mark, USD."""
        return abs(lots) * float(self.mark_ticks[symbol]) * self.tick_value_micro[symbol] / MICRO

    def maintenance_of_lots_usd(self, lots: Sequence[int]) -> float:
        """Maintenance margin of positions of ``lots`` (one signed count per symbol) at the marks, USD."""
        return sum(
            float(self.schedules[s].maintenance_usd(self.lots_notional_usd(s, q))) for s, q in enumerate(lots)
        )

    def maintenance_usd(self, account: int) -> float:
        """Maintenance margin of all the account's positions at the marks (or entries), USD."""
        if self.maintenance_at_entry:
            cost = self.ledger.cost[account].tolist()
            return sum(
                float(self.schedules[s].maintenance_usd(abs(c) * self.tick_value_micro[s] / MICRO))
                for s, c in enumerate(cost)
            )
        return self.maintenance_of_lots_usd(self.ledger.pos[account].tolist())

    # ------------------------------------------------------------------ vectorised (many accounts)

    def position_arrays(
        self, rows: NDArray[np.intp] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(unrealised PnL, notional, maintenance margin) in float micro-dollars, each (accounts, symbols).

        Maintenance is measured on the notional at the mark, or at the entry price when the venue says so.

        Args:
            rows: the accounts (all when None).
        """
        led = self.ledger
        n = led.n
        pos = led.pos[:n] if rows is None else led.pos[rows]
        cost = led.cost[:n] if rows is None else led.cost[rows]
        tv = led.tick_value_micro
        value = pos * (self.mark_ticks * tv)  # signed notional at the mark, micro-dollars
        upnl = value - cost * tv
        notional = np.abs(value)
        basis = np.abs(cost * tv).astype(np.float64) if self.maintenance_at_entry else notional
        mm = np.empty_like(notional)
        for s, schedule in enumerate(self.schedules):
            mm[:, s] = schedule.maintenance_interp_usd(basis[:, s] * (1.0 / MICRO))
        mm *= MICRO
        return upnl, notional, mm

    def equity_micro_rows(self, rows: NDArray[np.intp], upnl: NDArray[np.float64]) -> NDArray[np.float64]:
        """Account equity of ``rows`` given their unrealised PnL (from :meth:`position_arrays`), micro."""
        led = self.ledger
        return led.balance[rows] + led.iso_margin[rows].sum(axis=1) + upnl.sum(axis=1)

    def maintenance_buffers(
        self, rows: NDArray[np.intp] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Each account's margin buffer and gross notional at the marks, float micro-dollars.

        The buffer is what the account can still lose before liquidation: for a cross account, equity
        minus the maintenance margin of all its positions; for an isolated one, the smallest of its
        positions' isolated margin + unrealised PnL - maintenance. <= 0 means liquidatable.

        Args:
            rows: the accounts (all when None).

        Returns:
            ``(buffer, gross_notional)``, one value per account.
        """
        led = self.ledger
        sel = slice(0, led.n) if rows is None else rows
        upnl, notional, mm = self.position_arrays(rows)
        iso = led.isolated[sel]
        equity = led.balance[sel] + row_sum(upnl)
        gross = row_sum(notional)
        if iso.any():
            iso_margin = led.iso_margin[sel]
            equity += row_sum(iso_margin)
            pos_buffer = row_min(np.where(notional > 0, iso_margin + upnl - mm, np.inf))
            buffer = np.where(iso, pos_buffer, equity - row_sum(mm))
        else:
            buffer = equity - row_sum(mm)
        return buffer, gross
