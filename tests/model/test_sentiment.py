"""The fear-and-greed index reads the market's state; its trend term turns a slow grind into fear."""

from __future__ import annotations

import math

from model.params import SentimentParams
from model.sentiment import FearGreedIndex

BASE_VOL_1S = 0.015 / math.sqrt(86_400.0)  # a calm BTC: 1.5% a day


def _after_a_week(weight_trend: float, pct_per_day: float) -> float:
    """The index after 7 days of a steady move of ``pct_per_day``, nothing else happening."""
    index = FearGreedIndex(SentimentParams(weight_trend=weight_trend, halflife_seconds=3600.0))
    log_price = math.log(78_000.0)
    per_step = math.log1p(pct_per_day) / 1440.0
    for _ in range(7 * 1440):  # one-minute steps
        log_price += per_step
        index.update(
            60.0,
            recent_return=per_step * 60.0,
            vol_1s=BASE_VOL_1S,
            liq_share_per_hour=0.0,
            funding_rate=0.0001,
            base_vol_1s=BASE_VOL_1S,
            log_price=log_price,
        )
    return index.value


def test_a_slow_grind_lower_is_fear_only_with_the_trend_term() -> None:
    # -1% a day: no single hour is dramatic (z of the hourly return ~ -0.14)
    hourly_only, with_trend = _after_a_week(0.0, -0.01), _after_a_week(1.0, -0.01)
    print(f"after a week of -1%/day: hourly terms only {hourly_only:.1f}, with the trend {with_trend:.1f}")
    assert 45.0 < hourly_only < 56.0  # neutral: funding at its base rate tilts it slightly up
    assert with_trend < hourly_only - 6.0


def test_the_trend_term_is_symmetric_a_slow_rally_is_greed() -> None:
    assert _after_a_week(1.0, 0.01) > _after_a_week(0.0, 0.01) + 6.0


def test_without_a_price_the_trend_term_is_off() -> None:
    a = FearGreedIndex(SentimentParams(weight_trend=1.0))
    b = FearGreedIndex(SentimentParams(weight_trend=0.0))
    for _ in range(100):
        args = (60.0, -0.002, BASE_VOL_1S, 0.001, 0.0001, BASE_VOL_1S)
        assert a.update(*args) == b.update(*args)
