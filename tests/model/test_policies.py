"""The liquidation engine's policies, each tested by what it does to the book, the fund and the accounts.

Same units as ``test_liquidation.py``: BTC with a $1 tick and a 0.01-coin lot (a tick on a lot is $0.01).
The ADL scenario is ``adl_market``'s: a bankrupt 30-lot long (L) against three profitable 15-lot shorts.
"""

from __future__ import annotations

import mesa
import pytest

from model.exchange import Exchange
from model.ledger import Ledger
from model.liquidation import LiquidationEngine
from model.orderbook import BUY, SELL
from model.policies import (
    BankruptcyIOC,
    HyperliquidQueue,
    LiquidityVault,
    MarketSlices,
    NoAdl,
    ProRata,
    RankedQueue,
    TimeSpread,
)
from tests.model.test_liquidation import (
    adl_events,
    adl_market,
    advance_to,
    check_books,
    events,
    market,
    partial_market,
    trade,
)

FUND = Ledger.FUND
USD = 1_000_000


def with_policies(ex: Exchange, **policies: object) -> LiquidationEngine:
    model = mesa.Model(rng=0)
    model.dt_seconds = 1.0  # type: ignore[attr-defined]
    return LiquidationEngine(model, ex, **policies)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- ADL


def test_pro_rata_closes_every_profitable_short_in_proportion_to_its_size() -> None:
    ex, _engine, acc = adl_market()
    engine = with_policies(ex, adl=ProRata())
    ex.prices.mark_ticks[0] = 45_000.0
    engine.step()
    adl = adl_events(engine)
    # 30 lots over three 15-lot shorts: 10 each, at L's bankruptcy price 46,667, every one of them hit
    assert sorted(e["account"] for e in adl) == sorted([acc["S1"], acc["S2"], acc["S3"]])
    assert [e["lots"] for e in adl] == [10, 10, 10]
    assert all(e["price_usd"] == pytest.approx(46_667) for e in adl)
    assert [e["rank"] for e in adl] == pytest.approx([1 / 3] * 3)
    assert [ex.position_lots(acc[s], 0) for s in ("S1", "S2", "S3")] == [-5, -5, -5]
    assert engine.adl_overshoot_micro == 0.0
    check_books(ex)


def test_pro_rata_hands_the_rounding_lots_to_the_largest_remainders() -> None:
    ex, _engine, acc = adl_market()
    engine = with_policies(ex, adl=ProRata())
    # a fourth, profitable short of 7 lots: 52 lots short in all, 30 to close -> 15 x 30 / 52 = 8.65 each
    # for the three 15-lot shorts and 4.04 for the 7-lot one: floors 8, 8, 8, 4 (28), the two largest
    # remainders (the 15-lot accounts, ties by id: S1, S2) get the last two lots
    s4 = ex.open_account(5_000, leverage=20)
    assert ex.submit(s4, 0, SELL, 7, 50_000).status == "resting"
    assert ex.submit(acc["Y"], 0, BUY, 7, 50_000).filled_lots == 7
    ex.prices.mark_ticks[0] = 45_000.0
    engine.step()
    took = {e["account"]: e["lots"] for e in adl_events(engine)}
    assert took == {acc["S1"]: 9, acc["S2"]: 9, acc["S3"]: 8, s4: 4}
    check_books(ex)


def test_the_ranked_queue_closes_the_top_ranks_whole_and_costs_exactly_the_shortfall() -> None:
    ex, _engine, acc = adl_market()
    engine = with_policies(ex, adl=RankedQueue())
    ex.prices.mark_ticks[0] = 45_000.0
    engine.step()
    assert [e["account"] for e in adl_events(engine)] == [acc["S3"], acc["S2"]]
    # at the bankruptcy price the counterparties pay what L could not: 30 x 1,667 x $0.01 = $500.10
    assert engine.adl_shortfall_micro == pytest.approx(500.10 * USD)
    assert engine.adl_haircut_micro == pytest.approx(500.10 * USD)
    assert engine.adl_overshoot_micro == 0.0
    check_books(ex)


