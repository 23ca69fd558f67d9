"""The ``cascadelab`` command line: ``run``, ``sweep``, ``calibrate``, ``report``, ``compare``, ``facts``,
``validate``, ``scenarios``.

``run STUDY_DIR --run RUN_ID`` replays one run of a study: its config and seed are rebuilt from the
study's files (``study.yaml``, ``study.json`` and the run's row), so nobody copies a 19-digit seed by hand.

User errors (a bad config, override, path or option) print one line per problem to stderr and exit with
status 2, without a traceback. ``sweep`` exits 1 when some runs failed (they are recorded in the study);
``calibrate`` exits 1 when runs of an evaluation failed (the finished evaluations are kept).

The top layer of ``experiments``: it composes the others (runner, study, calibrate, report, rundir,
config) and nothing imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from experiments.calibrate import CalibrationError, calibrate, load_targets
from experiments.config import (
    CONFIG_DIR,
    ConfigError,
    ExperimentConfig,
    check_grid,
    clip,
    config_from,
    config_hash,
    cut_config,
    dump_yaml,
    grid_points,
    list_scenarios,
    load_config,
    parse_grid,
    point_config,
    resolved_dict,
)
from experiments.format import format_hms
from experiments.report import compare_runs, rerender_run, summary_text
from experiments.rundir import RunInterrupted, check_out_dir
from experiments.runner import run, write_provenance
from experiments.study import DEFAULT_RECYCLE, load_study, read_rows, rerender_study, sweep
from experiments.stylized import BOOTSTRAP_DRAWS, POOLED, facts, facts_markdown, is_study_dir

EXIT_OK = 0
EXIT_FAILED_RUNS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

SCHEDULER_CONNECT_TIMEOUT_S = 5.0
"""How long ``sweep --scheduler`` waits for the scheduler's port before giving up (nothing is written)."""

CLUSTER_INSTALL_HINT = (
    "install the cluster extra from the clone: pip install -e '.[cluster]' "
    "(or python3 tasks.py test, which installs it)"
)
"""How to get Dask: the extra of the clone (``cascadelab`` is not on the package index)."""


def _version() -> str:
    try:
        return version("cascadelab")
    except PackageNotFoundError:  # running from a clone that is not installed
        return "unknown (not installed)"


def check_writable(out: Path, flag: str = "--out") -> None:
    """Check that ``out`` can be created and written, before anything runs.

    Probes the nearest existing directory at or above ``out`` (or ``out``'s parent, where run directories
    are staged) with a temporary file.

    Args:
        out: the run or study directory to write.
        flag: the option to name in the error.

    Raises:
        ConfigError: ``out`` (or the directory it would be made in) is not writable.
    """
    probe = out if out.is_dir() else out.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError([f"{flag} {out}: {probe} is not a directory"])
    try:
        fd, name = tempfile.mkstemp(prefix=".cascadelab-probe-", dir=probe)
    except OSError as exc:
        raise ConfigError([f"{flag} {out}: cannot write in {probe} ({exc.strerror or exc})"]) from None
    os.close(fd)
    os.unlink(name)


def check_scheduler(address: str, timeout_s: float = SCHEDULER_CONNECT_TIMEOUT_S) -> None:
    """Check that Dask is installed and that a scheduler answers at ``address`` (a short TCP connect).

    Args:
        address: ``tcp://HOST:PORT``.
        timeout_s: seconds to wait for the connection.

    Raises:
        ConfigError: Dask is missing, the address is malformed, or nothing answers there.
    """
    if importlib.util.find_spec("distributed") is None:
        raise ConfigError([f"--scheduler: dask[distributed] is not installed ({CLUSTER_INSTALL_HINT})"])
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number in 0-65535
        host, port = None, None
    if parts.scheme not in ("tcp", "tls") or not host or port is None:
        raise ConfigError([f"--scheduler {clip(address)}: expected an address like tcp://HOST:PORT"])
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ConfigError(
            [
                f"--scheduler {clip(address)}: cannot connect to {host}:{port} "
                f"within {timeout_s:g} s ({reason})"
            ]
        ) from None


