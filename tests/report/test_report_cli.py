"""`mlxp report` as a command: bad input gives one clear error and writes nothing; the page
references nothing outside itself; a progress bar only on a terminal; light `mlxp --help`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from report_helpers import (
    mlxp_report,
    real_sweep,
    run_cmd,
)

TPF = pytest.TempPathFactory


@pytest.mark.parametrize("args, message", [
    (["--metric", "train.los"], "no run has the metric 'train.los'.*closest: train.loss"),
    (["--group-by", "optimizer.learning_rate"],
     "no selected run has the key 'optimizer.learning_rate'.*closest: config.optimizer.lr"),
    (["--best-by", "train.loss:lowest"], "must be 'min' or 'max'"),
    (["--x", "epok"], "has the key 'epok' for the x axis; keys: .*epoch"),
    (["--max-groups", "0"], "at least 1"),
    (["info.status = 'COMPLETE'"], "use '==' to compare"),
    (["config.optimiser.lr > 1"], "closest: config.optimizer.lr"),
])
def test_bad_input_is_one_clear_error_and_no_file(tmp_path_factory: TPF, tmp_path: Path,
                                                  args: list[str], message: str) -> None:
    sweep_dir = real_sweep(tmp_path_factory)
    out = tmp_path / "report.html"
    out.write_text("the previous report")
    proc = mlxp_report(str(sweep_dir / "logs"), *args, "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    # one error (a query error adds the query with a caret under the position)
    assert lines[0].startswith("mlxp report: error: "), proc.stderr
    assert proc.stderr.count("error") == 1 and len(lines) in (1, 3), proc.stderr
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in proc.stderr
    assert out.read_text() == "the previous report"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temp file left


def test_bad_paths(tmp_path: Path) -> None:
    proc = mlxp_report(str(tmp_path / "nope"), cwd=tmp_path)
    assert proc.returncode == 1 and "is not a directory" in proc.stderr
    (tmp_path / "logs").mkdir()
    proc = mlxp_report("logs", "-o", str(tmp_path / "missing" / "r.html"), cwd=tmp_path)
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    proc = mlxp_report("logs", "-o", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1 and "is a directory" in proc.stderr


def test_page_references_nothing_outside_itself(tmp_path_factory: TPF, tmp_path: Path) -> None:
    sweep_dir = real_sweep(tmp_path_factory)
    out = tmp_path / "r.html"
    proc = mlxp_report(str(sweep_dir / "logs"), "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "http://" not in text and "https://" not in text and "//cdn" not in text
    assert not re.search(r"<link|<iframe|<object|<embed|@import|url\(", text)
    for attr, value in re.findall(r'\b(src|href|action|poster)="([^"]*)"', text):
        assert value.startswith(("data:", "#")), (attr, value[:80])
    assert "<script src" not in text
    assert "default-src 'none'" in text  # the browser itself refuses anything else
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_default_report_in_the_current_directory(tmp_path_factory: TPF) -> None:
    """`mlxp report` with no argument reads ./logs and writes ./report.html."""
    sweep_dir = real_sweep(tmp_path_factory)
    out = sweep_dir / "report.html"
    try:
        proc = mlxp_report(cwd=sweep_dir)
        assert proc.returncode == 0, proc.stderr
        assert out.is_file() and proc.stdout.startswith(f"{out}: 10 run(s), 4 group(s)")
    finally:
        out.unlink(missing_ok=True)


def test_progress_bar_only_on_a_terminal(tmp_path_factory: TPF, tmp_path: Path) -> None:
    sweep_dir = real_sweep(tmp_path_factory)
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    # a terminal of 24 x 120 (a new pty has 0 columns, and tqdm draws nothing in 0 columns)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlxp_core.cli.main", "report", str(sweep_dir / "logs"),
             "-o", str(tmp_path / "r.html")], cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=120) == 0
    finally:
        os.close(master)
    terminal = b"".join(chunks).decode(errors="replace")
    assert "reading metrics" in terminal and "drawing" in terminal, terminal
    assert "run/s" in terminal or "it/s" in terminal or "run]" in terminal


def test_help_is_light_and_lists_the_options(tmp_path: Path) -> None:
    code = ("import sys\nfrom mlxp_core.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('pandas', 'matplotlib', 'numpy', 'hydra') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    proc = run_cmd([sys.executable, "-c", code], tmp_path)
    assert "report" in proc.stdout and "HEAVY []" in proc.stdout, proc.stdout + proc.stderr
    proc = run_cmd([sys.executable, "-m", "mlxp_core.cli.main", "report", "--help"], tmp_path)
    assert proc.returncode == 0
    for option in ("--group-by", "--metric", "--x", "--best-by", "-o", "PARENT_LOG", "QUERY"):
        assert option in proc.stdout


def test_missing_matplotlib_names_the_extra(tmp_path_factory: TPF, tmp_path: Path) -> None:
    sweep_dir = real_sweep(tmp_path_factory)
    code = ("import sys\nsys.modules['matplotlib'] = None  # as if not installed\n"
            "from mlxp_core.cli.main import main\n"
            f"sys.exit(main(['report', {str(sweep_dir / 'logs')!r}, '-o', 'r.html']))\n")
    proc = run_cmd([sys.executable, "-c", code], tmp_path)
    assert proc.returncode == 1
    assert 'pip install "mlxp-core[report]"' in proc.stderr and "matplotlib" in proc.stderr
    assert not (tmp_path / "r.html").exists()
    code = ("import sys\nsys.modules['matplotlib'] = None\nfrom mlxp_core.reader import Reader\n"
            "from mlxp_core.report import ReportError\n"
            f"try:\n    Reader({str(sweep_dir / 'logs')!r}).plot('train.loss')\n"
            "except ReportError as exc:\n    print('ERR', exc)\n")
    proc = run_cmd([sys.executable, "-c", code], tmp_path)
    assert "ERR figures need matplotlib" in proc.stdout, proc.stdout + proc.stderr
