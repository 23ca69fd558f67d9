"""Figures are drawn without touching the caller's matplotlib state (backend, pyplot, style)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

from experiments import plots
from experiments.runner import run
from tests.experiments.helpers import TINY, subprocess_env


def test_importing_plots_keeps_the_chosen_backend() -> None:
    # a fresh interpreter, as in a notebook: the user's backend choice survives importing the module
    code = (
        "import matplotlib; matplotlib.use('svg'); import experiments.plots; print(matplotlib.get_backend())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env(), check=True
    )
    assert out.stdout.strip() == "svg"


def test_the_cli_and_the_study_workers_do_not_import_seaborn_until_a_figure_is_drawn() -> None:
    # seaborn costs about half a second per process: `cascadelab validate` and every study worker
    code = (
        "import sys; import experiments.cli, experiments.study; print('seaborn' in sys.modules); "
        "from experiments.plots import _style\nwith _style(): pass\nprint('seaborn' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env(), check=True
    )
    assert out.stdout.split() == ["False", "True"]


def test_run_figures_write_pngs_and_leave_pyplot_and_style_alone(tmp_path: Path) -> None:
    importlib.reload(plots)
    result = run("baseline", seed=2, overrides=TINY)
    before = {k: matplotlib.rcParams[k] for k in ("axes.grid", "axes.facecolor", "font.size")}
    open_before = plt.get_fignums()
    paths = plots.run_figures(result.timeseries, result.liquidations, result.adl, tmp_path)
    assert {p.name for p in paths} >= {"price_BTC.png", "open_interest.png", "sentiment.png"}
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5_000
    assert plt.get_fignums() == open_before  # nothing registered with pyplot: freed once written
    assert {k: matplotlib.rcParams[k] for k in before} == before  # the seaborn style did not leak
