"""The typed parameter schema of the market, with defaults, units and validation.

Every rate is per simulated second, hour or day as its name says; the model scales it by ``dt``.
Money is in US dollars here (``*_usd``) and turned into integer micro-dollars by the exchange; prices
are dollars per coin; fractions are plain fractions (0.01 = 1%) and basis points say ``_bps``.

All models forbid unknown keys (``extra="forbid"``) so that a typo in a config fails with the key's path
before anything runs. Venue numbers left unset (None) are filled from the chosen venue preset (see
``model.venues``) by :meth:`VenueParams.resolved`, so every preset number can be overridden alone.

Each market rule is checked once, here, by the model that owns it (tiers by :func:`validate_tiers`, a
symbol's leverage cap by :meth:`SymbolParams.max_leverage_on`, cross-section rules by
:class:`MarketParams`), so a market built in a notebook is checked exactly like an experiment config.
The behaviour constants of the agents, the view and the sentiment inputs are fields too (defaults are
the values the model was built with), so a calibration can fit them.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from model.venues import PRESETS

DEFAULTS_VERSION = 1
"""Version of the model's defaults (every default of this schema and of the venue presets).

Raise it in the same commit as any change of a default value: run directories and studies record it
(``provenance.json``) and a study's run ids hash it, so results made under other defaults are never mixed
with new ones, and an old result says which defaults it needs to be re-run.
"""

MAX_USD = 1e12
"""Largest amount of money any field takes (capitals, sizes, notionals, funds): a trillion USD."""
MAX_PRICE_USD = 1e8
"""Largest price of a coin (and tick or support spacing): $100M."""
MAX_SECONDS = 366 * 86_400
"""Largest duration or window in seconds: a leap year."""
MAX_HOURS = 366 * 24
"""Largest duration or time in hours: a leap year."""
MAX_PER_HOUR = 36_000
"""Largest activation or order rate per agent: ten per second."""
MAX_LEVERAGE = 1000
"""Largest leverage anywhere, x."""
MAX_BPS = 10_000
"""Largest spread or distance in basis points (100%)."""
MAX_COUNT = 1_000_000
"""Largest population or slice count."""
MAX_FACTOR = 1e6
"""Largest plain positive number without a tighter bound (multipliers, points, weights)."""

PositiveFloat = Annotated[float, Field(gt=0, le=MAX_FACTOR)]
Fraction = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0, le=MAX_FACTOR)]
Usd = Annotated[float, Field(gt=0, le=MAX_USD)]
Price = Annotated[float, Field(gt=0, le=MAX_PRICE_USD)]
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS)]
Hours = Annotated[float, Field(gt=0, le=MAX_HOURS)]
Minutes = Annotated[float, Field(gt=0, le=MAX_HOURS * 60)]
PerHour = Annotated[float, Field(gt=0, le=MAX_PER_HOUR)]
Leverage = Annotated[float, Field(gt=0, le=MAX_LEVERAGE)]
Bps = Annotated[float, Field(gt=0, le=MAX_BPS)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
PositiveCount = Annotated[int, Field(ge=1, le=MAX_COUNT)]
Weight = Annotated[float, Field(ge=-1000, le=1000)]
AtHour = Annotated[float, Field(ge=0, le=MAX_HOURS)]
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$"
"""What a symbol name may be: a letter or digit, then up to 19 letters, digits, '_' or '-' (safe in file
names); names are unique regardless of case."""


class StrictModel(BaseModel):
    """Base for every parameter block: unknown keys fail, assignments are validated too.

    Numbers are strict (a boolean is not a number, a float is not an int; an int is accepted where a float
    is expected) and finite (NaN and infinities are refused); every quantity has an upper bound (the
    ``MAX_*`` constants above) that a real market never reaches but that keeps the arithmetic finite.
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, frozen=False, allow_inf_nan=False, strict=True
    )

    @model_validator(mode="before")
    @classmethod
    def _numpy_scalars(cls, data: object) -> object:
        # numpy numbers from a notebook are numbers (strict mode would refuse np.int64); np.bool_ stays
        # what it is, so it is refused where a number is expected, like a bool
        if isinstance(data, dict) and any(isinstance(v, np.integer | np.floating) for v in data.values()):
            return {
                k: int(v) if isinstance(v, np.integer) else float(v) if isinstance(v, np.floating) else v
                for k, v in data.items()
            }
        return data


# --------------------------------------------------------------------------- symbols and venue


class TierParams(StrictModel):
    """One margin bracket: positions with notional up to ``max_notional_usd`` use these rates."""

    max_notional_usd: Usd = Field(description="upper bound of the bracket's notional, USD")
    mmr: Annotated[float, Field(gt=0, lt=1)] = Field(description="maintenance margin rate (fraction)")
    imr: Annotated[float, Field(gt=0, le=1)] = Field(description="initial margin rate = 1 / max leverage")

    @model_validator(mode="after")
    def _mmr_below_imr(self) -> TierParams:
        if self.mmr >= self.imr:
            raise ValueError(f"mmr ({self.mmr}) must be below imr ({self.imr})")
        return self


def validate_tiers(tiers: list[TierParams]) -> list[TierParams]:
    """Brackets must have increasing bounds and non-decreasing rates (a continuous schedule)."""
    for lo, hi in pairwise(tiers):
        if hi.max_notional_usd <= lo.max_notional_usd:
            raise ValueError("tier bounds (max_notional_usd) must increase")
        if hi.mmr < lo.mmr or hi.imr < lo.imr:
            raise ValueError("tier rates (mmr, imr) must not decrease with notional")
    return tiers


class SymbolParams(StrictModel):
    """One perpetual contract quoted in USD."""

    name: str = Field(
        pattern=SYMBOL_PATTERN,
        description="symbol, e.g. BTC; the first symbol is the market leader (1-20 letters, digits, _ or -, "
        "starting with a letter or digit; unique regardless of case)",
    )
    price_usd: Price = Field(description="initial index price, USD per coin")
    tick_size_usd: Price = Field(description="price grid step, USD")
    lot_size: Annotated[float, Field(gt=0, le=1e6)] = Field(description="quantity grid step, coins per lot")
    index_vol_per_day: Annotated[float, Field(ge=0, le=10)] = Field(
        0.02, description="volatility of the exogenous index path per sqrt(day) (fraction)"
    )
    btc_beta: Annotated[float, Field(ge=0, le=10)] = Field(
        0.0, description="loading of this index's returns on the leader's index returns (index coupling)"
    )
    max_leverage: Leverage | None = Field(
        None, description="venue cap on leverage for this symbol; None: the venue preset's value"
    )
    tiers: list[TierParams] | None = Field(None, description="margin brackets; None: the venue preset's")
    spot_impact_per_musd: Annotated[float, Field(ge=0, le=1)] = Field(
        0.001, description="index log-move per $1M of net spot flow from arbitrage hedges (spot depth)"
    )
    spot_resilience_hours: Hours = Field(
        2.0, description="half-life of the index's endogenous moves (arbitrage pull, spot impact), hours"
    )
    liquidity_scale: Annotated[float, Field(gt=0, le=1000)] = Field(
        1.0, description="multiplies market-maker and background order sizes on this book (thin alts < 1)"
    )

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, tiers: list[TierParams] | None) -> list[TierParams] | None:
        return validate_tiers(tiers) if tiers else tiers

    @model_validator(mode="after")
    def _exact_money(self) -> SymbolParams:
        micro = Decimal(str(self.tick_size_usd)) * Decimal(str(self.lot_size)) * Decimal(1_000_000)
        if micro != micro.to_integral_value():
            raise ValueError(
                f"tick_size_usd x lot_size x 1e6 must be an integer number of micro-dollars "
                f"(got {self.tick_size_usd} x {self.lot_size} x 1e6 = {micro}); PnL would not be exact"
            )
        if Decimal(str(self.price_usd)) < Decimal(str(self.tick_size_usd)) * 100:
            raise ValueError("price_usd must be at least 100 ticks")
        return self

    @property
    def tick_value_micro(self) -> int:
        """Micro-dollars that one lot gains or loses per tick: tick_size x lot_size x 1e6 (exact)."""
        return int(Decimal(str(self.tick_size_usd)) * Decimal(str(self.lot_size)) * 1_000_000)

    def tiers_on(self, venue: VenueParams) -> list[TierParams] | None:
        """The margin brackets of this symbol on ``venue``: its own, else the (resolved) venue's."""
        resolved = venue.resolved_view()
        own = (resolved.symbol_tiers or {}).get(self.name)
        return self.tiers or own or resolved.tiers

    def max_leverage_on(self, venue: VenueParams) -> float:
        """The highest leverage allowed on this symbol at ``venue`` for the smallest position.

        The symbol's ``max_leverage`` if set, else the resolved venue's (every preset defines one),
        and never above the first margin bracket's ``1 / imr``.

        Args:
            venue: the venue (resolved here if it is not).

        Returns:
            The cap, x (> 0).
        """
        resolved = venue.resolved_view()
        cap = self.max_leverage if self.max_leverage is not None else resolved.max_leverage
        if cap is None:  # unreachable with the shipped presets; a preset without one is a bug
            raise ValueError(
                f"{self.name}: neither the symbol nor venue preset {venue.preset!r} sets max_leverage"
            )
        tiers = self.tiers_on(resolved)
        if tiers:
            cap = min(cap, 1 / tiers[0].imr)
        return cap


