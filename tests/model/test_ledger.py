"""The exact ledger: fee rounding, realised PnL, isolated margin, the balance invariant and open interest.

Units in these tests: one symbol whose tick is $1 and lot 0.01 coin, so one tick on one lot is
10,000 micro-dollars ($0.01) and a lot at 50,000 ticks is worth $500. Expected values are worked out by
hand in each test.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.ledger import FEE_SCALE, Ledger, fee_micro, fee_rate_units

TV = 10_000  # micro-dollars per tick per lot
USD = 1_000_000


def ledger(*deposits_usd: float, isolated: bool = False, leverage: float = 10.0) -> Ledger:
    led = Ledger([TV], capacity=2)
    for d in deposits_usd:
        led.open_account(round(d * USD), isolated=isolated, leverage=leverage)
    return led


def with_counterparty(led: Ledger) -> int:
    """Open a rich cross account that takes the other side of every trade booked with :func:`trade`."""
    return led.open_account(10**6 * USD, isolated=False)


def trade(led: Ledger, account: int, counterparty: int, signed_lots: int, price: int) -> int:
    """Book a fill to ``account`` and the opposite fill to ``counterparty``; return account's realised PnL."""
    led.book_trade(counterparty, 0, -signed_lots, price, 0)
    return led.book_trade(account, 0, signed_lots, price, 0)


# ---------------------------------------------------------------------------------------------- fees


def test_fee_rate_units() -> None:
    assert FEE_SCALE == 10**8
    assert fee_rate_units(0.0005) == 50_000
    assert fee_rate_units(0.0002) == 20_000
    assert fee_rate_units(-0.0001) == -10_000


def test_fee_charge_rounds_up_to_the_micro_dollar() -> None:
    # 5 bp of 1,000,001 micro = 500.0005 micro -> 501 (the exchange never undercharges)
    assert fee_micro(1_000_001, 50_000) == 501
    # 5 bp of 1 micro = 0.0005 -> 1
    assert fee_micro(1, 50_000) == 1
    # exact: 5 bp of $2,000 = $1
    assert fee_micro(2_000 * USD, 50_000) == 1 * USD
    assert fee_micro(0, 50_000) == 0


def test_rebate_rounds_toward_zero() -> None:
    # a -1 bp rebate on 1,000,001 micro = -100.0001 -> -100 (never over-rebated)
    assert fee_micro(1_000_001, -10_000) == -100
    assert fee_micro(9_999, -10_000) == 0  # -0.9999 -> 0
    assert fee_micro(2_000 * USD, -10_000) == -200_000


def test_fees_go_to_the_fee_account() -> None:
    led = ledger(1_000, 1_000)
    led.book_trade(1, 0, 4, 50_000, 1_000_000)
    led.book_trade(2, 0, -4, 50_000, -200_000)  # a maker rebate
    assert led.fee_account_micro == 800_000
    assert int(led.balance[1]) == 1_000 * USD - 1_000_000
    assert int(led.balance[2]) == 1_000 * USD + 200_000
    assert led.imbalance() == 0


# ---------------------------------------------------------------------------------------------- PnL


def test_open_add_partial_close_and_flip_long() -> None:
    led = ledger(10_000)
    assert led.book_trade(1, 0, 10, 50_000, 0) == 0  # open 10 lots at 50,000
    assert led.book_trade(1, 0, 10, 52_000, 0) == 0  # add 10 at 52,000: average 51,000
    assert int(led.pos[1, 0]) == 20
    assert int(led.cost[1, 0]) == 10 * 50_000 + 10 * 52_000
    # sell 5 at 53,000: realised = 5 x (53,000 - 51,000) ticks x $0.01 = $100
    assert led.book_trade(1, 0, -5, 53_000, 0) == 100 * USD
    assert int(led.pos[1, 0]) == 15
    assert int(led.cost[1, 0]) == 15 * 51_000
    assert int(led.balance[1]) == 10_100 * USD
    # sell 25 at 50,000: close 15 (loss 15 x 1,000 ticks = $150) and open a 10-lot short at 50,000
    assert led.book_trade(1, 0, -25, 50_000, 0) == -150 * USD
    assert int(led.pos[1, 0]) == -10
    assert int(led.cost[1, 0]) == -10 * 50_000
    assert int(led.balance[1]) == 9_950 * USD
    # buy back 4 at 49,000: the short gains 4 x 1,000 ticks = $40
    assert led.book_trade(1, 0, 4, 49_000, 0) == 40 * USD
    assert int(led.pos[1, 0]) == -6
    assert int(led.cost[1, 0]) == -6 * 50_000


