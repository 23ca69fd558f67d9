"""Each venue rule against the venue's own published worked example (inputs and outputs from its docs).

Sources are named per test, with the date the page was read. Numbers are the docs', not re-derived by
our formulas; a rule that a preset does not apply yet (``model.venues.FAITHFUL``) is switched on in the
test's venue.
"""

from __future__ import annotations

import mesa
import pytest

from model.exchange import Exchange, impact_notionals_usd, margin_schedule
from model.liquidation import LiquidationEngine, default_policies
from model.orderbook import BUY, SELL
from model.params import SymbolParams, VenueParams
from model.venues import FAITHFUL, HYPERLIQUID_TIERS

USD = 1_000_000


def btc(**kw: object) -> SymbolParams:
    return SymbolParams(name="BTC", price_usd=50_000, tick_size_usd=1.0, lot_size=0.01, **kw)  # type: ignore[arg-type]


def hyperliquid(**kw: object) -> VenueParams:
    return VenueParams(preset="hyperliquid_like", **{**FAITHFUL["hyperliquid_like"], **kw})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- Hyperliquid


def test_hyperliquid_margin_tiers_btc_maintenance_deduction() -> None:
    """Hyperliquid docs, "Margin tiers" (read 2026-12): maintenance = notional x rate - deduction, the rate
    half the tier's initial rate; BTC 40x to 150M, 20x above: deduction 150M x (2.5% - 1.25%) = 1.875M
    (MARKET_FACTS §3), so a $200M position needs $3.125M (not $2.5M at a flat 1.25%)."""
    schedule = margin_schedule(btc(), hyperliquid().resolved())
    assert float(schedule.maintenance_usd(200_000_000)) == pytest.approx(3_125_000)
    assert float(schedule.maint_amount_usd[1]) == pytest.approx(1_875_000)
    assert float(schedule.maintenance_usd(100_000_000)) == pytest.approx(1_250_000)  # 1.25% below 150M
    assert schedule.max_leverage(100e6) == 40 and schedule.max_leverage(200e6) == 20
    # without the venue's table the rule is a single tier at the cap
    flat = margin_schedule(btc(), VenueParams(preset="hyperliquid_like", symbol_tiers={}).resolved())
    assert float(flat.maintenance_usd(200_000_000)) == pytest.approx(2_500_000)


def test_hyperliquid_tiers_cap_eth_and_sol_below_the_venue_default() -> None:
    """Same page: ETH 25x below $100M, SOL 20x below $70M."""
    venue = hyperliquid().resolved()
    eth = SymbolParams(name="ETH", price_usd=2_500, tick_size_usd=0.01, lot_size=0.01)
    sol = SymbolParams(name="SOL", price_usd=150, tick_size_usd=0.01, lot_size=0.1)
    assert eth.max_leverage_on(venue) == 25 and sol.max_leverage_on(venue) == 20
    assert margin_schedule(eth, venue).max_leverage(150e6) == 15
    assert HYPERLIQUID_TIERS["SOL"][1]["imr"] == pytest.approx(0.1)


def test_hyperliquid_funding_is_paid_on_the_oracle_price() -> None:
    """Hyperliquid docs, "Funding" (read 2026-12): payment = position size x oracle price x funding rate."""
    ex = Exchange([btc()], hyperliquid(insurance_fund_usd=0.0, maker_fee=0.0, taker_fee=0.0))
    lng = ex.open_account(100_000, leverage=10)
    sht = ex.open_account(100_000, leverage=10)
    ex.seed_position(lng, sht, 0, 100, 50_000)  # 1 BTC
    ex.prices.index_ticks[0] = 50_000.0  # the oracle
    ex.prices.mark_ticks[0] = 51_000.0  # a mark 2% above it: a mark-based payment would be 2% larger
    ex.prices.funding_rate[0] = 0.0001
    before = int(ex.ledger.balance[lng])
    ex.settle_funding()
    assert before - int(ex.ledger.balance[lng]) == 5 * USD  # 1 BTC x $50,000 x 0.01%


def test_hyperliquid_premium_at_the_impact_prices_of_its_impact_notional() -> None:
    """Hyperliquid docs, "Funding": premium = [max(impact bid - oracle, 0) - max(oracle - impact ask, 0)]
    / oracle, the impact prices the average fills of $20,000 (BTC, ETH) or $6,000 (other assets)."""
    venue = hyperliquid().resolved()
    sol = SymbolParams(name="SOL", price_usd=150, tick_size_usd=0.01, lot_size=0.1)
    assert impact_notionals_usd([btc(), sol], venue) == [20_000.0, 6_000.0]
    ex = Exchange([btc()], hyperliquid(insurance_fund_usd=0.0))
    mm = ex.open_account(10_000_000, leverage=10)
    # $20,000 at $50,000 is 40 lots: the asks 10 @ 50,010 and 30 @ 50,030 -> impact ask 50,025; the bids
    # 40 @ 49,990 -> impact bid 49,990. The oracle at 50,000 lies between them: the premium is zero, where
    # the mid (50,000) would say zero too; with the oracle at 49,980 only the bid side counts: +10 / 49,980
    for side, price, lots in ((SELL, 50_010, 10), (SELL, 50_030, 30), (BUY, 49_990, 40)):
        ex.submit(mm, 0, side, lots, price)
    prices = ex.prices
    assert prices._impact_premium(0, 50_000.0, 0.0, 20_000.0) == 0.0
    assert prices._impact_premium(0, 49_980.0, 20.0, 20_000.0) == pytest.approx(10 / 49_980)
    assert prices._impact_premium(0, 50_040.0, -40.0, 20_000.0) == pytest.approx(-15 / 50_040)


