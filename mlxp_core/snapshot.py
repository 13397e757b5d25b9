"""The version manager (`use_version_manager: true`): runs start from a snapshot of the code.

At the start of a command (`python main.py ...`, local or submitting jobs), `GitVM.snapshot()`
copies the git-tracked files of the repository holding the script as they are now, that is the
commit plus the uncommitted changes of tracked files (`version_manager.dirty: snapshot`, the
default), or refuses a tree with uncommitted changes (`dirty: refuse`). Untracked files are not
part of it (they are listed). Snapshots are stored once per content under `parent_work_dir`:
`<parent_work_dir>/<repo name>/<commit[:12]>[-<diff sha256[:12]>]/`, made read-only, created
in a temporary directory and renamed into place (two commands racing make one snapshot).

The command then re-executes itself from the snapshot (`reexec`): the task, every module it
imports from the repository and every job it submits run the snapshot's code, so edits made
after submission are never seen by queued jobs (MLXP 1.0.5 ran the working copy in local mode
while recording the snapshot). Each snapshot holds a manifest, `.mlxp_snapshot.yaml` (commit,
diff hash, repository, snapshot path); a run whose script is inside a snapshot records it with
the installed package versions in `info.yaml` `version_manager` (`snapshot_facts`).

No prompt ever blocks: with `interactive_mode: true` and a terminal on stdin and stdout, what
is snapshot is shown and confirmed once; otherwise nothing is asked.
Cost: one `git` call per question (4-5 in all) and a copy of the tracked files, once per
content; later commands with the same content reuse it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import yaml

from mlxp_core.errors import MLXPError
from mlxp_core.settings import SCRIPT_DIR_ENV

log = logging.getLogger("mlxp")

MANIFEST = ".mlxp_snapshot.yaml"
SNAPSHOT_ENV = "MLXP_SNAPSHOT"  # set in the re-executed command: the snapshot it runs from


class VersionManagerError(MLXPError):
    """The code cannot be snapshot (not a git repository, uncommitted changes refused ...)."""


@dataclass
class Snapshot:
    """One snapshot of a repository's tracked files."""

    commit: str
    diff_sha256: Optional[str]  # None: no uncommitted changes
    path: Path
    repo_root: Path
    changed: List[str] = field(default_factory=list)  # tracked files with uncommitted changes
    untracked: List[str] = field(default_factory=list)  # not in the snapshot
    created: bool = False

    def manifest(self) -> Dict[str, Any]:
        # commit_hash: MLXP's name for the commit (its docs and its users' queries use it)
        return {"commit": self.commit, "commit_hash": self.commit,
                "diff_sha256": self.diff_sha256,
                "dirty": self.diff_sha256 is not None, "snapshot": str(self.path),
                "repo_path": str(self.repo_root), "changed_files": list(self.changed)}


def _git(args: Sequence[str], cwd: Path, binary: bool = False) -> Any:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise VersionManagerError("use_version_manager: git is not installed") from None
    if proc.returncode != 0:
        raise VersionManagerError(
            f"use_version_manager: `git {' '.join(args)}` failed in {cwd}: "
            f"{proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout if binary else proc.stdout.decode("utf-8", errors="surrogateescape")


def _lines(text: str) -> List[str]:
    return [x for x in text.split("\0") if x]


def _freeze(root: Path) -> None:
    """Read-only files: a snapshot is not edited in place by mistake (directories stay
    writable: Python's bytecode cache, and `rm -r` of old snapshots)."""
    for dirpath, _dirs, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


class GitVM:
    """MLXP's `GitVM(parent_work_dir, compute_requirements)`, snapshotting as described above.

    `dirty`: "snapshot" (uncommitted changes of tracked files are part of the snapshot) or
    "refuse" (a VersionManagerError names the changed files). `interactive`: ask once (only
    when stdin and stdout are terminals).
    """

    def __init__(self, parent_work_dir: str, compute_requirements: bool = False,
                 dirty: str = "snapshot", interactive: bool = False) -> None:
        self.parent_work_dir = Path(parent_work_dir).expanduser().resolve()
        self.compute_requirements = compute_requirements
        self.dirty = dirty
        self.interactive = interactive
        self._snapshot: Optional[Snapshot] = None

    def snapshot(self, where: Optional[Path] = None) -> Snapshot:
        """Snapshot the repository holding `where` (default: the working directory)."""
        where = Path(where or Path.cwd())
        try:
            root = Path(_git(["rev-parse", "--show-toplevel"], where).strip())
        except VersionManagerError:
            raise VersionManagerError(
                f"use_version_manager: {where} is not inside a git repository; the version "
                "manager snapshots git-tracked code (git init; git add ...; git commit), or "
                "set use_version_manager: false") from None
        commit = _git(["rev-parse", "--verify", "HEAD"], root).strip()
        changed = _lines(_git(["diff", "HEAD", "--name-only", "-z"], root))
        untracked = _lines(_git(["ls-files", "--others", "--exclude-standard", "-z"], root))
        digest = None
        if changed:
            if self.dirty == "refuse":
                raise VersionManagerError(
                    f"use_version_manager: {root} has uncommitted changes "
                    f"({', '.join(changed[:10])}{' ...' if len(changed) > 10 else ''}) and "
                    "version_manager.dirty is 'refuse': commit them, or set dirty: snapshot")
            digest = hashlib.sha256(_git(["diff", "HEAD", "--binary"], root, binary=True)
                                    ).hexdigest()
        name = commit[:12] + (f"-{digest[:12]}" if digest else "")
        dst = self.parent_work_dir / root.name / name
        snap = Snapshot(commit, digest, dst, root, changed, untracked)
        self._confirm(snap)
        if not (dst / MANIFEST).is_file():
            self._create(snap)
        self._snapshot = snap
        return snap

    def _confirm(self, snap: Snapshot) -> None:
        if not (self.interactive and sys.stdin.isatty() and sys.stdout.isatty()):
            return
        print(f"mlxp: the runs will execute a snapshot of {snap.repo_root} at commit "
              f"{snap.commit[:12]}")
        if snap.changed:
            print(f"  with the uncommitted changes of: {', '.join(snap.changed)}")
        if snap.untracked:
            print(f"  without these untracked files: {', '.join(snap.untracked[:20])}")
        answer = input("Proceed? [Y/n] ").strip().lower()
        if answer not in ("", "y", "yes"):
            raise VersionManagerError("use_version_manager: cancelled by the user")

    def _create(self, snap: Snapshot) -> None:
        parent = snap.path.parent
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{snap.path.name}.", dir=parent))
        try:
            archive = _git(["archive", "--format=tar", snap.commit], snap.repo_root, binary=True)
            subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True,
                           capture_output=True)
            for rel in snap.changed:  # the working tree's version of each changed file
                src, out = snap.repo_root / rel, tmp / rel
                if src.is_file() or src.is_symlink():
                    out.parent.mkdir(parents=True, exist_ok=True)
                    if out.exists() or out.is_symlink():
                        out.unlink()
                    shutil.copy2(src, out, follow_symlinks=False)
                elif out.exists():
                    out.unlink()
            (tmp / MANIFEST).write_text(yaml.safe_dump(snap.manifest(), sort_keys=False))
            _freeze(tmp)
            try:
                os.rename(tmp, snap.path)
                snap.created = True
            except OSError:  # another command made the same snapshot first
                if not (snap.path / MANIFEST).is_file():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def get_info(self) -> Dict[str, Any]:
        """MLXP's `get_info()`: what the last snapshot recorded (`{}` before one)."""
        if self._snapshot is None:
            return {}
        return {**self._snapshot.manifest(), "requirements": package_versions()}

    def make_working_directory(self) -> str:
        """MLXP's name: snapshot the working directory's repository; the snapshot's copy of
        the working directory."""
        snap = self.snapshot()
        return str(snap.path / Path.cwd().resolve().relative_to(snap.repo_root.resolve()))


