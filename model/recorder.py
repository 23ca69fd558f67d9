"""Recorder: the market's sampled time series and event tables, read from the model, never written back.

Every ``sample_seconds`` the recorder samples each symbol's book, prices, open interest, funding and the
flows since the previous sample (volume, long and short liquidations) into a Mesa ``DataCollector``;
liquidation and ADL events are the engine's own lists. The frames are built on demand:
:meth:`Recorder.timeseries_frame` (long format, one row per time and symbol, the columns of
:data:`TIMESERIES_COLUMNS`), :meth:`Recorder.liquidations_frame`, :meth:`Recorder.adl_frame`, and the
run-level figures of :meth:`Recorder.summary_extras`.

Recording reads state only (it keeps its own counters of the flows already sampled), so the record
phase can be switched off without changing what the market does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import mesa
import pandas as pd

from model.exchange import MICRO
from model.ledger import Ledger
from model.liquidation import ADL_COLUMNS, LIQUIDATION_COLUMNS
from model.metrics import DEFAULT_CASCADE, adl_metrics, insurance_fund_profile

if TYPE_CHECKING:
    from model.market import CryptoMarket

TIMESERIES_COLUMNS = (
    "mid",
    "last",
    "mark",
    "index",
    "index_path",
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
"""Columns of the sampled time series besides ``time_s`` and ``symbol`` (USD unless named otherwise).