def check_run_files(directory: Path) -> None:
    """Check that the result files of a run or study directory are whole before re-rendering.

    Args:
        directory: a run directory (``summary.json``, ``*.parquet``) or a study directory
            (``results.parquet``).

    Raises:
        ConfigError: one line naming the first damaged file.
    """
    summary = directory / "summary.json"
    if summary.is_file():
        try:
            data = json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError([f"{summary}: damaged, not a JSON run summary ({clip(str(exc))})"]) from None
        if not isinstance(data, dict):
            raise ConfigError([f"{summary}: damaged, not a JSON run summary (not a mapping)"])
    for name in ("timeseries.parquet", "liquidations.parquet", "adl.parquet", "results.parquet"):
        path = directory / name
        if path.is_file():
            try:
                pq.read_table(path)
            except (OSError, pa.ArrowException) as exc:
                raise ConfigError(
                    [f"{path}: damaged, not a readable Parquet file ({clip(str(exc))})"]
                ) from None


class StudyRun(NamedTuple):
    """One run of a study, rebuilt from the study directory (:func:`study_run`).

    Attributes:
        config: the run's config (its grid point's values set, its seed as ``seed``, not yet cut).
        seed: the run's seed.
        hours: the study's truncation of its runs (None: the full duration).
        run_id: the run's full id.
        point: the grid point's values.
        id_matches: whether the id recomputed from the rebuilt config is the recorded one (False: the
            study was made by other code or defaults, and the replay may differ).
    """

    config: ExperimentConfig
    seed: int
    hours: float | None
    run_id: str
    point: dict[str, Any]
    id_matches: bool


