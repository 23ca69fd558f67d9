"""Write the golden outputs anew: ``python -m tests.golden.regenerate [CASE ...]``.

Only on purpose: a commit that regenerates them says which outputs moved and why.
"""

from __future__ import annotations

import json
import sys

import experiments
from tests.golden.cases import CASES, TABLES, WALL_CLOCK_KEYS, golden_dir


def main(names: list[str]) -> None:
    for name in names or list(CASES):
        case = CASES[name]
        result = experiments.run(
            case.scenario, seed=case.seed, hours=case.hours, overrides=list(case.overrides), figures=False
        )
        out = golden_dir() / name
        out.mkdir(parents=True, exist_ok=True)
        summary = {k: v for k, v in result.summary.to_json_dict().items() if k not in WALL_CLOCK_KEYS}
        (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
        for table in TABLES:
            getattr(result, table).to_parquet(out / f"{table}.parquet", index=False)
        print(f"{name}: written to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
