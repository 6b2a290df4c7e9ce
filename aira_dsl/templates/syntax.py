"""Where a Jinja syntax error is: the line Jinja gives, and the column it does not.

Jinja's ``TemplateSyntaxError`` carries a line number only, and its tokens keep no column. An
editor jump or a caret under ``}`` is much more useful than a bare line, so on the error path
(only there: it costs a second parse) the template is tokenized again with each raw token's
offset recovered, the parser is run over those tokens, and the token it stopped at gives the
column. Lexer errors name the offending text (``unexpected '}'``) or its offset (``unexpected
char '!' at 5``). When nothing reliable is found the column is ``None`` rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from jinja2 import Environment
from jinja2.exceptions import TemplateSyntaxError
from jinja2.lexer import TOKEN_EOF, Token, TokenStream, newline_re
from jinja2.parser import Parser

from aira_dsl.diagnostics import Diagnostic

__all__ = ["syntax_error_position", "syntax_hint", "syntax_message", "template_syntax_diagnostics"]

_AT_OFFSET = re.compile(r" at (\d+)$")
_UNEXPECTED = re.compile(r"^unexpected '(.+?)'")


class _Positions:
    """Offsets of the raw tokens the lexer yields, and of the tokens the parser sees."""

    def __init__(self, source: str):
        self.source = source
        self.cursor = 0
        self.last = 0
        self.of_token: dict[int, int] = {}

    def raw(self, tokens: Iterator[tuple[int, str, str]]) -> Iterator[tuple[int, str, str]]:
        for lineno, kind, value in tokens:
            found = self.source.find(value, self.cursor) if value else -1
            if found >= 0:
                self.last = found
                self.cursor = found + len(value)
            yield lineno, kind, value

    def wrapped(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            self.of_token[id(token)] = len(self.source.rstrip()) if token.type == TOKEN_EOF else self.last
            yield token


def _offset(env: Environment, source: str, name: str | None, exc: TemplateSyntaxError) -> int | None:
    text = "\n".join(newline_re.split(source)[::2])  # Jinja's own newline normalisation
    message = exc.message or ""
    at = _AT_OFFSET.search(message)
    if at and message.startswith("unexpected char"):
        return int(at.group(1))
    positions = _Positions(text)
    lexer = env.lexer
    stream: TokenStream | None = None
    try:
        parser = Parser(env, "", name)  # its own (empty) stream is replaced by the positioned one
        raw = positions.raw(lexer.tokeniter(text, name))
        stream = parser.stream = TokenStream(positions.wrapped(lexer.wrap(raw, name)), name, None)
        parser.parse()
    except TemplateSyntaxError:
        current = stream.current if stream is not None else None
        if message.startswith("Missing end of comment"):
            found = text.rfind("{#", 0, positions.cursor)
            return found if found >= 0 else None
        unexpected = _UNEXPECTED.match(message)
        if unexpected:  # a lexer error (unbalanced brackets): the text it names, after the last token
            found = text.find(unexpected.group(1), positions.cursor)
            if found >= 0:
                return found
        if current is None:  # the very first token failed (the stream was never built)
            return None
        if current.type == TOKEN_EOF:
            return len(text.rstrip())  # the end of the template (TokenStream makes its own EOF token)
        return positions.of_token.get(id(current))
    except Exception:  # a second parse must never turn a syntax error into a crash
        return None
    return None  # pragma: no cover - Jinja raised once, so it raises again


_LONG_QUOTE = re.compile(r"'([^']{48})[^']{16,}'")


def syntax_message(exc: TemplateSyntaxError) -> str:
    """Jinja's message, with a long token it quotes (a 5,000-digit number) cut short: a
    diagnostic is one screen."""
    message = _LONG_QUOTE.sub(lambda match: f"'{match.group(1)}…'", exc.message or "syntax error")
    return message if len(message) <= 400 else message[:399] + "…"


def syntax_error_position(env: Environment, source: str, name: str | None,
                          exc: TemplateSyntaxError) -> tuple[int | None, int | None]:
    """1-based (line, column) of ``exc`` in ``source``; the column is None when not found, and
    a column is only given when it lies on the line Jinja reported."""
    line = exc.lineno
    offset = _offset(env, source, name, exc)
    if offset is None:
        return line, None
    text = "\n".join(newline_re.split(source)[::2])
    found_line = text.count("\n", 0, offset) + 1
    if line is not None and found_line != line:
        return line, None
    return found_line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def template_syntax_diagnostics(source: str, file: str) -> list[Diagnostic]:
    """A ``template-syntax`` error (with line and column) when ``source`` is no valid prompt
    template, else nothing."""
    from aira_dsl.templates.environment import PromptEnvironment

    env = PromptEnvironment()
    try:
        env.parse(source, None, file)
    except TemplateSyntaxError as exc:
        line, col = syntax_error_position(env, source, None, exc)
        return [Diagnostic("template-syntax", syntax_message(exc), file=file, line=line, col=col,
                           hint=syntax_hint(exc.message or "", source))]
    except (RecursionError, ValueError):
        return [Diagnostic("template-syntax", "template is nested too deeply or holds a number too large to read",
                           file=file, line=1)]
    return []


def _opened_on(source: str, block: str) -> int | None:
    """The line of the last ``{% block %}`` tag left open in ``source`` (None: not found)."""
    stack: list[int] = []
    for match in re.finditer(r"\{%[-+]?\s*(end)?(\w+)", source):
        if match.group(2) != block:
            continue
        if match.group(1):
            if stack:
                stack.pop()
        else:
            stack.append(source.count("\n", 0, match.start()) + 1)
    return stack[-1] if stack else None


def syntax_hint(message: str, source: str = "") -> str | None:
    """A hint for the usual Jinja slips (``source`` says where an unclosed block was opened)."""
    if message.startswith("unexpected '}'") and "expected ')'" in message:
        return "close every ( with )"
    if message.startswith("unexpected '}'"):
        return "a single '}' closes nothing: end a value with }} and a tag with %}"
    if "innermost block that needs to be closed" in message:
        block = message.rsplit("is '", 1)[-1].rstrip("'.")
        line = _opened_on(source, block)
        where = f" opened on line {line}" if line else ""
        return f"close the {{% {block} %}}{where} with {{% end{block} %}}"
    if message.startswith("Encountered unknown tag"):
        return "tags are {% if %}, {% for %}, {% set %}, {% include %}, {% macro %}...; write values as {{ ... }}"
    if message.startswith("Missing end of comment"):
        return "close the comment with #}"
    return None