class VenueParams(StrictModel):
    """The exchange's rules. Unset numbers come from ``preset`` (see ``model.venues.PRESETS``)."""

    preset: Literal["binance_like", "hyperliquid_like", "bybit_like"] = Field(
        "binance_like", description="venue preset that fills every unset number below"
    )
    maker_fee: float | None = Field(None, ge=-0.001, le=0.01, description="maker fee, fraction of notional")
    taker_fee: float | None = Field(None, ge=0, le=0.01, description="taker fee, fraction of notional")
    liquidation_fee: float | None = Field(
        None,
        ge=0,
        le=0.05,
        description="clearance fee to the insurance fund, fraction of liquidated notional",
    )
    funding_interval_hours: float | None = Field(None, gt=0, le=24, description="funding settlement period")
    funding_interest_per_interval: float | None = Field(
        None, ge=-0.1, le=0.1, description="interest rate I per interval"
    )
    funding_clamp: float | None = Field(
        None, ge=0, le=1, description="clamp on I - P per interval (fraction)"
    )
    funding_cap: float | None = Field(None, gt=0, le=1, description="cap on |funding rate| per interval")
    mark_basis_window_seconds: float | None = Field(
        None, gt=0, le=MAX_SECONDS, description="moving-average window of basis"
    )
    maintenance_rule: Literal["tiers", "half_initial"] | None = Field(
        None, description="tiers: bracket MMR minus maintenance amount; half_initial: Hyperliquid's rule"
    )
    max_leverage: float | None = Field(
        None, gt=0, le=MAX_LEVERAGE, description="default max leverage of a symbol"
    )
    tiers: list[TierParams] | None = Field(None, description="default margin brackets for every symbol")
    symbol_tiers: dict[str, list[TierParams]] | None = Field(
        None,
        description="the venue's own margin table per symbol name (a symbol's tiers override it; under "
        "half_initial each tier's maintenance rate is half its initial rate)",
    )
    maintenance_price: Literal["mark", "entry"] | None = Field(
        None, description="price the maintenance margin is measured at: the mark, or the entry (Bybit)"
    )
    premium_source: Literal["mid", "impact"] | None = Field(
        None,
        description="funding premium from the mid, or from the impact bid/ask (the average fill of an "
        "impact notional on each side: Binance, Hyperliquid)",
    )
    impact_margin_usd: float | None = Field(
        None,
        gt=0,
        le=1e9,
        description="Binance's impact margin: the impact notional is this x the symbol's max leverage (USD)",
    )
    impact_notional_usd: dict[str, Annotated[float, Field(gt=0, le=1e12)]] | None = Field(
        None,
        description="impact notional per symbol name, USD, with '*' for the others (Hyperliquid); used "
        "when impact_margin_usd is unset",
    )
    funding_price: Literal["mark", "oracle"] | None = Field(
        None, description="price funding payments are computed at: the mark, or the oracle (Hyperliquid)"
    )
    disposal: Literal["bankruptcy_ioc", "market_slices", "time_spread", "tier_step_down"] | None = Field(
        None,
        description="how a failing position reaches the book: one IOC at the bankruptcy price; slices with a "
        "cooldown; spread over time and capped at a share of depth; stepped down through the margin tiers",
    )
    partial_liquidation_whole_in_cooldown: bool | None = Field(
        None,
        description="market_slices: during the cooldown a liquidatable account goes whole (Hyperliquid), "
        "else it waits",
    )
    disposal_interval_seconds: float | None = Field(
        None, gt=0, le=86_400, description="time_spread: seconds between the backstop's disposal slices"
    )
    disposal_fraction: float | None = Field(
        None, gt=0, le=1, description="time_spread: share of the backstop's inventory per slice"
    )
    disposal_max_book_share: float | None = Field(
        None, gt=0, le=1, description="time_spread: largest share of the visible depth one order consumes"
    )
    backstop: Literal["insurance_fund", "liquidity_vault"] | None = Field(
        None,
        description="who takes over what the book does not absorb: the insurance fund (at once), or a "
        "liquidity vault taking the whole account below 2/3 of maintenance",
    )
    adl_policy: Literal["ranked_queue", "hyperliquid", "pro_rata", "none"] | None = Field(
        None,
        description="ADL when the backstop cannot bear a loss: Binance's ranked queue; Hyperliquid's queue "
        "at the previous oracle; pro-rata over profitable opposite positions; none (bad debt)",
    )
    partial_liquidation_notional_usd: float | None = Field(
        None,
        gt=0,
        le=MAX_USD,
        description="positions above this notional are liquidated in slices (None: never)",
    )
    partial_liquidation_fraction: float | None = Field(None, gt=0, le=1, description="slice of a position")
    partial_liquidation_cooldown_seconds: float | None = Field(
        None, ge=0, le=MAX_SECONDS, description="wait between slices"
    )
    insurance_fund_usd: float | None = Field(
        None, ge=0, le=MAX_USD, description="initial insurance fund, USD"
    )
    price_band: float | None = Field(
        None,
        gt=0,
        le=1,
        description="orders may trade at most this fraction away from the mark (price protection)",
    )
    adl_enabled: bool = Field(
        True, description="auto-deleverage when the fund cannot absorb a loss; False: adl_policy none"
    )
    fund_unwind_fraction_per_second: float = Field(
        0.002, gt=0, le=1, description="share of the fund's inventory it tries to sell back per second"
    )
    index_arbitrage_per_second: float = Field(
        0.002, ge=0, le=1, description="pull of the index toward the perp mid per second (basis arbitrage)"
    )
    index_arbitrage_after_trading: bool = Field(
        False,
        description="apply the basis-arbitrage pull at the end of the step, toward the mid the step's "
        "trading left, instead of with the index's news toward the mid before anyone has seen that news; "
        "False: the pull reads a perp that has had no time to follow the news and pulls back k x dt of it, "
        "which at dt = 10 s and k = 0.02 is a fifth of every step's news",
    )
    self_trade: Literal["allow", "cancel_taker"] = Field(
        "cancel_taker", description="allow self-trades, or expire the incoming order's rest (prevention)"
    )
    stop_rounds_per_step: Annotated[int, Field(ge=1, le=50)] = Field(
        50,
        description="rounds of stop triggering in one step (each round's fills can reach more stops); the "
        "makers requote between steps, so with few rounds the book refills between the waves of a stop "
        "cascade as it does on a venue whose makers are faster than its stops' wave; 50: a cascade runs "
        "through the resting book within the step",
    )

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, tiers: list[TierParams] | None) -> list[TierParams] | None:
        return validate_tiers(tiers) if tiers else tiers

    @field_validator("symbol_tiers")
    @classmethod
    def _symbol_tiers(cls, tables: dict[str, list[TierParams]] | None) -> dict[str, list[TierParams]] | None:
        for tiers in (tables or {}).values():
            validate_tiers(tiers)
        return tables

    def is_resolved(self) -> bool:
        """Whether every number the preset defines is set here (nothing left to fill in)."""
        return all(getattr(self, k) is not None for k, v in PRESETS[self.preset].items() if v is not None)

    def resolved_view(self) -> VenueParams:
        """This venue if it is resolved already, else :meth:`resolved` (for reading, not for keeping)."""
        return self if self.is_resolved() else self.resolved()

    def resolved(self) -> VenueParams:
        """A copy with every unset number taken from the preset (validated)."""
        data = self.model_dump()
        for key, value in PRESETS[self.preset].items():
            if data.get(key) is None:
                data[key] = value
        return VenueParams.model_validate(data)


