"""YAML I/O of run records, and fast writing of their small YAML files (`info.yaml`,
`mlxp.yaml`, configs).

`yaml.dump` spends about 100 us on an `info.yaml`, in PyYAML's Python representer; a
1,000-job submission writes 1,000 of them. `dump` emits block YAML directly for documents
made of mappings with plain keys, lists and scalars (str, int, float, bool, None) and gives
everything else to `yaml.dump`. What it writes loads back (with PyYAML's safe loaders, C or
Python) to exactly the data given:

* a string is written plain only when it has no YAML indicator and PyYAML's own resolver
  reads it back as a string (so `true`, `1e3`, `2026-01-01`, `null` are quoted);
* otherwise it is double-quoted with JSON escapes, which are YAML escapes too (non-ASCII
  text stays readable; C1 controls and Unicode line separators are escaped); a string that
  JSON cannot escape the YAML way (DEL, surrogates, or a character outside the BMP in a
  string that needs escapes) sends the whole document to `yaml.dump`;
* a finite float is written as PyYAML writes it (`repr`, `1.0e+20` for `1e+20`) when the
  resolver reads that back as a float; `inf` and `nan` go to `yaml.dump`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, List, Optional

import yaml
from yaml.nodes import ScalarNode

from mlxp_core.record.atomic import write_text_atomic

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_STR = "tag:yaml.org,2002:str"
_FLOAT = "tag:yaml.org,2002:float"

_PLAIN = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_/.=+,@%-]*\Z")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# raw in a double-quoted scalar, YAML 1.1 reads these differently (non-printable, line breaks)
_NOT_RAW = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
# \uXXXX-escaped, these would not come back (surrogate pairs, DEL is not escaped by JSON)
_NOT_ESCAPED = re.compile("[\x7f\ud800-\udfff\U00010000-\U0010ffff]")
_resolver = yaml.SafeDumper("")  # only for PyYAML's implicit resolvers (YAML 1.1 rules)
_resolved: dict[str, str] = {}


class _Unsupported(Exception):
    """A value the fast path leaves to `yaml.dump`."""


def _tag(text: str) -> str:
    tag = _resolved.get(text)
    if tag is None:
        tag = _resolver.resolve(ScalarNode, text, (True, False))
        if len(_resolved) < 10_000:
            _resolved[text] = tag
    return tag


def _string(value: str) -> str:
    if _PLAIN.match(value) and _tag(value) == _STR:
        return value
    if not _NOT_RAW.search(value):
        return json.dumps(value, ensure_ascii=False)
    if _NOT_ESCAPED.search(value):
        raise _Unsupported(value)
    return json.dumps(value)


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _string(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float and math.isfinite(value):
        text = repr(value)
        if "." not in text and "e" in text:  # 1e+20: YAML 1.1 wants a dot (1.0e+20)
            text = text.replace("e", ".0e", 1)
        if _tag(text) == _FLOAT:
            return text
    raise _Unsupported(value)


def _key(key: Any) -> str:
    if type(key) is not str or not _KEY.match(key) or _tag(key) != _STR:
        raise _Unsupported(key)
    return key


def _mapping(data: dict, indent: str, out: List[str]) -> None:
    for key, value in data.items():
        head = f"{indent}{_key(key)}:"
        kind = type(value)
        if kind is dict:
            if value:
                out.append(head)
                _mapping(value, indent + "  ", out)
            else:
                out.append(head + " {}")
        elif kind is list:
            if value:
                out.append(head)
                out.extend(f"{indent}- {_scalar(item)}" for item in value)
            else:
                out.append(head + " []")
        else:
            out.append(f"{head} {_scalar(value)}")


def fast_dump(data: Any) -> Optional[str]:
    """The block YAML of `data`, or None when the fast path does not cover it."""
    if type(data) is not dict or not data:
        return None
    out: List[str] = []
    try:
        _mapping(data, "", out)
    except _Unsupported:
        return None
    out.append("")
    return "\n".join(out)


def dump(data: Any) -> str:
    """YAML text of `data` (keys in insertion order), the fast way when possible."""
    text = fast_dump(data)
    if text is None:
        text = str(yaml.dump(data, Dumper=_Dumper, sort_keys=False))
    return text


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Any) -> Any:
    """Load a YAML file with PyYAML's (C) safe loader."""
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)


def write_yaml_atomic(path: Any, data: Any) -> None:
    """Write `data` as YAML to `path` atomically (see `record.atomic`)."""
    write_text_atomic(path, dump(data))
