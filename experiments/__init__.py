"""Experiments: validated configs, single runs, Monte Carlo studies, reports and the CLI.

``experiments.run(config, seed)`` returns a :class:`~experiments.runner.RunResult`;
``experiments.sweep(config, seeds=..., grid=...)`` returns the study table. The names are imported lazily
so that ``import experiments`` does not import the model (and mesa, which sets the multiprocessing start
method to ``spawn`` for the whole process).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from experiments.config import ConfigError, ExperimentConfig, load_config
    from experiments.montecarlo import sweep
    from experiments.runner import RunResult, run

__all__ = ["ConfigError", "ExperimentConfig", "RunResult", "load_config", "run", "sweep"]

_LAZY = {
    "run": "experiments.runner",
    "RunResult": "experiments.runner",
    "sweep": "experiments.montecarlo",
    "load_config": "experiments.config",
    "ExperimentConfig": "experiments.config",
    "ConfigError": "experiments.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'experiments' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
