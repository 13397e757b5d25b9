"""Errors raised by the Reader, each with a message that says what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from mlxp_core.compat.errors import InvalidKeyError, InvalidMapError
from mlxp_core.errors import MLXPError

__all__ = ["InvalidKeyError", "InvalidMapError", "QueryError", "QuerySyntaxError", "ReaderError",
           "UnknownKeyError"]


class ReaderError(MLXPError):
    """Base class of the Reader's errors."""


class QueryError(ReaderError, ValueError):
    """A query string is invalid; ``position`` is the offending character (0-based)."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.query = query
        self.position = position
        self.reason = message
        pointer = " " * (4 + position) + "^"
        super().__init__(f"{message} (position {position})\n    {query}\n{pointer}")


class QuerySyntaxError(QueryError):
    """The query does not parse."""


class UnknownKeyError(ReaderError, InvalidKeyError):
    """A key (query column, metric log name or metric key) that no run has (a KeyError, and
    MLXP's ``InvalidKeyError``)."""

    def __init__(self, message: str, key: str, candidates: Iterable[str] = ()) -> None:
        self.key = key
        self.candidates = list(candidates)
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0])


def closest(key: str, known: Iterable[str], n: int = 5) -> list[str]:
    """Known keys that look like ``key``: same last part first, then difflib's best matches."""
    known = sorted(set(known))
    tail = key.rsplit(".", 1)[-1]
    same_tail = [k for k in known if k != key and k.rsplit(".", 1)[-1] == tail]
    fuzzy = difflib.get_close_matches(key, known, n=n, cutoff=0.5)
    out: list[str] = []
    for k in same_tail + fuzzy:
        if k not in out:
            out.append(k)
    return out[:n]


def unknown_key_message(what: str, key: str, known: Iterable[str],
                        where: str = "") -> tuple[str, list[str]]:
    """'no run has <what> 'key'<where>; closest: ...' and the list of suggestions."""
    known = list(known)
    near = closest(key, known)
    if near:
        hint = "closest: " + ", ".join(near)
    elif known:
        some = sorted(known)[:10]
        hint = "known: " + ", ".join(some) + (", ..." if len(known) > 10 else "")
    else:
        hint = "there are none"
    return f"no run has {what} '{key}'{where}; {hint}", near
