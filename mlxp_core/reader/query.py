"""The query language of ``Reader.filter``: a tokenizer and a recursive-descent parser.

Grammar (lowest precedence first)::

    query      := [or]
    or         := and (('|' | 'or') and)*
    and        := not (('&' | 'and') not)*
    not        := ('~' | 'not') not | '(' or ')' | comparison
    comparison := operand ('==' | '!=' | '<' | '<=' | '>' | '>=') operand
                | operand ['not'] 'in' '[' [literal (',' literal)* [',']] ']'
    operand    := key | literal
    key        := name ('.' part)*        name: [A-Za-z_][A-Za-z0-9_-]*, part: [A-Za-z0-9_-]+
                | `any text`              (backquotes: a key with other characters)
    literal    := number ('1', '-2', '1.5', '1e-3', '.5', 'inf') | 'string' | "string"
                | true | false | None | null   (case-insensitive)

Semantics (value by value, in Python, not pandas):
* ``==`` compares numbers with numbers (``1 == 1.0``), strings with strings, booleans with
  booleans only (``config.seed == true`` does not match ``seed: 1``); other pairs are unequal.
* ``<``, ``<=``, ``>``, ``>=`` order numbers with numbers and strings with strings; any other
  pair is False.
* A missing value (key absent from that run, YAML null, or NaN) makes every comparison False,
  including ``!=`` and ``not in``, except ``key == None`` (True) and ``key != None`` (False).
  ``~(key == 1)`` is True for a run without the key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Callable, NamedTuple, Union

from mlxp_core.reader.errors import QuerySyntaxError, UnknownKeyError, unknown_key_message

Mask = list[bool]
Columns = Callable[[str], Sequence[Any]]
Node = Callable[[Columns, int], Mask]

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*")
_WORDS = {"true": True, "false": False, "none": None, "null": None}
_KEYWORDS = frozenset({"and", "or", "not", "in"})
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "&", "|", "~", "(", ")", "[", "]", ",")
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


class Token(NamedTuple):
    kind: str  # 'key', 'lit', 'op', 'end'
    value: Any
    pos: int
    text: str


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
            continue
        if c in "'\"":
            value, end = _string(query, i)
            tokens.append(Token("lit", value, i, query[i:end]))
            i = end
            continue
        if c == "`":
            end = query.find("`", i + 1)
            if end < 0:
                raise QuerySyntaxError("unterminated `quoted key`", query, i)
            tokens.append(Token("key", query[i + 1 : end], i, query[i : end + 1]))
            i = end + 1
            continue
        m = _NUMBER.match(query, i)
        if m and (c.isdigit() or c == "." or (c in "+-" and _can_be_sign(tokens))):
            end = m.end()
            if end < n and (query[end].isalnum() or query[end] in "_."):
                raise QuerySyntaxError(f"invalid number '{query[i:end + 1]}'", query, i)
            text = m.group()
            value: Any = float(text) if any(ch in text for ch in ".eE") else int(text)
            tokens.append(Token("lit", value, i, text))
            i = end
            continue
        if c in "+-" and _can_be_sign(tokens) and query[i + 1 : i + 4].lower() == "inf":
            tokens.append(Token("lit", -math.inf if c == "-" else math.inf, i, query[i : i + 4]))
            i += 4
            continue
        m = _NAME.match(query, i)
        if m:
            word = m.group()
            low = word.lower()
            if low in _WORDS:
                tokens.append(Token("lit", _WORDS[low], i, word))
            elif low == "inf":
                tokens.append(Token("lit", math.inf, i, word))
            elif low in _KEYWORDS:
                tokens.append(Token("op", low, i, word))
            else:
                tokens.append(Token("key", word, i, word))
            i = m.end()
            continue
        op = next((o for o in _OPERATORS if query.startswith(o, i)), None)
        if op is None:
            hint = "; use '==' to compare" if c == "=" else ""
            hint = "; use '!=' or '~'" if c == "!" else hint
            raise QuerySyntaxError(f"unexpected character '{c}'{hint}", query, i)
        tokens.append(Token("op", {"&": "and", "|": "or", "~": "not"}.get(op, op), i, op))
        i += len(op)
    tokens.append(Token("end", None, n, "end of query"))
    return tokens


def _can_be_sign(tokens: list[Token]) -> bool:
    """A '+'/'-' starts a number unless it follows a value (there is no arithmetic)."""
    return not tokens or tokens[-1].kind == "op"


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


def _string(query: str, start: int) -> tuple[str, int]:
    quote = query[start]
    out = []
    i = start + 1
    while i < len(query):
        c = query[i]
        if c == "\\" and i + 1 < len(query):
            out.append(_ESCAPES.get(query[i + 1], "\\" + query[i + 1]))
            i += 2
        elif c == quote:
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise QuerySyntaxError("unterminated string", query, start)


# ---------------------------------------------------------------------------------------------
# Value semantics


def _missing(v: Any) -> bool:
    return v is None or (type(v) is float and v != v)


def _kind(v: Any) -> str:
    t = type(v)
    if t is bool:
        return "bool"
    if t is int or t is float or (isinstance(v, (int, float)) and not isinstance(v, bool)):
        return "num"
    if isinstance(v, str):
        return "str"
    return "other"


def _eq(a: Any, b: Any) -> bool:
    """Typed equality of two present values."""
    ka = _kind(a)
    if ka != _kind(b) or (ka == "other" and type(a) is not type(b)):
        return False
    return bool(a == b)


def _order(op: str) -> Callable[[Any, Any], bool]:
    import operator

    fn = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]

    def compare(a: Any, b: Any) -> bool:
        ka = _kind(a)
        return ka in ("num", "str") and ka == _kind(b) and bool(fn(a, b))

    return compare


# ---------------------------------------------------------------------------------------------
# Parser: builds a closure that computes the boolean mask over all rows


class Operand(NamedTuple):
    key: Union[str, None]  # None for a literal
    value: Any
    token: Token

    def values(self, columns: Columns, n: int) -> Sequence[Any]:
        return columns(self.key) if self.key is not None else [self.value] * n


class _Parser:
    def __init__(self, query: str, keys: Sequence[str]) -> None:
        self.query = query
        self.known = set(keys)
        self.keys = keys
        self.tokens = tokenize(query)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, message: str, tok: Token) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.query, tok.pos)

    def expect(self, op: str, what: str) -> Token:
        tok = self.take()
        if tok.kind != "op" or tok.value != op:
            raise self.error(f"expected {what}, found '{tok.text}'", tok)
        return tok

    def parse(self) -> Node:
        if self.peek().kind == "end":
            return lambda columns, n: [True] * n
        node = self.parse_or()
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(f"unexpected '{tok.text}' after a complete condition "
                             "(combine conditions with & or |)", tok)
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.peek().kind == "op" and self.peek().value == "or":
            self.take()
            node = _combine(node, self.parse_and(), any)
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.peek().kind == "op" and self.peek().value == "and":
            self.take()
            node = _combine(node, self.parse_not(), all)
        return node

    def parse_not(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.value == "not":
            self.take()
            inner = self.parse_not()
            return lambda columns, n: [not x for x in inner(columns, n)]
        if tok.kind == "op" and tok.value == "(":
            self.take()
            node = self.parse_or()
            self.expect(")", f"')' to close the '(' at position {tok.pos}")
            return node
        return self.parse_comparison()

    def parse_operand(self) -> Operand:
        tok = self.take()
        if tok.kind == "key":
            if tok.value not in self.known:
                message, near = unknown_key_message("the key", tok.value, self.keys)
                hint = ""
                if tok.value.split(".", 1)[0] not in ("config", "info"):
                    hint = (" (query keys are the columns of the result: config.*, info.*, "
                            "log_id, log_dir, problems; metrics are read with reader.metrics)")
                err = UnknownKeyError(
                    f"{message}{hint} (position {tok.pos})\n    {self.query}\n"
                    f"{' ' * (4 + tok.pos)}^", tok.value, near)
                raise err
            return Operand(tok.value, None, tok)
        if tok.kind == "lit":
            return Operand(None, tok.value, tok)
        if tok.kind == "end":
            raise self.error("unexpected end of query: expected a key or a value", tok)
        raise self.error(f"expected a key or a value, found '{tok.text}'", tok)

    def parse_comparison(self) -> Node:
        left = self.parse_operand()
        tok = self.take()
        if tok.kind == "op" and tok.value == "not":
            nxt = self.take()
            if nxt.kind != "op" or nxt.value != "in":
                raise self.error(f"expected 'in' after 'not', found '{nxt.text}'", nxt)
            return self.parse_in(left, negate=True)
        if tok.kind == "op" and tok.value == "in":
            return self.parse_in(left, negate=False)
        if tok.kind != "op" or tok.value not in _COMPARISONS:
            what = f"'{left.token.text}'"
            found = "the end of the query" if tok.kind == "end" else f"'{tok.text}'"
            raise self.error(f"expected a comparison (==, !=, <, <=, >, >=, in) after {what}, "
                             f"found {found}", tok)
        right = self.parse_operand()
        return _comparison(tok.value, left, right, self)

    def parse_in(self, left: Operand, negate: bool) -> Node:
        self.expect("[", "'[' to start the list after 'in'")
        items: list[Any] = []
        while True:
            tok = self.take()
            if tok.kind == "op" and tok.value == "]":
                break
            if tok.kind != "lit":
                raise self.error(f"expected a value in the list, found '{tok.text}'", tok)
            items.append(tok.value)
            sep = self.take()
            if sep.kind == "op" and sep.value == "]":
                break
            if sep.kind != "op" or sep.value != ",":
                raise self.error(f"expected ',' or ']' in the list, found '{sep.text}'", sep)
        has_none = any(x is None for x in items)
        present = [x for x in items if x is not None]

        def node(columns: Columns, n: int) -> Mask:
            out = []
            for v in left.values(columns, n):
                if _missing(v):
                    out.append(has_none and not negate)
                else:
                    hit = any(_eq(v, x) for x in present)
                    out.append(hit != negate)
            return out

        return node


def _combine(a: Node, b: Node, how: Callable[[Any], bool]) -> Node:
    if how is all:
        return lambda columns, n: [x and y for x, y in zip(a(columns, n), b(columns, n))]
    return lambda columns, n: [x or y for x, y in zip(a(columns, n), b(columns, n))]


def _comparison(op: str, left: Operand, right: Operand, parser: _Parser) -> Node:
    if left.key is None and right.key is not None:  # 3 < key: put the key first
        left, right = right, left
        op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
    right_none = right.key is None and right.value is None
    if right_none or (left.key is None and left.value is None):
        if op not in ("==", "!="):
            tok = right.token if right_none else left.token
            raise parser.error(f"None/null can only be compared with == or != (not {op})", tok)
        other = left if right_none else right
        want_missing = op == "=="
        return lambda columns, n: [_missing(v) == want_missing for v in other.values(columns, n)]
    if op in ("==", "!="):
        negate = op == "!="

        def equal(columns: Columns, n: int) -> Mask:
            out = []
            for a, b in zip(left.values(columns, n), right.values(columns, n)):
                if _missing(a) or _missing(b):
                    out.append(False)
                else:
                    out.append(_eq(a, b) != negate)
            return out

        return equal
    compare = _order(op)

    def ordered(columns: Columns, n: int) -> Mask:
        return [not _missing(a) and not _missing(b) and compare(a, b)
                for a, b in zip(left.values(columns, n), right.values(columns, n))]

    return ordered


def compile_query(query: str, keys: Sequence[str]) -> Node:
    """Parse ``query`` against the known ``keys``; returns ``f(columns, n) -> mask``.

    Raises QuerySyntaxError (with the position) or UnknownKeyError (with the closest keys).
    """
    if not isinstance(query, str):
        raise TypeError(f"a query is a string, got {type(query).__name__}")
    return _Parser(query, keys).parse()