def test_cost_remainder_stays_with_the_open_lots() -> None:
    led = ledger(10_000)
    for price in (1_000, 1_000, 1_001):  # 3 lots, entry cost 3,001 ticks: average 1,000.33
        led.book_trade(1, 0, 1, price, 0)
    r1 = led.book_trade(1, 0, -1, 2_000, 0)  # removes floor(3,001 / 3) = 1,000 of cost
    assert r1 == (2_000 - 1_000) * TV
    assert int(led.cost[1, 0]) == 2_001
    r2 = led.book_trade(1, 0, -2, 2_000, 0)  # the rest: 2,001
    assert r2 == (4_000 - 2_001) * TV
    # together exactly the sale minus the entry cost: no micro-dollar lost to rounding
    assert r1 + r2 == (3 * 2_000 - 3_001) * TV
    assert int(led.cost[1, 0]) == 0


def test_short_cost_remainder_is_exact_too() -> None:
    led = ledger(10_000)
    for price in (1_000, 1_001, 1_001):  # short 3 lots, cost -3,002
        led.book_trade(1, 0, -1, price, 0)
    r1 = led.book_trade(1, 0, 2, 900, 0)
    r2 = led.book_trade(1, 0, 1, 900, 0)
    assert r1 + r2 == (3_002 - 3 * 900) * TV
    assert int(led.cost[1, 0]) == 0 and int(led.pos[1, 0]) == 0


# ---------------------------------------------------------------------------------------------- isolated


def test_isolated_margin_is_locked_on_open() -> None:
    led = ledger(1_000, isolated=True, leverage=10)
    cp = with_counterparty(led)
    trade(led, 1, cp, 10, 50_000)  # $5,000 notional at 10x: $500 locked
    assert int(led.iso_margin[1, 0]) == 500 * USD
    assert int(led.balance[1]) == 500 * USD
    trade(led, 1, cp, 1, 50_001)  # $500.01 more at 10x: ceil(50.001) -> $50.001 locked
    assert int(led.iso_margin[1, 0]) == 500 * USD + 50_001_000
    assert led.imbalance() == 0


def test_isolated_lock_never_exceeds_the_free_balance() -> None:
    led = ledger(100, isolated=True, leverage=10)
    led.book_trade(1, 0, 10, 50_000, 0)  # wants $500, only $100 free
    assert int(led.iso_margin[1, 0]) == 100 * USD
    assert int(led.balance[1]) == 0


def test_isolated_partial_close_releases_margin_in_proportion() -> None:
    led = ledger(1_000, isolated=True, leverage=10)
    cp = with_counterparty(led)
    trade(led, 1, cp, 10, 50_000)  # margin $500; bankruptcy 50,000 - 500 / (10 x 0.01) = 45,000
    realised = trade(led, 1, cp, -4, 49_000)  # close 4 lots at a $40 loss
    assert realised == -40 * USD
    # 4/10 of the margin ($200) goes back to the wallet, which also takes the realised loss
    assert int(led.iso_margin[1, 0]) == 300 * USD
    assert int(led.balance[1]) == 500 * USD + 200 * USD - 40 * USD
    # so the remaining 6 lots keep their bankruptcy price: 50,000 - 300 / (6 x 0.01) = 45,000
    bankruptcy = 50_000 - int(led.iso_margin[1, 0]) / (int(led.pos[1, 0]) * TV)
    assert bankruptcy == pytest.approx(45_000)
    assert led.imbalance() == 0


def test_isolated_partial_close_past_bankruptcy_never_touches_the_free_balance() -> None:
    led = ledger(1_000, isolated=True, leverage=10)
    cp = with_counterparty(led)
    trade(led, 1, cp, 10, 50_000)  # margin $500, free $500; bankruptcy 45,000
    realised = trade(led, 1, cp, -4, 43_000)  # gapped past bankruptcy: 4 x -7,000 x $0.01 = -$280
    assert realised == -280 * USD
    # the released share ($200) cannot cover the loss: the wallet gets nothing and loses nothing, and the
    # remaining margin pays the other $80
    assert int(led.balance[1]) == 500 * USD
    assert int(led.iso_margin[1, 0]) == 500 * USD - 280 * USD
    assert led.imbalance() == 0


