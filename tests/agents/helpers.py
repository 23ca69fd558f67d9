"""A bare market for agent unit tests: a real Exchange and MarketView inside a plain ``mesa.Model``.

No CryptoMarket, no population, no phases: a test builds the one agent it looks at, puts the book it
needs in front of it (a liquidity account's orders), refreshes the view and steps the agent by hand. An
agent that reached into its model for parameters or state would fail here with an AttributeError.
"""

from __future__ import annotations

from typing import NamedTuple

import mesa

from model.exchange import Exchange
from model.orderbook import BUY, SELL
from model.params import MarketParams
from model.view import MarketView


class Bare(NamedTuple):
    """The pieces of a bare market."""

    model: mesa.Model
    exchange: Exchange
    view: MarketView
    params: MarketParams


def bare_market(seed: int = 0, **params: object) -> Bare:
    """A plain Mesa model with an exchange and a view over ``MarketParams(**params)`` (1-s steps)."""
    p = MarketParams.model_validate(params)
    model = mesa.Model(rng=seed)
    exchange = Exchange(p.symbols, p.venue)
    view = MarketView(exchange, p.symbols, 1.0, p.view)
    return Bare(model, exchange, view, p)


def quote_around(exchange: Exchange, symbol: int, mid_ticks: float, lots: int = 5000) -> int:
    """Open a well-funded liquidity account and rest a bid and an ask 10 bps either side of ``mid_ticks``.

    Returns:
        The liquidity account.
    """
    lp = exchange.open_account(100_000_000.0, leverage=10.0)
    bid = exchange.submit(lp, symbol, BUY, lots, price_ticks=int(mid_ticks * 0.999))
    ask = exchange.submit(lp, symbol, SELL, lots, price_ticks=int(mid_ticks * 1.001) + 1)
    assert bid.status == "resting" and ask.status == "resting", (bid, ask)
    return lp
