"""Value traders: the slow money that anchors a multi-day run to the index's fundamental path."""

from __future__ import annotations

import math

from agents.background import ValueTrader
from model.market import CryptoMarket
from model.orderbook import BUY, SELL
from tests.model.market_helpers import run_market, small_params

VALUE = {"value_count": 6, "value_capital_usd": 20_000_000, "value_orders_per_hour": 6}


def _value_traders(market) -> list[ValueTrader]:
    return list(market.agents_by_type[ValueTrader]) if ValueTrader in market.agents_by_type else []


def _trader_at_discount(seed: int, price_over_value: float):
    """A market with value traders, one of them, and its view with the mid set to ``price_over_value``
    times fundamental value; returns (trader, view, symbol)."""
    market = run_market(small_params(background=VALUE), seed=seed, hours=0.01)
    trader = _value_traders(market)[0]
    view = market.view
    s = trader.symbol
    view.mid_ticks[s] = view.value_ticks[s] * price_over_value
    return trader, view, s


def test_index_path_is_the_index_without_its_endogenous_deviation() -> None:
    market = run_market(small_params(), seed=1, hours=0.01)
    ex = market.exchange
    path_before, index_before = ex.index_path_ticks(0), ex.index_ticks[0]
    ex.spot_flow(0, -20_000_000.0)  # $20M of spot selling moves the index, not the fundamental path
    assert ex.index_ticks[0] < index_before * 0.995
    assert math.isclose(ex.index_path_ticks(0), path_before, rel_tol=1e-12)


def test_value_trader_wants_a_long_below_value_a_short_above_and_nothing_near_it() -> None:
    market = run_market(small_params(background=VALUE), seed=2, hours=0.01)
    trader = _value_traders(market)[0]
    view = market.view
    s = trader.symbol
    value = view.value_ticks[s]
    p = market.params.background
    for gap, expected_sign in ((-0.2, 1), (0.2, -1), (0.005, 0)):
        view.mid_ticks[s] = value * math.exp(gap)
        target = trader.target_usd(view)
        assert math.copysign(1, target) == expected_sign if expected_sign else target == 0.0
    view.mid_ticks[s] = value * math.exp(-p.value_full_gap)
    assert math.isclose(trader.target_usd(view), p.value_capital_usd * market.view.liquidity_scale[s])


def test_value_trader_waits_while_the_price_is_still_falling_fast() -> None:
    trader, view, s = _trader_at_discount(3, 0.85)
    assert trader.decide(view) is not None  # 15% under value, price not moving: it buys
    side, lots, limit = trader.decide(view)
    assert side == BUY and lots >= 1 and limit <= view.value_ticks[s]
    # the last hour fell 5%: the same discount, but momentum has not stopped
    view._hist[view._pos, s] = view._hist[(view._pos - 1) % view._len, s] - 0.05
    assert trader.decide(view) is None


def _mean_gap_after_a_dump(seed: int, capital_usd: float) -> tuple[float, int]:
    """Mean log-gap of BTC's mid to its fundamental path over hours 1-4 after a $60M whale dump, and the
    lots the BTC value traders hold at the end. No index noise: the path stays still."""
    dump = [{"kind": "whale_sale", "at_hour": 0.1, "holder": h, "fraction": 1.0, "mode": "twap",
             "duration_minutes": 30} for h in range(3)]  # fmt: skip
    still = [{"name": s, "price_usd": p, "tick_size_usd": t, "lot_size": lot, "index_vol_per_day": 0.0,
              "btc_beta": b, "liquidity_scale": ls}
             for s, p, t, lot, b, ls in (("BTC", 78_000, 0.1, 0.001, 0.0, 1.0),
                                         ("ETH", 2_500, 0.01, 0.01, 0.5, 0.5))]  # fmt: skip
    params = small_params(
        symbols=still,
        background={
            "value_count": 8,
            "value_orders_per_hour": 12,
            "value_order_usd": 1_000_000,
            "value_capital_usd": capital_usd,
        },
        large_holders={"count": 3, "inventory_usd": 20_000_000},
        leveraged={"symbol_weights": [0.5, 0.5]},
        shocks=dump,
    )
    market = CryptoMarket(params, seed=seed, dt_seconds=5.0, sample_seconds=300.0)
    market.run_for(3600.0)
    gaps = []
    for _ in range(36):  # every 5 minutes, hours 1 to 4
        market.run_for(300.0)
        gaps.append(math.log(market.view.mid_ticks[0] / market.view.value_ticks[0]))
    assert market.exchange.ledger_imbalance() == 0
    held = sum(t.position(0) for t in _value_traders(market) if t.symbol == 0)
    return sum(gaps) / len(gaps), held


def test_value_traders_pull_a_dumped_price_back_toward_value() -> None:
    """Ablation, same seeds and same population: value traders with $20M each, or with $1 (they never
    trade). The gap to value after the dump is smaller with the capital, and they hold the longs."""
    for seed in (4, 5):
        gap_off, held_off = _mean_gap_after_a_dump(seed, 1.0)
        gap_on, held_on = _mean_gap_after_a_dump(seed, 20_000_000.0)
        print(f"seed {seed}: mean gap to value, hours 1-4: no capital {gap_off:+.4f}, capital {gap_on:+.4f}")
        assert gap_off < -0.03  # the dump leaves the perp (and the index) well under the fundamental path
        assert gap_on > gap_off + 0.006
        assert held_off == 0 and held_on > 0  # with capital they bought the discount


def test_value_trader_sells_a_premium() -> None:
    trader, view, s = _trader_at_discount(5, 1.2)
    side, lots, limit = trader.decide(view)
    assert side == SELL and lots >= 1 and limit >= view.value_ticks[s]
