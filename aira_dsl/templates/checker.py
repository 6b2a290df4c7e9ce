"""Static checks of prompt templates against the variables their operator kind provides.

A typo in a prompt (``task.descripton``) would otherwise surface hours into a run, when the
first operator of that kind renders. The checker walks the Jinja syntax tree without rendering:
it tracks which names are in scope (context variables, ``set``, ``for`` targets, macro
arguments, imports, ``loop``) and the declared shape of each value (see
:mod:`aira_dsl.templates.declarations`), follows includes and imports into fragments, and
reports every problem as a diagnostic at the template's own file and line.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from aira_dsl.diagnostics import Diagnostic
from aira_dsl.templates.bounded import (
    BOUNDED_FILTER_ARGS,
    filter_arg_positions,
    format_string_number,
    percent_format_number,
    power_message,
)
from aira_dsl.templates.declarations import declared_variables, kind_names
from aira_dsl.templates.environment import PromptEnvironment, parsed_tree
from aira_dsl.templates.limits import (
    LIMIT_CODE,
    LIMIT_HINT,
    MAX_EXPONENT,
    MAX_LOOP_ITERATIONS,
    MAX_POWER_BITS,
    MAX_RANGE,
    MAX_REPEAT,
    MAX_WIDTH,
)
from aira_dsl.templates.positions import find_column, name_pattern, word_after
from aira_dsl.templates.references import Reference, exported_names, reference_of
from aira_dsl.templates.store import FileStore, TemplateSource, TemplateStore, resolve_name, template_name
from aira_dsl.templates.syntax import syntax_error_position, syntax_hint, syntax_message
from aira_dsl.templates.types import (
    ANY,
    AnyType,
    Field,
    ListOf,
    ModuleType,
    Record,
    Scalar,
    StrMap,
    VarType,
    describe,
    record,
)

__all__ = ["check_template", "check_template_source"]

_SCALAR_PYTYPES: dict[str, type] = {"str": str, "int": int, "number": float, "bool": bool}
_DICT_METHODS = frozenset({"items", "keys", "values", "get"})
_LIST_METHODS = frozenset({"index", "count"})
_LENIENT_FILTERS = frozenset({"default", "d"})
_LENIENT_TESTS = frozenset({"defined", "undefined"})
_SAME_LIST_FILTERS = frozenset({"reverse", "sort", "unique", "selectattr", "rejectattr", "select",
                                "reject", "list"})
_ITEM_FILTERS = frozenset({"first", "last", "random"})
_STR_FILTERS = frozenset({"join", "string", "upper", "lower", "title", "capitalize", "trim", "replace",
                          "indent", "truncate", "wordwrap", "center", "format", "striptags", "tojson",
                          "urlencode", "e", "escape", "humanize", "fence", "head_tail", "bullets",
                          "inline_code", "filesizeformat", "pprint"})
_INT_FILTERS = frozenset({"length", "count", "wordcount", "int"})
_NUMBER_FILTERS = frozenset({"float", "round", "abs"})


def _loop_record(item: VarType) -> Record:
    """The type of ``loop`` inside a ``for`` over items of type ``item``."""
    ints = ["index", "index0", "revindex", "revindex0", "length", "depth", "depth0"]
    fields = [Field(name, Scalar("int"), "loop counter") for name in ints]
    fields += [Field("first", Scalar("bool"), "first iteration"), Field("last", Scalar("bool"), "last iteration"),
               Field("previtem", item, "previous item", nullable=True),
               Field("nextitem", item, "next item", nullable=True),
               Field("cycle", ANY, "cycle through values"), Field("changed", ANY, "value changed")]
    return record("loop", fields)


def _group_record(key: VarType, item: VarType) -> Record:
    return record("group", [Field("grouper", key, "the shared value"),
                            Field("list", ListOf(item), "the items of the group")])


def _suggest(word: str, choices: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


class _Scope:
    """Names visible at a point of the template, with their types; lookups walk outwards."""

    def __init__(self, parent: _Scope | None = None):
        self.parent = parent
        self.names: dict[str, VarType] = {}

    def lookup(self, name: str) -> VarType | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None

    def visible(self) -> set[str]:
        names: set[str] = set()
        scope: _Scope | None = self
        while scope is not None:
            names.update(scope.names)
            scope = scope.parent
        return names

    def child(self) -> _Scope:
        return _Scope(self)


@dataclass(frozen=True)
class _Where:
    """How to find a diagnostic's column: token patterns, which occurrence, strings masked or not."""

    patterns: Sequence[str]
    occurrence: int = 0
    mask: bool = True


