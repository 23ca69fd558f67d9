"""Issue 13's claim 4 on the calm candidate with the spot coupling off: BTC leads and the agents carry it.

With ``contagion.index_coupling`` off no alt index loads on BTC's, so whatever makes the alts move with BTC
is an agent's doing. The market is ``calm_market`` with the eighth round's agent-carried settings
(:data:`AGENT_CARRIED`, docs/calm_market.md "c1L"): alt betas near the real ones, makers and basis
arbitrageurs pricing the alts off BTC's book. Each measure is compared, same seeds, with the
``maker_leader_pricing`` channel off (makers and arbitrageurs then price the alts off their own index
only), and the paired difference's 95% t-interval over seeds and alts must exclude zero.

What is asserted (model.metrics.contagion, 1-s samples):

- BTC leads: the cross-correlation of BTC's and each alt's 1-s returns peaks with BTC leading by 1 to 60 s
  in every run with the channel on; with it off there is no lead worth the name, so the peak correlation
  falls (the difference's interval excludes zero).
- The market moves together: the calm correlation of 1-minute returns rises with the channel.
- Stress correlation: after a BTC-only -8% index jump, the alts' 5-s returns correlate with BTC's inside
  BTC's worst fall far more than in the calm hour before the jump. The jump's own 5-s return weighs most
  in that window: the makers move the alts' quotes in the same seconds as BTC's (with the channel off the
  alts do not move then).

Not asserted, because it does not hold yet: claim 4's calm level of 0.5-0.9. Over these two-hour runs the
calm 1-minute correlation is 0.25-0.65 (0.55 for ETH and 0.39 for SOL over five 24-h runs); see
docs/contagion.md, "Claim 4 under the calm candidate".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from experiments import run
from experiments.stats import paired_t_interval
from model.metrics import contagion, stress_window, symbol_frame

AGENT_CARRIED = [
    "market.contagion.index_coupling=false",
    "market.symbols=[{name: BTC, price_usd: 78450, tick_size_usd: 0.1, lot_size: 0.001, "
    "index_vol_per_day: 0.01125, spot_impact_per_musd: 0.0005}, {name: ETH, price_usd: 2525, "
    "tick_size_usd: 0.01, lot_size: 0.01, index_vol_per_day: 0.009, btc_beta: 1.0, liquidity_scale: 0.5, "
    "spot_impact_per_musd: 0.001}, {name: SOL, price_usd: 151, tick_size_usd: 0.01, lot_size: 0.1, "
    "index_vol_per_day: 0.012, btc_beta: 1.2, liquidity_scale: 0.25, spot_impact_per_musd: 0.002, "
    "max_leverage: 50}]",
    "market.market_makers.leader_pricing=1.0",
    "market.market_makers.leader_pricing_follow_seconds=50",
    "market.background.fundamental_leader_pricing=1.0",
]
"""``calm_market`` overrides of the eighth round's c1L candidate (docs/calm_market.md)."""

CHANNEL_OFF = ["market.contagion.maker_leader_pricing=false"]
BTC_JUMP_AT_HOUR = 1.5
BTC_JUMP = [f"market.shocks=[{{kind: index_jump, at_hour: {BTC_JUMP_AT_HOUR}, symbol: BTC, pct: -0.08}}]"]
SEEDS = (1, 2, 3)
SLOW_SEEDS = tuple(range(1, 11))
HOURS = 2.0
ALTS = ("ETH", "SOL")


def _timeseries(seed: int, channel: bool, extra: list[str], sample_s: int) -> pd.DataFrame:
    overrides = AGENT_CARRIED + ([] if channel else CHANNEL_OFF) + extra + [f"sample_seconds={sample_s}"]
    return run("calm_market", seed=seed, hours=HOURS, figures=False, overrides=overrides).timeseries


def _calm(seeds: tuple[int, ...]) -> dict[tuple[int, bool], dict[str, dict[str, Any]]]:
    return {(s, ch): contagion(_timeseries(s, ch, [], 1), "BTC") for s in seeds for ch in (True, False)}