def study_run(study_dir: str | Path, run_id: str) -> StudyRun:
    """Rebuild one run of a study (config, seed, truncation) from its directory.

    The run's row (``runs/<run_id>.json``, else ``results.parquet``) gives its grid point and seed;
    ``study.yaml`` the base config and the grid; ``study.json`` the ``--hours`` of the study.

    Args:
        study_dir: a study directory (``cascadelab sweep --out``).
        run_id: the run's id, or a prefix of it that only one run has.

    Returns:
        The :class:`StudyRun`.

    Raises:
        ConfigError: not a study directory, no such run (or an ambiguous prefix), or a row that does not
            fit the study's grid.
    """
    path = Path(study_dir)
    cfg, meta, table = load_study(path)
    wanted = run_id.strip()
    rows: dict[str, dict[str, Any]] = {}
    if len(table) and "run_id" in table.columns:
        rows = {str(r["run_id"]): {str(k): v for k, v in r.items()} for r in table.to_dict("records")}
    if (path / "runs").is_dir():
        rows.update(read_rows(path / "runs"))
    matches = [rid for rid in rows if rid == wanted] or [
        rid for rid in rows if wanted and rid.startswith(wanted)
    ]
    if not matches:
        raise ConfigError([f"--run {clip(run_id)}: no such run in {path} ({len(rows)} run(s) recorded)"])
    if len(matches) > 1:
        raise ConfigError(
            [f"--run {clip(run_id)}: {len(matches)} runs of {path} start with it; give more of the id"]
        )
    rid = matches[0]
    row = rows[rid]
    grid = cfg.study.grid
    points = grid_points(grid)
    try:
        index = int(row["point"])
        seed = int(row["seed"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError([f"{path}: the row of run {rid} has no grid point or seed"]) from None
    if not 0 <= index < len(points):
        raise ConfigError([f"{path}: run {rid} is at grid point {index}, but the study has {len(points)}"])
    hours_value = meta.get("hours")
    hours = float(hours_value) if hours_value is not None else None
    pcfg = point_config(cfg, points[index]).model_copy(update={"seed": seed})
    return StudyRun(
        config=pcfg,
        seed=seed,
        hours=hours,
        run_id=rid,
        point=dict(points[index]),
        id_matches=config_hash(pcfg, seed, hours) == rid,
    )


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 2 (its default status)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must satisfy 0 <= seed < 2**63: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``cascadelab`` and its subcommands.

    Returns:
        The parser.
    """
    parser = _Parser(
        prog="cascadelab",
        description="Agent-based laboratory for crypto leverage and liquidation cascades.",
        epilog="CONFIG is a YAML file or the name of a shipped scenario (see `cascadelab scenarios`).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    set_help = "override a config key, e.g. --set market.venue.taker_fee=4e-4 (repeatable; YAML values)"

    p = sub.add_parser(
        "run", help="run one experiment (or replay one run of a study) and write its run directory"
    )
    p.add_argument(
        "config", metavar="CONFIG", help="YAML config file or scenario name, or a study directory with --run"
    )
    p.add_argument(
        "--run",
        dest="run_id",
        metavar="RUN_ID",
        help="replay this run of the study directory CONFIG (its run_id, or a unique prefix): its config, "
        "seed and hours come from the study",
    )
    p.add_argument("--seed", type=_seed, help="seed of the run (default: the config's seed)")
    p.add_argument("--out", type=Path, help="run directory to write (default: runs/<name>-seed<N>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    p.add_argument("--hours", type=_positive_float, help="simulate only the first H hours of the run")
    p.add_argument("--no-figures", action="store_true", help="skip figures/*.png")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a previous run in --out (only its own files; other files there are kept)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")

    p = sub.add_parser("sweep", help="run a Monte Carlo study: grid x seeds, resumable")
    p.add_argument("config", metavar="CONFIG", help="YAML config file or scenario name")
    p.add_argument("--seeds", type=_positive_int, help="runs per grid point (default: study.seeds)")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="sweep a key over values (repeatable: Cartesian product; merged over study.grid)",
    )
    p.add_argument("--workers", type=_positive_int, help="local worker processes (default: all cores)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask cluster instead")
    p.add_argument("--out", type=Path, required=True, help="study directory (re-run to resume)")
    p.add_argument("--master-seed", type=_seed, help="master seed of the study (default: study.master_seed)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    p.add_argument("--hours", type=_positive_float, help="simulate only the first H hours of every run")
    p.add_argument(
        "--recycle",
        type=_positive_int,
        default=None,
        metavar="N",
        help="replace each local worker after N runs (default: 20)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a study of a different config in --out (the same study resumes without it)",
    )
    p.add_argument(
        "--keep-tables",
        default=None,
        metavar="SPEC",
        help="keep the full tables of chosen runs under OUT/tables/RUN_ID: all, worst:N (largest leader "
        "drawdown) or run ids separated by commas",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    p = sub.add_parser(
        "calibrate",
        help="fit config parameters to target moments (simulated method of moments), resumable",
        description="Fit the targets file's parameters to its moments by the simulated method of moments, "
        "with the same seeds at every evaluation. Writes fit_report.md, path.csv, calibrated.yaml and "
        "calibration.json into --out; re-run the same command to resume.",
    )
    p.add_argument("config", metavar="CONFIG", help="YAML config file or scenario name")
    p.add_argument(
        "--targets",
        required=True,
        metavar="TARGETS.yaml",
        help="parameters, moments, seeds, hours and optimiser options (a file, or a shipped targets name "
        "such as calibrate_baseline)",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="calibration directory (default: calibrations/<name>-<targets>); re-run to resume",
    )
    p.add_argument("--workers", type=_positive_int, help="local worker processes (default: all cores)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask cluster instead")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a calibration of other inputs in --out (the same calibration resumes without it)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    p = sub.add_parser("report", help="re-render the report of a run or study directory")
    p.add_argument("directory", metavar="DIR", type=Path, help="run directory or study directory")

    p = sub.add_parser("compare", help="compare two or more run directories side by side")
    p.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", type=Path, help="run directories (at least two)")
    p.add_argument(
        "--out", type=Path, required=True, help="directory of the comparison (report.md, figures/)"
    )
    p.add_argument("--no-figures", action="store_true", help="skip the overlaid figures")

    p = sub.add_parser(
        "facts",
        help="stylized facts of a run, of several runs pooled, or of a study, against the real market's "
        "ranges",
        description="cascadelab facts RUN_DIR [RUN_DIR ...] | STUDY_DIR: one run's facts; several runs' "
        "each and pooled, with a 90% bootstrap interval (resampling runs); or a study's distribution of "
        "its runs' facts per grid point (median, 5th-95th percentile, share of runs in range).",
    )
    p.add_argument(
        "directories",
        metavar="DIR",
        nargs="+",
        type=Path,
        help="a run directory, several run directories (pooled), or one study directory",
    )
    p.add_argument("--csv", type=Path, default=None, help="also write the table as CSV here")
    p.add_argument(
        "--draws",
        type=_positive_int,
        default=BOOTSTRAP_DRAWS,
        help=f"bootstrap draws of the pooled intervals (default {BOOTSTRAP_DRAWS})",
    )

    p = sub.add_parser("validate", help="check a config (and its grid) without running anything")
    p.add_argument("config", metavar="CONFIG", help="YAML config file or scenario name")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...", help="also check a grid")
    p.add_argument("--print", dest="print_config", action="store_true", help="print the resolved config")

    sub.add_parser("scenarios", help="list the shipped scenarios")
    return parser


def _replay_config(args: argparse.Namespace) -> tuple[ExperimentConfig, float | None]:
    """The config and hours of ``run STUDY_DIR --run RUN_ID`` (``--seed`` and ``--hours`` refused)."""
    if args.seed is not None or args.hours is not None:
        raise ConfigError(["--run: the study gives the run's seed and hours; drop --seed and --hours"])
    replay = study_run(args.config, args.run_id)
    if not replay.id_matches:
        print(
            f"warning: run {replay.run_id} was made by other code or model defaults (its id no longer "
            "matches its config); the replay may differ from the study's row",
            file=sys.stderr,
        )
    cfg = replay.config
    if args.overrides:
        cfg = config_from(cfg, args.overrides)
    return cfg, replay.hours


def _warn_unreached(cfg: ExperimentConfig, hours: float | None) -> None:
    cut = cut_config(cfg, hours)
    end = cut.duration_hours
    for _, shock in cut.unreached_shocks():
        print(
            f"warning: the {shock.kind} shock at hour {shock.at_hour:g} is not reached: the run ends at "
            f"{end:g} h",
            file=sys.stderr,
        )


def _cmd_run(args: argparse.Namespace) -> int:
    hours = args.hours
    if args.run_id is not None:
        cfg, hours = _replay_config(args)
    else:
        if Path(args.config).is_dir() and (Path(args.config) / "study.yaml").is_file():
            raise ConfigError([f"{args.config}: a study directory; name one of its runs with --run RUN_ID"])
        cfg = load_config(args.config, args.overrides)
    seed = cfg.seed if args.seed is None else args.seed
    out = args.out if args.out is not None else Path("runs") / f"{cfg.name}-seed{seed}"
    _warn_unreached(cfg, hours)
    check_out_dir(out, overwrite=args.overwrite)
    check_writable(out)
    try:
        result = run(
            cfg,
            seed=seed,
            out=out,
            progress=not args.quiet,
            hours=hours,
            figures=False if args.no_figures else None,
            overwrite=args.overwrite,
        )
    except RunInterrupted as stop:
        part = stop.result
        end = (hours if hours is not None else cfg.duration_hours) * 3600.0
        print(
            f"interrupted at simulated {format_hms(part.summary.sim_seconds)} of {format_hms(end)}: "
            f"the run so far is written to {part.out} (tables up to then, summary.json marked "
            "interrupted: true, report.md)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(summary_text(result.summary))
    print(f"run directory: {result.out}")
    return EXIT_OK


def _cmd_sweep(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    grid = parse_grid(args.grid)
    problems = check_grid(cfg, {**cfg.study.grid, **grid})
    if problems:
        raise ConfigError(problems)
    check_writable(args.out)
    if args.scheduler:
        check_scheduler(args.scheduler)
    try:
        table = sweep(
            cfg,
            seeds=args.seeds,
            grid=grid,
            workers=args.workers,
            scheduler=args.scheduler,
            out=args.out,
            master_seed=args.master_seed,
            hours=args.hours,
            progress=not args.quiet,
            recycle_after=args.recycle or DEFAULT_RECYCLE,
            overwrite=args.overwrite,
            keep_tables=args.keep_tables,
        )
    finally:  # the study records what made it, even when interrupted (once its directory exists)
        if (args.out / "study.yaml").is_file():
            write_provenance(args.out)
    failed = int((table["status"] != "ok").sum()) if len(table) else 0
    print(f"{len(table)} runs ({len(table) - failed} ok, {failed} failed); study directory: {args.out}")
    if failed:
        errors = table.loc[table["status"] != "ok", "error"].astype(str).value_counts().head(5)
        for error, count in errors.items():
            print(f"  {count} x {error}", file=sys.stderr)
        return EXIT_FAILED_RUNS
    return EXIT_OK


def _default_calibration_dir(cfg: ExperimentConfig, targets: str) -> Path:
    stem = Path(targets).name.removesuffix(".yaml").removesuffix(".yml").removesuffix(".targets")
    return Path("calibrations") / f"{cfg.name}-{stem}"


def _cmd_calibrate(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    load_targets(args.targets)  # a bad targets file is refused before anything else
    out = args.out if args.out is not None else _default_calibration_dir(cfg, args.targets)
    check_writable(out)
    if args.scheduler:
        check_scheduler(args.scheduler)
    try:
        result = calibrate(
            cfg,
            args.targets,
            out,
            workers=args.workers,
            scheduler=args.scheduler,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    except CalibrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(
            f"the finished evaluations are kept in {out}; fix the cause and run the same command",
            file=sys.stderr,
        )
        return EXIT_FAILED_RUNS
    finally:  # the directory records what made it, even when interrupted (once it exists)
        if (out / "calibration_inputs.yaml").is_file():
            write_provenance(out)
    width = max(len(k) for k in result.keys)
    for key in result.keys:
        print(f"{key.ljust(width)}  {result.estimate[key]:.6g}  (s.e. {result.standard_errors[key]:.3g})")
    state = "converged" if result.converged else result.message
    print(
        f"objective {result.objective:.4g} (start {result.start_objective:.4g}); {len(result.path)} "
        f"evaluation(s), {result.runs_simulated} run(s) simulated now; {state}"
    )
    print(f"calibration directory: {out} (fit_report.md, calibrated.yaml)")
    return EXIT_OK


def render_report(directory: str | Path) -> Path:
    """Re-render the report and figures of a run directory or a study directory.

    Args:
        directory: a run directory (``summary.json``) or a study directory (``study.yaml``).

    Returns:
        The path of ``report.md``.

    Raises:
        ConfigError: the directory is neither (or is not readable as one).
    """
    path = Path(directory)
    if not path.is_dir():
        raise ConfigError([f"{path}: no such directory"])
    if (path / "study.yaml").is_file():
        check_run_files(path)
        return rerender_study(path)
    if (path / "summary.json").is_file():
        check_run_files(path)
        return rerender_run(path)
    raise ConfigError([f"{path}: neither a run directory (summary.json) nor a study directory (study.yaml)"])


def _cmd_report(args: argparse.Namespace) -> int:
    print(render_report(args.directory))
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    if len(args.run_dirs) < 2:
        raise ConfigError([f"compare: needs at least two run directories (got {len(args.run_dirs)})"])
    for directory in args.run_dirs:
        if not (directory / "summary.json").is_file():
            raise ConfigError([f"{directory}: not a run directory (no summary.json)"])
        check_run_files(directory)
    check_writable(args.out)
    print(compare_runs(args.run_dirs, args.out, figures=not args.no_figures))
    return EXIT_OK


def _cmd_facts(args: argparse.Namespace) -> int:
    dirs: list[Path] = list(args.directories)
    for directory in dirs:
        if is_study_dir(directory):
            if len(dirs) > 1:
                raise ConfigError([f"{directory}: a study directory; give it alone, or only run directories"])
            if not (directory / "results.parquet").is_file():
                raise ConfigError([f"{directory}: the study has no results.parquet yet (still running?)"])
        elif not (directory / "timeseries.parquet").is_file():
            raise ConfigError(
                [
                    f"{directory}: not a run directory (no timeseries.parquet) nor a study directory "
                    "(study.yaml)"
                ]
            )
        check_run_files(directory)
    table = facts(*dirs, draws=args.draws)
    print(facts_markdown(table), end="")
    if "in_range" in table.columns and "run" in table.columns:
        judged = table[table["run"] == POOLED]
    elif "median" in table.columns:
        judged = table.iloc[0:0]  # a study: the shares are in the table
    else:
        judged = table
    outside = judged[judged["in_range"] == False]  # noqa: E712 (None: no range, not "outside")
    if len(outside):
        pooled = " pooled" if "run" in table.columns else ""
        print(f"{len(outside)}{pooled} fact(s) outside the real market's range (marked ✗)")
    if args.csv is not None:
        table.to_csv(args.csv, index=False)
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    grid = {**cfg.study.grid, **parse_grid(args.grid)}
    problems = check_grid(cfg, grid)
    if problems:
        raise ConfigError(problems)
    if args.print_config:
        print(dump_yaml(resolved_dict(cfg)), end="")
    points = len(grid_points(grid))
    print(
        f"ok: {cfg.name}: {cfg.duration_hours:g} h at dt = {cfg.dt_seconds:g} s, "
        f"{len(cfg.market.symbols)} symbol(s), {len(cfg.market.shocks)} shock(s)"
        + (f"; study: {points} grid point(s) x {cfg.study.seeds} seed(s)" if grid else "")
    )
    return EXIT_OK


def _cmd_scenarios(_args: argparse.Namespace) -> int:
    items = list_scenarios()
    width = max((len(n) for n, _ in items), default=0)
    for name, desc in items:
        print(f"{name.ljust(width)}  {desc}")
    print(f"({CONFIG_DIR})")
    return EXIT_OK


_COMMANDS = {
    "run": _cmd_run,
    "sweep": _cmd_sweep,
    "calibrate": _cmd_calibrate,
    "report": _cmd_report,
    "compare": _cmd_compare,
    "facts": _cmd_facts,
    "validate": _cmd_validate,
    "scenarios": _cmd_scenarios,
}


def _sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cascadelab``.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 ok, 1 some runs of a study failed, 2 user error, 130 interrupted, 141 the
        reader of standard output went away (a closed pipe).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _sigterm)
    except ValueError:  # not the main thread
        previous = None
    try:
        code = _COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe (| head) shows here, not at exit
        return code
    except BrokenPipeError:
        # the reader went away (cascadelab validate X --print | head): stop quietly
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except ConfigError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if args.command == "sweep":
            print(
                "interrupted: finished runs are kept; run the same command again to resume", file=sys.stderr
            )
        elif args.command == "calibrate":
            print(
                "interrupted: finished evaluations and runs are kept; run the same command again to resume",
                file=sys.stderr,
            )
        else:
            print("interrupted: nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
