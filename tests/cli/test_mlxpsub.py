"""`mlxpsub script.sh` end to end with the fake submit commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

from conftest import info, run_dirs, write_app
from fakes.helpers import fake_env, records, wait_for_jobs

PY_DIR = os.path.dirname(sys.executable)

TASK = """
import importlib
print('LR', ctx.config.optimizer.lr, 'SEED', ctx.config.seed, 'UNITS', ctx.config.model.num_units,
      'GREETING', os.environ.get('GREETING'), 'UNBUFFERED', '-u' in sys.orig_argv)
ctx.logger.log_metrics({'seed': ctx.config.seed}, log_name='train')
"""

TUTORIAL = f"""#!/bin/bash
#OAR -l core=1, walltime=6:00:00
#OAR -t besteffort
#OAR -t idempotent
export PATH={PY_DIR}:$PATH
export GREETING="hello world"

python main.py  optimizer.lr=10.,1. seed=1,2
python -u main.py  model.num_units=100,200 seed=1,2
echo after-the-command
"""


def mlxpsub(cwd: Path, *args: str, env: Optional[Dict[str, str]] = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlxp_core.cli.mlxpsub", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def _ids(app: Path) -> list[str]:
    return [str(info(app, i)["submit"]["job_id"]) for i in run_dirs(app)]


def test_tutorial_oar_script_makes_eight_jobs(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    (app / "job.sh").write_text(TUTORIAL)
    env = fake_env(tmp_path)
    proc = mlxpsub(app, "job.sh", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "8 jobs submitted, 0 failed (oar, 2 commands)" in proc.stdout
    assert run_dirs(app) == list(range(1, 9))
    codes = wait_for_jobs(env["FAKE_SCHED_DIR"], _ids(app), timeout=90)
    assert set(codes.values()) == {0}
    points = set()
    for i in run_dirs(app):
        meta = info(app, i)
        assert meta["status"] == "COMPLETE" and meta["scheduler"]["name"] == "oar"
        out = (app / f"logs/{i}/log.stdout").read_text()
        assert "GREETING hello world" in out and out.rstrip().endswith("after-the-command")
        points.add(tuple(meta["overrides"]))
        script = (app / f"logs/{i}/script.sh").read_text()
        assert script.startswith(f"#!/bin/bash\n#OAR -n logs/{i}\n")
        directives = "#OAR -l core=1, walltime=6:00:00\n#OAR -t besteffort\n#OAR -t idempotent\n"
        assert directives in script
        assert script.index("export GREETING") < script.index("cd ") < script.index("main.py")
    assert len(points) == 8
    assert "UNBUFFERED True" in (app / "logs/8/log.stdout").read_text()  # python -u kept
    assert "UNBUFFERED False" in (app / "logs/1/log.stdout").read_text()


def test_head_node_without_the_task_imports(app: Path, tmp_path: Path) -> None:
    write_app(app, "import heavy_module_only_on_nodes as heavy\nprint('HEAVY', heavy.X)")
    modules = tmp_path / "node_modules"
    modules.mkdir()
    (modules / "heavy_module_only_on_nodes.py").write_text("X = 42\n")
    (app / "job.sh").write_text(
        f"#SBATCH --time=10\nexport PATH={PY_DIR}:$PATH\nexport PYTHONPATH={modules}\n"
        "python main.py seed=1,2\n")
    env = fake_env(tmp_path)
    proc = mlxpsub(app, "job.sh", env=env)
    assert proc.returncode == 0, proc.stderr
    wait_for_jobs(env["FAKE_SCHED_DIR"], _ids(app), timeout=60)
    assert "HEAVY 42" in (app / "logs/2/log.stdout").read_text()
    assert info(app, 2)["status"] == "COMPLETE"


def test_launcher_words_are_kept(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    (app / "job.sh").write_text("#SBATCH --time=10\nsrun --ntasks=1 python main.py seed=1,2\n")
    proc = mlxpsub(app, "job.sh", env=fake_env(tmp_path, norun="1"))
    assert proc.returncode == 0, proc.stderr
    script = (app / "logs/1/script.sh").read_text()
    assert "\nsrun --ntasks=1 python main.py seed=1 " in script
    assert "#SBATCH --time=10" in script


def test_cd_in_the_script_decides_the_directory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_app(project, TASK)
    (tmp_path / "job.sh").write_text(
        f"#SBATCH --time=5\nexport PATH={PY_DIR}:$PATH\ncd project\npython main.py seed=3\n")
    env = fake_env(tmp_path)
    proc = mlxpsub(tmp_path, "job.sh", env=env)
    assert proc.returncode == 0, proc.stderr
    assert run_dirs(project) == [1]
    assert f"\ncd {project}\n" in (project / "logs/1/script.sh").read_text()
    wait_for_jobs(env["FAKE_SCHED_DIR"], _ids(project), timeout=60)
    assert info(project, 1)["status"] == "COMPLETE"


def test_dry_run(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    (app / "job.sh").write_text(TUTORIAL)
    env = fake_env(tmp_path)
    proc = mlxpsub(app, "--dry-run", "job.sh", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "8 jobs rendered" in proc.stdout
    assert {info(app, i)["status"] for i in run_dirs(app)} == {"DRY_RUN"}
    assert records(env["FAKE_SCHED_DIR"]) == []


def test_a_rejected_job_fails_the_command_and_the_others_go(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    (app / "job.sh").write_text(f"#SBATCH --time=5\nexport PATH={PY_DIR}:$PATH\n"
                                "python main.py seed=1,2,3\n")
    env = fake_env(tmp_path, reject="seed=2")
    proc = mlxpsub(app, "job.sh", env=env)
    assert proc.returncode != 0
    assert "2 jobs submitted, 1 failed" in proc.stdout
    assert sorted(info(app, i)["status"] for i in run_dirs(app)) == [
        "SUBMITTED", "SUBMITTED", "SUBMIT_FAILED"] or len(records(env["FAKE_SCHED_DIR"])) == 2


def _fails(cwd: Path, text: str, expect: list[str], env: Optional[Dict[str, str]] = None) -> None:
    (cwd / "job.sh").write_text(text)
    proc = mlxpsub(cwd, "job.sh", env=env)
    assert proc.returncode != 0
    for item in expect:
        assert item in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert run_dirs(cwd) == []


def test_bad_scripts(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path)
    _fails(app, "#!/bin/bash\npython main.py\n", ["no scheduler directive", "#SBATCH", "#OAR"],
           env)
    _fails(app, "#SBATCH -t 5\n#OAR -l core=1\npython main.py\n", ["#SBATCH", "#OAR"], env)
    _fails(app, "#SBATCH -t 5\nmodule load python/3.10\necho hi\n", ["no python command"], env)
    nofakes = {**os.environ, "PATH": f"{PY_DIR}:/usr/bin:/bin"}
    _fails(app, "#BSUB -W 10\npython main.py seed=1,2\n", ["'bsub' not found on PATH"], nofakes)
    proc = mlxpsub(app, "missing.sh", env=env)
    assert proc.returncode != 0 and "missing.sh" in proc.stderr
