"""CryptoMarket: the Mesa model that builds the exchange, the agents and the drivers, and runs the step.

One step is ``dt_seconds`` of simulated time. The step is data: :attr:`CryptoMarket.phases` is a tuple of
``(name, method)`` pairs run in order (like the state-update blocks of a cadCAD model), so a benchmark
can time one phase and a user or a test can replace one (:meth:`CryptoMarket.replace_phase`):

1. ``drivers`` - scripted shocks due in this step, the macro factor, the index paths.
2. ``observe`` - the per-step :class:`~model.view.MarketView` is refreshed from the books and the index.
3. ``agents`` - the traders whose Poisson clocks fire (sparse activation: cost grows with the number that
   act, not the population), in an order shuffled by the model's generator; market makers every
   ``quote_interval_seconds``; large holders every step (they keep their own timers).
4. ``exchange`` - stop orders fire on the last trade, marks update, funding settles when due.
5. ``liquidation`` - the liquidation engine's vectorised check and waterfall.
6. ``sentiment`` - the fear-and-greed index reads this step's market.
7. ``record`` - the :class:`~model.recorder.Recorder` samples the time series every ``sample_seconds``
   (it only reads; liquidation and ADL events are kept as plain lists by the engine).

``DESIGN.md`` §2 names five phases; ``observe`` and ``sentiment`` are the view refresh that closed
``drivers`` and the sentiment update that opened ``record``, split out so that ``record`` only reads and
a replaced ``drivers`` phase still leaves agents a fresh view. The order of work within a step is the
same.

The populations are built by small functions per population (:func:`build_makers`,
:func:`build_background`, :func:`build_holders`, :func:`draw_leveraged`, :func:`build_leveraged`,
:func:`seed_leveraged`, :func:`build_relative_value`) from vectorised draws of the model's generator, in
a fixed order; each agent gets the exchange, the view and its parameter block in its constructor.

This is the one module of ``model/`` that imports ``agents/``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import mesa
import numpy as np
import pandas as pd

from agents.background import FundamentalTrader, NoiseTrader, ValueTrader
from agents.base import Trader
from agents.large_holder import LargeHolder
from agents.leader import UnshownLeaderMove
from agents.leveraged import STRATEGIES, LeveragedTrader
from agents.market_maker import MarketMaker
from agents.relative_value import RelativeValueTrader
from model.drivers import IndexDriver, MacroFactor, due_shocks
from model.exchange import MICRO, Exchange
from model.liquidation import LiquidationEngine
from model.orderbook import BUY, SELL
from model.params import (
    BackgroundParams,
    ContagionParams,
    IndexJump,
    LargeHolderParams,
    LeveragedTraderParams,
    MacroShock,
    MakerWithdrawal,
    MarketMakerParams,
    MarketParams,
    Shock,
    WhaleSale,
)
from model.recorder import TIMESERIES_COLUMNS, Recorder
from model.sentiment import FearGreedIndex
from model.view import MarketView

Phase = Callable[[], None]
"""One phase of the step: a callable without arguments that advances the market's state."""

PHASE_NAMES = ("drivers", "observe", "agents", "exchange", "liquidation", "sentiment", "record")
"""The names of :attr:`CryptoMarket.phases`, in the order they run."""


# --------------------------------------------------------------------------- building the populations


def build_makers(
    model: mesa.Model,
    exchange: Exchange,
    view: MarketView,
    params: MarketMakerParams,
    shared_budget: bool,
    leader_betas: list[float] | None = None,
    index_coupling: bool = True,
) -> mesa.agent.AgentSet:
    """Open the market makers, one account each, in index order.

    Makers quote every symbol from one account (``params.multi_symbol``) or maker ``i`` quotes symbol
    ``i mod S``; ``shared_budget`` (the contagion switch) decides whether a multi-symbol account has one
    risk budget across its symbols or one per symbol (same capital either way). ``leader_betas`` (each
    symbol's ``btc_beta``, the leader's unused) is what ``leader_pricing`` scales the leader's move by;
    None: no maker prices an alt off the leader (the ``maker_leader_pricing`` channel off).
    ``index_coupling`` (the contagion switch) tells the makers whether the alts' indices show BTC's
    index moves already (``leader_pricing_follow_seconds``).

    Returns:
        The makers as an ``AgentSet`` in creation order (the order their shuffles start from).
    """
    n_sym = exchange.n_symbols
    groups = [list(range(n_sym)) if params.multi_symbol else [i % n_sym] for i in range(params.count)]
    return MarketMaker.create_agents(
        model,
        len(groups),
        exchange=exchange,
        view=view,
        params=params,
        capital_usd=params.capital_usd,
        symbols=groups,
        loss_limit_usd=params.loss_limit_usd,
        inventory_limit_usd=params.inventory_limit_usd,
        shared_budget=shared_budget,
        leader_betas=leader_betas,
        index_coupling=index_coupling,
    )