# ---------------------------------------------------------------------------------------------- Binance


def test_binance_impact_margin_notional() -> None:
    """ "Introduction to Binance Futures Funding Rates" (read 2026-12): "if the maximum leverage of BNBUSDT
    perpetual contract is 20x, and its corresponding Initial Margin Rate is 5%, then the Impact Margin
    Notional (IMN) is 4,000 USDT (200 USDT / 5%)"."""
    venue = VenueParams(preset="binance_like", premium_source="impact").resolved()
    bnb = SymbolParams(name="BNB", price_usd=600, tick_size_usd=0.01, lot_size=0.01, max_leverage=20)
    assert impact_notionals_usd([bnb], venue) == [pytest.approx(4_000.0)]
    assert impact_notionals_usd([bnb], VenueParams(preset="binance_like").resolved()) == [None]  # the mid


# ---------------------------------------------------------------------------------------------- Bybit


def test_bybit_risk_limit_tier_two() -> None:
    """Bybit's BTCUSDT risk limits (help centre, "Risk Limit (USDT Contract)"; the 2021 adjustment notice,
    read 2026-12): "when the BTCUSDT position value is 4,000,000, the maintenance margin rate is 1% and the
    initial margin rate is 1.75% ... maximum allowable leverage 57.14 times"; tier 1 up to 2,000,000 at
    0.5% / 1%."""
    schedule = margin_schedule(btc(), VenueParams(preset="bybit_like").resolved())
    tier = int(schedule.tier_index(4_000_000))
    assert float(schedule.mmr[tier]) == pytest.approx(0.01)
    assert float(schedule.imr[tier]) == pytest.approx(0.0175)
    assert schedule.max_leverage(4_000_000) == pytest.approx(57.14, abs=0.01)
    assert schedule.max_leverage(1_000_000) == pytest.approx(100)


def bybit_market() -> tuple[Exchange, LiquidationEngine]:
    venue = VenueParams(preset="bybit_like", maker_fee=0.0, taker_fee=0.0, liquidation_fee=0.0)
    ex = Exchange([btc()], venue)
    model = mesa.Model(rng=0)
    model.dt_seconds = 1.0  # type: ignore[attr-defined]
    return ex, LiquidationEngine(model, ex)


def test_bybit_measures_maintenance_at_the_entry_price() -> None:
    """MARKET_FACTS §3: "Bybit — maintenance is measured at the entry price"."""
    ex, _ = bybit_market()
    lng = ex.open_account(10_000, leverage=20)
    sht = ex.open_account(1_000_000, leverage=10)
    ex.seed_position(lng, sht, 0, 100, 50_000)  # 1 BTC at $50,000
    ex.prices.mark_ticks[0] = 40_000.0
    # at the entry: $50,000 x 0.5% = $250 (at the mark it would be $200)
    assert ex.maintenance_usd(lng) == pytest.approx(250)
    _upnl, _notional, mm = ex.accounts.position_arrays()
    assert mm[lng, 0] == pytest.approx(250 * USD)


def test_bybit_steps_a_large_position_down_one_tier_before_liquidating_it() -> None:
    """Bybit's laddered liquidation: a position above tier 1 is first cut to the tier below's limit."""
    ex, engine = bybit_market()
    big = ex.open_account(260_000, leverage=20)
    sht = ex.open_account(100_000_000, leverage=10)
    bidder = ex.open_account(100_000_000, leverage=10)
    ex.seed_position(big, sht, 0, 10_000, 50_000)  # 100 BTC, $5M: tier 3 (up to $6M, maintenance 1.5%)
    # equity 260,000 - 220,000 = $40,000 < maintenance at entry 5M x 1.5% - 30,000 = $45,000, above the
    # 2/3 backstop ($30,000)
    ex.prices.mark_ticks[0] = 47_800.0
    assert ex.submit(bidder, 0, BUY, 20_000, 47_790).status == "resting"
    assert engine.liquidatable().tolist() == [big]
    engine.step()
    # $4.78M at the mark is in tier 3; the lots above tier 2's $4M bound: 10,000 - floor(4,000,000 / 478)
    assert ex.position_lots(big, 0) == 8_368
    ev = engine.events[0]
    assert ev[-1] == "partial" and ev[4] == 1_632
    assert ex.ledger_imbalance() == 0


def test_each_preset_selects_its_policies() -> None:
    chosen = {}
    for preset in ("binance_like", "hyperliquid_like", "bybit_like"):
        venue = VenueParams(preset=preset).resolved()  # type: ignore[arg-type]
        assert venue.is_resolved()
        d, b, a = default_policies(venue)
        chosen[preset] = (d.name, b.name, a.name)
    assert chosen == {
        "binance_like": ("bankruptcy_ioc", "insurance_fund", "ranked_queue"),
        "hyperliquid_like": ("market_slices", "liquidity_vault", "hyperliquid"),
        "bybit_like": ("tier_step_down", "insurance_fund", "ranked_queue"),
    }
    d, b, a = default_policies(hyperliquid().resolved())
    assert (d.name, b.name, a.name) == ("market_slices", "liquidity_vault", "hyperliquid")
    assert (
        default_policies(VenueParams(adl_enabled=False, adl_policy="pro_rata").resolved())[2].name == "none"
    )
