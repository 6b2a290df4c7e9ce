"""Text to AST with lark's LALR parser, built once, and readable syntax errors.

The grammar lives in ``grammar.lark`` beside this module. The parser is constructed on first
use and cached for the process (its analysed tables between processes, in the user's cache
folder); its callbacks build AST nodes while parsing, so there is no intermediate parse tree
and no recursive tree walk (deep input cannot overflow the stack). :mod:`.parser` is the entry
point: it imports this module (and lark, about 40 ms of a cold start) only for text it has not
parsed before.

Lark's own errors list terminal names; :func:`_syntax_error` turns them into one line such as
"unexpected ')' — expected a value", positioned on the offending token, with a hint for the
usual slips (``=`` for ``==``, ``!==`` and ``<>`` for ``!=``, ``&&``, ``1h30``, unclosed strings).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from aira_dsl.expr.ast import (
    Attribute,
    Binary,
    Bool,
    BoolOp,
    Call,
    Compare,
    Conditional,
    Duration,
    Expr,
    Name,
    Null,
    Number,
    String,
    Unary,
)
from aira_dsl.expr.errors import ExprSyntaxError
from aira_dsl.expr.functions import FUNCTIONS
from aira_dsl.expr.limits import limit_errors, source_error
from aira_dsl.settings.fields import DURATION_PATTERN, duration_seconds

__all__ = ["GRAMMAR_PATH", "parse_text"]

GRAMMAR_PATH = Path(__file__).with_name("grammar.lark")

_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_ESCAPE_HINT = r"known escapes: \\ \' \" \n \t \r \uXXXX"


def _span(token: Token) -> tuple[int, int]:
    start = token.start_pos or 0
    end = token.end_pos if token.end_pos is not None else start + len(token.value)
    return start, end


def _syntax(message: str, start: int, end: int, hint: str | None = None) -> ExprSyntaxError:
    return ExprSyntaxError("expr-syntax", message, start, end, hint)


def _decode_string(token: Token) -> str:
    """The value of a string literal, with escapes decoded (unknown escapes are errors)."""
    body = str(token.value)[1:-1]
    if "\\" not in body:
        return body
    base = (token.start_pos or 0) + 1
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        escape = body[i + 1]  # the grammar guarantees a character after every backslash
        if escape in _ESCAPES:
            out.append(_ESCAPES[escape])
            i += 2
        elif escape == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[i + 2:i + 6]):
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        else:
            raise _syntax(f"unknown escape '\\{escape}' in a string", base + i, base + i + 2,
                          _ESCAPE_HINT)
    return "".join(out)


def _number_value(token: Token) -> int | float:
    text = token.value
    if text.isdigit():
        return int(text)
    value = float(text)
    if not math.isfinite(value):
        start, end = _span(token)
        raise _syntax(f"number {text} is too large", start, end,
                      "numbers must fit a 64-bit float (about 1.8e308)")
    return value


def _duration_seconds(token: Token) -> int | float:
    """Seconds in a ``1h30m``-style token, by the project's one duration definition
    (:data:`aira_dsl.settings.fields.DURATION_PATTERN`). The grammar's token is looser (any
    sequence of parts), so a reordered or repeated unit gets a message rather than a lexer error."""
    start, end = _span(token)
    seconds = duration_seconds(token.value)
    if seconds is not None:
        return seconds
    if re.fullmatch(DURATION_PATTERN, token.value):
        raise _syntax(f"duration {token.value} is too large", start, end)
    if not token.value.isascii():
        raise _syntax(f"duration {token.value} has a digit that is not 0-9", start, end)
    raise _syntax(f"duration {token.value} repeats or reorders its units", start, end,
                  "write each unit once, largest first: 1d2h30m15s")


_KEYWORDS = {"and": "_AND", "or": "_OR", "not": "NOT", "if": "_IF", "else": "_ELSE",
             "true": "TRUE", "false": "FALSE", "null": "NULL"}


def _reserve_keywords(token: Token) -> Token:
    """Lexer callback: a NAME spelled like a keyword is that keyword, wherever it appears.

    The contextual lexer reads ``or`` as a name where no keyword may come (``a and or b``,
    ``x.if``); retyping it makes the parser report it as the unexpected keyword it is.
    """
    kind = _KEYWORDS.get(token.value)
    return token if kind is None else Token.new_borrow_pos(kind, token.value, token)


class _Builder(Transformer[Token, Expr]):
    """Lark callbacks, one per grammar alias, each returning an AST node (stateless)."""

    def conditional(self, ch: list[Any]) -> Expr:
        if_true, condition, if_false = ch
        return Conditional(condition, if_true, if_false, start=if_true.start, end=if_false.end)

    def or_op(self, ch: list[Any]) -> Expr:
        return BoolOp("or", tuple(ch), start=ch[0].start, end=ch[-1].end)

    def and_op(self, ch: list[Any]) -> Expr:
        return BoolOp("and", tuple(ch), start=ch[0].start, end=ch[-1].end)

    def not_op(self, ch: list[Any]) -> Expr:
        token, operand = ch
        return Unary("not", operand, start=_span(token)[0], end=operand.end)

    def compare(self, ch: list[Any]) -> Expr:
        if len(ch) > 3:
            first, second = ch[1].value, ch[3].value
            start, end = _span(ch[3])
            raise _syntax(f"comparisons cannot be chained ('{second}' after '{first}')", start, end,
                          f"write it with 'and': a {first} b and b {second} c")
        left, op, right = ch
        return Compare(op.value, left, right, start=left.start, end=right.end)

    def arith(self, ch: list[Any]) -> Expr:
        left, op, right = ch
        return Binary(op.value, left, right, start=left.start, end=right.end)

    def neg(self, ch: list[Any]) -> Expr:
        token, operand = ch
        start = _span(token)[0]
        if isinstance(operand, Number):  # fold "-3" into a literal
            return Number(-operand.value, start=start, end=operand.end)
        return Unary("-", operand, start=start, end=operand.end)

    def attribute(self, ch: list[Any]) -> Expr:
        value, name = ch
        return Attribute(value, name.value, start=value.start, end=_span(name)[1])

    def number(self, ch: list[Any]) -> Expr:
        start, end = _span(ch[0])
        return Number(_number_value(ch[0]), start=start, end=end)

    def duration(self, ch: list[Any]) -> Expr:
        start, end = _span(ch[0])
        return Duration(_duration_seconds(ch[0]), ch[0].value, start=start, end=end)

    def string(self, ch: list[Any]) -> Expr:
        start, end = _span(ch[0])
        return String(_decode_string(ch[0]), start=start, end=end)

    def true(self, ch: list[Any]) -> Expr:
        start, end = _span(ch[0])
        return Bool(True, start=start, end=end)

    def false(self, ch: list[Any]) -> Expr:
        start, end = _span(ch[0])
        return Bool(False, start=start, end=end)

    def null(self, ch: list[Any]) -> Expr:
        start, end = _span(ch[0])
        return Null(start=start, end=end)

    def name(self, ch: list[Any]) -> Expr:
        start, end = _span(ch[0])
        return Name(ch[0].value, start=start, end=end)

    def call(self, ch: list[Any]) -> Expr:
        name, _lpar, args, rpar = ch
        return Call(name.value, tuple(args or ()), start=_span(name)[0], end=_span(rpar)[1])

    def args(self, ch: list[Any]) -> list[Expr]:
        return list(ch)

    def paren(self, ch: list[Any]) -> Expr:
        lpar, inner, rpar = ch
        node: Expr = replace(inner, start=_span(lpar)[0], end=_span(rpar)[1])
        return node  # the same node, with a span that includes the parentheses


def _table_cache() -> str | bool:
    """Where lark may keep the analysed LALR tables between processes (a private folder).

    Building the tables costs about 70 ms per process, loading them about 10 ms. lark's cache
    is a pickle, so it lives in the user's own cache folder (mode 0700), never in a shared
    temporary folder.
    """
    from aira_dsl.usercache import cache_folder

    folder = cache_folder(tables=True)
    return False if folder is None else str(folder / "expr-grammar.lark-cache")


@functools.cache
def _lark() -> Lark:
    """The LALR parser, built once per process and reused for every parse."""
    return Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr", lexer="contextual",
                transformer=_Builder(), maybe_placeholders=True,
                lexer_callbacks={"NAME": _reserve_keywords}, cache=_table_cache())


# --- error messages --------------------------------------------------------------------------

_VALUE_START = frozenset({"NAME", "NUMBER", "DURATION", "STRING", "TRUE", "FALSE", "NULL",
                          "NOT", "LPAR", "MINUS"})
_OPERATORS = frozenset({"PLUS", "STAR", "SLASH", "PERCENT", "EQ", "NE", "LT", "LE", "GT", "GE",
                        "_AND", "_OR", "_IF"})
_CALLABLE = ", ".join(FUNCTIONS)
_NAME_HINTS = {
    "is": "use == or != to compare",
    "in": "'in' is not part of the language",
    "then": "write a conditional as: a if condition else b",
    "elif": "nest conditionals: a if c1 else (b if c2 else d)",
    "AND": "operators are lower case: and",
    "OR": "operators are lower case: or",
}


def _expected_phrase(expected: set[str]) -> str:
    phrases: list[str] = []
    operator_position = bool(expected & _OPERATORS)
    if expected == {"NAME"}:
        phrases.append("an attribute name")
    elif expected & _VALUE_START and not operator_position:
        phrases.append("a value")
    if operator_position:
        phrases.append("an operator")
    for terminal, phrase in (("_COMMA", "','"), ("RPAR", "')'"), ("_ELSE", "'else'"),
                             ("$END", "the end of the expression")):
        if terminal in expected:
            phrases.append(phrase)
    if not phrases:
        return "something else"
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _describe_token(token: Token) -> str:
    kind, text = token.type, token.value
    if kind == "$END":
        return "end of expression"
    short = text if len(text) <= 24 else text[:21] + "..."
    if kind == "NAME":
        return f"name '{short}'"
    if kind == "NUMBER":
        return f"number {short}"
    if kind == "DURATION":
        return f"duration {short}"
    if kind == "STRING":
        return f"string {short}"
    return f"'{text}'"


def _token_hint(token: Token, expected: set[str], source: str, start: int) -> str | None:
    kind, text = token.type, token.value
    before = source[start - 1] if start > 0 else ""
    if kind == "NAME" and before.isdigit():
        return ("a duration needs a unit after every number (s, m, h, d: 90s, 1h30m); "
                "to multiply, write '*'")
    if kind == "STAR" and before == "*":
        return "there is no power operator; use exp(y * log(x))"
    if kind == "LPAR" and expected & _OPERATORS:
        return f"only these functions can be called, by bare name: {_CALLABLE}"
    if kind == "NAME" and text in _NAME_HINTS:
        return _NAME_HINTS[text]
    if kind in ("NAME", "NUMBER", "STRING", "DURATION", "TRUE", "FALSE", "NULL", "NOT") \
            and expected & _OPERATORS:
        return "two values need an operator between them (and, or, ==, +, ...)"
    if kind == "$END" and "_ELSE" in expected:
        return "a conditional needs both branches: a if condition else b"
    if kind == "$END" and "RPAR" in expected:
        return "close every '(' with ')'"
    if kind == "RPAR" and source[:start + 1].count(")") > source[:start].count("("):
        return "this ')' has no matching '('"
    return None


_CHAR_HINTS = {
    "=": "use == to compare; a single '=' is not an operator",
    "&": "use 'and'",
    "|": "use 'or'",
    "!": "use 'not' (or != to compare)",
    "[": "lists and indexing are not part of the language",
    "]": "lists and indexing are not part of the language",
    "{": "records cannot be written inline; use names from the context",
    "}": "records cannot be written inline; use names from the context",
    "#": "comments are not allowed inside an expression",
    "?": "write a conditional as: a if condition else b",
    ":": "write a conditional as: a if condition else b",
    "^": "there is no power operator; use exp(y * log(x))",
    "`": "write strings with '...' or \"...\"",
}


_OPERATOR_CHARS = "=!<>"
_OPERATOR_FIXES = {"!==": "!=", "===": "==", "=!": "!=", "<>": "!=", "=<": "<=", "=>": ">=", "==>": ">=",
                   "<==": "<=", ">==": ">=", "!===": "!="}


def _operator_run(source: str, pos: int) -> tuple[int, int, str | None]:
    """The run of comparison characters around ``pos`` (``!==`` in ``a !== b``) and, when it is
    a comparison written as another language writes it, the hint naming the operator to use."""
    start = pos
    while start > 0 and source[start - 1] in _OPERATOR_CHARS:
        start -= 1
    end = pos
    while end < len(source) and source[end] in _OPERATOR_CHARS:
        end += 1
    run = source[start:end]
    fix = _OPERATOR_FIXES.get(run)
    if fix is None:
        return start, end, None
    return start, end, f"`{run}` is not an operator; use `{fix}`"


def _acceptable(err: UnexpectedInput, fallback: set[str]) -> set[str]:
    """The terminals that could really come next.

    LALR merges look-ahead sets, so lark's own ``expected`` lists e.g. ')' at the top level;
    asking the interactive parser (error path only) gives the exact set.
    """
    interactive = getattr(err, "interactive_parser", None)
    if interactive is None:
        return fallback
    try:
        return set(interactive.accepts())
    except Exception:  # a callback may reject the simulated input; keep lark's answer
        return fallback


def _syntax_error(err: UnexpectedInput, source: str) -> ExprSyntaxError:
    """One readable, positioned error for whatever lark rejected."""
    if isinstance(err, UnexpectedToken):
        token = err.token
        expected = _acceptable(err, set(err.expected or ()))
        if token.type == "$END":
            start = end = len(source.rstrip())
        else:
            start, end = _span(token)
            if source[start:start + 1] in _OPERATOR_CHARS:
                run_start, run_end, hint = _operator_run(source, start)
                if hint is not None:  # `<>`: lexed as two operators, meant as one
                    return _syntax(f"unexpected '{source[run_start:run_end]}'", run_start, run_end, hint)
        return _syntax(f"unexpected {_describe_token(token)} — expected {_expected_phrase(expected)}",
                       start, end, _token_hint(token, expected, source, start))
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
        char = source[pos] if pos < len(source) else ""
        if char in ("'", '"'):
            return _syntax("unterminated string", pos, len(source.rstrip()),
                           f"close the string with {char} on the same line; "
                           f"write {char} inside it as \\{char}")
        expected = _acceptable(err, set(err.allowed or ()))
        run_start, run_end, hint = _operator_run(source, pos)
        if hint is not None:  # `!==`, `===`, `=>`...: the whole would-be operator, and its fix
            return _syntax(f"unexpected '{source[run_start:run_end]}'", run_start, run_end, hint)
        return _syntax(f"unexpected character {char!r} — expected {_expected_phrase(expected)}",
                       pos, pos + 1, _CHAR_HINTS.get(char))
    fallback: int = getattr(err, "pos_in_stream", None) or len(source)
    return _syntax("syntax error", fallback, fallback)


# --- entry point -----------------------------------------------------------------------------

def parse_text(source: str) -> Expr:
    """Parse expression text (a ``str``) with lark into an untyped AST.

    Raises :class:`ExprSyntaxError` (codes ``expr-syntax`` or ``expr-limit``) with offsets
    into ``source``; never any other exception.
    """
    too_long = source_error(source)
    if too_long is not None:
        raise ExprSyntaxError(too_long.code, too_long.message, too_long.start, too_long.end,
                              too_long.hint)
    if not source.strip():
        raise _syntax("empty expression", 0, len(source), "write a rule such as: metric == null")
    try:
        expr = _lark().parse(source)
    except UnexpectedInput as err:
        raise _syntax_error(err, source) from None
    assert isinstance(expr, Expr)  # the callbacks build AST nodes, never lark trees
    problems = limit_errors(expr)
    if problems:
        first = problems[0]
        raise ExprSyntaxError(first.code, first.message, first.start, first.end, first.hint)
    return expr