# --------------------------------------------------------------------------- agents


class LogNormalParams(StrictModel):
    """A log-normal distribution given by its median and the sigma of its log."""

    median: Usd
    sigma: Annotated[float, Field(ge=0, le=5)] = 1.0


class LeveragedTraderParams(StrictModel):
    """Leveraged speculators (thousands). Heterogeneity is drawn once from these distributions."""

    count: Annotated[int, Field(ge=0, le=1_000_000)] = 3000
    decisions_per_hour: PerHour = Field(4.0, description="mean Poisson activation rate per trader")
    capital_usd: LogNormalParams = LogNormalParams(median=5_000, sigma=1.2)
    leverage_choices: list[Leverage] = Field(
        [2, 3, 5, 10, 20, 25, 50, 75, 100], description="leverages a trader may pick"
    )
    leverage_weights: list[NonNegative] = Field(
        [0.10, 0.10, 0.20, 0.25, 0.15, 0.08, 0.07, 0.03, 0.02], description="probabilities of the choices"
    )
    alt_leverage_weights: list[NonNegative] | None = Field(
        None,
        description="probabilities of leverage_choices for traders of one alt (with "
        "contagion.asset_leverage): alt traders take more leverage than BTC traders (the seed articles, "
        "Oct-10); None: the same mix for every asset",
    )
    alt_long_tilt: Annotated[float, Field(ge=-1, le=1)] = Field(
        0.0,
        description="added to the probability that a seeded trend or noise trader of one alt starts long "
        "(with contagion.asset_leverage): crowded alt longs; 0: the same balance as the leader",
    )
    leverage_cap: Leverage = Field(125, description="ablation knob: no trader uses more than this")
    position_fraction: Annotated[float, Field(gt=0, le=1)] = Field(
        0.5, description="share of equity used as margin for one entry"
    )
    cross_margin_share: Fraction = Field(0.7, description="share of traders with cross-margin accounts")
    multi_symbol_share: Fraction = Field(
        0.3, description="share of traders that trade the leader and the alts from one account"
    )
    symbol_weights: list[NonNegative] | None = Field(
        None, description="how single-symbol traders spread over symbols; None: 0.5 leader, rest even"
    )
    strategy_mix: dict[Literal["trend", "dip_buyer", "short_bounce", "noise"], NonNegative] = Field(
        {"trend": 0.25, "dip_buyer": 0.25, "short_bounce": 0.1, "noise": 0.4},
        description="share of each strategy (normalised)",
    )
    long_bias: Annotated[float, Field(ge=-1, le=1)] = Field(
        0.1, description="tilt of noise entries toward longs (+1 all long, -1 all short)"
    )
    macro_sensitivity: NonNegative = Field(
        1.0,
        description="scales how the macro factor tilts entries: per unit, noise entries' long/short tilt "
        "moves by macro_bias_tilt x this and the appetite for longs by macro_appetite_tilt x this",
    )
    macro_bias_tilt: Weight = Field(
        0.3, description="long/short tilt of noise entries per unit of the macro factor (x macro_sensitivity)"
    )
    macro_appetite_tilt: Weight = Field(
        0.5,
        description="change of the probability of accepting a long entry per unit of the macro factor "
        "(x macro_sensitivity; risk-off < 0 lowers it)",
    )
    sentiment_bias_points: PositiveFloat = Field(
        200.0,
        description="sentiment points away from neutral (50) per unit of long/short tilt of noise entries "
        "(sentiment channel)",
    )
    fear_appetite: Weight = Field(
        0.6,
        description="multiplier of the long-entry appetite at sentiment 0 (extreme fear); it rises by "
        "greed_appetite_per_100 per 100 sentiment points (1.0 at neutral with the defaults)",
    )
    greed_appetite_per_100: float = Field(
        0.8, description="rise of the long-entry appetite multiplier per 100 sentiment points"
    )
    capitulation_sentiment: Annotated[float, Field(ge=0, le=100)] = Field(
        15.0, description="below this sentiment a trader holding a losing long may cut it (capitulation)"
    )
    capitulation_ramp_points: PositiveFloat = Field(
        30.0,
        description="probability of capitulating per decision = (capitulation_sentiment - sentiment) / "
        "this (0.5 at sentiment 0 with the defaults)",
    )
    reentry_below_capital: Fraction = Field(
        0.1,
        description="a flat trader whose equity is below this share of its starting capital is out of "
        "money: it only waits to re-enter (reentry_per_day)",
    )
    dip_band: Annotated[float, Field(ge=0, le=1)] = Field(
        0.005, description="dip buyers buy only within this fraction above a support level"
    )
    bounce_drop: Annotated[float, Field(ge=0, le=1)] = Field(
        0.01, description="bounce shorters need a fall of more than this (log-return) over bounce_window"
    )
    bounce_window_seconds: Seconds = Field(
        3600.0, description="window of the fall bounce shorters read (capped at view.history_seconds)"
    )
    max_notional_headroom: Annotated[float, Field(gt=0, le=1)] = Field(
        0.98,
        description="entries stay below this share of the largest notional the venue's brackets allow at "
        "the trader's leverage",
    )
    max_position_usd: Usd | None = Field(
        None,
        description="largest position a trader takes on the leader, USD (x liquidity_scale on the alts): "
        "the venue's brackets are real venues' and let one account of a market scaled a thousand times "
        "down hold several percent of an alt's open interest; None: only the brackets cap it",
    )
    btc_watcher_share: Fraction = Field(
        0.5,
        description="share of traders who read the leader's returns for their alt decisions (with "
        "contagion.btc_watchers on)",
    )
    watcher_exit_leader_move: PositiveFloat | None = Field(
        None,
        description="a BTC watcher closes an alt position that the leader's log-return over "
        "watcher_exit_window_seconds has gone against by more than this (0.01: a 1% BTC drop closes alt "
        "longs): alt traders de-risk when BTC breaks, the lead-lag channel of desks that trade alts on "
        "BTC's moves; None: watchers read BTC for entries only",
    )
    watcher_exit_window_seconds: Seconds = Field(
        300, description="window of the leader's return that watcher_exit_leader_move reads, s"
    )
    seeded_entry_spread_leverage: NonNegative = Field(
        0.4,
        description="seeded positions' entries are spread uniformly within +-min(this / leverage, "
        "seeded_entry_spread_max) around the index (fraction)",
    )
    seeded_entry_spread_max: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.03, description="widest spread of seeded entries around the index (fraction)"
    )
    risk_off_deleveraging: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0,
        description="share by which new positions shrink per unit of risk-off (negative macro): risk-off "
        "lowers the leverage traders take, so open interest falls as positions turn over; 0: no effect",
    )
    lookback_seconds: Seconds = Field(900, description="return window a trend trader reads")
    trend_threshold: PositiveFloat = Field(0.004, description="|log-return| that makes a trend trader act")
    support_spacing_usd: dict[str, Price] = Field(
        {"BTC": 1000.0, "ETH": 50.0, "SOL": 2.0},
        description="round-number spacing of support levels per symbol (dip buyers)",
    )
    stop_below_support: Annotated[float, Field(ge=0, le=0.2)] = Field(
        0.004, description="dip buyers' stop distance under the support, fraction"
    )
    support_spacing_multiples: list[Annotated[float, Field(gt=0, le=100)]] | None = Field(
        None,
        min_length=1,
        max_length=16,
        description="each dip buyer watches round numbers of one spacing, support_spacing_usd x a multiple "
        "drawn uniformly from this list (e.g. [0.25, 0.5, 1]: the 250s, 500s and 1000s of BTC): the round "
        "numbers of several sizes that Osler (2003) found stop orders clustered at, so that the dip buyers "
        "and their stops are shared over more, smaller clusters; None: every dip buyer at the spacing",
    )
    support_stop_spread: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.0,
        description="each dip buyer's stop distance under the support is drawn uniformly within "
        "stop_below_support x (1 -+ this): stops gather under a round number in a band, as Osler (2003) "
        "found in currency stop orders, rather than all at one price (0: every dip buyer at "
        "stop_below_support)",
    )
    stops_at_support: bool = Field(
        True,
        description="dip buyers' stops sit under the support (clustered); False: at entry x (1 - stop_loss)",
    )
    stop_loss: Annotated[float, Field(gt=0, le=1)] = Field(0.05, description="stop loss for other strategies")
    stop_loss_spread: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.0,
        description="each trader's stop distance is drawn uniformly within stop_loss x (1 -+ this): traders "
        "who entered in the same range then do not all hold their stops in one band (0: every trader at "
        "stop_loss)",
    )
    take_profit: Annotated[float, Field(gt=0, le=10)] = Field(0.04, description="take profit, fraction")
    holding_hours: Hours = Field(12, description="mean holding horizon")
    holding_shape: Annotated[float, Field(ge=1, le=100)] = Field(
        1.0,
        description="shape of the gamma distribution of holding horizons (1: exponential); the turnover of "
        "the population goes as the mean of 1 / horizon, which an exponential makes large (its many "
        "short horizons trade again and again), a shape of 3 or more keeps it near 1.5 / holding_hours",
    )
    reentry_per_day: NonNegative = Field(
        1.0, description="rate at which a liquidated trader returns with new money (x greed/50)"
    )
    seeded_share: Fraction = Field(0.8, description="share of traders holding a position at the start")


