"""Reading the schedulers' listing and accounting outputs (captured from the real SLURM 22.05,
Grid Engine 8.1.9 and OAR 2.5.9 of this machine), and the array limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.helpers import fake_env

from mlxp_core.schedulers import get_scheduler
from mlxp_core.schedulers.commands import (
    ENDED,
    PENDING,
    RUNNING,
    array_limit,
    expand_tasks,
    megabytes,
    parse_jobs,
    seconds,
)
from mlxp_core.submit.arrays import chunks

# squeue -h -r -t all -u root -o '%i|%T|%r|%N|%M|%l|%m|%C|%b' (real, plus an array and OOM)
SQUEUE = """\
7|CANCELLED|None|vm|0:01|3:00|0|1|N/A
1|COMPLETED|None|vm|0:00|365-00:00:00|0|1|N/A
6|FAILED|NonZeroExitCode|vm|0:01|3:00|0|1|N/A
19|TIMEOUT|TimeLimit|vm|1:09|1:00|0|1|N/A
20_0|RUNNING|None|vm|0:12|5:00|4G|1|gres:gpu:2
20_1|PENDING|Resources||0:00|5:00|4G|1|N/A
21|OUT_OF_MEMORY|OutOfMemory|vm|0:03|5:00|100M|1|N/A
"""

# sacct -n -P -o JobID,State,ExitCode,Elapsed,TotalCPU,MaxRSS,ReqMem,Timelimit,AllocTRES,NodeList
SACCT = """\
30_0|COMPLETED|0:0|00:00:05|00:01.500||4G|00:05:00|billing=1,cpu=1,gres/gpu=1,mem=4G,node=1|vm
30_0.batch|COMPLETED|0:0|00:00:05|00:01.500|2048K||||vm
30_[1-3%2]|PENDING|0:0|00:00:00|00:00:00||4G|00:05:00||None assigned
31|CANCELLED by 0|0:15|00:00:30|00:00:00||100M|00:01:00|cpu=1,mem=100M,node=1|vm
32|NODE_FAIL|0:0|01:00:00|00:00:00||100M|1-00:00:00|cpu=1,mem=100M,node=1|vm
"""

QSTAT_XML = """<?xml version='1.0'?>
<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">
  <queue_info>
    <job_list state="running">
      <JB_job_number>13</JB_job_number>
      <JAT_prio>0.50000</JAT_prio>
      <JB_name>j.sh</JB_name>
      <JB_owner>root</JB_owner>
      <state>r</state>
      <JAT_start_time>2026-12-07T09:33:40</JAT_start_time>
      <queue_name>all.q@localhost</queue_name>
      <slots>1</slots>
      <tasks>1</tasks>
    </job_list>
  </queue_info>
  <job_info>
    <job_list state="pending">
      <JB_job_number>13</JB_job_number>
      <JAT_prio>0.50000</JAT_prio>
      <JB_name>j.sh</JB_name>
      <JB_owner>root</JB_owner>
      <state>qw</state>
      <JB_submission_time>2026-12-07T09:33:40</JB_submission_time>
      <queue_name></queue_name>
      <slots>1</slots>
      <tasks>2-4:1</tasks>
    </job_list>
    <job_list state="pending">
      <JB_job_number>14</JB_job_number>
      <JAT_prio>0.50000</JAT_prio>
      <JB_name>sleep</JB_name>
      <JB_owner>root</JB_owner>
      <state>qw</state>
      <JB_submission_time>2026-12-07T09:33:40</JB_submission_time>
      <queue_name></queue_name>
      <slots>1</slots>
    </job_list>
  </job_info>
