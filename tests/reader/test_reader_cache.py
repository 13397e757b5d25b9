"""The Reader's index cache: incremental refresh, where the cache lives (read-only logs),
and concurrent readers while runs are being written.

Re-reads are proven by counting YAML parses (``reader.stats['yaml_files_parsed']``) and runs
read (``reader.stats['runs_read']``), not by timing.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
import reader_data as data

from mlxp_core.reader import Reader
from mlxp_core.reader import index as index_module

REPO = Path(__file__).resolve().parents[2]
TERMINAL = 21  # runs 1-18 COMPLETE, 19 FAILED, 23 INTERRUPTED, 24 SUBMIT_FAILED
LIVE = 3  # 20 SUBMITTED, 21 RUNNING, 22 unknown (corrupt info.yaml)


@pytest.fixture()
def logs(tmp_path: Path) -> str:
    parent = str(tmp_path / "logs")
    data.make_tutorial_logs(parent)
    data.age(parent)  # written long ago, as real logs are when read
    return parent


def cache_file(parent: str) -> str:
    return os.path.join(parent, ".mlxp", "reader_index.json")


def same_runs(a: Reader, b: Reader) -> None:
    pd.testing.assert_frame_equal(a.runs, b.runs)


# -- incremental refresh -----------------------------------------------------------------------


def test_reopen_of_unchanged_logs_parses_no_yaml(logs: str) -> None:
    cold = Reader(logs)
    assert cold.stats["runs_read"] == 24
    assert cold.stats["yaml_files_parsed"] == 68  # config + info + metric keys when present
    assert cold.stats["cache_written"] == cache_file(logs)
    warm = Reader(logs)
    assert warm.stats["cache_loaded"] == cache_file(logs)
    assert warm.stats["runs_read"] == 0
    assert warm.stats["yaml_files_parsed"] == 0
    assert warm.stats["runs_stat_checked"] == TERMINAL  # one stat each
    assert warm.stats["runs_fully_checked"] == LIVE  # their status can still change
    assert warm.stats["cache_written"] is None
    same_runs(cold, warm)
    assert [str(p) for p in warm.problems] == [str(p) for p in cold.problems]


def test_only_changed_runs_are_read_again(logs: str) -> None:
    Reader(logs)
    data.set_status(logs, 5, "FAILED", error={"type": "E", "message": "m", "traceback": "t"})
    data.write_run(logs, 25, config=data.tutorial_config(0.1, 100, 5),
                   metrics={"train": [{"loss": 1.0}]})
    shutil.rmtree(os.path.join(logs, "7"))
    for log_id in (5, 25):
        data.age(os.path.join(logs, str(log_id)), 60)
    reader = Reader(logs)
    assert reader.stats["runs_read"] == 2
    assert reader.stats["yaml_files_parsed"] == 6
    assert 7 not in reader.log_ids and 25 in reader.log_ids
    runs = reader.runs.set_index("log_id")
    assert runs.loc[5, "info.status"] == "FAILED" and runs.loc[5, "info.error.type"] == "E"
    assert runs.loc[25, "config.seed"] == 5
    same_runs(reader, Reader(logs, cache=False))
    again = Reader(logs)
    assert again.stats["runs_read"] == 0
    same_runs(reader, again)


def test_refresh_in_place(logs: str) -> None:
    reader = Reader(logs)
    assert reader.filter("info.status == 'RUNNING'")["log_id"].tolist() == [21]
    data.set_status(logs, 21, "COMPLETE")
    data.age(os.path.join(logs, "21"), 60)
    reader.refresh()
    assert reader.stats["runs_read"] == 1
    assert reader.filter("info.status == 'RUNNING'").empty


def test_live_runs_are_checked_fully(logs: str) -> None:
    Reader(logs)
    # a running job starts a new metric file: only metrics/ changes, not metadata/
    with open(os.path.join(logs, "21", "metrics", "val.json"), "w") as f:
        f.write('{"acc": 0.5}\n')
    data.age(os.path.join(logs, "21"), 60)
    reader = Reader(logs)
    assert reader.stats["runs_read"] == 1
    assert reader.metrics(21, "val")["val.acc"].tolist() == [0.5]
    assert "val" in set(reader.fields()["key"])


def test_in_place_edit_of_a_finished_run_needs_deep_check(logs: str) -> None:
    """The documented limit of the fast check: finished runs are re-read when their
    metadata/ directory changes (every os.replace of a metadata file); an in-place edit
    of config.yaml by another tool is seen with deep_check=True."""
    Reader(logs)
    path = os.path.join(logs, "3", "metadata", "config.yaml")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:  # in place: the directory does not change
        f.write(text.replace("seed: 3", "seed: 33"))
    data.age(path, 60)
    fast = Reader(logs)
    assert fast.stats["runs_read"] == 0
    deep = Reader(logs, deep_check=True)
    assert deep.stats["runs_read"] == 1
    assert deep.stats["runs_fully_checked"] == 24
    assert deep.runs.set_index("log_id").loc[3, "config.seed"] == 33


def test_recently_changed_runs_are_read_again(logs: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run changed less than RACY_WINDOW_NS before it was read could change again within
    the same timestamp tick, unseen: it is read again on the next refresh."""
    Reader(logs)
    data.set_status(logs, 5, "FAILED")  # not aged: its mtime is now
    assert Reader(logs).stats["runs_read"] == 1
    assert Reader(logs).stats["runs_read"] == 1  # still within the window: read again
    monkeypatch.setattr(index_module, "RACY_WINDOW_NS", 0)
    assert Reader(logs).stats["runs_read"] == 1  # marked racy by the previous refresh
    assert Reader(logs).stats["runs_read"] == 0