class MarketMakerParams(StrictModel):
    """Inventory-skewing layered quoters (Avellaneda-Stoikov style)."""

    count: Annotated[int, Field(ge=0, le=1000)] = 12
    capital_usd: Usd = 10_000_000
    quote_interval_seconds: Seconds = Field(3.0, description="requote every this many seconds")
    layers: Annotated[int, Field(ge=1, le=20)] = 5
    half_spread_bps: Bps = 2.0
    layer_spacing_bps: Bps = 4.0
    layer_size_usd: Usd = Field(40_000, description="size per layer on the leader's book")
    layer_spacing_growth: Annotated[float, Field(ge=1, le=4)] = Field(
        1.0,
        description="each gap between layers is this many times the one before (1: evenly spaced "
        "layer_spacing_bps apart; above 1 the outer layers reach far from the touch, as real books do)",
    )
    layer_size_growth: Annotated[float, Field(ge=1, le=4)] = Field(
        1.0, description="each layer is this many times the size of the one inside it (1: all the same size)"
    )
    inventory_limit_usd: Usd = Field(
        750_000, description="inventory per symbol beyond which the side that grows it is not quoted"
    )
    index_anchor: Fraction = Field(
        0.3,
        description="weight of the index (other venues' price) in makers' fair value; the rest is the mid",
    )
    index_anchor_fast: Fraction | None = Field(
        None,
        description="index_anchor in a fast market: the weight moves linearly from index_anchor at the calm "
        "volatility to this at fast_vol_multiple times it (the index is stale when prices run); None: "
        "index_anchor at every volatility",
    )
    fast_vol_multiple: Annotated[float, Field(gt=1, le=100)] = Field(
        3.0,
        description="realised volatility, in multiples of the calm one, at which index_anchor_fast applies",
    )
    index_news_passthrough: Fraction = Field(
        0.0,
        description="share of the news since a maker last requoted (the move of the index's exogenous path) "
        "that it adds to its own mid in fair value: news reach every venue at once; 0: fair value is only "
        "the mid-index mix",
    )
    risk_aversion: NonNegative = Field(
        1.0, description="reservation-price skew at full inventory, in units of skew_scale_bps"
    )
    skew_scale_bps: NonNegative = Field(20.0, description="skew at full inventory, bps")
    vol_widening: NonNegative = Field(
        20000.0, description="extra half-spread in bps per unit of realised volatility per sqrt(second)"
    )
    vol_widening_above_calm: bool = Field(
        False,
        description="widen only for the volatility above the index's calm volatility (base_vol_1s): a calm "
        "book stays at half_spread_bps, a fast one widens at once; False: for all realised volatility",
    )
    leader_pricing: Fraction = Field(
        0.0,
        description="share of the leader's mid move since an alt's last requote, times the alt's btc_beta, "
        "that a maker passes into the alt's fair value (with contagion.maker_leader_pricing): makers price "
        "alts off BTC's book, the lead-lag quoting of cross-asset desks; 0: each alt from its own book and "
        "index",
    )
    leader_pricing_follow_seconds: Seconds | None = Field(
        None,
        description="with leader_pricing, the part of the leader's move that an alt's index has not yet "
        "shown moves the index anchor too, and it fades with this time constant, s (the index follows this "
        "venue's perp: 1 / venue.index_arbitrage_per_second, 50 s at 0.02): the alt's fair value stays "
        "moved while its index catches up. With the spot coupling on, the alt's index shows BTC's index "
        "moves already, so only BTC's perp move beyond its index counts. None: the leader's move enters "
        "through the mid only, and the anchor (index_anchor) pulls it back at the next requotes",
    )
    leader_vol_widening: NonNegative = Field(
        0.0,
        description="with a shared risk budget (contagion.shared_mm_budget), an alt's quotes widen with the "
        "leader's volatility too: the volatility they widen by is max(the alt's own, this x the leader's "
        "(above its calm with vol_widening_above_calm) x the alt's calm vol / the leader's); a book run "
        "from one risk budget widens everywhere when BTC breaks. 0: each symbol on its own volatility",
    )
    max_half_spread_bps: Bps = Field(50.0, description="widest half-spread a maker quotes")
    loss_limit_usd: Usd = Field(
        50_000, description="loss from the equity peak of the current hour at which the maker withdraws"
    )
    withdraw_seconds: Seconds = Field(300, description="time a maker stays out after a limit binds")
    multi_symbol: bool = Field(True, description="each maker quotes every symbol from one account")
    account_leverage: Leverage = Field(10.0, description="leverage of a maker's account, x")
    budget_period_seconds: Seconds = Field(
        3600.0,
        description="length of a risk-budget period: the equity peak of loss_limit_usd resets after it",
    )
    budget_spread_widening: NonNegative = Field(
        3.0, description="half-spread multiplier added at a fully used risk budget: x (1 + this x use)"
    )
    budget_size_shrink: Fraction = Field(
        0.8, description="share by which layer sizes shrink at a fully used risk budget: x (1 - this x use)"
    )
    requote_position_layers: PositiveCount = Field(
        2,
        description="quotes are replaced when fills have moved the position by this many layers' size "
        "(else only when the reservation price has moved)",
    )
    flow_impact_bps_per_musd: NonNegative = Field(
        0.0,
        description="makers move fair value by this many bps per $1M of net taker buying on the tape (per "
        "$1M x liquidity_scale on thinner books): order flow is informative, so its impact persists "
        "(Cont, Kukanov and Stoikov 2014: price changes are linear in order-flow imbalance); 0: off",
    )
    flow_impact_halflife_seconds: Seconds = Field(
        60.0,
        description="half-life of the flow's move of fair value relative to the index: the part the index "
        "(arbitrage, spot) has not followed by then fades",
    )
    flow_impact_vol_elasticity: NonNegative = Field(
        0.0,
        description="the flow's price per $1M scales with the realised volatility over the index's calm one, "
        "to this power (within 1/flow_impact_max_multiple and flow_impact_max_multiple): in a fast market a "
        "dollar of flow tells more (Kyle 1985: lambda = sigma_v / 2 sigma_u), so the body of the return "
        "distribution clusters; 0: a constant price per $1M",
    )
    flow_impact_max_multiple: float = Field(
        3.0,
        ge=1.0,
        description="bound of the volatility multiple of the flow's price (x this at most, / this at least)",
    )
    flow_impact_linear_up_to_usd: Usd | None = Field(
        None,
        description="the flow's price is linear in the net flow a maker sees between two looks up to this "
        "many USD (x liquidity_scale on thinner books) and concave beyond, to the power "
        "flow_impact_concavity (the square-root law of impact: Toth et al. 2011; a stop or liquidation "
        "burst of $10M moves fair value ~3x, not 10x, what $1M does); None: linear at every size",
    )
    flow_impact_concavity: Annotated[float, Field(gt=0, le=1)] = Field(
        0.5, description="power of the flow's price beyond flow_impact_linear_up_to_usd (1: linear)"
    )
    flow_impact_vol_reference_halflife_seconds: Seconds | None = Field(
        None,
        description="what the flow's volatility multiple compares the realised volatility with: None, the "
        "index's calm volatility; a half-life, each maker's own slow average of the realised variance "
        "(started at the calm one), so a fast market's higher price per $1M fades as it becomes the "
        "normal (volatility against its recent level, as in GARCH)",
    )
    flow_impact_net_of_index: bool = Field(
        False,
        description="flow pricing takes off what the index has followed since (its moves that are not news): "
        "the flow's impact is permanent in the share the index follows and counted once; False: the makers' "
        "flow move rides on the index wherever it goes, so an index that follows the perp adds to it",
    )
    keep_queue: bool = Field(
        False,
        description="requotes amend the resting ladder: orders at prices the new ladder keeps stay in "
        "the queue (reduced in place, or topped up behind it), only the levels that change are cancelled "
        "or posted; False: every requote cancels the whole ladder and posts a new one",
    )
    hedge_share: Fraction = Field(
        0.0,
        description="share of its perp position a maker holds hedged on spot (off this venue); hedging "
        "trades move the index by the symbol's spot_impact_per_musd, and the inventory a maker skews and "
        "limits by is net of the hedge (0: makers do not hedge, the flow they absorb "
        "never reaches spot)",
    )
    hedge_halflife_seconds: Seconds = Field(
        30, description="half-life over which a maker's spot hedge closes the gap to its target"
    )
    quote_within_price_band: bool = Field(
        False,
        description="layers the venue's price band would reject are moved to its edge when that is their "
        "own side of fair value (an ask below the band's floor is posted at the floor, a bid above its "
        "ceiling at the ceiling); False: they are skipped, and a book whose fair value jumped past the band "
        "has no maker quotes until the mark catches up",
    )
    take_stale_quotes: bool = Field(
        False,
        description="a requote whose ladder would cross others' resting orders (stale quotes left behind by "
        "a move of fair value) takes them: an IOC at the maker's own best price for the crossing layers' "
        "lots; False: crossing layers are skipped and the stale orders stay until someone else hits them",
    )
    requote_first: bool = Field(
        False,
        description="makers requote to the step's news before the traders act (on a venue the makers are "
        "the fastest participants: traders meet quotes that have seen the index move); False: they requote "
        "after the traders, who meet quotes one step stale, by ~sqrt(dt) of the index's volatility",
    )


