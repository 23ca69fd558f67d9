"""The run-directory contract: what ``run(out=...)`` writes is what ``load_run`` reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from experiments.config import ConfigError, resolved_dict
from experiments.rundir import RUN_FILES, RunResult, load_run, staged_directory
from experiments.runner import run
from experiments.summary import RunSummary
from tests.experiments.helpers import TINY


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    out = tmp_path_factory.mktemp("rundir") / "run"
    return run("baseline", seed=4, overrides=TINY, out=out, figures=False)


def test_summary_json_is_the_summary(written: RunResult) -> None:
    assert written.out is not None
    text = (written.out / "summary.json").read_text(encoding="utf-8")
    assert text == written.summary.to_json()
    assert json.loads(text) == written.summary.to_json_dict()
    assert isinstance(written.summary, RunSummary)


def test_load_run_reads_back_what_was_written(written: RunResult) -> None:
    assert written.out is not None
    back = load_run(written.out)
    assert back.summary == written.summary
    assert back.seed == written.seed == 4 and back.out == written.out
    assert resolved_dict(back.config) == resolved_dict(written.config)  # config.yaml is the resolved config
    for name in ("timeseries", "liquidations", "adl"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(written, name).reset_index(drop=True))
    assert {p.name for p in written.out.iterdir()} >= set(RUN_FILES) | {"report.md"}


def test_a_malformed_summary_is_a_user_error(written: RunResult, tmp_path: Path) -> None:
    assert written.out is not None
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in RUN_FILES:
        (copy / name).write_bytes((written.out / name).read_bytes())
    data = json.loads((copy / "summary.json").read_text())
    del data["symbols"]
    (copy / "summary.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"summary.json: not a run summary \(symbols: Field required\)"):
        load_run(copy)
    (copy / "summary.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"summary\.json: not JSON"):
        load_run(copy)
    (copy / "adl.parquet").unlink()
    with pytest.raises(ConfigError, match=r"not a run directory \(missing adl.parquet\)"):
        load_run(copy)


def test_a_failed_write_leaves_the_previous_directory_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with staged_directory(out) as tmp:
        (tmp / "summary.json").write_text("first")
    assert (out / "summary.json").read_text() == "first"
    with pytest.raises(RuntimeError, match="boom"), staged_directory(out) as tmp:
        (tmp / "summary.json").write_text("second")
        raise RuntimeError("boom")
    assert (out / "summary.json").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary directory left behind
    with staged_directory(out) as tmp:
        (tmp / "summary.json").write_text("third")
    assert (out / "summary.json").read_text() == "third"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
