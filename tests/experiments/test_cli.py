"""The ``cascadelab`` CLI end to end, in a temporary directory, on a tiny real market."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from experiments.cli import main
from experiments.config import load_config
from tests.experiments.helpers import ROOT, TINY, TINY_POPULATION, subprocess_env

SUMMARY_KEYS = {
    "seed",
    "sim_seconds",
    "wall_seconds",
    "ledger_imbalance",
    "insurance_fund_start_usd",
    "insurance_fund_min_usd",
    "insurance_fund_end_usd",
    "symbols",
    "cascades",
    "totals",
}
SYMBOL_KEYS = {
    "return_pct",
    "max_drawdown_pct",
    "liquidations_long_usd",
    "liquidations_short_usd",
    "liquidation_count",
    "adl_count",
    "oi_start_usd",
    "oi_end_usd",
    "oi_change_pct",
    "realized_vol",
}
TIMESERIES_COLUMNS = {
    "time_s",
    "symbol",
    "mid",
    "last",
    "mark",
    "index",
    "index_path",
    "best_bid",
    "best_ask",
    "depth_1pct_usd",
    "volume_usd",
    "open_interest_usd",
    "funding_rate",
    "liq_long_usd",
    "liq_short_usd",
    "insurance_fund_usd",
    "sentiment",
    "macro",
}


def _set(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def test_run_writes_the_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(["run", "baseline", "--seed", "11", "--out", str(out), "--quiet", *_set(TINY)])
    assert code == 0, capsys.readouterr().err
    for name in (
        "config.yaml",
        "summary.json",
        "timeseries.parquet",
        "liquidations.parquet",
        "adl.parquet",
        "report.md",
    ):
        assert (out / name).is_file(), name
    figures = {p.name for p in (out / "figures").glob("*.png")}
    assert {
        "price_BTC.png",
        "open_interest.png",
        "funding.png",
        "depth.png",
        "insurance_fund.png",
        "sentiment.png",
        "facts.png",
    } <= figures
    assert not list(tmp_path.glob(".run.tmp-*"))  # the temporary directory was renamed into place

    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["seed"] == 11
    assert summary["ledger_imbalance"] == 0
    assert summary["sim_seconds"] == pytest.approx(72, abs=1)
    assert set(summary["symbols"]) == {"BTC", "ETH", "SOL"}
    for metrics in summary["symbols"].values():
        assert set(metrics) >= SYMBOL_KEYS

    ts = pd.read_parquet(out / "timeseries.parquet")
    assert set(ts.columns) >= TIMESERIES_COLUMNS
    assert set(ts["symbol"]) == {"BTC", "ETH", "SOL"}
    assert len(ts) >= 3 * 7  # a sample every 10 s over 72 s, per symbol
    liq = pd.read_parquet(out / "liquidations.parquet")
    assert {"time_s", "symbol", "side", "notional_usd", "kind"} <= set(liq.columns)
    adl = pd.read_parquet(out / "adl.parquet")
    assert {"time_s", "symbol", "side", "notional_usd", "rank"} <= set(adl.columns)

    # config.yaml is the resolved config with the seed: it re-validates and names the preset's numbers
    cfg = load_config(out / "config.yaml")
    assert cfg.seed == 11 and cfg.market.leveraged.count == 30
    raw = yaml.safe_load((out / "config.yaml").read_text())
    assert raw["market"]["venue"]["taker_fee"] is not None

    report = (out / "report.md").read_text()
    assert "## Per symbol" in report and "## Cascades" in report and "figures/price_BTC.png" in report

    # report re-renders from the directory alone
    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report.md").read_text() == report


def test_run_is_deterministic_and_replaces_its_own_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "baseline", "--seed", "5", "--out", str(out), "--quiet", "--no-figures", *_set(TINY)]
    assert main(args) == 0
    first = pd.read_parquet(out / "timeseries.parquet")
    assert main(args) == 2  # a previous run directory is not replaced without --overwrite
    assert main([*args, "--overwrite"]) == 0  # with it, it is
    pd.testing.assert_frame_equal(first, pd.read_parquet(out / "timeseries.parquet"))
    assert not (out / "figures").exists() or not list((out / "figures").glob("*.png"))


def test_run_hours_truncates_a_scenario(tmp_path: Path) -> None:
    out = tmp_path / "whale"
    overrides = [*TINY_POPULATION, "market.shocks.0.at_hour=0.01"]
    assert (
        main(
            [
                "run",
                "whale_dump",
                "--hours",
                "0.02",
                "--out",
                str(out),
                "--quiet",
                "--no-figures",
                *_set(overrides),
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hours_run"] == 0.02 and summary["duration_hours"] == 4
    assert summary["sim_seconds"] == pytest.approx(72, abs=1)
    assert summary["ledger_imbalance"] == 0


def test_run_refuses_a_foreign_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["run", "baseline", "--out", str(tmp_path), "--quiet", *_set(TINY)]) == 2
    assert "is not a run directory" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_hours_beyond_the_duration_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "baseline", "--out", str(tmp_path / "r"), "--hours", "5", *_set(TINY)]) == 2
    assert "--hours" in capsys.readouterr().err


def test_validate_good_and_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "leverage_sweep"]) == 0
    assert "ok: leverage_sweep" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "duration_hours: 1\nmarket:\n  leveraged: {leverage_cpa: 3}\n"
        "  shocks:\n    - {kind: whale_sale, at_hour: 2}\n"
    )
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: market.leveraged.leverage_cpa: unknown key (did you mean 'leverage_cap'?)"]
    assert main(["validate", str(bad), "--set", "market.leveraged={}"]) == 2
    text = capsys.readouterr().err
    assert "market.shocks.0.at_hour: the whale_sale shock at hour 2 is at or after the end of the run" in text


def test_validate_bad_file_in_a_subprocess_has_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "seed: -3\nmarket:\n  symbols:\n"
        "    - {name: BTC, price_usd: 1000, tick_size_usd: 0, lot_size: 0.001}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "validate", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=subprocess_env(),
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "error: seed: Input should be greater than or equal to 0 (got -3)" in lines
    assert any(line.startswith("error: market.symbols.0.tick_size_usd:") for line in lines)
    missing = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "run", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=subprocess_env(),
        timeout=120,
    )
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "nope.yaml: no such file" in missing.stderr


def test_scenarios_lists_the_shipped_configs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for name in ("baseline", "whale_dump", "macro_risk_off", "seed_selloff", "flash_crash", "leverage_sweep"):
        assert name in out


@pytest.mark.parametrize(
    "command", [[], ["run"], ["sweep"], ["calibrate"], ["report"], ["validate"], ["scenarios"]]
)
def test_help_on_every_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: cascadelab" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["sweep", "baseline", "--seeds", "0", "--out", "x"])
    assert info.value.code == 2
    assert "must be >= 1" in capsys.readouterr().err


def test_report_on_a_foreign_directory_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a run directory" in capsys.readouterr().err


def test_python_api_returns_frames_and_summary() -> None:
    import experiments

    result = experiments.run("baseline", seed=3, overrides=TINY)
    assert isinstance(result, experiments.RunResult)
    assert result.seed == 3 and result.config.seed == 3
    assert isinstance(result.summary, experiments.RunSummary)
    assert result.summary.ledger_imbalance == 0
    assert {"BTC", "ETH", "SOL"} == set(result.timeseries["symbol"])
    assert result.out is None
