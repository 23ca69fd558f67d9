"""The liquidation engine, the insurance fund and auto-deleveraging (ADL).

Each step the engine (a Mesa agent, one per exchange) checks every account against maintenance margin
at the mark, vectorised over the ledger, and runs the waterfall for each account that fails:

1. **Trigger** (cross): account equity <= sum of its positions' maintenance margins; (isolated): a
   position's isolated margin + unrealised PnL <= its maintenance margin.
2. **Cancel** all the account's resting orders.
3. **IOC liquidation order** per position, limited at the position's bankruptcy price: the price at which
   the position's share of the account's equity (shared in proportion to notional in cross mode) is
   used up exactly, rounded to the tick on the side that leaves the account with equity >= 0. It trades
   in the book like any taker order, so it moves the price. No taker fee; a clearance fee
   (``venue.liquidation_fee`` x filled notional, at most the account's remaining equity; for an isolated
   position at most what the position's margin has left) goes to the fund.
4. **Partial liquidation** (venue preset, Hyperliquid-like): a position above
   ``partial_liquidation_notional_usd`` is closed ``partial_liquidation_fraction`` at a time with a
   cooldown; what a slice cannot fill is retried after the cooldown. When equity falls below 2/3 of
   maintenance (the backstop), the whole position is liquidated at once, with takeover.
5. **Insurance-fund takeover** of the lots the book could not absorb, at the bankruptcy price, when the
   fund's equity after the loss this implies at the mark still covers the maintenance margin of its
   whole inventory, like any account's (or always, when ADL is off). The fund unwinds its inventory
   through the book later: IOC slices limited at the mark, so it never pays through fair value.
6. **ADL** when the fund cannot: opposite positions are closed at the bankruptcy price in rank order
   (Binance/Delta rule): ``rank = PnL% x effective leverage`` for profitable positions and
   ``PnL% / effective leverage`` for losing ones, effective leverage = notional / equity of the position's
   margin (account equity for cross, isolated margin + PnL for isolated); ties by account id.
7. A flat or isolated account left with a negative wallet (it closed a position past bankruptcy itself,
   between two checks) is made whole by the fund (``deficits_covered_micro``).
8. If the fund's own equity is below zero, its inventory is deleveraged the same way at the fund's
   bankruptcy price; with ADL off the shortfall is injected and booked as bad debt.

Every liquidation, takeover and ADL is an event row (see ``LIQUIDATION_COLUMNS``/``ADL_COLUMNS``).
"""

from __future__ import annotations

import math

import mesa
import numpy as np
from numpy.typing import NDArray

from model.exchange import Exchange
from model.ledger import MICRO, Ledger, fee_micro, fee_rate_units
from model.margin import bankruptcy_ticks
from model.orderbook import BUY, IOC, SELL
from model.params import VenueParams
from model.policies import (
    AdlCandidates,
    AdlPolicy,
    Backstop,
    BankruptcyIOC,
    Disposal,
    DisposalPlan,
    HyperliquidQueue,
    InsuranceFund,
    LiquidityVault,
    MarketSlices,
    NoAdl,
    ProRata,
    RankedQueue,
    TierStepDown,
    TimeSpread,
)

LIQUIDATION_COLUMNS = (
    "time_s",
    "account",
    "symbol",
    "side",
    "lots",
    "qty",
    "price_usd",
    "bankruptcy_price_usd",
    "notional_usd",
    "fee_usd",
    "fund_delta_usd",
    "kind",
)
ADL_COLUMNS = (
    "time_s",
    "account",
    "counterparty",
    "symbol",
    "side",
    "lots",
    "qty",
    "price_usd",
    "notional_usd",
    "rank",
    "effective_leverage",
    "pnl_pct",
    "equity_usd",
    "haircut_usd",
    "liquidation_row",
)


BACKSTOP_SHARE = 2.0 / 3.0
"""Below this share of its maintenance margin a position goes whole to the backstop (Hyperliquid's rule)."""


