"""The liquidation engine: IOC liquidation orders, insurance-fund takeover and unwind, ADL, partial
liquidation and isolated positions, each scenario worked out by hand.

Units: BTC with a $1 tick and a 0.01-coin lot (one tick on one lot = $0.01 = 10,000 micro-dollars; a lot
at $50,000 is worth $500). Scenarios are made precise by setting ``exchange.mark_ticks`` directly.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
import pytest

from model.exchange import Exchange
from model.ledger import Ledger
from model.liquidation import ADL_COLUMNS, LIQUIDATION_COLUMNS, LiquidationEngine
from model.orderbook import BUY, IOC, SELL
from model.params import SymbolParams, VenueParams
from model.policies import adl_rank

USD = 1_000_000
TV = 10_000
FUND = Ledger.FUND


def btc() -> SymbolParams:
    return SymbolParams(name="BTC", price_usd=50_000, tick_size_usd=1.0, lot_size=0.01)


def eth() -> SymbolParams:  # tick $0.1, lot 0.1: also $0.01 per tick-lot; a lot at $2,500 is worth $250
    return SymbolParams(name="ETH", price_usd=2_500, tick_size_usd=0.1, lot_size=0.1)


def market(
    preset: str = "binance_like", symbols: list[SymbolParams] | None = None, **venue: Any
) -> tuple[Exchange, LiquidationEngine]:
    venue.setdefault("index_arbitrage_per_second", 0.0)
    ex = Exchange(symbols or [btc()], VenueParams(preset=preset, **venue))  # type: ignore[arg-type]
    model = mesa.Model(rng=0)
    model.dt_seconds = 1.0
    return ex, LiquidationEngine(model, ex)


def trade(ex: Exchange, buyer: int, seller: int, price: int, lots: int, symbol: int = 0) -> None:
    """``seller`` rests a sell, ``buyer`` takes it: a fill of ``lots`` at ``price``."""
    assert ex.submit(seller, symbol, SELL, lots, price).status == "resting"
    assert ex.submit(buyer, symbol, BUY, lots, price, tif=IOC).filled_lots == lots


def events(engine: LiquidationEngine) -> list[dict[str, Any]]:
    return [dict(zip(LIQUIDATION_COLUMNS, e, strict=True)) for e in engine.events]


def adl_events(engine: LiquidationEngine) -> list[dict[str, Any]]:
    return [dict(zip(ADL_COLUMNS, e, strict=True)) for e in engine.adl_events]


def equities_usd(ex: Exchange) -> list[float]:
    return [ex.equity_usd(a) for a in range(ex.ledger.n)]


def oi(ex: Exchange) -> list[list[int]]:
    return ex.ledger.open_interest_lots().tolist()


def check_books(ex: Exchange) -> None:
    assert ex.ledger_imbalance() == 0
    longs, shorts = ex.ledger.open_interest_lots()
    assert longs.tolist() == shorts.tolist()


# ---------------------------------------------------------------------------------------------- (a) the IOC


def test_liquidation_order_trades_in_the_book_and_moves_the_price() -> None:
    ex, engine = market()
    lng = ex.open_account(1_100, leverage=20)
    sht = ex.open_account(100_000, leverage=10)
    bidder = ex.open_account(1_000_000, leverage=10)
    trade(ex, lng, sht, 50_000, 40)  # $20,000 long on $1,100; the taker fee is $10
    assert ex.submit(lng, 0, SELL, 1, 52_000).status == "resting"  # an order the engine must cancel
    fund_before = int(ex.ledger.balance[FUND])
    ex.prices.mark_ticks[0] = 47_400.0
    for price, lots in ((47_390, 20), (47_380, 20), (47_300, 50)):
        assert ex.submit(bidder, 0, BUY, lots, price).status == "resting"
    # equity 1,090 - 40 x 2,600 x $0.01 = $50 <= maintenance 40 x $474 x 0.4% = $75.84
    assert ex.equity_usd(lng) == pytest.approx(50)
    assert engine.liquidatable().tolist() == [lng]
    engine.step()
    assert ex.position_lots(lng, 0) == 0
    assert ex.open_orders(lng) == [] and ex.best_ask(0) is None
    # the IOC took the two best levels: the best bid fell from 47,390 to 47,300
    assert ex.best_bid(0) == 47_300 and ex.books[0].level_lots(BUY, 47_300) == 50
    assert ex.position_lots(bidder, 0) == 40
    # sold at 20 x 47,390 + 20 x 47,380: realised -$1,046, leaving $44; the 0.5% clearance fee ($94.77) is
    # capped at what is left, so the fund gets $44 and the account ends at exactly zero
    assert int(ex.ledger.balance[lng]) == 0
    assert int(ex.ledger.balance[FUND]) - fund_before == 44 * USD
    (ev,) = events(engine)
    assert ev["kind"] == "liquidation" and ev["account"] == lng and ev["side"] == "long"
    assert ev["lots"] == 40 and ev["qty"] == pytest.approx(0.4)
    assert ev["price_usd"] == pytest.approx(47_385)
    # bankruptcy price: mark - equity / (lots x tick value) = 47,400 - 50 / 0.4 = 47,275
    assert ev["bankruptcy_price_usd"] == pytest.approx(47_275)
    assert ev["notional_usd"] == pytest.approx(18_954)
    assert ev["fee_usd"] == pytest.approx(44)
    assert engine.liquidated_long_micro[0] == 18_954 * USD
    assert engine.liquidatable().tolist() == []
    check_books(ex)


def test_funding_that_pushes_a_screened_account_under_maintenance_reaches_the_next_check() -> None:
    """A settlement outside the market's clock (the public ``settle_funding``) must not hide an account.

    The engine screens: between full checks it looks only at accounts that were near maintenance at the
    last one or that were touched since. Funding lowers payers' equity without a trade, so the ledger
    marks them touched; without that, this account would be skipped until the next full check.
    """
    ex, engine = market(insurance_fund_usd=1_000_000.0)
    lng = ex.open_account(2_000, leverage=20)
    sht = ex.open_account(1_000_000, leverage=10)
    trade(ex, lng, sht, 50_000, 40)  # $20,000 long on $2,000: buffer ~$1,900, far from maintenance
    engine.step()  # a full check: the long is screened safe (buffer/notional > 2 x SCREEN_MOVE)
    assert engine.full_checks == 1 and not engine._at_risk[lng]
    # 9.6% of $20,000: $1,920 leaves the long's wallet ($70 left, maintenance $80)
    ex.prices.funding_rate[0] = 0.096
    ex.settle_funding()
    assert ex.equity_usd(lng) < ex.maintenance_usd(lng)
    assert ex.next_funding_s == ex.funding_interval_s and ex.time_s == 0.0  # nothing forces a full check
    ex.submit(sht, 0, BUY, 100, 49_000)  # a bid for the liquidation order to hit
    engine.step()
    assert engine.full_checks == 1  # still screened, and yet:
    assert ex.position_lots(lng, 0) == 0
    assert [e["account"] for e in events(engine)] == [lng]
    check_books(ex)


def test_healthy_accounts_are_left_alone() -> None:
    ex, engine = market()
    lng = ex.open_account(1_100, leverage=20)
    sht = ex.open_account(100_000, leverage=10)
    trade(ex, lng, sht, 50_000, 40)
    ex.prices.mark_ticks[0] = 47_500.0  # equity $90 > maintenance $76
    assert engine.liquidatable().tolist() == []
    engine.step()
    assert ex.position_lots(lng, 0) == 40 and engine.events == []


# ---------------------------------------------------------------------------------------------- (b) takeover


def test_unabsorbed_liquidation_is_taken_over_by_the_fund_which_unwinds_it() -> None:
    ex, engine = market(fund_unwind_fraction_per_second=0.02)
    lng = ex.open_account(1_100, leverage=20)
    sht = ex.open_account(100_000, leverage=10)
    bidder = ex.open_account(1_000_000, leverage=10)
    trade(ex, lng, sht, 50_000, 40)
    ex.prices.mark_ticks[0] = 47_400.0  # equity $50, bankruptcy 47,275; the book has no bids at all
    fund_before = int(ex.ledger.balance[FUND])
    engine.step()
    assert ex.position_lots(lng, 0) == 0
    assert ex.position_lots(FUND, 0) == 40 and ex.entry_price_ticks(FUND, 0) == 47_275
    # closing 40 lots at 47,275 realises 40 x -2,725 x $0.01 = -$1,090: the account ends at zero
    assert int(ex.ledger.balance[lng]) == 0
    (ev,) = events(engine)
    assert ev["kind"] == "takeover" and ev["lots"] == 40
    assert ev["price_usd"] == pytest.approx(47_275)
    assert ev["fund_delta_usd"] == pytest.approx(40 * 125 * 0.01)  # bought $50 below the mark
    assert oi(ex) == [[40], [40]]  # a takeover keeps open interest
    check_books(ex)
    # the fund unwinds through the book, never below the mark, a slice of 2%/s of its inventory
    ex.submit(bidder, 0, BUY, 100, 47_399)
    engine.unwind_fund(50.0)
    assert ex.position_lots(FUND, 0) == 40  # bids below the mark: the fund waits
    ex.submit(bidder, 0, BUY, 100, 47_400)
    engine.unwind_fund(1.0)
    assert ex.position_lots(FUND, 0) == 39
    engine.unwind_fund(50.0)  # 2% x 50 s: all of it
    assert ex.position_lots(FUND, 0) == 0
    assert ex.position_lots(bidder, 0) == 40
    assert ex.books[0].level_lots(BUY, 47_400) == 60
    # the fund bought at 47,275 and sold at 47,400: +$50 (no fees on the fund's own orders)
    assert int(ex.ledger.balance[FUND]) - fund_before == 50 * USD
    assert oi(ex) == [[40], [40]]
    check_books(ex)


# ---------------------------------------------------------------------------------------------- (c) ADL


def adl_market(**venue: Any) -> tuple[Exchange, LiquidationEngine, dict[str, int]]:
    """A 30-lot long (L, $1,000) against three 15-lot shorts of different entry and leverage; Y is a
    well-funded long of 15 lots, so the shorts hold 45 lots and the ADL of L's 30 must pick two of three."""
    ex, engine = market(maker_fee=0.0, taker_fee=0.0, insurance_fund_usd=0.0, **venue)
    acc = {
        "L": ex.open_account(1_000, leverage=20),
        "Y": ex.open_account(100_000, leverage=10),
        "S1": ex.open_account(750, leverage=20),
        "S2": ex.open_account(760, leverage=20),
        "S3": ex.open_account(400, leverage=20),
    }
    for short, price in (("S1", 50_000), ("S2", 51_000), ("S3", 49_000)):
        assert ex.submit(acc[short], 0, SELL, 15, price).status == "resting"
        assert ex.submit(acc["L"], 0, BUY, 10, price, tif=IOC).filled_lots == 10
        assert ex.submit(acc["Y"], 0, BUY, 5, price, tif=IOC).filled_lots == 5
    assert ex.entry_price_ticks(acc["L"], 0) == 50_000
    return ex, engine, acc


