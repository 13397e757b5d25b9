"""The query language of Reader.filter, on in-memory columns (no files)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mlxp_core.reader.errors import QuerySyntaxError, UnknownKeyError
from mlxp_core.reader.query import compile_query, tokenize

COLUMNS: dict[str, list[Any]] = {
    "log_id": [1, 2, 3, 4, 5, 6],
    "config.seed": [1, 2, True, None, 1.0, 3],
    "config.lr": [1e-3, 0.01, 0.1, 1.0, float("nan"), None],
    "config.name": ["sgd", "adam", "sgd", None, "SGD", "it's"],
    "config.flag": [True, False, None, 1, 0, True],
    "config.train-frac": [0.9, 0.9, 0.8, None, 0.9, 0.9],
    "config.odd key": [1, 2, 3, 4, 5, 6],
    "config.other": [1, 3, 3, None, 0, 6],
}


def match(query: str) -> list[int]:
    mask = compile_query(query, list(COLUMNS))(COLUMNS.__getitem__, 6)
    return [i for i, keep in zip(COLUMNS["log_id"], mask) if keep]


@pytest.mark.parametrize(("query", "want"), [
    ("config.seed == 1", [1, 5]),  # 1 == 1.0, but not True
    ("config.seed == true", [3]),
    ("config.seed == True", [3]),
    ("config.flag == TRUE", [1, 6]),
    ("config.flag == false", [2]),
    ("config.flag == 1", [4]),
    ("config.seed != 1", [2, 3, 6]),  # missing (4) is not "different"
    ("~(config.seed == 1)", [2, 3, 4, 6]),  # ... but is "not equal"
    ("not config.seed == 1", [2, 3, 4, 6]),
    ("config.seed == None", [4]),
    ("config.seed == null", [4]),
    ("config.seed != none", [1, 2, 3, 5, 6]),
    ("config.lr == None", [5, 6]),  # NaN counts as missing
    ("config.lr < 1e-2", [1]),
    ("config.lr <= 1E-2", [1, 2]),
    ("config.lr == .1", [3]),
    ("config.lr == 1.", [4]),
    ("config.lr > -inf & config.lr < inf", [1, 2, 3, 4]),
    ("config.lr >= +0.1", [3, 4]),
    ("config.seed > 1", [2, 6]),  # True is not a number here
    ("config.name == 'sgd'", [1, 3]),
    ('config.name == "SGD"', [5]),
    ("config.name == 'it\\'s'", [6]),
    ("config.name > 'b'", [1, 3, 6]),  # strings compare as strings
    ("config.name > 1", []),  # a string and a number never compare
    ("config.seed in [1, 3]", [1, 5, 6]),
    ("config.seed in [true]", [3]),
    ("config.seed in [None, 2]", [2, 4]),
    ("config.seed in [2,]", [2]),
    ("config.seed in []", []),
    ("config.seed not in [1, 3]", [2, 3]),
    ("config.seed not in [None, 1]", [2, 3, 6]),
    ("config.train-frac == 0.9", [1, 2, 5, 6]),
    ("`config.odd key` >= 5", [5, 6]),
    ("`config.train-frac` < 0.9", [3]),
    ("0.01 < config.lr", [3, 4]),
    ("1 == config.seed", [1, 5]),
    ("config.seed == config.other", [1]),
    ("config.seed < config.other", [2, 6]),
    ("config.seed == 1 | config.seed == 2 & config.lr > 0.1", [1, 5]),
    ("(config.seed == 1 | config.seed == 2) & config.lr < 0.1", [1, 2]),
    ("config.seed == 1 or config.seed == 2 and config.lr < 0.1", [1, 2, 5]),
    ("~~(config.seed == 2)", [2]),
    ("~(config.seed == 1) & ~(config.seed == 2)", [3, 4, 6]),
    ("  ", [1, 2, 3, 4, 5, 6]),
    ("log_id>=5", [5, 6]),
    ("config.lr>-1", [1, 2, 3, 4]),
])
def test_semantics(query: str, want: list[int]) -> None:
    assert match(query) == want


def test_numbers() -> None:
    texts = "1 -2 +3 1.5 1e3 1E-3 .5 5. -1e+2 inf -inf".split()
    values = [tokenize(f"a == {text}")[2].value for text in texts]
    assert values == [1, -2, 3, 1.5, 1000.0, 0.001, 0.5, 5.0, -100.0, math.inf, -math.inf]
    assert [type(v) for v in values[:3]] == [int, int, int]


@pytest.mark.parametrize(("query", "position", "fragment"), [
    ("config.seed = 1", 12, "use '=='"),
    ("config.seed == ", 15, "unexpected end of query"),
    ("config.seed", 11, "expected a comparison"),
    ("config.seed == 1 config.lr == 2", 17, "combine conditions with & or |"),
    ("(config.seed == 1", 17, "')' to close the '(' at position 0"),
    ("config.seed == 1)", 16, "unexpected ')'"),
    ("config.seed == 'abc", 15, "unterminated string"),
    ("config.seed in 1", 15, "'[' to start the list"),
    ("config.seed in [1 2]", 18, "expected ',' or ']'"),
    ("config.seed in [config.lr]", 16, "expected a value in the list"),
    ("config.seed == 1e", 15, "invalid number"),
    ("config.seed == 12abc", 15, "invalid number"),
    ("config.seed < None", 14, "None/null can only be compared with == or !="),
    ("config.seed == 1 & & config.lr > 0", 19, "expected a key or a value"),
    ("config.seed != 1 !", 17, "unexpected character '!'"),
    ("config.seed not config.lr", 16, "expected 'in' after 'not'"),
    ("`config.seed == 1", 0, "unterminated `quoted key`"),
    ("config.seed == 1 $", 17, "unexpected character '$'"),
])
def test_syntax_errors_give_the_position(query: str, position: int, fragment: str) -> None:
    with pytest.raises(QuerySyntaxError) as err:
        match(query)
    assert err.value.position == position
    assert fragment in err.value.reason
    _, shown, caret = str(err.value).splitlines()
    assert shown == "    " + query
    assert caret.index("^") == 4 + position


def test_unknown_keys() -> None:
    with pytest.raises(UnknownKeyError) as err:
        match("config.sed == 1")
    assert err.value.key == "config.sed"
    assert err.value.candidates[0] == "config.seed"
    assert "position 0" in str(err.value)
    with pytest.raises(UnknownKeyError) as err:
        match("log_id > 1 & lr < 1")
    assert "config.lr" in err.value.candidates and "position 13" in str(err.value)
    with pytest.raises(UnknownKeyError, match="there are none"):
        compile_query("a.b == 1", [])
    assert isinstance(err.value, KeyError)  # usable with `except KeyError`


def test_a_query_is_a_string() -> None:
    with pytest.raises(TypeError):
        compile_query(3, ["a"])  # type: ignore[arg-type]
