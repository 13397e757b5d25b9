"""Fast, exact loading of the small YAML files of a run (config, info, metric keys).

PyYAML's ``CSafeLoader`` parses in C but builds nodes and Python objects in Python, about
140 us for an ``info.yaml``. Indexing 10,000 runs reads 30,000 such files, so this module
builds the objects straight from the C parser's events, with a memo of resolved plain
scalars (keys and values repeat from one run to the next). It gives exactly what
``yaml.load(..., CSafeLoader)`` gives: scalars are resolved by PyYAML's own resolver and
constructor; any document using anchors, aliases, explicit tags or merge keys, and any
error, is handed to ``yaml.load`` itself (so errors are PyYAML's, with line and column).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAMLError = yaml.YAMLError

_STR = "tag:yaml.org,2002:str"
_UNSAFE_TAGS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})
_MEMO_MAX = 200_000


class _Fallback(Exception):
    """The document uses a feature the fast path leaves to PyYAML."""


class _Resolver(yaml.SafeLoader):
    """A pure-Python SafeLoader used only for its resolver and scalar constructors."""

    def __init__(self) -> None:
        super().__init__("")


_resolver = _Resolver()
_memo: dict[str, Any] = {}


# first characters for which the resolver has implicit rules (int, float, bool, null, ...);
# a plain scalar starting with any other character is a string
_RESOLVED_FIRST = frozenset(_Resolver.yaml_implicit_resolvers)


def _plain(value: str) -> Any:
    """The Python value of a plain (unquoted) scalar, exactly as SafeLoader resolves it."""
    try:
        return _memo[value]
    except KeyError:
        pass
    if value and value[0] not in _RESOLVED_FIRST and None not in _RESOLVED_FIRST:
        result: Any = value
    elif value.isdigit() and value.isascii() and (value[0] != "0" or value == "0"):
        result = int(value)
    else:
        result = _resolve(value)
    if len(_memo) >= _MEMO_MAX:
        _memo.clear()
    _memo[value] = result
    return result


def _resolve(value: str) -> Any:
    tag = _resolver.resolve(ScalarNode, value, (True, False))
    if tag == _STR:
        return value
    if tag in _UNSAFE_TAGS or tag not in _resolver.yaml_constructors:
        raise _Fallback(tag)
    return _resolver.yaml_constructors[tag](_resolver, ScalarNode(tag, value))


_NOKEY = object()


def _events_to_object(loader: Any) -> Any:
    """Build the single document from the loader's events; _Fallback on anything unusual."""
    get_event = loader.get_event
    containers: list[Any] = []  # the open lists and dicts, innermost last
    keys: list[Any] = []  # for each open container: its pending mapping key (or _NOKEY)
    root: Any = None
    event = get_event()  # StreamStartEvent
    event = get_event()
    if type(event) is not DocumentStartEvent:
        raise _Fallback("no document")
    while True:
        event = get_event()
        cls = type(event)
        if cls is ScalarEvent:
            if event.anchor is not None or event.tag is not None:
                raise _Fallback("tagged or anchored scalar")
            value: Any = _plain(event.value) if event.implicit[0] else event.value
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            if event.anchor is not None or event.tag is not None:
                raise _Fallback("tagged or anchored collection")
            value = {} if cls is MappingStartEvent else []
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            containers.pop()
            keys.pop()
            if containers:
                continue
            break
        else:  # an alias, or something unexpected
            raise _Fallback(cls.__name__)
        if containers:
            top = containers[-1]
            if type(top) is list:
                top.append(value)
            elif keys[-1] is _NOKEY:
                if type(value) is list or type(value) is dict:
                    raise _Fallback("collection used as a mapping key")
                keys[-1] = value
            else:
                top[keys[-1]] = value
                keys[-1] = _NOKEY
        else:
            root = value
        if cls is not ScalarEvent:
            containers.append(value)
            keys.append(_NOKEY)
        elif not containers:
            break  # a document that is a single scalar
    # yaml.load accepts exactly one document
    if type(get_event()) is not DocumentEndEvent or type(get_event()) is not StreamEndEvent:
        raise _Fallback("several documents")
    return root


# ---------------------------------------------------------------------------------------------
# Tier 1: the block-style subset that yaml.dump writes (mappings, sequences, one-line or folded
# plain scalars, one-line quoted scalars, {} and []). Lines are classified once (memo), so a
# line seen in another run costs one dict lookup. Anything else raises _Fallback.

_EMPTY_MAP = ("{}",)
_EMPTY_SEQ = ("[]",)
_KV, _KEY, _ITEM, _SKIP = 0, 1, 2, 3
_KEY_START_BAD = frozenset("-?:,[]{}#&*!|>'\"%@` \t")
_VALUE_START_BAD = frozenset("?:,[]{}#&*!|>%@`\t")
_lines: dict[str, tuple[Any, ...]] = {}


def _scalar(v: str) -> tuple[Any, bool]:
    """(value, plain) of a one-line scalar as written after 'key: ' or '- '."""
    c = v[0]
    if c == "'":
        inner = v[1:-1]
        if len(v) < 2 or v[-1] != "'" or "'" in inner.replace("''", ""):
            raise _Fallback("quoted scalar")
        return inner.replace("''", "'"), False
    if c == '"':
        inner = v[1:-1]
        if len(v) < 2 or v[-1] != '"' or '"' in inner or "\\" in inner:
            raise _Fallback("double-quoted scalar")
        return inner, False
    if v == "{}":
        return _EMPTY_MAP, False
    if v == "[]":
        return _EMPTY_SEQ, False
    if (c in _VALUE_START_BAD or (c == "-" and (len(v) == 1 or v[1] == " ")) or ": " in v
            or " #" in v or "\t" in v or v[-1] == ":"):
        raise _Fallback("plain scalar")
    return _plain(v), True