def test_adl_closes_the_highest_ranked_shorts_first_at_the_bankruptcy_price() -> None:
    ex, engine, acc = adl_market()
    # L: 1,000 - 30 x 5,000 x $0.01 = -$500: past bankruptcy, the fund is empty
    ex.prices.mark_ticks[0] = 45_000.0
    assert ex.equity_usd(acc["L"]) == pytest.approx(-500)
    # ranking by hand, at the mark 45,000 (notional of each short: 15 x $450 = $6,750):
    #   S1 entry 50,000: PnL% = 5,000/50,000 = 10.0%, equity 750 + 750 = 1,500, leverage 4.50 -> 0.450
    #   S2 entry 51,000: PnL% = 6,000/51,000 = 11.8%, equity 760 + 900 = 1,660, leverage 4.07 -> 0.478
    #   S3 entry 49,000: PnL% = 4,000/49,000 =  8.2%, equity 400 + 600 = 1,000, leverage 6.75 -> 0.551
    # (by leverage alone S1 would go before S2; by PnL alone S3 would go last)
    ranks = {
        "S1": 5_000 / 50_000 * 6_750 / 1_500,
        "S2": 6_000 / 51_000 * 6_750 / 1_660,
        "S3": 4_000 / 49_000 * 6_750 / 1_000,
    }
    assert sorted(ranks, key=ranks.__getitem__, reverse=True) == ["S3", "S2", "S1"]
    oi_before = oi(ex)[0][0]
    engine.step()
    # bankruptcy price of L: 45,000 + 500 / (30 x $0.01) = 46,666.67 -> 46,667 (the tick that leaves L >= 0)
    bp = 46_667
    adl = adl_events(engine)
    assert [e["account"] for e in adl] == [acc["S3"], acc["S2"]]
    assert [e["counterparty"] for e in adl] == [acc["L"], acc["L"]]
    assert [e["lots"] for e in adl] == [15, 15]
    assert all(e["price_usd"] == pytest.approx(bp) for e in adl)
    assert [e["rank"] for e in adl] == pytest.approx([ranks["S3"], ranks["S2"]], rel=1e-9)
    assert ex.position_lots(acc["S3"], 0) == 0 and ex.position_lots(acc["S2"], 0) == 0
    assert ex.position_lots(acc["S1"], 0) == -15
    assert ex.position_lots(acc["L"], 0) == 0 and ex.position_lots(FUND, 0) == 0
    # closed at 46,667: L realises 30 x -3,333 x $0.01 = -$999.90; S3 +$349.95; S2 +$649.95
    assert int(ex.ledger.balance[acc["L"]]) == 100_000
    assert int(ex.ledger.balance[acc["S3"]]) == 400 * USD + 349_950_000
    assert int(ex.ledger.balance[acc["S2"]]) == 760 * USD + 649_950_000
    assert oi(ex)[0][0] == oi_before - 30 == 15
    assert [e["kind"] for e in events(engine)] == ["adl", "adl"]
    # (d) nobody is left below zero, and the books balance
    assert min(equities_usd(ex)) >= 0
    assert ex.ledger.bad_debt_micro == 0
    check_books(ex)


