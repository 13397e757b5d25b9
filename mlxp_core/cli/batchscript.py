"""Parse the batch script given to ``mlxpsub``: directives, python commands and setup lines.

Nothing in the script is executed. Rules (each avoids a defect of MLXP 1.0.5's parser):

* Shebang: a ``#!`` line running sh, bash, dash, ksh or zsh (directly or via ``env``) is kept
  verbatim; none means ``#!/bin/bash``; any other interpreter is an error.
* Directive: a line whose first word is exactly one of :data:`PREFIXES`; its rest is kept. One
  scheduler per script, except that ``#PBS`` lines are accepted in a ``#MSUB`` script (Moab reads
  them): they stay Directives with prefix ``#PBS`` and are rendered with it.
* Backslash continuations are joined before classification (line numbers are the first physical
  line); comment and directive lines are never continued, as in bash. Here-document bodies stay
  with the line that opens them and are not classified.
* Python command: ``[VAR=x] [launchers] python [flags] script.py args`` or ``... python [flags] -m
  module args``. Launchers: srun, mpirun, mpiexec, env, time, nohup, exec, stdbuf, taskset,
  numactl, ``uv|conda|mamba|micromamba|poetry run``. The interpreter is a word whose basename is
  ``python``, ``pythonN`` or ``pythonN.M``; its directory may use variables (``$VENV/bin/python``)
  but a bare variable (``$PYTHON``) is not recognized (warning). No-script forms (``python -c``,
  ``python -``, ``python --version``) and ``python -m`` with one of :data:`SETUP_MODULES` (``pip``)
  are setup lines. Words follow bash's quoting rules (:func:`bash_words`): ``args`` are the
  values bash would pass.
* A python command combined with ``|``, ``;``, ``&&``, ``||``, ``&``, redirections, subshells or
  ``$(...)``/backquotes, or placed inside an if/for/while/case/function block, is an error.
* Every other line is kept verbatim and in order (see :meth:`BatchScript.template_for`).
* ``workdir`` starts at ``base_dir``; a top-level ``cd <literal path>`` moves it (``~`` expanded).
  Any other ``cd``/``pushd``/``popd`` (variable, ``-``, no argument, glob, inside a block or with
  operators) makes it unknown (None, with a warning) until a ``cd`` to an absolute path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from mlxp_core.errors import MLXPError
from mlxp_core.schedulers import DIRECTIVE_PREFIXES as PREFIXES

# `#MLXP key=value` lines set these `hydra.launcher.*` fields (docs/distributed.md): the
# walltime warning, and the walltime where the warning needs it (Grid Engine's s_rt, PBS)
MLXP_PREFIX = "#MLXP"
MLXP_OPTIONS = ("signal_before_walltime_s", "max_requeues", "time")
SETUP_MODULES = frozenset({"pip", "venv", "ensurepip", "virtualenv", "site", "compileall"})
DEFAULT_SHEBANG = "#!/bin/bash"
COMMAND_HELP = "[launcher] python [flags] script.py key=value ... (or python -m module ...)"

_PREFIX_ALTERNATIVES = "|".join(re.escape(p) for p in sorted(PREFIXES, key=len, reverse=True))
_DIRECTIVE_RE = re.compile(f"({_PREFIX_ALTERNATIVES})" + r"(?:\s+(.*))?")
_ASSIGN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_PY_RE = re.compile(r"python(?:\d+(?:\.\d+)?)?")
_HEREDOC_RE = re.compile(r"(-?)\s*\\?(['\"]?)([A-Za-z0-9_.-]+)\2")
_OPS = "|&;<>()"
_SHELLS = frozenset({"sh", "bash", "dash", "ksh", "zsh"})
_LAUNCHERS = frozenset(
    {"srun", "mpirun", "mpiexec", "env", "time", "nohup", "exec", "stdbuf", "taskset", "numactl"}
)
_RUNNERS = frozenset({"uv", "conda", "mamba", "micromamba", "poetry"})
_KEYWORDS = frozenset({"!", "{", "if", "then", "do", "else", "elif", "while", "until"})
_OPEN = frozenset({"if", "for", "while", "until", "case", "select", "{", "function"})
_CLOSE = frozenset({"fi", "done", "esac", "}"})
_Match = tuple[list[str], str, list[str], Optional[str], Optional[str], list[str]]


class BatchScriptError(MLXPError, ValueError):
    """The batch script cannot be submitted; the message starts with ``<path>[:<line>]:``."""


@dataclass(frozen=True)
class Directive:
    prefix: str  # e.g. "#SBATCH"; "#PBS" lines of a "#MSUB" script keep "#PBS"
    text: str  # the rest of the line, stripped
    line: int


@dataclass(frozen=True)
class PythonCommand:
    line: int  # first physical line
    launcher: list[str]  # words before the interpreter, e.g. ["srun"], ["CUDA_VISIBLE_DEVICES=0"]
    interpreter: str  # as written: "python3", "/opt/venv/bin/python"
    interpreter_flags: list[str]  # e.g. ["-u", "-X", "dev"]
    script: str | None  # None for "python -m module"
    module: str | None
    args: list[str]  # unquoted program arguments (Hydra overrides)
    workdir: str | None  # absolute directory the command runs from; None if unknown
    raw: str  # the verbatim physical line(s)


@dataclass(frozen=True)
class ScriptLine:
    number: int  # first physical line
    text: str  # verbatim; several physical lines for continuations and here-documents
    kind: str  # "shebang", "directive", "command" or "shell"
    command: int | None = None  # index into BatchScript.commands for kind "command"


@dataclass(frozen=True)
class BatchScript:
    path: str
    shebang: str
    scheduler: str  # "slurm", "oar", "torque", "sge", "mwm" or "lsf"
    prefix: str  # the scheduler's directive prefix, e.g. "#OAR"
    directives: list[Directive]
    commands: list[PythonCommand]
    lines: list[ScriptLine]
    base_dir: str
    warnings: list[str] = field(default_factory=list)
    # `#MLXP key=value` lines: mlxp launcher settings (MLXP_OPTIONS), as written
    options: dict[str, str] = field(default_factory=dict)

    def template_for(self, k: int) -> tuple[list[str], list[str]]:
        """The "shell" lines (setup lines, comments, blanks) before and after command ``k``.

        Order is kept; the shebang, the directives and every other python command are left out,
        so each job runs exactly its own command between the same setup lines.
        """
        if not 0 <= k < len(self.commands):
            raise IndexError(f"command index {k} out of range: {len(self.commands)} commands")
        at = next(i for i, ln in enumerate(self.lines) if ln.command == k)
        shell = [(i, ln.text) for i, ln in enumerate(self.lines) if ln.kind == "shell"]
        return [t for i, t in shell if i < at], [t for i, t in shell if i > at]


def _error(path: str, line: int | None, msg: str) -> BatchScriptError:
    return BatchScriptError(f"{path}:{line}: {msg}" if line else f"{path}: {msg}")


@dataclass
class _Scan:
    segments: list[str]  # the line cut at top-level operators, comment removed
    ops: list[str]
    heredocs: list[tuple[str, bool]]  # (delimiter, strip leading tabs)
    subst: bool  # $(...) or `...`
    unterminated: bool


def _scan(line: str) -> _Scan:
    """Cut one logical line at top-level shell operators, honouring quotes and escapes."""
    segs: list[str] = []
    cur: list[str] = []
    scan = _Scan(segs, [], [], False, False)
    quote, depth, i = "", 0, 0
    while i < len(line):
        c = line[i]
        if quote != "'" and c == "\\":
            cur.append(line[i : i + 2])
            i += 2
            continue
        if quote:
            quote = "" if c == quote[-1] else quote  # "$'" (ANSI-C) ends at "'"
            scan.subst |= quote == '"' and (c == "`" or line.startswith("$(", i))
        elif line.startswith("$'", i):
            quote, i = "$'", i + 2
            cur.append("$'")
            continue
        elif c in "'\"`":
            quote, scan.subst = c, scan.subst or c == "`"
        elif c == "#" and (i == 0 or line[i - 1] in " \t" + _OPS):
            break
        elif line.startswith("$(", i):
            scan.subst, depth, i = True, depth + 1, i + 2
            cur.append("$(")
            continue
        elif depth and c in "()":
            depth += 1 if c == "(" else -1
        elif c in _OPS:
            j = i
            while j < len(line) and line[j] in _OPS:
                j += 1
            scan.ops.append(line[i:j])
            segs.append("".join(cur))
            cur = []
            doc = _HEREDOC_RE.match(line, j) if line[i:j] == "<<" else None
            if doc:
                scan.heredocs.append((doc.group(3), doc.group(1) == "-"))
            i = j
            continue
        cur.append(c)
        i += 1
    segs.append("".join(cur))
    scan.unterminated = bool(quote) or depth > 0
    return scan


_DQ_ESCAPABLE = "$`\"\\\n"  # what a backslash escapes inside double quotes (bash)
_ANSI_C = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
           "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}
_ANSI_NUM = re.compile(r"([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{1,4})|U([0-9A-Fa-f]{1,8})"
                       r"|c(.)", re.S)


def _ansi_c(body: str) -> str:
    """The value of bash's `$'...'` (ANSI-C quoting) body."""
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 == len(body):
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ANSI_C:
            out.append(_ANSI_C[nxt])
            i += 2
            continue
        m = _ANSI_NUM.match(body, i + 1)
        if m is None:
            out.append(body[i : i + 2])  # unknown escape: kept as written
            i += 2
            continue
        octal, hex2, u4, u8, ctl = m.groups()
        if ctl is not None:
            out.append(chr(ord(ctl.upper()) ^ 0x40) if ctl != "?" else "\x7f")
        else:
            out.append(chr(int(octal, 8) & 0xFF) if octal else chr(int(hex2 or u4 or u8, 16)))
        i = m.end()
    return "".join(out)


