"""Syntax errors: one readable message, positioned on the offending token, with a hint."""

from __future__ import annotations

import pytest

from aira_dsl.expr import ExprSyntaxError, compile_expression, parse


def syntax_error(source: str) -> ExprSyntaxError:
    with pytest.raises(ExprSyntaxError) as info:
        parse(source)
    return info.value


@pytest.mark.parametrize(("source", "start", "end", "message"), [
    (")", 0, 1, "unexpected ')' — expected a value"),
    ("metric > )", 9, 10, "unexpected ')' — expected a value"),
    ("(metric > 1", 11, 11, "unexpected end of expression — expected ')'"),
    ("metric >", 8, 8, "unexpected end of expression — expected a value"),
    ("metric > 1 )", 11, 12, "unexpected ')' — expected the end of the expression"),
    ("a b", 2, 3, "unexpected name 'b' — expected an operator or the end of the expression"),
    ("min(a b)", 6, 7, "unexpected name 'b' — expected an operator, ',' or ')'"),
    ("min(a,)", 6, 7, "unexpected ')' — expected a value"),
    ("exec.", 5, 5, "unexpected end of expression — expected an attribute name"),
    ("exec.5", 5, 6, "unexpected number 5 — expected an attribute name"),
    ("1 if x", 6, 6, "unexpected end of expression — expected 'else'"),
    ("x if y z", 7, 8, "unexpected name 'z' — expected an operator or 'else'"),
    ("not", 3, 3, "unexpected end of expression — expected a value"),
    ("a and or b", 6, 8, "unexpected 'or' — expected a value"),
    ("if", 0, 2, "unexpected 'if' — expected a value"),
    ("not and", 4, 7, "unexpected 'and' — expected a value"),
    ("x.if", 2, 4, "unexpected 'if' — expected an attribute name"),
    ("else(1)", 0, 4, "unexpected 'else' — expected a value"),
])
def test_unexpected_token_is_positioned(source: str, start: int, end: int, message: str) -> None:
    err = syntax_error(source)
    assert (err.code, err.message, err.start, err.end) == ("expr-syntax", message, start, end)
    assert err.severity == "error"


@pytest.mark.parametrize(("source", "start", "message", "hint_part"), [
    ("metric = 1", 7, "unexpected character '='", "use =="),
    ("a && b", 2, "unexpected character '&'", "'and'"),
    ("a || b", 2, "unexpected character '|'", "'or'"),
    ("!a", 0, "unexpected character '!'", "'not'"),
    ("x[0]", 1, "unexpected character '['", "indexing"),
    ("x ? 1 : 2", 2, "unexpected character '?'", "a if condition else b"),
    ("x # note", 2, "unexpected character '#'", "comments"),
    ("x ^ 2", 2, "unexpected character '^'", "power"),
])
def test_unexpected_characters_get_hints(source: str, start: int, message: str, hint_part: str) -> None:
    err = syntax_error(source)
    assert err.message.startswith(message)
    assert (err.start, err.end) == (start, start + 1)
    assert err.hint is not None and hint_part in err.hint


@pytest.mark.parametrize(("source", "start", "end", "message", "hint_part"), [
    ("a < b < c", 6, 7, "comparisons cannot be chained ('<' after '<')", "a < b and b < c"),
    ("a == b != c", 7, 9, "comparisons cannot be chained ('!=' after '==')", "and"),
    ("30ms", 2, 4, "unexpected name 'ms'", "unit after every number"),
    ("1h30", 1, 4, "unexpected name 'h30'", "1h30m"),
    ("2x", 1, 2, "unexpected name 'x'", "'*'"),
    ("30m1h", 0, 5, "duration 30m1h repeats or reorders its units", "largest first"),
    ("1h1h", 0, 4, "duration 1h1h repeats or reorders its units", "largest first"),
    ("x ** 2", 3, 4, "unexpected '*' — expected a value", "exp(y * log(x))"),
    ("exec.exit_code(1)", 14, 15, "unexpected '('", "bare name"),
    ("x is null", 2, 4, "unexpected name 'is'", "=="),
    ("'abc", 0, 4, "unterminated string", "close the string"),
    ('x == "abc  ', 5, 9, "unterminated string", 'close the string with "'),
    ("'a\\qb'", 2, 4, "unknown escape '\\q' in a string", "known escapes"),
    ("1e999", 0, 5, "number 1e999 is too large", "64-bit"),
    ("(a))", 3, 4, "unexpected ')'", "no matching '('"),
])
def test_common_mistakes(source: str, start: int, end: int, message: str, hint_part: str) -> None:
    err = syntax_error(source)
    assert err.message.startswith(message)
    assert (err.start, err.end) == (start, end)
    assert err.hint is not None and hint_part in err.hint


@pytest.mark.parametrize(("source", "start", "end", "hint"), [
    ("review.metric !== 1", 14, 17, "`!==` is not an operator; use `!=`"),
    ("review.metric === 1", 14, 17, "`===` is not an operator; use `==`"),
    ("review.metric <> 1", 14, 16, "`<>` is not an operator; use `!=`"),
    ("review.metric =! 1", 14, 16, "`=!` is not an operator; use `!=`"),
    ("review.metric => 1", 14, 16, "`=>` is not an operator; use `>=`"),
])
def test_other_languages_comparisons_name_the_right_operator(source: str, start: int, end: int,
                                                             hint: str) -> None:
    """Issue 16: `!==` got the hint "use ==", the fix for `=`; the whole would-be operator is
    underlined and the hint names the operator meant."""
    err = syntax_error(source)
    assert err.message == f"unexpected '{source[start:end]}'"
    assert (err.start, err.end, err.hint) == (start, end, hint)


@pytest.mark.parametrize("source", ["", "   ", "\n\t"])
def test_empty_expression(source: str) -> None:
    err = syntax_error(source)
    assert err.message == "empty expression"
    assert (err.start, err.end) == (0, len(source))


def test_messages_never_leak_lark_internals() -> None:
    for source in ["a = 1", "(", "a b", "x.", "1 +* 2", "min(,)", "'x", "$", "a..b", "if", "else 1"]:
        err = syntax_error(source)
        for leak in ("Token(", "__ANON", "$END", "RPAR", "LPAR", "Expected one of"):
            assert leak not in err.message, (source, err.message)
        assert 0 <= err.start <= err.end <= len(source)


def test_compile_expression_returns_syntax_errors_instead_of_raising() -> None:
    expr, errors = compile_expression("metric >", "fitness.buggy")
    assert expr is None
    assert [(e.code, e.start) for e in errors] == [("expr-syntax", 8)]


@pytest.mark.parametrize(("value", "source"), [(True, "true"), (False, "false"), (3, "3"), (0.5, "0.5")])
def test_yaml_scalars_are_accepted(value: object, source: str) -> None:
    field = "fitness.buggy" if isinstance(value, bool) else "fitness.value"
    expr, errors = compile_expression(value, field)
    assert errors == [] and expr is not None
    assert expr == compile_expression(source, field)[0]


def test_non_text_is_an_error_not_a_crash() -> None:
    expr, errors = compile_expression(["metric"], "fitness.value")
    assert expr is None
    assert errors[0].code == "expr-syntax" and "must be text" in errors[0].message
