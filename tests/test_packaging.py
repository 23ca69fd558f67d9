"""What a new user who cloned only the repository meets: extras, tasks, the README's links, the licence."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_a_notebook_extra_installs_jupyterlab_and_tasks_opens_it() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    extras = project["optional-dependencies"]
    assert any(req.startswith("jupyterlab") for req in extras["notebook"])
    tasks = (ROOT / "tasks.py").read_text(encoding="utf-8")
    assert 'job == "notebook"' in tasks and 'ensure_env("notebook")' in tasks
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 tasks.py notebook" in readme


def test_the_licence_is_an_spdx_string_with_a_setuptools_that_reads_it() -> None:
    data = _pyproject()
    project = data["project"]
    assert isinstance(project, dict) and project["license"] == "MIT"  # a table is deprecated (warning)
    build = data["build-system"]
    assert isinstance(build, dict)
    (setuptools,) = [r for r in build["requires"] if r.startswith("setuptools")]
    assert int(re.search(r">=\s*(\d+)", setuptools).group(1)) >= 77  # type: ignore[union-attr]


def test_every_link_of_the_readme_is_inside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "DESIGN.md" not in readme and "MARKET_FACTS.md" not in readme and "../" not in readme
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in target:
            assert (ROOT / target).exists(), target
    assert "docs/model.md" in readme


def test_the_model_page_covers_the_mechanics() -> None:
    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8").lower()
    for topic in (
        "order book",
        "ledger",
        "margin",
        "waterfall",
        "adl",
        "overshoot",
        "preset",
        "agents",
        "drivers",
        "emerges",
        "adl_overshoot.md",
    ):
        assert topic in text, topic