def bash_words(text: str) -> list[str]:
    """Split `text` into words with bash's quoting rules (no expansion is performed).

    Unlike `shlex.split`, inside double quotes a backslash is removed only before `$`,
    `` ` ``, `"`, `\\` or a newline (`"a=\\$x"` is `a=$x`, `"a\\b"` stays `a\\b`), and
    `$'...'` / `$"..."` quoting is understood. ValueError on an unterminated quote.
    """
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\n":
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
            i += 1
            continue
        in_word = True
        if c == "\\":
            if i + 1 < n and text[i + 1] != "\n":
                cur.append(text[i + 1])
            i += 2
        elif c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise ValueError("no closing quotation")
            cur.append(text[i + 1 : end])
            i = end + 1
        elif c == "$" and text.startswith("$'", i):
            j = i + 2
            while j < n and text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise ValueError("no closing quotation")
            cur.append(_ansi_c(text[i + 2 : j]))
            i = j + 1
        elif c == '"' or (c == "$" and text.startswith('$"', i)):
            j = i + (2 if c == "$" else 1)
            while True:
                if j >= n:
                    raise ValueError("no closing quotation")
                d = text[j]
                if d == '"':
                    break
                if d == "\\" and j + 1 < n and text[j + 1] in _DQ_ESCAPABLE:
                    if text[j + 1] != "\n":
                        cur.append(text[j + 1])
                    j += 2
                    continue
                cur.append(d)
                j += 1
            i = j + 1
        else:
            cur.append(c)
            i += 1
    if in_word:
        words.append("".join(cur))
    return words