def test_isolated_full_close_releases_everything_with_the_pnl() -> None:
    led = ledger(1_000, isolated=True, leverage=10)
    cp = with_counterparty(led)
    trade(led, 1, cp, 10, 50_000)
    trade(led, 1, cp, -10, 51_000)  # +$100
    assert int(led.iso_margin[1, 0]) == 0
    assert int(led.balance[1]) == 1_100 * USD
    # a close beyond bankruptcy takes the loss past the margin out of the wallet
    trade(led, 1, cp, 10, 50_000)  # margin $500, wallet $600
    trade(led, 1, cp, -10, 44_000)  # loss $600: margin gone, $100 more from the wallet
    assert int(led.iso_margin[1, 0]) == 0
    assert int(led.balance[1]) == 500 * USD
    assert led.imbalance() == 0


def test_isolated_flip_releases_then_locks_at_the_new_price() -> None:
    led = ledger(1_000, isolated=True, leverage=10)
    cp = with_counterparty(led)
    trade(led, 1, cp, 10, 50_000)
    trade(led, 1, cp, -14, 50_000)  # flat at no PnL, then short 4 lots: $2,000 at 10x = $200
    assert int(led.pos[1, 0]) == -4
    assert int(led.iso_margin[1, 0]) == 200 * USD
    assert int(led.balance[1]) == 800 * USD
    assert led.imbalance() == 0


def test_move_position_transfers_lots_without_fees() -> None:
    led = ledger(1_000, 1_000)
    led.book_trade(1, 0, 10, 50_000, 0)
    led.book_trade(2, 0, -10, 50_000, 0)
    r_src, r_dst = led.move_position(1, Ledger.FUND, 0, 6, 48_000)
    assert r_src == -6 * 2_000 * TV and r_dst == 0
    assert int(led.pos[1, 0]) == 4 and int(led.pos[Ledger.FUND, 0]) == 6
    assert int(led.cost[Ledger.FUND, 0]) == 6 * 48_000
    assert led.fee_account_micro == 0
    assert led.imbalance() == 0
    assert led.open_interest_lots().tolist() == [[10], [10]]


# ---------------------------------------------------------------------------------------------- accounts


def test_accounts_grow_past_capacity_and_unknown_ids_raise() -> None:
    led = ledger(*[100] * 9)  # capacity 2: grows by doubling
    assert led.n == 10
    assert int(led.balance[9]) == 100 * USD
    assert float(led.leverage[9, 0]) == 10.0
    assert led.deposits_micro == 900 * USD
    with pytest.raises(KeyError, match="unknown account 10"):
        led.check_account(10)
    with pytest.raises(KeyError, match="unknown account -1"):
        led.check_account(-1)
    with pytest.raises(ValueError):
        led.deposit(1, -1)


def test_withdrawal_and_transfer_keep_the_books_balanced() -> None:
    led = ledger(1_000, 500)
    led.withdraw(1, 250 * USD)
    led.transfer(2, Ledger.FUND, 100 * USD)
    assert int(led.balance[1]) == 750 * USD
    assert int(led.balance[Ledger.FUND]) == 100 * USD
    assert led.imbalance() == 0
    led.balance[1] += 1  # a micro-dollar from nowhere is seen
    assert led.imbalance() == -1


# ---------------------------------------------------------------------------------------------- properties

trade_strategy = st.tuples(
    st.integers(1, 5),  # buyer
    st.integers(1, 5),  # seller
    st.integers(1, 40),  # lots
    st.integers(900, 1_100),  # price
    st.integers(-20_000, 80_000),  # taker fee rate units
    st.integers(-20_000, 80_000),  # maker fee rate units
)


@settings(max_examples=150, deadline=None)
@given(trades=st.lists(trade_strategy, max_size=40), isolated=st.lists(st.booleans(), min_size=5, max_size=5))
def test_arbitrary_trades_keep_the_ledger_exact(
    trades: list[tuple[int, int, int, int, int, int]], isolated: list[bool]
) -> None:
    tv = 7  # an odd tick value, so that floors and ceilings bite
    led = Ledger([tv], capacity=2)
    for iso in isolated:
        led.open_account(50_000, isolated=iso, leverage=3.0)
    flows = [50_000 if a else 0 for a in range(led.n)]  # deposits - fees - sum(signed x price) x tv
    fees = 0
    for buyer, seller, lots, price, taker_units, maker_units in trades:
        if buyer == seller:
            continue
        notional = price * lots * tv
        f_b, f_s = fee_micro(notional, taker_units), fee_micro(notional, maker_units)
        assert f_b >= notional * taker_units / FEE_SCALE - 1e-9 or taker_units < 0
        led.book_trade(buyer, 0, lots, price, f_b)
        led.book_trade(seller, 0, -lots, price, f_s)
        flows[buyer] -= f_b + notional
        flows[seller] += notional - f_s
        fees += f_b + f_s
        assert led.imbalance() == 0
        longs, shorts = led.open_interest_lots()[:, 0]
        assert longs == shorts
    assert led.fee_account_micro == fees
    # each account's cash is exactly its deposit, minus its fees, minus what it paid for its lots
    assert led.cash_micro().tolist() == flows
    # positions are the net of the fills, and no isolated margin is left on a flat position
    assert int(led.pos[: led.n, 0].sum()) == 0
    for a in range(1, led.n):
        if led.pos[a, 0] == 0:
            assert int(led.iso_margin[a, 0]) == 0
            assert int(led.cost[a, 0]) == 0


