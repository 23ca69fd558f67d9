"""The regression net: every shipped scenario's short run gives the committed outputs, to the bit.

The golden files in ``tests/golden/mesa-X.Y/<case>/`` (one set per supported Mesa) were produced by the
code as it stood when they were last regenerated (``python -m tests.golden.regenerate``); a change that
moves any of them must regenerate them on purpose and say why in its commit. The run's summary is
compared in its JSON form (what ``summary.json`` holds: ``RunSummary.to_json_dict()``, the wall-clock
fields aside), keys, key order and values, and every Parquet table by content: integers (money in
micro-dollars, ticks, lots, counts), strings and booleans exactly, floats to a relative 1e-12.

Why not floats exactly: ``math.exp``, ``log`` and ``tanh`` come from the platform's C library, and two
machines' libraries can differ in the last bit (found on the sentiment index, 2.5e-16 relative, on a fresh
machine with the same Python and packages). A change of the model moves its outputs by far more than
1e-12; a last-bit difference that flips an agent's decision shows up as a large one and still fails.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import experiments
from experiments.config import CONFIG_DIR, TARGETS_SUFFIX
from model.params import MarketParams
from tests.golden.cases import CASES, TABLES, WALL_CLOCK_KEYS, golden_dir

GOLDEN_DIR = golden_dir()
FLOAT_RTOL = 1e-12


def _same(got: Any, want: Any, path: str = "") -> None:
    """JSON values equal: the same keys in the same order, floats to FLOAT_RTOL, everything else exactly."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), path
        for key in want:
            _same(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and isinstance(got, float):
        assert math.isclose(got, want, rel_tol=FLOAT_RTOL, abs_tol=0.0), (path, got, want)
    else:
        assert type(got) is type(want) and got == want, (path, got, want)


def _same_table(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Tables equal: columns, dtypes and index; float columns to FLOAT_RTOL, the others exactly."""
    assert list(got.columns) == list(want.columns)
    floats = [c for c in want.columns if pd.api.types.is_float_dtype(want[c])]
    others = [c for c in want.columns if c not in floats]
    assert_frame_equal(got[others], want[others], check_exact=True)
    assert_frame_equal(got[floats], want[floats], check_exact=False, rtol=FLOAT_RTOL, atol=0.0)


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
    _same(got, golden)
    for table in TABLES:
        expected = pd.read_parquet(GOLDEN_DIR / name / f"{table}.parquet")
        _same_table(getattr(result, table).reset_index(drop=True), expected)
