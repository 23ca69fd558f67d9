"""Experiment configs: schema, YAML loading, overrides, and one readable line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from experiments.config import (
    CONFIG_DIR,
    ConfigError,
    ExperimentConfig,
    check_grid,
    config_from,
    config_hash,
    grid_points,
    list_scenarios,
    load_config,
    parse_grid,
    parse_value,
    resolved_dict,
    split_grid_values,
)
from model.exchange import Exchange
from model.params import MarketParams, VenueParams, default_symbols

BASE = """\
name: t
seed: 3
duration_hours: 2
market:
  leveraged: {count: 10}
"""

ALIAS_BOMB = """\
study:
  grid:
    market.leveraged.leverage_cap:
      - &a [1, 1, 1, 1, 1, 1, 1, 1, 1]
      - &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
      - &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
      - &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
      - &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
      - [*e, *e, *e, *e, *e, *e, *e, *e, *e]
"""

# (id, YAML text, overrides, expected fragments of the error lines)
BAD_CONFIGS: list[tuple[str, str, list[str], list[str]]] = [
    (
        "unknown top-level key",
        BASE + "durations_hours: 3\n",
        [],
        ["durations_hours: unknown key (did you mean 'duration_hours'?)"],
    ),
    (
        "unknown nested key",
        BASE,
        ["market.leveraged.leverage_cpa=5"],
        ["market.leveraged.leverage_cpa: unknown key (did you mean 'leverage_cap'?)"],
    ),
    (
        "unknown key in a shock names the kind's keys",
        BASE + "  shocks:\n    - {kind: index_jump, at_hour: 1, symbol: BTC, pct: -0.1, size: 2}\n",
        [],
        ["market.shocks.0.size: unknown key", "symbol"],
    ),
    ("wrong type", BASE, ["duration_hours=abc"], ["duration_hours: Input should be a valid number", "'abc'"]),
    (
        "wrong type int",
        BASE,
        ["market.leveraged.count=2.5"],
        ["market.leveraged.count: Input should be a valid integer"],
    ),
    (
        "mmr >= imr",
        BASE,
        ["market.symbols.0.tiers=[{max_notional_usd: 1e6, mmr: 0.05, imr: 0.04}]"],
        ["market.symbols.0.tiers.0: mmr (0.05) must be below imr (0.04)"],
    ),
    (
        "tick_size <= 0",
        BASE,
        ["market.symbols.0.tick_size_usd=0"],
        ["market.symbols.0.tick_size_usd: Input should be greater than 0"],
    ),
    (
        "tick x lot x 1e6 not an integer",
        BASE,
        ["market.symbols.1.tick_size_usd=0.0001", "market.symbols.1.lot_size=0.001"],
        ["market.symbols.1: tick_size_usd x lot_size x 1e6 must be an integer"],
    ),
    (
        "symbol leverage above its first tier",
        BASE,
        ["market.symbols.0.max_leverage=150"],
        ["market.symbols.0.max_leverage: 150x is above the first margin tier's max leverage 1/imr = 125x"],
    ),
    (
        "venue leverage above its first tier",
        BASE,
        ["market.venue.max_leverage=200"],
        ["market.venue.max_leverage: 200x is above the first margin tier's max leverage"],
    ),
    (
        "every leverage choice above the venue's max",
        BASE,
        [
            "market.venue.preset=hyperliquid_like",
            "market.leveraged.leverage_choices=[50, 100]",
            "market.leveraged.leverage_weights=[1, 1]",
        ],
        ["market.leveraged.leverage_choices: every usable leverage exceeds BTC's max leverage 40"],
    ),
    (
        "shock after the end of the run",
        BASE
        + "  shocks:\n    - {kind: macro_risk_off, at_hour: 1}\n    - {kind: whale_sale, at_hour: 2.5}\n",
        [],
        [
            "market.shocks.1.at_hour: the whale_sale shock at hour 2.5 is at or after the end of the run "
            "(duration_hours = 2)"
        ],
    ),
    (
        "duplicate symbol",
        BASE,
        ["market.symbols.2.name=BTC"],
        ["market.symbols: duplicate symbol name(s) ['BTC']"],
    ),
    (
        "whale sale without a large holder",
        BASE + "  large_holders: {count: 0}\n  shocks:\n    - {kind: whale_sale, at_hour: 1}\n",
        [],
        ["market.shocks.0.holder: whale_sale needs large holder 0, but large_holders.count is 0"],
    ),
    (
        "maker withdrawal without makers",
        BASE + "  market_makers: {count: 0}\n  shocks:\n    - {kind: maker_withdrawal, at_hour: 1}\n",
        [],
        ["market.shocks.0: maker_withdrawal needs market_makers.count > 0"],
    ),
    (
        "index jump on an unknown symbol",
        BASE + "  shocks:\n    - {kind: index_jump, at_hour: 1, symbol: DOGE, pct: -0.2}\n",
        [],
        ["market.shocks.0.symbol: unknown symbol 'DOGE'"],
    ),
    (
        "unknown shock kind",
        BASE + "  shocks:\n    - {kind: rug_pull, at_hour: 1}\n",
        [],
        ["market.shocks.0: Input tag 'rug_pull'"],
    ),
    (
        "missing required key",
        BASE + "  shocks:\n    - {kind: macro_risk_off}\n",
        [],
        ["market.shocks.0.at_hour: required key is missing"],
    ),
    (
        "bad venue preset",
        BASE,
        ["market.venue.preset=ftx_like"],
        ["market.venue.preset: Input should be 'binance_like', 'hyperliquid_like' or 'bybit_like'"],
    ),
    (
        "value band inverted",
        BASE,
        ["market.background.value_threshold=0.2", "market.background.value_full_gap=0.1"],
        ["market.background: value_full_gap (0.1) must exceed value_threshold (0.2)"],
    ),
    (
        "entry cut above one",
        BASE,
        ["market.leveraged.risk_off_deleveraging=1.5"],
        ["market.leveraged.risk_off_deleveraging: Input should be less than or equal to 1"],
    ),
    ("negative seed", BASE, ["seed=-1"], ["seed: Input should be greater than or equal to 0"]),
    ("seed too large", BASE, [f"seed={2**63}"], ["seed: Input should be less than 9223372036854775808"]),
    (
        "dt above sample",
        BASE,
        ["dt_seconds=120"],
        ["dt_seconds: a step (120 s) must not exceed sample_seconds (60 s)"],
    ),
    (
        "study seeds zero",
        BASE,
        ["study.seeds=0"],
        ["study.seeds: Input should be greater than or equal to 1"],
    ),
    (
        "grid point invalid",
        BASE + "study:\n  grid: {market.leveraged.leverage_cap: [5, -1]}\n",
        [],
        [
            "study.grid [market.leveraged.leverage_cap=-1]: "
            "market.leveraged.leverage_cap: Input should be greater than 0"
        ],
    ),
    (
        "grid key unknown",
        BASE + "study:\n  grid: {market.leveraged.leveragecap: [5]}\n",
        [],
        [
            "study.grid [market.leveraged.leveragecap=5]: "
            "market.leveraged.leveragecap: unknown key (did you mean 'leverage_cap'?)"
        ],
    ),
    (
        "override index out of range",
        BASE,
        ["market.symbols.5.price_usd=1"],
        ["market.symbols.5: index 5 out of range (3 item(s) in market.symbols)"],
    ),
    (
        "override without =",
        BASE,
        ["market.leveraged.count"],
        ["--set market.leveraged.count: expected key.path=value"],
    ),
    ("override through a value", BASE, ["seed.x=1"], ["seed is a value, not a section"]),
    ("YAML not a mapping", "- 1\n- 2\n", [], ["the top level must be a mapping of keys, got a list"]),
    ("YAML syntax error", "name: [unclosed\n", [], ["invalid YAML"]),
    ("YAML duplicate key", "name: a\nname: b\n", [], ["duplicate key 'name'"]),
    # non-finite and absurd numbers
    (
        "price beyond any coin",
        BASE,
        ["market.symbols.0.price_usd=1e308"],
        ["market.symbols.0.price_usd: Input should be less than or equal to 100000000"],
    ),
    (
        "infinite capital",
        BASE,
        ["market.market_makers.capital_usd=.inf"],
        ["market.market_makers.capital_usd: Input should be a finite number"],
    ),
    (
        "infinite strategy weight",
        BASE,
        ["market.leveraged.strategy_mix={trend: .inf}"],
        ["market.leveraged.strategy_mix.trend: Input should be a finite number"],
    ),
    (
        "NaN funding interest",
        BASE,
        ["market.venue.funding_interest_per_interval=.nan"],
        ["market.venue.funding_interest_per_interval: Input should be a finite number"],
    ),
    (
        "NaN sentiment weight",
        BASE,
        ["market.sentiment.weight_return=.nan"],
        ["market.sentiment.weight_return: Input should be a finite number"],
    ),
    (
        "infinite decision rate in a file",
        BASE + "  large_holders: {decisions_per_hour: .inf}\n",
        [],
        ["market.large_holders.decisions_per_hour: Input should be a finite number"],
    ),
    (
        "absurd funding interest",
        BASE,
        ["market.venue.funding_interest_per_interval=5"],
        ["market.venue.funding_interest_per_interval: Input should be less than or equal to 0.1"],
    ),
    (
        "absurd index volatility",
        BASE,
        ["market.symbols.1.index_vol_per_day=1e6"],
        ["market.symbols.1.index_vol_per_day: Input should be less than or equal to 10"],
    ),
    (
        "absurd population",
        BASE,
        ["market.background.noise_count=10_000_000"],
        ["market.background.noise_count: Input should be less than or equal to 1000000"],
    ),
    # booleans are not numbers
    (
        "boolean count",
        BASE + "  market_makers: {count: true}\n",
        [],
        ["market.market_makers.count: Input should be a valid integer"],
    ),
    (
        "boolean duration",
        "duration_hours: yes\n",
        [],
        ["duration_hours: Input should be a valid number", "(got True)"],
    ),
    ("boolean seed", BASE, ["seed=true"], ["seed: Input should be a valid integer"]),
    ("boolean study seeds", BASE, ["study.seeds=true"], ["study.seeds: Input should be a valid integer"]),
    (
        "string number",
        BASE,
        ["market.leveraged.count='12'"],
        ["market.leveraged.count: Input should be a valid integer"],
    ),
    # symbol and experiment names
    (
        "symbol name with a space",
        BASE,
        ["market.symbols.0.name='btc '"],
        ["market.symbols.0.name: String should match pattern"],
    ),
    (
        "symbol names equal regardless of case",
        BASE,
        ["market.symbols.1.name=btc"],
        ["market.symbols: duplicate symbol name(s) ['BTC', 'btc']"],
    ),
    (
        "symbol name with a slash",
        BASE,
        ["market.symbols.2.name=a/b"],
        ["market.symbols.2.name: String should match pattern"],
    ),
    (
        "symbol name too long",
        BASE,
        ["market.symbols.2.name=" + "S" * 21],
        ["market.symbols.2.name: String should match pattern"],
    ),
    ("name escaping runs/", BASE, ["name=../../escaped"], ["name: String should match pattern"]),
    ("absolute name", BASE, ["name=/tmp/x"], ["name: String should match pattern"]),
    ("name with a slash", "name: a/b\n", [], ["name: String should match pattern"]),
    # steps and samples
    (
        "step too short",
        BASE,
        ["dt_seconds=1e-6"],
        ["dt_seconds: Input should be greater than or equal to 0.01"],
    ),
    (
        "too many steps",
        BASE,
        ["duration_hours=8000", "dt_seconds=0.1"],
        ["dt_seconds: 8000 h at 0.1 s per step is 2.88e+08 steps; a run holds at most 50_000_000"],
    ),
    (
        "too many samples",
        BASE,
        ["duration_hours=8000", "sample_seconds=1"],
        ["sample_seconds: 8000 h sampled every 1 s is 2.88e+07 samples; a run holds at most 2_000_000"],
    ),
    (
        "sample period not a multiple of the step",
        BASE,
        ["dt_seconds=7"],
        ["sample_seconds: must be a whole multiple of dt_seconds (60 s is 8.571 steps of 7 s)"],
    ),
    # an ablation study's section, checked against its grid before anything runs
    (
        "ablation metric misspelt",
        BASE + "study:\n  grid: {market.leveraged.leverage_cap: [5, 10]}\n"
        "  ablation: {metric: alt_mean_drawdown}\n",
        [],
        [
            "study.ablation.metric: 'alt_mean_drawdown' is not a results column an ablation compares "
            "(did you mean 'alt_mean_drawdown_pct'?)"
        ],
    ),
    (
        "ablation metric of an unknown symbol",
        BASE
        + "study:\n  grid: {market.leveraged.leverage_cap: [5, 10]}\n  ablation: {metric: DOGE_return_pct}\n",
        [],
        ["study.ablation.metric: 'DOGE_return_pct' is not a results column"],
    ),
    (
        "ablation reference outside the grid",
        BASE + "study:\n  grid: {market.leveraged.leverage_cap: [5, 10]}\n  ablation: {reference: 2}\n",
        [],
        ["study.ablation.reference: 2 is not a grid point (the grid has 2, numbered from 0)"],
    ),
    (
        "ablation without a grid",
        BASE + "study:\n  ablation: {metric: ETH_return_pct}\n",
        [],
        ["study.ablation: needs a grid of at least two points (a reference and a variant)"],
    ),
    # YAML bombs
    (
        "YAML nested 500 deep",
        "x: " + "[" * 500 + "]" * 500 + "\n",
        [],
        ["invalid YAML: nested deeper than 32 levels"],
    ),
    (
        "--set value nested 500 deep",
        BASE,
        ["market.shocks=" + "[" * 500 + "]" * 500],
        ["value refused: nested deeper than 32 levels"],
    ),
    (
        "alias bomb in a grid",
        BASE + ALIAS_BOMB,
        [],
        ["invalid YAML: expands to more than 200_000 values"],
    ),
    (
        "--set key path too deep",
        BASE,
        [".".join(["market"] * 40) + "=1"],
        ["is not a dotted key path"],
    ),
]


@pytest.mark.parametrize(
    ("yaml_text", "overrides", "expected"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_config_names_the_key_and_the_reason(
    tmp_path: Path, yaml_text: str, overrides: list[str], expected: list[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    text = "\n".join(info.value.problems)
    for fragment in expected:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    assert all("\n" not in line for line in info.value.problems)


def test_at_least_fifteen_bad_configs() -> None:
    assert len(BAD_CONFIGS) >= 15


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE + "foo: 1\nbar: 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["dt_seconds=-1"])
    joined = "\n".join(info.value.problems)
    assert "foo: unknown key" in joined and "bar: unknown key" in joined and "dt_seconds:" in joined
    assert len(info.value.problems) == 3


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file, and not a shipped scenario"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match=r"cannot read the file|invalid YAML"):
        load_config(binary)


def test_empty_file_is_all_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    cfg = load_config(path)
    assert cfg.origin.source == str(path) and cfg.origin.overrides == []  # where it came from, recorded
    assert cfg.model_copy(update={"origin": ExperimentConfig().origin}) == ExperimentConfig()


def test_yaml_exponent_floats_are_numbers(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE + "  venue: {taker_fee: 4e-4, maker_fee: 1e-4}\n")
    cfg = load_config(path)
    assert cfg.market.venue.taker_fee == pytest.approx(4e-4)
    assert cfg.market.venue.maker_fee == pytest.approx(1e-4)
    assert parse_value("1e-4") == pytest.approx(1e-4)
    assert parse_value("1E5") == 1e5
    assert parse_value("'1e-4'") == "1e-4"  # quoted stays a string
    assert parse_value("12") == 12 and isinstance(parse_value("12"), int)


def test_overrides_are_applied_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE)
    cfg = load_config(
        path,
        [
            "market.venue.taker_fee=1e-4",
            "market.symbols.0.price_usd=50000",
            "market.contagion.cross_margin=false",
            "market.shocks=[{kind: whale_sale, at_hour: 1, fraction: 0.2}]",
            "market.leveraged.support_spacing_usd.BTC=2500",
            "seed=7",
            "seed=8",
        ],
    )
    assert cfg.market.venue.taker_fee == pytest.approx(1e-4)
    assert cfg.market.symbols[0].price_usd == 50000
    assert [s.name for s in cfg.market.symbols] == ["BTC", "ETH", "SOL"]
    assert cfg.market.contagion.cross_margin is False
    assert cfg.market.shocks[0].kind == "whale_sale"
    assert cfg.market.leveraged.support_spacing_usd["BTC"] == 2500
    assert cfg.market.leveraged.count == 10  # from the file
    assert cfg.seed == 8  # later overrides win


def test_scenarios_are_found_by_name() -> None:
    names = [name for name, _ in list_scenarios()]
    for required in (
        "baseline",
        "whale_dump",
        "macro_risk_off",
        "seed_selloff",
        "flash_crash",
        "leverage_sweep",
    ):
        assert required in names
        assert load_config(required).name == required
    assert load_config("baseline.yaml").name == "baseline"
    assert all(desc for _, desc in list_scenarios())


def test_resolved_dict_round_trips_with_the_preset_filled(tmp_path: Path) -> None:
    cfg = load_config("flash_crash", ["market.venue.taker_fee=3e-4"])
    data = resolved_dict(cfg, seed=99)
    assert data["seed"] == 99
    venue = data["market"]["venue"]
    assert venue["taker_fee"] == pytest.approx(3e-4)
    assert venue["funding_interval_hours"] == 1.0  # from the hyperliquid_like preset
    again = config_from(data)
    assert again.seed == 99 and again.market.venue.funding_interval_hours == 1.0
    assert config_hash(again, 5) == config_hash(config_from(resolved_dict(again)), 5)


def test_run_id_is_stable_and_depends_on_what_matters() -> None:
    cfg = load_config("baseline")
    h = config_hash(cfg, 1)
    assert h == config_hash(load_config("baseline"), 1)
    assert h == config_hash(config_from(cfg, ["name=renamed", "description=x"]), 1)
    assert h != config_hash(cfg, 2)
    assert h != config_hash(config_from(cfg, ["market.leveraged.leverage_cap=10"]), 1)
    assert h != config_hash(cfg, 1, hours=0.5)


def test_grid_parsing_and_points() -> None:
    assert split_grid_values("1,2,[3,4],{a: 1, b: 2},'x,y'") == ["1", "2", "[3,4]", "{a: 1, b: 2}", "'x,y'"]
    grid = parse_grid(
        ["market.leveraged.leverage_cap=5,25", "market.venue.preset=binance_like,hyperliquid_like"]
    )
    assert grid["market.leveraged.leverage_cap"] == [5, 25]
    points = grid_points(grid)
    assert len(points) == 4
    assert points[1] == {"market.leveraged.leverage_cap": 5, "market.venue.preset": "hyperliquid_like"}
    assert grid_points({}) == [{}]
    assert check_grid(ExperimentConfig(), grid) == []
    with pytest.raises(ConfigError, match=r"expected key\.path=value1,value2"):
        parse_grid(["market.leveraged.leverage_cap"])


def test_shipped_configs_directory() -> None:
    assert (CONFIG_DIR / "README.md").is_file()


def test_market_rules_hold_for_a_market_built_without_an_experiment() -> None:
    """The tier-vs-leverage rules live in model.params: a notebook's MarketParams gets them too."""
    symbols = [s.model_dump() for s in default_symbols()]
    symbols[0]["max_leverage"] = 150
    with pytest.raises(
        ValidationError, match=r"symbols\.0\.max_leverage: 150x is above the first margin tier"
    ):
        MarketParams.model_validate({"symbols": symbols})
    with pytest.raises(ValidationError, match=r"venue\.max_leverage: 200x is above the first margin tier"):
        MarketParams.model_validate({"venue": {"max_leverage": 200}})