def _is_python(word: str) -> bool:
    return _PY_RE.fullmatch(word.rsplit("/", 1)[-1]) is not None


def _skip_options(toks: list[str], i: int) -> int:
    """Skip a launcher's options; an option without '=' may take the next word as its value."""
    while i < len(toks) and toks[i].startswith("-"):
        i += 1
        if "=" not in toks[i - 1] and toks[i:] and toks[i][:1] != "-" and not _is_python(toks[i]):
            i += 1
    return i


def _skip_launchers(toks: list[str]) -> int:
    i = 0
    while i < len(toks) and not _is_python(toks[i]):
        word = toks[i]
        if _ASSIGN_RE.match(word) or word in _KEYWORDS:
            i += 1
        elif word in _RUNNERS and toks[i + 1 : i + 2] == ["run"]:
            i = _skip_options(toks, i + 2)
        elif word in _LAUNCHERS:
            i = _skip_options(toks, i + 1)
            if word == "taskset" and toks[i:] and not _is_python(toks[i]):
                i += 1  # the CPU mask
        else:
            break
    return i


def _match_python(toks: list[str]) -> _Match | None:
    """Return ``(launcher, interpreter, flags, script, module, args)``, or None if no command."""
    i = _skip_launchers(toks)
    if i >= len(toks) or not _is_python(toks[i]):
        return None
    j, flags = i + 1, []
    while j < len(toks) and toks[j].startswith("-") and toks[j] != "-":
        tok = toks[j]
        if tok.startswith("-c"):
            return None  # python -c '...': no script to submit
        if tok.startswith("-m"):
            module = tok[2:] or (toks[j + 1] if j + 1 < len(toks) else "")
            if not module or module.split(".")[0] in SETUP_MODULES:
                return None
            return toks[:i], toks[i], flags, None, module, toks[j + (1 if tok[2:] else 2) :]
        width = 2 if tok in ("-X", "-W", "--check-hash-based-pycs") else 1
        flags.extend(toks[j : j + width])
        j += width
    if j >= len(toks) or toks[j] == "-":
        return None
    return toks[:i], toks[i], flags, toks[j], None, toks[j + 1 :]


