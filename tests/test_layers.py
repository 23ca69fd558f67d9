"""Import layers of ``model/``, ``agents/`` and ``experiments/`` (DESIGN.md §1): dependencies point one way.

The spec is the data at the top of this file; the checker below reads every module's ``ast`` (nothing is
imported) and reports:

- ``layer``: a module imports one of its own layer or a higher one (a run-time import: at module level
  or inside a function; ``if TYPE_CHECKING:`` imports follow :data:`TYPE_CHECKING_MAY_IMPORT` where a
  module has an entry there, the layers otherwise);
- ``only``: a module with an entry in :data:`ONLY` imports an internal module outside it;
- ``local``: a function-local import of an internal module (``model``, ``agents``, ``experiments``);
- ``local-third-party``: a function-local import of a third-party module where
  :data:`LOCAL_THIRD_PARTY_ALLOWED` restricts them (``experiments``: optional dependencies only);
- ``unplaced``: a module that no layer names (``model.*`` and ``agents.*`` have default places).

Dynamic imports (``importlib.import_module``) are not seen: the lazy facade ``experiments/__init__.py`` is
the one place that uses them. Known exceptions, to be removed as they are fixed, are in
:data:`KNOWN_EXCEPTIONS`; an entry that no longer matches a violation fails the suite, so the list only
shrinks.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "agents", "experiments")

LAYERS: list[tuple[str, ...]] = [
    ("model", "agents"),  # the package __init__ modules: empty, they import nothing
    ("model.venues",),  # the presets' data: no internal imports
    ("model.params",),
    ("model.orderbook", "model.margin", "model.metrics", "model.policies"),
    ("model.ledger", "model.orderbook_replay"),
    # the exchange's parts, then the front door; any model module not named elsewhere sits with it
    ("model.accounts",),
    ("model.routing", "model.prices"),
    ("model.exchange", "model.*"),
    ("model.liquidation",),
    ("model.drivers", "model.sentiment"),
    ("model.view", "model.recorder"),
    ("agents.base", "agents.leader"),  # what the populations share
    ("agents.*",),  # the populations, over agents.base
    ("model.market",),
    ("experiments.format", "experiments.stats", "experiments.summary"),
    ("experiments.config",),
    ("experiments.rundir", "experiments.docs", "experiments.stylized"),
    ("experiments.plots",),
    ("experiments.report",),
    ("experiments.runner",),
    ("experiments.study",),
    ("experiments.montecarlo",),  # deprecated alias of study and stats
    ("experiments.calibrate",),  # SMM calibration: runs its evaluations on the study's executors
    ("experiments",),  # the lazy facade: experiments.run, experiments.sweep, ...
    ("experiments.cli",),  # composes everything; nothing imports it
]
"""Lowest first. A module may import modules of lower layers only. Entries are module names or
``fnmatch`` patterns; a module takes the layer of its exact name, else of its longest matching pattern."""

ONLY: dict[str, tuple[str, ...]] = {
    "model.orderbook": (),
    "model.margin": (),
    "model.metrics": (),
    "model.venues": (),
    "model.policies": (),
    "agents.*": ("model.orderbook", "model.exchange", "model.params", "agents.*"),
    "experiments.format": (),
    "experiments.stats": (),
    "experiments.summary": (),
    "experiments.plots": (
        "experiments.format",
        "experiments.stats",
        "experiments.summary",
        "experiments.config",
        "experiments.rundir",
        "experiments.stylized",
    ),
    "experiments.report": (
        "experiments.format",
        "experiments.stats",
        "experiments.summary",
        "experiments.config",
        "experiments.rundir",
        "experiments.stylized",
        "experiments.plots",
    ),
}
"""Modules (or patterns) whose internal imports are limited to these, however low the imports sit."""

TYPE_CHECKING_MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "agents.*": ("model.*", "agents.*"),  # agents annotate with CryptoMarket, MarketView, Exchange
    "model.recorder": ("model.market",),  # the recorder annotates the market it samples
}
"""Where ``if TYPE_CHECKING:`` imports follow their own rule instead of the layers and :data:`ONLY`."""

LOCAL_THIRD_PARTY_ALLOWED: dict[str, tuple[str, ...]] = {
    "experiments.*": ("distributed", "dask"),  # the optional cluster extra
    "experiments.plots": ("seaborn",),  # heavy (~0.5 s): imported when a figure is drawn
}
"""Modules whose function-local third-party imports are limited to these top-level packages."""

KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}
"""(importer, imported) -> why: violations on these edges are tolerated until they are fixed."""


@dataclass(frozen=True)
class Violation:
    """One import that breaks the spec."""

    module: str
    line: int
    imported: str
    kind: str
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: imports {self.imported} [{self.kind}] {self.why}"


@dataclass(frozen=True)
class _Import:
    target: str  # the module imported (internal: resolved to a known module; else the top-level name)
    line: int
    local: bool  # inside a function
    type_only: bool  # inside ``if TYPE_CHECKING:``


def _matches(module: str, patterns: Iterable[str]) -> bool:
    return any(module == p or fnmatch.fnmatchcase(module, p) for p in patterns)


def _lookup(module: str, spec: Mapping[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    """The spec entry of a module: its exact name, else its longest matching pattern."""
    if module in spec:
        return spec[module]
    hits = [p for p in spec if fnmatch.fnmatchcase(module, p)]
    return spec[max(hits, key=len)] if hits else None


def layer_of(module: str) -> int | None:
    """The index of a module's layer in :data:`LAYERS` (None: no layer names it)."""
    exact = [i for i, layer in enumerate(LAYERS) if module in layer]
    if exact:
        return exact[0]
    hits = [(len(p), i) for i, layer in enumerate(LAYERS) for p in layer if fnmatch.fnmatchcase(module, p)]
    return max(hits)[1] if hits else None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, source: str, known: set[str], is_package: bool) -> list[_Import]:
    """Every import of a module: ``from pkg import sub`` names ``pkg.sub`` when that is a known module."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[_Import] = []

    def resolve(name: str) -> str:
        top = name.split(".")[0]
        return name if top in PACKAGES else top

    def visit(node: ast.AST, local: bool, type_only: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(_Import(resolve(alias.name), node.lineno, local, type_only))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            if base == "__future__":
                return
            targets = {
                resolve(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base) for a in node.names
            }
            found.extend(_Import(t, node.lineno, local, type_only) for t in sorted(targets))
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.body:
                visit(stmt, local, True)
            for stmt in node.orelse:
                visit(stmt, local, type_only)
        else:
            inner = local or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            for child in ast.iter_child_nodes(node):
                visit(child, inner, type_only)

    visit(ast.parse(source), False, False)
    return found


def check(sources: Mapping[str, str], packages: Iterable[str] = PACKAGES) -> list[Violation]:
    """Check modules against the spec.

    Args:
        sources: module name -> source text (``model.market``; a package's ``__init__`` as ``model``).
        packages: the names in ``sources`` that are packages (their relative imports anchor on themselves).

    Returns:
        The violations, in module and line order.
    """
    known = set(sources)
    pkgs = set(packages)
    out: list[Violation] = []
    for module in sorted(sources):
        rank = layer_of(module)
        if rank is None:
            out.append(Violation(module, 0, module, "unplaced", "no layer in LAYERS names this module"))
            continue
        only = _lookup(module, ONLY)
        type_rule = _lookup(module, TYPE_CHECKING_MAY_IMPORT)
        third_party = _lookup(module, LOCAL_THIRD_PARTY_ALLOWED)
        for imp in _imports(module, sources[module], known, module in pkgs):
            internal = imp.target.split(".")[0] in PACKAGES
            if not internal:
                if imp.local and third_party is not None and imp.target not in third_party:
                    out.append(
                        Violation(
                            module,
                            imp.line,
                            imp.target,
                            "local-third-party",
                            f"import it at the top (function-local only: {', '.join(third_party)})",
                        )
                    )
                continue
            if imp.target == module:
                continue
            if imp.local:
                out.append(Violation(module, imp.line, imp.target, "local", "import it at the top"))
            if imp.type_only and type_rule is not None:
                if not _matches(imp.target, type_rule):
                    out.append(
                        Violation(module, imp.line, imp.target, "only", f"type-only imports: {type_rule}")
                    )
                continue
            target_rank = layer_of(imp.target)
            if target_rank is None or target_rank >= rank:
                out.append(
                    Violation(
                        module,
                        imp.line,
                        imp.target,
                        "layer",
                        f"layer {rank} imports layer {target_rank} (only lower layers)",
                    )
                )
            if only is not None and not _matches(imp.target, only):
                out.append(Violation(module, imp.line, imp.target, "only", f"may import only {only or '()'}"))
    return out


def tree_sources(root: Path = ROOT) -> dict[str, str]:
    """The source of every module of the three packages, by module name."""
    sources: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            sources[".".join(parts)] = path.read_text(encoding="utf-8")
    return sources


# --------------------------------------------------------------------------- the tree


def test_the_tree_keeps_its_layers() -> None:
    sources = tree_sources()
    assert {"model.market", "agents.base", "experiments.cli", "experiments"} <= set(sources)
    violations = check(sources, _package_names(sources))
    unexpected = [v for v in violations if (v.module, v.imported) not in KNOWN_EXCEPTIONS]
    assert not unexpected, "import-layer violations:\n" + "\n".join(map(str, unexpected))


def test_every_known_exception_still_happens() -> None:
    sources = tree_sources()
    hit = {(v.module, v.imported) for v in check(sources, _package_names(sources))}
    stale = [edge for edge in KNOWN_EXCEPTIONS if edge not in hit]
    assert not stale, f"fixed, remove from KNOWN_EXCEPTIONS: {stale}"


def _package_names(sources: Mapping[str, str]) -> set[str]:
    return {name for name in sources if (ROOT / name.replace(".", "/") / "__init__.py").is_file()}


# --------------------------------------------------------------------------- planted violations


def _check_one(module: str, source: str, *others: str) -> list[Violation]:
    """Check one synthetic module inside a tree of the named (empty) others."""
    sources = {name: "" for name in others}
    sources[module] = source
    return check(sources, packages=PACKAGES)


def _kinds(violations: list[Violation]) -> set[tuple[str, str]]:
    return {(v.imported, v.kind) for v in violations}


def test_a_model_module_importing_experiments_is_caught() -> None:
    found = _check_one("model.orderbook", "from experiments.runner import run\n", "experiments.runner")
    assert _kinds(found) == {("experiments.runner", "layer"), ("experiments.runner", "only")}
    assert "model.orderbook:1: imports experiments.runner [layer]" in str(found[0])


def test_a_function_local_internal_import_is_caught_even_when_the_layers_allow_it() -> None:
    src = "import numpy as np\n\ndef f():\n    from model.orderbook import OrderBook\n    return OrderBook\n"
    found = _check_one("model.ledger", src, "model.orderbook")
    assert [(v.imported, v.kind, v.line) for v in found] == [("model.orderbook", "local", 4)]
    assert not _check_one("model.ledger", "from model.orderbook import OrderBook\n", "model.orderbook")


def test_agents_reach_the_model_only_through_the_exchange_except_for_types() -> None:
    runtime = _check_one("agents.leveraged", "from model.liquidation import LiquidationEngine\n")
    assert ("model.liquidation", "only") in _kinds(runtime)
    market = "from model.market import CryptoMarket\n"
    assert {("model.market", "layer"), ("model.market", "only")} <= _kinds(
        _check_one("agents.leveraged", market)
    )
    types = "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    " + market
    assert not _check_one("agents.leveraged", types, "model.market")
    bad_types = "if TYPE_CHECKING:\n    from experiments.config import ExperimentConfig\n"
    assert ("experiments.config", "only") in _kinds(
        _check_one("agents.base", bad_types, "experiments.config")
    )
    assert not _check_one(
        "agents.leveraged", "from model.exchange import MICRO\nfrom agents.base import Trader\n"
    )
    assert ("agents.leveraged", "layer") in _kinds(_check_one("agents.base", "import agents.leveraged\n"))


def test_only_the_market_imports_agents() -> None:
    assert not _check_one("model.market", "from agents.base import Trader\n", "agents.base")
    for module in ("model.view", "model.exchange", "model.liquidation", "model.some_new_module"):
        assert ("agents.base", "layer") in _kinds(_check_one(module, "import agents.base\n", "agents.base"))


def test_experiments_layers() -> None:
    assert ("experiments.runner", "layer") in _kinds(
        _check_one("experiments.report", "from experiments.runner import run\n", "experiments.runner")
    )
    assert ("experiments.study", "only") in _kinds(
        _check_one("experiments.plots", "from experiments.study import sweep\n", "experiments.study")
    )
    assert ("experiments.report", "layer") in _kinds(
        _check_one("experiments.plots", "from experiments.report import x\n", "experiments.report")
    )
    assert ("experiments.config", "layer") in _kinds(
        _check_one("experiments.format", "from experiments.config import ConfigError\n", "experiments.config")
    )
    assert ("experiments.cli", "layer") in _kinds(
        _check_one("experiments", "from experiments.cli import main\n", "experiments.cli")
    )
    assert ("experiments.calibrate", "layer") in _kinds(
        _check_one("experiments.study", "from experiments.calibrate import fit\n", "experiments.calibrate")
    )
    assert ("experiments.cli", "layer") in _kinds(
        _check_one("experiments.calibrate", "from experiments.cli import main\n", "experiments.cli")
    )
    assert layer_of("experiments.study") < layer_of("experiments.calibrate") < layer_of("experiments.cli")
    fine = "from experiments.report import write_run_report\nfrom model.market import CryptoMarket\n"
    assert not _check_one("experiments.runner", fine, "experiments.report", "model.market")


def test_relative_and_package_imports_resolve_to_the_module() -> None:
    assert ("experiments.runner", "layer") in _kinds(
        _check_one("experiments.format", "from .runner import run\n", "experiments.runner")
    )
    assert ("model.market", "layer") in _kinds(
        _check_one("model.exchange", "from model import market\n", "model.market", "model")
    )
    assert ("experiments", "layer") in _kinds(
        _check_one("model.ledger", "import experiments\n", "experiments")
    )


def test_function_local_third_party_imports_in_experiments_are_for_optional_dependencies() -> None:
    src = "def f():\n    from distributed import Client\n\ndef g():\n    import tqdm\n"
    found = _check_one("experiments.study", src)
    assert [(v.imported, v.kind) for v in found] == [("tqdm", "local-third-party")]
    lazy_seaborn = "def f():\n    import seaborn\n"
    assert not _check_one("experiments.plots", lazy_seaborn)
    assert [v.kind for v in _check_one("experiments.report", lazy_seaborn)] == ["local-third-party"]
    assert not _check_one("model.metrics", "def f():\n    from scipy import stats\n")


def test_new_model_modules_sit_between_the_ledger_and_the_liquidation_engine() -> None:
    assert layer_of("model.ledger") < layer_of("model.accounts") < layer_of("model.routing")
    assert layer_of("model.routing") == layer_of("model.prices") < layer_of("model.exchange")
    assert layer_of("model.some_new_module") == layer_of("model.exchange") < layer_of("model.liquidation")
    assert layer_of("model.market") != layer_of("model.exchange")  # an exact name beats the pattern
    assert not _check_one("model.accounts", "from model.ledger import Ledger\n", "model.ledger")
    assert not _check_one("model.liquidation", "from model.exchange_views import V\n", "model.exchange_views")
    found = _check_one("model.routing", "from model.liquidation import L\n", "model.liquidation")
    assert ("model.liquidation", "layer") in _kinds(found)


def test_an_unplaced_experiments_module_is_reported() -> None:
    assert layer_of("experiments.somewhere") is None
    assert [v.kind for v in _check_one("experiments.somewhere", "")] == ["unplaced"]


@pytest.mark.parametrize("module", ["model.orderbook", "agents.base", "experiments.summary"])
def test_planting_a_violation_into_the_real_tree_fails_the_check(module: str) -> None:
    sources = tree_sources()
    sources[module] += "\n\ndef _planted():\n    from experiments.cli import main\n    return main\n"
    found = [v for v in check(sources, _package_names(sources)) if v.module == module]
    assert {("experiments.cli", "local"), ("experiments.cli", "layer")} <= _kinds(found)
