"""A recorded index path as the driver: "if that day hit our venue" is a config, not a code change."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from model.market import CryptoMarket
from tests.model.market_helpers import small_params

TINY = {
    "leveraged": {"count": 300},
    "market_makers": {"count": 4},
    "large_holders": {"count": 2},
    "background": {"fundamental_count": 9, "noise_count": 12},
}


def crash_file(tmp_path: Path, suffix: str = ".csv") -> Path:
    """BTC's oracle: flat for 5 minutes, -10% over the next 5, flat after (prices of another venue)."""
    frame = pd.DataFrame(
        {"time_s": [0.0, 300.0, 600.0, 3600.0], "BTCUSDT": [120_000.0, 120_000.0, 108_000.0, 108_000.0]}
    )
    path = tmp_path / f"oracle{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_index_follows_the_recorded_path_and_the_market_trades_on_it(tmp_path: Path, suffix: str) -> None:
    path = crash_file(tmp_path, suffix)
    params = small_params(**TINY, index_path={"file": str(path), "columns": {"BTC": "BTCUSDT"}})
    market = CryptoMarket(params, seed=3)
    ex = market.exchange
    start = ex.index_path_ticks(0)
    eth_start = ex.index_path_ticks(1)
    market.run_for(450)  # half-way down the recorded fall: -5% in log terms, ln(114/120)
    assert math.log(ex.index_path_ticks(0) / start) == pytest.approx(math.log(0.9) / 2, abs=1e-9)
    market.run_for(300)
    # the exogenous path is the recording's ratio: -10%, whatever the venue's own level
    assert ex.index_path_ticks(0) / start == pytest.approx(0.9, rel=1e-9)
    # the perp followed the oracle through the agents (arbitrage), and ETH kept its own random walk
    assert ex.mid_ticks(0) / start < 0.95
    assert ex.index_path_ticks(1) != pytest.approx(eth_start, rel=1e-12)
    assert ex.ledger_imbalance() == 0


def test_a_bad_index_path_is_refused_when_the_config_is_read(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"index_path.file: .*cannot read"):
        small_params(index_path={"file": str(tmp_path / "missing.csv")})
    path = crash_file(tmp_path)
    with pytest.raises(ValidationError, match=r"index_path.columns: the file has no price column"):
        small_params(index_path={"file": str(path)})  # BTCUSDT is not a symbol name and is not mapped
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"time_s": [0.0, 0.0], "BTC": [1.0, 2.0]}).to_csv(bad, index=False)
    with pytest.raises(ValidationError, match="increasing"):
        small_params(index_path={"file": str(bad)})
