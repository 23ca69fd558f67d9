"""The base class of every trading participant: an exchange account that observes, decides and acts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mesa

if TYPE_CHECKING:
    from model.exchange import Exchange
    from model.market import CryptoMarket


class Trader(mesa.Agent):
    """A participant with its own exchange account.

    Subclasses implement :meth:`decide` (and usually :meth:`act`); :meth:`step` runs
    observe -> decide -> act. The market activates a trader when its Poisson clock fires
    (``rate_per_s`` activations per simulated second), so an idle trader costs nothing.

    Args:
        model: the market.
        capital_usd: initial collateral deposited into the account.
        isolated: isolated-margin account (else cross).
        leverage: leverage the account uses on every symbol.
        rate_per_s: mean activations per simulated second.
    """

    model: CryptoMarket

    def __init__(
        self,
        model: CryptoMarket,
        capital_usd: float,
        isolated: bool = False,
        leverage: float = 1.0,
        rate_per_s: float = 0.0,
    ) -> None:
        super().__init__(model)
        self.exchange: Exchange = model.exchange
        self.account = self.exchange.open_account(capital_usd, isolated=isolated, leverage=leverage)
        self.rate_per_s = rate_per_s
        self.capital_usd = capital_usd

    def step(self) -> None:
        """One activation: observe the market, decide, act."""
        intent = self.decide(self.observe())
        if intent is not None:
            self.act(intent)

    def observe(self) -> Any:
        """What the trader looks at; by default the model's per-step market view."""
        return self.model.view

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