def test_hyperliquid_ranks_by_price_gain_times_leverage_and_closes_at_the_previous_oracle() -> None:
    """Hyperliquid docs, "Auto-deleveraging" (2025): sorted by (mark / entry) x (notional / account value),
    closed at the previous oracle price (for a short the gain is entry / mark)."""
    ex, _engine, acc = adl_market()
    engine = with_policies(ex, adl=HyperliquidQueue())
    ex.prices.mark_ticks[0] = 45_000.0  # the oracle (index) of the previous step is still 50,000
    # by hand at the mark 45,000 (each short: 15 lots, notional $6,750):
    #   S1 50,000/45,000 x 6,750/1,500 = 5.00; S2 51,000/45,000 x 6,750/1,660 = 4.61;
    #   S3 49,000/45,000 x 6,750/1,000 = 7.35  -> S3, S1 (Binance's queue took S3, S2)
    engine.step()
    adl = adl_events(engine)
    assert [e["account"] for e in adl] == [acc["S3"], acc["S1"]]
    assert [e["rank"] for e in adl] == pytest.approx([49 / 45 * 6.75, 50 / 45 * 4.5], rel=1e-9)
    assert all(e["price_usd"] == pytest.approx(50_000) for e in adl)
    # closing at 50,000 instead of 46,667 costs the shorts 30 x 5,000 x $0.01 = $1,500 against the mark,
    # $999.90 more than the $500.10 shortfall: the overshoot, which L keeps (it closes flat at its entry)
    assert sum(e["haircut_usd"] for e in adl) == pytest.approx(1_500)
    assert engine.adl_overshoot_micro == pytest.approx(999.90 * USD)
    assert int(ex.ledger.balance[acc["L"]]) == 1_000 * USD
    check_books(ex)


def test_adl_at_an_oracle_short_of_bankruptcy_leaves_the_rest_to_the_fund_and_bad_debt() -> None:
    ex, _engine, acc = adl_market()
    engine = with_policies(ex, adl=HyperliquidQueue())
    engine._prev_index = [45_500.0]  # the previous oracle: between the mark and L's bankruptcy price
    ex.prices.mark_ticks[0] = 45_000.0
    engine.step()
    # L closes at 45,500: -30 x 4,500 x $0.01 = -$1,350 on $1,000: -$350 that the (empty) fund covers,
    # paid in from outside and booked as bad debt
    assert ex.position_lots(acc["L"], 0) == 0
    assert int(ex.ledger.balance[acc["L"]]) == 0
    assert engine.deficits_covered_micro == 350 * USD
    assert ex.ledger.bad_debt_micro == 350 * USD
    assert engine.adl_overshoot_micro == 0.0
    check_books(ex)


def test_no_adl_books_the_shortfall_as_bad_debt() -> None:
    ex, _engine, acc = adl_market()
    engine = with_policies(ex, adl=NoAdl())
    ex.prices.mark_ticks[0] = 45_000.0
    engine.step()
    assert engine.adl_events == []
    assert ex.position_lots(FUND, 0) == 30
    assert ex.ledger.bad_debt_micro == pytest.approx(500.10 * USD, abs=2)
    assert [ex.position_lots(acc[s], 0) for s in ("S1", "S2", "S3")] == [-15, -15, -15]
    check_books(ex)


def test_adl_events_carry_leverage_pnl_equity_and_the_liquidation_they_offset() -> None:
    ex, _engine, acc = adl_market()
    engine = with_policies(ex, adl=RankedQueue())
    ex.prices.mark_ticks[0] = 45_000.0
    engine.step()
    first = adl_events(engine)[0]  # S3: entry 49,000, $400 + $600 of PnL, 15 lots at 45,000
    assert first["effective_leverage"] == pytest.approx(6.75)
    assert first["pnl_pct"] == pytest.approx(4_000 / 49_000 * 100)
    assert first["equity_usd"] == pytest.approx(1_000)
    assert first["haircut_usd"] == pytest.approx(15 * 1_667 * 0.01)
    row = events(engine)[first["liquidation_row"]]
    assert row["kind"] == "adl" and row["account"] == acc["L"] and row["lots"] == first["lots"]


# ---------------------------------------------------------------------------------------------- disposal


def crash_book(disposal: object) -> tuple[Exchange, LiquidationEngine, int]:
    """A 40-lot long bankrupt at 47,275 with 100 lots of bids spread from 47,390 down to 47,300."""
    ex, _ = market(fund_unwind_fraction_per_second=0.02)
    engine = with_policies(ex, disposal=disposal)
    lng = ex.open_account(1_100, leverage=20)
    sht = ex.open_account(100_000, leverage=10)
    bidder = ex.open_account(1_000_000, leverage=10)
    trade(ex, lng, sht, 50_000, 40)
    ex.prices.mark_ticks[0] = 47_400.0  # equity $50 <= maintenance $75.84
    for price in (47_390, 47_360, 47_330, 47_300):
        assert ex.submit(bidder, 0, BUY, 10, price).status == "resting"
    return ex, engine, lng