@dataclass
class _Site:
    """The template being walked: where to report, and how to shift positions (inline YAML)."""

    name: str | None
    file: str
    lines: list[str]
    line_offset: int = 0
    col_offset: int = 0
    via: str | None = None
    context_free: bool = False
    counts: dict[tuple[str, int, str], int] = field(default_factory=dict)

    def count(self, what: str, lineno: int, token: str) -> int:
        """How many times ``token`` (a name, attribute, filter...) was seen before on this line."""
        key = (what, lineno, token)
        seen = self.counts.get(key, 0)
        self.counts[key] = seen + 1
        return seen


_PARSED: dict[tuple[str, str | None, str], nodes.Template | tuple[str, int | None, int | None, str | None]] = {}
_PARSED_MAX = 512


@dataclass
class _Checker:
    """One check run: the kind's variables, where fragments come from, and the findings."""

    kind: str
    store: TemplateStore
    var_names: frozenset[str]
    env: PromptEnvironment = field(default_factory=PromptEnvironment)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _seen: set[tuple[object, ...]] = field(default_factory=set)
    _stack: list[str] = field(default_factory=list)
    _trees: dict[str, nodes.Template | None] = field(default_factory=dict)
    _imports_checked: set[tuple[str, bool]] = field(default_factory=set)
    _guards: list[str] = field(default_factory=list)
    _loop_sizes: list[int] = field(default_factory=list)
    """Iterations of each enclosing ``for`` whose size is literal (1 when not known)."""
    site: _Site = field(default_factory=lambda: _Site(None, "<template>", []))

    # ---------------------------------------------------------------- scopes

    def globals_scope(self) -> _Scope:
        scope = _Scope()
        for name in (*self.env.globals, "self"):
            scope.names[name] = ANY
        return scope

    def context_scope(self) -> _Scope:
        scope = self.globals_scope().child()
        for name, declared in declared_variables(self.kind).items():
            scope.names[name] = declared.type
        return scope

    # ---------------------------------------------------------------- reporting

    def report(self, code: str, message: str, lineno: int | None, *, hint: str | None = None,
               where: _Where | None = None, col: int | None = None) -> None:
        site = self.site
        if lineno and col is None and where is not None and 0 < lineno <= len(site.lines):
            col = find_column(site.lines[lineno - 1], where.patterns, where.occurrence, where.mask)
        line = lineno + site.line_offset if lineno else None
        if col is not None:
            col += site.col_offset
        key = (code, site.file, line, col, message)
        if site.via:
            message = f"{message} ({site.via})"
        if key in self._seen:
            return
        self._seen.add(key)
        self.diagnostics.append(Diagnostic(code, message, file=site.file, line=line, col=col, hint=hint))

    # ---------------------------------------------------------------- templates

    def parse(self, source: str, name: str | None, file: str) -> nodes.Template | None:
        # Parsing dominates checking, and a folder of specs shares a handful of templates:
        # parse each (text, name) once per process. The checker only reads the trees.
        key = (source, name, file)
        cached = _PARSED.get(key)
        if cached is None:
            try:
                cached = parsed_tree(self.env, source, name, file)
            except TemplateSyntaxError as exc:
                line, col = syntax_error_position(self.env, source, name, exc)
                cached = (syntax_message(exc), line, col, syntax_hint(exc.message or "", source))
            except RecursionError:
                cached = ("template is nested too deeply to check", 1, None, None)
            except ValueError:  # Jinja's lexer converting an integer literal past 4300 digits
                cached = ("a number in the template is too large to read", 1, None, None)
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED[key] = cached
        if isinstance(cached, tuple):
            message, line, col, hint = cached
            self.report("template-syntax", message, line, col=col, hint=hint)
            return None
        return cached

    def check_entry(self, source: str, name: str | None, file: str, line_offset: int = 0,
                    col_offset: int = 0) -> None:
        self.site = _Site(name, file, source.splitlines(), line_offset, col_offset)
        tree = self.parse(source, name, file)
        if tree is None:
            return
        if name:
            self._stack.append(name)
        self.walk_template(tree, self.context_scope())

    def walk_template(self, tree: nodes.Template, scope: _Scope) -> None:
        try:
            self.stmts(tree.body, scope)
        except RecursionError:
            self.report("template-syntax", "template is nested too deeply to check", 1)

    def _tree_of(self, source: TemplateSource) -> nodes.Template | None:
        if source.name not in self._trees:
            saved = self.site
            self.site = _Site(source.name, source.file, source.text.splitlines())
            self._trees[source.name] = self.parse(source.text, source.name, source.file)
            self.site = saved
        return self._trees[source.name]

    def check_nested(self, source: TemplateSource, scope: _Scope, lineno: int, verb: str,
                     context_free: bool = False) -> None:
        """Check a referenced template in ``scope``; positions are the fragment's own.

        ``verb`` (included, imported, extended) and the chain of referencing sites are added to
        each finding, so a fragment error says which template pulled the fragment in.
        """
        tree = self._tree_of(source)
        if tree is None or source.name in self._stack:
            return
        saved = self.site
        via = f"{verb} from {saved.file}:{lineno + saved.line_offset}" + (f", {saved.via}" if saved.via else "")
        self.site = _Site(source.name, source.file, source.text.splitlines(), via=via,
                          context_free=context_free)
        self._stack.append(source.name)
        try:
            self.walk_template(tree, scope)
        finally:
            self._stack.pop()
            self.site = saved

    # ---------------------------------------------------------------- statements

    def stmts(self, body: Iterable[nodes.Node], scope: _Scope) -> None:
        for node in body:
            self.stmt(node, scope)

    def stmt(self, node: nodes.Node, scope: _Scope) -> None:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if not isinstance(child, nodes.TemplateData):
                    self.expr(child, scope)
        elif isinstance(node, nodes.If):
            self.expr(node.test, scope)
            guards = _defined_guards(node.test)
            self._guards.extend(guards)
            self.stmts(node.body, scope)
            del self._guards[len(self._guards) - len(guards):]
            for branch in node.elif_:
                self.stmt(branch, scope)
            self.stmts(node.else_, scope)
        elif isinstance(node, nodes.For):
            self.for_loop(node, scope)
        elif isinstance(node, nodes.Macro):
            self.site.count("name", node.lineno, node.name)
            scope.names[node.name] = ANY
            self.callable_body(node.args, node.defaults, node.body, scope, macro=True)
        elif isinstance(node, nodes.CallBlock):
            self.expr(node.call, scope)
            self.callable_body(node.args, node.defaults, node.body, scope, macro=False)
        elif isinstance(node, nodes.FilterBlock):
            self.filter(node.filter, scope, ANY)
            self.stmts(node.body, scope.child())
        elif isinstance(node, nodes.With):
            inner = scope.child()
            for target, value in zip(node.targets, node.values, strict=False):
                self.bind(target, self.expr(value, scope), inner)
            self.stmts(node.body, inner)
        elif isinstance(node, nodes.Block):
            inner = scope.child()
            inner.names["super"] = ANY
            self.stmts(node.body, inner)
        elif isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            self.reference(reference_of(node), scope)
        elif isinstance(node, nodes.ExprStmt):
            self.expr(node.node, scope)
        elif isinstance(node, nodes.Assign):
            self.bind(node.target, self.expr(node.node, scope), scope)
        elif isinstance(node, nodes.AssignBlock):
            if node.filter is not None:
                self.filter(node.filter, scope, Scalar("str"))
            self.stmts(node.body, scope.child())
            self.bind(node.target, Scalar("str"), scope)
        elif isinstance(node, nodes.Scope | nodes.OverlayScope | nodes.ScopedEvalContextModifier):
            self.stmts(node.body, scope.child())
        # Break, Continue and EvalContextModifier hold nothing to check.

    def for_loop(self, node: nodes.For, scope: _Scope) -> None:
        occurrence = self.site.count("for", node.lineno, "for")
        iterated = self.expr(node.iter, scope)
        item: VarType = iterated.item if isinstance(iterated, ListOf) else ANY
        inner = scope.child()
        self.bind(node.target, item, inner)
        if node.test is not None:
            self.expr(node.test, inner)
        inner.names["loop"] = _loop_record(item)
        size = _literal_size(node.iter)
        outer = math.prod(self._loop_sizes)
        if size is not None and self._loop_sizes and outer <= MAX_LOOP_ITERATIONS < outer * size:
            self.limit(f"nested loops would run {outer * size} iterations (limit {MAX_LOOP_ITERATIONS})",
                       node.lineno, _Where([r"(?P<tok>\bfor)\b"], occurrence))
        self._loop_sizes.append(size or 1)
        try:
            self.stmts(node.body, inner)
        finally:
            self._loop_sizes.pop()
        self.stmts(node.else_, scope)

    def limit(self, message: str, lineno: int, where: _Where) -> None:
        """Report a template whose literal shape already goes past a render limit."""
        self.report(LIMIT_CODE, message, lineno, hint=LIMIT_HINT, where=where)

    def operator_limits(self, node: nodes.BinExpr) -> None:
        """Literal repetitions, powers and ``%`` formats past the limits the sandbox enforces."""
        if isinstance(node, nodes.Mul):
            occurrence = self.site.count("op", node.lineno, "*")
            for seq, count in ((node.left, node.right), (node.right, node.left)):
                length, times = _literal_length(seq), _literal_number(count)
                if length is not None and isinstance(times, int) and length * times > MAX_REPEAT:
                    self.limit(f"repetition would build {length * times} items (limit {MAX_REPEAT})",
                               node.lineno, _Where([r"(?<![*])(?P<tok>\*)(?![*])"], occurrence))
                    return
        elif isinstance(node, nodes.Pow):
            occurrence = self.site.count("op", node.lineno, "**")
            base, exponent = _literal_number(node.left), _literal_number(node.right)
            where = _Where([r"(?P<tok>\*\*)"], occurrence)
            if isinstance(exponent, int) and abs(exponent) > MAX_EXPONENT:
                self.limit(f"exponent {exponent} is too large (limit {MAX_EXPONENT})", node.lineno, where)
            elif isinstance(base, int) and isinstance(exponent, int) and exponent > 0 \
                    and max(base.bit_length() - 1, 0) * exponent > MAX_POWER_BITS:
                self.limit(power_message(base, exponent), node.lineno, where)
        elif isinstance(node, nodes.Mod) and isinstance(node.left, nodes.Const) and isinstance(node.left.value, str):
            occurrence = self.site.count("op", node.lineno, "%")
            width, _ = percent_format_number(node.left.value)
            if width > MAX_WIDTH:
                self.limit(f"format width {width} is above the limit of {MAX_WIDTH}", node.lineno,
                           _Where([r"(?<![{])(?P<tok>%)(?![}])"], occurrence))

    def call_limits(self, node: nodes.Call, occurrence: int) -> None:
        """``range(N)`` with a literal N above the limit; ``"{:>N}".format(...)`` likewise."""
        callee = node.node
        if isinstance(callee, nodes.Name) and callee.name == "range":
            bounds = [_literal_number(arg) for arg in node.args]
            if bounds and not node.kwargs and all(isinstance(b, int) for b in bounds):
                try:
                    items = len(range(*[int(b) for b in bounds if b is not None]))
                except (ValueError, OverflowError):
                    items = MAX_RANGE + 1 if bounds[-1] != 0 else 0
                if items > MAX_RANGE:
                    self.limit(f"range of {items} items is above the limit of {MAX_RANGE}", node.lineno,
                               _Where([name_pattern("range")], occurrence))
        elif isinstance(callee, nodes.Getattr) and callee.attr in ("format", "format_map") \
                and isinstance(callee.node, nodes.Const) and isinstance(callee.node.value, str):
            width = format_string_number(callee.node.value)
            if width > MAX_WIDTH:
                self.limit(f"format width {width} is above the limit of {MAX_WIDTH}", node.lineno,
                           _Where([word_after(r"\.", callee.attr)]))

    def filter_limits(self, node: nodes.Filter, occurrence: int) -> None:
        """Literal numeric arguments of text-building filters above :data:`MAX_WIDTH`."""
        where = _Where([word_after(r"(?:\||\bfilter\b)", node.name)], occurrence)
        if node.name == "format" and isinstance(node.node, nodes.Const) and isinstance(node.node.value, str):
            width, _ = percent_format_number(node.node.value)
            if width > MAX_WIDTH:
                self.limit(f"format width {width} is above the limit of {MAX_WIDTH}", node.lineno, where)
            return
        params = BOUNDED_FILTER_ARGS.get(node.name)
        if params is None:
            return
        keywords = {str(k.key): k.value for k in node.kwargs if isinstance(k, nodes.Keyword)}
        for param, position in filter_arg_positions(self.env.filters[node.name], params).items():
            arg = keywords.get(param, node.args[position] if position < len(node.args) else None)
            value = _literal_number(arg) if arg is not None else None
            if value is not None and abs(value) > MAX_WIDTH:
                shown = int(value) if math.isfinite(value) and value == int(value) else value
                self.limit(f"{node.name} {param} {shown} is above the limit of {MAX_WIDTH}", node.lineno, where)

    def callable_body(self, args: list[nodes.Name], defaults: list[nodes.Expr], body: list[nodes.Node],
                      scope: _Scope, *, macro: bool) -> None:
        inner = scope.child()
        for default in defaults:
            self.expr(default, scope)
        for arg in args:
            self.site.count("name", arg.lineno, arg.name)
            inner.names[arg.name] = ANY
        if macro:
            for implicit in ("varargs", "kwargs", "caller"):
                inner.names[implicit] = ANY
        self.stmts(body, inner)

    def bind(self, target: nodes.Node, vtype: VarType, scope: _Scope) -> None:
        if isinstance(target, nodes.Name):
            self.site.count("name", target.lineno, target.name)
            scope.names[target.name] = vtype
        elif isinstance(target, nodes.Tuple):
            for item in target.items:
                self.bind(item, ANY, scope)
        elif isinstance(target, nodes.NSRef):
            occurrence = self.site.count("name", target.lineno, target.name)
            if scope.lookup(target.name) is None:
                self.unknown_name(target.name, target.lineno, scope, occurrence)

    # ---------------------------------------------------------------- references

    def reference(self, ref: Reference, scope: _Scope) -> None:
        node = ref.node
        if ref.names is None:
            self.report("template-dynamic-include",
                        "the template name must be a string literal so it can be checked and embedded",
                        ref.lineno, hint='write {% include "_fragment.j2" %} with a fixed name')
            self.bind_import_targets(node, None, scope)
            return
        parent = self.site.name
        found: TemplateSource | None = None
        for name in ref.names:
            found = self.store.get(resolve_name(self.store, name, parent))
            if found is not None:
                break
        if found is None:
            if not ref.ignore_missing:
                searched = [place for name in ref.names
                            for place in self.store.searched(resolve_name(self.store, name, parent))]
                places = ", ".join(dict.fromkeys(searched)) or "(no search paths)"
                patterns = [rf"(?P<tok>['\"]{re.escape(n)}['\"])" for n in ref.names]
                self.report("template-missing-include", f"template {' or '.join(map(repr, ref.names))} not found",
                            ref.lineno, hint=f"looked in: {places}", where=_Where(patterns, mask=False))
            self.bind_import_targets(node, None, scope)
            return
        if isinstance(node, nodes.Include):
            self.check_nested(found, scope if node.with_context else self.globals_scope(), ref.lineno,
                              "included", context_free=not node.with_context)
        elif isinstance(node, nodes.Extends):
            self.check_nested(found, self.context_scope(), ref.lineno, "extended")
        else:
            key = (found.name, node.with_context)
            if key not in self._imports_checked:
                self._imports_checked.add(key)
                self.check_nested(found, scope if node.with_context else self.globals_scope(), ref.lineno,
                                  "imported", context_free=not node.with_context)
            tree = self._tree_of(found)
            exports = exported_names(tree) if tree is not None else None
            self.bind_import_targets(node, (found.name, exports), scope)

    def bind_import_targets(self, node: nodes.Node, module: tuple[str, frozenset[str] | None] | None,
                            scope: _Scope) -> None:
        if isinstance(node, nodes.Import):
            self.site.count("name", node.lineno, node.target)
            if module is None or module[1] is None:
                scope.names[node.target] = ANY
            else:
                scope.names[node.target] = ModuleType(module[0], module[1])
        elif isinstance(node, nodes.FromImport):
            for entry in node.names:
                name, alias = entry if isinstance(entry, tuple) else (entry, entry)
                occurrence = self.site.count("name", node.lineno, name)
                if alias != name:
                    self.site.count("name", node.lineno, alias)
                scope.names[alias] = ANY
                if module is not None and module[1] is not None and name not in module[1]:
                    close = _suggest(name, module[1])
                    self.report("template-unknown-import", f"{module[0]!r} exports no macro or variable {name!r}",
                                node.lineno, hint=f"did you mean {close!r}?" if close else
                                f"it exports: {', '.join(sorted(module[1])) or '(nothing)'}",
                                where=_Where([name_pattern(name)], occurrence))

    # ---------------------------------------------------------------- expressions

    def unknown_name(self, name: str, lineno: int, scope: _Scope, occurrence: int = 0) -> None:
        elsewhere = [kind for kind in kind_names() if name in declared_variables(kind)]
        if self.site.context_free and name in declared_variables(self.kind):
            hint = ("imported templates do not see the render context: pass the value as a macro "
                    "argument, or import it `with context`")
        elif elsewhere:
            hint = f"{name!r} is provided to {', '.join(elsewhere)} templates, not {self.kind}"
        else:
            close = _suggest(name, scope.visible() - {"self"})
            provided = ", ".join(declared_variables(self.kind))
            hint = (f"did you mean {close!r}? " if close else "") + f"{self.kind} templates get: {provided}"
        article = "an" if self.kind[0] in "aeiou" else "a"
        self.report("template-unknown-variable", f"unknown variable {name!r} in {article} {self.kind} template",
                    lineno, hint=hint, where=_Where([name_pattern(name)], occurrence))

    def expr(self, node: nodes.Node | None, scope: _Scope, lenient: bool = False) -> VarType:
        if node is None:
            return ANY
        if isinstance(node, nodes.Name):
            occurrence = self.site.count("name", node.lineno, node.name)
            found = scope.lookup(node.name)
            if found is None:
                if not lenient and node.name not in self._guards:
                    self.unknown_name(node.name, node.lineno, scope, occurrence)
                return ANY
            return found
        if isinstance(node, nodes.Getattr):
            base = self.expr(node.node, scope, lenient)
            occurrence = self.site.count("attr", node.lineno, node.attr)
            lenient = lenient or _expr_text(node) in self._guards
            return self.attribute(base, node.attr, _expr_text(node.node), node.lineno, lenient,
                                  occurrence=occurrence)
        if isinstance(node, nodes.Getitem):
            base = self.expr(node.node, scope, lenient)
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                return self.attribute(base, node.arg.value, _expr_text(node.node), node.lineno, lenient,
                                      subscript=True)
            self.expr(node.arg, scope)
            if isinstance(node.arg, nodes.Slice):
                return base if isinstance(base, ListOf) else ANY
            if isinstance(base, ListOf):
                return base.item
            return base.value if isinstance(base, StrMap) else ANY
        if isinstance(node, nodes.Filter):
            base = self.expr(node.node, scope, lenient or node.name in _LENIENT_FILTERS)
            return self.filter(node, scope, base)
        if isinstance(node, nodes.Test):
            self.expr(node.node, scope, lenient or node.name in _LENIENT_TESTS)
            occurrence = self.site.count("test", node.lineno, node.name)
            if node.name not in self.env.tests:
                self.unknown_callable("test", node.name, node.lineno, self.env.tests, occurrence)
            self.call_args(node, scope)
            return Scalar("bool")
        if isinstance(node, nodes.Call):
            called = node.node.name if isinstance(node.node, nodes.Name) else None
            occurrence = self.site.counts.get(("name", node.lineno, called), 0) if called else 0
            self.expr(node.node, scope, lenient)
            self.call_args(node, scope)
            self.call_limits(node, occurrence)
            return ANY
        if isinstance(node, nodes.CondExpr):
            first = self.expr(node.expr1, scope, lenient)
            self.expr(node.test, scope)
            second = self.expr(node.expr2, scope, lenient) if node.expr2 is not None else first
            return first if first == second else ANY
        if isinstance(node, nodes.BinExpr):
            self.operator_limits(node)
        for child in node.iter_child_nodes():
            self.expr(child, scope, lenient)
        if isinstance(node, nodes.Const) and isinstance(node.value, str):
            return Scalar("str")
        return ANY

    def call_args(self, node: nodes.Call | nodes.Filter | nodes.Test, scope: _Scope) -> None:
        for arg in node.args:
            self.expr(arg, scope)
        for keyword in node.kwargs:
            self.expr(keyword.value, scope)
        self.expr(node.dyn_args, scope)
        self.expr(node.dyn_kwargs, scope)

    def attribute(self, base: VarType, attr: str, owner: str, lineno: int, lenient: bool,
                  subscript: bool = False, occurrence: int = 0) -> VarType:
        """The type of ``base.attr`` (or ``base["attr"]``), reporting attributes that cannot exist.

        ``owner`` names ``base`` in messages (``task.metric``); ``subscript`` is true for
        ``base["attr"]`` and for attribute names given to filters.
        """
        quoted = rf"(?P<tok>['\"]{re.escape(attr)}['\"])"
        patterns = [quoted] if subscript else [word_after(r"\.", attr)]
        where = _Where(patterns, occurrence, mask=not subscript)
        if attr.startswith("_") and not subscript:
            self.report("template-unsafe-attribute",
                        f"attribute {attr!r} of {owner} is not accessible in the template sandbox",
                        lineno, hint="attributes starting with '_' are Python internals", where=where)
            return ANY
        if isinstance(base, AnyType):
            return ANY
        if isinstance(base, Record):
            declared = base.field(attr)
            if declared is not None:
                return declared.type
            if not lenient:
                self.unknown_attribute(owner, base.title, attr, base.field_names, lineno, where)
            return ANY
        if isinstance(base, ModuleType):
            if attr not in base.exports and not lenient:
                self.unknown_attribute(owner, f"template {base.template}", attr, sorted(base.exports),
                                       lineno, where, noun="exports")
            return ANY
        if isinstance(base, StrMap):
            if attr in self.var_names:
                return base.value
            if (not subscript and attr in _DICT_METHODS) or lenient:
                return ANY
            close = _suggest(attr, self.var_names)
            declared_vars = ", ".join(sorted(self.var_names)) or "(none)"
            self.report("template-unknown-attribute", f"{owner} has no key {attr!r}", lineno,
                        hint=(f"did you mean {close!r}? " if close else "") + f"the spec declares vars: "
                        f"{declared_vars}", where=where)
            return ANY
        if isinstance(base, ListOf):
            if (not subscript and attr in _LIST_METHODS) or lenient:
                return ANY
            self.report("template-unknown-attribute",
                        f"{owner} is a {describe(base)} and has no attribute {attr!r}", lineno,
                        hint=f"loop over it ({{% for item in {owner} %}}) or index it ({owner}[0].{attr})",
                        where=where)
            return ANY
        if isinstance(base, Scalar):
            pytype = _SCALAR_PYTYPES[base.kind]
            if subscript or hasattr(pytype, attr) or lenient:
                return ANY
            self.report("template-unknown-attribute", f"{owner} is a {describe(base)} and has no attribute {attr!r}",
                        lineno, where=where)
        return ANY

    def unknown_attribute(self, owner: str, title: str, attr: str, choices: Sequence[str], lineno: int,
                          where: _Where, noun: str = "fields") -> None:
        close = _suggest(attr, choices)
        listing = f"{title} {noun}: {', '.join(choices) or '(nothing)'}"
        self.report("template-unknown-attribute", f"{owner} has no attribute {attr!r}", lineno,
                    hint=(f"did you mean {close!r}? " if close else "") + listing, where=where)

    def unknown_callable(self, what: str, name: str, lineno: int, known: Iterable[str],
                         occurrence: int = 0, quoted: bool = False) -> None:
        close = _suggest(name, known)
        if quoted:
            patterns = [rf"(?P<tok>['\"]{re.escape(name)}['\"])"]
        elif what == "filter":
            patterns = [word_after(r"(?:\||\bfilter\b)", name)]
        else:
            patterns = [word_after(r"\bis(?:\s+not)?", name)]
        self.report(f"template-unknown-{what}", f"unknown {what} {name!r}", lineno,
                    hint=f"did you mean {close!r}?" if close else f"see docs/templates.md for the {what}s",
                    where=_Where(patterns, occurrence, mask=not quoted))

    def filter(self, node: nodes.Filter, scope: _Scope, base: VarType) -> VarType:
        name = node.name
        occurrence = self.site.count("filter", node.lineno, name)
        self.call_args(node, scope)
        if name not in self.env.filters:
            self.unknown_callable("filter", name, node.lineno, self.env.filters, occurrence)
            return ANY
        self.filter_limits(node, occurrence)
        item = base.item if isinstance(base, ListOf) else None
        args: list[object] = [a.value if isinstance(a, nodes.Const) else None for a in node.args]
        kwargs: dict[str, object] = {}
        for keyword in node.kwargs:
            assert isinstance(keyword, nodes.Keyword)
            kwargs[str(keyword.key)] = keyword.value.value if isinstance(keyword.value, nodes.Const) else None

        def attr_arg(index: int | None) -> object:
            if "attribute" in kwargs:
                return kwargs["attribute"]
            return args[index] if index is not None and index < len(args) else None

        attr_positions = {"selectattr": 0, "rejectattr": 0, "groupby": 0, "sum": 0, "sort": 2,
                          "map": None, "unique": 1, "min": 1, "max": 1}
        if name in attr_positions and item is not None:
            path = attr_arg(attr_positions[name])
            if name == "map" and "attribute" not in kwargs:
                if isinstance(path := attr_arg(0), str) and path not in self.env.filters:
                    self.unknown_callable("filter", path, node.lineno, self.env.filters, quoted=True)
                return ListOf(ANY)
            resolved = self.attribute_path(item, path, node) if isinstance(path, str) else ANY
            if name == "map":
                return ListOf(resolved)
            if name == "groupby":
                return ListOf(_group_record(resolved, item))
        if name in ("select", "reject") and args and isinstance(args[0], str) \
                and args[0] not in self.env.tests:
            self.unknown_callable("test", args[0], node.lineno, self.env.tests, quoted=True)
        if name == "attr" and args and isinstance(args[0], str):
            return self.attribute(base, args[0], _expr_text(node.node), node.lineno, False, subscript=True)
        if name in _LENIENT_FILTERS:
            return base
        if name in _SAME_LIST_FILTERS:
            return base if isinstance(base, ListOf) else ANY
        if name in _ITEM_FILTERS:
            return item if item is not None else ANY
        if name in ("batch", "slice"):
            return ListOf(base) if isinstance(base, ListOf) else ANY
        if name in _STR_FILTERS:
            return Scalar("str")
        if name in _INT_FILTERS:
            return Scalar("int")
        if name in _NUMBER_FILTERS:
            return Scalar("number")
        return ANY

    def attribute_path(self, item: VarType, path: str, node: nodes.Filter) -> VarType:
        """Resolve a dotted ``attribute=`` argument (``review.summary``) against ``item``."""
        current = item
        for part in path.split("."):
            if part.isdigit():
                current = current.item if isinstance(current, ListOf) else ANY
                continue
            owner = f"each {current.title}" if isinstance(current, Record) else "each item"
            current = self.attribute(current, part, owner, node.lineno, False, subscript=True)
        return current


