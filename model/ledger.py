"""Accounts and positions at exact fixed-point money: integer micro-dollars, ticks and lots.

State is a struct of arrays (one row per account, one column per symbol) so that exchange-wide checks
are vectorised. Account 0 is the insurance fund: a cross account that can hold positions it took over.

Conventions (all integers):

* ``balance[a]``: wallet balance in micro-dollars (for isolated accounts: the free collateral).
* ``iso_margin[a, s]``: margin locked in an isolated position, micro-dollars.
* ``pos[a, s]``: signed position in lots (long > 0).
* ``cost[a, s]``: signed entry cost in tick-lots, the sum of ``price_ticks x signed lots`` still open
  (long > 0, short < 0); the average entry is ``cost / pos`` ticks.
* ``tick_value_micro[s]``: micro-dollars per tick per lot (exact, validated by the params).

Account *cash* is ``balance + sum(iso_margin) - sum(cost x tick_value)`` and equity at a mark is cash +
``sum(pos x mark x tick_value)``. Every fill moves exactly ``price x lots x tick_value`` of cash from buyer to
seller, so, because long lots equal short lots in every symbol, the sum of equities does not depend on
the mark. The invariant checked after every step (``imbalance() == 0``):

    sum(cash) + fee_account - bad_debt == deposits - withdrawals

Rounding rules (each remainder stays inside the ledger, so the invariant is exact):

* Closing part of a position removes ``floor(cost x closed / |pos|)`` of its entry cost; the rest of the
  cost stays with the remaining lots (so realised PnL today and unrealised PnL later add up exactly).
* Fees are rounded up to the micro-dollar (the exchange never undercharges); negative (rebate) fees are
  rounded toward zero. Fees go to the fee account.
* Releasing isolated margin on a partial close releases ``floor(margin x closed / |pos|)``.
* Funding: payers pay ``ceil(|pos| x mark x tick value x |F|)``, receivers get the floor; the remainder
  goes to the fee account (:meth:`Ledger.settle_funding`).
* Bad debt: a shortfall the insurance fund cannot cover is injected into the fund and booked as bad debt
  (:meth:`Ledger.inject_bad_debt`), so the invariant holds with the loss on record.

Only methods of :class:`Ledger` write these arrays and totals (one writer per piece of state). Every write
that can lower an account's equity adds the account to ``touched``, so that the liquidation engine's
screened check (which skips accounts it found far from maintenance) looks at it again.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

MICRO = 1_000_000  # micro-dollars per dollar: every amount of money is an integer of these
FEE_SCALE = 10**8  # fee rates are held as integers of 1e-8 (one ten-thousandth of a basis point)
FUNDING_SCALE = 10**9  # funding rates are applied in integer units of 1e-9


def fee_rate_units(rate: float) -> int:
    """A fee rate (fraction of notional) as an integer number of 1e-8, the unit fees are computed in."""
    return round(rate * FEE_SCALE)


def fee_micro(notional_micro: int, rate_units: int) -> int:
    """Fee on a notional: ``notional x rate``, rounded up for charges and toward zero for rebates."""
    if rate_units >= 0:
        return -(-notional_micro * rate_units // FEE_SCALE)
    return -(notional_micro * -rate_units // FEE_SCALE)


class Ledger:
    """The exchange's book of accounts.

    Args:
        tick_value_micro: micro-dollars per tick per lot, one per symbol.
        capacity: initial number of account rows (grows by doubling).
    """

    FUND = 0  # the insurance fund's account id

    def __init__(self, tick_value_micro: list[int], capacity: int = 1024) -> None:
        self.n_symbols = len(tick_value_micro)
        self.tick_value_micro = np.asarray(tick_value_micro, dtype=np.int64)
        self._tv = [int(v) for v in tick_value_micro]
        cap = max(int(capacity), 2)
        s = self.n_symbols
        self.balance = np.zeros(cap, dtype=np.int64)
        self.iso_margin = np.zeros((cap, s), dtype=np.int64)
        self.pos = np.zeros((cap, s), dtype=np.int64)
        self.cost = np.zeros((cap, s), dtype=np.int64)
        self.leverage = np.ones((cap, s), dtype=np.float64)
        self.isolated = np.zeros(cap, dtype=bool)
        self.n = 0
        self.deposits_micro = 0
        self.withdrawals_micro = 0
        self.fee_account_micro = 0
        self.bad_debt_micro = 0
        self.touched: set[int] = set()  # accounts whose positions changed since the risk engine looked
        self.open_account(0, isolated=False, leverage=1.0)  # the insurance fund, account 0

    # ------------------------------------------------------------------ accounts

    def _grow(self) -> None:
        cap = 2 * len(self.balance)
        for name in ("balance", "iso_margin", "pos", "cost", "leverage", "isolated"):
            old = getattr(self, name)
            new = np.zeros((cap, *old.shape[1:]), dtype=old.dtype)
            if name == "leverage":
                new[:] = 1.0
            new[: len(old)] = old
            setattr(self, name, new)

    def open_account(self, deposit_micro: int, isolated: bool = False, leverage: float = 1.0) -> int:
        """Create an account with an initial deposit; return its id."""
        if self.n == len(self.balance):
            self._grow()
        a = self.n
        self.n += 1
        self.isolated[a] = isolated
        self.leverage[a, :] = leverage
        self.deposit(a, deposit_micro)
        return a

    def check_account(self, account: int) -> None:
        """Raise ``KeyError`` with a clear message for an unknown account id."""
        if not (0 <= account < self.n):
            raise KeyError(f"unknown account {account} (accounts are 0..{self.n - 1})")

    def deposit(self, account: int, amount_micro: int) -> None:
        """Add collateral to an account (counts as a deposit in the invariant)."""
        if amount_micro < 0:
            raise ValueError("deposit must be >= 0")
        self.balance[account] += amount_micro
        self.deposits_micro += amount_micro

    def withdraw(self, account: int, amount_micro: int) -> None:
        """Remove collateral (no margin check here; the exchange checks availability)."""
        if amount_micro < 0:
            raise ValueError("withdrawal must be >= 0")
        self.balance[account] -= amount_micro
        self.withdrawals_micro += amount_micro
        self.touched.add(account)

    def transfer(self, src: int, dst: int, amount_micro: int) -> None:
        """Move wallet balance from one account to another (e.g. a liquidation fee to the fund)."""
        self.balance[src] -= amount_micro
        self.balance[dst] += amount_micro
        self.touched.add(src)

    def add_isolated_margin(self, account: int, symbol: int, amount_micro: int) -> None:
        """Move wallet balance into an isolated position's margin (a venue's "adjust margin").

        Cash and equity do not change: the money moves from the free balance to the position's margin,
        which then buffers only that position.

        Raises:
            ValueError: the account is not isolated, holds no position in ``symbol``, or the amount is
                negative or above its free balance.
        """
        if not self.isolated[account]:
            raise ValueError(f"account {account} is cross-margined: it has no isolated margin to add to")
        if self.pos[account, symbol] == 0:
            raise ValueError(f"account {account} holds no position in symbol {symbol}")
        if not 0 <= amount_micro <= int(self.balance[account]):
            raise ValueError(
                f"margin to add must be within the free balance (0..{int(self.balance[account])})"
            )
        self.balance[account] -= amount_micro
        self.iso_margin[account, symbol] += amount_micro
        self.touched.add(account)

    def set_leverage(self, account: int, symbol: int, leverage: float) -> None:
        """Set the leverage ``account`` uses on ``symbol`` (its initial margin is notional / leverage)."""
        if not leverage > 0:
            raise ValueError("leverage must be > 0")
        self.leverage[account, symbol] = leverage

    def settle_funding(self, symbol: int, mark_ticks: int, rate_units: int) -> tuple[int, int]:
        """Book one funding payment on ``symbol``: holders on the paying side pay the others.

        Args:
            symbol: symbol index.
            mark_ticks: the settlement price, whole ticks.
            rate_units: the funding rate in integer units of 1e-9 (> 0: longs pay shorts).

        Returns:
            ``(paid, received)`` in micro-dollars: payers pay ``ceil(|pos| x mark x tick value x |F|)``,
            receivers get the floor, and ``paid - received`` (at most a micro-dollar per holder) goes to
            the fee account, so funding is zero-sum to the micro-dollar. Isolated positions pay from and
            receive into their isolated margin. Payers are marked ``touched``.
        """
        if rate_units == 0:
            return 0, 0
        tv = self._tv[symbol]
        paid = received = 0
        for a in np.nonzero(self.pos[: self.n, symbol])[0].tolist():
            amount = int(self.pos[a, symbol]) * mark_ticks * tv * rate_units  # > 0: this account pays
            if amount > 0:
                pay = -(-amount // FUNDING_SCALE)
                paid += pay
                delta = -pay
                self.touched.add(a)  # its equity fell: the screened liquidation check must look again
            else:
                get = -amount // FUNDING_SCALE
                received += get
                delta = get
            if self.isolated[a]:
                self.iso_margin[a, symbol] += delta
            else:
                self.balance[a] += delta
        self.fee_account_micro += paid - received
        return paid, received

    def inject_bad_debt(self, account: int, amount_micro: int) -> None:
        """Pay ``amount_micro`` into ``account`` (the insurance fund) from outside and book it as bad debt.

        The exchange covers a loss nobody is left to bear; the invariant holds because bad debt is
        subtracted from what the ledger holds.
        """
        if amount_micro < 0:
            raise ValueError("bad debt must be >= 0")
        self.balance[account] += amount_micro
        self.bad_debt_micro += amount_micro

    # ------------------------------------------------------------------ fills

    def book_trade(self, account: int, symbol: int, signed_lots: int, price_ticks: int, fee: int) -> int:
        """Book one fill to one account: position, entry cost, realised PnL, fee.

        Args:
            account: account id.
            symbol: symbol index.
            signed_lots: lots bought (> 0) or sold (< 0).
            price_ticks: fill price.
            fee: fee in micro-dollars charged to the account (negative: a rebate), credited to the fee
                account.

        Returns:
            The realised PnL of this fill in micro-dollars (0 for an opening fill).
        """
        tv = self._tv[symbol]
        self.touched.add(account)
        pos = int(self.pos[account, symbol])
        cost = int(self.cost[account, symbol])
        realised = 0
        if pos == 0 or (pos > 0) == (signed_lots > 0):
            # opening or adding
            new_pos = pos + signed_lots
            new_cost = cost + price_ticks * signed_lots
            opened = abs(signed_lots)
            closed = 0
        else:
            closed = min(abs(signed_lots), abs(pos))
            removed = cost * closed // abs(pos)  # floor: the remainder stays with the open lots
            close_signed = closed if signed_lots > 0 else -closed
            realised = (-price_ticks * close_signed - removed) * tv
            new_pos = pos + signed_lots
            new_cost = cost - removed
            opened = abs(signed_lots) - closed
            if opened:  # the fill flips the position: the rest opens at this price
                new_cost = price_ticks * (new_pos)
        self.pos[account, symbol] = new_pos
        self.cost[account, symbol] = new_cost
        if self.isolated[account]:
            self._isolated_margin(account, symbol, pos, closed, opened, realised, price_ticks, tv)
        else:
            self.balance[account] += realised
        if fee:
            self.balance[account] -= fee
            self.fee_account_micro += fee
        return realised

    def _isolated_margin(
        self, a: int, s: int, pos: int, closed: int, opened: int, realised: int, price: int, tv: int
    ) -> None:
        """Move margin between the wallet and an isolated position after a fill.

        A close releases the closed share of the margin and settles the realised PnL to the wallet (as
        Binance does), so the remaining lots keep their margin per lot and their bankruptcy price. A
        partial close whose loss exceeds the released share (a position past its bankruptcy price) takes
        the excess from the remaining margin, never from the free balance; a full close settles it all.
        """
        margin = int(self.iso_margin[a, s])
        if closed:
            if closed == abs(pos):
                to_wallet = margin + realised
                margin = 0
            else:
                release = margin * closed // abs(pos)
                to_wallet = max(release + realised, 0)
                margin += realised - to_wallet  # conserves margin + realised
            self.balance[a] += to_wallet
        if opened:
            want = math.ceil(price * opened * tv / float(self.leverage[a, s]))
            lock = min(want, max(int(self.balance[a]), 0))  # never lock more than the free balance
            margin += lock
            self.balance[a] -= lock
        self.iso_margin[a, s] = margin

    def move_position(self, src: int, dst: int, symbol: int, lots: int, price_ticks: int) -> tuple[int, int]:
        """Transfer ``lots`` of ``src``'s position in ``symbol`` to ``dst`` at ``price_ticks``, no fee.

        Used for insurance-fund takeovers and ADL: ``src`` closes, ``dst`` trades the other side. Returns
        both realised PnLs (micro-dollars).
        """
        pos = int(self.pos[src, symbol])
        signed = lots if pos > 0 else -lots  # the lots src holds, with their sign
        r_src = self.book_trade(src, symbol, -signed, price_ticks, 0)
        r_dst = self.book_trade(dst, symbol, signed, price_ticks, 0)
        return r_src, r_dst

    # ------------------------------------------------------------------ views

    def cash_micro(self) -> NDArray[np.int64]:
        """Per-account cash: balance + isolated margin - entry cost x tick value (micro-dollars)."""
        n = self.n
        return (
            self.balance[:n]
            + self.iso_margin[:n].sum(axis=1)
            - (self.cost[:n] * self.tick_value_micro).sum(axis=1)
        )

    def equity_micro(self, mark_ticks: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per-account equity at the given marks (float micro-dollars; a threshold, not a booking)."""
        n = self.n
        upnl = ((self.pos[:n] * mark_ticks - self.cost[:n]) * self.tick_value_micro).sum(axis=1)
        return self.balance[:n] + self.iso_margin[:n].sum(axis=1) + upnl

    def imbalance(self) -> int:
        """deposits - withdrawals - (sum of cash + fee account - bad debt); exactly 0 when books balance."""
        total = int(self.cash_micro().sum()) + self.fee_account_micro - self.bad_debt_micro
        return self.deposits_micro - self.withdrawals_micro - total

    def open_interest_lots(self) -> NDArray[np.int64]:
        """Per-symbol ``(long lots, short lots)`` as an array of shape (2, n_symbols)."""
        p = self.pos[: self.n]
        return np.stack([np.where(p > 0, p, 0).sum(axis=0), -np.where(p < 0, p, 0).sum(axis=0)])
