"""Tests for mlxp_core.batchscript: the parser of the batch script given to mlxpsub."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from mlxp_core.cli.batchscript import (
    DEFAULT_SHEBANG,
    BatchScript,
    BatchScriptError,
    PythonCommand,
    parse_batch_script,
    read_batch_script,
)
from mlxp_core.errors import MLXPError

BASE = "/proj"

TUTORIAL_OAR = """#!/bin/bash
#OAR -l core=1, walltime=6:00:00
#OAR -t besteffort
#OAR -t idempotent

python main.py  optimizer.lr=10.,1. seed=1,2
python main.py  model.num_units=100,200 seed=1,2
"""


def parse(body: str, header: str = "#!/bin/bash\n#SBATCH --time=01:00:00\n") -> BatchScript:
    return parse_batch_script(header + body, "job.sh", base_dir=BASE)


def one(line: str) -> PythonCommand:
    script = parse(line + "\n")
    assert len(script.commands) == 1
    return script.commands[0]


def error(body: str, header: str = "#!/bin/bash\n#SBATCH -t 1\n") -> str:
    with pytest.raises(BatchScriptError) as info:
        parse(body, header)
    return str(info.value)


# --- the tutorial script -------------------------------------------------------------------


def test_tutorial_oar_script() -> None:
    script = parse_batch_script(TUTORIAL_OAR, "run.sh", base_dir=BASE)
    assert (script.scheduler, script.prefix, script.shebang) == ("oar", "#OAR", "#!/bin/bash")
    assert [(d.prefix, d.text, d.line) for d in script.directives] == [
        ("#OAR", "-l core=1, walltime=6:00:00", 2),
        ("#OAR", "-t besteffort", 3),
        ("#OAR", "-t idempotent", 4),
    ]
    first, second = script.commands
    assert (first.line, first.interpreter, first.script) == (6, "python", "main.py")
    assert first.args == ["optimizer.lr=10.,1.", "seed=1,2"]
    assert second.line == 7 and second.args == ["model.num_units=100,200", "seed=1,2"]
    assert first.launcher == [] and first.interpreter_flags == [] and first.module is None
    assert first.workdir == BASE and first.raw == "python main.py  optimizer.lr=10.,1. seed=1,2"
    assert script.warnings == []


# --- shebang -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shebang", ["#!/bin/bash", "#!/usr/bin/env bash", "#!/bin/sh", "#!/bin/bash -l"]
)
def test_shebang_kept_verbatim(shebang: str) -> None:
    script = parse("python main.py\n", f"{shebang}\n#SBATCH -N 1\n")
    assert script.shebang == shebang
    assert script.lines[0].kind == "shebang" and script.lines[0].text == shebang


def test_no_shebang_defaults_to_bash_and_keeps_line_numbers() -> None:
    script = parse("python main.py\n", "#SBATCH -N 1\n")
    assert script.shebang == DEFAULT_SHEBANG == "#!/bin/bash"
    assert script.directives[0].line == 1 and script.commands[0].line == 2


def test_non_shell_shebang_is_an_error() -> None:
    msg = error("python main.py\n", "#!/usr/bin/env python3\n#SBATCH -N 1\n")
    assert msg.startswith("job.sh:1: unsupported shebang") and "#!/usr/bin/env bash" in msg


# --- directives and schedulers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "name"),
    [("#SBATCH", "slurm"), ("#OAR", "oar"), ("#PBS", "torque"), ("#$", "sge"),
     ("#MSUB", "mwm"), ("#BSUB", "lsf")],
)
def test_prefix_decides_scheduler(prefix: str, name: str) -> None:
    script = parse("python main.py\n", f"#!/bin/bash\n{prefix} -x  y \n{prefix}\n")
    assert (script.scheduler, script.prefix) == (name, prefix)
    assert [(d.text, d.line) for d in script.directives] == [("-x  y", 2), ("", 3)]


def test_prefix_must_be_followed_by_whitespace() -> None:
    script = parse("#SBATCHX --mem=1G\n#$-N x\n# SBATCH --mem=2G\npython main.py\n")
    assert [d.text for d in script.directives] == ["--time=01:00:00"]
    assert "#SBATCHX --mem=1G" in script.template_for(0)[0]


def test_pbs_lines_in_msub_script_are_moab_directives() -> None:
    script = parse("python main.py\n", "#!/bin/bash\n#PBS -l nodes=1\n#MSUB -l walltime=60\n")
    assert (script.scheduler, script.prefix) == ("mwm", "#MSUB")
    assert [(d.prefix, d.text) for d in script.directives] == [
        ("#PBS", "-l nodes=1"), ("#MSUB", "-l walltime=60")]


def test_mixed_schedulers_are_an_error() -> None:
    msg = error("#OAR -t besteffort\n#SBATCH -N 2\npython main.py\n")
    assert msg.startswith("job.sh:3: mixed scheduler directives")
    assert "'#SBATCH' (first at line 2)" in msg and "'#OAR' (first at line 3)" in msg


def test_directive_after_a_command_is_kept_with_a_warning() -> None:
    script = parse("python main.py\n#SBATCH --mem=4G\n")
    assert [d.text for d in script.directives] == ["--time=01:00:00", "--mem=4G"]
    assert any(w.startswith("job.sh:4: directive '#SBATCH --mem=4G' after the first command")
               for w in script.warnings)


# --- what is (not) a python command --------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "launcher", "interp", "flags", "args"),
    [
        ("srun python -u main.py a=1", ["srun"], "python", ["-u"], ["a=1"]),
        ("mpirun -n 4 python main.py", ["mpirun", "-n", "4"], "python", [], []),
        ("mpiexec --bind-to core python main.py", ["mpiexec", "--bind-to", "core"], "python",
         [], []),
        ("env A=1 python3.11 main.py x=2", ["env", "A=1"], "python3.11", [], ["x=2"]),
        ("time python main.py", ["time"], "python", [], []),
        ("nohup exec python3 main.py", ["nohup", "exec"], "python3", [], []),
        ("CUDA_VISIBLE_DEVICES=0 python main.py", ["CUDA_VISIBLE_DEVICES=0"], "python", [], []),
        ("/opt/venv/bin/python main.py", [], "/opt/venv/bin/python", [], []),
        ("$VENV/bin/python main.py", [], "$VENV/bin/python", [], []),
        ("./python3 main.py", [], "./python3", [], []),
        ("stdbuf -oL python main.py", ["stdbuf", "-oL"], "python", [], []),
        ("taskset -c 0-3 python main.py", ["taskset", "-c", "0-3"], "python", [], []),
        ("taskset 0x3 python main.py", ["taskset", "0x3"], "python", [], []),
        ("srun --ntasks=2 --pty time python main.py", ["srun", "--ntasks=2", "--pty", "time"],
         "python", [], []),
        ("uv run --with x python main.py", ["uv", "run", "--with", "x"], "python", [], []),
        ("conda run -n env python main.py", ["conda", "run", "-n", "env"], "python", [], []),
        ("python -u -O -X dev -W ignore -B -E -s -I main.py k=v", [], "python",
         ["-u", "-O", "-X", "dev", "-W", "ignore", "-B", "-E", "-s", "-I"], ["k=v"]),
    ],
)
def test_python_commands(
    line: str, launcher: list[str], interp: str, flags: list[str], args: list[str]
) -> None:
    cmd = one(line)
    assert (cmd.launcher, cmd.interpreter, cmd.interpreter_flags) == (launcher, interp, flags)
    assert (cmd.script, cmd.module, cmd.args, cmd.raw) == ("main.py", None, args, line)


def test_python_dash_m_runs_a_module() -> None:
    cmd = one("python -u -m pkg.train lr=1,2")
    assert (cmd.script, cmd.module, cmd.interpreter_flags, cmd.args) == (
        None, "pkg.train", ["-u"], ["lr=1,2"])
    assert one("python -mpkg x=1").module == "pkg"


@pytest.mark.parametrize(
    "line",
    [
        "module load python/3.10",
        "echo python main.py",
        "pip install x",
        "which python",
        "python -c 'import torch; print(torch.cuda.is_available())'",
        "python --version",
        "python -V",
        "python -m pip install -r requirements.txt",
        "python3 -m venv .venv",
        "srun hostname",
        "uv run main.py",
        "python-config --libs",
    ],
)
def test_not_python_commands(line: str) -> None:
    script = parse(f"{line}\npython main.py\n")
    assert len(script.commands) == 1 and script.commands[0].line == 4
    assert script.template_for(0) == ([line], [])


def test_bare_variable_interpreter_is_not_recognized_and_warned() -> None:
    script = parse("$PYTHON train.py x=1\npython main.py\n")
    assert [c.script for c in script.commands] == ["main.py"]
    assert any(w.startswith("job.sh:3: '$PYTHON' is not recognized") for w in script.warnings)


def test_quoted_overrides_are_unquoted_tokens() -> None:
    cmd = one("python main.py 'msg=a b' \"x=[1, 2]\" y=\\$z")
    assert cmd.args == ["msg=a b", "x=[1, 2]", "y=$z"]


def test_trailing_comment_is_not_an_argument() -> None:
    cmd = one("python main.py a=1  # try a=2 too")
    assert cmd.args == ["a=1"] and cmd.raw.endswith("# try a=2 too")
    assert one("python main.py tag=a#b").args == ["tag=a#b"]


def test_dollar_in_argument_is_warned() -> None:
    script = parse("python main.py seed=$SEED\n")
    assert script.commands[0].args == ["seed=$SEED"]
    assert any("'seed=$SEED' contains '$'" in w for w in script.warnings)


# --- setup lines keep their order ----------------------------------------------------------


def test_module_load_python_then_conda_activate_stay_in_order() -> None:
    script = parse("module load python/3.10\nconda activate py311\npython main.py a=1\n")
    assert len(script.commands) == 1
    assert script.template_for(0) == (["module load python/3.10", "conda activate py311"], [])


def test_assignments_cd_and_later_lines_are_kept_in_place() -> None:
    body = "BAR=2\nexport FOO=1\ncd src\n\n# run it\npython main.py\necho done\nsource post.sh\n"
    before, after = parse(body).template_for(0)
    assert before == ["BAR=2", "export FOO=1", "cd src", "", "# run it"]
    assert after == ["echo done", "source post.sh"]


def test_template_for_two_commands_drops_the_other_command() -> None:
    body = "module load cuda\npython a.py x=1\necho between\npython b.py y=2\necho end\n"
    script = parse(body)
    assert script.template_for(0) == (["module load cuda"], ["echo between", "echo end"])
    assert script.template_for(1) == (["module load cuda", "echo between"], ["echo end"])
    assert [ln.kind for ln in script.lines] == [
        "shebang", "directive", "shell", "command", "shell", "command", "shell"]
    assert [ln.command for ln in script.lines if ln.kind == "command"] == [0, 1]
    with pytest.raises(IndexError, match="out of range"):
        script.template_for(2)


def test_if_blocks_and_loops_without_python_are_kept_verbatim() -> None:
    body = 'if [ -n "$X" ]; then\n  echo yes\nfi\nfor f in a b; do echo $f; done\npython m.py\n'
    before, _ = parse(body).template_for(0)
    assert before == ['if [ -n "$X" ]; then', "  echo yes", "fi", "for f in a b; do echo $f; done"]


def test_command_substitution_interpreter_is_not_recognized_and_warned() -> None:
    script = parse("$(which python) train.py\npython main.py\n")
    assert script.template_for(0)[0] == ["$(which python) train.py"]
    assert any("'$(which' is not recognized" in w for w in script.warnings)


def test_python_reading_a_heredoc_is_a_setup_line() -> None:
    script = parse("python - <<EOF\nimport sys\nEOF\npython main.py\n")
    assert script.template_for(0)[0] == ["python - <<EOF\nimport sys\nEOF"]
    assert [ln.number for ln in script.lines] == [1, 2, 3, 6]


def test_unterminated_heredoc_is_warned() -> None:
    script = parse("python main.py\ncat <<END\nstill here\n")
    assert script.template_for(0)[1] == ["cat <<END\nstill here"]
    assert any(w.startswith("job.sh:4: here-document 'END'") for w in script.warnings)


def test_crlf_line_endings() -> None:
    script = parse_batch_script("#!/bin/bash\r\n#OAR -t x\r\npython main.py a=1 \\\r\n b=2\r\n")
    assert script.shebang == "#!/bin/bash" and script.directives[0].text == "-t x"
    assert script.commands[0].args == ["a=1", "b=2"]


def test_heredoc_body_is_kept_and_not_classified() -> None:
    body = "cat > cfg.txt <<-'EOF'\npython notme.py\n\tEOF\npython main.py\n"
    script = parse(body)
    assert [c.script for c in script.commands] == ["main.py"]
    assert script.template_for(0)[0] == ["cat > cfg.txt <<-'EOF'\npython notme.py\n\tEOF"]


# --- continuations -------------------------------------------------------------------------


def test_continuation_lines_are_joined() -> None:
    script = parse("srun \\\n  python main.py x=1,3 \\\n  nested.a=5\necho done\n")
    cmd = script.commands[0]
    assert (cmd.line, cmd.launcher, cmd.args) == (3, ["srun"], ["x=1,3", "nested.a=5"])
    assert cmd.raw == "srun \\\n  python main.py x=1,3 \\\n  nested.a=5"
    assert script.lines[-1].number == 6


def test_continued_setup_line_is_one_verbatim_line() -> None:
    before, _ = parse("export A=1 \\\n  B=2\npython main.py\n").template_for(0)
    assert before == ["export A=1 \\\n  B=2"]


def test_comment_ending_with_backslash_is_not_continued() -> None:
    script = parse("# path C:\\\npython main.py\n")
    assert script.commands[0].line == 4


def test_escaped_backslash_at_end_is_not_a_continuation() -> None:
    script = parse("echo a\\\\\npython main.py\n")
    assert script.template_for(0)[0] == ["echo a\\\\"]


# --- working directory ---------------------------------------------------------------------


def test_cd_tracking_relative_absolute_home() -> None:
    body = ("python a.py\ncd exp\npython b.py\ncd '../other dir'\npython c.py\n"
            "cd /scratch/run\npython d.py\ncd ~/work\npython e.py\n")
    dirs = [c.workdir for c in parse(body).commands]
    assert dirs == ["/proj", "/proj/exp", "/proj/other dir", "/scratch/run",
                    os.path.expanduser("~/work")]


@pytest.mark.parametrize("cd", ["cd $WORK", "cd -", "cd", "cd a b", "cd x && ls", "pushd x",
                                "cd exp*"])
def test_unknown_cd_makes_workdir_unknown(cd: str) -> None:
    script = parse(f"{cd}\npython main.py\ncd /abs\npython main.py\n")
    assert [c.workdir for c in script.commands] == [None, "/abs"]
    assert any(w.startswith("job.sh:3: cannot follow") for w in script.warnings)


def test_cd_inside_if_block_is_not_followed() -> None:
    script = parse("if true; then\n  cd exp\nfi\npython main.py\n")
    assert script.commands[0].workdir is None
    assert any("inside a block" in w for w in script.warnings)


def test_relative_cd_after_unknown_stays_unknown() -> None:
    assert parse("cd $X\ncd sub\npython main.py\n").commands[0].workdir is None


def test_base_dir_defaults(tmp_path: Path) -> None:
    assert parse_batch_script("#OAR -t x\npython m.py\n").base_dir == os.getcwd()
    script = parse_batch_script("#OAR -t x\ncd sub\npython m.py\n", str(tmp_path / "job.sh"))
    assert script.commands[0].workdir == str(tmp_path / "sub")


# --- errors --------------------------------------------------------------------------------


def test_error_type() -> None:
    assert issubclass(BatchScriptError, ValueError) and issubclass(BatchScriptError, MLXPError)


@pytest.mark.parametrize("text", ["", "\n  \n"])
def test_empty_script(text: str) -> None:
    with pytest.raises(BatchScriptError, match=r"^x\.sh: the script is empty"):
        parse_batch_script(text, "x.sh")


def test_no_scheduler_directive() -> None:
    msg = error("python main.py\n", "#!/bin/bash\n")
    assert msg.startswith("job.sh: no scheduler directive found")
    for prefix in ("#SBATCH", "#OAR", "#PBS", "#$", "#MSUB", "#BSUB"):
        assert prefix in msg
    assert "e.g. '#SBATCH --time=01:00:00'" in msg


def test_no_python_command() -> None:
    msg = error("module load python/3.10\necho python\n")
    assert msg.startswith("job.sh: no python command found") and "python main.py" in msg


def test_unterminated_quote() -> None:
    msg = error("echo ok\npython main.py 'msg=a b\n")
    assert msg.startswith("job.sh:4: unterminated quote")


def test_continuation_on_last_line() -> None:
    msg = error("python main.py \\\n  a=1 \\")
    assert msg.startswith("job.sh:4: the last line ends with a continuation backslash")


@pytest.mark.parametrize(
    ("line", "op"),
    [
        ("python main.py | tee log", "'|'"),
        ("python main.py && echo ok", "'&&'"),
        ("echo start; python main.py", "';'"),
        ("python main.py > out.txt", "'>'"),
        ("python main.py 2>&1", "'>&'"),
        ("python main.py &", "'&'"),
        ("python main.py seed=$(date +%s)", "'$(...)'"),
        ("python main.py seed=`date`", "'$(...)'"),
        ("cd exp && python main.py", "'&&'"),
        ("(cd exp; python main.py)", "'('"),
        ("if true; then python main.py; fi", "';'"),
    ],
)
def test_shell_operators_on_a_python_command_are_errors(line: str, op: str) -> None:
    msg = error(f"module load x\n{line}\n")
    assert msg.startswith("job.sh:4: unsupported shell syntax") and op in msg
    assert "python [flags] script.py" in msg


def test_quoted_operators_are_plain_text() -> None:
    assert one("python main.py 'cmd=a|b;c>d'").args == ["cmd=a|b;c>d"]


def test_operators_on_setup_lines_are_fine() -> None:
    body = "nvidia-smi | head -5\nmkdir -p out && cd out\nX=$(python -c 'print(1)')\n"
    script = parse(body + "python main.py\n")
    assert len(script.commands) == 1 and len(script.template_for(0)[0]) == 3


def test_python_command_inside_a_block_is_an_error() -> None:
    msg = error('if [ -n "$X" ]; then\n  python main.py\nfi\n')
    assert msg.startswith("job.sh:4: python command inside an if/for/while/case/function block")


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sh"
    expected = "^" + re.escape(f"{missing}: cannot read the batch script: No such file")
    with pytest.raises(BatchScriptError, match=expected):
        read_batch_script(missing)
    with pytest.raises(BatchScriptError, match="cannot read the batch script"):
        read_batch_script(tmp_path)
    bad = tmp_path / "bin.sh"
    bad.write_bytes(b"#SBATCH -N 1\npython m.py \xff\n")
    with pytest.raises(BatchScriptError, match="cannot read the batch script"):
        read_batch_script(bad)


def test_read_batch_script(tmp_path: Path) -> None:
    path = tmp_path / "run.sh"
    path.write_text(TUTORIAL_OAR)
    script = read_batch_script(path)
    assert script.path == str(path) and script.base_dir == str(tmp_path)
    assert len(script.commands) == 2 and script.commands[0].workdir == str(tmp_path)


def test_results_are_frozen() -> None:
    script = parse("python main.py\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        script.commands[0].script = "other.py"  # type: ignore[misc]