def _classify(line: str) -> tuple[Any, ...]:
    """(kind, indent, key, value, value is plain and may fold, raw text) of one line."""
    rest = line.lstrip(" ")
    indent = len(line) - len(rest)
    rest = rest.rstrip()
    if not rest or rest[0] == "#":
        return (_SKIP, indent, None, None, False, rest)
    if "\t" in line[:indent + 1] or rest.startswith(("---", "...", "%")):
        raise _Fallback("tab, directive or document marker")
    if rest[0] == "-" and (len(rest) == 1 or rest[1] == " "):
        value = rest[2:].lstrip(" ")
        if not value or (value[0] not in "'\"" and ": " in value) or value.endswith(":"):
            raise _Fallback("nested collection in a sequence")
        obj, plain = _scalar(value)
        return (_ITEM, indent, None, obj, plain, value)
    if rest[0] == "'":
        end = rest.find("':")
        if end < 0:
            raise _Fallback("quoted key")
        key, _ = _scalar(rest[: end + 1])
        after = rest[end + 2 :]
    else:
        end = rest.find(":")
        if end <= 0 or rest[0] in _KEY_START_BAD or " #" in rest[:end] or rest[end - 1] == " ":
            raise _Fallback("not a key line")
        key = _plain(rest[:end])
        after = rest[end + 1 :]
    if not after:
        return (_KEY, indent, key, None, False, "")
    if after[0] != " ":
        raise _Fallback("key followed by ':' without a space")
    value = after.lstrip(" ")
    obj, plain = _scalar(value)
    return (_KV, indent, key, obj, plain, value)


def _fresh(value: Any) -> Any:
    if value is _EMPTY_MAP:
        return {}
    if value is _EMPTY_SEQ:
        return []
    return value


def _fast_load(text: str) -> Any:
    stack: list[tuple[int, Any, bool]] = []  # the enclosing containers (indent, obj, is list)
    top: Any = None  # the innermost open container, its indent, and whether it is a list
    top_ind, top_list = -1, False
    root: Any = None
    pending: Any = None  # (dict, key, indent) of a 'key:' line whose value comes next
    fold_ind = -1  # indent of the last plain scalar line (it may continue on deeper lines)
    fold_obj: Any = None  # its container, key (or index) and text
    fold_key: Any = None
    fold_raw = ""
    fold_parts: Any = None  # its lines, once it does continue
    lines = _lines
    for line in text.split("\n"):
        c = lines.get(line)
        if fold_ind >= 0:
            if c is None:
                raw: Any = line.lstrip(" ")
                indent = len(line) - len(raw)
                raw = raw.rstrip()
            else:
                indent = c[1]
                raw = c[5] if c[0] == _SKIP else None  # None: a content line
            if indent > fold_ind and raw != "":
                # a continuation line of a multi-line plain scalar (folded with a space)
                raw = line.strip()
                if raw[0] == "#" or ": " in raw or " #" in raw or "\t" in raw:
                    raise _Fallback("folded scalar")
                if fold_parts is None:
                    fold_parts = [fold_raw]
                fold_parts.append(raw)
                continue
            if fold_parts is not None:
                fold_obj[fold_key] = _plain(" ".join(fold_parts))
                fold_parts = None
            fold_ind = -1
        if c is None:
            c = _classify(line)
            if len(lines) >= _MEMO_MAX:
                lines.clear()
            lines[line] = c
        kind = c[0]
        if kind == _SKIP:
            continue
        indent = c[1]
        if pending is not None:
            pmap, pkey, pind = pending
            pending = None
            if kind == _ITEM and indent >= pind:
                new: Any = []
            elif kind != _ITEM and indent > pind:
                new = {}
            else:
                new = None
            pmap[pkey] = new
            if new is not None:
                stack.append((top_ind, top, top_list))
                top, top_ind, top_list = new, indent, kind == _ITEM
        if top is None:
            if root is not None or indent != 0:
                raise _Fallback("content after the root collection")
            root = top = [] if kind == _ITEM else {}
            top_ind, top_list = 0, kind == _ITEM
        elif indent != top_ind or (top_list and kind != _ITEM):
            while top is not None and (top_ind > indent or (
                    top_ind == indent and top_list and kind != _ITEM)):
                top_ind, top, top_list = stack.pop() if stack else (-1, None, False)
            if top is None or top_ind != indent:
                raise _Fallback("indentation")
        value = c[3]
        if type(value) is tuple:
            value = _fresh(value)
        if kind == _ITEM:
            if not top_list:
                raise _Fallback("sequence item in a mapping")
            top.append(value)
            if c[4]:
                fold_ind, fold_obj, fold_key, fold_raw = indent, top, len(top) - 1, c[5]
        elif top_list:
            raise _Fallback("mapping key in a sequence")
        elif kind == _KV:
            top[c[2]] = value
            if c[4]:
                fold_ind, fold_obj, fold_key, fold_raw = indent, top, c[2], c[5]
        else:
            pending = (top, c[2], indent)
    if fold_parts is not None:
        fold_obj[fold_key] = _plain(" ".join(fold_parts))
    if pending is not None:
        pending[0][pending[1]] = None
    return root


def load(data: bytes) -> Any:
    """Parse one YAML document; raises ``yaml.YAMLError`` like ``yaml.load`` would."""
    try:
        text = data.decode("utf-8")
        if not text.startswith("\ufeff"):
            return _fast_load(text)
    except (_Fallback, UnicodeDecodeError):
        pass
    loader = Loader(data)
    try:
        return _events_to_object(loader)
    except (_Fallback, YAMLError, TypeError, ValueError):
        pass
    finally:
        loader.dispose()
    return yaml.load(data, Loader=Loader)
