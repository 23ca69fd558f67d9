"""Experiments: validated configs, single runs, Monte Carlo studies, reports and the CLI.

``experiments.run(config, seed)`` returns a :class:`~experiments.rundir.RunResult` whose ``summary`` is a
:class:`~experiments.summary.RunSummary`; ``experiments.load_run(DIR)`` reads a run directory back;
``experiments.sweep(config, seeds=..., grid=...)`` returns the study table;
``experiments.compare(run_dirs, out_dir)`` writes a side-by-side report of run directories;
``experiments.facts(RUN_DIR)`` (or several run directories, pooled, or one study directory) returns the
stylized facts against the real market's ranges (:mod:`experiments.stylized`);
``experiments.calibrate(config, targets, out=DIR)`` fits parameters to target moments (SMM). The names
are imported lazily (PEP 562) so that ``import experiments`` (and ``import experiments.config``) does not
import the model (and mesa, which sets the multiprocessing start method to ``spawn`` for the whole process).

The modules are layers, lowest first; each imports only modules below it (``tests/test_layers.py``):
``format``, ``stats``, ``summary`` (leaves) < ``config`` < ``rundir`` (and ``docs``, ``stylized``) <
``plots`` < ``report`` < ``runner`` < ``study`` < ``calibrate`` < ``cli``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from experiments.calibrate import calibrate
    from experiments.config import ConfigError, ExperimentConfig, load_config
    from experiments.report import compare_runs as compare
    from experiments.rundir import RunResult, load_run
    from experiments.runner import run
    from experiments.study import sweep
    from experiments.stylized import facts
    from experiments.summary import RunSummary

__all__ = [
    "ConfigError",
    "ExperimentConfig",
    "RunResult",
    "RunSummary",
    "calibrate",
    "compare",
    "facts",
    "load_config",
    "load_run",
    "run",
    "sweep",
]

_LAZY = {
    "run": "experiments.runner",
    "compare": "experiments.report",
    "facts": "experiments.stylized",
    "RunResult": "experiments.rundir",
    "load_run": "experiments.rundir",
    "RunSummary": "experiments.summary",
    "sweep": "experiments.study",
    "calibrate": "experiments.calibrate",
    "load_config": "experiments.config",
    "ExperimentConfig": "experiments.config",
    "ConfigError": "experiments.config",
}


_ALIASES = {"compare": "compare_runs"}
"""Public names that are another name in their module."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'experiments' has no attribute {name!r}")
    value = import_module(module)
    if module != f"{__name__}.{name}":
        value = getattr(value, _ALIASES.get(name, name))
    # else the name is its module's (experiments.calibrate): the module itself, which calls its function
    # when called, so that experiments.calibrate(...) and experiments.calibrate.fit agree however imported
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