def build_background(
    model: mesa.Model,
    exchange: Exchange,
    view: MarketView,
    params: BackgroundParams,
    leader_betas: list[float] | None = None,
    index_coupling: bool = True,
) -> list[Trader]:
    """Open the background flow: fundamental, then noise, then value traders; trader ``i`` of each kind
    trades symbol ``i mod S``.

    With ``params.fundamental_leader_pricing`` and ``leader_betas`` (each symbol's ``btc_beta``; None: the
    channel is off) an alt's arbitrageurs trade against its index moved by the leader's move it has not
    shown yet (:meth:`agents.background.FundamentalTrader.reference_ticks`).

    Returns:
        The traders in creation order (their Poisson clocks are drawn in this order).
    """
    n_sym = exchange.n_symbols
    shared = {"exchange": exchange, "view": view, "params": params}
    out: list[Trader] = []
    for cls, count, capital_usd, per_hour in (
        (FundamentalTrader, params.fundamental_count, params.capital_usd, params.fundamental_orders_per_hour),
        (
            NoiseTrader,
            params.noise_count,
            params.capital_usd * params.noise_capital_fraction,
            params.noise_orders_per_hour,
        ),
        (ValueTrader, params.value_count, params.value_capital_usd, params.value_orders_per_hour),
    ):
        out.extend(
            cls.create_agents(
                model,
                count,
                **shared,
                capital_usd=capital_usd,
                symbol=[i % n_sym for i in range(count)],
                rate_per_s=per_hour / 3600,
            )
        )
    if params.fundamental_leader_pricing and leader_betas is not None:
        for a in out:
            if isinstance(a, FundamentalTrader) and a.symbol != 0:
                a.leader_power = params.fundamental_leader_pricing * leader_betas[a.symbol]
                a.leader_move = UnshownLeaderMove(params.fundamental_leader_follow_seconds, index_coupling)
    return out


def build_relative_value(
    model: mesa.Model, exchange: Exchange, view: MarketView, params: MarketParams
) -> list[RelativeValueTrader]:
    """Open the relative-value desks: desk ``i`` trades alt ``1 + i mod (S - 1)`` at that alt's
    ``btc_beta``; with ``contagion.relative_value`` off they exist but never trade.

    Returns:
        The desks in creation order (after every other clocked trader: a market without them draws
        exactly what it drew before).
    """
    rv = params.relative_value
    n_alts = exchange.n_symbols - 1
    if not rv.count or n_alts < 1:
        return []
    alts = [1 + i % n_alts for i in range(rv.count)]
    return list(
        RelativeValueTrader.create_agents(
            model,
            rv.count,
            exchange=exchange,
            view=view,
            params=rv,
            symbol=alts,
            beta=[params.symbols[s].btc_beta for s in alts],
            active=params.contagion.relative_value,
        )
    )


def build_holders(
    model: mesa.Model,
    exchange: Exchange,
    view: MarketView,
    params: LargeHolderParams,
    support_spacing_usd: float,
    counterparty: int,
) -> tuple[list[LargeHolder], list[float]]:
    """Open the large holders and seed each one's long inventory in the leader against ``counterparty``.

    Returns:
        The holders, and the notional each seeding adds to the counterparty's book, USD (in order).
    """
    price0 = exchange.index_ticks[0]
    basis = price0 * (1.0 + params.cost_basis_premium)
    holders = list(
        LargeHolder.create_agents(
            model,
            params.count,
            exchange=exchange,
            view=view,
            params=params,
            capital_usd=params.inventory_usd * params.collateral_ratio,
            cost_basis_ticks=basis,
            support_spacing_usd=support_spacing_usd,
        )
    )
    notionals: list[float] = []
    for holder in holders:
        lots = exchange.usd_to_lots(0, params.inventory_usd, price0)
        exchange.seed_position(holder.account, counterparty, 0, lots, round(basis))
        notionals.append(params.inventory_usd * (1 + abs(params.cost_basis_premium)))
    return holders, notionals


