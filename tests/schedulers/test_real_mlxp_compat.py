"""MLXP's batch scripts on the REAL SLURM, Grid Engine and OAR of this machine.

A python line that is not an mlxp app (MLXP's tutorial ends with ``python read.py``) is never
run by ``mlxpsub`` on the head node: it is one job that the scheduler starts after the app's
jobs have ended (a scheduler dependency). Jobs are followed with the schedulers' own commands.
Start the schedulers with ``bash scripts/schedulers/start-all.sh``; under
MLXP_REQUIRE_SCHEDULERS=1 a scheduler that is down fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator, List, Tuple

import pytest
from realsched import oarenv
from realsched.apps import (
    describe,
    run_mlxpsub,
    submitted_ids,
    wait_ended,
    write_batch_script,
    write_train_app,
)
from realsched.schedulers import cancel, look, require, wait_done

ROOT_PYTHON_DIR = os.path.dirname(sys.executable)

# not an mlxp app: reads the runs when it runs, and says so in its output
READ = """
import pathlib, yaml
runs = sorted(pathlib.Path('logs').glob('[0-9]*/metadata/info.yaml'))
statuses = [yaml.safe_load(p.read_text())['status'] for p in runs]
pathlib.Path('read_ran').write_text('yes')
print('READ', len(statuses), ' '.join(statuses), flush=True)
"""

Site = Tuple[str, Path, str, Callable[[], "subprocess.CompletedProcess[str]"]]


def _param(name: str) -> object:
    return pytest.param(name, marks=[pytest.mark.scheduler(name)], id=name)


@pytest.fixture
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    name: str = request.param
    require(name)
    if name == "oar":
        oarenv.ensure_venv()
        app = oarenv.user_dir()

        def submit() -> subprocess.CompletedProcess[str]:
            oarenv.give_to(app)
            return oarenv.run_as_user([str(oarenv.VENV / "bin" / "mlxpsub"), "job.sh"],
                                      cwd=app, env=oarenv.user_env())
        yield name, app, str(oarenv.VENV / "bin"), submit
        shutil.rmtree(app, ignore_errors=True)
        return
    app = tmp_path / "project"
    app.mkdir()
    yield name, app, ROOT_PYTHON_DIR, lambda: run_mlxpsub(app)


@pytest.mark.parametrize("site", [_param("slurm"), _param("sge"), _param("oar")],
                         indirect=True)
def test_a_non_app_python_line_is_a_job_after_the_others(site: Site) -> None:
    name, app, python_dir, submit = site
    write_train_app(app)
    (app / "read.py").write_text(READ)
    write_batch_script(app, name, python_dir,
                       ["python main.py seed=1,2 +mlxp.interactive_mode=False", "sleep 1",
                        "python read.py"])
    proc = submit()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 jobs submitted, 0 failed" in proc.stdout, proc.stdout
    # mlxpsub did not run it here: the scheduler holds it until the others have ended
    assert not (app / "read_ran").exists()
    found = re.search(r"after the others: (\S+\.sh) job (\S+)", proc.stdout)
    assert found, proc.stdout
    script, read_id = Path(found.group(1)), found.group(2)
    ids: List[str] = list(submitted_ids(app).values())
    cleanup = [*ids, read_id]
    try:
        text = script.read_text()
        assert "python read.py" in text and "main.py" not in text
        ends = wait_done(name, [*ids, read_id], timeout=240)
    finally:
        for job_id in cleanup:
            if not look(name, job_id)[0]:
                cancel(name, job_id)
    for run_dir in submitted_ids(app):
        assert wait_ended(run_dir)["status"] == "COMPLETE", describe(run_dir)
    out = Path(str(script)[: -len(".sh")] + ".stdout").read_text()
    # when it ran, both runs had ended
    assert "READ 2 COMPLETE COMPLETE" in out, (out, ends)


def _git(app: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
                   cwd=app, check=True, capture_output=True)


@pytest.mark.parametrize("site", [_param("slurm"), _param("sge")], indirect=True)
def test_queued_jobs_run_the_code_as_submitted(site: Site) -> None:
    """use_version_manager: a job runs the snapshot taken at submission (commit + uncommitted
    changes), whatever is edited in the working tree after `mlxpsub` returns."""
    from conftest import write_app

    name, app, python_dir, submit = site
    write_app(app, "import helper\nprint('VERSION', helper.VERSION, flush=True)")
    (app / ".gitignore").write_text("logs/\n.work_dir/\njob.sh\n")
    (app / "helper.py").write_text("VERSION = 'committed'\n")
    _git(app, "init", "-q")
    _git(app, "add", "-A")
    _git(app, "commit", "-q", "-m", "v1")
    (app / "helper.py").write_text("VERSION = 'submitted'\n")  # uncommitted, part of it
    write_batch_script(app, name, python_dir, [
        "python main.py seed=1 +mlxp.use_version_manager=true +mlxp.interactive_mode=false"])
    proc = submit()
    (app / "helper.py").write_text("VERSION = 'edited-after-submission'\n")
    (app / "main.py").write_text("raise SystemExit('the working copy ran')\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ((run_dir, job_id),) = submitted_ids(app).items()
    try:
        wait_done(name, [job_id], timeout=180)
    finally:
        if not look(name, job_id)[0]:
            cancel(name, job_id)
    meta = wait_ended(run_dir)
    assert meta["status"] == "COMPLETE", describe(run_dir)
    assert "VERSION submitted" in (run_dir / "log.stdout").read_text(), describe(run_dir)
    vm = meta["version_manager"]
    snapshot = Path(vm["snapshot"])
    assert vm["dirty"] is True and vm["changed_files"] == ["helper.py"]
    assert len(vm["commit"]) == 40 and len(vm["diff_sha256"]) == 64
    assert snapshot.parent == app / ".work_dir" / app.name
    assert (snapshot / "helper.py").read_text() == "VERSION = 'submitted'\n"
    assert vm["requirements"]["hydra-core"]