def _shebang(first: str, path: str) -> str | None:
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if words and os.path.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    if not words or os.path.basename(words[0]) not in _SHELLS:
        raise _error(path, 1, f"unsupported shebang {first.strip()!r}; mlxpsub reads shell "
                     "scripts: use #!/bin/bash, #!/usr/bin/env bash or #!/bin/sh")
    return first.rstrip()


class _Parser:
    def __init__(self, path: str, base_dir: str, phys: list[str]) -> None:
        self.path, self.base_dir, self.phys = path, base_dir, phys
        self.cwd: str | None = base_dir
        self.depth, self.seen_code = 0, False
        self.directives: list[Directive] = []
        self.commands: list[PythonCommand] = []
        self.lines: list[ScriptLine] = []
        self.warnings: list[str] = []
        self.options: dict[str, str] = {}

    def warn(self, line: int, msg: str) -> None:
        self.warnings.append(f"{self.path}:{line}: {msg}")

    def run(self, p: int) -> None:
        while p < len(self.phys):
            first, text = p, self.phys[p]
            p += 1
            if not text.strip() or text.lstrip().startswith("#"):
                self.comment(first + 1, text)
                continue
            while (len(text) - len(text.rstrip("\\"))) % 2:  # odd: a continuation
                if p >= len(self.phys):
                    raise _error(self.path, p, "the last line ends with a continuation backslash"
                                 " but no line follows; remove the trailing '\\'")
                text, p = text[:-1] + self.phys[p], p + 1
            scan = self.code(first + 1, text, "\n".join(self.phys[first:p]))
            for delim, tabs in scan.heredocs:  # only on shell lines: commands reject '<<'
                while p < len(self.phys) and (self.phys[p].lstrip("\t") if tabs
                                              else self.phys[p]) != delim:
                    p += 1
                if p == len(self.phys):
                    self.warn(first + 1, f"here-document {delim!r} is not terminated")
                p = min(p + 1, len(self.phys))
                self.lines[-1] = ScriptLine(first + 1, "\n".join(self.phys[first:p]), "shell")

    def comment(self, num: int, text: str) -> None:
        if text.strip().split(None, 1)[:1] == [MLXP_PREFIX]:
            self.mlxp_directive(num, text)
            return
        m = _DIRECTIVE_RE.fullmatch(text.strip())
        if m and self.seen_code:
            self.warn(num, f"directive {text.strip()!r} after the first command (the scheduler "
                      "would ignore it; mlxpsub applies it)")
        if m:
            self.directives.append(Directive(m.group(1), (m.group(2) or "").strip(), num))
        self.lines.append(ScriptLine(num, text, "directive" if m else "shell"))

    def mlxp_directive(self, num: int, text: str) -> None:
        """`#MLXP key=value ...`: launcher settings the scheduler's directives cannot say."""
        for word in text.strip().split()[1:]:
            key, eq, value = word.partition("=")
            if key not in MLXP_OPTIONS or not eq or not value:
                raise _error(self.path, num, f"{word!r} is not an mlxp directive; write "
                             f"'{MLXP_PREFIX} key=value' with key one of "
                             f"{', '.join(MLXP_OPTIONS)}, e.g. "
                             f"'{MLXP_PREFIX} signal_before_walltime_s=120'")
            self.options[key] = value
        self.lines.append(ScriptLine(num, text, "mlxp"))

    def code(self, num: int, joined: str, raw: str) -> _Scan:
        self.seen_code = True
        scan = _scan(joined)
        try:
            if scan.unterminated:
                raise ValueError
            toks = [bash_words(seg) for seg in scan.segments]
        except ValueError:
            raise _error(self.path, num, "unterminated quote or $( on this line; close it on the"
                         " same line or continue the line with a trailing backslash") from None
        found = [_match_python(t) for t in toks]
        if any(found) and (scan.ops or scan.subst):
            bad = ", ".join(repr(o) for o in dict.fromkeys(scan.ops + ["$(...)"] * scan.subst))
            raise _error(self.path, num, f"unsupported shell syntax {bad} on a python command "
                         f"line; write the command alone: {COMMAND_HELP}, without pipes, ';', "
                         "'&&', '||', '&', redirections, subshells or substitutions")
        match = found[0]
        if match and self.depth:
            raise _error(self.path, num, "python command inside an if/for/while/case/function "
                         "block; mlxpsub submits each python command as its own job, so put it "
                         f"on a top-level line: {COMMAND_HELP}")
        if match:
            for arg in (a for a in match[5] if "$" in a):
                self.warn(num, f"argument {arg!r} contains '$'; mlxpsub does not expand it")
            self.lines.append(ScriptLine(num, raw, "command", len(self.commands)))
            self.commands.append(PythonCommand(num, *match, workdir=self.cwd, raw=raw))
        else:
            self.shell(num, joined.strip(), toks, bool(scan.ops))
            self.lines.append(ScriptLine(num, raw, "shell"))
        return scan

    def shell(self, num: int, text: str, toks: list[list[str]], ops: bool) -> None:
        head = toks[0][0] if toks[0] else ""
        if re.search(r"[$`]", head) and any(t.endswith(".py") for t in toks[0][1:]):
            self.warn(num, f"{head!r} is not recognized as a python interpreter, so this line "
                      f"is a setup line; to submit it write: {COMMAND_HELP}")
        heads = {t[i] for t in toks if (i := _skip_launchers(t)) < len(t)}
        if heads & {"cd", "pushd", "popd"}:
            self.cd(num, text, toks[0], ops)
        delta = sum((t[0] in _OPEN) - (t[0] in _CLOSE) for t in toks if t)
        self.depth = max(0, self.depth + delta)

    def cd(self, num: int, text: str, words: list[str], ops: bool) -> None:
        target = words[1] if not ops and words[:1] == ["cd"] and len(words) == 2 else "-"
        target = os.path.expanduser(target)
        known = not target.startswith("-") and not re.search(r"[$`*?\[]", target)
        if known and not self.depth and (os.path.isabs(target) or self.cwd is not None):
            self.cwd = os.path.normpath(os.path.join(self.cwd or "/", target))
            return
        why = "inside a block" if self.depth else "not a plain 'cd <path>'"
        self.cwd = None
        self.warn(num, f"cannot follow {text!r} ({why}); the working directory of the python "
                  "commands after it is unknown")