class LeveragedDraws(NamedTuple):
    """The leveraged population's heterogeneity, one list item per trader (plain Python values).

    Attributes:
        capital_usd: initial collateral, USD (log-normal).
        leverage: leverage, x (a choice, capped by ``leverage_cap`` and each traded symbol's venue cap).
        isolated: isolated-margin account.
        strategy: a name of ``STRATEGIES``.
        symbols: the symbol indices traded (all of them for a multi-symbol cross account).
        watch_btc: reads the leader's returns for alt decisions.
        holding_s: holding horizon, seconds (exponential).
        seeded: starts the run holding a position.
        side: the seeded position's side (``BUY`` or ``SELL``).
        offset: where the seeded entry sits in its spread around the index, in [-1, 1).
        stop_loss: the trader's stop distance under (over) its entry, fraction (``stop_loss``, spread
            uniformly by ``stop_loss_spread``; drawn only when that is above 0).
        support_stop: a dip buyer's stop distance under its support, fraction (``stop_below_support``,
            spread uniformly by ``support_stop_spread``; drawn only when that is above 0).
        support_multiple: the multiple of ``support_spacing_usd`` whose round numbers a dip buyer watches
            (one of ``support_spacing_multiples``, drawn only when they are set; 1 otherwise).
    """

    capital_usd: list[float]
    leverage: list[float]
    isolated: list[bool]
    strategy: list[str]
    symbols: list[list[int]]
    watch_btc: list[bool]
    holding_s: list[float]
    seeded: list[bool]
    side: list[int]
    offset: list[float]
    stop_loss: list[float]
    support_stop: list[float]
    support_multiple: list[float]


def _spread_draw(rng: np.random.Generator, base: float, spread: float, n: int) -> list[float]:
    """``n`` values uniform within ``base x (1 -+ spread)``; with ``spread`` 0, ``base`` each and no draw."""
    return (base * rng.uniform(1.0 - spread, 1.0 + spread, n)).tolist() if spread else [base] * n


def draw_leveraged(
    rng: np.random.Generator,
    params: LeveragedTraderParams,
    contagion: ContagionParams,
    venue_caps: Sequence[float],
) -> LeveragedDraws:
    """Draw the leveraged population, vectorised, in a fixed order of the generator's draws.

    The order (capital, leverage, cross, multi, strategy, home symbol, watcher, holding, seeded, entry
    offset, seeded side, stop distances when spread, alt traders' leverage when ``alt_leverage_weights``,
    support stop distances when spread, support multiples when set)
    is part of the model's reproducibility: a new draw goes after these.

    Args:
        rng: the model's generator.
        params: the leveraged traders' block.
        contagion: the channel switches (cross margin for multi-symbol accounts, BTC watchers).
        venue_caps: each symbol's venue leverage cap for the smallest position, x.

    Returns:
        One list item per trader (empty lists for a zero count, with nothing drawn).
    """
    n = params.count
    n_sym = len(venue_caps)
    if not n:
        return LeveragedDraws([], [], [], [], [], [], [], [], [], [], [], [], [])
    capital = rng.lognormal(math.log(params.capital_usd.median), params.capital_usd.sigma, n)
    weights = np.asarray(params.leverage_weights, dtype=np.float64)
    leverage = rng.choice(
        np.asarray(params.leverage_choices, dtype=np.float64), size=n, p=weights / weights.sum()
    )
    cross = rng.random(n) < params.cross_margin_share
    multi = rng.random(n) < params.multi_symbol_share
    mix_names = [k for k in STRATEGIES if k in params.strategy_mix]
    mix = np.asarray([params.strategy_mix[k] for k in mix_names], dtype=np.float64)
    strategy = rng.choice(len(mix_names), size=n, p=mix / mix.sum())
    sym_w = np.asarray(
        params.symbol_weights
        if params.symbol_weights is not None
        else [0.5] + [0.5 / max(n_sym - 1, 1)] * (n_sym - 1),
        dtype=np.float64,
    )[:n_sym]
    home = rng.choice(n_sym, size=n, p=sym_w / sym_w.sum())
    watch = rng.random(n) < params.btc_watcher_share
    if params.holding_shape == 1.0:
        holding = rng.exponential(params.holding_hours * 3600.0, n)
    else:
        holding = rng.gamma(params.holding_shape, params.holding_hours * 3600.0 / params.holding_shape, n)
    seeded = rng.random(n) < params.seeded_share
    offsets = rng.uniform(-1.0, 1.0, n)
    long_draw = rng.random(n)
    # drawn only when spread: a market without it draws exactly what it drew before
    stops = _spread_draw(rng, params.stop_loss, params.stop_loss_spread, n)

    is_multi = multi & (n_sym > 1)
    alt_trader = ~is_multi & (home != 0)
    asset_specific = contagion.asset_leverage and n_sym > 1
    if asset_specific and params.alt_leverage_weights is not None:
        # the asset-leverage channel: alt traders' own mix, drawn last (a market without it draws what it
        # drew before)
        alt_w = np.asarray(params.alt_leverage_weights, dtype=np.float64)
        alt_leverage = rng.choice(
            np.asarray(params.leverage_choices, dtype=np.float64), size=n, p=alt_w / alt_w.sum()
        )
        leverage = np.where(alt_trader, alt_leverage, leverage)
    support_stop = _spread_draw(rng, params.stop_below_support, params.support_stop_spread, n)
    multiples = params.support_spacing_multiples
    support_multiple = (
        np.asarray(multiples, dtype=np.float64)[rng.integers(0, len(multiples), n)].tolist()
        if multiples
        else [1.0] * n
    )
    # the cross-margin channel: multi-symbol accounts are cross only when it is on
    isolated = np.where(is_multi, not contagion.cross_margin, ~cross)
    caps = np.asarray(venue_caps, dtype=np.float64)
    # min() picks one of its operands, so the vectorised caps equal a per-trader min exactly
    sym_cap = np.where(is_multi, caps.min(), caps[home])
    lv = np.minimum(np.minimum(leverage, params.leverage_cap), sym_cap)
    # the open interest the market starts with is balanced among the traders: trend and noise traders
    # take the side that offsets the dip buyers' longs and the bounce shorts, so that positions
    # unwinding over the run are not a one-sided flow (the desk takes the residual)
    mix_of: dict[str, float] = {str(k): v for k, v in params.strategy_mix.items()}
    share = {k: mix_of.get(k, 0.0) / sum(mix_of.values()) for k in STRATEGIES}
    free = share["trend"] + share["noise"]
    seeded_long_prob = (
        min(max((free + share["short_bounce"] - share["dip_buyer"]) / (2 * free), 0.0), 1.0) if free else 0.5
    )
    names = [mix_names[k] for k in strategy.tolist()]
    strat = np.asarray(names)
    long_prob: float | np.ndarray = seeded_long_prob
    if asset_specific and params.alt_long_tilt:
        long_prob = np.where(
            alt_trader, min(max(seeded_long_prob + params.alt_long_tilt, 0.0), 1.0), long_prob
        )
    side = np.where(
        strat == "dip_buyer",
        BUY,
        np.where(strat == "short_bounce", SELL, np.where(long_draw < long_prob, BUY, SELL)),
    )
    return LeveragedDraws(
        capital_usd=capital.tolist(),
        leverage=lv.tolist(),
        isolated=isolated.tolist(),
        strategy=names,
        symbols=[
            list(range(n_sym)) if m else [h] for m, h in zip(is_multi.tolist(), home.tolist(), strict=True)
        ],
        watch_btc=(watch & contagion.btc_watchers).tolist(),
        holding_s=holding.tolist(),
        seeded=seeded.tolist(),
        side=side.tolist(),
        offset=offsets.tolist(),
        stop_loss=stops,
        support_stop=support_stop,
        support_multiple=support_multiple,
    )


