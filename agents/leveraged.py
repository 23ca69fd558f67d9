"""Leveraged traders: trend followers, dip buyers at support levels, bounce shorters and noise traders.

Each trader holds one exchange account (cross or isolated) and trades one symbol or several (a
multi-symbol cross account: the cross-margin contagion channel). Entries are market orders sized from
equity x leverage; every entry places a reduce-only stop-market order on the exchange (dip buyers put it
just under the round-number support they bought above), so clustered stops fire together when a support
breaks. Exits: take profit, holding horizon, or the stop. A trader whose equity is gone may come back
with new money at a rate that rises with greed (sentiment).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from agents.base import Trader
from model.orderbook import BUY, SELL

if TYPE_CHECKING:
    import mesa

    from model.exchange import Exchange
    from model.params import LeveragedTraderParams
    from model.view import MarketView

STRATEGIES = ("trend", "dip_buyer", "short_bounce", "noise")


class LeveragedTrader(Trader):
    """A leveraged speculator.

    Args:
        model: the Mesa model the agent belongs to (its ``rng`` is the trader's randomness).
        exchange: the venue.
        view: the per-step market view.
        params: the leveraged traders' parameter block (thresholds, windows, tilts).
        capital_usd: initial collateral.
        isolated: isolated-margin account.
        leverage: leverage used on every symbol.
        rate_per_s: decisions per simulated second.
        strategy: one of ``STRATEGIES``.
        symbols: symbol indices the trader trades (several only in a cross account).
        watch_btc: read the leader's returns for alt decisions (a contagion channel).
        holding_s: holding horizon, seconds.
        stop_loss: stop distance from the entry, fraction (None: the parameter block's ``stop_loss``).
        support_stop: a dip buyer's stop distance under its support, fraction (None: the parameter
            block's ``stop_below_support``).
        support_multiple: the multiple of the block's ``support_spacing_usd`` whose round numbers a dip
            buyer watches.
        reads_sentiment: the sentiment channel: fear and greed tilt entries, exits and re-entry.
    """

    def __init__(
        self,
        model: mesa.Model,
        exchange: Exchange,
        view: MarketView,
        params: LeveragedTraderParams,
        capital_usd: float,
        isolated: bool,
        leverage: float,
        rate_per_s: float,
        strategy: str,
        symbols: list[int],
        watch_btc: bool,
        holding_s: float,
        stop_loss: float | None = None,
        support_stop: float | None = None,
        support_multiple: float = 1.0,
        reads_sentiment: bool = True,
    ) -> None:
        super().__init__(
            model, exchange, view, capital_usd, isolated=isolated, leverage=leverage, rate_per_s=rate_per_s
        )
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r} (have {STRATEGIES})")
        self.leverage = leverage
        self.strategy = strategy
        self.symbols = symbols
        self.watch_btc = watch_btc
        self.holding_s = holding_s
        self.stop_loss = params.stop_loss if stop_loss is None else stop_loss
        self.support_stop = params.stop_below_support if support_stop is None else support_stop
        self.reads_sentiment = reads_sentiment
        self.entry_time: dict[int, float] = {}
        self.stop_ids: dict[int, int] = {}
        self.liquidated_times = 0
        self.reentries = 0  # times it came back with new money
        self._p = params
        self._spacing_ticks = [
            params.support_spacing_usd.get(name, 0.0) * support_multiple / exchange.tick_size_usd[i]
            for i, name in enumerate(exchange.names)
        ]

    # ------------------------------------------------------------------ decide

    def decide(self, view: MarketView) -> tuple[str, int, int] | None:
        """Return ``("close", symbol, 0)``, ``("open", symbol, side)``, ``("reenter", 0, 0)`` or None."""
        ex = self.exchange
        a = self.account
        p = self._p
        pos_row = ex.positions(a)
        holding = False
        for s in self.symbols:
            pos = pos_row[s]
            if not pos:
                continue
            holding = True
            entry = ex.entry_price_ticks(a, s)
            gain = (view.mark_ticks[s] / entry - 1.0) * (1 if pos > 0 else -1)
            if gain >= p.take_profit or view.time_s - self.entry_time.get(s, 0.0) > self.holding_s:
                return ("close", s, 0)
            if self.watch_btc and s != 0 and p.watcher_exit_leader_move is not None:
                # the lead-lag channel: an alt position that BTC's break has gone against is cut before
                # the alt follows (the watcher reads BTC as the alt's leading indicator)
                leader = view.ret(0, p.watcher_exit_window_seconds) * (1 if pos > 0 else -1)
                if leader < -p.watcher_exit_leader_move:
                    return ("close", s, 0)
            # capitulation: in extreme fear losing longs are cut (the sentiment channel)
            panic = (
                pos > 0 and gain < 0 and view.sentiment < p.capitulation_sentiment and self.reads_sentiment
            )
            if (
                panic
                and self.rng.random()
                < (p.capitulation_sentiment - view.sentiment) / p.capitulation_ramp_points
            ):
                return ("close", s, 0)
        if holding:
            return None
        if self.equity_usd() < p.reentry_below_capital * self.capital_usd:
            return self._reentry(view)
        s = (
            self.symbols[0]
            if len(self.symbols) == 1
            else self.symbols[int(self.rng.integers(len(self.symbols)))]
        )
        side = self._signal(view, s)
        if side is None:
            return None
        if side == BUY and not self._accept_long(view):
            return None
        return ("open", s, side)

    def _signal(self, view: MarketView, s: int) -> int | None:
        p = self._p
        rng = self.rng
        src = 0 if (self.watch_btc and s != 0) else s
        if self.strategy == "trend":
            r = view.ret(src, p.lookback_seconds)
            if r > p.trend_threshold:
                return BUY
            if r < -p.trend_threshold:
                return SELL
            return None
        if self.strategy == "dip_buyer":
            spacing = self._spacing_ticks[s]
            if spacing <= 0:
                return None
            price = view.mid_ticks[s]
            support = math.floor(price / spacing) * spacing
            if support <= 0 or price / support - 1.0 > p.dip_band:  # only just above the support
                return None
            if view.ret(src, p.lookback_seconds) > 0:
                return None  # buy into a dip toward the support, not a rally
            return BUY
        if self.strategy == "short_bounce":
            if (
                view.ret(src, p.bounce_window_seconds) < -p.bounce_drop
                and view.ret(s, p.lookback_seconds) > 0.0
            ):
                return SELL
            return None
        bias = p.long_bias + p.macro_bias_tilt * p.macro_sensitivity * view.macro
        if self.reads_sentiment:
            bias += (view.sentiment - 50.0) / p.sentiment_bias_points
        prob_long = min(max(0.5 + 0.5 * bias, 0.02), 0.98)
        return BUY if rng.random() < prob_long else SELL

    def _accept_long(self, view: MarketView) -> bool:
        """Fear and risk-off make long entries rarer (sentiment and macro channels)."""
        p = self._p
        appetite = 1.0 + p.macro_appetite_tilt * p.macro_sensitivity * view.macro
        if self.reads_sentiment:
            appetite *= p.fear_appetite + p.greed_appetite_per_100 * view.sentiment / 100.0
        return bool(self.rng.random() < min(max(appetite, 0.0), 1.0))

    def _reentry(self, view: MarketView) -> tuple[str, int, int] | None:
        per_decision = self._p.reentry_per_day / max(self.rate_per_s * 86400.0, 1e-9)
        greed = view.sentiment / 50.0 if self.reads_sentiment else 1.0
        if self.rng.random() < per_decision * greed:
            return ("reenter", 0, 0)
        return None

    # ------------------------------------------------------------------ act

    def act(self, intent: tuple[str, int, int]) -> None:
        """Send the orders of an intent through the exchange."""
        kind, s, side = intent
        ex = self.exchange
        if kind == "close":
            self.close(s)
        elif kind == "reenter":
            ex.deposit(self.account, self.capital_usd)
            self.reentries += 1
        else:
            view = self.view
            price = view.mid_ticks[s]
            # risk-off lowers the leverage taken on either side (demand for leverage shrinks)
            shrink = max(1.0 - self._p.risk_off_deleveraging * max(-view.macro, 0.0), 0.0)
            lots = ex.usd_to_lots(s, self._entry_notional_usd(s, self.equity_usd()) * shrink, price)
            if lots < 1:
                return
            res = ex.submit(self.account, s, side, lots)
            if res.filled_lots:
                self.entry_time[s] = view.time_s
                self._place_stop(s, view)

    def _entry_notional_usd(self, s: int, equity_usd: float) -> float:
        """Equity share x leverage, capped where the venue's brackets stop allowing that leverage and at
        ``max_position_usd`` (x the symbol's liquidity scale), USD."""
        p = self._p
        notional = p.position_fraction * max(equity_usd, 0.0) * self.leverage
        notional = min(notional, p.max_notional_headroom * self.exchange.max_notional_usd(s, self.leverage))
        if p.max_position_usd is not None:
            notional = min(notional, p.max_position_usd * self.view.liquidity_scale[s])
        return notional

    def close(self, s: int) -> None:
        """Close the position in ``s`` at market and cancel its stop."""
        ex = self.exchange
        sid = self.stop_ids.pop(s, None)
        if sid is not None:
            ex.cancel_stop(self.account, sid)
        pos = self.position(s)
        if pos:
            ex.submit(self.account, s, SELL if pos > 0 else BUY, abs(pos), reduce_only=True)

    def _place_stop(self, s: int, view: MarketView) -> None:
        ex = self.exchange
        pos = self.position(s)
        if not pos:
            return
        old = self.stop_ids.pop(s, None)
        if old is not None:
            ex.cancel_stop(self.account, old)
        entry = ex.entry_price_ticks(self.account, s)
        if pos > 0:
            trigger = entry * (1.0 - self.stop_loss)
            if self.strategy == "dip_buyer" and self._spacing_ticks[s] > 0 and self._p.stops_at_support:
                # the support the trader bought above: the round number under both entry and market
                low = min(entry, view.mid_ticks[s])
                support = math.floor(low / self._spacing_ticks[s]) * self._spacing_ticks[s]
                trigger = support * (1.0 - self.support_stop)
            self.stop_ids[s] = ex.submit_stop(self.account, s, SELL, pos, max(1, math.floor(trigger)))
        else:
            trigger = entry * (1.0 + self.stop_loss)
            self.stop_ids[s] = ex.submit_stop(self.account, s, BUY, -pos, math.ceil(trigger))

    def seed_position(self, s: int, side: int, entry_ticks: int, counterparty: int, time_s: float) -> float:
        """Start the run holding a position (open interest the market starts with), with its stop.

        Returns the notional seeded, USD.
        """
        ex = self.exchange
        # a multi-symbol account holds every symbol it trades, sharing its margin
        notional = self._entry_notional_usd(s, self.capital_usd) / len(self.symbols)
        lots = ex.usd_to_lots(s, notional, entry_ticks)
        if lots < 1:
            return 0.0
        if side == BUY:
            ex.seed_position(self.account, counterparty, s, lots, entry_ticks)
        else:
            ex.seed_position(counterparty, self.account, s, lots, entry_ticks)
        self.entry_time[s] = time_s - float(self.rng.random()) * self.holding_s
        self._place_stop(s, self.view)
        return notional