def parse_batch_script(text: str, path: str = "<script>", base_dir: str | None = None
                       ) -> BatchScript:
    """Parse a batch script; ``base_dir`` defaults to the script's directory (cwd for ``<...>``)."""
    if not text.strip():
        raise _error(path, None, "the script is empty; expected a shebang, scheduler directives "
                     f"such as '#SBATCH --time=01:00:00' and a python command: {COMMAND_HELP}")
    if base_dir is None:
        base_dir = os.getcwd() if path.startswith("<") else os.path.dirname(os.path.abspath(path))
    phys = [ln.rstrip("\r") for ln in text.split("\n")]
    if phys[-1] == "":
        phys.pop()
    shebang = _shebang(phys[0], path)
    parser = _Parser(path, os.path.abspath(os.path.expanduser(base_dir)), phys)
    if shebang:
        parser.lines.append(ScriptLine(1, phys[0], "shebang"))
    parser.run(1 if shebang else 0)
    firsts: dict[str, int] = {}
    for d in parser.directives:
        firsts.setdefault(d.prefix, d.line)
    if not firsts:
        raise _error(path, None, f"no scheduler directive found; add lines starting with one of "
                     f"{', '.join(PREFIXES)} and a space, e.g. '#SBATCH --time=01:00:00'")
    families = [p for p in firsts if not (p == "#PBS" and "#MSUB" in firsts)]
    if len(families) > 1:
        a, b = families[:2]
        raise _error(path, firsts[b], f"mixed scheduler directives: {a!r} (first at line "
                     f"{firsts[a]}) and {b!r} (first at line {firsts[b]}); use one scheduler's "
                     "prefix (only #PBS lines may join #MSUB ones)")
    if not parser.commands:
        raise _error(path, None, "no python command found; a command line looks like "
                     f"'python main.py lr=0.1,0.01', in general: {COMMAND_HELP}")
    return BatchScript(path, shebang or DEFAULT_SHEBANG, PREFIXES[families[0]], families[0],
                       parser.directives, parser.commands, parser.lines, parser.base_dir,
                       parser.warnings, parser.options)


def read_batch_script(path: Union[str, os.PathLike[str]], base_dir: str | None = None
                      ) -> BatchScript:
    """Read (UTF-8) and parse the batch script at ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise _error(os.fspath(path), None, f"cannot read the batch script: {reason}") from exc
    return parse_batch_script(text, os.fspath(path), base_dir)