def test_rebuild_and_no_cache(logs: str) -> None:
    Reader(logs)
    assert Reader(logs, rebuild=True).stats["runs_read"] == 24
    os.remove(cache_file(logs))
    reader = Reader(logs, cache=False)
    assert reader.stats["runs_read"] == 24 and reader.cache_path is None
    assert not os.path.exists(cache_file(logs))


def test_corrupt_or_foreign_cache_is_ignored(logs: str, caplog: pytest.LogCaptureFixture) -> None:
    first = Reader(logs)
    with open(cache_file(logs), "w") as f:
        f.write('{"format": "mlxp-reader-index", "version": 1, "ids": [1, 2')
    with caplog.at_level(logging.WARNING, logger="mlxp.reader"):
        reader = Reader(logs)
    assert any("ignoring the index cache" in r.getMessage() for r in caplog.records)
    assert reader.stats["runs_read"] == 24
    same_runs(first, reader)
    assert Reader(logs).stats["runs_read"] == 0  # rewritten whole
    with open(cache_file(logs), "w") as f:
        json.dump({"format": "mlxp-reader-index", "version": 999}, f)
    assert Reader(logs).stats["runs_read"] == 24


def test_moved_logs_are_read_again(logs: str, tmp_path: Path) -> None:
    Reader(logs)
    moved = str(tmp_path / "moved")
    shutil.copytree(logs, moved)  # keeps mtimes, not inodes
    reader = Reader(moved)
    assert reader.stats["cache_loaded"] == cache_file(moved)
    assert reader.stats["runs_read"] == 24  # other inodes: nothing is trusted
    assert reader.runs["log_dir"].iloc[0] == os.path.join(moved, "1")


def test_explicit_cache_dir(logs: str, tmp_path: Path) -> None:
    cdir = str(tmp_path / "cache")
    reader = Reader(logs, cache_dir=cdir)
    assert os.path.dirname(reader.cache_path or "") == cdir
    assert os.path.basename(reader.cache_path or "").startswith("reader_index-")
    assert not os.path.exists(cache_file(logs))
    again = Reader(logs, cache_dir=cdir)
    assert again.stats["runs_read"] == 0 and again.stats["cache_loaded"] == reader.cache_path


# -- read-only parent_log ----------------------------------------------------------------------
# As root, chmod does not stop writes. Two honest setups instead: a read-only bind mount
# (EROFS, in a private mount namespace made with unshare), and a forked child that drops to
# the unprivileged uid 'nobody' before opening the Reader (EACCES on a chmod 0555 parent).

READ_ONLY_SCRIPT = """
import json, os, sys
from mlxp_core.reader import Reader
logs, xdg, cdir = sys.argv[1:4]
try:
    open(os.path.join(logs, "probe"), "w")
    writable = True
except OSError as exc:
    writable = exc.strerror
os.environ["XDG_CACHE_HOME"] = xdg
out = {"writable": writable}
for name, kwargs in (("a", {}), ("b", {}), ("c", {"cache_dir": cdir}), ("d", {"cache_dir": cdir})):
    r = Reader(logs, **kwargs)
    out[name] = dict(r.stats, cache_path=r.cache_path, n=len(r))
print(json.dumps(out))
"""


