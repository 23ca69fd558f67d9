"""Nothing is lost or silently replaced: run directories, their files, pipes and interrupted runs."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.cli import main
from experiments.config import ConfigError
from experiments.rundir import (
    is_run_dir,
    remove_stale_temporaries,
    staged_directory,
    stale_temporaries,
)
from tests.experiments.helpers import ROOT, TINY, subprocess_env


def _set(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def _run_args(out: Path, seed: int, *extra: str) -> list[str]:
    return [
        "run",
        "baseline",
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--quiet",
        "--no-figures",
        *_set(TINY),
        *extra,
    ]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --------------------------------------------------------------------------- 1. no silent replacement


def test_a_run_over_another_run_is_refused_without_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b7"
    assert main(_run_args(out, 7)) == 0
    before = (out / "summary.json").read_text()
    capsys.readouterr()
    assert main(_run_args(out, 8)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert str(out) in err[0] and "seed 7" in err[0] and "--overwrite" in err[0]
    assert (out / "summary.json").read_text() == before  # untouched
    assert main(_run_args(out, 8, "--overwrite")) == 0
    assert json.loads((out / "summary.json").read_text())["seed"] == 8


# --------------------------------------------------------------------------- 2. only the run's own files


def test_overwrite_keeps_unrelated_files_of_a_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "d"
    assert main(_run_args(out, 1)) == 0
    (out / "thesis.tex").write_text("x\n")
    (out / "notes").mkdir()
    (out / "notes" / "a.txt").write_text("keep")
    assert main(_run_args(out, 2, "--overwrite")) == 0
    assert (out / "thesis.tex").read_text() == "x\n"
    assert (out / "notes" / "a.txt").read_text() == "keep"
    assert json.loads((out / "summary.json").read_text())["seed"] == 2
    assert is_run_dir(out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_directory_with_other_files_is_refused_even_with_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d"
    out.mkdir()
    (out / "summary.json").touch()  # mkdir d && touch d/summary.json && echo x > d/thesis.tex
    (out / "thesis.tex").write_text("x\n")
    assert main(_run_args(out, 1, "--overwrite")) == 2
    assert "is not a run directory" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "x\n"
    assert sorted(p.name for p in out.iterdir()) == ["summary.json", "thesis.tex"]


def test_run_directories_get_the_users_normal_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with staged_directory(tmp_path / "r") as tmp:
            (tmp / "summary.json").write_text("{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r").stat().st_mode) == 0o755


def test_stale_temporaries_of_dead_processes_are_cleaned_on_the_next_write(tmp_path: Path) -> None:
    dead = _dead_pid()
    stale_dir = tmp_path / f".r.tmp-{dead}-abcd1234"
    stale_dir.mkdir()
    (stale_dir / "timeseries.parquet").write_text("half")
    stale_old = tmp_path / f".r.old-{dead}"
    stale_old.mkdir()
    alive = tmp_path / f".r.tmp-{os.getppid()}-00000000"  # a live process's: left alone
    alive.mkdir()
    other = tmp_path / f".other.tmp-{dead}-abcd1234"  # another target's: left alone
    other.mkdir()
    assert set(stale_temporaries(tmp_path / "r")) == {stale_dir, stale_old}
    with staged_directory(tmp_path / "r") as tmp:
        (tmp / "summary.json").write_text("{}")
    assert not stale_dir.exists() and not stale_old.exists()
    assert alive.exists() and other.exists()
    assert remove_stale_temporaries(tmp_path / "r") == []


# --------------------------------------------------------------------------- 3. a closed pipe


def test_validate_print_into_a_closed_pipe_exits_quietly() -> None:
    # `cascadelab validate whale_dump --print | head`: the reader goes away before the config is written
    # (closed here before the command writes, so the pipe is certainly gone, whatever its buffer size)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "experiments.cli", "validate", "whale_dump", "--print"],
            cwd=ROOT,
            env=subprocess_env(),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.stderr == ""
    assert proc.returncode == 141


# --------------------------------------------------------------------------- 6. an interrupted run


def test_an_interrupted_run_writes_what_it_has(tmp_path: Path) -> None:
    out = tmp_path / "month"
    progress = tmp_path / "progress.txt"
    args = [
        "run",
        "baseline",
        "--out",
        str(out),
        "--no-figures",
        *_set([*TINY, "duration_hours=24"]),  # 86,400 steps: far longer than the test waits
    ]
    with open(progress, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "experiments.cli", *args],
            cwd=ROOT,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:  # wait until it is stepping
                if b"step" in progress.read_bytes() and b" 0/" not in progress.read_bytes()[-200:]:
                    break
                time.sleep(0.1)
            time.sleep(1.0)
            assert proc.poll() is None, "the run ended before it could be interrupted"
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    err_text = progress.read_text()
    assert proc.returncode == 130, err_text
    assert "finished runs are kept" not in err_text
    assert "interrupted at simulated" in err_text and str(out) in err_text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert 0 < summary["sim_seconds"] < 86_400 and summary["steps"] == round(summary["sim_seconds"])
    assert summary["ledger_imbalance"] == 0
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert len(ts) and ts["time_s"].max() <= summary["sim_seconds"]
    assert (out / "report.md").is_file() and (out / "config.yaml").is_file()
    assert main(["report", str(out)]) == 0  # the partial run reads back as a run directory


def test_the_python_api_asks_before_replacing_a_run_too(tmp_path: Path) -> None:
    from experiments import run  # the public entry point, as a notebook calls it

    out = tmp_path / "r"
    first = run("baseline", seed=7, overrides=TINY, out=out, figures=False)
    before = (out / "summary.json").read_text()
    with pytest.raises(ConfigError, match=r"already holds a run .* seed 7.*--overwrite"):
        run("baseline", seed=8, overrides=TINY, out=out, figures=False)
    assert (out / "summary.json").read_text() == before  # nothing was replaced
    second = run("baseline", seed=8, overrides=TINY, out=out, figures=False, overwrite=True)
    assert second.seed == 8 and first.seed == 7
    assert json.loads((out / "summary.json").read_text())["seed"] == 8