def build_leveraged(
    model: mesa.Model,
    exchange: Exchange,
    view: MarketView,
    params: LeveragedTraderParams,
    draws: LeveragedDraws,
    reads_sentiment: bool,
) -> list[LeveragedTrader]:
    """Open one leveraged trader per draw, in draw order (no draws of the generator here)."""
    return list(
        LeveragedTrader.create_agents(
            model,
            len(draws.capital_usd),
            exchange=exchange,
            view=view,
            params=params,
            capital_usd=draws.capital_usd,
            isolated=draws.isolated,
            leverage=draws.leverage,
            rate_per_s=params.decisions_per_hour / 3600.0,
            strategy=draws.strategy,
            symbols=draws.symbols,
            watch_btc=draws.watch_btc,
            holding_s=draws.holding_s,
            stop_loss=draws.stop_loss,
            support_stop=draws.support_stop,
            support_multiple=draws.support_multiple,
            reads_sentiment=reads_sentiment,
        )
    )


def seed_leveraged(
    traders: Sequence[LeveragedTrader],
    draws: LeveragedDraws,
    exchange: Exchange,
    params: LeveragedTraderParams,
    counterparty: int,
    sub_accounts: bool = False,
) -> list[float]:
    """Give the seeded traders their starting positions against ``counterparty``, trader by trader.

    With ``sub_accounts`` (``contagion.cross_margin_off = "sub_accounts"`` with cross margin off) an
    isolated multi-symbol trader's free collateral is then split over its positions' margins
    (:meth:`Exchange.allot_isolated_margin`): the same buffer as its cross account would have had.

    Entries are spread uniformly within ``+-min(seeded_entry_spread_leverage / leverage,
    seeded_entry_spread_max)`` around the index. Each seeding draws the position's age from the
    model's generator (:meth:`LeveragedTrader.seed_position`), so the traders are seeded in order.

    Returns:
        The notional each seeding adds to the counterparty, USD, in order.
    """
    out: list[float] = []
    for trader, seeded, side, offset, isolated in zip(
        traders, draws.seeded, draws.side, draws.offset, draws.isolated, strict=True
    ):
        if not seeded:
            continue
        spread = min(params.seeded_entry_spread_leverage / trader.leverage, params.seeded_entry_spread_max)
        for s in trader.symbols:
            entry = max(1, round(exchange.index_ticks[s] * (1.0 + spread * offset)))
            out.append(trader.seed_position(s, side, entry, counterparty, 0.0))
        if sub_accounts and len(trader.symbols) > 1 and isolated:
            exchange.allot_isolated_margin(trader.account)
    return out