def test_one_max_leverage_rule_for_the_schema_and_the_exchange() -> None:
    for preset in ("binance_like", "hyperliquid_like"):
        venue = VenueParams(preset=preset)
        p = MarketParams(venue=venue)
        ex = Exchange(p.symbols, p.venue)
        for s, sym in enumerate(p.symbols):
            assert sym.max_leverage_on(venue) == pytest.approx(ex.max_leverage(s, 0.0)), (preset, sym.name)
    # the fallback is the resolved venue's cap, never a number of its own
    btc = MarketParams().symbols[0]
    assert btc.max_leverage_on(VenueParams(preset="hyperliquid_like")) == 40.0
    assert btc.max_leverage_on(VenueParams(preset="binance_like")) == 125.0


def test_error_lines_echo_at_most_a_clip_of_the_value(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE)
    for override in ("duration_hours=" + "x" * 10_000, "market.leveraged.count" + "x" * 10_000):
        with pytest.raises(ConfigError) as info:
            load_config(path, [override])
        assert all(len(line) <= 300 for line in info.value.problems), info.value.problems
    grid = "study:\n  grid: {market.leveraged.leverage_cap: [" + "'" + "y" * 10_000 + "']}\n"
    path.write_text(BASE + grid)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert sum(len(line) for line in info.value.problems) < 1000, info.value.problems


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BASE + ALIAS_BOMB)
    assert len(ALIAS_BOMB) < 400
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert len("\n".join(info.value.problems)) < 400