def test_adl_rank_puts_a_losing_position_last_however_leveraged() -> None:
    assert adl_rank(np.array([0.10, 0.10, -0.10, -0.10]), np.array([2.0, 4.0, 2.0, 10.0])).tolist() == (
        pytest.approx([0.2, 0.4, -0.05, -0.01])
    )
    ex, engine, acc = adl_market()
    ex.prices.mark_ticks[0] = 45_000.0
    # a fourth short of 20 lots entered at 43,000 on $500: at 45,000 it has lost $400, so it is the most
    # leveraged short by far (notional $9,000 on $100 of equity: 90x) but a losing one: rank -4.65% / 90
    late = ex.open_account(500, leverage=20)
    assert ex.submit(late, 0, SELL, 20, 43_000).status == "resting"
    assert ex.submit(acc["Y"], 0, BUY, 20, 43_000, tif=IOC).filled_lots == 20
    assert ex.equity_usd(late) == pytest.approx(100)
    assert engine.liquidatable().tolist() == [acc["L"]]  # (late is above its $36 maintenance)
    engine.step()
    assert [e["account"] for e in adl_events(engine)] == [acc["S3"], acc["S2"]]
    assert adl_events(engine)[0]["rank"] > 0
    assert ex.position_lots(late, 0) == -20
    check_books(ex)