def _clock_symbol(agent: Trader, watchers_on_leader: bool = False) -> int:
    """The symbol whose operational time an agent's clock runs in: its own, the leader for several.

    With ``watchers_on_leader`` (``activity.watchers_on_leader_clock``) a BTC watcher (``watch_btc``, the
    ``btc_watchers`` channel) runs in the leader's time whatever it trades: it reads BTC's moves for its
    decisions, so it comes to the screen when BTC moves. An agent whose class sets ``clock_on_leader``
    (a relative-value desk) always runs in the leader's time.
    """
    if getattr(agent, "clock_on_leader", False) or (
        watchers_on_leader and getattr(agent, "watch_btc", False)
    ):
        return 0
    symbol = getattr(agent, "symbol", None)
    if symbol is not None:
        return int(symbol)
    symbols = getattr(agent, "symbols", [0])
    return int(symbols[0]) if len(symbols) == 1 else 0


# --------------------------------------------------------------------------- the model


class CryptoMarket(mesa.Model):
    """A perpetual-futures market with leveraged traders, whales, makers and a liquidation engine.

    Args:
        params: the market parameters (defaults: BTC, ETH, SOL on a Binance-like venue).
        seed: seed of the model's numpy Generator (all randomness comes from it).
        dt_seconds: simulated seconds per step.
        sample_seconds: interval of the recorded time series.

    Attributes:
        phases: the step, as ``(name, method)`` pairs run in order (names in :data:`PHASE_NAMES`).
        exchange: the venue.
        engine: the liquidation engine (a Mesa agent).
        view: the per-step market view the agents read.
        recorder: the sampled time series and event tables.
        makers: the market makers (an ``AgentSet``).
        holders: the large holders, in index order (``WhaleSale.holder`` indexes it).
        basis_desk: the hedged account that holds the other side of the starting open interest.
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
        p = self.params
        self.exchange = Exchange(p.symbols, p.venue)
        self.n_symbols = self.exchange.n_symbols
        self.engine = LiquidationEngine(self, self.exchange)
        self.macro = MacroFactor(p.macro, self.rng)
        self.index_driver = IndexDriver(
            p.symbols, p.macro, p.contagion.index_coupling, self.rng, path=p.index_path
        )
        self.fear_greed = FearGreedIndex(p.sentiment)
        # the calm reference of each index: with the spot coupling, a coupled alt's includes the leader's news
        calm = self.index_driver.calm_vol_per_s.tolist() if p.view.calm_vol_with_coupling else None
        self.view = MarketView(self.exchange, p.symbols, self.dt_seconds, p.view, calm_vol_1s=calm)
        self.shocks_applied: list[str] = []
        self._maker_every = max(1, round(p.market_makers.quote_interval_seconds / self.dt_seconds))
        self._step_index = 0
        self._build_population()
        n = len(self._clocked)
        self._rates = np.array([a.rate_per_s for a in self._clocked], dtype=np.float64)
        self._next_fire = self.rng.exponential(1.0, n) / np.maximum(self._rates, 1e-12)
        # attention (params.activity): each clock runs in the operational time of the symbol it trades
        on_leader = p.activity.watchers_on_leader_clock
        # attention horizons (activity.horizon_halflives_seconds): clock i reads class i mod K; the clocks'
        # operational times and attention variances are laid out class-major, key = class x S + symbol, so
        # that with one class (the default) key = symbol
        halflives_s = p.activity.horizon_halflives_seconds or [
            p.activity.vol_halflife_seconds or p.view.vol_halflife_seconds
        ]
        n_classes = len(halflives_s)
        self._attention_classes = n_classes
        horizon_class = np.arange(n, dtype=np.intp) % n_classes
        self._clock_symbol = np.array([_clock_symbol(a, on_leader) for a in self._clocked], dtype=np.intp)
        self._clock_key = horizon_class * self.n_symbols + self._clock_symbol
        self._op_time = np.zeros(self.n_symbols * n_classes)
        lev_ref = p.activity.leverage_reference
        self._attention_weight: np.ndarray | None = (
            None
            if lev_ref is None
            else np.minimum(1.0, np.array([float(a.leverage) for a in self._clocked]) / lev_ref)
        )
        self._agent_op_time = np.zeros(n if lev_ref is not None else 0)
        self._activity_on = p.activity.vol_elasticity > 0
        self._attention_every = max(1, round(p.activity.vol_window_seconds / self.dt_seconds))
        # per second, one row of symbols per class
        self._attention_var = np.tile([v * v for v in self.view.base_vol_1s], n_classes)
        window_s = self._attention_every * self.dt_seconds
        self._attention_alpha = np.repeat([1.0 - 0.5 ** (window_s / h) for h in halflives_s], self.n_symbols)
        # activity.vol_reference_halflife_seconds: the slow average of the attention variance that the
        # multiples compare with (None: the index's calm variance)
        ref_halflife_s = p.activity.vol_reference_halflife_seconds
        self._attention_ref_var: np.ndarray | None = (
            None if ref_halflife_s is None else self._attention_var.copy()
        )
        self._attention_ref_alpha = (
            0.0 if ref_halflife_s is None else 1.0 - 0.5 ** (self.dt_seconds / ref_halflife_s)
        )
        self._liq_window: list[float] = []
        self._oi_cache: list[float] = []
        self._leader_index_return = 0.0
        self.phases: tuple[tuple[str, Phase], ...] = (
            ("drivers", self.phase_drivers),
            ("observe", self.phase_observe),
            ("agents", self.phase_agents),
            ("exchange", self.phase_exchange),
            ("liquidation", self.phase_liquidation),
            ("sentiment", self.phase_sentiment),
            ("record", self.phase_record),
        )
        self.recorder = Recorder(self, sample_seconds)
        self.recorder.record()

    # ------------------------------------------------------------------ building

    def _build_population(self) -> None:
        """Open every account and seed the starting open interest, in a fixed order.

        Accounts: the basis desk, makers, fundamental, noise and value traders, large holders, leveraged
        traders. Draws of the generator: the leveraged population's arrays, then one per seeded position
        (trader by trader). The desk's collateral is the running sum of what it took on, in that order.
        """
        p = self.params
        ex = self.exchange
        view = self.view
        # a hedged basis desk: the counterparty of the open interest the market starts with
        self.basis_desk = ex.open_account(0.0, leverage=1.0)
        betas = [sym.btc_beta for sym in p.symbols] if p.contagion.maker_leader_pricing else None
        self.makers = build_makers(
            self, ex, view, p.market_makers, p.contagion.shared_mm_budget, betas, p.contagion.index_coupling
        )
        background = build_background(self, ex, view, p.background, betas, p.contagion.index_coupling)
        leader_spacing = p.leveraged.support_spacing_usd.get(ex.names[0], 0.0)
        self.holders, holder_notionals = build_holders(
            self, ex, view, p.large_holders, leader_spacing, self.basis_desk
        )
        caps = [ex.max_leverage(s, 0.0) for s in range(self.n_symbols)]
        draws = draw_leveraged(self.rng, p.leveraged, p.contagion, caps)
        self.leveraged = build_leveraged(self, ex, view, p.leveraged, draws, p.contagion.sentiment)
        sub_accounts = not p.contagion.cross_margin and p.contagion.cross_margin_off == "sub_accounts"
        seeded_notionals = seed_leveraged(
            self.leveraged, draws, ex, p.leveraged, self.basis_desk, sub_accounts=sub_accounts
        )
        self.relative_value = build_relative_value(self, ex, view, p)
        self._clocked: list[Trader] = [*background, *self.leveraged, *self.relative_value]
        desk_notional = 0.0
        for notional in (*holder_notionals, *seeded_notionals):  # a running sum: the order fixes the bits
            desk_notional += notional
        ex.deposit(self.basis_desk, desk_notional + 1.0)  # fully collateralised: it is hedged in spot
        self.makers.do("step")  # the books open with quotes

    # ------------------------------------------------------------------ the step

    @property
    def time_s(self) -> float:
        """Simulated seconds since the start."""
        return self.exchange.time_s

    @property
    def reentries(self) -> int:
        """Times a leveraged trader came back with new money."""
        return sum(t.reentries for t in self.leveraged)

    def step(self) -> None:
        """Advance ``dt_seconds``: run every phase of :attr:`phases` in order."""
        for _name, phase in self.phases:
            phase()
        self._step_index += 1

    def replace_phase(self, name: str, phase: Phase) -> Phase:
        """Put ``phase`` in the place of the phase called ``name``; return the one it replaces.

        The returned method can be called from the new one (to time or wrap it).

        Raises:
            KeyError: no phase has that name.
        """
        names = [n for n, _ in self.phases]
        if name not in names:
            raise KeyError(f"no phase {name!r} (have {names})")
        old = dict(self.phases)[name]
        self.phases = tuple((n, phase if n == name else f) for n, f in self.phases)
        return old

    def run_for(self, seconds: float) -> None:
        """Step until ``seconds`` more simulated time has passed."""
        for _ in range(round(seconds / self.dt_seconds)):
            self.step()

    def phase_drivers(self) -> None:
        """Drivers: scripted shocks due in ``[t, t + dt)``, the macro factor, the index paths.

        Reads the clock and ``params.shocks``; draws the macro and index shocks from the model's
        generator. Writes the macro factor, the index driver and the exchange's index
        (``Exchange.move_index``). A scripted shock acts through its agents at once, so this phase can
        trade: a block whale sale sends the holder's market order into the book here, before any agent
        acts (a TWAP sale only starts the holder's programme: its slices trade in ``agents``), and a
        maker withdrawal cancels the makers' quotes here.
        """
        dt = self.dt_seconds
        ex = self.exchange
        t0 = ex.time_s
        for shock in due_shocks(self.params.shocks, t0, t0 + dt):
            self._apply_shock(shock)
        macro = self.macro.step(dt)
        returns = self.index_driver.returns(dt, macro, self._leader_index_return)
        before = ex.index_ticks[0]
        ex.move_index(dt, returns)
        self._leader_index_return = math.log(ex.index_ticks[0] / before)

    def phase_observe(self) -> None:
        """Observe: refresh the agents' view from the books, the index, sentiment and the macro factor.

        Reads the exchange's books and prices, the fear-and-greed value of the last step (50 when the
        sentiment channel is off) and the macro factor. Writes only the view.
        """
        sentiment = self.fear_greed.value if self.params.contagion.sentiment else 50.0
        self.view.refresh(self.exchange.time_s, sentiment, self.macro.value)

    def phase_agents(self) -> None:
        """Agents act: sparse Poisson activation in a shuffled order, then makers and large holders.

        With ``market_makers.requote_first`` the makers requote before the traders act.

        Reads the activation clocks; draws the next firing times and the order from the model's
        generator (the makers' shuffle uses ``model.random``). The agents read the view and their
        accounts and write only through ``Exchange`` methods (orders, cancels, deposits).
        """
        now = self.exchange.time_s + self.dt_seconds
        if self._activity_on:
            if self._step_index % self._attention_every == 0 and self._step_index:
                window_s = self._attention_every * self.dt_seconds
                r = np.array([self.view.ret(s, window_s) for s in range(self.n_symbols)])
                r2 = np.tile(r * r / window_s, self._attention_classes)
                self._attention_var += self._attention_alpha * (r2 - self._attention_var)
            if self._attention_ref_var is not None:
                self._attention_ref_var += self._attention_ref_alpha * (
                    self._attention_var - self._attention_ref_var
                )
            multiples = self.activity_multiples()
            self._op_time += self.dt_seconds * multiples
            if self._attention_weight is None:
                clock = self._op_time[self._clock_key]
            else:
                # activity.leverage_reference: each clock runs in its own operational time, its excess
                # multiple weighted by its trader's leverage
                m = multiples[self._clock_key]
                self._agent_op_time += self.dt_seconds * (1.0 + self._attention_weight * (m - 1.0))
                clock = self._agent_op_time
            fired = np.flatnonzero(self._next_fire <= clock)
            if len(fired):
                self._next_fire[fired] = (
                    clock[fired] + self.rng.exponential(1.0, len(fired)) / self._rates[fired]
                )
        else:
            fired = np.flatnonzero(self._next_fire <= now)
            if len(fired):
                self._next_fire[fired] = now + self.rng.exponential(1.0, len(fired)) / self._rates[fired]
        makers_due = self._step_index % self._maker_every == 0
        requote_first = self.params.market_makers.requote_first
        if makers_due and requote_first:
            self.makers.shuffle_do("step")
            self.view.refresh_mids()  # the traders see the quotes the makers just posted
        if len(fired):
            clocked = self._clocked
            for i in self.rng.permutation(fired).tolist():
                clocked[i].step()
        if makers_due and not requote_first:
            self.makers.shuffle_do("step")
        for holder in self.holders:
            holder.step()

    def activity_multiples(self) -> np.ndarray:
        """The rate multiple of each symbol's traders' clocks this step (see :class:`ActivityParams`).

        ``clip((vol / base_vol_1s) ** vol_elasticity, min_multiple, max_multiple)`` with ``vol`` the
        attention volatility (:attr:`attention_vol_1s`); 1 for a symbol whose index has no base volatility.
        With ``activity.vol_reference_halflife_seconds`` the slow average of the attention variance takes
        the place of ``base_vol_1s`` squared.

        Returns:
            One multiple per attention class and symbol, class-major (``class x n_symbols + symbol``):
            with one horizon class (the default) simply one per symbol.
        """
        ap = self.params.activity
        base_vol = self.view.base_vol_1s
        vol = self.attention_vol_1s
        ref_var = self._attention_ref_var
        out = np.ones(len(vol))
        for key in range(len(vol)):
            base = base_vol[key % self.n_symbols]
            if base > 0:
                if ref_var is not None and ref_var[key] > 0:
                    base = math.sqrt(float(ref_var[key]))
                out[key] = min(
                    max((float(vol[key]) / base) ** ap.vol_elasticity, ap.min_multiple), ap.max_multiple
                )
        return out

    @property
    def attention_vol_1s(self) -> np.ndarray:
        """Realised volatility per sqrt(second) that attention reads: of the mid's returns over
        ``activity.vol_window_seconds``, exponentially weighted at each horizon class's half-life (it starts
        at the index's calm volatility); class-major like :meth:`activity_multiples`."""
        return np.sqrt(self._attention_var)

    def phase_exchange(self) -> None:
        """Exchange: stop orders fire on the last trade, the clock advances, marks update, funding settles.

        Writes the books (triggered stops trade), the index (basis arbitrage after trading, when
        ``venue.index_arbitrage_after_trading``), the clock, marks, funding rates and, at a settlement,
        the accounts' balances.
        """
        self.exchange.trigger_stops(self.params.venue.stop_rounds_per_step)
        if self.params.venue.index_arbitrage_after_trading:
            before = self.exchange.index_ticks[0]
            self.exchange.pull_index(self.dt_seconds)
            # the pull is part of the leader's index move that the alts' index coupling reads next step
            self._leader_index_return += math.log(self.exchange.index_ticks[0] / before)
        self.exchange.update_marks(self.dt_seconds)

    def phase_liquidation(self) -> None:
        """Liquidation: the engine's check at the marks and its waterfall (orders, takeover, ADL).

        Writes accounts, the books, the insurance fund and the engine's event lists.
        """
        self.engine.step()

    def phase_sentiment(self) -> None:
        """Sentiment: the fear-and-greed index reads this step's market (agents see it next step).

        Reads the leader's return over ``sentiment.return_window_seconds``, its volatility, funding
        and price (view and exchange), the engine's cumulative liquidations (over
        ``sentiment.liquidation_window_seconds``) and the open interest (re-summed every
        ``sentiment.oi_refresh_seconds``). Writes the index and its input windows.
        """
        sp = self.params.sentiment
        eng = self.engine
        liq = sum(eng.liquidated_long_micro) + sum(eng.liquidated_short_micro)
        self._liq_window.append(liq)
        horizon = max(1, int(sp.liquidation_window_seconds / self.dt_seconds))
        if len(self._liq_window) > horizon:
            del self._liq_window[0 : len(self._liq_window) - horizon]
        liq_recent = (liq - self._liq_window[0]) / MICRO
        steps_done = self._step_index + 1  # this step included
        if steps_done % max(1, int(sp.oi_refresh_seconds / self.dt_seconds)) == 0 or not self._oi_cache:
            self._oi_cache = self.open_interest_usd()  # OI moves slowly; the sum is O(accounts)
        oi_usd = self._oi_cache
        hours = max(len(self._liq_window) - 1, 1) * self.dt_seconds / 3600.0
        share = liq_recent / hours / max(sum(oi_usd), 1.0)
        view = self.view
        self.fear_greed.update(
            self.dt_seconds,
            view.ret(0, sp.return_window_seconds),
            view.vol_1s[0],
            share,
            self.exchange.funding_rate[0],
            view.base_vol_1s[0],
            math.log(max(view.mid_ticks[0], 1e-9)) if sp.weight_trend else None,
        )

    def phase_record(self) -> None:
        """Record: sample the time series when a sampling time is reached (reads only)."""
        self.recorder.maybe_record()

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

    # ------------------------------------------------------------------ state and recording

    def open_interest_usd(self) -> list[float]:
        """Open interest per symbol (long lots x mark), USD."""
        ex = self.exchange
        lots = ex.open_interest_lots()
        return [
            int(lots[s]) * float(ex.mark_ticks[s]) * ex.tick_value_micro[s] / MICRO
            for s in range(self.n_symbols)
        ]

    @property
    def sample_seconds(self) -> float:
        """Interval of the recorded time series, simulated seconds."""
        return self.recorder.sample_seconds

    @property
    def datacollector(self) -> mesa.DataCollector:
        """The Mesa ``DataCollector`` of the sampled series (the recorder's)."""
        return self.recorder.datacollector

    def timeseries_frame(self) -> pd.DataFrame:
        """The sampled series in long format: one row per (time_s, symbol) (see :class:`Recorder`)."""
        return self.recorder.timeseries_frame()

    def liquidations_frame(self) -> pd.DataFrame:
        """Every liquidation, partial liquidation, takeover and ADL close, one row each."""
        return self.recorder.liquidations_frame()

    def adl_frame(self) -> pd.DataFrame:
        """Every auto-deleveraging fill, one row each (account = the deleveraged counterparty)."""
        return self.recorder.adl_frame()

    def summary_extras(self) -> dict[str, Any]:
        """Run-level figures the metrics cannot derive from the frames (see :class:`Recorder`)."""
        return self.recorder.summary_extras()


__all__ = [
    "PHASE_NAMES",
    "TIMESERIES_COLUMNS",
    "CryptoMarket",
    "LeveragedDraws",
    "Phase",
    "build_background",
    "build_holders",
    "build_leveraged",
    "build_makers",
    "draw_leveraged",
    "seed_leveraged",
]
