"""The typed summary of one run: ``summary.json`` (DESIGN.md §8) as pydantic models.

:class:`RunSummary` is what :func:`experiments.run` returns as ``RunResult.summary`` and what
:func:`experiments.rundir.load_run` reads back. Its JSON form, :meth:`RunSummary.to_json_dict`, is exactly
the content of ``summary.json``: the same keys, in the same order, with the same values, so that users'
scripts that read the file keep working. A leaf: it imports nothing else of the package.

Units: money in US dollars (``*_usd``), percentages in percent (``*_pct``: -3.2 means -3.2%), fractions
as fractions, times in simulated seconds (``*_s``, ``*_seconds``) unless named in hours.

Two rules keep old and future files readable:

- **Extra keys are kept** (``extra="allow"`` on every model): a key this schema does not declare, such as
  one that a newer ``CryptoMarket.summary_extras()`` or ``model.metrics.summarize`` adds, is validated as
  plain JSON, readable as an attribute (``summary.some_new_key``) or through ``model_extra``, and written
  back where it came from (run-level extras before ``totals``). Declaring it here later gives it a type.
- **Keys added after the first release are optional** (``funding_settlements``, the ``long_liq_*``
  metrics): None when a summary written before them is read. :meth:`RunSummary.to_json_dict` writes only
  the keys a summary was built or read with, so reading a ``summary.json`` and writing it again changes
  nothing.

Metric values are ``float | None``: a value that is not a finite number (NaN, infinity) is stored as None,
as ``summary.json`` (strict JSON) has always written it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

SYMBOL_METRICS = (
    "return_pct",
    "max_drawdown_pct",
    "liquidations_long_usd",
    "liquidations_short_usd",
    "liquidation_count",
    "adl_count",
    "oi_start_usd",
    "oi_end_usd",
    "oi_change_pct",
    "realized_vol",
)
"""The per-symbol keys DESIGN.md §8 promises in ``summary.json["symbols"][SYM]``."""

WALL_CLOCK_FIELDS = ("wall_seconds", "sim_seconds_per_wall_second")
"""Run-level keys that measure the machine, not the model (they differ between identical runs)."""


def _finite_or_none(value: Any) -> Any:
    """Non-finite floats (NaN, +-inf) become None; anything else is left to the field's type."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


Metric = Annotated[float | None, BeforeValidator(_finite_or_none)]
"""A measured value: a finite float, or None where it is missing or was not a finite number."""


class SummaryRecord(BaseModel):
    """Base of the summary models: frozen records that keep unknown keys and write back what they read."""

    model_config = ConfigDict(extra="allow", frozen=True)

    def to_json_dict(self) -> dict[str, Any]:
        """The record as plain JSON values, with exactly the keys it was built or read with.

        Returns:
            A dict of JSON-safe values (what ``summary.json`` holds for this record).
        """
        out: dict[str, Any] = self.model_dump(mode="json", exclude_unset=True)
        return out


