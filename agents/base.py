"""The base class of every trading participant: an exchange account that observes, decides and acts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mesa

if TYPE_CHECKING:
    from model.exchange import Exchange
    from model.view import MarketView


class Trader(mesa.Agent):
    """A participant with its own exchange account.

    Subclasses implement :meth:`decide` (and usually :meth:`act`); :meth:`step` runs
    observe -> decide -> act. The market activates a trader when its Poisson clock fires
    (``rate_per_s`` activations per simulated second), so an idle trader costs nothing.

    A trader gets everything it reads in its constructor: the exchange (its only way to trade and to
    see its account), the per-step market view, and (in the subclasses) its parameter block. It never
    reaches into the model, so it can be built and tested inside any ``mesa.Model``. Its randomness is
    ``self.rng``, Mesa's property for the model's numpy Generator (one stream per model).

    Args:
        model: the Mesa model the agent belongs to.
        exchange: the venue; the account is opened there.
        view: the per-step market view the trader observes.
        capital_usd: initial collateral deposited into the account.
        isolated: isolated-margin account (else cross).
        leverage: leverage the account uses on every symbol.
        rate_per_s: mean activations per simulated second.
    """

    def __init__(
        self,
        model: mesa.Model,
        exchange: Exchange,
        view: MarketView,
        capital_usd: float,
        isolated: bool = False,
        leverage: float = 1.0,
        rate_per_s: float = 0.0,
    ) -> None:
        super().__init__(model)
        self.exchange = exchange
        self.view = view
        self.account = exchange.open_account(capital_usd, isolated=isolated, leverage=leverage)
        self.rate_per_s = rate_per_s
        self.capital_usd = capital_usd
        self.leverage = leverage  # the account's leverage, x (what a move does to its equity)

    def step(self) -> None:
        """One activation: observe the market, decide, act."""
        intent = self.decide(self.observe())
        if intent is not None:
            self.act(intent)

    def observe(self) -> Any:
        """What the trader looks at; by default the per-step market view."""
        return self.view

    def decide(self, view: Any) -> Any:
        """Return an intent for :meth:`act`, or None to do nothing."""
        return None

    def act(self, intent: Any) -> None:
        """Carry out an intent through the exchange's methods."""

    # helpers shared by the strategies -------------------------------------------------

    def equity_usd(self) -> float:
        """Account equity at the marks, USD."""
        return self.exchange.equity_usd(self.account)

    def position(self, symbol: int) -> int:
        """Signed position in lots."""
        return self.exchange.position_lots(self.account, symbol)
