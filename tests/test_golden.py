"""The regression net: every shipped scenario's short run gives the committed outputs, to the bit.

The golden files in ``tests/golden/mesa-X.Y/<case>/`` (one set per supported Mesa) were produced by the
code as it stood when they were last regenerated (``python -m tests.golden.regenerate``); a change that
moves any of them must regenerate them on purpose and say why in its commit. The run's summary is
compared in its JSON form (what ``summary.json`` holds: ``RunSummary.to_json_dict()``, the wall-clock
fields aside), keys, key order and values, and every Parquet table by content, with exact float equality.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import experiments
from experiments.config import CONFIG_DIR, TARGETS_SUFFIX
from model.params import MarketParams
from tests.golden.cases import CASES, TABLES, WALL_CLOCK_KEYS, golden_dir

GOLDEN_DIR = golden_dir()


def test_the_installed_mesa_has_a_golden_set() -> None:
    assert (GOLDEN_DIR / "baseline" / "summary.json").is_file(), f"no golden set for {GOLDEN_DIR.name}"


def test_every_shipped_scenario_has_a_golden_case() -> None:
    shipped = {p.stem for p in CONFIG_DIR.glob("*.yaml") if not p.name.endswith(TARGETS_SUFFIX)}
    assert shipped == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_outputs(name: str) -> None:
    case = CASES[name]
    result = experiments.run(
        case.scenario, seed=case.seed, hours=case.hours, overrides=list(case.overrides), figures=False
    )
    summary = result.summary
    # the window must exercise the whole waterfall and funding, or the net has holes
    kinds = set(result.liquidations["kind"])
    assert summary.funding_settlements is not None and summary.funding_settlements > 0
    assert summary.totals.liquidation_count > 0 and ({"liquidation", "partial"} & kinds)
    assert "takeover" in kinds
    assert summary.totals.adl_count > 0 and len(result.adl) > 0
    assert isinstance(result.config.market, MarketParams)

    golden = json.loads((GOLDEN_DIR / name / "summary.json").read_text())
    written = json.loads(summary.to_json())  # the text summary.json gets
    assert written == summary.to_json_dict()
    got = {k: v for k, v in written.items() if k not in WALL_CLOCK_KEYS}
    assert got == golden
    assert list(got) == list(golden)
    for table in TABLES:
        expected = pd.read_parquet(GOLDEN_DIR / name / f"{table}.parquet")
        assert_frame_equal(getattr(result, table).reset_index(drop=True), expected, check_exact=True)
