"""Split a Hydra app's command line into flags and overrides (without Hydra internals).

Hydra's own argument parser is private, so this mirrors its flag table: which flags take a
value, and which ones only inspect the app (and therefore must not start runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

# flags that take a value (next word, or --flag=value)
VALUE_FLAGS = {
    "-cp": "config_path", "--config-path": "config_path",
    "-cn": "config_name", "--config-name": "config_name",
    "-cd": "config_dir", "--config-dir": "config_dir",
    "-p": "package", "--package": "package",
    "-c": "cfg", "--cfg": "cfg",
    "--experimental-rerun": "experimental_rerun",
}
# flags whose value is optional (`--info` or `--info plugins`)
OPTIONAL_VALUE_FLAGS = {"-i": "info", "--info": "info"}
BOOL_FLAGS = {
    "-h": "help", "--help": "help", "--hydra-help": "hydra_help", "--version": "version",
    "-m": "multirun", "--multirun": "multirun", "-r": "resolve", "--resolve": "resolve",
    "--run": "run", "-sc": "shell_completion", "--shell-completion": "shell_completion",
}
INSPECTION = {"help", "hydra_help", "version", "cfg", "info", "shell_completion"}
INFO_TOPICS = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


@dataclass
class Args:
    flags: Dict[str, Optional[str]] = field(default_factory=dict)
    overrides: List[str] = field(default_factory=list)
    flag_words: List[str] = field(default_factory=list)  # the flags as typed, values included

    @property
    def inspects(self) -> bool:
        """True when the command only shows something (--help, --cfg, --info ...)."""
        return bool(INSPECTION & self.flags.keys())


def split_args(argv: List[str]) -> Args:
    args = Args()
    i = 0
    while i < len(argv):
        word = argv[i]
        name, eq, inline = word.partition("=")
        if word.startswith("-") and name in VALUE_FLAGS:
            args.flag_words.append(word)
            if eq:
                args.flags[VALUE_FLAGS[name]] = inline
            else:
                args.flags[VALUE_FLAGS[name]] = argv[i + 1] if i + 1 < len(argv) else None
                args.flag_words += argv[i + 1:i + 2]
                i += 1
        elif word in OPTIONAL_VALUE_FLAGS:
            topic = argv[i + 1] if i + 1 < len(argv) and argv[i + 1] in INFO_TOPICS else None
            args.flags[OPTIONAL_VALUE_FLAGS[word]] = topic
            args.flag_words += [word, topic] if topic else [word]
            i += 1 if topic else 0
        elif word in BOOL_FLAGS:
            args.flags[BOOL_FLAGS[word]] = None
            args.flag_words.append(word)
        else:
            args.overrides.append(word)
        i += 1
    return args
