"""Leveraged traders' demand for leverage under macro risk-off."""

from __future__ import annotations

from collections import Counter

import numpy as np

from model.market import CryptoMarket
from model.params import default_symbols
from tests.model.market_helpers import run_market, small_params


def _oi_change(cut: float, seed: int) -> float:
    params = small_params(
        leveraged={"risk_off_deleveraging": cut, "holding_hours": 2},
        shocks=[{"kind": "macro_risk_off", "at_hour": 0.05, "size": 3.0}],
        macro={"reversion_per_hour": 0.05},
    )
    market = run_market(params, seed=seed, hours=6.0, dt_seconds=5.0, sample_seconds=300.0)
    assert market.exchange.ledger_imbalance() == 0
    ts = market.timeseries_frame()
    oi = ts.groupby("time_s")["open_interest_usd"].sum()
    return float(oi.iloc[-1] / oi.iloc[0] - 1.0)


def test_risk_off_shrinks_open_interest_only_when_entries_respond_to_it() -> None:
    """Ablation, same seeds: positions turn over every ~2 h; after a risk-off shock the traders who
    take less leverage let open interest shrink, the ones who ignore the factor replace what they close."""
    for seed in (1, 2):
        deaf, responsive = _oi_change(0.0, seed), _oi_change(0.3, seed)
        print(f"seed {seed}: OI change without the cut {deaf:+.3f}, with it {responsive:+.3f}")
        assert responsive < deaf - 0.05


def _largest_positions_usd(max_position_usd: float | None) -> dict[int, float]:
    """The largest leveraged trader's position per symbol (USD at the mid) after an hour of a small market
    whose capital has a heavy tail (lognormal sigma 2: a few traders hold many times the median)."""
    params = small_params(
        leveraged={"max_position_usd": max_position_usd, "capital_usd": {"median": 5000, "sigma": 2.0}}
    )
    market = run_market(params, seed=3, hours=1.0)
    ex = market.exchange
    largest = dict.fromkeys(range(ex.n_symbols), 0.0)
    for trader in market.leveraged:
        for s, lots in enumerate(ex.positions(trader.account)):
            notional = abs(lots) * ex.mid_ticks(s) * ex.tick_value_micro[s] / 1e6
            largest[s] = max(largest[s], notional)
    return largest


def test_no_trader_holds_more_than_the_position_cap_scaled_to_each_book() -> None:
    """``max_position_usd`` caps every entry at the cap on the leader and at the cap x liquidity scale on
    the alts (with a drift for the price's move since entry); without it the heavy-tailed capital puts
    single positions several times larger on the books."""
    cap = 100_000.0
    capped, free = _largest_positions_usd(cap), _largest_positions_usd(None)
    scales = [s.liquidity_scale for s in small_params().symbols]
    print(
        f"\nlargest positions, $K: capped {[round(v / 1e3) for v in capped.values()]}, "
        f"uncapped {[round(v / 1e3) for v in free.values()]}"
    )
    for s, scale in enumerate(scales):
        assert capped[s] <= cap * scale * 1.05  # a position grows only with the price since its entry
        assert free[s] > 2 * cap * scale


def _stop_distances(spread: float) -> list[float]:
    """Each seeded BTC long's stop distance under its entry, fraction, at the start of a small market
    (stops at support off: every strategy's stop is at its distance from the entry)."""
    params = small_params(leveraged={"stop_loss_spread": spread, "stops_at_support": False})
    market = CryptoMarket(params, seed=4)
    ex = market.exchange
    out = []
    for trader in market.leveraged:
        if ex.positions(trader.account)[0] > 0 and 0 in trader.stop_ids:
            trigger = ex.stop_trigger_ticks(trader.stop_ids[0])
            assert trigger is not None
            out.append(1.0 - trigger / ex.entry_price_ticks(trader.account, 0))
    return out


def test_stop_distances_drawn_per_trader_spread_the_stops_out_of_one_band() -> None:
    """With ``stop_loss_spread`` 0.5 the stops sit 2.5-7.5% under their entries, spread over the range;
    without it every one sits at ``stop_loss`` (5%), to a tick."""
    spread, same = _stop_distances(0.5), _stop_distances(0.0)
    print(
        f"\nstop distances: {min(spread):.4f}-{max(spread):.4f} spread, "
        f"{min(same):.4f}-{max(same):.4f} without"
    )
    assert len(spread) > 50 and len(same) > 50
    assert max(abs(d - 0.05) for d in same) < 1e-4
    assert min(spread) >= 0.025 - 1e-4 and max(spread) <= 0.075 + 1e-4
    assert np.std(spread) > 0.01  # uniform over 5 points of price has a std of ~1.4%