# ---------------------------------------------------------------------------------------------- (d) bad debt


def test_without_adl_the_shortfall_is_bad_debt_and_the_books_still_balance() -> None:
    ex, engine, acc = adl_market(adl_enabled=False)
    ex.prices.mark_ticks[0] = 45_000.0
    engine.step()
    assert engine.adl_events == []
    # the fund took the 30 lots at 46,667: at the mark it is down 30 x 1,667 x $0.01 = $500.10, which
    # the exchange injects and books as bad debt
    assert ex.position_lots(FUND, 0) == 30 and ex.position_lots(acc["L"], 0) == 0
    assert [e["kind"] for e in events(engine)] == ["takeover"]
    assert ex.ledger.bad_debt_micro == pytest.approx(500_100_000, abs=2)
    assert ex.ledger.bad_debt_micro > 0
    assert ex.insurance_fund_usd == pytest.approx(0, abs=1e-5)
    assert min(equities_usd(ex)) >= -1e-5
    assert [ex.position_lots(acc[s], 0) for s in ("S1", "S2", "S3")] == [-15, -15, -15]
    check_books(ex)


def test_fund_inventory_that_goes_under_water_is_deleveraged() -> None:
    ex, engine = market(maker_fee=0.0, taker_fee=0.0, liquidation_fee=0.0, insurance_fund_usd=200.0)
    lng = ex.open_account(1_000, leverage=20)
    sht = ex.open_account(100_000, leverage=10)
    trade(ex, lng, sht, 50_000, 40)
    ex.prices.mark_ticks[0] = 47_400.0  # equity 1,000 - 1,040 = -$40: bankruptcy 47,400 + 40 / 0.4 = 47,500
    engine.step()
    # after the $40 the fund keeps $160, above the maintenance of the 40 lots (40 x $474 x 0.4% = $75.84),
    # so it takes them over at 47,500
    assert ex.position_lots(FUND, 0) == 40 and ex.entry_price_ticks(FUND, 0) == 47_500
    assert ex.insurance_fund_usd == pytest.approx(160)
    assert engine.fund_exhausted_s is None
    ex.prices.mark_ticks[0] = 46_800.0  # the fund is now down $280 on $200: equity -$80
    engine.step()
    # its inventory is ADL'd against the short at the fund's bankruptcy price 46,800 + 80 / 0.4 = 47,000
    assert ex.position_lots(FUND, 0) == 0 and ex.position_lots(sht, 0) == 0
    (adl,) = adl_events(engine)
    assert adl["account"] == sht and adl["counterparty"] == FUND and adl["price_usd"] == pytest.approx(47_000)
    assert int(ex.ledger.balance[FUND]) == 0  # 200 + 40 x (47,000 - 47,500) x $0.01
    # the fund ran dry at this check, though its ADL left it at exactly zero for any sample to see
    assert engine.fund_exhausted_s == ex.time_s
    assert ex.ledger.bad_debt_micro == 0
    assert oi(ex) == [[0], [0]]
    check_books(ex)


