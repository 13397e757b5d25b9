"""The Reader's fast YAML loading gives exactly what yaml.load(CSafeLoader) gives."""

from __future__ import annotations

import datetime
import random
from typing import Any

import pytest
import yaml

from mlxp_core.reader import _yaml

LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DOCS = [
    "", "# only a comment\n", "a: 1", "a", "- 1\n- 2", "a: &x 1\nb: *x", "<<: {a: 1}",
    "a: !!str 1", "a: 010\nb: 0x1F\nc: 1_000\nd: 1:30\ne: .inf\nf: -.Inf\ng: .nan\nh: 1e3\n"
    "i: 1.0e+3\nj: yes\nk: On\nl: ~\nm: 2026-11-26\nn: 2026-11-26T03:51:10.123+00:00\n"
    "o: '010'\np: \"a\\tb\"\nq: |\n  x\n  y\nr: >\n  f\n  g\ns: [1, {a: b}]\nt: {}\nu: []\n"
    "v: null\nw:\n- x: 1\n  y: [2]\n",
    "a: 1\n---\nb: 2\n", "a: [1\n", "a: b: c", "? [1,2]\n: 3", "1: a\ntrue: b\nnull: c\n1.5: d",
    "a: 1\na: 2", "--- 5\n...\n", "x: -\n", "!foo 3", "a: ! 3", "a: x\n  - b\n", "a: x\n- b\n",
    "a:\n- b\nc: 1", "a:\n  b: 1\n c: 2", "a: b  # c", "a: 'x'  # c", "a:\n\n  b: 1", "a:  1  ",
    "'on': 1\nyes: 2", "a b: 1", "a:b: 1", "a: x\n\n  y\n", "a: x\n  # c\n  y", "a: 'it'''\n",
    "a: 'x\n  y'\n", "a:\n  - x\n  - y\nb:\n- z\n", "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n",
    "- a\n-\n", "a: -1\nb: -x\nc: - x\n", "\ufeffa: 1", "a: \"x\"\n", "a:\tb\n",
    "a: x\r\nb: y\r\n", "k: a\n  b\n  c\nz: 1\n", "- aaa\n  bbb\n- c\n", "a:\n- x\n  y\n",
    "a: '1'\n'b': 2\n'c''d': 3\n", "a:   \nb: 1", "a: x #\n", "a: x#y\n", "a: 'x' y\n",
    "a: ''\n", "a: \"\"\n", "\"a\": 1\n", "  a: 1\n", "a: 1\n  b: 2\n", "a:\n  - 1\n   - 2\n",
    "status: COMPLETE\nlog_id: 22\ngit: {commit: [ab",
]


def outcome(load: Any, text: bytes) -> Any:
    try:
        return ("ok", repr(load(text)))
    except yaml.YAMLError as exc:
        return ("error", type(exc).__name__)


@pytest.mark.parametrize("doc", DOCS)
def test_same_as_pyyaml(doc: str) -> None:
    text = doc.encode()
    assert outcome(_yaml.load, text) == outcome(lambda t: yaml.load(t, Loader=LOADER), text)


def _value(rng: random.Random, depth: int) -> Any:
    r = rng.random()
    if depth < 4 and r < 0.25:
        return {_key(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    if depth < 4 and r < 0.35:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    words = ["python", "main.py", "lr=0.1", "a-b", "x:y", "#z", "seed=1", "1e-3", "true", "~"]
    return rng.choice([
        None, True, False, 0, -3, 10**20, 1.5, -2e-9, float("inf"), "yes", "no", "null", "1e3",
        "010", "", " x", "a: b", "- a", "x#y", "a #b", "it's", "é", "line\nbreak", "2026-11-26",
        "1:20", "0x1f", ".5", "True", "~", datetime.datetime(2020, 1, 2, 3, 4, 5),
        datetime.date(2020, 1, 1),
        "".join(rng.choice("ab :#-'\"\\\t\n.,{}[]?&*!|>%@`=~01e+é ") for _ in range(9)),
        "".join(rng.choice("abc xyz-_./:=0123e") for _ in range(rng.randint(0, 60))),
        " ".join(rng.choice(words) for _ in range(rng.randint(1, 40))),
    ])


def _key(rng: random.Random) -> Any:
    return rng.choice(["a", "b-c", "1", "x.y", "true", "null", f"k{rng.randint(0, 50)}",
                       "long key with spaces", 1, 2.5, None, True, "on", "a:b", "-x"])


DUMPS = [
    {"Dumper": getattr(yaml, "CSafeDumper", yaml.SafeDumper)},
    {"Dumper": yaml.SafeDumper, "default_flow_style": None},
    {"Dumper": yaml.SafeDumper, "width": 20},
    {"Dumper": yaml.SafeDumper, "indent": 4, "width": 30, "sort_keys": False},
    {"Dumper": yaml.SafeDumper, "allow_unicode": True},
]


@pytest.mark.parametrize("seed", range(4))
def test_random_documents(seed: int) -> None:
    rng = random.Random(seed)
    fast = 0
    for _ in range(400):
        obj = _value(rng, 0)
        for kwargs in DUMPS:
            text = yaml.dump(obj, **kwargs).encode()
            assert _yaml.load(text) == yaml.load(text, Loader=LOADER) or repr(
                _yaml.load(text)) == repr(yaml.load(text, Loader=LOADER)), text
            try:
                _yaml._fast_load(text.decode())
                fast += 1
            except _yaml._Fallback:
                pass
    assert fast > 100  # the fast path was exercised, not only the fallbacks


def test_folded_plain_scalars_take_the_fast_path() -> None:
    rng = random.Random(7)
    words = ["python", "main.py", "optimizer.lr=0.1", "a-b", "x/y", "seed=1", "--flag"]
    for _ in range(300):
        obj = {"command": " ".join(rng.choice(words) for _ in range(rng.randint(1, 30))),
               "list": [" ".join(rng.choice(words) for _ in range(rng.randint(1, 15)))],
               "n": {"deep": {"x": " ".join(rng.choice(words) for _ in range(20))}}}
        for width in (20, 40, 80):
            text = yaml.dump(obj, Dumper=yaml.SafeDumper, width=width, sort_keys=False)
            assert _yaml._fast_load(text) == yaml.load(text, Loader=LOADER)
