"""Margin brackets, maintenance, max leverage, liquidation and bankruptcy prices: worked examples.

Every expected number is computed by hand in the test from the venues' published rules
(``MARKET_FACTS.md`` §3): the Binance BTCUSDT bracket template of ``model.venues.BINANCE_BTC_TIERS``,
Hyperliquid's half-initial rule and the textbook isolated-margin formulas. Nothing here calls the code
under test to produce an expected value.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.margin import LONG, SHORT, MarginSchedule, bankruptcy_price, liquidation_price
from model.venues import BINANCE_BTC_TIERS

# (bound, mmr, imr) of the template, and Binance's published maintenance amounts for it.
BOUNDS = [50e3, 250e3, 1e6, 5e6, 20e6, 50e6, 100e6, 200e6, 500e6]
MMR = [0.004, 0.005, 0.01, 0.025, 0.05, 0.10, 0.125, 0.15, 0.25]
# amount[i] = amount[i-1] + bound[i-1] x (mmr[i] - mmr[i-1]), worked out term by term:
EXPECTED_AMOUNTS = [
    0.0,
    50_000 * (0.005 - 0.004),  # 50
    50 + 250_000 * (0.01 - 0.005),  # 1,300
    1_300 + 1_000_000 * (0.025 - 0.01),  # 16,300
    16_300 + 5_000_000 * (0.05 - 0.025),  # 141,300
    141_300 + 20_000_000 * (0.10 - 0.05),  # 1,141,300
    1_141_300 + 50_000_000 * (0.125 - 0.10),  # 2,391,300
    2_391_300 + 100_000_000 * (0.15 - 0.125),  # 4,891,300
    4_891_300 + 200_000_000 * (0.25 - 0.15),  # 24,891,300
]
EXPECTED_MAX_LEVERAGE = [125, 100, 50, 20, 10, 5, 4, 3, 2]


@pytest.fixture
def binance() -> MarginSchedule:
    return MarginSchedule(
        [(t["max_notional_usd"], t["mmr"], t["imr"]) for t in BINANCE_BTC_TIERS], max_leverage=125.0
    )


# ---------------------------------------------------------------------------------------------- brackets


def test_preset_template_is_the_published_bracket() -> None:
    assert [t["max_notional_usd"] for t in BINANCE_BTC_TIERS] == BOUNDS
    assert [t["mmr"] for t in BINANCE_BTC_TIERS] == MMR


def test_maintenance_amounts_make_the_schedule_continuous(binance: MarginSchedule) -> None:
    assert EXPECTED_AMOUNTS[1] == pytest.approx(50.0)
    assert EXPECTED_AMOUNTS[2] == pytest.approx(1_300.0)
    assert EXPECTED_AMOUNTS[-1] == pytest.approx(24_891_300.0)
    np.testing.assert_allclose(binance.maint_amount_usd, EXPECTED_AMOUNTS, rtol=1e-12, atol=1e-6)


@pytest.mark.parametrize(
    ("notional", "expected"),
    [
        (10_000, 10_000 * 0.004),  # tier 1: 40
        (50_000, 50_000 * 0.004),  # the bound itself belongs to tier 1: 200
        (100_000, 100_000 * 0.005 - 50),  # 450
        (250_000, 250_000 * 0.005 - 50),  # 1,200
        (600_000, 600_000 * 0.01 - 1_300),  # 4,700
        (3_000_000, 3_000_000 * 0.025 - 16_300),  # 58,700
        (10_000_000, 10_000_000 * 0.05 - 141_300),  # 358,700
        (450_000_000, 450_000_000 * 0.25 - 24_891_300),  # 87,608,700
        (600_000_000, 600_000_000 * 0.25 - 24_891_300),  # above the last bound: the last bracket
    ],
)
def test_maintenance_is_notional_times_mmr_minus_amount(
    binance: MarginSchedule, notional: float, expected: float
) -> None:
    assert float(binance.maintenance_usd(notional)) == pytest.approx(expected, rel=1e-12)


def test_maintenance_is_continuous_across_every_bound(binance: MarginSchedule) -> None:
    for i, bound in enumerate(BOUNDS[:-1]):
        at_bound = bound * MMR[i] - EXPECTED_AMOUNTS[i]  # the lower tier's rule at its own bound
        assert at_bound == pytest.approx(bound * MMR[i + 1] - EXPECTED_AMOUNTS[i + 1])  # = the upper's
        below, at, above = binance.maintenance_usd([bound - 0.01, bound, bound + 0.01])
        assert float(at) == pytest.approx(at_bound, rel=1e-12)
        # a cent of notional changes maintenance by at most a cent x the higher MMR
        assert abs(float(above) - at_bound) <= 0.01 * 0.25 + 1e-6
        assert abs(float(below) - at_bound) <= 0.01 * 0.25 + 1e-6
    grid = np.linspace(1.0, 600e6, 200_001)
    mm = binance.maintenance_usd(grid)
    assert np.all(np.diff(mm) >= -1e-6)  # non-decreasing: no jump down at a bound
    assert np.max(np.diff(mm)) <= (grid[1] - grid[0]) * 0.25 + 1e-6  # and no jump up


def test_max_leverage_per_tier(binance: MarginSchedule) -> None:
    for bound, lev in zip(BOUNDS, EXPECTED_MAX_LEVERAGE, strict=True):
        assert binance.max_leverage(bound) == pytest.approx(lev)
    assert binance.max_leverage(50_000.01) == pytest.approx(100)
    assert binance.max_leverage(250_000.01) == pytest.approx(50)
    assert binance.max_leverage(1_000_000.01) == pytest.approx(20)


def test_venue_cap_lowers_the_tier_maximum() -> None:
    capped = MarginSchedule([(t["max_notional_usd"], t["mmr"], t["imr"]) for t in BINANCE_BTC_TIERS], 75.0)
    assert capped.max_leverage(10_000) == pytest.approx(75)
    assert capped.max_leverage(100_000) == pytest.approx(75)
    assert capped.max_leverage(500_000) == pytest.approx(50)


def test_initial_margin_caps_leverage_at_the_bracket(binance: MarginSchedule) -> None:
    assert float(binance.initial_usd(40_000, 20)) == pytest.approx(40_000 / 20)
    # 100x asked on a $500K position: the bracket allows 50x, so the margin is $10K, not $5K
    assert float(binance.initial_usd(500_000, 100)) == pytest.approx(500_000 / 50)


def test_schedule_rejects_bad_brackets() -> None:
    with pytest.raises(ValueError, match="mmr < imr"):
        MarginSchedule([(1e6, 0.02, 0.01)])
    with pytest.raises(ValueError, match="increase"):
        MarginSchedule([(1e6, 0.01, 0.02), (1e5, 0.02, 0.04)])
    with pytest.raises(ValueError, match="at least one"):
        MarginSchedule([])


# ---------------------------------------------------------------------------------------------- Hyperliquid


@pytest.mark.parametrize(("max_lev", "mmr"), [(40, 0.0125), (20, 0.025), (10, 0.05), (3, 1 / 6)])
def test_hyperliquid_maintenance_is_half_the_initial_margin(max_lev: float, mmr: float) -> None:
    sched = MarginSchedule.half_initial(max_lev)
    assert float(sched.maintenance_usd(100_000)) == pytest.approx(100_000 * mmr, rel=1e-12)
    assert float(sched.maintenance_usd(7e9)) == pytest.approx(7e9 * mmr, rel=1e-12)  # no tiers
    assert float(sched.initial_usd(100_000, max_lev)) == pytest.approx(2 * 100_000 * mmr)
    assert sched.max_leverage(1e9) == pytest.approx(max_lev)


def test_hyperliquid_three_x_is_sixteen_point_seven_percent() -> None:
    sched = MarginSchedule.half_initial(3)
    assert round(float(sched.maintenance_usd(1.0)) * 100, 1) == 16.7


# ---------------------------------------------------------------------------------------------- prices


@pytest.mark.parametrize("leverage", [2, 5, 10, 20, 50, 100])
@pytest.mark.parametrize("side", [LONG, SHORT])
def test_bankruptcy_price_textbook(side: int, leverage: float) -> None:
    entry, qty = 40_000.0, 0.5
    margin = entry * qty / leverage
    expected = entry * (1 - 1 / leverage) if side == LONG else entry * (1 + 1 / leverage)
    assert bankruptcy_price(side, entry, qty, margin) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("side", "leverage", "expected"),
    [
        # entry $40,000, 1 BTC ($40K notional: tier 1, MMR 0.4%, amount 0), margin = 40,000 / L.
        # Binance one-way isolated: LP = (side x Q x E - margin - amount) / (side x Q - Q x MMR)
        (LONG, 10, (40_000 - 4_000) / (1 - 0.004)),  # 36,144.58
        (LONG, 50, (40_000 - 800) / (1 - 0.004)),  # 39,357.43
        (LONG, 100, (40_000 - 400) / (1 - 0.004)),  # 39,759.04
        (SHORT, 20, (-40_000 - 2_000) / (-1 - 0.004)),  # 41,832.67
        (SHORT, 5, (-40_000 - 8_000) / (-1 - 0.004)),  # 47,808.76
        (SHORT, 125, (-40_000 - 320) / (-1 - 0.004)),  # 40,159.36
    ],
)
def test_liquidation_price_tier_one(
    binance: MarginSchedule, side: int, leverage: float, expected: float
) -> None:
    entry, qty = 40_000.0, 1.0
    lp = liquidation_price(side, entry, qty, entry * qty / leverage, binance)
    assert lp == pytest.approx(expected, rel=1e-12)
    # and the textbook approximation entry x (1 -+ 1/L +- MMR) within the exact formula's small difference,
    # which is entry x MMR x (1/L -+ MMR) to first order (the exact formula divides by 1 -+ MMR)
    textbook = entry * (1 - 1 / leverage + 0.004) if side == LONG else entry * (1 + 1 / leverage - 0.004)
    assert abs(lp - textbook) <= entry * 0.004 * (1 / leverage + 0.004) * 1.01
    assert abs(lp - textbook) / entry < 0.001
    # at the liquidation price, equity equals maintenance exactly
    equity = entry * qty / leverage + side * qty * (lp - entry)
    assert equity == pytest.approx(qty * lp * 0.004, rel=1e-9)
    # the liquidation price is between entry and bankruptcy
    bp = entry * (1 - 1 / leverage) if side == LONG else entry * (1 + 1 / leverage)
    assert min(entry, bp) < lp < max(entry, bp)


def test_liquidation_price_uses_the_maintenance_amount(binance: MarginSchedule) -> None:
    # 10 BTC long at $50,000 = $500K (tier 3: MMR 1%, amount 1,300), 20x: margin 25,000
    lp = liquidation_price(LONG, 50_000, 10, 25_000, binance)
    expected = (10 * 50_000 - 25_000 - 1_300) / (10 - 10 * 0.01)  # 47,848.48; notional 478K: tier 3
    assert lp == pytest.approx(expected, rel=1e-12)
    assert lp == pytest.approx(47_848.4848, abs=1e-3)
    assert abs(lp - 50_000 * (1 - 1 / 20 + 0.01)) < 200  # textbook 48,000 minus amount/(Q(1-MMR)) = 131


def test_liquidation_price_searches_the_bracket_of_the_solution(binance: MarginSchedule) -> None:
    # 5.2 BTC long at $50,000 = $260K (tier 3), 10x: margin 26,000. Tier 3's rule would put the
    # liquidation at 45,202 where the notional (235K) is in tier 2, so tier 2's rule applies:
    tier3 = (5.2 * 50_000 - 26_000 - 1_300) / (5.2 - 5.2 * 0.01)
    assert 5.2 * tier3 < 250_000  # (the tier-3 solution is not in tier 3)
    expected = (5.2 * 50_000 - 26_000 - 50) / (5.2 - 5.2 * 0.005)  # 45,216.47
    assert 50_000 < 5.2 * expected <= 250_000
    lp = liquidation_price(LONG, 50_000, 5.2, 26_000, binance)
    assert lp == pytest.approx(expected, rel=1e-12)
    assert lp != pytest.approx(tier3, rel=1e-6)


def test_hyperliquid_liquidation_price() -> None:
    sched = MarginSchedule.half_initial(40)  # MMR 1.25%
    # 2 BTC long at $60,000, 40x: margin 3,000. LP = (120,000 - 3,000) / (2 - 0.025) = 59,240.51
    lp = liquidation_price(LONG, 60_000, 2, 3_000, sched)
    assert lp == pytest.approx(117_000 / 1.975, rel=1e-12)
    # short, 10x: margin 12,000. LP = (-120,000 - 12,000) / (-2 - 0.025) = 65,185.19
    assert liquidation_price(SHORT, 60_000, 2, 12_000, sched) == pytest.approx(132_000 / 2.025, rel=1e-12)


def test_unlevered_long_is_never_liquidated(binance: MarginSchedule) -> None:
    assert liquidation_price(LONG, 40_000, 1, 40_000, binance) == 0.0
    assert math.isclose(bankruptcy_price(LONG, 40_000, 1, 40_000), 0.0, abs_tol=1e-9)
