"""Deprecated alias of :mod:`experiments.study` (and of the statistics now in :mod:`experiments.stats`).

``experiments.montecarlo`` was split into :mod:`experiments.study` (grid x seeds on an executor, the
study directory, resume) and :mod:`experiments.stats` (Wilson intervals, the fragility table). Importing
this module warns once and re-exports their public names, so that existing scripts keep working; new code
imports ``experiments.study`` / ``experiments.stats`` (or uses ``experiments.sweep``).
"""

from __future__ import annotations

import warnings

from experiments.stats import fragility, numeric_column, threshold_label, wilson_interval
from experiments.study import (
    BASE_COLUMNS,
    DASK_CONNECT_TIMEOUT,
    DEFAULT_RECYCLE,
    NONDETERMINISTIC_COLUMNS,
    RunTask,
    Study,
    check_study_dir,
    comparable,
    execute_task,
    expand_tasks,
    flatten_summary,
    load_study,
    prepare,
    read_rows,
    rerender_study,
    results_frame,
    study_seeds,
    sweep,
)

__all__ = [
    "BASE_COLUMNS",
    "DASK_CONNECT_TIMEOUT",
    "DEFAULT_RECYCLE",
    "NONDETERMINISTIC_COLUMNS",
    "RunTask",
    "Study",
    "check_study_dir",
    "comparable",
    "execute_task",
    "expand_tasks",
    "flatten_summary",
    "fragility",
    "load_study",
    "numeric_column",
    "prepare",
    "read_rows",
    "rerender_study",
    "results_frame",
    "study_seeds",
    "sweep",
    "threshold_label",
    "wilson_interval",
]

warnings.warn(
    "experiments.montecarlo is deprecated: import experiments.study (studies) and experiments.stats "
    "(fragility, wilson_interval, ...) instead",
    DeprecationWarning,
    stacklevel=2,
)