def test_strict_numbers_still_take_ints_for_floats_and_yaml_underscores(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "duration_hours: 2\nsample_seconds: 60\nmarket:\n  leveraged: {count: 10_000}\n"
        "  market_makers: {capital_usd: 5_000_000}\n"
    )
    cfg = load_config(path, ["dt_seconds=0.5", "market.symbols.0.price_usd=70_000"])
    assert cfg.market.leveraged.count == 10_000 and isinstance(cfg.market.leveraged.count, int)
    assert cfg.market.market_makers.capital_usd == 5_000_000
    assert cfg.duration_hours == 2.0 and cfg.dt_seconds == 0.5
    assert cfg.market.symbols[0].price_usd == 70_000


def test_valid_names_and_steps_pass(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE)
    cfg = load_config(
        path,
        ["name=my-study_v2.1", "market.symbols.2.name=1000PEPE", "dt_seconds=0.25", "sample_seconds=0.75"],
    )
    assert cfg.name == "my-study_v2.1" and cfg.market.symbols[2].name == "1000PEPE"


def test_a_misspelled_scenario_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="did you mean 'baseline'"):
        load_config("basline")


def test_numpy_numbers_are_numbers_but_booleans_are_not() -> None:
    import numpy as np

    from model.params import MarketMakerParams

    maker = MarketMakerParams(count=np.int64(3), capital_usd=np.float32(2e6))
    assert maker.count == 3 and type(maker.count) is int and maker.capital_usd == 2e6
    with pytest.raises(ValidationError, match="valid integer"):
        MarketMakerParams(count=True)
    with pytest.raises(ValidationError, match="finite number"):
        MarketMakerParams(capital_usd=np.float64("nan"))
