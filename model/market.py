"""CryptoMarket: the Mesa model that builds the exchange, the agents and the drivers, and runs the step.

One step is ``dt_seconds`` of simulated time, in five named phases (``DESIGN.md`` §2):

1. ``drivers`` - scripted shocks due in this step, the macro factor, the index paths.
2. ``agents`` - the traders whose Poisson clocks fire (sparse activation: cost grows with the number that
   act, not the population), in an order shuffled by the model's generator; market makers every
   ``quote_interval_seconds``; large holders every step (they keep their own timers).
3. ``exchange`` - stop orders fire on the last trade, marks update, funding settles when due.
4. ``liquidation`` - the liquidation engine's vectorised check and waterfall.
5. ``record`` - sentiment, then the sampled time series (a Mesa ``DataCollector``) every
   ``sample_seconds``; liquidation and ADL events are kept as plain lists by the engine.

This is the one module of ``model/`` that imports ``agents/``.
"""

from __future__ import annotations

import math
from typing import Any

import mesa
import numpy as np
import pandas as pd

from agents.background import FundamentalTrader, NoiseTrader, ValueTrader
from agents.large_holder import LargeHolder
from agents.leveraged import STRATEGIES, LeveragedTrader
from agents.market_maker import MarketMaker
from model.drivers import IndexDriver, MacroFactor, due_shocks
from model.exchange import MICRO, Exchange
from model.ledger import Ledger
from model.liquidation import ADL_COLUMNS, LIQUIDATION_COLUMNS, LiquidationEngine
from model.orderbook import BUY, SELL
from model.params import IndexJump, MacroShock, MakerWithdrawal, MarketParams, Shock, WhaleSale
from model.sentiment import FearGreedIndex

TIMESERIES_COLUMNS = (
    "mid",
    "last",
    "mark",
    "index",
    "best_bid",
    "best_ask",
    "depth_1pct_usd",
    "volume_usd",
    "open_interest_usd",
    "funding_rate",
    "liq_long_usd",
    "liq_short_usd",
    "insurance_fund_usd",
    "sentiment",
    "macro",
)

HISTORY_SECONDS = 3600.0  # how far back agents can read returns


class MarketView:
    """What agents observe in a step: prices in ticks, returns, volatility, sentiment, macro.

    Computed once per step so that each agent's observation is cheap.
    """

    def __init__(self, exchange: Exchange, dt_s: float) -> None:
        self.exchange = exchange
        self.dt_s = dt_s
        n = exchange.n_symbols
        self.time_s = 0.0
        self.mid_ticks = [exchange.mid_ticks(s) for s in range(n)]
        self.index_ticks = list(exchange.index_ticks)
        self.value_ticks = [exchange.index_path_ticks(s) for s in range(n)]  # fundamental value
        self.mark_ticks = exchange.mark_ticks  # the exchange's array (live)
        self.sentiment = 50.0
        self.macro = 0.0
        self.vol_1s = [s.index_vol_per_day / math.sqrt(86400.0) for s in exchange.symbols]
        self.base_vol_1s = list(self.vol_1s)
        self._len = int(HISTORY_SECONDS / dt_s) + 1
        self._hist = np.tile(np.log(np.asarray(self.mid_ticks, dtype=np.float64)), (self._len, 1))
        self._pos = 0
        self.last_log_return = np.zeros(n)
        self._prev_mark_log = np.log(self.mark_ticks)
        self._vol_alpha = 1.0 - math.exp(-math.log(2.0) * dt_s / 300.0)

    def refresh(self, time_s: float, sentiment: float, macro: float) -> None:
        """Read the books and the index after the drivers moved."""
        ex = self.exchange
        self.time_s = time_s
        self.sentiment = sentiment
        self.macro = macro
        for s in range(ex.n_symbols):
            self.mid_ticks[s] = ex.mid_ticks(s)
            self.index_ticks[s] = ex.index_ticks[s]
            self.value_ticks[s] = ex.index_path_ticks(s)
        logs = np.log(np.asarray(self.mid_ticks, dtype=np.float64))
        prev = self._hist[self._pos]
        self._pos = (self._pos + 1) % self._len
        self._hist[self._pos] = logs
        self.last_log_return = logs - prev
        # realised volatility from the mark (robust to a thin moment of the book: a jumpy mid would
        # feed back into makers' spreads), per sqrt(second), exponentially weighted (half-life 300 s)
        mark_logs = np.log(self.mark_ticks)
        r = mark_logs - self._prev_mark_log
        self._prev_mark_log = mark_logs
        a = self._vol_alpha
        for s in range(ex.n_symbols):
            var = self.vol_1s[s] ** 2
            var += a * (float(r[s]) ** 2 / self.dt_s - var)
            self.vol_1s[s] = math.sqrt(max(var, 0.0))

    def ret(self, symbol: int, seconds: float) -> float:
        """Log-return of the mid over the last ``seconds`` (capped at the history kept)."""
        k = min(int(seconds / self.dt_s), self._len - 1)
        return float(self._hist[self._pos, symbol] - self._hist[(self._pos - k) % self._len, symbol])