</job_info>
"""

QACCT = """\
==============================================================
qname        all.q
hostname     localhost
jobnumber    20
taskid       undefined
failed       0
exit_status  1
ru_wallclock 1s
ru_maxrss    30.184KB
cpu          0.299s
category     -l h_rt=20,h_vmem=1G
==============================================================
qname        all.q
hostname     localhost
jobnumber    22
taskid       3
failed       37  : qmaster enforced h_rt limit
exit_status  137
ru_wallclock 13s
ru_maxrss    30.184KB
cpu          0.100s
category     -l h_rt=12
==============================================================
qname        all.q
hostname     localhost
jobnumber    23
taskid       undefined
failed       0
exit_status  0
ru_wallclock 2s
ru_maxrss    30.184KB
cpu          0.100s
category     NONE
"""

OARSTAT = {
    "21": {"state": "Error", "array_index": 1, "array_id": 21, "Job_Id": 21, "exit_code": None,
           "startTime": 1796636038, "stopTime": 1796636050, "walltime": 5,
           "assigned_network_address": ["localhost"],
           "events": [{"type": "FRAG_JOB_REQUEST"}, {"type": "WALLTIME"},
                      {"type": "SEND_KILL_JOB"}, {"type": "SWITCH_INTO_ERROR_STATE"}]},
    "24": {"state": "Error", "array_index": 2, "array_id": 23, "Job_Id": 24, "exit_code": None,
           "startTime": 1796636038, "stopTime": 1796636040, "walltime": 180,
           "assigned_network_address": ["localhost"],
           "events": [{"type": "FRAG_JOB_REQUEST"}, {"type": "SEND_KILL_JOB"}]},
    "25": {"state": "Terminated", "array_index": 1, "array_id": 25, "Job_Id": 25,
           "exit_code": 768, "startTime": 1796636038, "stopTime": 1796636041, "walltime": 180,
           "assigned_network_address": ["localhost"], "events": []},
    "26": {"state": "Terminated", "array_index": 1, "array_id": 26, "Job_Id": 26,
           "exit_code": 0, "startTime": 1796636038, "stopTime": 1796636041, "walltime": 180,
           "assigned_network_address": ["localhost"], "events": []},
}


def _by_own(name: str, table: str, text: str) -> dict:
    scheduler = get_scheduler(name)
    return {s.own_id: s for s in parse_jobs(scheduler, getattr(scheduler, table), text)}


def test_slurm_listing_and_accounting() -> None:
    jobs = _by_own("slurm", "list_table", SQUEUE)
    assert {k: (j.phase, j.reason) for k, j in jobs.items()} == {
        "7": (ENDED, "CANCELLED"), "1": (ENDED, "COMPLETED"), "6": (ENDED, "FAILED"),
        "19": (ENDED, "TIMEOUT"), "20_0": (RUNNING, "None"), "20_1": (PENDING, "Resources"),
        "21": (ENDED, "OUT_OF_MEMORY")}
    running = jobs["20_0"]
    assert (running.job_id, running.task, running.node, running.elapsed_s) == ("20", "0", "vm",
                                                                             12.0)
    assert (running.req_mem_mb, running.gpus, running.time_limit_s) == (4096.0, 2, 300.0)
    assert jobs["1"].time_limit_s == 365 * 86400
    acct = _by_own("slurm", "acct_table", SACCT)
    assert sorted(acct) == ["30_0", "30_1", "30_2", "30_3", "31", "32"]  # steps folded
    done = acct["30_0"]
    assert (done.max_rss_mb, done.cpu_s, done.gpus, done.exit_code) == (2.0, 1.5, 1, "0:0")
    assert acct["31"].reason == "CANCELLED" and acct["32"].reason == "NODE_FAIL"
    assert acct["32"].time_limit_s == 86400 and acct["30_2"].phase == PENDING


def test_sge_listing_and_accounting() -> None:
    jobs = _by_own("sge", "list_table", QSTAT_XML)
    assert {k: (j.phase, j.node) for k, j in jobs.items()} == {
        "13.1": (RUNNING, "all.q@localhost"), "13.2": (PENDING, None),
        "13.3": (PENDING, None), "13.4": (PENDING, None), "14": (PENDING, None)}
    acct = _by_own("sge", "acct_table", QACCT)
    assert acct["20"].reason == "FAILED" and acct["20"].req_mem_mb == 1024.0
    assert acct["20"].time_limit_s == 20 and acct["20"].max_rss_mb == pytest.approx(0.029, 0.01)
    assert (acct["22.3"].reason, acct["22.3"].task, acct["22.3"].elapsed_s) == ("TIMEOUT", "3",
                                                                               13.0)
    assert acct["23"].reason == "COMPLETED" and acct["23"].cpu_s == 0.1


def test_oar_accounting_reads_walltime_and_deletion() -> None:
    acct = _by_own("oar", "acct_table", json.dumps(OARSTAT))
    assert {k: j.reason for k, j in acct.items()} == {
        "21": "TIMEOUT", "24": "CANCELLED", "25": "FAILED", "26": "COMPLETED"}
    assert acct["24"].key == ("23", "2") and acct["21"].elapsed_s == 12.0
    assert acct["21"].time_limit_s == 5.0 and acct["21"].node == "localhost"


@pytest.mark.parametrize("text,expected", [
    ("1:09", 69.0), ("01:00:00", 3600.0), ("1-00:00:00", 86400.0), ("00:01.500", 1.5),
    ("13s", 13.0), ("0.299s", 0.299), ("12 second(s)", 12.0), ("UNLIMITED", None), ("", None)])
def test_seconds(text: str, expected: object) -> None:
    assert seconds(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("4G", 4096.0), ("100M", 100.0), ("2048K", 2.0), ("4.824MB", 4.824), ("4Gn", 4096.0),
    ("0", None), ("", None)])
def test_megabytes(text: str, expected: object) -> None:
    assert megabytes(text) == expected


def test_task_ranges() -> None:
    assert expand_tasks("2-8:3") == ["2", "5", "8"]
    assert expand_tasks("[1-3%2]") == ["1", "2", "3"]
    assert expand_tasks("undefined") == [None]
    assert [list(c) for c in chunks(list(range(5)), 2)] == [[0, 1], [2, 3], [4]]
    assert chunks([1, 2], None) == [[1, 2]] and chunks([], 3) == []


def test_array_limits_from_the_cluster_configuration(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    env = fake_env(tmp_path, max_array_size="1001", max_aj_tasks="0")
    for key in ("PATH", "FAKE_SCHED_DIR", "FAKE_SCHED_MAX_ARRAY_SIZE", "FAKE_SCHED_MAX_AJ_TASKS"):
        monkeypatch.setenv(key, env[key])
    assert array_limit(get_scheduler("slurm")) == 1001  # indexes 0..1000
    assert array_limit(get_scheduler("sge")) is None  # 0: no limit
    monkeypatch.setenv("FAKE_SCHED_MAX_AJ_TASKS", "75000")
    assert array_limit(get_scheduler("sge")) == 75000
    assert array_limit(get_scheduler("oar")) is None  # nothing to read
