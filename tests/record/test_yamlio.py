"""`mlxp_core.yamlwrite`: what the fast emitter writes loads back to exactly the data given.

Random documents (fixed seeds) mix the scalars a run's records hold with strings built from
the characters YAML treats specially; each is loaded with PyYAML's C and Python safe loaders
and with the Reader's fast loader.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml

from mlxp_core.reader import _yaml as reader_yaml
from mlxp_core.record import yamlio as yamlwrite

CSafe: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TRICKY = [
    "", " ", "a b", "a: b", "a #b", "#", "-", "- x", "?", ":", "'", '"', "\\", "\n", "\t", "\r",
    "\x00", "\x01", "\x1b", "\x7f", "\x85", "\xa0", "\u2028", "\u2029", "\ufeff", "\ufffe",
    "\uffff", "\U0001F600", "é", "日本", "true", "True", "yes", "no", "on", "off", "y",
    "n", "null", "Null", "~", "1", "-1", "0x1f", "0o17", "017", "1_000", "1e3", "1.5", ".5",
    "1:20", "1:20:30.5", ".inf", "-.inf", ".nan", "2026-11-26", "2026-11-26T06:40:00+00:00",
    "<<", "=", "!tag", "&a", "*a", "%", "@", "`", "{a}", "[1]", ",", "x=1", "a,b", "/tmp/x y",
    "...", "---", "a\nb", " lead", "trail ",
]
WORDS = ["x", "lr", "/tmp/logs/5", "SUBMITTED", "x=4", "hydra.mode=RUN", "a-b", "v1.2", "abc"]


def _string(rng: random.Random) -> str:
    pool = TRICKY if rng.random() < 0.3 else WORDS
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, 3)))


def _scalar(rng: random.Random) -> Any:
    kind = rng.randrange(8)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-10**12, 10**12)
    if kind == 2:
        return rng.choice([0.0, -0.0, 0.5, 1e20, 1e-7, 123.456, float(rng.random()), 1e300,
                           -2.5e-300, float("inf") if rng.random() < 0.1 else 2.0])
    return _string(rng)


def _key(rng: random.Random) -> Any:
    if rng.random() < 0.97:
        return rng.choice(["status", "log_id", "a_b", "_x", "A1", "submit", "overrides"])
    return rng.choice(["yes", "null", "1", "a-b", "a.b", "a b", 3])


def _document(rng: random.Random, depth: int = 0) -> dict:
    doc: dict = {}
    for _ in range(rng.randint(1, 6)):
        kind = rng.randrange(6)
        if kind == 0 and depth < 2:
            value: Any = _document(rng, depth + 1) if rng.random() < 0.9 else {}
        elif kind == 1:
            value = [_scalar(rng) for _ in range(rng.randint(0, 3))]
            if rng.random() < 0.05:
                value.append({"nested": 1})
        else:
            value = _scalar(rng)
        doc[_key(rng)] = value
    return doc


def _same(a: Any, b: Any) -> bool:
    """Equality that counts nan as equal to nan."""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("seed", range(8))
def test_random_documents_load_back_exactly(seed: int) -> None:
    rng = random.Random(seed)
    fast = 0
    for _ in range(300):
        doc = _document(rng)
        text = yamlwrite.dump(doc)
        fast += yamlwrite.fast_dump(doc) is not None
        for loaded in (yaml.load(text, Loader=CSafe), yaml.load(text, Loader=yaml.SafeLoader),
                       reader_yaml.load(text.encode())):
            assert _same(loaded, doc), (doc, text)
    assert fast > 100  # the fast path is exercised, not only the fallback


def test_a_run_record_takes_the_fast_path_and_reads_like_yaml_dump() -> None:
    info = {"status": "SUBMITTED", "log_id": 5, "log_dir": "/tmp/logs/5",
            "overrides": ["x=4", "name='a b'", "lr=1e-3"],
            "submit": {"scheduler": "slurm", "job_id": "1234", "array_task_index": 4,
                       "submit_time": "2026-11-26T06:40:00.123456+00:00", "error": None}}
    text = yamlwrite.fast_dump(info)
    assert text == (
        "status: SUBMITTED\nlog_id: 5\nlog_dir: /tmp/logs/5\noverrides:\n- x=4\n"
        "- \"name='a b'\"\n- lr=1e-3\nsubmit:\n  scheduler: slurm\n  job_id: \"1234\"\n"
        "  array_task_index: 4\n  submit_time: \"2026-11-26T06:40:00.123456+00:00\"\n"
        "  error: null\n"
    )
    assert yaml.safe_load(text) == yaml.safe_load(yaml.safe_dump(info, sort_keys=False))


@pytest.mark.parametrize("doc", [
    {"a": float("inf")}, {"a": "\x7f"}, {"a": ["\U0001F600\x85"]},
    {"a": [{"b": 1}]}, {"a": [[1]]}, {1: 2}, {"yes": 1}, {"a-b": 1}, {}, {"a": (1, 2)},
])
def test_what_the_fast_path_leaves_to_pyyaml(doc: dict) -> None:
    assert yamlwrite.fast_dump(doc) is None
    assert _same(yaml.load(yamlwrite.dump(doc), Loader=CSafe), doc if doc != {"a": (1, 2)}
                 else {"a": [1, 2]})