class LargeHolderParams(StrictModel):
    """Whales: large spot-like inventories held as unlevered perp longs with a cost basis."""

    count: Annotated[int, Field(ge=0, le=100)] = 3
    inventory_usd: Usd = Field(20_000_000, description="position per holder, at the initial price")
    cost_basis_premium: float = Field(0.1, gt=-0.9, lt=10, description="cost basis above the initial price")
    drawdown_limit: Annotated[float, Field(gt=0, le=1)] = Field(
        0.15, description="unrealised loss (fraction of cost) that forces selling"
    )
    sell_mode: Literal["twap", "block"] = "twap"
    twap_slices: PositiveCount = 60
    twap_interval_seconds: Seconds = 30
    accumulate_at_support: bool = True
    decisions_per_hour: PerHour = 6.0
    collateral_ratio: PositiveFloat = Field(
        1.2, description="collateral deposited per dollar of inventory (1.2: the inventory is 1/1.2x levered)"
    )
    account_leverage: Leverage = Field(2.0, description="leverage of a holder's account, x")
    forced_sale_fraction: Annotated[float, Field(gt=0, le=1)] = Field(
        0.3, description="share of the inventory sold when the drawdown limit forces a sale"
    )
    accumulate_max_drawdown_share: Fraction = Field(
        0.5, description="holders accumulate only while the drawdown is below this share of drawdown_limit"
    )
    accumulate_band: Annotated[float, Field(ge=0, le=1)] = Field(
        0.003, description="holders accumulate only within this fraction above a support level"
    )
    accumulate_slices: PositiveCount = Field(
        200, description="one accumulation buys 1/this of the inventory (at least one lot)"
    )