# ---------------------------------------------------------------------------------------------- (e) partial


def partial_market() -> tuple[Exchange, LiquidationEngine, int]:
    """Hyperliquid's slices, with the fund as backstop and no whole-position rule in the cooldown (the
    preset's vault and cooldown rule are tested in test_policies.py)."""
    ex, engine = market(
        "hyperliquid_like",
        maker_fee=0.0,
        taker_fee=0.0,
        partial_liquidation_whole_in_cooldown=False,
        backstop="insurance_fund",
    )
    acct = ex.open_account(8_000, leverage=20)
    sht = ex.open_account(1_000_000, leverage=10)
    bidder = ex.open_account(10_000_000, leverage=10)
    trade(ex, acct, sht, 50_000, 300)  # $150,000 long on $8,000 (MMR 1.25% at 40x max)
    ex.submit(bidder, 0, BUY, 1_000, 47_890)
    return ex, engine, acct


def advance_to(ex: Exchange, t: float, mark: float) -> None:
    ex.update_prices(t - ex.time_s)
    ex.prices.mark_ticks[0] = mark


def test_partial_liquidation_slices_of_20_percent_with_a_30s_cooldown() -> None:
    ex, engine, acct = partial_market()
    advance_to(ex, 100.0, 47_900.0)
    # equity 8,000 - 300 x 2,100 x $0.01 = $1,700 <= maintenance 300 x $479 x 1.25% = $1,796.25, and above
    # the backstop (2/3 of maintenance = $1,197.50); notional $143,700 > $100K: a 20% slice
    engine.step()
    assert ex.position_lots(acct, 0) == 240
    ev = events(engine)
    assert [(e["kind"], e["lots"], e["price_usd"]) for e in ev] == [("partial", 60, 47_890)]
    # balance 8,000 - 60 x 2,110 x $0.01 = $6,734; at 47,700: equity $1,214 <= maintenance $1,431
    advance_to(ex, 129.0, 47_700.0)
    assert engine.liquidatable().tolist() == [acct]
    engine.step()
    assert ex.position_lots(acct, 0) == 240  # 29 s after the slice: still cooling down
    advance_to(ex, 130.0, 47_700.0)
    engine.step()
    assert ex.position_lots(acct, 0) == 192  # the next slice: 20% of 240
    assert [e["lots"] for e in events(engine)] == [60, 48]
    # at 47,500 the 192 lots are worth $91,200 (<= $100K): equity $921.20 <= $1,140, all at once
    advance_to(ex, 160.0, 47_500.0)
    engine.step()
    assert ex.position_lots(acct, 0) == 0
    assert [e["kind"] for e in events(engine)] == ["partial", "partial", "liquidation"]
    assert ex.equity_usd(acct) >= 0
    check_books(ex)


def test_partial_liquidation_backstop_closes_everything() -> None:
    ex, engine, acct = partial_market()
    advance_to(ex, 100.0, 47_600.0)
    # equity 8,000 - 7,200 = $800 < 2/3 x maintenance (300 x $476 x 1.25% = $1,785): the whole position
    engine.step()
    assert ex.position_lots(acct, 0) == 0
    assert [(e["kind"], e["lots"]) for e in events(engine)] == [("liquidation", 300)]
    check_books(ex)