# ---------------------------------------------------------------------------------- funding and bad debt


def test_settle_funding_is_zero_sum_with_the_remainder_in_the_fee_account() -> None:
    led = ledger(1_000, 1_000, 1_000)
    cp = with_counterparty(led)
    trade(led, 1, cp, 3, 50_000)  # account 1 long 3 lots, the counterparty short 3
    trade(led, 2, cp, -7, 50_000)  # account 2 short 7 lots: the counterparty is long 4 net
    led.touched.clear()
    wallets = led.balance[: led.n].copy()
    # 1e-4 per interval at a mark of 50,001 ticks: a lot pays 50,001 x 10,000 x 1e-4 = 50,001 micro
    paid, received = led.settle_funding(0, 50_001, 100_000)
    delta = (led.balance[: led.n] - wallets).tolist()
    assert delta[1] == -150_003  # the longs pay
    assert delta[cp] == -200_004
    assert delta[2] == 350_007  # the short receives
    assert (paid, received) == (350_007, 350_007)
    assert sum(delta) + (paid - received) == 0  # zero-sum, the remainder booked
    assert led.fee_account_micro == paid - received
    assert led.imbalance() == 0
    assert led.touched == {1, cp}  # the payers' equity fell: the screened check must look again


def test_settle_funding_rounds_payers_up_and_receivers_down() -> None:
    led = ledger(1_000, 1_000)
    trade(led, 1, 2, 1, 3)  # one lot at 3 ticks: 30,000 micro of notional
    paid, received = led.settle_funding(0, 3, 7)  # 30,000 x 7e-9 = 0.00021 micro
    assert (paid, received) == (1, 0)  # the long pays a whole micro-dollar, the short gets nothing
    assert led.fee_account_micro == 1 and led.imbalance() == 0


def test_settle_funding_of_isolated_positions_moves_their_margin() -> None:
    led = ledger(1_000, isolated=True)
    cp = with_counterparty(led)
    trade(led, 1, cp, -2, 50_000)  # account 1: isolated short
    margin0, wallet0 = int(led.iso_margin[1, 0]), int(led.balance[1])
    led.settle_funding(0, 50_000, -100_000)  # negative rate: shorts pay
    assert int(led.iso_margin[1, 0]) == margin0 - 100_000
    assert int(led.balance[1]) == wallet0
    assert led.imbalance() == 0


def test_settle_funding_at_zero_rate_books_nothing() -> None:
    led = ledger(1_000)
    cp = with_counterparty(led)
    trade(led, 1, cp, 2, 50_000)
    before = led.balance[: led.n].copy()
    assert led.settle_funding(0, 50_000, 0) == (0, 0)
    assert (led.balance[: led.n] == before).all() and led.fee_account_micro == 0


def test_inject_bad_debt_keeps_the_books_balanced() -> None:
    led = ledger(1_000)
    led.transfer(Ledger.FUND, 1, 5 * USD)  # the fund pays out money it does not have
    assert int(led.balance[Ledger.FUND]) == -5 * USD and led.imbalance() == 0
    led.inject_bad_debt(Ledger.FUND, 5 * USD)
    assert int(led.balance[Ledger.FUND]) == 0
    assert led.bad_debt_micro == 5 * USD
    assert led.deposits_micro == 1_000 * USD  # an injection is not a deposit: it is on record as bad debt
    assert led.imbalance() == 0
    with pytest.raises(ValueError):
        led.inject_bad_debt(Ledger.FUND, -1)


def test_set_leverage_refuses_non_positive_values() -> None:
    led = ledger(1_000)
    led.set_leverage(1, 0, 20.0)
    assert float(led.leverage[1, 0]) == 20.0
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError):
            led.set_leverage(1, 0, bad)