class SymbolSummary(SummaryRecord):
    """The metrics of one symbol over a run (``model.metrics.summarize``), from the sampled series.

    Attributes:
        return_pct: change of the mid from the first to the last sample, percent.
        max_drawdown_pct: largest peak-to-trough fall of the mid, percent (>= 0).
        liquidations_long_usd: notional of long positions liquidated, USD.
        liquidations_short_usd: notional of short positions liquidated, USD.
        liquidation_count: liquidation events (partial, full and insurance-fund takeovers).
        adl_count: auto-deleveraging events.
        oi_start_usd: open interest at the first sample, USD.
        oi_end_usd: open interest at the last sample, USD.
        oi_change_pct: change of the open interest, percent (0 when it started at 0).
        realized_vol: standard deviation of the sampled mid's log-returns scaled to one day, a fraction
            per square root of a day (0.05 = 5% daily volatility).
        volume_usd: traded notional, USD.
        long_liq_max_day_usd: the worst trailing 24 hours of long liquidations, USD (None in summaries
            written before it existed; so are the next two).
        long_liq_max_week_usd: the worst trailing 7 days of long liquidations, USD.
        long_liq_share: long liquidated notional over all liquidated notional, a fraction (0 when none).
        adl_notional_usd: notional closed by auto-deleveraging, USD (None in summaries written before
            it; so are the next two).
        contagion_drawdown_ratio: this symbol's max drawdown over the leader's (> 1: it fell further;
            alts only, None when the leader did not fall).
        contagion_stress_corr: correlation of this symbol's sampled log-returns with the leader's in the
            leader's worst fall (peak to trough; alts only, None when too short).
        contagion_calm_corr: correlation of 1-minute log-returns with the leader's outside that window
            (alts only; None in summaries written before it, and so are the next two).
        contagion_lead_lag_s: the lag within a minute at which the leader's sampled returns correlate
            most with this symbol's later ones, s (> 0: the leader leads; at the sample resolution).
        contagion_lead_lag_corr: that peak correlation.
    """

    return_pct: Metric = Field(description="change of the mid over the run, percent")
    max_drawdown_pct: Metric = Field(description="largest peak-to-trough fall of the mid, percent (>= 0)")
    liquidations_long_usd: Metric = Field(description="long notional liquidated, USD")
    liquidations_short_usd: Metric = Field(description="short notional liquidated, USD")
    liquidation_count: int = Field(description="liquidation events")
    adl_count: int = Field(description="auto-deleveraging events")
    oi_start_usd: Metric = Field(description="open interest at the first sample, USD")
    oi_end_usd: Metric = Field(description="open interest at the last sample, USD")
    oi_change_pct: Metric = Field(description="change of the open interest, percent")
    realized_vol: Metric = Field(description="daily volatility of the mid's log-returns, fraction/sqrt(day)")
    volume_usd: Metric = Field(description="traded notional, USD")
    long_liq_max_day_usd: Metric = Field(default=None, description="worst 24 h of long liquidations, USD")
    long_liq_max_week_usd: Metric = Field(default=None, description="worst 7 d of long liquidations, USD")
    long_liq_share: Metric = Field(default=None, description="long / all liquidated notional, fraction")
    adl_notional_usd: Metric = Field(default=None, description="notional closed by ADL, USD")
    contagion_drawdown_ratio: Metric = Field(default=None, description="max drawdown / the leader's")
    contagion_stress_corr: Metric = Field(
        default=None, description="return correlation with the leader in its worst fall"
    )
    contagion_calm_corr: Metric = Field(
        default=None, description="1-minute return correlation with the leader outside its worst fall"
    )
    contagion_lead_lag_s: Metric = Field(
        default=None, description="lag of the peak cross-correlation with the leader, s (> 0: it leads)"
    )
    contagion_lead_lag_corr: Metric = Field(
        default=None, description="the cross-correlation with the leader at that lag"
    )


class CascadeSummary(SummaryRecord):
    """One cascade found by ``model.metrics.detect_cascades``: a price move with heavy liquidations.

    Attributes:
        symbol: the symbol.
        side: the liquidated side: ``long`` (a fall that liquidated longs) or ``short`` (a squeeze).
        start_s: start of the episode, simulated seconds from the start of the run.
        end_s: end of the episode, simulated seconds.
        drop_pct: the signed price change from the episode's first to its last sample, percent.
        liquidated_usd: notional of the liquidated side over the episode, USD.
        move_pct: the move the detection measures, over the whole episode: minus the largest
            peak-to-trough fall (a long cascade) or the largest trough-to-peak rise (a short one),
            percent; at least the definition's ``min_drop`` in size (None in summaries written before it).
    """

    symbol: str
    side: Literal["long", "short"]
    start_s: float = Field(description="start, simulated seconds")
    end_s: float = Field(description="end, simulated seconds")
    drop_pct: Metric = Field(description="signed price move over the episode, percent")
    liquidated_usd: Metric = Field(description="liquidated notional of that side, USD")
    move_pct: Metric = Field(
        default=None, description="the detected move over the episode (peak to trough / trough to peak), %"
    )


class RunTotals(SummaryRecord):
    """All symbols together.

    Attributes:
        liquidations_long_usd: long notional liquidated, USD.
        liquidations_short_usd: short notional liquidated, USD.
        liquidation_count: liquidation events.
        adl_count: auto-deleveraging events.
        oi_start_usd: open interest at the first sample, USD.
        oi_end_usd: open interest at the last sample, USD.
        cascade_count: cascades found (any symbol, either side).
        liquidated_usd: long plus short notional liquidated, USD.
        oi_change_pct: change of the total open interest, percent (None when it started at 0).
    """

    liquidations_long_usd: Metric
    liquidations_short_usd: Metric
    liquidation_count: int
    adl_count: int
    oi_start_usd: Metric
    oi_end_usd: Metric
    cascade_count: int
    liquidated_usd: Metric
    oi_change_pct: Metric