def _unshare_works() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs none /mnt"],
                           capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs root and mount namespaces (unshare -m)")
def test_read_only_filesystem(logs: str, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    mount = ('mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && '
             'exec "$3" -c "$4" "$2" "$5" "$6"')
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        ["unshare", "-m", "sh", "-c", mount, "sh", logs, str(ro), sys.executable,
         READ_ONLY_SCRIPT, str(tmp_path / "xdg"), str(tmp_path / "cdir")],
        capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["writable"] == "Read-only file system"
    assert res["a"]["n"] == 24 and res["a"]["runs_read"] == 24
    assert res["a"]["cache_path"].startswith(str(tmp_path / "xdg" / "mlxp" / "reader"))
    assert res["b"]["runs_read"] == 0 and res["b"]["cache_loaded"] == res["a"]["cache_path"]
    assert os.path.dirname(res["c"]["cache_path"]) == str(tmp_path / "cdir")
    assert res["d"]["runs_read"] == 0


def as_nobody(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` in a forked child as uid/gid 'nobody' (65534): its JSON."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            result = json.dumps({"ok": fn(*args, **kwargs)})
            code = 0
        except BaseException as exc:
            result = json.dumps({"error": repr(exc)})
        finally:
            try:
                os.write(w, result.encode())
            finally:
                os._exit(code)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 1 << 16):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    res = json.loads(b"".join(chunks))
    assert "ok" in res, res
    return res["ok"]


@pytest.fixture()
def shared_tmp() -> Iterator[str]:
    """A directory that 'nobody' can traverse (pytest's tmp_path is private to root)."""
    path = tempfile.mkdtemp(prefix="mlxp-reader-")
    os.chmod(path, 0o755)
    yield path
    for dirpath, _, _ in os.walk(path):
        os.chmod(dirpath, 0o755)
    shutil.rmtree(path)


def _open(logs: str, xdg: str, **kwargs: Any) -> dict[str, Any]:
    os.environ["XDG_CACHE_HOME"] = xdg
    r = Reader(logs, **kwargs)
    status = dict(zip(r.log_ids, r._column("info.status")))
    problems = [[p.log_id, p.file, p.message] for p in r.problems if p.severity == "warning"]
    return dict(r.stats, cache_path=r.cache_path, status=status, problems=problems)


@pytest.mark.skipif(not hasattr(os, "fork") or os.geteuid() != 0,
                    reason="needs root to switch to the 'nobody' user")
def test_parent_log_not_writable_for_the_user(shared_tmp: str) -> None:
    logs = os.path.join(shared_tmp, "logs")
    data.make_tutorial_logs(logs)
    data.age(logs)
    Reader(logs)  # the owner builds the cache in logs/.mlxp
    os.chmod(logs, 0o555)
    xdg = os.path.join(shared_tmp, "xdg")
    cdir = os.path.join(shared_tmp, "cdir")
    for d in (xdg, cdir):
        os.makedirs(d)
        os.chmod(d, 0o777)
    first = as_nobody(_open, logs, xdg)
    assert first["cache_loaded"] == cache_file(logs) and first["runs_read"] == 0
    assert first["cache_written"] is None  # nothing changed: nothing to write

    data.set_status(logs, 5, "FAILED")  # the owner's job changes a run
    data.age(os.path.join(logs, "5"), 60)
    second = as_nobody(_open, logs, xdg)
    assert second["runs_read"] == 1 and second["status"]["5"] == "FAILED"
    assert second["cache_written"].startswith(os.path.join(xdg, "mlxp", "reader"))
    third = as_nobody(_open, logs, xdg)
    assert third["cache_loaded"] == second["cache_written"] and third["runs_read"] == 0
    chosen = as_nobody(_open, logs, xdg, cache_dir=cdir)
    assert os.path.dirname(chosen["cache_written"]) == cdir

    os.chmod(xdg, 0o555)  # no writable place at all: in memory, with a warning
    data.set_status(logs, 6, "FAILED")
    data.age(os.path.join(logs, "6"), 60)
    nowhere = as_nobody(_open, logs, os.path.join(xdg, "sub"))
    assert nowhere["cache_path"] is None and nowhere["status"]["6"] == "FAILED"


@pytest.mark.skipif(not hasattr(os, "fork") or os.geteuid() != 0,
                    reason="needs root to switch to the 'nobody' user")
def test_unreadable_run_directory(shared_tmp: str) -> None:
    logs = os.path.join(shared_tmp, "logs")
    data.make_tutorial_logs(logs)
    os.chmod(os.path.join(logs, "3"), 0o000)
    os.chmod(os.path.join(logs, "5", "metadata", "info.yaml"), 0o600)  # someone else's file
    res = as_nobody(_open, logs, shared_tmp, cache=False)
    assert len(res["status"]) == 24 and res["status"]["4"] == "COMPLETE"
    assert res["status"]["3"] is None and res["status"]["5"] is None
    assert [3, ".", "cannot read the run directory: Permission denied"] in res["problems"]
    assert [5, "metadata/info.yaml", "cannot read it: Permission denied"] in res["problems"]


# -- concurrency -------------------------------------------------------------------------------

WRITER = """
import os, sys, time
sys.path.insert(0, sys.argv[2])
import reader_data as data
logs, n = sys.argv[1], int(sys.argv[3])
ready = os.path.join(logs, "..", "ready")
while len(os.listdir(ready)) < int(sys.argv[4]):  # start when every reader is reading
    time.sleep(0.01)
for log_id in range(101, 101 + n):
    data.write_run(logs, log_id, config=data.tutorial_config(0.1, 100, log_id), status="RUNNING",
                   metrics={"train": [{"loss": 1.0}]})
    with open(os.path.join(logs, str(log_id), "metrics", "train.json"), "a") as f:
        f.write('{"loss": 0.5}\\n')
    data.set_status(logs, log_id, "COMPLETE")
    data.set_status(logs, 1 + log_id % 18, "COMPLETE", attempt=log_id)  # rewrite old runs too
    time.sleep(0.03)
open(os.path.join(logs, "..", "writer-done"), "w").close()
"""

READER = """
import json, os, sys, time
from mlxp_core.reader import Reader
logs = sys.argv[1]
done = os.path.join(logs, "..", "writer-done")
seen, opens, last, sizes = 0, 0, False, set()
Reader(logs)
open(os.path.join(logs, "..", "ready", str(os.getpid())), "w").close()
while not last:
    last = os.path.exists(done)
    r = Reader(logs)
    frame = r.runs
    ids = frame["log_id"].tolist()
    assert ids == sorted(set(ids)), ids
    assert len(ids) >= seen, (len(ids), seen)
    assert set(frame["info.status"].dropna()) <= {"COMPLETE", "RUNNING", "FAILED", "SUBMITTED",
        "INTERRUPTED", "SUBMIT_FAILED"}, set(frame["info.status"])
    seen, opens = len(ids), opens + 1
    sizes.add(seen)
print(json.dumps({"opens": opens, "seen": seen, "sizes": sorted(sizes)}))
"""


def test_concurrent_readers_while_runs_are_written(logs: str) -> None:
    n_new, n_readers = 40, 3
    os.mkdir(os.path.join(logs, "..", "ready"))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    tests_dir = str(Path(__file__).resolve().parents[1])
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, logs, tests_dir, str(n_new), str(n_readers)],
        env=env, stderr=subprocess.PIPE, text=True)
    readers = [subprocess.Popen([sys.executable, "-c", READER, logs], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for _ in range(n_readers)]
    assert writer.wait(timeout=300) == 0, writer.stderr.read() if writer.stderr else ""
    sizes: set[int] = set()
    for proc in readers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        res = json.loads(out)
        assert res["seen"] == 24 + n_new and res["opens"] >= 2
        sizes.update(res["sizes"])
    # the readers saw the directory while it was being written
    print("sizes seen by the readers:", sorted(sizes))
    assert any(24 < size < 24 + n_new for size in sizes), sizes
    time.sleep(0.05)
    final = Reader(logs)
    assert final.log_ids == [*range(1, 25), *range(101, 101 + n_new)]
    assert not [p for p in final.problems if p.severity == "warning" and p.log_id != 22]
    same_runs(final, Reader(logs, cache=False))
    cached = index_module.load_cache(cache_file(logs))
    assert cached is not None and cached.ids == final.log_ids
    leftovers = [n for n in os.listdir(os.path.join(logs, ".mlxp")) if n.endswith(".tmp")]
    assert leftovers == []
    new = final.filter("log_id > 100")
    assert set(new["info.status"]) == {"COMPLETE"}
    assert final.metrics(new, "train", last=True)["train.loss"].tolist() == [0.5] * n_new
