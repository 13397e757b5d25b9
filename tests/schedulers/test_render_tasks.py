"""Several tasks per job and walltime warnings, rendered for every scheduler (no scheduler
needed): tasks_per_node, cpus_per_task, gpus_per_task, signal_before_walltime_s, the task
launcher, the script that forwards the warning, `#MLXP` lines of mlxpsub scripts."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Dict

import pytest

from mlxp_core.cli.batchscript import BatchScriptError, parse_batch_script
from mlxp_core.schedulers import get_scheduler, parse_resources
from mlxp_core.schedulers.base import JobSpecError
from mlxp_core.schedulers.render import JobSpec, render_local_script, render_script

RES: Dict[str, Any] = {"nodes": 2, "tasks_per_node": 4, "cpus_per_task": 2,
                       "gpus_per_task": 1, "time": "01:00:00", "signal_before_walltime_s": 120}

EXPECTED = {
    "slurm": ["--nodes=2", "--cpus-per-task=2", "--time=01:00:00", "--ntasks-per-node=4",
              "--gpus-per-task=1", "--signal=B:USR1@120"],
    "oar": ["-l /nodes=2/gpu=4/core=2,walltime=01:00:00", "--checkpoint 120", "-t idempotent"],
    "torque": ["-l nodes=2:ppn=8:gpus=4", "-l walltime=01:00:00"],
    "mwm": ["-l nodes=2:ppn=8:gpus=4,walltime=01:00:00,signal=SIGUSR1@120"],
    "lsf": ["-n 8", '-R "span[ptile=4]"', '-R "affinity[core(2)]"', '-gpu "num=4"', "-W 1:00",
            "-wa USR1", "-wt 0:02", '-Q "99"'],
}


def _job(**resources: Any) -> JobSpec:
    return JobSpec(job_name="logs/1", stdout="/w/logs/1/log.stdout",
                   stderr="/w/logs/1/log.stderr", workdir="/w", command=["python", "main.py"],
                   resources=resources, env={"MLXP_RUN_DIR": "/w/logs/1"})


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tasks_and_warning_rendered(name: str) -> None:
    sched = get_scheduler(name)
    assert sched.resource_lines(parse_resources(RES)) == EXPECTED[name]


def test_sge_renders_slots_and_the_soft_limit() -> None:
    res = {"tasks_per_node": 2, "cpus_per_task": 3, "mem": "12G", "time": "00:10:00",
           "signal_before_walltime_s": 60}
    assert get_scheduler("sge").resource_lines(parse_resources(res)) == [
        "-pe smp 6", "-l h_vmem=2G", "-l h_rt=00:10:00", "-l s_rt=00:09:00"]


@pytest.mark.parametrize("name, field", [("sge", "signal_before_walltime_s"),
                                         ("torque", "signal_before_walltime_s")])
def test_warning_without_walltime_is_an_error_naming_the_field(name: str, field: str) -> None:
    with pytest.raises(JobSpecError, match=f"cannot express resource '{field}'.*'time'"):
        render_script(get_scheduler(name), _job(signal_before_walltime_s=60))


@pytest.mark.parametrize("resources, message", [
    ({"tasks_per_node": 0}, "resource 'tasks_per_node': expected a positive integer, got 0"),
    ({"gpus_per_task": -1}, "resource 'gpus_per_task': expected a positive integer"),
    ({"gpus": 1, "gpus_per_task": 1}, r"'gpus' \(per job\) and 'gpus_per_task' both given"),
    ({"cpus": 1, "cpus_per_task": 2}, r"resource 'cpus' given twice \(as 'cpus_per_task'"),
    ({"time": "00:01:00", "signal_before_walltime_s": 60},
     "'signal_before_walltime_s' \\(60 s\\) must be shorter than the walltime"),
])
def test_impossible_requests_name_the_field(resources: Dict[str, Any], message: str) -> None:
    with pytest.raises(JobSpecError, match=message):
        parse_resources(resources)


def test_oar_cores_must_split_over_gpus() -> None:
    with pytest.raises(JobSpecError, match="multiple of its GPUs"):
        get_scheduler("oar").resource_lines(parse_resources(
            {"tasks_per_node": 2, "cpus_per_task": 1, "gpus_per_task": 3}))


def test_existing_fields_render_as_before() -> None:
    """Without the new fields nothing changes (the golden scripts stay as they are)."""
    res = parse_resources({"nodes": 1, "cpus": 4, "gpus": 2, "mem": "8G"})
    assert get_scheduler("slurm").resource_lines(res) == [
        "--nodes=1", "--cpus-per-task=4", "--gpus=2", "--mem=8G"]
    assert get_scheduler("sge").resource_lines(res) == ["-pe smp 4", "-l gpu=2", "-l h_vmem=2G"]


def test_forwarding_script_passes_the_warning_on_and_exits_99_on_request(tmp_path: Path
                                                                        ) -> None:
    """The rendered body, run by bash: USR1 sent to the SHELL reaches the command, and the
    requeue marker turns the command's status into 99."""
    run_dir = tmp_path / "logs" / "1"
    (run_dir / "metadata").mkdir(parents=True)
    child = tmp_path / "child.sh"
    child.write_text(f"trap 'echo GOT-USR1; touch {run_dir}/metadata/.requeue; exit 7' USR1\n"
                     "echo READY; while :; do sleep 0.1; done\n")
    job = JobSpec(job_name="x", stdout="/x/o", stderr="/x/e", workdir=str(tmp_path),
                  command=["bash", str(child)], env={"MLXP_RUN_DIR": str(run_dir)},
                  forward_signal="USR1", requeue_exit=99)
    script = tmp_path / "script.sh"
    script.write_text(render_local_script(job))
    proc = subprocess.Popen(["bash", str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "READY"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGUSR1)
    assert proc.wait(timeout=10) == 99
    assert "GOT-USR1" in proc.stdout.read()
    assert not (run_dir / "metadata" / ".requeue").exists()  # consumed


def test_mlxp_lines_of_a_batch_script() -> None:
    script = parse_batch_script("#!/bin/bash\n#SBATCH --time=00:10:00\n"
                                "#MLXP signal_before_walltime_s=60 max_requeues=2\n"
                                "srun python main.py seed=1\n", "job.sh")
    assert script.options == {"signal_before_walltime_s": "60", "max_requeues": "2"}
    assert script.commands[0].launcher == ["srun"]
    before, _ = script.template_for(0)
    assert not any("#MLXP" in line for line in before)  # not copied into the job script
    with pytest.raises(BatchScriptError, match=r"job.sh:3: 'walltime=1' is not an mlxp "
                                               r"directive.*signal_before_walltime_s"):
        parse_batch_script("#!/bin/bash\n#SBATCH -t 1\n#MLXP walltime=1\npython main.py\n",
                           "job.sh")