class RunSummary(SummaryRecord):
    """The content of ``summary.json``: bookkeeping, exchange figures, totals, per-symbol metrics, cascades.

    Attributes:
        name: the config's name.
        seed: the run's seed.
        sim_seconds: simulated seconds elapsed.
        wall_seconds: wall-clock seconds of building and stepping the model (machine-dependent).
        steps: steps taken.
        dt_seconds: simulated seconds per step.
        sample_seconds: simulated seconds between samples of the time series.
        duration_hours: the config's run length, simulated hours.
        hours_run: the hours actually simulated (``--hours``, or the whole duration).
        sim_seconds_per_wall_second: speed (machine-dependent; None when the wall time was 0).
        ledger_imbalance: the exchange's books' imbalance, micro-dollars (0: exact, as it must be).
        leader: the first symbol, the one the others follow (None without symbols).
        insurance_fund_start_usd: the insurance fund at the start, USD.
        insurance_fund_min_usd: its lowest balance over the run, USD.
        insurance_fund_end_usd: its balance at the end, USD.
        bad_debt_usd: losses nobody covered (neither the fund nor ADL), USD.
        book_messages: orders and cancels the books processed.
        stops_triggered: stop orders that fired.
        funding_settlements: funding settlement times passed (None in summaries written before it).
        maker_withdrawals: market-maker withdrawals (liquidity pulled).
        reentries: leveraged traders that came back after a liquidation.
        fund_inventory_lots: the insurance fund's position per symbol at the end, lots (signed).
        insurance_fund_peak_usd: the fund's highest sampled balance (at least the start), USD.
        insurance_fund_drawdown_usd: start - minimum, USD (>= 0; a positive magnitude, like
            ``max_drawdown_pct``).
        insurance_fund_drawdown_pct: that drawdown over the start, percent (>= 0).
        insurance_fund_exhausted_s: first sample at which the fund was <= 0, simulated seconds (None:
            never).
        insurance_fund_paid_usd: losses the fund took over (at the mark) plus negative wallets it made
            whole, USD.
        first_liquidation_s: time of the first liquidation, simulated seconds (None: none).
        first_adl_s: time of the first ADL fill, simulated seconds (None: none).
        liquidation_to_adl_s: first ADL - first liquidation, seconds (None without ADL).
        adl_notional_usd: notional closed by ADL, all symbols, USD.
        adl_notional_by_symbol_usd: that per symbol (symbols with ADL only), USD.
        adl_share_below_1x: share of the ADL notional closed on accounts below 1x effective leverage,
            a fraction (None without ADL).
        adl_share_below_3x: the same below 3x.
        adl_rounds: ADL rounds (one per bankrupt position the fund could not absorb).
        adl_shortfall_usd: per round, closing its lots at the bankruptcy price against the mark, summed,
            USD (see ``docs/adl_overshoot.md``).
        adl_haircut_usd: what the ADL closes cost the deleveraged accounts against the mark, USD.
        adl_overshoot_usd: per round max(0, haircut - shortfall), summed, USD.
        cascade_definition: the thresholds the cascades were found with
            (``model.metrics.CascadeDefinition``: ``min_drop``, ``window_s``, ``min_liq_share_of_oi``,
            ``min_liquidated_usd``).
        totals: all symbols together.
        symbols: symbol -> its metrics, in the config's order.
        cascades: the cascades found, by start time.

    The keys from ``insurance_fund_peak_usd`` to ``cascade_definition`` were added after the first
    release: None in summaries written before them.
    """

    name: str
    seed: int = Field(description="the run's seed, 0 <= seed < 2**63")
    sim_seconds: float = Field(description="simulated seconds elapsed")
    wall_seconds: float = Field(description="wall-clock seconds of the run")
    steps: int
    dt_seconds: float = Field(description="simulated seconds per step")
    sample_seconds: float = Field(description="simulated seconds between samples")
    duration_hours: float = Field(description="the config's run length, simulated hours")
    hours_run: float = Field(description="simulated hours actually run")
    sim_seconds_per_wall_second: Metric = Field(description="simulated seconds per wall-clock second")
    ledger_imbalance: int = Field(description="ledger imbalance, micro-dollars (0 = exact)")
    leader: str | None = Field(description="the first symbol")
    insurance_fund_start_usd: Metric = Field(description="insurance fund at the start, USD")
    insurance_fund_min_usd: Metric = Field(description="lowest insurance fund balance, USD")
    insurance_fund_end_usd: Metric = Field(description="insurance fund at the end, USD")
    bad_debt_usd: Metric = Field(description="uncovered losses, USD")
    book_messages: int = Field(description="orders and cancels processed by the books")
    stops_triggered: int = Field(description="stop orders that fired")
    funding_settlements: int | None = Field(default=None, description="funding settlement times passed")
    maker_withdrawals: int = Field(description="market-maker withdrawals")
    reentries: int = Field(description="leveraged traders that re-entered after a liquidation")
    fund_inventory_lots: list[int] = Field(description="insurance fund position per symbol, lots")
    insurance_fund_peak_usd: Metric = Field(default=None, description="highest fund balance, USD")
    insurance_fund_drawdown_usd: Metric = Field(default=None, description="fund start - min, USD")
    insurance_fund_drawdown_pct: Metric = Field(default=None, description="fund drawdown / start, %")
    insurance_fund_exhausted_s: Metric = Field(default=None, description="first time fund <= 0, s")
    insurance_fund_paid_usd: Metric = Field(default=None, description="losses the fund paid, USD")
    first_liquidation_s: Metric = Field(default=None, description="first liquidation, simulated s")
    first_adl_s: Metric = Field(default=None, description="first ADL fill, simulated s")
    liquidation_to_adl_s: Metric = Field(default=None, description="first ADL - first liquidation, s")
    adl_notional_usd: Metric = Field(default=None, description="ADL notional, USD")
    adl_notional_by_symbol_usd: dict[str, Metric] | None = Field(
        default=None, description="ADL notional per symbol, USD"
    )
    adl_share_below_1x: Metric = Field(default=None, description="ADL notional share below 1x, fraction")
    adl_share_below_3x: Metric = Field(default=None, description="ADL notional share below 3x, fraction")
    adl_rounds: int | None = Field(default=None, description="ADL rounds")
    adl_shortfall_usd: Metric = Field(default=None, description="ADL shortfall vs the mark, USD")
    adl_haircut_usd: Metric = Field(default=None, description="ADL haircut vs the mark, USD")
    adl_overshoot_usd: Metric = Field(default=None, description="ADL overshoot, USD")
    cascade_definition: dict[str, float] | None = Field(
        default=None, description="the cascade thresholds used"
    )
    totals: RunTotals
    symbols: dict[str, SymbolSummary]
    cascades: list[CascadeSummary]

    @model_serializer(mode="wrap")
    def _extras_before_tables(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Extra run-level keys go before ``totals``, ``symbols`` and ``cascades``, as the file has them."""
        data: dict[str, Any] = handler(self)
        tables: dict[str, Any] = {k: data.pop(k) for k in ("totals", "symbols", "cascades") if k in data}
        data.update(tables)
        return data

    @property
    def leader_metrics(self) -> SymbolSummary | None:
        """The leader's metrics (the first symbol's when ``leader`` is not set), or None without symbols."""
        name = self.leader or next(iter(self.symbols), None)
        return self.symbols.get(name) if name is not None else None

    def without_wall_clock(self) -> dict[str, Any]:
        """:meth:`to_json_dict` without the keys that measure the machine (to compare identical runs).

        Returns:
            The JSON dict less :data:`WALL_CLOCK_FIELDS`.
        """
        return {k: v for k, v in self.to_json_dict().items() if k not in WALL_CLOCK_FIELDS}

    def to_json(self) -> str:
        """The text of ``summary.json``: two-space indented strict JSON (no NaN), with a final newline.

        Returns:
            The text.
        """
        return json.dumps(self.to_json_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunSummary:
        """Parse the text of a ``summary.json``.

        Args:
            text: the JSON text.

        Returns:
            The summary.

        Raises:
            ValueError: the text is not JSON, or (``pydantic.ValidationError``) not a valid summary.
        """
        # json.loads, not pydantic's JSON parser: the floats must be the ones Python's json reads and writes
        return cls.model_validate(json.loads(text))

    @classmethod
    def read(cls, path: str | Path) -> RunSummary:
        """Read a ``summary.json`` file.

        Args:
            path: the file.

        Returns:
            The summary.

        Raises:
            OSError: the file cannot be read.
            ValueError: it is not JSON, or (``pydantic.ValidationError``) not a valid summary.
        """
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