class BackgroundParams(StrictModel):
    """Ordinary flow: basis arbitrageurs who trade toward the index, noise traders, and slow value money."""

    fundamental_count: Count = 60
    fundamental_orders_per_hour: PerHour = 60
    fundamental_size_usd: Usd = 50_000
    fundamental_threshold_bps: Bps = Field(5, description="mispricing vs index that makes them act")
    noise_count: Count = 100
    noise_orders_per_hour: PerHour = 60
    noise_size_usd: Usd = 5_000
    noise_market_share: Fraction = Field(0.3, description="share of noise orders sent as market orders")
    capital_usd: Usd = 2_000_000
    fundamental_leverage: Leverage = Field(5.0, description="leverage of a fundamental trader's account, x")
    fundamental_leader_pricing: Fraction = Field(
        0.0,
        description="share of the leader's perp move, x the alt's btc_beta, that an alt's arbitrageurs "
        "add to the index they trade the basis against, for the part of it the index has not shown yet (with "
        "contagion.maker_leader_pricing): cross-asset desks expect other venues to follow BTC, so they do "
        "not trade an alt perp's BTC-driven move back toward a stale index; 0: the index as it is",
    )
    fundamental_leader_follow_seconds: Seconds = Field(
        50.0,
        description="with fundamental_leader_pricing, the time constant (s) with which that unshown move "
        "fades as the index follows this venue's perp (1 / venue.index_arbitrage_per_second: 50 s at 0.02)",
    )
    fundamental_max_size_multiple: PositiveFloat = Field(
        5.0,
        description="an order is fundamental_size_usd x |gap| / threshold, at most this many times the size",
    )
    fundamental_position_cap_capital: PositiveFloat = Field(
        2.0, description="largest position of a fundamental trader, in multiples of its capital"
    )
    noise_capital_fraction: PositiveFloat = Field(
        0.25, description="a noise trader's capital as a share of capital_usd"
    )
    noise_leverage: Leverage = Field(5.0, description="leverage of a noise trader's account, x")
    noise_max_resting_orders: PositiveCount = Field(
        4, description="resting orders a noise trader keeps; the oldest is cancelled beyond"
    )
    noise_position_limit_orders: PositiveFloat = Field(
        10.0,
        description="a noise trader halves a position larger than this many mean orders (noise_size_usd)",
    )
    noise_offset_bps: Bps = Field(
        8.0, description="mean distance of noise limit orders from the mid (exponential), bps"
    )
    value_count: Count = Field(
        0,
        description="slow value investors who buy below the index's fundamental path and sell above it "
        "(the long-run anchor of multi-day runs); 0: none",
    )
    value_capital_usd: Usd = Field(
        20_000_000, description="capital per value investor: its largest position (1x), USD"
    )
    value_orders_per_hour: PerHour = Field(2.0, description="decisions per hour per value investor")
    value_order_usd: Usd = Field(500_000, description="largest order per decision, USD")
    value_threshold: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.01, description="discount (or premium) to fundamental value below which they hold no position"
    )
    value_full_gap: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.10, description="discount (or premium) at which their position reaches their whole capital"
    )
    value_falling_knife: PositiveFloat = Field(
        0.02,
        description="they do not buy while the last value_momentum_window fell more than this, nor sell "
        "while it rose more (they wait for momentum to stop)",
    )
    value_momentum_window_seconds: Seconds = Field(
        3600.0, description="window of the momentum value traders wait out (capped at view.history_seconds)"
    )
    value_limit_slippage: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.002,
        description="value traders' IOC limits: at most this fraction through the mid (and never through "
        "value)",
    )
    value_leverage: Leverage = Field(2.0, description="leverage of a value trader's account, x")

    @model_validator(mode="after")
    def _value_band(self) -> BackgroundParams:
        if self.value_full_gap <= self.value_threshold:
            raise ValueError(
                f"value_full_gap ({self.value_full_gap}) must exceed value_threshold ({self.value_threshold})"
            )
        return self


# --------------------------------------------------------------------------- drivers, sentiment, channels


class MacroParams(StrictModel):
    """Macro risk factor: mean-reverting (OU), with Poisson risk-off shocks. Shifts demand only."""

    reversion_per_hour: PerHour = 0.1
    vol_per_sqrt_hour: Annotated[float, Field(ge=0, le=10)] = 0.1
    shocks_per_day: NonNegative = 0.0
    shock_size: NonNegative = 1.0
    drift_per_unit_per_day: Weight = Field(
        0.0, description="index drift per day per unit of the factor (negative factor: risk-off)"
    )


class SentimentParams(StrictModel):
    """Fear-and-greed index (0-100) from the market's own state."""

    halflife_seconds: Seconds = 900
    weight_return: Weight = 1.0
    weight_vol: Weight = 1.0
    weight_liquidations: Weight = 1.0
    weight_funding: Weight = 0.5
    weight_trend: Weight = Field(
        0.0,
        description="weight of the leader's multi-day trend (log-price against its slow average, in units "
        "of the calm volatility over that horizon); 0: the index reads only the last hour",
    )
    trend_halflife_hours: Hours = Field(72.0, description="half-life of the trend's slow average")
    warmup_seconds: Annotated[float, Field(ge=0, le=MAX_SECONDS)] = Field(
        600.0, description="the volatility baseline is learnt over the first this many seconds (no vol term)"
    )
    normal_vol_hours: Hours = Field(
        6.0, description="time constant of the slow average that is this market's normal volatility"
    )
    heavy_liquidation_share_per_hour: PositiveFloat = Field(
        0.005, description="liquidations per hour, as a share of open interest, that count as one z-unit"
    )
    normal_funding_rate: PositiveFloat = Field(
        0.0001, description="funding rate per interval that counts as one z-unit (the usual base rate)"
    )
    z_clip: PositiveFloat = Field(3.0, description="the funding and trend z-scores are clipped to +-this")
    score_scale: PositiveFloat = Field(
        6.0, description="the weighted z-sum is squashed as 50 + 50 tanh(sum / this)"
    )
    return_window_seconds: Seconds = Field(
        3600.0,
        description="window of the leader's return the index reads (z-scored by the calm volatility over "
        "it; capped at view.history_seconds)",
    )
    liquidation_window_seconds: Seconds = Field(
        900.0, description="window of the liquidation flow the index reads, seconds"
    )
    oi_refresh_seconds: Seconds = Field(
        10.0,
        description="open interest (the liquidation flow's denominator) is re-summed this often, seconds",
    )


class ViewParams(StrictModel):
    """What agents can observe: the per-step market view (``model.view.MarketView``)."""

    history_seconds: Seconds = Field(
        3600.0, description="how far back agents can read mid returns; longer windows are capped at this"
    )
    vol_halflife_seconds: Seconds = Field(
        300.0, description="half-life of the realised volatility (of the mark) that agents read, seconds"
    )
    calm_vol_with_coupling: bool = Field(
        False,
        description="each index's calm volatility (the reference agents compare the realised one with: "
        "spread widening, flow pricing, attention) includes its share of the leader's news, "
        "btc_beta x the leader's index_vol_per_day, added in variance, while the spot coupling is on; "
        "off: index_vol_per_day alone, which understates a coupled alt's (the old calibration's reference, "
        "kept bit-identical)",
    )


