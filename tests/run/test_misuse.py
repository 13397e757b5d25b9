"""Misuse and damaged records: each gets one clear error, or a repair that loses nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import info, run, write_app

from mlxp_core.errors import LogNameError
from mlxp_core.reader import Reader
from mlxp_core.run.metrics import MetricsWriter


def _one_clear_error(proc_out: str) -> None:
    assert "Traceback" not in proc_out and "Error executing job" not in proc_out


# -- metrics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flush_interval_s", [0.0, 10.0])
def test_resume_drops_only_a_partial_line_longer_than_1_mib(tmp_path: Path,
                                                             flush_interval_s: float) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    whole = b"".join(json.dumps({"i": i}).encode() + b"\n" for i in range(3))
    (metrics / "m.json").write_bytes(whole + b'{"big": "' + b"x" * (3 << 20))
    writer = MetricsWriter(metrics, flush_interval_s)
    writer.log({"i": 3}, "m")
    writer.close()
    assert (metrics / "m.json").read_bytes() == whole + b'{"i": 3}\n'


def test_a_file_holding_only_a_partial_line_is_emptied(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "m.json").write_bytes(b'{"i": ' + b"1" * (2 << 20))
    writer = MetricsWriter(metrics)
    writer.log({"i": 0}, "m")
    writer.close()
    assert (metrics / "m.json").read_bytes() == b'{"i": 0}\n'


def test_a_non_string_key_is_refused_and_poisons_nothing(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    writer = MetricsWriter(metrics)
    with pytest.raises(TypeError, match=r"key 1 is a int, not a string.*nothing was recorded"):
        writer.log({1: 2}, "m")
    with pytest.raises(TypeError, match="key None"):
        writer.log({"a": 1, None: 2}, "m")
    writer.log({"a": 1}, "m")  # the name still works
    writer.log({"a": 2, "b": 3}, "m")
    writer.close()
    assert (metrics / "m.json").read_text() == '{"a": 1}\n{"a": 2, "b": 3}\n'


def test_a_300_character_log_name_is_a_clear_error(tmp_path: Path) -> None:
    writer = MetricsWriter(tmp_path)
    with pytest.raises(LogNameError, match="300 characters long; at most 200"):
        writer.log({"a": 1}, "n" * 300)
    assert list(tmp_path.iterdir()) == []


# -- settings values -------------------------------------------------------------------------


@pytest.mark.parametrize("override, said", [
    ("+mlxp.logger.flush_interval_s=-1", "flush_interval_s' must be a finite number"),
    ("+mlxp.logger.flush_interval_s=.nan", "flush_interval_s' must be a finite number"),
    ("+mlxp.logger.parent_log=''", "parent_log' is empty"),
    ("+mlxp.logger.parent_log_dir=''", "parent_log_dir' is empty"),
])
def test_settings_out_of_range_are_refused_before_anything_runs(app: Path, override: str,
                                                                said: str) -> None:
    write_app(app, "print('RAN')")
    proc = run(app, override)
    assert proc.returncode == 1
    assert said in proc.stderr and "RAN" not in proc.stdout
    _one_clear_error(proc.stderr)
    assert not [p for p in app.iterdir() if p.name.isdigit()]  # nothing in the working dir


def test_duplicate_key_in_config_yaml_is_one_line(app: Path) -> None:
    write_app(app, "print('RAN')", config="seed: 0\nlr: 1\nseed: 2\n")
    proc = run(app)
    assert proc.returncode == 1
    assert "config.yaml:3:1" in proc.stderr and "duplicate key 'seed' (first at line 1)" in (
        proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


# -- resume refusals -------------------------------------------------------------------------


def test_refused_resume_prints_one_line_and_keeps_the_run(app: Path) -> None:
    write_app(app, "print('RAN')")
    assert run(app).returncode == 0
    before = (app / "logs/1/metadata/info.yaml").read_bytes()
    proc = run(app, "seed=5", "+mlxp.logger.forced_log_id=1")
    assert proc.returncode == 1
    assert "cannot resume run 1" in proc.stderr and "RAN" not in proc.stdout
    assert "FAILED" not in proc.stdout + proc.stderr
    _one_clear_error(proc.stdout + proc.stderr)
    assert (app / "logs/1/metadata/info.yaml").read_bytes() == before


def test_corrupt_info_yaml_on_resume_names_the_file(app: Path) -> None:
    write_app(app, "print('RAN')")
    assert run(app).returncode == 0
    path = app / "logs/1/metadata/info.yaml"
    path.write_text("status: [COMPLETE\nlog_id: 1\n")
    proc = run(app, "+mlxp.logger.forced_log_id=1")
    assert proc.returncode == 1
    assert f"{path}:" in proc.stderr and "not valid YAML" in proc.stderr
    _one_clear_error(proc.stdout + proc.stderr)
    assert path.read_text() == "status: [COMPLETE\nlog_id: 1\n"


# -- the Reader ------------------------------------------------------------------------------


def test_reader_of_an_empty_path_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        Reader("")


def test_reader_reports_the_entries_it_skips(app: Path) -> None:
    write_app(app, "print('RAN')")
    assert run(app).returncode == 0
    logs = app / "logs"
    for name in ("-9", "007", "100000000000000000000000"):
        (logs / name / "metadata").mkdir(parents=True)
        (logs / name / "metadata" / "info.yaml").write_text("status: COMPLETE\n")
    (logs / "notes").mkdir()  # not a number: not mlxp's, not reported
    reader = Reader(str(logs), cache=False)
    assert len(reader) == 1 and info(app, 1)["status"] == "COMPLETE"
    skipped = sorted(p.log_dir.rsplit("/", 1)[1] for p in reader.problems if p.log_id is None)
    assert skipped == ["-9", "007", "100000000000000000000000"]
    assert all("not a run id" in p.message for p in reader.problems if p.log_id is None)