# ---------------------------------------------------------------------------------------------- (f) isolated


def test_only_the_failing_isolated_position_is_liquidated() -> None:
    ex, engine = market(symbols=[btc(), eth()], maker_fee=0.0, taker_fee=0.0)
    iso = ex.open_account(2_000, isolated=True)
    ex.set_leverage(iso, "BTC", 20)
    ex.set_leverage(iso, "ETH", 5)
    cp = ex.open_account(1_000_000, leverage=10)
    bidder = ex.open_account(1_000_000, leverage=10)
    trade(ex, iso, cp, 50_000, 20)  # $10,000 at 20x: $500 locked
    trade(ex, iso, cp, 25_000, 10, symbol=1)  # $2,500 at 5x: $500 locked
    assert int(ex.ledger.iso_margin[iso, 0]) == 500 * USD and int(ex.ledger.iso_margin[iso, 1]) == 500 * USD
    assert int(ex.ledger.balance[iso]) == 1_000 * USD
    assert ex.submit(bidder, 0, BUY, 100, 47_600).status == "resting"
    assert ex.submit(bidder, 1, BUY, 100, 23_800).status == "resting"
    # BTC position: 500 - 460 = $40 > maintenance 20 x $477 x 0.4% = $38.16
    ex.prices.mark_ticks[0] = 47_700.0
    assert engine.liquidatable().tolist() == []
    ex.prices.mark_ticks[0] = 47_650.0  # $30 <= $38.12: the BTC position fails; the account has $1,500 more
    ex.prices.mark_ticks[1] = 24_000.0  # ETH is down too, but its position keeps 500 - 100 = $400
    assert engine.liquidatable().tolist() == [iso]
    fund_before = int(ex.ledger.balance[FUND])
    engine.step()
    assert ex.position_lots(iso, 0) == 0
    assert ex.position_lots(iso, 1) == 10
    assert int(ex.ledger.iso_margin[iso, 1]) == 500 * USD
    assert ex.books[1].level_lots(BUY, 23_800) == 100
    (ev,) = events(engine)
    assert ev["symbol"] == "BTC" and ev["lots"] == 20 and ev["price_usd"] == pytest.approx(47_600)
    # sold at 47,600: -$480 against the $500 margin leaves $20, all the clearance fee may take (0.5% of
    # $9,520 = $47.60 is capped at it): an isolated position never costs more than its margin
    assert ev["fee_usd"] == pytest.approx(20)
    assert int(ex.ledger.balance[FUND]) - fund_before == 20 * USD
    assert int(ex.ledger.balance[iso]) == 1_000 * USD
    assert int(ex.ledger.iso_margin[iso, 0]) == 0
    assert engine.liquidatable().tolist() == []
    check_books(ex)


def test_adl_with_no_counterparty_left_falls_back_to_the_fund_and_bad_debt() -> None:
    """The only short is the fund's own position: ADL finds nobody, so the fund takes the long."""
    ex, engine = market(maker_fee=0.0, taker_fee=0.0, liquidation_fee=0.0, insurance_fund_usd=0.0)
    longer = ex.open_account(1_000, leverage=20)
    ex.seed_position(longer, FUND, 0, 30, 50_000)  # the fund is short 30 lots (it took them over earlier)
    ex.ledger.withdraw(FUND, 1_200 * USD)  # the fund has paid out before: its balance is -$1,200
    ex.prices.mark_ticks[0] = 45_000.0
    # the long: 1,000 - 30 x 5,000 x $0.01 = -$500, bankrupt at 46,667; the fund's equity is
    # -1,200 + 1,500 = $300 < the $500 a takeover costs at the mark, so ADL is due, but the only short
    # is the fund itself
    engine.step()
    assert engine.adl_events == []
    assert ex.position_lots(longer, 0) == 0
    assert ex.position_lots(FUND, 0) == 0  # the fund's short and the taken-over long net out
    assert [e["kind"] for e in events(engine)] == ["takeover"]
    # the fund takes the long at 46,667 (the tick rounded up): it ends flat at 300 - 30 x 1,667 x $0.01
    # = -$200.10, which the exchange injects as bad debt
    assert ex.ledger.bad_debt_micro == pytest.approx(200_100_000, abs=2)
    assert min(equities_usd(ex)) >= -1e-5
    check_books(ex)