class CryptoMarket(mesa.Model):
    """A perpetual-futures market with leveraged traders, whales, makers and a liquidation engine.

    Args:
        params: the market parameters (defaults: BTC, ETH, SOL on a Binance-like venue).
        seed: seed of the model's numpy Generator (all randomness comes from it).
        dt_seconds: simulated seconds per step.
        sample_seconds: interval of the recorded time series.
    """

    def __init__(
        self,
        params: MarketParams | None = None,
        seed: int = 0,
        dt_seconds: float = 1.0,
        sample_seconds: float = 60.0,
    ) -> None:
        super().__init__(rng=seed)
        self.seed_value = seed
        self.params = params if params is not None else MarketParams()
        if dt_seconds <= 0 or sample_seconds < dt_seconds:
            raise ValueError("need 0 < dt_seconds <= sample_seconds")
        self.dt_seconds = float(dt_seconds)
        self.sample_seconds = float(sample_seconds)
        p = self.params
        self.exchange = Exchange(p.symbols, p.venue)
        self.n_symbols = self.exchange.n_symbols
        self.liquidity_scale = [s.liquidity_scale for s in p.symbols]
        self.engine = LiquidationEngine(self, self.exchange)
        self.macro = MacroFactor(p.macro, self.rng)
        self.index_driver = IndexDriver(p.symbols, p.macro, p.contagion.index_coupling, self.rng)
        self.fear_greed = FearGreedIndex(p.sentiment)
        self.view = MarketView(self.exchange, self.dt_seconds)
        self.reentries = 0
        self.shocks_applied: list[str] = []
        self._maker_every = max(1, round(p.market_makers.quote_interval_seconds / self.dt_seconds))
        self._step_index = 0
        self._clocked: list[mesa.Agent] = []
        self._build_population()
        n = len(self._clocked)
        self._rates = np.array([a.rate_per_s for a in self._clocked], dtype=np.float64)
        self._next_fire = self.rng.exponential(1.0, n) / np.maximum(self._rates, 1e-12)
        self._liq_prev = [0] * self.n_symbols * 2
        self._vol_prev = [0] * self.n_symbols
        self._liq_window: list[float] = []
        self._oi_cache: list[float] = []
        self._leader_index_return = 0.0
        self._sample: dict[str, list[float]] = {}
        self._next_sample_s = 0.0
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "time_s": lambda m: m.time_s,
                **{c: _sample_getter(c) for c in TIMESERIES_COLUMNS},
            }
        )
        self._record()

    # ------------------------------------------------------------------ building

    def _build_population(self) -> None:
        p = self.params
        ex = self.exchange
        rng = self.rng
        S = self.n_symbols
        # a hedged basis desk: the counterparty of the open interest the market starts with
        self.basis_desk = ex.open_account(0.0, leverage=1.0)
        desk_notional = 0.0

        mm = p.market_makers
        # makers quote every symbol from one account; the contagion switch decides whether that
        # account has one risk budget across symbols or one per symbol (same capital either way)
        groups = [list(range(S)) if mm.multi_symbol else [i % S] for i in range(mm.count)]
        for syms in groups:
            MarketMaker(
                self,
                mm.capital_usd,
                syms,
                mm.loss_limit_usd,
                mm.inventory_limit_usd,
                shared_budget=p.contagion.shared_mm_budget,
            )
        self.makers = self.agents_by_type[MarketMaker] if groups else mesa.AgentSet([], random=self.random)

        bg = p.background
        for i in range(bg.fundamental_count):
            self._clocked.append(
                FundamentalTrader(self, bg.capital_usd, i % S, bg.fundamental_orders_per_hour / 3600)
            )
        for i in range(bg.noise_count):
            self._clocked.append(
                NoiseTrader(self, bg.capital_usd / 4, i % S, bg.noise_orders_per_hour / 3600)
            )

        for i in range(bg.value_count):
            self._clocked.append(
                ValueTrader(self, bg.value_capital_usd, i % S, bg.value_orders_per_hour / 3600)
            )

        lh = p.large_holders
        price0 = ex.index_ticks[0]
        self.holders: list[LargeHolder] = []
        for _ in range(lh.count):
            basis = price0 * (1.0 + lh.cost_basis_premium)
            holder = LargeHolder(self, lh.inventory_usd * 1.2, basis)
            lots = ex.usd_to_lots(0, lh.inventory_usd, price0)
            ex.seed_position(holder.account, self.basis_desk, 0, lots, round(basis))
            desk_notional += lh.inventory_usd * (1 + abs(lh.cost_basis_premium))
            self.holders.append(holder)

        lev = p.leveraged
        n = lev.count
        if n:
            capital = rng.lognormal(math.log(lev.capital_usd.median), lev.capital_usd.sigma, n)
            weights = np.asarray(lev.leverage_weights, dtype=np.float64)
            leverage = rng.choice(
                np.asarray(lev.leverage_choices, dtype=np.float64), size=n, p=weights / weights.sum()
            )
            cross = rng.random(n) < lev.cross_margin_share
            multi = rng.random(n) < lev.multi_symbol_share
            mix_names = [k for k in STRATEGIES if k in lev.strategy_mix]
            mix = np.asarray([lev.strategy_mix[k] for k in mix_names], dtype=np.float64)
            strategy = rng.choice(len(mix_names), size=n, p=mix / mix.sum())
            sym_w = np.asarray(
                lev.symbol_weights
                if lev.symbol_weights is not None
                else [0.5] + [0.5 / max(S - 1, 1)] * (S - 1),
                dtype=np.float64,
            )[:S]
            home = rng.choice(S, size=n, p=sym_w / sym_w.sum())
            watch = rng.random(n) < 0.5
            holding = rng.exponential(lev.holding_hours * 3600.0, n)
            seeded = rng.random(n) < lev.seeded_share
            offsets = rng.uniform(-1.0, 1.0, n)
            long_draw = rng.random(n)
            caps = [ex.schedules[s].max_leverage(0.0) for s in range(S)]
            # the open interest the market starts with is balanced among the traders: trend and noise
            # traders take the side that offsets the dip buyers' longs and the bounce shorts, so that
            # positions unwinding over the run are not a one-sided flow (the desk takes the residual)
            mix_of: dict[str, float] = {str(k): v for k, v in lev.strategy_mix.items()}
            share = {k: mix_of.get(k, 0.0) / sum(mix_of.values()) for k in STRATEGIES}
            free = share["trend"] + share["noise"]
            seeded_long_prob = (
                min(max((free + share["short_bounce"] - share["dip_buyer"]) / (2 * free), 0.0), 1.0)
                if free
                else 0.5
            )
            for i in range(n):
                is_multi = bool(multi[i]) and S > 1
                syms = list(range(S)) if is_multi else [int(home[i])]
                # the cross-margin channel: multi-symbol accounts are cross only when it is on
                isolated = (not bool(cross[i])) if not is_multi else not p.contagion.cross_margin
                lv = float(min(leverage[i], lev.leverage_cap, *(caps[s] for s in syms)))
                strat = mix_names[int(strategy[i])]
                trader = LeveragedTrader(
                    self,
                    float(capital[i]),
                    isolated,
                    lv,
                    lev.decisions_per_hour / 3600.0,
                    strat,
                    syms,
                    bool(watch[i]) and p.contagion.btc_watchers,
                    float(holding[i]),
                )
                self._clocked.append(trader)
                if seeded[i]:
                    if strat == "dip_buyer":
                        side = BUY
                    elif strat == "short_bounce":
                        side = SELL
                    else:
                        side = BUY if long_draw[i] < seeded_long_prob else SELL
                    spread = min(0.4 / lv, 0.03)
                    for s in syms:
                        entry = max(1, round(ex.index_ticks[s] * (1.0 + spread * float(offsets[i]))))
                        desk_notional += trader.seed_position(s, side, entry, self.basis_desk, 0.0)
        ex.deposit(self.basis_desk, desk_notional + 1.0)  # fully collateralised: it is hedged in spot
        self.makers.do("step")  # the books open with quotes

    # ------------------------------------------------------------------ the step

    @property
    def time_s(self) -> float:
        """Simulated seconds since the start."""
        return self.exchange.time_s

    def step(self) -> None:
        """Advance ``dt_seconds`` through the five phases."""
        dt = self.dt_seconds
        ex = self.exchange
        t0 = ex.time_s
        # 1. drivers
        for shock in due_shocks(self.params.shocks, t0, t0 + dt):
            self._apply_shock(shock)
        macro = self.macro.step(dt)
        returns = self.index_driver.returns(dt, macro, self._leader_index_return)
        before = ex.index_ticks[0]
        ex.move_index(dt, returns)
        self._leader_index_return = math.log(ex.index_ticks[0] / before)
        sentiment = self.fear_greed.value if self.params.contagion.sentiment else 50.0
        self.view.refresh(t0, sentiment, macro)
        # 2. agents: sparse Poisson activation, shuffled
        now = t0 + dt
        fired = np.flatnonzero(self._next_fire <= now)
        if len(fired):
            self._next_fire[fired] = now + self.rng.exponential(1.0, len(fired)) / self._rates[fired]
            clocked = self._clocked
            for i in self.rng.permutation(fired).tolist():
                clocked[i].step()
        if self._step_index % self._maker_every == 0:
            self.makers.shuffle_do("step")
        for holder in self.holders:
            holder.step()
        # 3. exchange
        ex.trigger_stops()
        ex.update_marks(dt)
        # 4. liquidation
        self.engine.step()
        # 5. record
        self._step_index += 1
        self._update_sentiment()
        if ex.time_s >= self._next_sample_s - 1e-9:
            self._record()

    def run_for(self, seconds: float) -> None:
        """Step until ``seconds`` more simulated time has passed."""
        for _ in range(round(seconds / self.dt_seconds)):
            self.step()

    def _apply_shock(self, shock: Shock) -> None:
        now = self.exchange.time_s
        if isinstance(shock, WhaleSale):
            self.holders[shock.holder].start_sale(
                shock.fraction, shock.mode, shock.duration_minutes * 60.0, now
            )
        elif isinstance(shock, MacroShock):
            self.macro.shock(shock.size)
        elif isinstance(shock, IndexJump):
            self.index_driver.jump(self.exchange.symbol_id(shock.symbol), shock.pct)
        elif isinstance(shock, MakerWithdrawal):
            makers = list(self.makers)
            k = max(1, round(len(makers) * shock.fraction))
            for m in makers[:k]:
                m.withdraw(now, shock.duration_minutes * 60.0)
        self.shocks_applied.append(f"{shock.kind}@{now:.0f}s")

    def _update_sentiment(self) -> None:
        eng = self.engine
        liq = sum(eng.liquidated_long_micro) + sum(eng.liquidated_short_micro)
        self._liq_window.append(liq)
        horizon = max(1, int(900 / self.dt_seconds))
        if len(self._liq_window) > horizon:
            del self._liq_window[0 : len(self._liq_window) - horizon]
        liq_recent = (liq - self._liq_window[0]) / MICRO
        if self._step_index % max(1, int(10 / self.dt_seconds)) == 0 or not self._oi_cache:
            self._oi_cache = self.open_interest_usd()  # every 10 s: OI moves slowly, the sum is O(accounts)
        oi_usd = self._oi_cache
        hours = max(len(self._liq_window) - 1, 1) * self.dt_seconds / 3600.0
        share = liq_recent / hours / max(sum(oi_usd), 1.0)
        self.fear_greed.update(
            self.dt_seconds,
            self.view.ret(0, 3600.0),
            self.view.vol_1s[0],
            share,
            self.exchange.funding_rate[0],
            self.view.base_vol_1s[0],
            math.log(max(self.view.mid_ticks[0], 1e-9)) if self.params.sentiment.weight_trend else None,
        )

    # ------------------------------------------------------------------ recording

    def open_interest_usd(self) -> list[float]:
        """Open interest per symbol (long lots x mark), USD."""
        ex = self.exchange
        lots = ex.open_interest_lots()
        return [
            int(lots[s]) * float(ex.mark_ticks[s]) * ex.tick_value_micro[s] / MICRO
            for s in range(self.n_symbols)
        ]

    def _record(self) -> None:
        ex = self.exchange
        eng = self.engine
        S = self.n_symbols
        ts = ex.tick_size_usd
        sample: dict[str, list[float]] = {c: [] for c in TIMESERIES_COLUMNS}
        oi = self.open_interest_usd()
        fund = ex.insurance_fund_usd
        for s in range(S):
            book = ex.books[s]
            bb, ba = book.best_bid(), book.best_ask()
            bid_usd, ask_usd = ex.depth_within_usd(s, 0.01)
            vol = ex.volume_notional_micro[s]
            ll, ls = eng.liquidated_long_micro[s], eng.liquidated_short_micro[s]
            sample["mid"].append(ex.mid_ticks(s) * ts[s])
            sample["last"].append(ex.last_ticks(s) * ts[s])
            sample["mark"].append(ex.mark_usd(s))
            sample["index"].append(ex.index_usd(s))
            sample["best_bid"].append(bb * ts[s] if bb is not None else math.nan)
            sample["best_ask"].append(ba * ts[s] if ba is not None else math.nan)
            sample["depth_1pct_usd"].append(bid_usd + ask_usd)
            sample["volume_usd"].append((vol - self._vol_prev[s]) / MICRO)
            sample["open_interest_usd"].append(oi[s])
            sample["funding_rate"].append(ex.funding_rate[s])
            sample["liq_long_usd"].append((ll - self._liq_prev[2 * s]) / MICRO)
            sample["liq_short_usd"].append((ls - self._liq_prev[2 * s + 1]) / MICRO)
            sample["insurance_fund_usd"].append(fund)
            sample["sentiment"].append(self.fear_greed.value)
            sample["macro"].append(self.macro.value)
            self._vol_prev[s] = vol
            self._liq_prev[2 * s], self._liq_prev[2 * s + 1] = ll, ls
        self._sample = sample
        self.datacollector.collect(self)
        self._next_sample_s += self.sample_seconds

    def timeseries_frame(self) -> pd.DataFrame:
        """The sampled series in long format: one row per (time_s, symbol)."""
        wide = self.datacollector.get_model_vars_dataframe()
        names = self.exchange.names
        rows: dict[str, list[Any]] = {"time_s": [], "symbol": []}
        for c in TIMESERIES_COLUMNS:
            rows[c] = []
        for rec in wide.itertuples(index=False):
            d = rec._asdict()
            for s, name in enumerate(names):
                rows["time_s"].append(float(d["time_s"]))
                rows["symbol"].append(name)
                for c in TIMESERIES_COLUMNS:
                    rows[c].append(float(d[c][s]))
        return pd.DataFrame(rows)

    def liquidations_frame(self) -> pd.DataFrame:
        """Every liquidation, partial liquidation, takeover and ADL close, one row each."""
        return pd.DataFrame(self.engine.events, columns=list(LIQUIDATION_COLUMNS))

    def adl_frame(self) -> pd.DataFrame:
        """Every auto-deleveraging fill, one row each (account = the deleveraged counterparty)."""
        return pd.DataFrame(self.engine.adl_events, columns=list(ADL_COLUMNS))

    def summary_extras(self) -> dict[str, float | int]:
        """Run-level figures the metrics cannot derive from the frames."""
        ex = self.exchange
        return {
            "insurance_fund_start_usd": ex.insurance_fund_start_micro / MICRO,
            "insurance_fund_min_usd": min(self.engine.fund_min_micro, ex.insurance_fund_start_micro) / MICRO,
            "insurance_fund_end_usd": ex.insurance_fund_usd,
            "bad_debt_usd": ex.ledger.bad_debt_micro / MICRO,
            "book_messages": ex.messages,
            "stops_triggered": ex.stops_triggered,
            "funding_settlements": ex.funding_settlements,
            "maker_withdrawals": int(sum(m.withdrawals for m in self.makers)),
            "reentries": self.reentries,
            "fund_inventory_lots": [int(v) for v in ex.ledger.pos[Ledger.FUND]],
        }


def _sample_getter(column: str) -> Any:
    def get(model: CryptoMarket) -> list[float]:
        return list(model._sample[column])

    return get


__all__ = ["SELL", "TIMESERIES_COLUMNS", "CryptoMarket", "MarketView"]