def _support_stop_distances(spread: float) -> list[float]:
    """Each seeded BTC dip buyer's stop distance under the support it bought above, fraction, at the start
    of a small market (stops at support, the default)."""
    params = small_params(leveraged={"support_stop_spread": spread})
    market = CryptoMarket(params, seed=4)
    ex = market.exchange
    spacing_ticks = params.leveraged.support_spacing_usd["BTC"] / ex.tick_size_usd[0]
    out = []
    for trader in market.leveraged:
        if trader.strategy == "dip_buyer" and ex.positions(trader.account)[0] > 0 and 0 in trader.stop_ids:
            trigger = ex.stop_trigger_ticks(trader.stop_ids[0])
            assert trigger is not None
            low = min(ex.entry_price_ticks(trader.account, 0), market.view.mid_ticks[0])
            support = (low // spacing_ticks) * spacing_ticks
            out.append(1.0 - trigger / support)
    return out


def test_support_stops_drawn_per_dip_buyer_gather_in_a_band_under_the_round_number() -> None:
    """With ``support_stop_spread`` 0.75 the dip buyers' stops sit 0.1-0.7% under their support (the
    default distance 0.4% x (1 -+ 0.75)), spread over that band; without it every one sits 0.4% under, to a
    tick: one price where a break fires them all at once."""
    spread, same = _support_stop_distances(0.75), _support_stop_distances(0.0)
    print(
        f"\nsupport stop distances: {min(spread):.4f}-{max(spread):.4f} spread, "
        f"{min(same):.4f}-{max(same):.4f} without"
    )
    assert len(spread) > 20 and len(same) > 20
    assert max(abs(d - 0.004) for d in same) < 2e-5  # a tick of BTC is ~0.13 bp
    assert min(spread) >= 0.001 - 2e-5 and max(spread) <= 0.007 + 2e-5
    assert np.std(spread) > 0.001  # uniform over 0.6 points of price has a std of ~0.17%


def _dip_buyer_stop_prices_usd(multiples: list[float] | None) -> list[float]:
    """The seeded BTC dip buyers' stop prices at the start of a small market, USD (stops at support)."""
    symbols = [s.model_dump() for s in default_symbols()]
    # off every round number: at the default $78,000 each seeded dip buyer who entered above the start
    # shares its support, whatever the spacing
    symbols[0]["price_usd"] = 78_400.0
    params = small_params(symbols=symbols, leveraged={"support_spacing_multiples": multiples})
    market = CryptoMarket(params, seed=4)
    ex = market.exchange
    out = []
    for trader in market.leveraged:
        if trader.strategy == "dip_buyer" and ex.positions(trader.account)[0] > 0 and 0 in trader.stop_ids:
            trigger = ex.stop_trigger_ticks(trader.stop_ids[0])
            assert trigger is not None
            out.append(trigger * ex.tick_size_usd[0])
    return out


def test_dip_buyers_watching_round_numbers_of_several_sizes_share_their_stops_over_more_levels() -> None:
    """With ``support_spacing_multiples`` [0.25, 0.5, 1] each dip buyer's stop sits 0.4% under a multiple
    of $250, $500 or $1,000: under the quarter levels too, and no level holds as many stops as the $1,000
    level holds without (Osler 2003's round numbers of several sizes)."""
    below = 1.0 - 0.004
    several = _dip_buyer_stop_prices_usd([0.25, 0.5, 1.0])
    one = _dip_buyer_stop_prices_usd(None)

    def supports(prices: list[float]) -> list[int]:
        return [round(p / below / 250.0) * 250 for p in prices]

    for price, support in zip(several + one, supports(several + one), strict=True):
        assert abs(price - support * below) < 0.2  # 0.4% under a multiple of $250, to a tick or so
    levels_several, levels_one = supports(several), supports(one)
    print(f"\nstops per level: {sorted(Counter(levels_several).items())}")
    print(f"without: {sorted(Counter(levels_one).items())}")
    assert all(s % 1000 == 0 for s in levels_one)
    assert any(s % 1000 in (250, 750) for s in levels_several)
    assert len(several) > 20 and len(one) > 20
    assert max(Counter(levels_several).values()) < max(Counter(levels_one).values())
