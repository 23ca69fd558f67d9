"""The pure metrics on hand-made tables, with results worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from model.metrics import (
    CASCADE_DROP,
    DEFAULT_CASCADE,
    CascadeDefinition,
    adl_metrics,
    contagion,
    deleveraging_profile,
    detect_cascades,
    insurance_fund_profile,
    max_drawdown,
    max_drawup,
    stress_window,
    summarize,
)

DAY = 86_400.0


def _series(mid: list[float], liq_long: list[float], liq_short: list[float], oi: list[float], step_s: float):
    n = len(mid)
    return pd.DataFrame(
        {
            "time_s": np.arange(n) * step_s,
            "symbol": ["BTC"] * n,
            "mid": mid,
            "liq_long_usd": liq_long,
            "liq_short_usd": liq_short,
            "open_interest_usd": oi,
        }
    )


def test_drawdown_and_drawup_of_a_known_path() -> None:
    assert max_drawdown([100, 120, 90, 110, 60, 80]) == pytest.approx(0.5)  # 120 -> 60
    assert max_drawup([100, 50, 75, 40, 80]) == pytest.approx(1.0)  # 40 -> 80


def test_deleveraging_profile_of_a_one_day_crash() -> None:
    # 14 days sampled daily; everything is liquidated on day 3: the clearing is not persistent
    liq = [0.0] * 14
    liq[3] = 100.0
    ts = _series([100.0] * 3 + [80.0] * 11, liq, [0.0] * 13 + [25.0], [200.0] * 13 + [150.0], DAY)
    p = deleveraging_profile(ts, "BTC")
    assert p["long_liq_max_day_usd"] == 100.0
    assert p["long_liq_max_week_usd"] == 100.0
    assert p["week_over_day"] == 1.0 and p["total_over_week"] == 1.0
    assert p["long_share"] == pytest.approx(0.8)
    assert p["days_with_long_liq"] == 1
    assert p["return_pct"] == pytest.approx(-20.0)
    assert p["oi_change_pct"] == pytest.approx(-25.0)
    assert p["min_price_usd"] == 80.0


def test_deleveraging_profile_of_an_even_month_of_clearing() -> None:
    # 28 days, 10 liquidated every day: a week holds 70 (7x a day), the month 280 (4x a week)
    ts = _series([100.0 - d for d in range(28)], [10.0] * 28, [0.0] * 28, [100.0] * 28, DAY)
    p = deleveraging_profile(ts, "BTC")
    assert p["week_over_day"] == pytest.approx(7.0)
    assert p["total_over_week"] == pytest.approx(4.0)
    assert p["days_with_long_liq"] == 28
    assert p["long_share"] == 1.0
    assert math.isclose(p["max_drawdown_pct"], 27.0)


def test_a_fall_with_liquidations_is_a_cascade_and_a_fall_without_is_not() -> None:
    mid = [100.0, 99.0, 97.0, 95.0, 95.0]
    oi = [1000.0] * 5
    with_liq = _series(mid, [0.0, 5.0, 10.0, 5.0, 0.0], [0.0] * 5, oi, 60.0)
    without = _series(mid, [0.0] * 5, [0.0] * 5, oi, 60.0)
    found = detect_cascades(with_liq)
    assert len(found) == 1 and found[0]["side"] == "long"
    assert found[0]["liquidated_usd"] == pytest.approx(20.0)
    assert detect_cascades(without) == []


def test_the_reported_move_of_a_cascade_is_the_detected_one_and_reaches_the_threshold() -> None:
    # a rise to 104 then a fall to 100.5: first-to-last is +0.5% (the old, misleading "drop"), but the
    # detection saw 104 -> 100.5 = -3.37% within 15 minutes, and that is the move reported
    mid = [100.0, 104.0, 103.0, 101.0, 100.5]
    found = detect_cascades(_series(mid, [0.0, 0.0, 10.0, 10.0, 0.0], [0.0] * 5, [1000.0] * 5, 60.0))
    assert len(found) == 1
    assert found[0]["drop_pct"] == pytest.approx(0.5)
    assert found[0]["move_pct"] == pytest.approx((100.5 / 104.0 - 1) * 100)
    assert found[0]["move_pct"] <= -CASCADE_DROP * 100


def test_the_cascade_definition_sets_the_thresholds() -> None:
    mid = [100.0, 99.0, 97.0, 95.0, 95.0]
    ts = _series(mid, [0.0, 5.0, 10.0, 5.0, 0.0], [0.0] * 5, [1000.0] * 5, 60.0)
    assert CascadeDefinition(0.03, 900.0, 0.01, 0.0) == DEFAULT_CASCADE
    assert len(detect_cascades(ts, CascadeDefinition())) == 1
    assert detect_cascades(ts, CascadeDefinition(min_drop=0.06)) == []  # a 5% fall is not 6%
    assert detect_cascades(ts, CascadeDefinition(window_s=60.0)) == []  # no 3% within one minute
    assert detect_cascades(ts, CascadeDefinition(min_liq_share_of_oi=0.05)) == []  # $20 < 5% of $1,000
    assert detect_cascades(ts, CascadeDefinition(min_liquidated_usd=25.0)) == []
    summary = summarize(
        ts.assign(volume_usd=0.0), pd.DataFrame(), pd.DataFrame(), CascadeDefinition(min_drop=0.06)
    )
    assert summary["cascades"] == [] and summary["cascade_definition"]["min_drop"] == 0.06
    assert "at least 3% against one side within 15 minutes" in DEFAULT_CASCADE.describe()


def test_adl_metrics_of_a_hand_built_adl_table() -> None:
    adl = pd.DataFrame(
        {
            "symbol": ["BTC", "BTC", "ETH", "ETH"],
            "notional_usd": [600.0, 200.0, 150.0, 50.0],
            "effective_leverage": [0.2, 2.5, 0.9, 4.0],
        }
    )
    m = adl_metrics(adl)
    assert m["adl_notional_usd"] == 1000.0
    assert m["adl_notional_by_symbol_usd"] == {"BTC": 800.0, "ETH": 200.0}
    assert m["adl_share_below_1x"] == pytest.approx(0.75)  # 600 + 150
    assert m["adl_share_below_3x"] == pytest.approx(0.95)  # + 200
    none = adl_metrics(adl.iloc[:0])
    assert none["adl_notional_usd"] == 0.0 and none["adl_share_below_1x"] is None


def test_insurance_fund_profile_peak_drawdown_and_exhaustion() -> None:
    p = insurance_fund_profile([0, 30, 60, 90], [100.0, 120.0, 0.0, 10.0], start_usd=100.0, minimum_usd=-5.0)
    assert p == {
        "insurance_fund_peak_usd": 120.0,
        "insurance_fund_drawdown_usd": 105.0,
        "insurance_fund_drawdown_pct": 105.0,
        "insurance_fund_exhausted_s": 60.0,
    }
    calm = insurance_fund_profile([0, 30], [100.0, 101.0], start_usd=100.0, minimum_usd=100.0)
    assert calm["insurance_fund_exhausted_s"] is None and calm["insurance_fund_drawdown_usd"] == 0.0


def test_contagion_in_the_leader_s_worst_fall() -> None:
    t = np.arange(8) * 60.0
    btc = [100.0, 102.0, 101.0, 99.0, 96.0, 92.0, 95.0, 97.0]  # worst fall: 102 (60 s) -> 92 (300 s)
    eth = [50.0, 51.0, 50.0, 48.0, 45.0, 40.0, 42.0, 41.0]
    ts = pd.DataFrame(
        {"time_s": np.concatenate([t, t]), "symbol": ["BTC"] * 8 + ["ETH"] * 8, "mid": btc + eth}
    )
    assert stress_window(ts, "BTC") == (60.0, 300.0)
    c = contagion(ts, "BTC")["ETH"]
    assert c["drawdown_ratio"] == pytest.approx((1 - 40 / 51) / (1 - 92 / 102))
    rb, re = np.diff(np.log(btc[1:6])), np.diff(np.log(eth[1:6]))
    assert c["stress_corr"] == pytest.approx(float(np.corrcoef(re, rb)[0, 1]))

    # outside the window only the return 360 s -> 420 s has both ends outside: too few for a correlation
    assert c["calm_corr"] is None


def _led(lag_samples: int, sample_s: float, n: int = 2000) -> pd.DataFrame:
    """A leader's random walk and an alt that repeats its returns ``lag_samples`` samples later, half
    their size, plus its own noise."""
    rng = np.random.default_rng(5)
    rb = rng.normal(0.0, 1e-3, n)
    ra = 0.5 * np.roll(rb, lag_samples) + rng.normal(0.0, 3e-4, n)
    ra[:lag_samples] = rng.normal(0.0, 3e-4, lag_samples)
    t = np.arange(n + 1) * sample_s
    btc = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(rb)]))
    eth = 50.0 * np.exp(np.concatenate([[0.0], np.cumsum(ra)]))
    return pd.DataFrame(
        {
            "time_s": np.concatenate([t, t]),
            "symbol": ["BTC"] * (n + 1) + ["ETH"] * (n + 1),
            "mid": [*btc, *eth],
        }
    )


def test_lead_lag_finds_the_leaders_lead_at_the_sample_resolution() -> None:
    c = contagion(_led(3, 5.0), "BTC")["ETH"]
    assert c["lead_lag_s"] == 15.0  # three 5-s samples
    assert c["lead_lag_corr"] == pytest.approx(0.5e-3 / np.hypot(0.5e-3, 3e-4), abs=0.05)
    # the alt's 1-minute returns (12 samples) hold most of the leader's, 15 s later
    assert 0.5 < c["calm_corr"] < 0.95
    # an alt that moves at once: no lead; an alt that leads is a negative lag
    assert contagion(_led(0, 5.0), "BTC")["ETH"]["lead_lag_s"] == 0.0
    swapped = _led(2, 5.0).replace({"symbol": {"BTC": "ETH", "ETH": "BTC"}})
    assert contagion(swapped, "BTC")["ETH"]["lead_lag_s"] == -10.0
