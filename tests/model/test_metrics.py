"""The pure metrics on hand-made tables, with results worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from model.metrics import deleveraging_profile, detect_cascades, max_drawdown, max_drawup

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