def _stress_and_calm_corr(ts: pd.DataFrame, alt: str) -> tuple[float, float]:
    """Correlation of the alt's 5-s log-returns with BTC's inside BTC's worst fall, and in the calm before
    the jump (returns that end before it)."""
    window = stress_window(ts, "BTC")
    assert window is not None
    btc = symbol_frame(ts, "BTC")
    t = btc["time_s"].to_numpy(dtype=np.float64)
    rb = np.diff(np.log(btc["mid"].to_numpy(dtype=np.float64)))
    ra = np.diff(np.log(symbol_frame(ts, alt)["mid"].to_numpy(dtype=np.float64)))
    inside = (t >= window[0]) & (t <= window[1])
    stressed = inside[1:] & inside[:-1]
    calm = t[1:] < BTC_JUMP_AT_HOUR * 3600.0
    return float(np.corrcoef(ra[stressed], rb[stressed])[0, 1]), float(np.corrcoef(ra[calm], rb[calm])[0, 1])


def _lower_95(differences: list[float]) -> float:
    """Lower end of the 95% t-interval of the mean of paired differences."""
    return paired_t_interval(differences)[1]


@pytest.fixture(scope="module")
def calm() -> dict[tuple[int, bool], dict[str, dict[str, Any]]]:
    return _calm(SEEDS)


def _assert_btc_leads(res: dict[tuple[int, bool], dict[str, dict[str, Any]]], seeds: tuple[int, ...]) -> None:
    lead_gain, corr_gain = [], []
    for seed in seeds:
        on, off = res[(seed, True)], res[(seed, False)]
        for alt in ALTS:
            print(f"\nseed {seed} {alt}: on {on[alt]}\n            off {off[alt]}")
            # the claim: BTC leads by seconds to a minute (LEAD_LAG_MAX_S bounds the search at 60 s)
            assert on[alt]["lead_lag_s"] is not None and 1.0 <= on[alt]["lead_lag_s"] <= 60.0
            lead_gain.append(on[alt]["lead_lag_corr"] - off[alt]["lead_lag_corr"])
            corr_gain.append(on[alt]["calm_corr"] - off[alt]["calm_corr"])
    print(f"lead-lag corr gain {np.mean(lead_gain):.3f}, calm 1-min corr gain {np.mean(corr_gain):.3f}")
    assert _lower_95(lead_gain) > 0.0
    assert _lower_95(corr_gain) > 0.0


def test_btc_leads_the_alts_by_seconds_through_the_makers_and_arbitrageurs(calm: dict) -> None:
    _assert_btc_leads(calm, SEEDS)


def test_the_alts_correlate_with_btc_more_in_its_fall_than_in_the_calm_before() -> None:
    gains = []
    for seed in SEEDS:
        on = _timeseries(seed, True, BTC_JUMP, 5)
        off = _timeseries(seed, False, BTC_JUMP, 5)
        for alt in ALTS:
            stressed, quiet = _stress_and_calm_corr(on, alt)
            stressed_off, _ = _stress_and_calm_corr(off, alt)
            print(f"\nseed {seed} {alt}: 5-s corr in BTC's fall {stressed:.3f} (off {stressed_off:.3f})")
            print(f"    before the jump {quiet:.3f}")
            # stress correlation: the fall moves the alts with BTC more than ordinary minutes do (0.2: well
            # beyond the +-0.1 that a correlation of a few hundred 5-s returns moves by chance)
            assert stressed > quiet + 0.2
            gains.append(stressed - stressed_off)
    assert _lower_95(gains) > 0.0  # and it is the channel that carries the fall into the alts


@pytest.mark.slow
def test_btc_leads_the_alts_over_ten_seeds() -> None:
    _assert_btc_leads(_calm(SLOW_SEEDS), SLOW_SEEDS)