def default_policies(venue: VenueParams) -> tuple[Disposal, Backstop, AdlPolicy]:
    """The disposal, backstop and ADL policies a resolved venue names (``venue.disposal`` and so on).

    ``adl_enabled = False`` means no ADL whatever ``adl_policy`` says.
    """
    disposal: Disposal
    if venue.disposal == "market_slices":
        disposal = MarketSlices(
            venue.partial_liquidation_notional_usd,
            float(venue.partial_liquidation_fraction or 1.0),
            float(venue.partial_liquidation_cooldown_seconds or 0.0),
            whole_in_cooldown=bool(venue.partial_liquidation_whole_in_cooldown),
        )
    elif venue.disposal == "time_spread":
        disposal = TimeSpread(
            float(venue.disposal_interval_seconds or 10.0),
            float(venue.disposal_fraction or 0.1),
            float(venue.disposal_max_book_share or 0.25),
        )
    elif venue.disposal == "tier_step_down":
        disposal = TierStepDown()
    else:
        disposal = BankruptcyIOC()
    backstop: Backstop = LiquidityVault() if venue.backstop == "liquidity_vault" else InsuranceFund()
    adl: AdlPolicy
    if not venue.adl_enabled or venue.adl_policy == "none":
        adl = NoAdl()
    elif venue.adl_policy == "hyperliquid":
        adl = HyperliquidQueue()
    elif venue.adl_policy == "pro_rata":
        adl = ProRata()
    else:
        adl = RankedQueue()
    return disposal, backstop, adl


