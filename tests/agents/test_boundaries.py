"""Agents reach the market only through Exchange methods, the view and their parameter block.

A static check of ``agents/*.py``: no agent reads the exchange's internals (ledger arrays, margin
schedules, books) nor reaches through its model for parameters or state; randomness is ``self.rng``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AGENTS_DIR = Path(__file__).resolve().parents[2] / "agents"
FORBIDDEN_ATTRIBUTES = {"ledger", "schedules", "books", "open_buy", "open_sell", "_orders"}
MODEL_ATTRIBUTES_ALLOWED: set[str] = set()  # self.model.<anything> is off limits (Mesa's rng is self.rng)


def _sources() -> list[Path]:
    return sorted(AGENTS_DIR.glob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.name)
def test_agents_use_exchange_methods_and_injected_state_only(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    problems: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr in FORBIDDEN_ATTRIBUTES:
            problems.append(f"line {node.lineno}: .{node.attr}")
        base = node.value
        if (
            isinstance(base, ast.Attribute)
            and base.attr == "model"
            and isinstance(base.value, ast.Name)
            and base.value.id == "self"
            and node.attr not in MODEL_ATTRIBUTES_ALLOWED
        ):
            problems.append(f"line {node.lineno}: self.model.{node.attr}")
    assert not problems, f"{path.name} reaches past the exchange's methods: {problems}"


def test_no_agent_module_imports_the_market() -> None:
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module != "model.market", f"{path.name} imports model.market"
                assert not node.module.startswith(("model.ledger", "model.margin", "model.liquidation")), (
                    f"{path.name} imports {node.module}"
                )
