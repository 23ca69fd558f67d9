"""Every shipped scenario validates, and runs a short version with small populations."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.config import CONFIG_DIR, list_scenarios, load_config
from experiments.docs import generate
from experiments.runner import run
from tests.experiments.helpers import TINY_POPULATION

SCENARIOS = [name for name, _ in list_scenarios()]


def test_the_required_scenarios_ship() -> None:
    assert {
        "baseline",
        "whale_dump",
        "macro_risk_off",
        "seed_selloff",
        "flash_crash",
        "leverage_sweep",
    } <= set(SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_validates(name: str) -> None:
    cfg = load_config(name)
    assert cfg.name == name
    assert cfg.description.strip()


def _short_overrides(name: str) -> tuple[list[str], float]:
    """Small populations, the run truncated to a few samples, and the scenario's shocks moved inside it."""
    cfg = load_config(name)
    hours = max(0.02, 3 * cfg.sample_seconds / 3600, 3 * cfg.dt_seconds / 3600)
    overrides = list(TINY_POPULATION)
    n = len(cfg.market.shocks)
    for i in range(n):
        overrides.append(f"market.shocks.{i}.at_hour={hours * (i + 1) / (n + 2):.6f}")
    return overrides, hours


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_runs_a_short_version(name: str, tmp_path: Path) -> None:
    overrides, hours = _short_overrides(name)
    result = run(name, seed=1, hours=hours, overrides=overrides, out=tmp_path / name, figures=False)
    summary = result.summary
    assert summary.ledger_imbalance == 0
    assert summary.sim_seconds == pytest.approx(hours * 3600, abs=result.config.dt_seconds)
    assert set(summary.symbols) == {s.name for s in result.config.market.symbols}
    assert len(result.timeseries) >= 2 * len(result.config.market.symbols)
    assert (tmp_path / name / "summary.json").is_file()


def test_configs_readme_is_generated_from_the_schema() -> None:
    committed = (CONFIG_DIR / "README.md").read_text(encoding="utf-8")
    assert committed == generate(), "experiments/configs/README.md is stale: run `python -m experiments.docs`"