class LiquidationEngine(mesa.Agent):
    """The exchange's liquidation engine: trigger check, IOC orders, fund takeover, ADL.

    Attributes:
        FULL_CHECK_SECONDS: longest time between two full checks of every account.
        SCREEN_MOVE: mark move (fraction) since the last full check that forces a new one.

    Args:
        model: the Mesa model (any ``mesa.Model``).
        exchange: the exchange whose accounts it watches.
    """

    FULL_CHECK_SECONDS = 60.0
    SCREEN_MOVE = 0.01

    def __init__(
        self,
        model: mesa.Model,
        exchange: Exchange,
        *,
        disposal: Disposal | None = None,
        backstop: Backstop | None = None,
        adl: AdlPolicy | None = None,
    ) -> None:
        super().__init__(model)
        self.exchange = exchange
        v = exchange.venue
        self._fee_units = fee_rate_units(v.liquidation_fee or 0.0)
        d0, b0, a0 = default_policies(v)
        self.disposal: Disposal = disposal if disposal is not None else d0
        self.backstop: Backstop = backstop if backstop is not None else b0
        self.adl: AdlPolicy = adl if adl is not None else a0
        self.cooldown_s = self.disposal.cooldown_s if isinstance(self.disposal, MarketSlices) else 0.0
        self.unwind_per_second = v.fund_unwind_fraction_per_second
        self._next_unwind_s = 0.0
        self._prev_index = list(exchange.index_ticks)  # the oracle at the previous step (ADL at oracle)
        # ADL accounting (micro-dollars): what the rounds had to cover, what they cost the counterparties
        # relative to the mark, and the excess of the second over the first (see adl_overshoot_micro)
        self.adl_rounds = 0
        self.adl_shortfall_micro = 0.0
        self.adl_haircut_micro = 0.0
        self.adl_overshoot_micro = 0.0
        self.first_liquidation_s: float | None = None
        self.fund_exhausted_s: float | None = None  # first time the fund's equity fell below zero
        self.first_adl_s: float | None = None
        self.cooldown_until: dict[int, float] = {}
        self.events: list[tuple[object, ...]] = []
        self.adl_events: list[tuple[object, ...]] = []
        n = exchange.n_symbols
        self.liquidated_long_micro = [0] * n  # cumulative liquidated notional (IOC fills + takeovers + ADL)
        self.liquidated_short_micro = [0] * n
        self.fund_min_micro = exchange.ledger.balance[Ledger.FUND].item()
        self.deficits_covered_micro = 0  # negative balances of flat accounts paid by the fund
        self.enabled = True
        # screening state of the trigger check (see liquidatable)
        self._marks_at_full = exchange.mark_ticks.copy()
        self._next_full_s = -1.0
        self._funding_at_full = -1.0
        self._at_risk = np.zeros(0, dtype=bool)  # accounts not screened safe at the last full check
        self.full_checks = 0

    # ------------------------------------------------------------------ the step

    def step(self) -> None:
        """Check all accounts, liquidate those below maintenance, then let the fund unwind."""
        if not self.enabled:
            return
        for account in self.liquidatable().tolist():
            self.liquidate(account)
        self._cover_deficits()
        self._check_fund()
        self.unwind_fund(self.model_dt())
        eq = round(self.exchange.insurance_fund_usd * MICRO)
        self.fund_min_micro = min(self.fund_min_micro, eq)
        if self.adl.at_oracle:  # only an ADL at the previous oracle reads it
            self._prev_index = list(self.exchange.index_ticks)

    @property
    def adl_enabled(self) -> bool:
        """Whether the ADL policy deleverages at all (False for ``none``)."""
        return self.adl.enabled

    def model_dt(self) -> float:
        """Seconds per step of the model (1.0 when the model does not say)."""
        return float(getattr(self.model, "dt_seconds", 1.0))

    # ------------------------------------------------------------------ trigger

    def _position_arrays(
        self, rows: NDArray[np.intp] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(unrealised PnL, notional, maintenance) in float micro-dollars, each (accounts, symbols)."""
        return self.exchange.accounts.position_arrays(rows)

    def liquidatable(self, full: bool | None = None) -> NDArray[np.intp]:
        """Ids of accounts (or accounts with an isolated position) at or below maintenance margin.

        A full, vectorised check of every account runs every ``FULL_CHECK_SECONDS``, after funding, and
        whenever a mark has moved more than ``SCREEN_MOVE`` since the last full check. It also screens:
        an account whose margin buffer exceeds ``2 x SCREEN_MOVE x`` its gross notional cannot reach
        maintenance before the next full check (equity falls by at most move x notional, maintenance
        grows by less). Between full checks only the accounts that were not screened safe, and those
        that traded since (``ledger.touched``), are checked. ``full=True`` forces a full check.
        """
        ex = self.exchange
        led = ex.ledger
        now = ex.time_s
        n = led.n
        if full is None:
            moved = np.abs(ex.mark_ticks / self._marks_at_full - 1.0).max() > self.SCREEN_MOVE
            full = moved or now >= self._next_full_s or ex.next_funding_s != self._funding_at_full
        if full or len(self._at_risk) < n:
            grown = np.zeros(n, dtype=bool)
            grown[: len(self._at_risk)] = self._at_risk[:n]
            self._at_risk = grown
        if full:
            rows = None
            led.touched.clear()
        else:
            if led.touched:
                self._at_risk[list(led.touched)] = True
                led.touched.clear()
            rows = np.flatnonzero(self._at_risk)
            if len(rows) == 0:
                return rows
        flagged, buffer_frac = self._check(rows)
        if full:
            self._marks_at_full = ex.mark_ticks.copy()
            self._next_full_s = now + self.FULL_CHECK_SECONDS
            self._funding_at_full = ex.next_funding_s
            self._at_risk = buffer_frac < 2.0 * self.SCREEN_MOVE
            self.full_checks += 1
        result = flagged if rows is None else rows[flagged]
        return result[result != Ledger.FUND]

    def _check(self, rows: NDArray[np.intp] | None) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Flagged accounts among ``rows`` (indices into rows) and each row's margin buffer / notional."""
        buffer, gross = self.exchange.accounts.maintenance_buffers(rows)
        has_pos = gross > 0
        flag = has_pos & (buffer <= 0)
        return np.flatnonzero(flag), np.where(has_pos, buffer / np.maximum(gross, 1.0), np.inf)

    # ------------------------------------------------------------------ the waterfall

    def liquidate(self, account: int) -> None:
        """Run the liquidation waterfall for one account (all its failing positions)."""
        ex = self.exchange
        led = ex.ledger
        now = ex.time_s
        rows = np.array([account])
        upnl_rows, notional_rows, mm_rows = self._position_arrays(rows)
        upnl, notional, mm = upnl_rows[0], notional_rows[0], mm_rows[0]
        ex.cancel_all(account)
        pos_row = led.pos[account]
        if led.isolated[account]:
            margins = led.iso_margin[account] + upnl
            failing = [s for s in range(ex.n_symbols) if pos_row[s] and margins[s] <= mm[s]]
            shares = {s: float(margins[s]) for s in failing}
            mm_of = {s: float(mm[s]) for s in failing}
        else:
            equity = float(ex.accounts.equity_micro_rows(rows, upnl_rows)[0])
            failing = [s for s in range(ex.n_symbols) if pos_row[s]]
            total = float(sum(notional[s] for s in failing))
            shares = {s: equity * float(notional[s]) / total for s in failing}
            total_mm = float(mm.sum())
            mm_of = {s: total_mm * float(notional[s]) / total for s in failing}
        failing.sort(key=lambda s: -float(notional[s]))
        in_cooldown = self.cooldown_until.get(account, -math.inf) > now
        vault = self.backstop.takes_whole_account
        for s in failing:
            pos = int(led.pos[account, s])
            if pos == 0:
                continue
            notional_usd = float(notional[s]) / MICRO
            backstop = shares[s] < BACKSTOP_SHARE * mm_of[s]
            if vault and backstop:  # the vault takes the position over with its margin, no book order
                self._absorb(account, s, pos, abs(pos), self._bankruptcy_ticks(s, pos, shares[s]))
                continue
            plan: DisposalPlan | None
            if isinstance(self.disposal, TierStepDown):
                schedule = ex.schedules[s]
                tier = int(schedule.tier_index(notional_usd))
                lower = float(schedule.bounds_usd[tier - 1]) if tier > 0 and not backstop else None
                plan = self.disposal.step_lots(abs(pos), notional_usd / abs(pos), lower)
            else:
                plan = self.disposal.plan(notional_usd, abs(pos), backstop, in_cooldown)
            if plan is None:
                continue
            lots = min(plan.lots, abs(pos))
            bp = self._bankruptcy_ticks(s, pos, shares[s])
            self._close(account, s, pos, lots, bp, kind=plan.kind, takeover=plan.takeover_rest and not vault)
            if plan.starts_cooldown:
                self.cooldown_until[account] = now + self.cooldown_s

    def _bankruptcy_ticks(self, s: int, pos: int, equity_micro: float) -> int:
        """Price (ticks) at which a position of ``pos`` lots loses ``equity_micro``: conservative tick."""
        ex = self.exchange
        return bankruptcy_ticks(pos, float(ex.mark_ticks[s]), equity_micro, ex.tick_value_micro[s])

    def _close(self, account: int, s: int, pos: int, lots: int, bp: int, kind: str, takeover: bool) -> None:
        """IOC at the bankruptcy price, clearance fee, then takeover or ADL of the rest."""
        ex = self.exchange
        led = ex.ledger
        side = SELL if pos > 0 else BUY
        wallet_before = int(led.balance[account])
        if self.first_liquidation_s is None:
            self.first_liquidation_s = ex.time_s
        send = lots
        if isinstance(self.disposal, TimeSpread):  # capped at a share of the depth down to bankruptcy
            book_side = BUY if side == SELL else SELL
            send = self.disposal.cap_lots(lots, ex.books[s].lots_between(book_side, bp))
        if send > 0:
            res = ex.submit(account, s, side, send, price_ticks=bp, tif=IOC, _liquidation=True)
            filled = res.filled_lots
            fills = res.fills
        else:
            filled, fills = 0, []
        tv = ex.tick_value_micro[s]
        if filled:
            notional = sum(f.price_ticks * f.lots for f in fills) * tv
            fee = 0
            if self._fee_units:
                if led.isolated[account]:
                    # what closing these lots returned to the wallet: an isolated position never costs
                    # more than its own margin, so the fee cannot reach the free balance
                    equity = int(led.balance[account]) - wallet_before
                else:
                    equity = round(ex.equity_usd(account) * MICRO)
                fee = max(0, min(fee_micro(notional, self._fee_units), equity))
                if fee:
                    led.transfer(account, Ledger.FUND, fee)
            avg_ticks = notional / (filled * tv)
            self._record(account, s, pos, filled, avg_ticks, bp, notional, fee, fee, kind)
        rest = lots - filled
        if rest and takeover:
            self._absorb(account, s, pos, rest, bp)

    def _absorb(self, account: int, s: int, pos: int, lots: int, bp: int) -> None:
        """Fund takeover at the bankruptcy price if the fund can bear it, else ADL."""
        ex = self.exchange
        tv = ex.tick_value_micro[s]
        direction = 1 if pos > 0 else -1
        mark = float(ex.mark_ticks[s])
        loss_at_mark = direction * (bp - mark) * lots * tv
        fund_equity = ex.insurance_fund_usd * MICRO
        # like any account, the fund must keep its maintenance margin after the takeover
        led = ex.ledger
        fund_lots = led.pos[Ledger.FUND].tolist()
        fund_lots[s] += direction * lots
        fund_mm = ex.accounts.maintenance_of_lots_usd(fund_lots)
        if fund_equity - loss_at_mark >= fund_mm * MICRO or not self.adl.enabled:
            ex.ledger.move_position(account, Ledger.FUND, s, lots, bp)
            self._record(account, s, pos, lots, bp, bp, bp * lots * tv, 0, -loss_at_mark, "takeover")
        else:
            left = self._adl(account, s, pos, lots, bp)
            if left:  # nobody left to deleverage against: the fund takes the rest (bad debt if it must)
                ex.ledger.move_position(account, Ledger.FUND, s, left, bp)
                loss = direction * (bp - mark) * left * tv
                self._record(account, s, pos, left, bp, bp, bp * left * tv, 0, -loss, "takeover")

    def _adl(self, account: int, s: int, pos: int, lots: int, bp: int) -> int:
        """Close ``lots`` of ``account``'s position against opposite positions chosen by the ADL policy.

        The policy picks the accounts and the lots of each, at the bankruptcy price ``bp`` or, for a policy
        that closes at the oracle, at the previous step's index. Each fill is an ADL event row carrying
        the deleveraged account's effective leverage, PnL % and equity at that moment, its haircut (what
        the close cost it relative to the mark) and the row of the liquidation event it offsets.

        Returns the lots that found no counterparty (0 unless the opposite side is empty).
        """
        ex = self.exchange
        led = ex.ledger
        n = led.n
        opp = led.pos[:n, s] * np.sign(pos) < 0
        opp[account] = False
        opp[Ledger.FUND] = False
        cands = np.flatnonzero(opp)
        if len(cands) == 0 or not self.adl.enabled:
            return lots
        upnl, notional, _mm = self._position_arrays(cands)
        cost_abs = np.abs(led.cost[cands, s] * ex.tick_value_micro[s]).astype(np.float64)
        pnl_frac = upnl[:, s] / np.maximum(cost_abs, 1.0)
        iso = led.isolated[cands]
        acct_equity = ex.accounts.equity_micro_rows(cands, upnl)
        pos_equity = np.where(iso, led.iso_margin[cands, s] + upnl[:, s], acct_equity)
        eff_lev = notional[:, s] / np.maximum(pos_equity, 1.0)
        mark = float(ex.mark_ticks[s])
        lots_c = np.abs(led.pos[cands, s])
        entry = np.abs(led.cost[cands, s]) / np.maximum(lots_c, 1)
        gain_ratio = entry / mark if pos > 0 else mark / np.maximum(entry, 1e-12)  # candidates: other side
        plan = self.adl.allocate(
            AdlCandidates(cands, lots_c, pnl_frac, eff_lev, notional[:, s], pos_equity, gain_ratio), lots
        )
        if not plan:
            return lots
        price = max(1, round(self._prev_index[s])) if self.adl.at_oracle else bp
        direction = 1 if pos > 0 else -1  # the deleveraged side's counterparty is short when a long fails
        tv = ex.tick_value_micro[s]
        if self.first_adl_s is None:
            self.first_adl_s = ex.time_s
        self.adl_rounds += 1
        left = lots
        haircut_total = 0.0
        for i, take, rank in plan:
            c = int(cands[i])
            led.move_position(account, c, s, take, price)
            haircut = direction * (price - mark) * take * tv  # the counterparty's loss against the mark
            haircut_total += haircut
            self.adl_events.append(
                (
                    ex.time_s,
                    c,
                    account,
                    ex.names[s],
                    "short" if pos > 0 else "long",
                    take,
                    take * ex.lot_size[s],
                    price * ex.tick_size_usd[s],
                    price * take * tv / MICRO,
                    float(rank),
                    float(eff_lev[i]),
                    float(pnl_frac[i]) * 100.0,
                    float(pos_equity[i]) / MICRO,
                    haircut / MICRO,
                    len(self.events),
                )
            )
            self._record(account, s, pos, take, price, bp, price * take * tv, 0, 0, "adl")
            left -= take
        # what the round had to cover: closing its lots at the bankruptcy price, against the mark
        shortfall = max(0.0, direction * (bp - mark)) * (lots - left) * tv
        self.adl_shortfall_micro += shortfall
        self.adl_haircut_micro += haircut_total
        self.adl_overshoot_micro += max(0.0, haircut_total - shortfall)
        return left

    def _record(
        self,
        account: int,
        s: int,
        pos: int,
        lots: int,
        price_ticks: float,
        bp: int,
        notional_micro: float,
        fee_micro_: int,
        fund_delta_micro: float,
        kind: str,
    ) -> None:
        ex = self.exchange
        if pos > 0:
            self.liquidated_long_micro[s] += round(notional_micro)
        else:
            self.liquidated_short_micro[s] += round(notional_micro)
        self.events.append(
            (
                ex.time_s,
                account,
                ex.names[s],
                "long" if pos > 0 else "short",
                lots,
                lots * ex.lot_size[s],
                price_ticks * ex.tick_size_usd[s],
                bp * ex.tick_size_usd[s],
                notional_micro / MICRO,
                fee_micro_ / MICRO,
                fund_delta_micro / MICRO,
                kind,
            )
        )

    # ------------------------------------------------------------------ the fund

    def _cover_deficits(self) -> None:
        """Make whole, from the fund, every negative wallet of a flat or an isolated account.

        An account can close a position past its bankruptcy price itself (a gap between two checks) and
        end with a negative wallet that no liquidation would ever reach: a flat account, or an isolated
        one whose other positions are healthy (its wallet is not their margin). The insurance fund pays
        the deficit, as venues do, and :meth:`_check_fund` then deals with the fund's own shortfall.
        """
        led = self.exchange.ledger
        n = led.n
        for a in np.flatnonzero(led.balance[:n] < 0).tolist():
            if a != Ledger.FUND and (led.isolated[a] or not led.pos[a].any()):
                deficit = -int(led.balance[a])
                led.transfer(Ledger.FUND, a, deficit)
                self.deficits_covered_micro += deficit

    def _check_fund(self) -> None:
        """Keep the fund's equity >= 0: ADL its inventory at its bankruptcy price, then inject the rest.

        Whatever negative equity is left (ADL off, or no inventory to deleverage) is paid in by the
        exchange and booked as bad debt, which keeps the ledger exact.
        """
        ex = self.exchange
        led = ex.ledger
        equity = ex.insurance_fund_usd * MICRO
        if equity >= 0:
            return
        if self.fund_exhausted_s is None:  # it ran dry now, whatever ADL or an injection does next
            self.fund_exhausted_s = ex.time_s
        if self.adl.enabled:
            held = [(s, int(led.pos[Ledger.FUND, s])) for s in range(ex.n_symbols) if led.pos[Ledger.FUND, s]]
            if held:
                _upnl, notional, _mm = self._position_arrays(np.array([Ledger.FUND]))
                total = float(sum(notional[0, s] for s, _ in held))
                for s, pos in held:
                    share = equity * float(notional[0, s]) / total
                    self._adl(Ledger.FUND, s, pos, abs(pos), self._bankruptcy_ticks(s, pos, share))
        shortfall = -math.floor(ex.insurance_fund_usd * MICRO)
        if shortfall > 0:  # no inventory left to deleverage, or ADL is off: the exchange injects
            led.inject_bad_debt(Ledger.FUND, shortfall)

    def unwind_fund(self, dt_s: float) -> None:
        """Sell the fund's taken-over inventory back through the book (IOC slices limited at the mark).

        By default a slice per step of ``fund_unwind_fraction_per_second x dt`` of the inventory; with the
        time-spread disposal a slice of its ``fraction`` every ``interval_s``, capped at its share of the
        depth down (or up) to the mark.
        """
        ex = self.exchange
        led = ex.ledger
        spread = self.disposal if isinstance(self.disposal, TimeSpread) else None
        if spread is not None:
            if ex.time_s < self._next_unwind_s:
                return
            self._next_unwind_s = ex.time_s + spread.interval_s
        for s in range(ex.n_symbols):
            pos = int(led.pos[Ledger.FUND, s])
            if not pos:
                continue
            mark = float(ex.mark_ticks[s])
            if spread is None:
                lots = min(abs(pos), max(1, math.ceil(abs(pos) * self.unwind_per_second * dt_s)))
            else:
                limit = max(1, math.ceil(mark)) if pos > 0 else math.floor(mark)
                visible = ex.books[s].lots_between(BUY if pos > 0 else SELL, limit)
                lots = spread.cap_lots(min(abs(pos), max(1, math.ceil(abs(pos) * spread.fraction))), visible)
                if lots < 1:
                    continue
            if pos > 0:
                ex.submit(
                    Ledger.FUND,
                    s,
                    SELL,
                    lots,
                    price_ticks=max(1, math.ceil(mark)),
                    tif=IOC,
                    _liquidation=True,
                )
            else:
                ex.submit(Ledger.FUND, s, BUY, lots, price_ticks=math.floor(mark), tif=IOC, _liquidation=True)
