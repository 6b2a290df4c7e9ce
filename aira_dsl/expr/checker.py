"""Type checking of an expression against its field's context.

The checker walks a parsed tree once, giving every node its type and collecting every problem
it finds (not just the first): unknown names or attributes (with "did you mean"), operands of
the wrong type, calls with the wrong number or type of arguments, and a result that does not fit
the field (``buggy`` must be a boolean). A node that fails gets type ``any`` so one mistake is
reported once, not again by every enclosing operator.

Null rules (docs/expressions.md, "Null"): nullable numbers are allowed in arithmetic and
comparisons; ``and``/``or``/``not`` and conditions take booleans or nullable booleans (Kleene
logic); ``/``, ``%`` and ``log`` may produce null (division by zero, log of x <= 0); functions
other than ``coalesce`` give null when an argument is null.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aira_dsl.diagnostics import Severity
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
    dotted_name,
    with_type,
)
from aira_dsl.expr.contexts import FieldSpec, build_context, field_spec
from aira_dsl.expr.errors import ExprError
from aira_dsl.expr.functions import FUNCTIONS
from aira_dsl.expr.limits import limit_errors
from aira_dsl.expr.types import (
    ANY,
    BOOL,
    NULL,
    NUMBER,
    STRING,
    ListType,
    Nullable,
    OpenRecordType,
    Prim,
    RecordType,
    Type,
    assignable,
    describe,
    nullable,
    strip_null,
    unify,
)

__all__ = ["check", "typecheck"]

_PYTHON_SPELLINGS = {"True": "true", "False": "false", "None": "null", "nil": "null",
                     "TRUE": "true", "FALSE": "false", "NULL": "null"}
_NULL_DEFAULTS = {"bool": "false", "number": "0", "string": "''"}


def _may_be_null(types: Iterable[Type]) -> bool:
    """Whether any of ``types`` is null or nullable (``any`` is taken optimistically)."""
    return any(t == NULL or isinstance(t, Nullable) for t in types)


def _is_boolish(t: Type) -> bool:
    return strip_null(t) == BOOL or t in (NULL, ANY)


def _is_numeric(t: Type) -> bool:
    return strip_null(t) == NUMBER or t in (NULL, ANY)


def _nonzero_literal(node: Expr) -> bool:
    return isinstance(node, Number | Duration) and (
        node.value if isinstance(node, Number) else node.seconds) != 0


def _suggest(word: str, candidates: Iterable[str]) -> list[str]:
    return difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)


def _did_you_mean(options: list[str]) -> str:
    quoted = [f"'{o}'" for o in options]
    if len(quoted) == 1:
        return f"did you mean {quoted[0]}?"
    return "did you mean " + ", ".join(quoted[:-1]) + " or " + quoted[-1] + "?"


def _what(node: Expr) -> str:
    """How messages name an operand: its dotted path if it has one."""
    path = dotted_name(node)
    return path if path is not None else "this value"


def _example(node: Expr) -> str:
    """How hints write an operand in an example: its path, or ``(...)``."""
    path = dotted_name(node)
    return path if path is not None else "(...)"


class _Checker:
    """One checking pass; collects errors in ``self.errors``."""

    def __init__(self, context: RecordType, spec: FieldSpec) -> None:
        self.context = context
        self.spec = spec
        self.errors: list[ExprError] = []
        self._visit: dict[type, Callable[[Any], Expr]] = {
            Number: lambda n: with_type(n, NUMBER),
            Duration: lambda n: with_type(n, NUMBER),
            String: lambda n: with_type(n, STRING),
            Bool: lambda n: with_type(n, BOOL),
            Null: lambda n: with_type(n, NULL),
            Name: self._name,
            Attribute: self._attribute,
            Unary: self._unary,
            Binary: self._binary,
            Compare: self._compare,
            BoolOp: self._boolop,
            Conditional: self._conditional,
            Call: self._call,
        }

    # -- helpers ---------------------------------------------------------------------------

    def error(self, code: str, message: str, node: Expr, hint: str | None = None, *,
              start: int | None = None, end: int | None = None,
              severity: Severity = Severity.ERROR) -> None:
        self.errors.append(ExprError(code, message, node.start if start is None else start,
                                     node.end if end is None else end, hint, severity))

    def visit(self, node: Expr) -> Expr:
        return self._visit[type(node)](node)

    def _type(self, node: Expr) -> Type:
        return node.type if node.type is not None else ANY

    # -- names -----------------------------------------------------------------------------

    def _name(self, node: Name) -> Expr:
        entry = self.context.get(node.name)
        if entry is not None:
            return with_type(node, entry.type)
        self.error("expr-unknown-name", f"unknown name '{node.name}'", node,
                   self._name_hint(node.name))
        return with_type(node, ANY)

    def _name_hint(self, name: str) -> str:
        if name in _PYTHON_SPELLINGS:
            return f"did you mean '{_PYTHON_SPELLINGS[name]}'? Literals are lower case"
        if name in self.spec.excluded:
            return f"{self.spec.name} defines {name}, so it cannot use it"
        if name in FUNCTIONS:
            return f"{name} is a function: call it, e.g. {FUNCTIONS[name].signature}"
        available = self.context.names()
        homes = [f"{entry.name}.{name}" for entry in self.context.fields
                 if isinstance(entry.type, RecordType) and entry.type.get(name) is not None]
        if homes:
            return _did_you_mean(homes)
        close = _suggest(name, available)
        prefix = _did_you_mean(close) + " " if close else ""
        return f"{prefix}names available in {self.spec.name}: {', '.join(available)}"

    def _attribute(self, node: Attribute) -> Expr:
        value = self.visit(node.value)
        vt = self._type(value)
        attr_start = node.end - len(node.attr)
        result: Type = ANY
        if isinstance(vt, RecordType):
            entry = vt.get(node.attr)
            if entry is not None:
                result = entry.type
            else:
                names = vt.names()
                close = _suggest(node.attr, names)
                listing = f"{vt.name} has: {', '.join(names)}" if names else \
                    f"{vt.name} is empty in this spec"
                hint = (_did_you_mean(close) + " " if close else "") + listing
                self.error("expr-unknown-name", f"{vt.name} has no attribute '{node.attr}'", node,
                           hint, start=attr_start)
        elif isinstance(vt, OpenRecordType):
            result = vt.value
        elif vt != ANY:
            self.error("expr-type", f"cannot read attribute '{node.attr}' of {describe(vt)}", node,
                       "only records (exec, review, node, ...) have attributes", start=attr_start)
        return Attribute(value, node.attr, start=node.start, end=node.end, type=result)

    # -- operators -------------------------------------------------------------------------

    def _unary(self, node: Unary) -> Expr:
        operand = self.visit(node.operand)
        t = self._type(operand)
        result: Type = ANY
        if node.op == "not":
            if _is_boolish(t):
                result = BOOL if t in (BOOL, ANY) else nullable(BOOL)
            else:
                self.error("expr-type", f"'not' needs a boolean, this is {describe(t)}", operand,
                           self._bool_hint(t, operand))
        elif _is_numeric(t):
            result = t
        else:
            self.error("expr-type", f"'-' needs a number, this is {describe(t)}", operand)
        return Unary(node.op, operand, start=node.start, end=node.end, type=result)

    def _bool_hint(self, t: Type, node: Expr) -> str | None:
        base = strip_null(t)
        if base == NUMBER:
            return f"compare it explicitly, e.g. {_example(node)} != 0"
        if base == STRING:
            return f"compare it explicitly, e.g. {_example(node)} != ''"
        if isinstance(base, RecordType) and base.fields:
            return f"use one of its fields, e.g. {base.name}.{base.fields[0].name}"
        return None

    def _boolop(self, node: BoolOp) -> Expr:
        operands = tuple(self.visit(o) for o in node.operands)
        ok = True
        for operand in operands:
            t = self._type(operand)
            if not _is_boolish(t):
                ok = False
                self.error("expr-type", f"'{node.op}' needs booleans, this is {describe(t)}",
                           operand, self._bool_hint(t, operand))
        types = [self._type(o) for o in operands]
        result: Type = (nullable(BOOL) if _may_be_null(types) else BOOL) if ok else ANY
        return BoolOp(node.op, operands, start=node.start, end=node.end, type=result)

    def _binary(self, node: Binary) -> Expr:
        left, right = self.visit(node.left), self.visit(node.right)
        lt, rt = self._type(left), self._type(right)
        result: Type = ANY
        if node.op == "+" and STRING in (strip_null(lt), strip_null(rt)):
            result = self._concat(node, left, right)
        else:
            bad = [o for o in (left, right) if not _is_numeric(self._type(o))]
            for operand in bad:
                extra = " (or two strings)" if node.op == "+" else ""
                self.error("expr-type",
                           f"'{node.op}' needs numbers{extra}, this is {describe(self._type(operand))}",
                           operand)
            if not bad:
                if ANY in (lt, rt):
                    result = ANY if node.op == "+" else nullable(NUMBER)
                elif NULL in (lt, rt):
                    result = NULL
                else:
                    may_fail = node.op in ("/", "%") and not _nonzero_literal(right)
                    result = nullable(NUMBER) if may_fail or _may_be_null((lt, rt)) else NUMBER
        return Binary(node.op, left, right, start=node.start, end=node.end, type=result)

    def _concat(self, node: Binary, left: Expr, right: Expr) -> Type:
        for operand in (left, right):
            t = self._type(operand)
            if strip_null(t) != STRING and t not in (NULL, ANY):
                self.error("expr-type", f"'+' joins two strings, this is {describe(t)}", operand,
                           "numbers and strings cannot be added together")
                return ANY
        return nullable(STRING) if _may_be_null((self._type(left), self._type(right))) else STRING

    def _compare(self, node: Compare) -> Expr:
        left, right = self.visit(node.left), self.visit(node.right)
        lt, rt = self._type(left), self._type(right)
        lb, rb = strip_null(lt), strip_null(rt)
        result: Type = BOOL
        if node.op in ("==", "!="):
            if NULL in (lt, rt):
                self._null_comparison(node, left, right)
            elif ANY not in (lb, rb):
                comparable = (BOOL, NUMBER, STRING)
                if lb not in comparable or rb not in comparable:
                    self.error("expr-type", f"cannot compare {describe(lb)} with {describe(rb)}",
                               node, "compare their fields instead")
                    result = ANY
                elif lb != rb:
                    always = "false" if node.op == "==" else "true"
                    self.error("expr-type",
                               f"comparing {describe(lb)} with {describe(rb)} is always {always}",
                               node, "compare values of the same type")
                    result = ANY
        else:
            for operand, t in ((left, lt), (right, rt)):
                if t == NULL:
                    self.error("expr-type", f"'{node.op}' with null is always false", operand,
                               "test for null with == null or != null")
                    result = ANY
                elif strip_null(t) not in (NUMBER, STRING, ANY):
                    self.error("expr-type",
                               f"'{node.op}' orders numbers or strings, this is {describe(t)}",
                               operand)
                    result = ANY
            if result == BOOL and ANY not in (lb, rb) and lb != rb:
                self.error("expr-type", f"cannot order {describe(lb)} against {describe(rb)}", node)
                result = ANY
        return Compare(node.op, left, right, start=node.start, end=node.end, type=result)

    def _null_comparison(self, node: Compare, left: Expr, right: Expr) -> None:
        other = right if self._type(left) == NULL else left
        t = self._type(other)
        if t not in (NULL, ANY) and not isinstance(t, Nullable):
            outcome = "false" if node.op == "==" else "true"
            self.error("expr-redundant", f"{_what(other)} is never null, so this is always {outcome}",
                       node, severity=Severity.WARNING)

    def _conditional(self, node: Conditional) -> Expr:
        if_true = self.visit(node.if_true)
        condition = self.visit(node.condition)
        if_false = self.visit(node.if_false)
        ct = self._type(condition)
        if not _is_boolish(ct):
            self.error("expr-type", f"the condition must be a boolean, this is {describe(ct)}",
                       condition, self._bool_hint(ct, condition))
        tt, ft = self._type(if_true), self._type(if_false)
        result = unify(tt, ft)
        if result is None:
            self.error("expr-type",
                       f"the two branches differ: {describe(tt)} and {describe(ft)}", node,
                       "make both branches the same type")
            result = ANY
        return Conditional(condition, if_true, if_false, start=node.start, end=node.end,
                           type=result)

    # -- calls -----------------------------------------------------------------------------

    def _call(self, node: Call) -> Expr:
        args = tuple(self.visit(a) for a in node.args)
        typed = Call(node.func, args, start=node.start, end=node.end, type=ANY)
        spec = FUNCTIONS.get(node.func)
        name_end = node.start + len(node.func)
        if spec is None:
            close = _suggest(node.func, FUNCTIONS)
            hint = (_did_you_mean(close) + " " if close else "") + \
                f"available functions: {', '.join(FUNCTIONS)}"
            self.error("expr-unknown-name", f"unknown function '{node.func}'", node, hint,
                       end=name_end)
            return typed
        count = len(args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            self.error("expr-arity",
                       f"{spec.name} takes {spec.arity_text()}, got {count}", node,
                       f"usage: {spec.signature}")
            return typed
        types = [self._type(a) for a in args]
        if node.func == "coalesce":
            return Call(node.func, args, start=node.start, end=node.end,
                        type=self._coalesce(args, types))
        if node.func == "len":
            t = types[0]
            if not (isinstance(strip_null(t), ListType) or strip_null(t) == STRING
                    or t in (NULL, ANY)):
                self.error("expr-type", f"len needs a string or a list, this is {describe(t)}",
                           args[0])
                return typed
        else:
            bad = [a for a, t in zip(args, types, strict=True) if not _is_numeric(t)]
            for arg in bad:
                self.error("expr-type",
                           f"{spec.name} needs numbers, this is {describe(self._type(arg))}", arg,
                           f"usage: {spec.signature}")
            if bad:
                return typed
        result = nullable(NUMBER) if node.func == "log" or _may_be_null(types) else NUMBER
        return Call(node.func, args, start=node.start, end=node.end, type=result)

    def _coalesce(self, args: tuple[Expr, ...], types: list[Type]) -> Type:
        result: Type | None = types[0]
        for t in types[1:]:
            if result is None:
                break
            result = unify(result, t)
        if result is None:
            self.error("expr-type", "coalesce's arguments must all have one type: "
                       + ", ".join(describe(t) for t in types), args[0],
                       "give a fallback of the same type, e.g. coalesce(metric, 0)",
                       end=args[-1].end)
            return ANY
        never_null = [i for i, t in enumerate(types) if t != ANY and t != NULL
                      and not isinstance(t, Nullable)]
        if never_null:
            first = never_null[0]
            if first < len(args) - 1:
                self.error("expr-redundant",
                           f"{_what(args[first])} is never null, so the arguments after it are "
                           "never used", args[first + 1], end=args[-1].end,
                           severity=Severity.WARNING)
            return strip_null(result)
        return result

    # -- the field's result ----------------------------------------------------------------

    def check_result(self, root: Expr) -> None:
        actual = self._type(root)
        expected = self.spec.result
        if assignable(actual, expected):
            return
        short, phrase = self.spec.short, self.spec.result_phrase
        if assignable(strip_null(actual), expected):
            base = strip_null(actual)
            default = _NULL_DEFAULTS.get(base.name, "...") if isinstance(base, Prim) else "..."
            self.error("expr-result-type", f"{short} must be {phrase}, this expression can be null",
                       root, f"say what null means with coalesce(..., {default})")
            return
        hint: str | None = None
        if expected in (BOOL, nullable(BOOL)) and strip_null(actual) in (NUMBER, STRING):
            hint = f"compare it to get a boolean, e.g. {_example(root)} > 0" \
                if strip_null(actual) == NUMBER else f"compare it, e.g. {_example(root)} == 'text'"
        elif isinstance(actual, RecordType) and actual.fields:
            hint = f"use one of its fields, e.g. {actual.name}.{actual.fields[0].name}"
        elif isinstance(actual, OpenRecordType):
            hint = f"pick one value by name, e.g. {actual.name}.<name>"
        self.error("expr-result-type",
                   f"{short} must be {phrase}, this expression is {describe(actual)}", root, hint)


def typecheck(expr: Expr, field: str, *, policy: Mapping[str, Any] | None = None,
              vars: Mapping[str, Any] | None = None) -> tuple[Expr, list[ExprError]]:
    """Check ``expr`` as the value of ``field``; return the typed tree and every problem.

    Problems are sorted by position; warnings (``expr-redundant``) may accompany a valid
    expression. ``field`` must be one of ``FIELDS`` (``ValueError`` otherwise: that is a
    programming error, not a user's).
    """
    spec = field_spec(field)
    problems = limit_errors(expr)
    if problems:
        return expr, problems
    checker = _Checker(build_context(field, policy, vars), spec)
    typed = checker.visit(expr)
    checker.check_result(typed)
    return typed, sorted(checker.errors, key=lambda e: (e.start, e.end))


def check(expr: Expr, field: str, *, policy: Mapping[str, Any] | None = None,
          vars: Mapping[str, Any] | None = None) -> list[ExprError]:
    """The problems of ``expr`` as the value of ``field`` (see :func:`typecheck`)."""
    return typecheck(expr, field, policy=policy, vars=vars)[1]