``index`` is the spot index the mark and funding use: the exogenous path times what basis arbitrage and
spot impact added; ``index_path`` is the exogenous path alone (drivers: news, macro drift, shocks), so
that what the agents add to a price can be told from what the drivers put in (the stylized facts'
variance share of the perp's returns that the path explains)."""


class Recorder:
    """Samples a :class:`~model.market.CryptoMarket` and builds its output tables.

    Args:
        market: the market it reads.
        sample_seconds: interval of the sampled time series, simulated seconds (>= the market's dt).
    """

    def __init__(self, market: CryptoMarket, sample_seconds: float) -> None:
        self.market = market
        self.sample_seconds = float(sample_seconds)
        n = market.exchange.n_symbols
        self._liq_prev = [0] * n * 2  # cumulative long/short liquidated micro-dollars at the last sample
        self._vol_prev = [0] * n  # cumulative traded notional (micro-dollars) at the last sample
        self._sample: dict[str, list[float]] = {}
        self.next_sample_s = 0.0
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "time_s": lambda m: m.time_s,
                **{c: self._getter(c) for c in TIMESERIES_COLUMNS},
            }
        )

    def _getter(self, column: str) -> Callable[[Any], list[float]]:
        def get(_model: Any) -> list[float]:
            return list(self._sample[column])

        return get

    def maybe_record(self) -> None:
        """Record a sample when the market's clock has reached the next sampling time."""
        if self.market.exchange.time_s >= self.next_sample_s - 1e-9:
            self.record()

    def record(self) -> None:
        """Sample every symbol now and schedule the next sample ``sample_seconds`` later."""
        market = self.market
        ex = market.exchange
        eng = market.engine
        ts = ex.tick_size_usd
        sample: dict[str, list[float]] = {c: [] for c in TIMESERIES_COLUMNS}
        oi = market.open_interest_usd()
        fund = ex.insurance_fund_usd
        for s in range(ex.n_symbols):
            bb, ba = ex.best_bid(s), ex.best_ask(s)
            bid_usd, ask_usd = ex.depth_within_usd(s, 0.01)
            vol = ex.volume_notional_micro[s]
            ll, ls = eng.liquidated_long_micro[s], eng.liquidated_short_micro[s]
            sample["mid"].append(ex.mid_ticks(s) * ts[s])
            sample["last"].append(ex.last_ticks(s) * ts[s])
            sample["mark"].append(ex.mark_usd(s))
            sample["index"].append(ex.index_usd(s))
            sample["index_path"].append(ex.index_path_ticks(s) * ts[s])
            sample["best_bid"].append(bb * ts[s] if bb is not None else math.nan)
            sample["best_ask"].append(ba * ts[s] if ba is not None else math.nan)
            sample["depth_1pct_usd"].append(bid_usd + ask_usd)
            sample["volume_usd"].append((vol - self._vol_prev[s]) / MICRO)
            sample["open_interest_usd"].append(oi[s])
            sample["funding_rate"].append(ex.funding_rate[s])
            sample["liq_long_usd"].append((ll - self._liq_prev[2 * s]) / MICRO)
            sample["liq_short_usd"].append((ls - self._liq_prev[2 * s + 1]) / MICRO)
            sample["insurance_fund_usd"].append(fund)
            sample["sentiment"].append(market.fear_greed.value)
            sample["macro"].append(market.macro.value)
            self._vol_prev[s] = vol
            self._liq_prev[2 * s], self._liq_prev[2 * s + 1] = ll, ls
        self._sample = sample
        self.datacollector.collect(market)
        self.next_sample_s += self.sample_seconds

    # ------------------------------------------------------------------ tables

    def timeseries_frame(self) -> pd.DataFrame:
        """The sampled series in long format: one row per (time_s, symbol)."""
        wide = self.datacollector.get_model_vars_dataframe()
        names = self.market.exchange.names
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
        return pd.DataFrame(self.market.engine.events, columns=list(LIQUIDATION_COLUMNS))

    def adl_frame(self) -> pd.DataFrame:
        """Every auto-deleveraging fill, one row each (account = the deleveraged counterparty)."""
        return pd.DataFrame(self.market.engine.adl_events, columns=list(ADL_COLUMNS))

    def summary_extras(self) -> dict[str, Any]:
        """Run-level figures of the exchange and its risk engine for ``summary.json``.

        The first keys (insurance fund start/min/end ... ``fund_inventory_lots``) are the original ones;
        the risk figures follow, in this order (USD unless named otherwise; see ``docs/adl_overshoot.md``):

        - ``insurance_fund_peak_usd``, ``insurance_fund_drawdown_usd`` (start - min),
          ``insurance_fund_drawdown_pct`` (that over the start, %), ``insurance_fund_exhausted_s`` (first
          sample with the fund <= 0, simulated seconds; None: never), ``insurance_fund_paid_usd`` (losses
          the fund took over at the mark plus negative wallets it made whole);
        - ``first_liquidation_s``, ``first_adl_s`` (simulated seconds; None: none) and
          ``liquidation_to_adl_s`` (their difference; None without ADL);
        - ``adl_notional_usd``, ``adl_notional_by_symbol_usd``, ``adl_share_below_1x``,
          ``adl_share_below_3x`` (:func:`model.metrics.adl_metrics`), ``adl_rounds`` (ADL rounds),
          ``adl_shortfall_usd``, ``adl_haircut_usd`` and ``adl_overshoot_usd`` (the engine's
          accumulators);
        - ``cascade_definition``: the default :class:`model.metrics.CascadeDefinition`, which
          ``model.metrics.summarize`` uses unless it is given another.
        """
        market = self.market
        ex = market.exchange
        eng = market.engine
        start = ex.insurance_fund_start_micro / MICRO
        minimum = min(eng.fund_min_micro, ex.insurance_fund_start_micro) / MICRO
        out: dict[str, Any] = {
            "insurance_fund_start_usd": start,
            "insurance_fund_min_usd": minimum,
            "insurance_fund_end_usd": ex.insurance_fund_usd,
            "bad_debt_usd": ex.ledger.bad_debt_micro / MICRO,
            "book_messages": ex.messages,
            "stops_triggered": ex.stops_triggered,
            "funding_settlements": ex.funding_settlements,
            "maker_withdrawals": int(sum(m.withdrawals for m in market.makers)),
            "reentries": market.reentries,
            "fund_inventory_lots": [int(v) for v in ex.ledger.pos[Ledger.FUND]],
        }
        samples = self.datacollector.model_vars
        times = samples.get("time_s", [])
        fund = [row[0] if len(row) else start for row in samples.get("insurance_fund_usd", [])]
        out.update(insurance_fund_profile(times, fund, start, minimum, eng.fund_exhausted_s))
        fund_col = LIQUIDATION_COLUMNS.index("fund_delta_usd")
        kind_col = LIQUIDATION_COLUMNS.index("kind")
        deltas = [e[fund_col] for e in eng.events if e[kind_col] == "takeover"]
        taken = sum(-float(d) for d in deltas if isinstance(d, int | float) and d < 0)
        out["insurance_fund_paid_usd"] = taken + eng.deficits_covered_micro / MICRO
        first_liq, first_adl = eng.first_liquidation_s, eng.first_adl_s
        out["first_liquidation_s"] = first_liq
        out["first_adl_s"] = first_adl
        out["liquidation_to_adl_s"] = (
            first_adl - first_liq if first_adl is not None and first_liq is not None else None
        )
        out.update(adl_metrics(self.adl_frame()))
        out["adl_rounds"] = int(eng.adl_rounds)
        out["adl_shortfall_usd"] = eng.adl_shortfall_micro / MICRO
        out["adl_haircut_usd"] = eng.adl_haircut_micro / MICRO
        out["adl_overshoot_usd"] = eng.adl_overshoot_micro / MICRO
        out["cascade_definition"] = DEFAULT_CASCADE.as_dict()
        return out
