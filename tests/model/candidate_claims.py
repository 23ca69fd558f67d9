"""Re-measure the emergence claims and the calm candidate's ablation under a candidate calibration.

A candidate is ``calm_market`` plus ``--set`` items, one per line of a file (``#`` starts a comment), as
in ``docs/calm_market.md``. Two measurements, both the shipped tests' own code on the candidate:

* ``emergence``: the claims of :mod:`tests.model.test_emergence` on the small test market with the
  candidate's ``market`` section merged under its counts (:data:`tests.model.market_helpers.SMALL`);
* ``ablation``: the sums of 1-minute kurtosis and lag-1 |r| ACF over BTC, ETH and SOL that
  ``tests/experiments/test_calm_market.py``'s ablation compares (seeds 11-13, 3 h each; flow pricing off,
  every trader at 1x).

Usage::

    python -m tests.model.candidate_claims SETS_FILE [emergence|ablation|both] [calm,whale,jump,...]

It prints each claim's figures and PASS or FAIL; it asserts nothing itself (it is a measuring tool, not a
test: the tests are the shipped ones).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from experiments import run
from experiments.config import apply_overrides, load_raw, resolve_config_path
from experiments.stylized import symbol_facts
from tests.model import market_helpers

ABLATIONS = {
    "on": [],
    "flow pricing off": ["market.market_makers.flow_impact_bps_per_musd=0"],
    "every trader at 1x": ["market.leveraged.leverage_cap=1"],
}
"""The candidate ablation's variants (the same as ``tests/experiments/test_calm_market.py``'s)."""


def read_sets(path: str | Path) -> list[str]:
    """The ``--set`` items of a candidate file: one per non-empty line, ``#`` lines skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def emergence(sets: list[str], which: list[str]) -> dict[str, bool]:
    """Run the chosen claims of ``test_emergence`` with the candidate merged into the small market.

    Args:
        sets: the candidate's ``--set`` items (on ``calm_market``).
        which: claim names among ``calm, whale, jump, channels, stops, delev``.

    Returns:
        Claim name -> whether its assertions held.
    """
    raw = load_raw(resolve_config_path("calm_market"))
    apply_overrides(raw, sets)
    merged = market_helpers.merge(raw["market"], market_helpers.SMALL)
    market_helpers.SMALL.clear()
    market_helpers.SMALL.update(merged)
    # imported only now: the module reads the small market's defaults when it is imported
    from tests.model import test_emergence as te

    claims: dict[str, Callable[[], None]] = {
        "calm": te.test_calm_baseline_stays_calm,
        "whale": te.test_leverage_amplifies_a_whale_sale_through_liquidations,
        "jump": te.test_btc_shock_spreads_to_alts_only_through_the_channels,
        "channels": te.test_switching_off_each_perp_level_channel_lowers_the_alt_drawdown,
        "stops": te.test_stops_clustered_under_a_round_number_accelerate_the_break,
        "delev": te.test_a_cascade_deleverages_longs,
    }
    held = {}
    for name in which:
        try:
            claims[name]()
            held[name] = True
        except AssertionError as exc:
            held[name] = False
            print(f"  ({name}: {str(exc)[:200]})")
        print(f"{'PASS' if held[name] else 'FAIL'} {name}", flush=True)
    return held


def ablation_sums(sets: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """The candidate ablation's sums per variant of :data:`ABLATIONS`: 1-minute excess kurtosis and lag-1
    |r| ACF over BTC, ETH and SOL, seeds 11-13 of 3 h each, on ``calm_market`` with ``sets``."""
    kurt = dict.fromkeys(ABLATIONS, 0.0)
    clus = dict.fromkeys(ABLATIONS, 0.0)
    for seed in (11, 12, 13):
        for name, extra in ABLATIONS.items():
            ts = run("calm_market", seed=seed, hours=3.0, overrides=sets + extra, figures=False).timeseries
            for symbol in ("BTC", "ETH", "SOL"):
                f = symbol_facts(ts[ts["symbol"] == symbol].sort_values("time_s"))
                kurt[name] += f["excess_kurtosis_1m"]
                clus[name] += f["acf_abs_r_lag1"]
    return kurt, clus


def ablation(sets: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Print :func:`ablation_sums` with whether each switch off halves them (the test's claim)."""
    kurt, clus = ablation_sums(sets)
    for label, sums in (("kurtosis", kurt), ("|r| lag-1 ACF", clus)):
        halved = all(sums["on"] > 2 * max(sums[n], 0.0) for n in ABLATIONS if n != "on")
        shown = ", ".join(f"{n} {v:.2f}" for n, v in sums.items())
        print(f"{'PASS' if halved else 'FAIL'} {label} summed: {shown}", flush=True)
    return kurt, clus


def main(argv: list[str]) -> int:
    """Command line: see the module docstring."""
    if not argv:
        print(__doc__)
        return 2
    sets = read_sets(argv[0])
    what = argv[1] if len(argv) > 1 else "both"
    which = argv[2].split(",") if len(argv) > 2 else ["calm", "whale", "jump", "channels", "stops", "delev"]
    if what in ("ablation", "both"):
        ablation(sets)
    if what in ("emergence", "both"):
        emergence(sets, which)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