def _literal_number(node: nodes.Node | None) -> int | float | None:
    """The value of a numeric literal expression (``10**9``, ``3e8``, ``-5``), else None.
    Powers too large to compute count as infinity (they are past every limit anyway)."""
    if isinstance(node, nodes.Const):
        value = node.value
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if isinstance(node, nodes.Neg | nodes.Pos):
        inner = _literal_number(node.node)
        return None if inner is None else -inner if isinstance(node, nodes.Neg) else inner
    if isinstance(node, nodes.Add | nodes.Sub | nodes.Mul | nodes.Div | nodes.FloorDiv | nodes.Pow):
        left, right = _literal_number(node.left), _literal_number(node.right)
        if left is None or right is None:
            return None
        try:
            if isinstance(node, nodes.Pow):
                if isinstance(left, int) and isinstance(right, int) and 0 <= right <= MAX_EXPONENT \
                        and left.bit_length() * right <= 2 * MAX_POWER_BITS:
                    return int(left**right)
                return float(float(left) ** float(right))
            if isinstance(node, nodes.Add):
                return left + right
            if isinstance(node, nodes.Sub):
                return left - right
            if isinstance(node, nodes.Mul):
                return left * right
            if isinstance(node, nodes.Div):
                return left / right
            return left // right
        except OverflowError:
            return math.inf
        except (ZeroDivisionError, ValueError, TypeError):
            return None
    return None