def test_time_spread_moves_the_price_less_than_one_ioc_and_leaves_more_to_the_backstop() -> None:
    ex_ioc, ioc, lng_ioc = crash_book(BankruptcyIOC())
    ex_ts, ts, lng_ts = crash_book(TimeSpread(interval_s=10.0, fraction=0.1, max_book_share=0.25))
    ioc.step()
    ts.step()
    assert ex_ioc.position_lots(lng_ioc, 0) == 0 and ex_ts.position_lots(lng_ts, 0) == 0
    # one IOC sweeps all four levels (40 lots); the time-spread order takes 25% of the 40 visible lots
    assert ex_ioc.best_bid(0) is None
    assert ex_ts.best_bid(0) == 47_360  # it took the 10 lots at 47,390 only
    assert ex_ioc.position_lots(FUND, 0) == 0
    assert ex_ts.position_lots(FUND, 0) == 30  # the rest went to the backstop
    assert [e["kind"] for e in events(ts)] == ["liquidation", "takeover"]
    # the fund then disposes 10% of its inventory every 10 s, capped at 25% of the depth down to the mark:
    # the bids are below the 47,400 mark, so nothing trades until a bid at the mark appears
    ts.unwind_fund(1.0)
    assert ex_ts.position_lots(FUND, 0) == 30
    buyer = ex_ts.open_account(1_000_000, leverage=10)
    ex_ts.submit(buyer, 0, BUY, 100, 47_400)
    advance_to(ex_ts, 10.0, 47_400.0)
    ts.unwind_fund(1.0)
    assert ex_ts.position_lots(FUND, 0) == 27  # ceil(10% x 30) = 3 lots
    ts.unwind_fund(1.0)
    assert ex_ts.position_lots(FUND, 0) == 27  # the next slice waits for the interval
    check_books(ex_ioc)
    check_books(ex_ts)


def test_hyperliquid_liquidates_the_whole_position_during_the_cooldown() -> None:
    """Hyperliquid (announcement and docs, "Liquidations", 2025): after a partial liquidation, for 30 s
    "all market liquidation orders for that user will be for the entire position"."""
    results = {}
    for whole in (False, True):
        ex, _, acct = partial_market()
        engine = with_policies(ex, disposal=MarketSlices(100_000.0, 0.2, 30.0, whole_in_cooldown=whole))
        advance_to(ex, 100.0, 47_900.0)
        engine.step()
        assert ex.position_lots(acct, 0) == 240  # the first slice: 20% of 300
        advance_to(ex, 129.0, 47_700.0)  # still liquidatable, 29 s later
        engine.step()
        results[whole] = (ex.position_lots(acct, 0), [e["kind"] for e in events(engine)])
        check_books(ex)
    assert results[False] == (240, ["partial"])  # waits out the cooldown
    assert results[True] == (0, ["partial", "liquidation"])  # the whole rest, at once


# ---------------------------------------------------------------------------------------------- backstop


def test_the_liquidity_vault_takes_over_the_whole_account_below_two_thirds_of_maintenance() -> None:
    ex, _ = market("hyperliquid_like", maker_fee=0.0, taker_fee=0.0)
    engine = with_policies(ex, backstop=LiquidityVault())
    acct = ex.open_account(8_000, leverage=20)
    sht = ex.open_account(1_000_000, leverage=10)
    bidder = ex.open_account(10_000_000, leverage=10)
    trade(ex, acct, sht, 50_000, 300)
    ex.prices.mark_ticks[0] = 47_600.0  # equity $800 < 2/3 of maintenance ($1,190): the backstop
    assert ex.submit(bidder, 0, BUY, 1_000, 47_000).status == "resting"
    engine.step()
    assert ex.position_lots(acct, 0) == 0
    assert ex.position_lots(FUND, 0) == 300  # taken over, not sold into the book
    assert ex.books[0].level_lots(BUY, 47_000) == 1_000
    assert [e["kind"] for e in events(engine)] == ["takeover"]
    # at the bankruptcy price (47,333.3 rounded up to the tick): its margin went with it, but for the
    # rounding, less than a tick on 300 lots ($3)
    assert 0 <= ex.equity_usd(acct) < 3.0
    check_books(ex)


def test_above_the_vault_threshold_what_the_book_does_not_take_waits() -> None:
    ex, _ = market("hyperliquid_like", maker_fee=0.0, taker_fee=0.0)
    engine = with_policies(ex, backstop=LiquidityVault(), disposal=BankruptcyIOC())
    acct = ex.open_account(8_000, leverage=20)
    sht = ex.open_account(1_000_000, leverage=10)
    bidder = ex.open_account(10_000_000, leverage=10)
    trade(ex, acct, sht, 50_000, 300)
    ex.submit(bidder, 0, BUY, 100, 47_890)
    ex.prices.mark_ticks[0] = 47_900.0  # equity $1,700: below maintenance ($1,796), above 2/3 of it
    engine.step()
    assert ex.position_lots(acct, 0) == 200  # the book took 100 lots; nobody took the rest
    assert ex.position_lots(FUND, 0) == 0
    assert [e["kind"] for e in events(engine)] == ["liquidation"]
    check_books(ex)