class ActivityParams(StrictModel):
    """Attention: the background and leveraged traders' decision clocks speed up when the market moves.

    Each clocked trader's Poisson clock runs in the *operational time* of the symbol it trades (the
    leader for a multi-symbol account): ``d tau = m dt`` with the activity multiple
    ``m = clip((vol / base_vol_1s) ** vol_elasticity, min_multiple, max_multiple)``, where ``vol`` is the
    realised volatility per sqrt(second) of the mid's returns over ``vol_window_seconds``, exponentially
    weighted with ``vol_halflife_seconds`` (by default the view's; returns over a fixed window, so the
    step size does not change it: one-second returns would add the bid-ask bounce), and ``base_vol_1s``
    the index's calm volatility. Traders see the price move and come to the screen: order
    flow clusters in time with volatility (Cont 2001's volume-volatility correlation), and the flow it
    brings moves the price again, so volatility clusters without any volatility put into the index. With
    ``vol_elasticity = 0`` every clock runs in calendar time, as before this block existed.
    """

    vol_elasticity: NonNegative = Field(
        0.0, description="elasticity of traders' decision rates to realised volatility (0: constant rates)"
    )
    min_multiple: Annotated[float, Field(gt=0, le=1)] = Field(
        0.25, description="slowest the clocks run, in multiples of the base rates (a dead-calm market)"
    )
    max_multiple: Annotated[float, Field(ge=1, le=100)] = Field(
        6.0, description="fastest the clocks run, in multiples of the base rates (keeps the loop bounded)"
    )
    vol_window_seconds: Seconds = Field(
        60.0, description="return window of the volatility attention reads (a multiple of dt_seconds)"
    )
    vol_halflife_seconds: Seconds | None = Field(
        None,
        description="half-life of the volatility attention reads: how long traders stay at the screen after "
        "a move (activity after a shock decays over hours on real venues); None: the view's "
        "vol_halflife_seconds, which the makers read too",
    )
    horizon_halflives_seconds: Annotated[list[Seconds], Field(min_length=1, max_length=12)] | None = Field(
        None,
        description="heterogeneous attention horizons: the clocked traders are dealt in turn (in the order "
        "they are built) over these half-lives, and each class reads the attention volatility at its own "
        "half-life (traders who stay at the screen for a minute after a move next to those who stay for "
        "hours: Mueller et al. 1997's heterogeneous market; a sum of exponential memories decays slower "
        "than any one of them); None: one class at vol_halflife_seconds",
    )
    leverage_reference: PositiveFloat | None = Field(
        None,
        description="attention scaled by what a move does to a trader's equity: a clock's excess multiple "
        "(m - 1) is weighted by min(1, leverage / leverage_reference), so a trader at the reference "
        "leverage or above reacts fully and a 1x account a tenth as much at 10 (a 1% move is 1% of a 1x "
        "trader's equity and 10% of a 10x trader's: margin alerts, not the chart, bring traders to the "
        "screen); None: every trader reacts fully, whatever its leverage",
    )
    vol_reference_halflife_seconds: Seconds | None = Field(
        None,
        description="what attention compares its volatility with: None, the index's calm volatility; a "
        "half-life, a slow average of the attention variance itself (per horizon class and symbol, started "
        "at the calm one), so traders come to the screen for a move against the market's recent level and "
        "a lasting fast market becomes the normal (volatility against its recent level, as in GARCH)",
    )
    watchers_on_leader_clock: bool = Field(
        False,
        description="a BTC watcher (leveraged.btc_watcher_share, with contagion.btc_watchers) runs in the "
        "leader's operational time whatever it trades: it reads BTC's moves, so it comes to the screen when "
        "BTC moves; False: in the time of the symbol it trades",
    )


class RelativeValueParams(StrictModel):
    """Relative-value (pairs) desks: each trades one alt against the leader (``agents/relative_value.py``).

    A desk sells an alt that is rich against BTC, ``log(alt) - btc_beta x log(BTC)`` above its slow
    reference, and buys ``btc_beta`` times the notional of BTC against it; the reverse when cheap. Desk
    ``i`` trades alt ``1 + i mod (S - 1)``. Sizes are per desk and in USD of the alt.
    """

    count: Count = Field(0, description="relative-value desks (0: none; they need at least one alt)")
    capital_usd: Usd = Field(1_000_000, description="collateral per desk, USD")
    leverage: Leverage = Field(5.0, description="leverage of a desk's account, x")
    position_capital_multiple: PositiveFloat = Field(
        2.0, description="the desk's largest alt position, in multiples of its capital (at full_gap)"
    )
    decisions_per_hour: PerHour = Field(
        360.0, description="decisions per hour per desk (an algorithm: every 10 s on average)"
    )
    order_usd: Usd = Field(50_000, description="largest alt order per decision, USD")
    threshold: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.003, description="log gap of the spread to its reference below which a desk holds nothing"
    )
    full_gap: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.03, description="log gap at which a desk's position reaches its largest"
    )
    halflife_seconds: Seconds = Field(
        3600.0, description="half-life of the spread's reference: how fast a new alt/BTC relation is accepted"
    )
    limit_slippage: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.002, description="IOC limits at most this fraction through the mid, on both legs"
    )
    hedge_leader: bool = Field(
        True, description="hold the leader's leg (beta x the alt notional, the other way)"
    )

    @model_validator(mode="after")
    def _band(self) -> RelativeValueParams:
        if self.full_gap <= self.threshold:
            raise ValueError(f"full_gap ({self.full_gap}) must exceed threshold ({self.threshold})")
        return self


class ContagionParams(StrictModel):
    """Switches for the contagion channels from the leader (BTC) to the alts."""

    cross_margin: bool = Field(True, description="multi-symbol cross-margin accounts")
    cross_margin_off: Literal["isolated", "sub_accounts"] = Field(
        "isolated",
        description="what a multi-symbol account is with cross_margin off: 'isolated', each position "
        "isolated at its initial margin (less buffer than the cross account had); 'sub_accounts', each "
        "seeded position also gets its share of the free collateral as isolated margin, as if each symbol "
        "had its own sub-account with its share of the capital (the same buffer, no cross-subsidy)",
    )
    shared_mm_budget: bool = Field(True, description="makers quote all symbols from one risk budget")
    btc_watchers: bool = Field(True, description="alt traders read the leader's returns")
    sentiment: bool = Field(True, description="agents read the fear-and-greed index")
    index_coupling: bool = Field(True, description="alt index returns load on the leader (btc_beta)")
    relative_value: bool = Field(
        True, description="relative-value desks (market.relative_value) trade alts against the leader"
    )
    asset_leverage: bool = Field(
        True,
        description="alt traders draw their leverage from leveraged.alt_leverage_weights and their seeded "
        "side with leveraged.alt_long_tilt; off: the same distribution for every asset",
    )
    maker_leader_pricing: bool = Field(
        True,
        description="makers move an alt's fair value with the leader's mid (market_makers.leader_pricing); "
        "off: each alt priced from its own book and index",
    )


class WhaleSale(StrictModel):
    """A large holder sells ``fraction`` of its inventory starting at ``at_hour``."""

    kind: Literal["whale_sale"] = "whale_sale"
    at_hour: AtHour
    fraction: Annotated[float, Field(gt=0, le=1)] = 0.5
    holder: Count = 0
    mode: Literal["twap", "block"] = "twap"
    duration_minutes: Minutes = 10


class MacroShock(StrictModel):
    """The macro factor drops by ``size`` (risk-off) at ``at_hour``."""

    kind: Literal["macro_risk_off"] = "macro_risk_off"
    at_hour: AtHour
    size: PositiveFloat = 2.0


class IndexJump(StrictModel):
    """The exogenous index of ``symbol`` jumps by ``pct`` (-0.05 = -5%) at ``at_hour``."""

    kind: Literal["index_jump"] = "index_jump"
    at_hour: AtHour
    symbol: str = Field(pattern=SYMBOL_PATTERN)
    pct: Annotated[float, Field(gt=-0.95, lt=10)]


class MakerWithdrawal(StrictModel):
    """A share of the market makers cancel everything and stop quoting for a while."""

    kind: Literal["maker_withdrawal"] = "maker_withdrawal"
    at_hour: AtHour
    fraction: Annotated[float, Field(gt=0, le=1)] = 0.5
    duration_minutes: Minutes = 30


Shock = Annotated[WhaleSale | MacroShock | IndexJump | MakerWithdrawal, Field(discriminator="kind")]
"""A scripted shock: one of the classes above, told apart by its ``kind``."""

SHOCK_CLASSES: dict[str, type[StrictModel]] = {
    cls.model_fields["kind"].default: cls for cls in (WhaleSale, MacroShock, IndexJump, MakerWithdrawal)
}
"""``kind`` -> shock class, the members of :data:`Shock` (for tools that walk the schema)."""


