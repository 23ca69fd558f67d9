"""The typed run summary: ``summary.json`` parsed into :class:`RunSummary` and written back unchanged."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from experiments.summary import (
    SYMBOL_METRICS,
    WALL_CLOCK_FIELDS,
    CascadeSummary,
    RunSummary,
    SymbolSummary,
)
from tests.golden.cases import CASES, golden_dir

GOLDEN_DIR = golden_dir()


def _golden_file(name: str) -> dict[str, Any]:
    """A golden summary.json as the runner wrote it: the wall-clock keys back in their places."""
    golden = json.loads((GOLDEN_DIR / name / "summary.json").read_text())
    out: dict[str, Any] = {}
    for key, value in golden.items():
        out[key] = value
        if key == "sim_seconds":
            out["wall_seconds"] = 12.5
        if key == "hours_run":
            out["sim_seconds_per_wall_second"] = 432.1
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_summary_file_round_trips_exactly(name: str) -> None:
    data = _golden_file(name)
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    summary = RunSummary.from_json(text)
    assert summary.to_json_dict() == data
    assert list(summary.to_json_dict()) == list(data)  # the same key order, nested ones too
    for sym, metrics in summary.to_json_dict()["symbols"].items():
        assert list(metrics) == list(data["symbols"][sym])
    assert summary.to_json() == text
    assert summary.without_wall_clock() == {k: v for k, v in data.items() if k not in WALL_CLOCK_FIELDS}


def test_fields_are_typed_and_read_as_attributes() -> None:
    summary = RunSummary.model_validate(_golden_file("baseline"))
    assert summary.seed == 1 and summary.ledger_imbalance == 0 and summary.leader == "BTC"
    assert summary.funding_settlements == 1
    assert isinstance(summary.symbols["BTC"], SymbolSummary)
    assert summary.symbols["BTC"].liquidation_count == 375
    assert list(summary.symbols) == ["BTC", "ETH", "SOL"]
    assert all(isinstance(c, CascadeSummary) and c.side in ("long", "short") for c in summary.cascades)
    assert summary.totals.liquidation_count == sum(s.liquidation_count for s in summary.symbols.values())
    assert summary.leader_metrics is summary.symbols["BTC"]
    for metric in SYMBOL_METRICS:
        assert metric in SymbolSummary.model_fields
    with pytest.raises(ValidationError):  # frozen: a summary is a record of what happened
        summary.seed = 2  # type: ignore[misc]


def test_a_summary_written_before_the_newer_keys_reads_and_writes_back_without_them() -> None:
    old = _golden_file("whale_dump")
    del old["funding_settlements"]
    for metrics in old["symbols"].values():
        for key in ("long_liq_max_day_usd", "long_liq_max_week_usd", "long_liq_share"):
            del metrics[key]
    summary = RunSummary.model_validate(old)
    assert summary.funding_settlements is None
    assert summary.symbols["BTC"].long_liq_share is None
    assert summary.to_json_dict() == old
    assert "funding_settlements" not in summary.to_json()


def test_unknown_keys_are_kept_in_place() -> None:
    data = _golden_file("baseline")
    newer: dict[str, Any] = {}
    for key, value in data.items():
        if key == "totals":
            newer["spot_volume_usd"] = 123.5  # a key a newer summary_extras() might add
        newer[key] = copy.deepcopy(value)
    newer["symbols"]["BTC"]["basis_bps"] = 4.5
    newer["cascades"][0]["trigger"] = "index_jump"
    summary = RunSummary.model_validate(newer)
    assert summary.model_extra == {"spot_volume_usd": 123.5}
    assert summary.symbols["BTC"].model_extra == {"basis_bps": 4.5}
    assert summary.to_json_dict() == newer
    assert list(summary.to_json_dict()) == list(newer)  # the extra key still sits before totals


def test_non_finite_metrics_are_stored_as_none() -> None:
    data = _golden_file("baseline")
    data["symbols"]["BTC"]["return_pct"] = float("nan")
    data["totals"]["oi_change_pct"] = float("inf")
    summary = RunSummary.model_validate(data)
    assert summary.symbols["BTC"].return_pct is None and summary.totals.oi_change_pct is None
    assert json.loads(summary.to_json())["symbols"]["BTC"]["return_pct"] is None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("seed",), None),
        (("symbols", "BTC", "liquidation_count"), "many"),
        (("cascades", 0, "side"), "sideways"),
        (("totals",), {}),
    ],
)
def test_a_malformed_summary_is_rejected(path: tuple[Any, ...], value: Any) -> None:
    data = _golden_file("baseline")
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValidationError):
        RunSummary.model_validate(data)


def test_a_required_key_cannot_be_missing() -> None:
    data = _golden_file("baseline")
    del data["ledger_imbalance"]
    with pytest.raises(ValidationError, match="ledger_imbalance"):
        RunSummary.model_validate(data)
