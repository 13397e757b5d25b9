"""mlxp-core installed the ways researchers install it, in fresh virtual environments:
`pip install -e .` (setuptools' default editable mode, whose import finder hides packages from
Hydra's plugin scan unless declared right) and `pip install .`. In each: an `@mlxp.launch`
sweep, a plain `@hydra.main` app with `hydra/launcher=mlxp_local`, and one rendering
`hydra/launcher=mlxp_slurm` scripts. Also: the decorator puts our plugins on Hydra's scan path
itself when something hides them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("mlxp", "mlxp_core", "hydra_plugins", "pyproject.toml", "README.md")

DECORATED = """\
import mlxp

@mlxp.launch(config_path="configs")
def train(ctx):
    ctx.logger.log_metrics({"x": ctx.config.x}, log_name="train")

if __name__ == "__main__":
    train()
"""

PLAIN = """\
import hydra

@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg):
    print("TASK", cfg.x)

if __name__ == "__main__":
    main()
"""


def _copy_sources(dest: Path) -> Path:
    dest.mkdir()
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def _venv(tmp: Path, editable: bool) -> Path:
    """A fresh venv (no system site-packages) with mlxp-core installed from a source copy."""
    source = _copy_sources(tmp / "src")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    target = ["-e", str(source)] if editable else [str(source)]
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", *target],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return python


def _apps(root: Path) -> Path:
    (root / "configs").mkdir(parents=True)
    (root / "configs" / "config.yaml").write_text("x: 1\n")
    (root / "main.py").write_text(DECORATED)
    (root / "conf").mkdir()
    (root / "conf" / "config.yaml").write_text(
        "defaults:\n  - /hydra/callbacks: [mlxp]\n  - _self_\nx: 1\n")
    (root / "plain.py").write_text(PLAIN)
    return root


def _run(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYDRA_FULL_ERROR")}
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _status(root: Path, log_id: int) -> str:
    info = yaml.safe_load((root / "logs" / str(log_id) / "metadata" / "info.yaml").read_text())
    return str(info["status"])


@pytest.mark.parametrize("editable", [True, False], ids=["pip-install-e", "pip-install"])
def test_install_mode(tmp_path: Path, editable: bool) -> None:
    python = _venv(tmp_path, editable)
    where = _run(python, tmp_path, "-c", "import mlxp_core; print(mlxp_core.__file__)")
    assert where.returncode == 0, where.stderr
    # the installed copy is the one in use, never the checkout this test runs from
    assert str(tmp_path) in where.stdout and str(REPO) not in where.stdout
    app = _apps(tmp_path / "app")

    sweep = _run(python, app, "main.py", "x=1,2")
    assert sweep.returncode == 0, sweep.stderr
    assert [_status(app, i) for i in (1, 2)] == ["COMPLETE", "COMPLETE"]
    assert f"mlxp: run 2 COMPLETE: {app / 'logs' / '2'}" in sweep.stdout

    local = _run(python, app, "plain.py", "-m", "x=3,4", "hydra/launcher=mlxp_local")
    assert local.returncode == 0, local.stderr
    assert [_status(app, i) for i in (3, 4)] == ["COMPLETE", "COMPLETE"]
    assert "TASK 4" in (app / "logs" / "4" / "log.stdout").read_text()

    slurm = _run(python, app, "plain.py", "-m", "x=5", "hydra/launcher=mlxp_slurm",
                 "hydra.launcher.dry_run=true")
    assert slurm.returncode == 0, slurm.stderr
    assert "#SBATCH" in (app / "logs" / "5" / "script.sh").read_text()


def test_the_decorator_makes_hidden_plugins_visible(tmp_path: Path) -> None:
    """Our plugin package importable but not on `hydra_plugins.__path__` (what a finder that
    maps only the subpackage gives): the decorated app still finds `hydra/sweeper=mlxp`."""
    app = _apps(tmp_path / "app")
    (app / "main.py").write_text(textwrap.dedent("""\
        import hydra_plugins
        import hydra_plugins.mlxp_launcher
        hydra_plugins.__path__ = []  # Hydra's scan now sees no plugin of ours
        """) + DECORATED)
    proc = subprocess.run([sys.executable, "main.py", "x=1,2"], cwd=app, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert [_status(app, i) for i in (1, 2)] == ["COMPLETE", "COMPLETE"]