def package_versions() -> Dict[str, str]:
    """`{distribution: version}` of the installed Python packages."""
    from importlib import metadata

    out: Dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            out[str(name)] = str(dist.version)
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


def find_manifest(start: Path) -> Optional[Dict[str, Any]]:
    """The manifest of the snapshot holding `start`, if any."""
    for folder in [start, *start.parents]:
        path = folder / MANIFEST
        if path.is_file():
            data = yaml.safe_load(path.read_text())
            return data if isinstance(data, dict) else None
    return None


def snapshot_facts(script_dir: Path) -> Dict[str, Any]:
    """`{version_manager: ...}` for info.yaml when the script runs from a snapshot, else {}."""
    manifest = find_manifest(script_dir)
    if manifest is None:
        return {}
    return {"version_manager": {"commit_hash": manifest.get("commit"), **manifest,
                                "requirements": package_versions()}}


def reexec_argv(snap: Snapshot, argv: Sequence[str], cwd: Path) -> Optional[List[str]]:
    """The command line re-executing this process from `snap` (None: the script is not in
    the repository, so it cannot run from the snapshot)."""
    orig = list(getattr(sys, "orig_argv", []) or [sys.executable, *argv])
    root = snap.repo_root.resolve()
    script = Path(argv[0]).resolve() if argv and argv[0] else None
    if script is None or root not in script.parents:
        return None
    new = list(orig)
    for i, word in enumerate(new[1:], start=1):
        if word == argv[0]:
            new[i] = str(snap.path / script.relative_to(root))
            return new
        if word == "-m":  # the module is found from the (snapshot) working directory
            return new
    return None


def reexec(settings: Mapping[str, Any], argv: Sequence[str]) -> None:
    """With `use_version_manager`, run this command again from its snapshot (never returns);
    nothing to do inside a snapshot or without the version manager."""
    if not settings.get("use_version_manager") or os.environ.get(SNAPSHOT_ENV):
        return
    vm_settings = settings["version_manager"]
    if vm_settings.get("name", "mlxp.GitVM") not in ("mlxp.GitVM", "GitVM",
                                                     "mlxp.version_manager.GitVM"):
        raise VersionManagerError(
            f"version_manager.name: {vm_settings['name']!r} is not supported; use mlxp.GitVM")
    cwd = Path.cwd().resolve()
    vm = GitVM(vm_settings["parent_work_dir"], vm_settings.get("compute_requirements", False),
               vm_settings.get("dirty", "snapshot"), bool(settings.get("interactive_mode")))
    snap = vm.snapshot(cwd)
    new_argv = reexec_argv(snap, argv, cwd)
    if new_argv is None:
        raise VersionManagerError(
            f"use_version_manager: the script {argv[0] if argv else '?'} is not inside the "
            f"repository {snap.repo_root}, so it cannot run from the snapshot")
    try:
        workdir = snap.path / cwd.relative_to(snap.repo_root.resolve())
    except ValueError:
        workdir = snap.path
    env = dict(os.environ)
    env[SNAPSHOT_ENV] = str(snap.path)
    env.setdefault(SCRIPT_DIR_ENV, str(Path(argv[0]).resolve().parent))
    log.info("mlxp: running from the snapshot %s (commit %s%s)", snap.path, snap.commit[:12],
             ", with uncommitted changes" if snap.diff_sha256 else "")
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(workdir if workdir.is_dir() else snap.path)
    os.execve(sys.executable, new_argv, env)
