"""Just enough SOQL for the Salesforce sandbox: the queries the adapter issues, parsed strictly.

Supported: ``SELECT f[, Rel.f] FROM Obj [WHERE cond [AND cond]...] [ORDER BY f [ASC|DESC]] [LIMIT n]``
with conditions ``f = | != | < | <= | > | >= literal`` and ``f IN (literal, ...)``; literals are quoted
strings, numbers, ``true``/``false``/``null``, dates and datetimes. Anything else is a ``SoqlError``,
which the sandbox answers as Salesforce does: 400 ``MALFORMED_QUERY``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any


class SoqlError(ValueError):
    """The query is outside the supported subset or malformed."""


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any  # a literal, or a tuple of literals for IN


@dataclass(frozen=True)
class SoqlQuery:
    fields: tuple[str, ...]
    sobject: str
    where: tuple[Condition, ...]
    order_by: str | None
    descending: bool
    limit: int | None


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
      | (?P<date>\d{4}-\d{2}-\d{2})
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)

_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "LIMIT",
    "IN",
    "NULLS",
}


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise SoqlError(f"unexpected token at position {pos}")
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def parse_datetime(text: str) -> datetime:
    """Parse a SOQL/REST datetime (``2024-01-02T03:04:05.000Z``, ``+0000`` or ``+00:00``) to aware UTC."""
    value = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    return datetime.fromisoformat(value).astimezone(UTC)


def _literal(kind: str, text: str) -> Any:
    if kind == "string":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if kind == "datetime":
        return parse_datetime(text)
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "number":
        return float(text) if "." in text else int(text)
    if kind == "word" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if kind == "word" and text.lower() == "null":
        return None
    raise SoqlError(f"expected a literal, got {text!r}")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise SoqlError("unexpected end of query")
        self.pos += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "word" and tok[1].upper() == word:
            self.pos += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise SoqlError(f"expected {word}")

    def name(self) -> str:
        kind, text = self.next()
        if kind != "word" or text.upper() in _KEYWORDS:
            raise SoqlError(f"expected a field or object name, got {text!r}")
        return text

    def parse(self) -> SoqlQuery:
        self.expect_keyword("SELECT")
        fields = [self.name()]
        while self.peek() == ("punct", ","):
            self.next()
            fields.append(self.name())
        self.expect_keyword("FROM")
        sobject = self.name()
        where: list[Condition] = []
        if self.keyword("WHERE"):
            where.append(self.condition())
            while self.keyword("AND"):
                where.append(self.condition())
            tok = self.peek()
            if tok is not None and tok[0] == "word" and tok[1].upper() == "OR":
                raise SoqlError("OR is not supported by the sandbox")
        order_by: str | None = None
        descending = False
        if self.keyword("ORDER"):
            self.expect_keyword("BY")
            order_by = self.name()
            if self.keyword("DESC"):
                descending = True
            else:
                self.keyword("ASC")
        limit: int | None = None
        if self.keyword("LIMIT"):
            kind, text = self.next()
            if kind != "number":
                raise SoqlError("LIMIT needs a number")
            limit = int(text)
        if self.peek() is not None:
            raise SoqlError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return SoqlQuery(tuple(fields), sobject, tuple(where), order_by, descending, limit)

    def condition(self) -> Condition:
        field = self.name()
        if self.keyword("IN"):
            if self.next() != ("punct", "("):
                raise SoqlError("expected ( after IN")
            values = [_literal(*self.next())]
            while self.peek() == ("punct", ","):
                self.next()
                values.append(_literal(*self.next()))
            if self.next() != ("punct", ")"):
                raise SoqlError("expected ) closing IN")
            return Condition(field, "IN", tuple(values))
        kind, op = self.next()
        if kind != "op":
            raise SoqlError(f"expected an operator after {field}")
        return Condition(field, "!=" if op == "<>" else op, _literal(*self.next()))


def parse_soql(text: str) -> SoqlQuery:
    """Parse one query of the supported subset; raise ``SoqlError`` otherwise."""
    return _Parser(text).parse()


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    # Stored datetimes are aware UTC; a date literal compared with a datetime compares by day.
    if isinstance(left, datetime) and isinstance(right, date) and not isinstance(right, datetime):
        return left.date(), right
    if isinstance(left, str) and isinstance(right, str):
        # SOQL string comparison is case-insensitive.
        return left.lower(), right.lower()
    return left, right


def matches(row_value: Any, cond: Condition) -> bool:
    """Whether a stored value satisfies one condition (null never compares except with = / !=)."""
    if cond.op == "IN":
        return any(matches(row_value, Condition(cond.field, "=", v)) for v in cond.value)
    if cond.value is None or row_value is None:
        if cond.op == "=":
            return row_value is None and cond.value is None
        if cond.op == "!=":
            return (row_value is None) != (cond.value is None)
        return False
    left, right = _comparable(row_value, cond.value)
    try:
        if cond.op == "=":
            return bool(left == right)
        if cond.op == "!=":
            return bool(left != right)
        if cond.op == "<":
            return bool(left < right)
        if cond.op == "<=":
            return bool(left <= right)
        if cond.op == ">":
            return bool(left > right)
        if cond.op == ">=":
            return bool(left >= right)
    except TypeError as exc:
        raise SoqlError(f"cannot compare {cond.field} with the given literal") from exc
    raise SoqlError(f"unsupported operator {cond.op}")