def _literal_length(node: nodes.Node) -> int | None:
    """Length of a string, list or tuple literal."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return len(node.value)
    if isinstance(node, nodes.List | nodes.Tuple):
        return len(node.items)
    return None


def _literal_size(node: nodes.Node) -> int | None:
    """How many times a ``for`` over ``node`` runs, when the template says so literally:
    ``range(...)`` of literal numbers, or a literal string, list or tuple."""
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name == "range" \
            and node.args and not node.kwargs:
        bounds = [_literal_number(arg) for arg in node.args]
        if all(isinstance(b, int) for b in bounds):
            try:
                return len(range(*[int(b) for b in bounds if b is not None]))
            except (ValueError, OverflowError):
                return None
        return None
    return _literal_length(node)


def _defined_guards(test: nodes.Node) -> list[str]:
    """Expressions an ``{% if %}`` test proves defined: ``x is defined`` (joined by ``and``)."""
    if isinstance(test, nodes.Test) and test.name == "defined":
        return [_expr_text(test.node)]
    if isinstance(test, nodes.And):
        return _defined_guards(test.left) + _defined_guards(test.right)
    return []


def _expr_text(node: nodes.Node | None) -> str:
    """Source-like text of simple expressions (``task.metric``), for messages."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Const):
        return repr(node.value)[:40]
    if isinstance(node, nodes.Getattr):
        return f"{_expr_text(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        arg = repr(node.arg.value) if isinstance(node.arg, nodes.Const) else "..."
        return f"{_expr_text(node.node)}[{arg}]"
    if isinstance(node, nodes.Filter):
        return f"{_expr_text(node.node)}|{node.name}"
    return "the value"


