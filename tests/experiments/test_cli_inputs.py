"""Bad input on the command line: one line on stderr naming the key, exit 2, before anything runs."""

from __future__ import annotations

import socket
import typing
from pathlib import Path

import pytest

import experiments
import experiments.cli as cli
from experiments.cli import main
from model.market import build_makers
from tests.experiments.helpers import TINY


def _set(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def _never_run(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("the simulation started")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("market.symbols.0.price_usd=1e308", "market.symbols.0.price_usd"),
        ("market.market_makers.capital_usd=.inf", "market.market_makers.capital_usd"),
        ("market.leveraged.strategy_mix={trend: .inf}", "market.leveraged.strategy_mix.trend"),
        ("market.venue.funding_interest_per_interval=.nan", "market.venue.funding_interest_per_interval"),
        ("market.sentiment.weight_return=.nan", "market.sentiment.weight_return"),
        ("market.leveraged.decisions_per_hour=.inf", "market.leveraged.decisions_per_hour"),
        ("market.leveraged.count=true", "market.leveraged.count"),
        ("duration_hours=yes", "duration_hours"),
        ("seed=true", "seed"),
        ("study.seeds=true", "study.seeds"),
        ("market.symbols.0.name=a/b", "market.symbols.0.name"),
        ("name=../../escaped", "name"),
        ("name=/abs/path", "name"),
        ("dt_seconds=1e-6", "dt_seconds"),
        ("dt_seconds=7", "sample_seconds"),
        ("market.shocks=" + "[" * 500 + "]" * 500, "nested deeper than 32 levels"),
    ],
)
def test_run_refuses_bad_input_in_one_line(
    override: str,
    key: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "run", _never_run)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "baseline", "--quiet", *_set([override])]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("error: ") and key in line, line
    assert not list(tmp_path.iterdir())  # nothing written, not even runs/


def test_duplicate_symbols_regardless_of_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "baseline", "--set", "market.symbols.1.name=btc"]) == 2
    assert "market.symbols: duplicate symbol name(s) ['BTC', 'btc']" in _one_error_line(capsys)


def test_deep_yaml_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("market: " + "[" * 500 + "]" * 500 + "\n")
    assert len(path.read_bytes()) < 1100
    assert main(["validate", str(path)]) == 2
    assert "nested deeper than 32 levels" in _one_error_line(capsys)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("cascadelab ") and len(out.split()) >= 2


def test_misspelled_scenario_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "whale_dmp", "--quiet"]) == 2
    assert "did you mean 'whale_dump'?" in _one_error_line(capsys)


def test_unwritable_out_is_found_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "run", _never_run)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["run", "baseline", "--quiet", "--out", str(blocker / "run"), *_set(TINY)]) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"error: --out {blocker / 'run'}") and "not a directory" in line


def test_read_only_out_is_found_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli, "run", _never_run)
    monkeypatch.setattr(cli.tempfile, "mkstemp", refuse)  # root can write anywhere: fake the refusal
    assert main(["run", "baseline", "--quiet", "--out", str(tmp_path / "run"), *_set(TINY)]) == 2
    line = _one_error_line(capsys)
    assert f"--out {tmp_path / 'run'}: cannot write in {tmp_path} (Permission denied)" in line


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_bad_scheduler_fails_fast_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: object())  # as if Dask were there
    monkeypatch.setattr(cli, "sweep", _never_run)
    out = tmp_path / "study"
    address = f"tcp://127.0.0.1:{_free_port()}"
    assert main(["sweep", "baseline", "--seeds", "2", "--out", str(out), "--scheduler", address]) == 2
    line = _one_error_line(capsys)  # one line: the progress bar did not start either
    assert line.startswith(f"error: --scheduler {address}: cannot connect"), line
    assert not out.exists()
    assert main(["sweep", "baseline", "--out", str(out), "--scheduler", "tcp://nohost"]) == 2
    assert "expected an address like tcp://HOST:PORT" in _one_error_line(capsys)


def test_missing_dask_says_how_to_install_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(cli, "sweep", _never_run)
    out = tmp_path / "study"
    assert main(["sweep", "baseline", "--out", str(out), "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    line = _one_error_line(capsys)
    assert "pip install -e '.[cluster]'" in line and "pip install cascadelab[cluster]" not in line
    assert not out.exists()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("r") / "run"
    assert main(["run", "baseline", "--quiet", "--no-figures", "--out", str(out), *_set(TINY)]) == 0
    return out


@pytest.mark.parametrize("name", ["summary.json", "timeseries.parquet", "liquidations.parquet"])
def test_report_names_a_damaged_run_file(
    name: str, run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "run"
    copy.mkdir()
    for path in run_dir.iterdir():
        if path.is_file():
            (copy / path.name).write_bytes(path.read_bytes())
    data = (copy / name).read_bytes()
    (copy / name).write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    assert main(["report", str(copy)]) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"error: {copy / name}: damaged"), line


def test_report_names_a_damaged_results_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.yaml").write_text("name: s\n")
    (study / "results.parquet").write_bytes(b"PAR1\x00\x01truncated")
    assert main(["report", str(study)]) == 2
    assert _one_error_line(capsys).startswith(f"error: {study / 'results.parquet'}: damaged")


def test_a_market_without_makers_builds_and_steps() -> None:
    assert typing.get_type_hints(build_makers)["return"].__name__ == "AgentSet"
    result = experiments.run("baseline", seed=2, overrides=[*TINY, "market.market_makers.count=0"])
    assert result.summary.ledger_imbalance == 0
    assert result.summary.sim_seconds == pytest.approx(72, abs=1)
    assert len(result.timeseries) > 0