def default_symbols() -> list[SymbolParams]:
    """BTC, ETH and SOL at realistic prices, ticks and lots (late-2025 levels); alts have thinner books."""
    return [
        SymbolParams(
            name="BTC", price_usd=78_000, tick_size_usd=0.1, lot_size=0.001, index_vol_per_day=0.025,
            spot_impact_per_musd=0.0005,
        ),
        SymbolParams(
            name="ETH", price_usd=2_500, tick_size_usd=0.01, lot_size=0.01, index_vol_per_day=0.03,
            btc_beta=0.5, liquidity_scale=0.5, spot_impact_per_musd=0.001,
        ),
        SymbolParams(
            name="SOL", price_usd=150, tick_size_usd=0.01, lot_size=0.1, index_vol_per_day=0.04,
            btc_beta=0.6, liquidity_scale=0.25, spot_impact_per_musd=0.002, max_leverage=50,
        ),
    ]  # fmt: skip


class IndexPathParams(StrictModel):
    """A recorded index (oracle) path to replay instead of the random walk (e.g. a venue's crash day).

    The file (CSV, or Parquet by its ``.parquet`` suffix; a relative path is read from the working
    directory) holds ``time_column`` in seconds from the start of the run and one column of prices (USD)
    per replayed symbol. Symbols without a column keep the random walk. Checked when the config is loaded.
    """

    file: str = Field(min_length=1, description="path of the CSV or Parquet file")
    time_column: str = Field("time_s", min_length=1, description="column of times, seconds from the start")
    columns: dict[str, str] = Field(
        default_factory=dict, description="symbol name -> price column, where they differ"
    )

    def load(self) -> pd.DataFrame:
        """Read and check the file.

        Raises:
            ValueError: one line naming the file and what is wrong with it (unreadable, no time column,
                times not increasing, prices not finite and positive).
        """
        path = Path(self.file)
        try:
            frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read the index path ({type(exc).__name__}: {exc})") from None
        if self.time_column not in frame.columns:
            raise ValueError(f"{path}: no time column {self.time_column!r} (columns: {list(frame.columns)})")
        times = frame[self.time_column].to_numpy(dtype=np.float64)
        if len(times) < 2 or not np.isfinite(times).all() or not np.all(np.diff(times) > 0):
            raise ValueError(f"{path}: {self.time_column!r} must hold at least two increasing finite times")
        values = frame.drop(columns=[self.time_column]).to_numpy(dtype=np.float64)
        if values.size == 0 or not (np.isfinite(values).all() and (values > 0).all()):
            raise ValueError(f"{path}: needs price columns, every price finite and > 0")
        return frame


class MarketParams(StrictModel):
    """Everything that defines a market; run settings (seed, duration, dt) live in the experiment."""

    symbols: list[SymbolParams] = Field(default_factory=default_symbols)
    venue: VenueParams = VenueParams()
    leveraged: LeveragedTraderParams = LeveragedTraderParams()
    market_makers: MarketMakerParams = MarketMakerParams()
    large_holders: LargeHolderParams = LargeHolderParams()
    background: BackgroundParams = BackgroundParams()
    macro: MacroParams = MacroParams()
    sentiment: SentimentParams = SentimentParams()
    view: ViewParams = ViewParams()
    activity: ActivityParams = ActivityParams()
    relative_value: RelativeValueParams = RelativeValueParams()
    contagion: ContagionParams = ContagionParams()
    shocks: list[Shock] = Field(default_factory=list)
    index_path: IndexPathParams | None = Field(
        None, description="replay a recorded index path for the symbols it has (None: the random walk)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> MarketParams:
        names = [s.name for s in self.symbols]
        if not names:
            raise ValueError("symbols: at least one symbol is needed")
        if self.index_path is not None:
            try:
                columns = set(self.index_path.load().columns)
            except ValueError as exc:
                raise ValueError(f"index_path.file: {exc}") from None
            replayed = [n for n in names if self.index_path.columns.get(n, n) in columns]
            if not replayed:
                raise ValueError(
                    f"index_path.columns: the file has no price column for any symbol {names} "
                    f"(columns: {sorted(columns)}; map them with index_path.columns)"
                )
        folded = [n.casefold() for n in names]
        dupes = sorted({n for n in names if folded.count(n.casefold()) > 1})
        if dupes:
            raise ValueError(
                f"symbols: duplicate symbol name(s) {dupes} (names are compared regardless of case)"
            )
        lev = self.leveraged
        if len(lev.leverage_choices) != len(lev.leverage_weights):
            raise ValueError("leveraged: leverage_choices and leverage_weights must have the same length")
        if sum(lev.leverage_weights) <= 0:
            raise ValueError("leveraged.leverage_weights: must not all be zero")
        if lev.alt_leverage_weights is not None and (
            len(lev.alt_leverage_weights) != len(lev.leverage_choices) or sum(lev.alt_leverage_weights) <= 0
        ):
            raise ValueError(
                "leveraged.alt_leverage_weights: needs one probability per leverage_choices entry, "
                "not all zero"
            )
        if sum(lev.strategy_mix.values()) <= 0:
            raise ValueError("leveraged.strategy_mix: must not all be zero")
        if lev.symbol_weights is not None and len(lev.symbol_weights) != len(names):
            raise ValueError("leveraged.symbol_weights: one weight per symbol")
        if self.relative_value.count and len(names) < 2:
            raise ValueError(
                f"relative_value.count: {self.relative_value.count} desks need an alt to trade against "
                f"the leader, and the market has one symbol ({names[0]})"
            )
        venue = self.venue.resolved()
        # a cap set above what the first margin bracket allows is a contradiction in the config (the
        # brackets would silently win); every such problem is reported at once
        problems: list[str] = []
        if self.venue.max_leverage is not None and venue.tiers:
            tier_max = 1 / venue.tiers[0].imr
            if self.venue.max_leverage > tier_max + 1e-9:
                problems.append(
                    f"venue.max_leverage: {self.venue.max_leverage:g}x is above the first margin tier's "
                    f"max leverage 1/imr = {tier_max:g}x"
                )
        for i, s in enumerate(self.symbols):
            # the config's own brackets; a venue's published per-symbol table (symbol_tiers) caps a
            # symbol's leverage as the venue would, at the lower of the two (SymbolParams.max_leverage_on)
            tiers = s.tiers or venue.tiers
            if s.max_leverage is not None and tiers:
                tier_max = 1 / tiers[0].imr
                if s.max_leverage > tier_max + 1e-9:
                    problems.append(
                        f"symbols.{i}.max_leverage: {s.max_leverage:g}x is above the first margin "
                        f"tier's max leverage 1/imr = {tier_max:g}x"
                    )
        usable = [c for c in lev.leverage_choices if c <= lev.leverage_cap]
        for s in self.symbols:
            cap = s.max_leverage_on(venue)
            if usable and min(usable) > cap + 1e-9:
                problems.append(
                    f"leveraged.leverage_choices: every usable leverage exceeds "
                    f"{s.name}'s max leverage {cap:g}"
                )
                break
        if problems:
            # several problems travel as one message; experiments.config splits them into lines again
            raise ValueError("\n".join(problems))
        for i, shock in enumerate(self.shocks):
            if isinstance(shock, IndexJump) and shock.symbol not in names:
                raise ValueError(f"shocks.{i}.symbol: unknown symbol {shock.symbol!r} (have {names})")
            if isinstance(shock, WhaleSale) and shock.holder >= self.large_holders.count:
                raise ValueError(
                    f"shocks.{i}.holder: whale_sale needs large holder {shock.holder}, "
                    f"but large_holders.count is {self.large_holders.count}"
                )
            if isinstance(shock, MakerWithdrawal) and self.market_makers.count == 0:
                raise ValueError(f"shocks.{i}: maker_withdrawal needs market_makers.count > 0")
        return self