def _unknown_kind(kind: str, file: str) -> list[Diagnostic]:
    return [Diagnostic("template-unknown-kind", f"unknown operator kind {kind!r}", file=file,
                       hint=f"kinds: {', '.join(kind_names())}")]


def check_template(path: Path, kind: str, *, search_paths: Sequence[Path],
                   var_names: Collection[str] = ()) -> list[Diagnostic]:
    """Check the template file at ``path`` for an operator of ``kind``; never raises.

    Includes and imports are followed (looked up in the template's folder, then in
    ``search_paths``) and checked with the including template's variables; findings inside a
    fragment are reported at the fragment's own file and line. ``var_names`` are the keys of
    the spec's ``vars``. Returns the diagnostics, empty when the template is clean.
    """
    path = Path(path)
    if kind not in kind_names():
        return _unknown_kind(kind, str(path))
    name, roots = template_name(path, search_paths)
    store = FileStore(roots, pinned={name: path})
    source = store.get(name)
    if source is None:
        return [Diagnostic("template-unreadable", f"cannot read template {path}", file=str(path),
                           hint="check the path; it is relative to the spec that names it")]
    checker = _Checker(kind, store, frozenset(var_names))
    checker.check_entry(source.text, name, str(path))
    return checker.diagnostics


def check_template_source(source: str, name: str, kind: str, *, search_paths: Sequence[Path],
                          var_names: Collection[str] = (), line_offset: int = 0,
                          col_offset: int = 0) -> list[Diagnostic]:
    """Check template text that is not a file of its own (a prompt written inline in a spec).

    ``name`` is the file reported in diagnostics (the spec); ``line_offset`` and ``col_offset``
    shift positions in ``source`` to where it sits in that file. Includes resolve against
    ``search_paths``. Never raises.
    """
    if kind not in kind_names():
        return _unknown_kind(kind, name)
    checker = _Checker(kind, FileStore([Path(p) for p in search_paths]), frozenset(var_names))
    checker.check_entry(source, None, name, line_offset, col_offset)
    return checker.diagnostics
