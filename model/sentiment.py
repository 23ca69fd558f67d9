"""A 0-100 fear-and-greed index computed from the market's own state.

Raw score = tanh of a weighted sum of z-scores (recent leader return, realised volatility, liquidation
flow relative to open interest, funding), mapped to 0-100 and smoothed with an exponential half-life, so
it reacts to a crash within minutes and decays back over hours. 50 is neutral, < 25 extreme fear. The
scales of the z-scores, the clip and the squashing are ``SentimentParams`` fields.
"""

from __future__ import annotations

import math

from model.params import SentimentParams


def _clip(z: float, bound: float) -> float:
    return max(-bound, min(bound, z))


class FearGreedIndex:
    """Fear-and-greed index; call :meth:`update` once per step."""

    def __init__(self, params: SentimentParams) -> None:
        self.p = params
        self.value = 50.0
        self.normal_vol: float | None = None  # slow average of volatility: "normal" for this market
        self.elapsed_s = 0.0
        self.trend_anchor: float | None = None  # slow average of the leader's log-price

    def update(
        self,
        dt_s: float,
        recent_return: float,
        vol_1s: float,
        liq_share_per_hour: float,
        funding_rate: float,
        base_vol_1s: float,
        log_price: float | None = None,
    ) -> float:
        """Advance the index.

        Args:
            dt_s: step length, seconds.
            recent_return: leader's log-return over the last ``return_window_seconds`` (an hour).
            vol_1s: leader's realised volatility per sqrt(second), recent window.
            liq_share_per_hour: liquidated notional per hour as a fraction of open interest.
            funding_rate: leader's current funding rate per interval.
            base_vol_1s: the leader's calm volatility per sqrt(second) (normalisation of returns).
            log_price: the leader's log-price, for the multi-day trend term (None: no trend term).
        """
        p = self.p
        self.elapsed_s += dt_s
        # volatility is judged against this market's own normal (a slow average), after a warm-up in
        # which the baseline is learnt
        if self.elapsed_s < p.warmup_seconds or self.normal_vol is None:
            self.normal_vol = (
                vol_1s if self.normal_vol is None else self.normal_vol + 0.1 * (vol_1s - self.normal_vol)
            )
            z_vol = 0.0
        else:
            self.normal_vol += (1.0 - math.exp(-dt_s / (p.normal_vol_hours * 3600.0))) * (
                vol_1s - self.normal_vol
            )
            z_vol = math.log(max(vol_1s, 1e-12) / max(self.normal_vol, 1e-12))
        # the calm volatility over the return's window (sqrt(3600) is exactly 60: the default's bits)
        window_vol = max(base_vol_1s * math.sqrt(p.return_window_seconds), 1e-6)
        z_ret = recent_return / window_vol
        z_liq = liq_share_per_hour / p.heavy_liquidation_share_per_hour  # a heavy liquidation hour: 1
        # funding is clipped to +-z_clip: a rate pinned at its cap during a long discount (60x the normal
        # rate) must not hold the index at extreme fear for days after the market has calmed
        z_fund = _clip(funding_rate / p.normal_funding_rate, p.z_clip)
        z_trend = 0.0
        if log_price is not None:
            horizon_s = p.trend_halflife_hours * 3600.0
            if self.trend_anchor is None:
                self.trend_anchor = log_price
            self.trend_anchor += (1.0 - math.exp(-math.log(2.0) * dt_s / horizon_s)) * (
                log_price - self.trend_anchor
            )
            # a grind lower over days is fear even when no single hour is dramatic
            z_trend = _clip(
                (log_price - self.trend_anchor) / max(base_vol_1s * math.sqrt(horizon_s), 1e-9), p.z_clip
            )
        raw = (
            p.weight_trend * z_trend
            + p.weight_return * z_ret
            - p.weight_vol * z_vol
            - p.weight_liquidations * z_liq
            + p.weight_funding * z_fund
        )
        target = 50.0 + 50.0 * math.tanh(raw / p.score_scale)
        alpha = 1.0 - math.exp(-math.log(2.0) * dt_s / p.halflife_seconds)
        self.value += alpha * (target - self.value)
        return self.value
