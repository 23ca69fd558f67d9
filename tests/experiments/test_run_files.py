"""Run files a risk analyst can trust: the written config re-runs the run, provenance, study replay."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

import experiments
from experiments import config as config_module
from experiments.cli import main, study_run
from experiments.config import ConfigError, config_hash, load_config, provenance
from experiments.rundir import jsonable, load_run
from experiments.study import NONDETERMINISTIC_COLUMNS, flatten_summary, sweep
from experiments.summary import RunSummary
from model.params import DEFAULTS_VERSION
from tests.experiments.helpers import ROOT, TINY, TINY_POPULATION

FEE = "market.venue.taker_fee=0.0004"


def _whale_cut(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    out = tmp_path / "cut"
    sets = [a for o in [*TINY_POPULATION, "sample_seconds=10", FEE] for a in ("--set", o)]
    code = main(["run", "whale_dump", "--hours", "0.02", *sets, "--out", str(out), "--no-figures", "-q"])
    assert code == 0
    return out, capsys.readouterr().err


def test_a_cut_run_writes_the_run_that_happened_and_reruns_to_the_same_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = _whale_cut(tmp_path, capsys)
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written["duration_hours"] == 0.02  # the run's real duration, not the scenario's 4 h
    assert written["origin"]["duration_hours"] == 4.0
    assert written["origin"]["source"] == "whale_dump"
    assert written["origin"]["overrides"][-1] == FEE
    assert written["market"]["venue"]["taker_fee"] == 0.0004  # every --set applied
    assert written["market"]["leveraged"]["count"] == 30
    # the shock after the end: a warning on the terminal and "not reached" in the report
    assert "whale_sale shock at hour 1 is not reached" in err
    report = (out / "report.md").read_text()
    assert "not reached" in report and "**Warning:** 1 scheduled shock(s) not reached" in report
    assert f"`{FEE}`" in report  # the settings table shows the overrides
    assert "0.02 h of the config's 4 h" in report

    again = tmp_path / "again"
    assert main(["run", str(out / "config.yaml"), "--out", str(again), "--no-figures", "-q"]) == 0
    first = RunSummary.read(out / "summary.json").without_wall_clock()
    second = RunSummary.read(again / "summary.json").without_wall_clock()
    assert second == first
    assert first["duration_hours"] == 4.0 and first["hours_run"] == 0.02
    assert (again / "config.yaml").read_text() == (out / "config.yaml").read_text()


def test_the_cascade_setting_defines_the_cascades_of_the_summary(tmp_path: Path) -> None:
    result = experiments.run("baseline", overrides=[*TINY, "cascade.min_drop=0.06", "cascade.window_s=300"])
    assert result.summary.cascade_definition == {
        "min_drop": 0.06,
        "window_s": 300.0,
        "min_liq_share_of_oi": 0.01,
        "min_liquidated_usd": 0.0,
    }
    default = experiments.run("baseline", overrides=TINY)
    assert default.summary.cascade_definition == {
        "min_drop": 0.03,
        "window_s": 900.0,
        "min_liq_share_of_oi": 0.01,
        "min_liquidated_usd": 0.0,
    }


@pytest.mark.parametrize(
    ("item", "key"),
    [
        ("cascade.min_drop=0", "cascade.min_drop"),
        ("cascade.min_drop=1", "cascade.min_drop"),
        ("cascade.window_s=0", "cascade.window_s"),
        ("cascade.min_liq_share_of_oi=1.5", "cascade.min_liq_share_of_oi"),
        ("cascade.min_liquidated_usd=-1", "cascade.min_liquidated_usd"),
        ("cascade.min_drops=0.1", "cascade.min_drops"),
    ],
)
def test_the_cascade_setting_is_validated(item: str, key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config("baseline", [item])
    assert exc.value.problems[0].startswith(f"{key}:")


def test_provenance_is_recorded_in_the_run_directory(tmp_path: Path) -> None:
    result = experiments.run("baseline", overrides=TINY, out=tmp_path / "r", figures=False)
    assert result.out is not None
    data = json.loads((result.out / "provenance.json").read_text())
    assert data["defaults_version"] == DEFAULTS_VERSION
    assert data["python"] and data["packages"]["mesa"] and data["packages"]["numpy"]
    assert "cascadelab_version" in data
    if (ROOT / ".git").exists():
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert data["git_commit"] == head
    assert data == provenance()


def test_the_study_hash_includes_the_defaults_version(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config("baseline")
    before = config_hash(cfg, 1)
    monkeypatch.setattr(config_module, "DEFAULTS_VERSION", DEFAULTS_VERSION + 1)
    assert config_hash(cfg, 1) != before


def test_a_study_run_replays_from_its_study_directory(tmp_path: Path) -> None:
    study_dir = tmp_path / "study"
    table = sweep(
        "baseline",
        seeds=2,
        grid={"market.leveraged.leverage_cap": [5, 10]},
        workers=1,
        out=study_dir,
        overrides=TINY,
        hours=0.015,
        progress=False,
    )
    assert (table["status"] == "ok").all()
    row = table.iloc[3].to_dict()
    rebuilt = study_run(study_dir, str(row["run_id"])[:10])
    assert rebuilt.id_matches and rebuilt.seed == row["seed"] and rebuilt.hours == 0.015
    assert rebuilt.point == {"market.leveraged.leverage_cap": 10}

    out = tmp_path / "replay"
    assert main(["run", str(study_dir), "--run", str(row["run_id"])[:10], "--out", str(out), "-q"]) == 0
    replay = load_run(out)
    assert replay.seed == row["seed"]
    assert replay.config.market.leveraged.leverage_cap == 10
    got = jsonable(flatten_summary(replay.summary))
    recorded = json.loads((study_dir / "runs" / f"{row['run_id']}.json").read_text())
    for key, value in got.items():
        if key not in NONDETERMINISTIC_COLUMNS and key in recorded:
            assert recorded[key] == value, key


def test_replay_refuses_unknown_runs_and_a_study_without_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study_dir = tmp_path / "study"
    sweep("baseline", seeds=1, workers=1, out=study_dir, overrides=TINY, hours=0.01, progress=False)
    assert main(["run", str(study_dir), "--run", "zzzz", "--out", str(tmp_path / "x")]) == 2
    assert "no such run" in capsys.readouterr().err
    assert main(["run", str(study_dir), "--out", str(tmp_path / "x")]) == 2
    assert "--run RUN_ID" in capsys.readouterr().err


def test_compare_from_the_command_line_and_the_package(tmp_path: Path) -> None:
    a = experiments.run("baseline", seed=1, overrides=TINY, out=tmp_path / "a", figures=False)
    b = experiments.run("baseline", seed=2, overrides=TINY, out=tmp_path / "b", figures=False)
    assert a.out and b.out
    assert main(["compare", str(a.out), str(b.out), "--out", str(tmp_path / "cmp"), "--no-figures"]) == 0
    text = (tmp_path / "cmp" / "report.md").read_text()
    assert "a" in text and "b" in text
    assert not (tmp_path / "cmp" / "figures").exists() or not any((tmp_path / "cmp" / "figures").iterdir())
    path = experiments.compare([a.out, b.out], tmp_path / "cmp2", figures=False)
    assert path == tmp_path / "cmp2" / "report.md" and path.is_file()
    assert main(["compare", str(a.out), "--out", str(tmp_path / "c3")]) == 2


def test_a_study_from_the_command_line_records_its_provenance(tmp_path: Path) -> None:
    out = tmp_path / "study"
    sets = [a for o in TINY for a in ("--set", o)]
    args = ["sweep", "baseline", "--seeds", "1", "--workers", "1", "--hours", "0.01", "--out", str(out)]
    assert main([*args, *sets, "-q"]) == 0
    data = json.loads((out / "provenance.json").read_text())
    assert data["defaults_version"] == DEFAULTS_VERSION and data["packages"]["pandas"]
