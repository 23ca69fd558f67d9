#!/usr/bin/env python3
"""Set up a local virtual environment and run the project's jobs. Needs only Python >= 3.11.

    python3 tasks.py run    # install into .venv, then run the whale_dump scenario into runs/whale_dump
    python3 tasks.py test   # install into .venv (with dev and cluster extras), then run the test suite
    python3 tasks.py notebook  # install into .venv (notebook extra: JupyterLab), then open notebooks/

Extra arguments after the job name go to the underlying command, e.g. ``python3 tasks.py test -m slow``.
The virtual environment is reused when ``pyproject.toml`` has not changed since it was built.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _venv_python(env_dir: Path) -> Path:
    sub = "Scripts" if os.name == "nt" else "bin"
    return env_dir / sub / ("python.exe" if os.name == "nt" else "python")


def ensure_env(extras: str, env_dir: Path = ROOT / ".venv", python: str | None = None) -> Path:
    """Create ``env_dir`` and install the project with ``extras`` unless that is already done.

    A stamp file records the hash of ``pyproject.toml`` and the extras installed; an environment with
    more extras than asked for is reused as it is.
    """
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    wanted = {e for e in extras.split(",") if e}
    stamp = env_dir / ".cascadelab-stamp"
    py = _venv_python(env_dir)
    if py.exists() and stamp.exists():
        lines = stamp.read_text().split("\n")
        installed = {e for e in lines[1].split(",") if e} if len(lines) > 1 else set()
        if lines[0] == digest and wanted <= installed:
            return py
    if not py.exists():
        if python is None:
            venv.EnvBuilder(with_pip=True).create(env_dir)
        else:
            subprocess.run([python, "-m", "venv", str(env_dir)], check=True)
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-U", "pip"], check=True)
    subprocess.run([*pip, "-e", f".[{','.join(sorted(wanted))}]" if wanted else "."], check=True, cwd=ROOT)
    stamp.write_text(digest + "\n" + ",".join(sorted(wanted)))
    return py


def main(argv: list[str]) -> int:
    job = argv[0] if argv else "help"
    rest = argv[1:]
    if job == "run":
        py = ensure_env("")
        cmd = [str(py), "-m", "experiments.cli", "run", "whale_dump", "--out", "runs/whale_dump"]
        return subprocess.call([*cmd, *rest], cwd=ROOT)
    if job == "test":
        py = ensure_env("dev,cluster")
        workers = [] if any(arg.startswith("-n") for arg in rest) else ["-n", "2"]  # 2 cores: 2 workers
        return subprocess.call([str(py), "-m", "pytest", *workers, *rest], cwd=ROOT)
    if job == "notebook":
        py = ensure_env("notebook")
        return subprocess.call([str(py), "-m", "jupyter", "lab", "notebooks", *rest], cwd=ROOT)
    print(__doc__)
    return 0 if job == "help" else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
