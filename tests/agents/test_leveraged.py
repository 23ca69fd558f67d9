"""Leveraged traders' demand for leverage under macro risk-off."""

from __future__ import annotations

from tests.model.market_helpers import run_market, small_params


def _oi_change(cut: float, seed: int) -> float:
    params = small_params(
        leveraged={"risk_off_deleveraging": cut, "holding_hours": 2},
        shocks=[{"kind": "macro_risk_off", "at_hour": 0.05, "size": 3.0}],
        macro={"reversion_per_hour": 0.05},
    )
    market = run_market(params, seed=seed, hours=6.0, dt_seconds=5.0, sample_seconds=300.0)
    assert market.exchange.ledger_imbalance() == 0
    ts = market.timeseries_frame()
    oi = ts.groupby("time_s")["open_interest_usd"].sum()
    return float(oi.iloc[-1] / oi.iloc[0] - 1.0)


def test_risk_off_shrinks_open_interest_only_when_entries_respond_to_it() -> None:
    """Ablation, same seeds: positions turn over every ~2 h; after a risk-off shock the traders who
    take less leverage let open interest shrink, the ones who ignore the factor replace what they close."""
    for seed in (1, 2):
        deaf, responsive = _oi_change(0.0, seed), _oi_change(0.3, seed)
        print(f"seed {seed}: OI change without the cut {deaf:+.3f}, with it {responsive:+.3f}")
        assert responsive < deaf - 0.05
