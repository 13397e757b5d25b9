"""MLXP 1.0.5's own test suite (tests/mlxp_upstream, vendored unmodified) against this package.

The suite is copied to a temporary directory and run as MLXP's CI runs it (``cd tests &&
python -m pytest``) in a subprocess, with ``import mlxp`` resolving to this package, our
``mlxpsub`` on PATH, and a stand-in ``oarsub``: the fake OAR command of tests/fakes (it checks
the script and its ``#OAR`` directives as OAR does and prints ``OAR_JOB_ID=<n>``); its jobs are
queued, not run (``FAKE_SCHED_NORUN=1``), as on a busy cluster. Each upstream test is one case
here, failing with that test's own report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
UPSTREAM = HERE.parent / "mlxp_upstream"
FAKES = HERE.parent / "fakes" / "bin"

# The 11 tests of MLXP 1.0.5 (pytest ids as run from tests/, the way its CI runs them).
UPSTREAM_TESTS = [
    "test_logger.py::test_Logger",
    "test_logger.py::test_log_metrics",
    "test_logger.py::test_log_artifacts",
    "test_logger.py::test_register_artifact_type",
    "test_reader.py::test_filter",
    "test_reader.py::test_diff",
    "test_reader.py::test_dataframe_groupby",
    "test_reader.py::test_dataframe_aggregate",
    "test_reader.py::test_dataframe_filter",
    "test_tutorial.py::test_launching",
    "test_tutorial.py::test_mlxpsub_launching",
]


def _results(junit: Path) -> dict[str, tuple[str, str]]:
    """{test id: (outcome, report)} from pytest's junit XML (parametrised ids: no [..])."""
    out: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        name = case.get("name", "").split("[", 1)[0]
        outcome, report = "passed", ""
        output = ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                report = (child.get("message") or "") + "\n" + (child.text or "")
            elif child.tag in ("system-out", "system-err"):
                output += f"--- {child.tag} (tail) ---\n{(child.text or '')[-3000:]}\n"
        report += output
        if not module:  # a module that could not be collected: each of its tests failed
            module = name.rsplit(".", 1)[-1]
            for test in UPSTREAM_TESTS:
                if test.startswith(f"{module}.py::"):
                    out[test] = ("not collected", report)
            continue
        key = f"{module}.py::{name}"
        if key in out and out[key][0] != "passed":
            continue
        out[key] = (outcome, report)
    return out


@pytest.fixture(scope="module")
def upstream_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, tuple[str, str]],
                                                                     str]:
    work = tmp_path_factory.mktemp("mlxp_upstream")
    for part in ("tests", "tutorial"):
        shutil.copytree(UPSTREAM / part, work / part)
    shutil.copy2(UPSTREAM / "LICENSE", work / "LICENSE")
    bin_dir = work / "bin"
    bin_dir.mkdir()
    (bin_dir / "oarsub").symlink_to(FAKES / "oarsub")  # the fake finds its library by realpath
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLXP", "PYTEST", "FAKE_"))}
    env.update(
        PATH=os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent),
                              env.get("PATH", "")]),
        FAKE_SCHED_DIR=str(work / "fake-sched"),
        FAKE_SCHED_NORUN="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    junit = work / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-q",
         "--continue-on-collection-errors", "-o", "junit_logging=all",
         f"--junitxml={junit}"],
        cwd=work / "tests", env=env, capture_output=True, text=True, timeout=1800, check=False)
    transcript = proc.stdout[-20000:] + proc.stderr[-5000:]
    assert junit.exists(), f"pytest did not run (exit {proc.returncode}):\n{transcript}"
    return _results(junit), transcript


def test_every_upstream_test_ran(upstream_run: tuple[dict[str, tuple[str, str]], str]) -> None:
    results, transcript = upstream_run
    assert sorted(results) == sorted(UPSTREAM_TESTS), transcript


@pytest.mark.parametrize("test_id", UPSTREAM_TESTS)
def test_upstream(test_id: str, upstream_run: tuple[dict[str, tuple[str, str]], str]) -> None:
    results, transcript = upstream_run
    outcome, report = results.get(test_id, ("not run", transcript))
    assert outcome == "passed", f"MLXP 1.0.5's {test_id}: {outcome}\n{report[-8000:]}"
