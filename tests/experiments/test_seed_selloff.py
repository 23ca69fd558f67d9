"""The seed scenario against the episode it was built from (MARKET_FACTS.md §1), over several seeds.

One month at 1-minute steps per seed (about 2.5 minutes of wall time each), run through the Monte Carlo
machinery as a user's study would be; marked ``slow`` (about 17 minutes on 2 cores for the three tests):
the shape over 4 seeds, then two ablations of the month with the same seeds (risk-off deleveraging, and
value money against heavy forced whale selling). The default suite runs a short version of the
scenario (``test_scenarios.py``) and the mechanisms behind the shape one by one (value traders, risk-off
deleveraging, the trend term of sentiment: ``tests/agents``, ``tests/model``).

§1 in figures: BTC from ~$78K through the $75K support toward $67K (about -14%); long liquidations
persistent (weekly/daily ~9 and monthly/weekly ~2 on the days reported); perpetual open interest about
-34% over the month; altcoins following BTC. One seed is one path: the bands hold the median of the
seeds, as a study would report it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.runner import run
from experiments.study import sweep

pytestmark = pytest.mark.slow

SEEDS = 4


def test_seed_selloff_has_the_shape_of_the_episode(tmp_path: Path) -> None:
    table = sweep("seed_selloff", seeds=SEEDS, workers=2, out=tmp_path / "study", report=False)
    ok = table[table["status"] == "ok"]
    assert len(ok) == SEEDS
    assert (ok["ledger_imbalance"] == 0).all()
    med = ok.median(numeric_only=True)
    persistence_week_day = (ok["BTC_long_liq_max_week_usd"] / ok["BTC_long_liq_max_day_usd"]).median()
    month_week = (ok["BTC_liquidations_long_usd"] / ok["BTC_long_liq_max_week_usd"]).median()
    print(
        f"median over {SEEDS} seeds: BTC return {med['BTC_return_pct']:+.1f}%, "
        f"max drawdown {med['BTC_max_drawdown_pct']:.1f}%, OI {med['BTC_oi_change_pct']:+.1f}%, "
        f"long share {med['BTC_long_liq_share']:.2f}, worst week / worst day {persistence_week_day:.2f}, "
        f"month / worst week {month_week:.2f}, "
        f"ETH {med['ETH_return_pct']:+.1f}%, SOL {med['SOL_return_pct']:+.1f}%"
    )
    # the price: a grind lower of about 14%, not a crash and not a random walk
    assert -25.0 < med["BTC_return_pct"] < -5.0
    assert med["BTC_max_drawdown_pct"] < 35.0
    # deleveraging: open interest falls by about a third, and it is longs that are cleared
    assert -50.0 < med["BTC_oi_change_pct"] < -15.0
    assert med["BTC_long_liq_share"] > 0.6
    # persistence: the clearing is spread over weeks, not concentrated in one day or one week
    assert persistence_week_day > 1.7
    assert 1.4 < month_week < 4.0
    # the altcoins follow BTC down
    assert med["ETH_return_pct"] < 0.0 and med["SOL_return_pct"] < 0.0


def test_the_month_deleverages_through_risk_off_not_by_script(tmp_path: Path) -> None:
    """Ablation over the month, same seeds (common random numbers): with traders who take the same
    leverage whatever the macro factor, open interest ends the month about flat; with the scenario's
    risk-off deleveraging it falls by about a quarter, and the liquidations tilt further to longs."""
    key = "market.leveraged.risk_off_deleveraging"
    table = sweep(
        "seed_selloff", seeds=3, grid={key: [0.0, 0.35]}, workers=2, out=tmp_path / "ablation", report=False
    )
    ok = table[table["status"] == "ok"]
    assert len(ok) == 6
    med = ok.groupby(key)[["BTC_oi_change_pct", "BTC_long_liq_share"]].median()
    print(med.to_string())
    assert med.loc[0.35, "BTC_oi_change_pct"] < med.loc[0.0, "BTC_oi_change_pct"] - 15.0
    assert med.loc[0.35, "BTC_long_liq_share"] > med.loc[0.0, "BTC_long_liq_share"]


HEAVY_WHALES = [  # the previous calibration: $200M of underwater whales whose stop-loss is inside the range
    "market.large_holders.count=5",
    "market.large_holders.inventory_usd=40000000",
    "market.large_holders.cost_basis_premium=0.12",
    "market.large_holders.drawdown_limit=0.18",
]


def test_value_money_keeps_forced_whale_selling_from_running_away() -> None:
    """Ablation over the month, same seed: with $200M of whales forced to sell below $71.6K, the market
    without value traders collapses far under the fundamental path (the failure of the previous
    calibration); with them the forced selling is absorbed and the month stays a grind."""

    results = {}
    for count in (0, 12):
        overrides = [*HEAVY_WHALES, f"market.background.value_count={count}"]
        results[count] = run("seed_selloff", seed=4, overrides=overrides)
    for count, result in results.items():
        assert result.summary.ledger_imbalance == 0
        btc = result.summary.symbols["BTC"]
        print(f"value traders {count}: BTC {btc.return_pct:+.1f}%, max dd {btc.max_drawdown_pct:.1f}%")
    without, with_value = (results[c].summary.symbols["BTC"] for c in (0, 12))
    assert without.max_drawdown_pct is not None and without.max_drawdown_pct > 45.0
    assert with_value.max_drawdown_pct is not None and with_value.max_drawdown_pct < 35.0
    assert with_value.oi_change_pct is not None and without.oi_change_pct is not None
    assert with_value.oi_change_pct > without.oi_change_pct + 25.0
