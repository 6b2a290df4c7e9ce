"""YAML loading that keeps a position for every key and value.

PyYAML's ``compose`` gives a node graph with marks; we convert it to plain Python values
ourselves so that we can (a) record where each value came from, (b) report duplicate keys
instead of silently keeping the last one, (c) bound alias expansion (YAML bombs), and (d) keep
mapping keys as their source text (so ``on:`` stays the string ``"on"``, not ``True``).

Values are addressed by *paths*: tuples of mapping keys and list indices, e.g.
``("operators", "draft", "memory", "where")``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from aira_dsl.diagnostics import Diagnostic, Severity
from aira_dsl.overlay import file_identity, overlay_text
from aira_dsl.roots import realpath

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_INTEGER",
    "Path",
    "ScalarInfo",
    "Span",
    "YamlDocument",
    "integer_too_large",
    "load_yaml_file",
    "load_yaml_text",
    "number_problem",
]

Path = tuple[str | int, ...]

MAX_FILE_BYTES = 2 * 1024 * 1024
"""Spec-like files larger than this are refused: specs are small; a huge file is a mistake."""
MAX_EXPANDED_NODES = 100_000
"""Upper bound on values produced while expanding aliases (defuses 'billion laughs')."""
MAX_DEPTH = 200
MAX_INTEGER = 2**53 - 1
"""Largest integer magnitude accepted in an input: the range every JSON reader (a plan, a
browser viewing a run) keeps exact. A bigger one is a mistake or an attack (a 5000-digit integer
used to end ``validate`` with an internal error; a 400-digit one overflows any float)."""

YAML11_BOOLEANS = frozenset(
    ["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"]
)
"""Plain scalars that YAML 1.1 (PyYAML) reads as booleans although users usually mean text."""

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's composer when available: same nodes and marks, several times faster."""

_ENV_RE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


@dataclass(frozen=True)
class Span:
    """A 1-based source range in one file."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class ScalarInfo:
    """How a scalar was written: its style ('' plain, "'", '"', '|', '>') and raw text."""

    style: str
    raw: str
    tag: str


@dataclass
class YamlDocument:
    """A loaded YAML file: plain data plus positions, and the problems met while loading."""

    file: str
    text: str | None = None
    data: Any = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    spans: dict[Path, Span] = field(default_factory=dict)
    key_spans: dict[Path, Span] = field(default_factory=dict)
    scalars: dict[Path, ScalarInfo] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    """Text of every file positions may point into (this one, and files merged by extends)."""

    @property
    def ok(self) -> bool:
        return self.data is not None and not any(d.is_error for d in self.diagnostics)

    def span(self, path: Path) -> Span | None:
        """Span of the value at ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            if path in self.spans:
                return self.spans[path]
            if not path:
                return None
            path = path[:-1]

    def key_span(self, path: Path) -> Span | None:
        """Span of the mapping key naming ``path`` (falls back to the value's span)."""
        path = tuple(path)
        return self.key_spans.get(path) or self.span(path)

    def diagnostic(self, code: str, message: str, path: Path = (), hint: str | None = None,
                   severity: Severity = Severity.ERROR, on_key: bool = False) -> Diagnostic:
        """A diagnostic positioned at the value (or key) at ``path``."""
        span = self.key_span(path) if on_key else self.span(path)
        if span is None:
            return Diagnostic(code, message, severity, file=self.file, hint=hint)
        if span.line == 0:  # a value from the command line (--set), not from a file
            return Diagnostic(code, message, severity, file=span.file, hint=hint)
        return Diagnostic(code, message, severity, file=span.file, line=span.line, col=span.col,
                          end_line=span.end_line, end_col=span.end_col, hint=hint)

    def offset_position(self, path: Path, offset: int) -> tuple[str, int, int]:
        """Map a character offset inside the scalar at ``path`` to ``(file, line, col)``.

        Exact for plain and quoted scalars written on one line and for literal blocks (``|``);
        other styles fall back to the scalar's start.
        """
        span = self.span(path)
        info = self.scalars.get(tuple(path))
        if span is None:
            return (self.file, 1, 1)
        if info is None:
            return (span.file, span.line, span.col)
        raw = info.raw
        if info.style in ("", "'", '"') and span.line == span.end_line:
            shift = 0 if info.style == "" else 1
            if info.style == "'":
                # '' inside single quotes is one character of the value, two of the source.
                shift += raw[:offset].count("'")
            return (span.file, span.line, span.col + shift + offset)
        if info.style == "|":
            text = self.sources.get(span.file)
            if text is not None:
                before = raw[:offset]
                line_index = before.count("\n")
                col_in_line = len(before) - (before.rfind("\n") + 1)
                lines = text.splitlines()
                first = span.line  # 1-based line of the '|' header; content starts on the next
                target = first + line_index  # 0-based index of the content line
                if 0 <= target < len(lines):
                    content_line = lines[target]
                    indent = len(content_line) - len(content_line.lstrip(" "))
                    return (span.file, target + 1, indent + col_in_line + 1)
        return (span.file, span.line, span.col)


class _Limits(Exception):
    pass


def number_problem(value: Any) -> str | None:
    """Why a number read from an input is refused (None when it is fine): an integer beyond
    :data:`MAX_INTEGER`, or an infinite or NaN float (in YAML ``.inf``; ``.nan`` stays text).
    Lists and mappings (a ``--set`` flow value, a plan) are searched, without recursion. The
    number itself is never printed: turning a huge integer into text is what raised."""
    stack = [value]
    seen: set[int] = set()  # a value loaded with aliases may share (or even contain) itself
    while stack:
        item = stack.pop()
        if isinstance(item, bool):
            continue
        if isinstance(item, (dict, list)):
            if id(item) in seen:
                continue
            seen.add(id(item))
        if isinstance(item, int) and abs(item) > MAX_INTEGER:
            return integer_too_large(int(abs(item).bit_length() * math.log10(2)) + 1)
        if isinstance(item, float) and not math.isfinite(item):
            return "infinite and NaN numbers (.inf, .nan) are not accepted"
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def integer_too_large(digits: int) -> str:
    """The message for an integer of ``digits`` digits past :data:`MAX_INTEGER`."""
    return f"an integer of {digits:,} digits is too large (the limit is ±{MAX_INTEGER:,})"


_NUMBER_HINT = "leave the key out (or null) for no limit; quote the value if it is meant as text"


class _Converter:
    """Turns a composed node graph into plain values while recording positions."""

    def __init__(self, doc: YamlDocument, env: Callable[[str], str | None], env_mode: str):
        self.doc = doc
        self.env = env
        self.env_mode = env_mode
        self.count = 0
        self.constructor = yaml.SafeLoader("")  # only its scalar constructors are used

    def span(self, node: yaml.Node) -> Span:
        start, end = node.start_mark, node.end_mark
        return Span(self.doc.file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def convert(self, node: yaml.Node, path: Path, depth: int = 0,
                active: frozenset[int] = frozenset()) -> Any:
        self.count += 1
        if self.count > MAX_EXPANDED_NODES:
            raise _Limits("alias expansion too large: the document expands to more than "
                          f"{MAX_EXPANDED_NODES:,} values")
        if depth > MAX_DEPTH:
            raise _Limits(f"nesting deeper than {MAX_DEPTH} levels")
        if id(node) in active:
            raise _Limits("recursive alias: an anchor refers to itself")
        self.doc.spans.setdefault(path, self.span(node))
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path, depth, active | {id(node)})
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i), depth + 1, active | {id(node)})
                    for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def mapping(self, node: yaml.MappingNode, path: Path, depth: int,
                active: frozenset[int]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, yaml.Node] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.doc.diagnostics.append(_at(self.span(key_node), "yaml-complex-key",
                                                "mapping keys must be plain text"))
                continue
            key = str(key_node.value)
            if key in seen:
                first = seen[key].start_mark
                self.doc.diagnostics.append(_at(
                    self.span(key_node), "duplicate-key",
                    f"duplicate key '{key}' (first defined on line {first.line + 1})",
                    hint="YAML keeps only one of them; remove or rename the other"))
                continue
            seen[key] = key_node
            self.doc.key_spans[(*path, key)] = self.span(key_node)
            result[key] = self.convert(value_node, (*path, key), depth + 1, active)
        for merge in merges:  # '<<: *base' — explicit keys win over merged ones
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                value = self.convert(source, path, depth + 1, active)
                if isinstance(value, dict):
                    for k, v in value.items():
                        result.setdefault(k, v)
        return result

    def scalar(self, node: yaml.Node, path: Path) -> Any:
        assert isinstance(node, yaml.ScalarNode)
        self.doc.scalars[path] = ScalarInfo(node.style or "", node.value, node.tag)
        tag = node.tag
        if tag == "tag:yaml.org,2002:timestamp" or tag not in _SCALAR_TAGS:
            value: Any = node.value  # dates and unknown tags stay text: plans are JSON
        else:
            try:
                value = self.constructor.construct_object(node)
                problem = None
            except ValueError:  # an integer past Python's 4300-digit conversion limit
                value, problem = None, integer_too_large(sum(c.isdigit() for c in node.value))
            if isinstance(value, float) and value != value:  # .nan
                value = node.value
            problem = problem or number_problem(value)
            if problem is not None:
                self.doc.diagnostics.append(_at(self.span(node), "number-too-large", problem, hint=_NUMBER_HINT))
                value = node.value[:40]
        if isinstance(value, str) and "${env:" in value and self.env_mode != "off":
            value = self.interpolate(value, node, path)
        return value

    def interpolate(self, value: str, node: yaml.Node, path: Path) -> Any:
        missing: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = self.env(name)
            if found is not None:
                return found
            if default is not None:
                return default
            missing.append(name)
            return match.group(0)

        result = _ENV_RE.sub(substitute, value)
        for name in missing:
            severity = Severity.ERROR if self.env_mode == "error" else Severity.WARNING
            self.doc.diagnostics.append(_at(
                self.span(node), "env-unset", f"environment variable {name} is not set", severity,
                hint=f"export {name}=... or give a default: ${{env:{name}:value}}"))
        if missing:
            return value
        if _ENV_RE.fullmatch(value):
            # A value that is one whole ${env:..} takes the YAML type of what it expands to,
            # so `temperature: ${env:T:0.5}` is a number.
            try:
                typed = yaml.safe_load(result) if result.strip() else result
                problem = number_problem(typed)
            except yaml.YAMLError:
                return result
            except ValueError:  # an integer past Python's digit limit
                problem = integer_too_large(sum(c.isdigit() for c in result))
            if problem is not None:
                self.doc.diagnostics.append(_at(self.span(node), "number-too-large",
                                                f"${{env:..}} expands to a number that is refused: {problem}",
                                                hint=_NUMBER_HINT))
                return result
            if isinstance(typed, (int, float, bool)) or typed is None:
                return typed
        return result


_SCALAR_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}


def _at(span: Span, code: str, message: str, severity: Severity = Severity.ERROR,
        hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, message, severity, file=span.file, line=span.line, col=span.col,
                      end_line=span.end_line, end_col=span.end_col, hint=hint)


def _check_expansion(root: yaml.Node) -> None:
    """Refuse documents whose aliases expand past the limit, before expanding anything.

    Sizes are computed once per distinct node (aliases share nodes), so a 'billion laughs'
    document is refused in time proportional to its text, not to its expansion.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Limits("recursive alias: an anchor refers to itself")
        if depth > MAX_DEPTH:
            raise _Limits(f"nesting deeper than {MAX_DEPTH} levels")
        active.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k, depth + 1) + size(v, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item, depth + 1)
        active.discard(key)
        sizes[key] = total
        if total > MAX_EXPANDED_NODES:
            raise _Limits("alias expansion too large: the document expands to more than "
                          f"{MAX_EXPANDED_NODES:,} values")
        return total

    size(root, 0)


_KEY_LINE = re.compile(r"^( *)(?:- +)?([^\s#'\"][^:#]*?|'[^']*'|\"[^\"]*\"):(?: +(.*?))?\s*$")


def _key_line(text: str) -> tuple[int, str, str] | None:
    """(indentation, key, value) of a ``key: value`` line (value empty for ``key:``)."""
    match = _KEY_LINE.match(text)
    if match is None:
        return None
    value = match.group(3) or ""
    return len(match.group(1)), match.group(2), "" if value.startswith("#") else value


def _indentation_hint(text: str, index: int) -> str | None:
    """A hint when the line at ``index`` (0-based) is a ``key: value`` line whose indentation
    matches no mapping above it: deeper than a key that already has a value (YAML then reads
    it as the rest of that value, and complains about its ': '), or between two levels."""
    lines = text.splitlines()
    if not 0 <= index < len(lines):
        return None
    here = _key_line(lines[index])
    if here is None:
        return None
    indent, key, _ = here
    levels: list[tuple[int, str, str, int]] = []  # (indent, key, value, line number) above, nearest first
    for number in range(index - 1, -1, -1):
        above = lines[number]
        if not above.strip() or above.lstrip().startswith("#"):
            continue
        found = _key_line(above)
        if found is None:
            continue
        levels.append((*found, number + 1))
        if found[0] == 0:
            break
    if not levels:
        return None
    prev_indent, prev_key, prev_value, prev_line = levels[0]
    if indent > prev_indent and prev_value and not prev_value.startswith(("|", ">", "&", "!")):
        return (f"'{key}' is indented more than '{prev_key}' (line {prev_line}), which already has a value, "
                f"so YAML reads it as part of that value: indent it {prev_indent} spaces like '{prev_key}'")
    siblings = sorted({level[0] for level in levels})
    if indent not in siblings and indent < prev_indent:
        ranked = sorted(siblings, key=lambda level: (abs(level - indent), -level))
        owners = {i: k for i, k, _, _ in reversed(levels)}  # the nearest key at each level
        options = [f"{level} spaces to sit beside '{owners[level]}'" for level in ranked[:2]
                   if abs(level - indent) == abs(ranked[0] - indent)]
        return (f"'{key}' is indented {indent} spaces, which matches no level above "
                f"({', '.join(map(str, siblings))}): indent it " + " or ".join(options))
    return None


def _yaml_error(doc: YamlDocument, exc: yaml.YAMLError) -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    hint = None
    bad_char = ""
    if mark is not None and doc.text is not None:
        lines = doc.text.splitlines()
        if 0 <= mark.line < len(lines) and mark.column < len(lines[mark.line]):
            bad_char = lines[mark.line][mark.column]
    indentation = _indentation_hint(doc.text, mark.line) if mark is not None and doc.text else None
    if "tab" in problem.lower() or bad_char == "\t":
        hint = "YAML indentation must use spaces, not tabs"
    elif "mapping values are not allowed" in problem:
        hint = indentation or "a value containing ': ' must be quoted"
    elif "found character '%'" in problem or "found character '@'" in problem or "'`'" in problem:
        hint = "quote values that start with %, @ or `"
    elif "expected <block end>" in problem or "did not find expected key" in problem:
        hint = indentation or "check the indentation of this line against the lines above it"
    line = mark.line + 1 if mark is not None else None
    col = mark.column + 1 if mark is not None else None
    return Diagnostic("yaml-syntax", message, file=doc.file, line=line, col=col, hint=hint)


def load_yaml_text(text: str, file: str = "<input>", *, env: Callable[[str], str | None] | None = None,
                   env_mode: str = "warn") -> YamlDocument:
    """Load one YAML document from text; never raises for bad input.

    ``env_mode`` is ``"warn"`` (validate: an unset variable is a warning), ``"error"`` (run time)
    or ``"off"`` (leave ``${env:..}`` untouched).
    """
    doc = YamlDocument(file=file, text=text)
    doc.sources[file] = text
    lookup = env or os.environ.get
    try:
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.YAMLError as exc:
        doc.diagnostics.append(_yaml_error(doc, exc))
        return doc
    except RecursionError:
        doc.diagnostics.append(Diagnostic("yaml-too-deep", "YAML nesting is too deep to read",
                                          file=file))
        return doc
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        doc.diagnostics.append(Diagnostic("empty-file", "the file holds no YAML document",
                                          file=file, line=1, col=1,
                                          hint="a spec is a YAML mapping starting with `version: 1`"))
        return doc
    if len(nodes) > 1:
        second = nodes[1].start_mark
        doc.diagnostics.append(Diagnostic("yaml-multiple-documents",
                                          "the file holds several YAML documents ('---'); expected one",
                                          file=file, line=second.line + 1, col=1))
    converter = _Converter(doc, lookup, env_mode)
    try:
        _check_expansion(nodes[0])
        doc.data = converter.convert(nodes[0], ())
    except _Limits as exc:
        doc.data = None
        doc.diagnostics.append(Diagnostic("yaml-limits", str(exc), file=file, line=1, col=1,
                                          hint="avoid deeply nested or self-referencing anchors"))
    except RecursionError:
        doc.data = None
        doc.diagnostics.append(Diagnostic("yaml-too-deep", "YAML nesting is too deep to read",
                                          file=file))
    return doc


def read_text_file(path: FsPath, display: str, max_bytes: int = MAX_FILE_BYTES) -> tuple[str | None, Diagnostic | None]:
    """Read a UTF-8 text file with size and binary checks; a diagnostic instead of an exception.

    An editor's unsaved text for the file (:mod:`aira_dsl.overlay`) is returned instead of the disk's."""
    unsaved = overlay_text(path)
    if unsaved is not None and len(unsaved) <= max_bytes:
        return unsaved, None
    if unsaved is not None:
        return None, Diagnostic("file-too-large", f"the text is {len(unsaved) / 1e6:.1f} MB; the limit is "
                                f"{max_bytes / 1e6:.1f} MB", file=display)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, Diagnostic(
                "file-too-large", f"file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB",
                file=display, hint="specs are small YAML files: is this the right file?")
        raw = path.read_bytes()
    except IsADirectoryError:
        return None, Diagnostic("unreadable-file", "is a directory, not a file", file=display)
    except OSError as exc:
        return None, Diagnostic("unreadable-file", f"cannot read file: {exc.strerror or exc}",
                                file=display, hint="check the path and its permissions")
    if b"\x00" in raw[:8192]:
        return None, Diagnostic("binary-file", "file is binary, not YAML text", file=display)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, Diagnostic("not-utf8", f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                                file=display, line=line, hint="save the file as UTF-8")
    return text, None


_FILE_CACHE: dict[tuple[object, ...], YamlDocument] = {}
_FILE_CACHE_MAX = 256


def load_yaml_file(path: str | os.PathLike[str], *, display: str | None = None,
                   env: Callable[[str], str | None] | None = None, env_mode: str = "warn",
                   max_bytes: int = MAX_FILE_BYTES) -> YamlDocument:
    """Load a YAML file; unreadable, binary, huge or empty files become diagnostics.

    Documents read with the process environment are memoised by file identity (path, size,
    modification time), because validating a folder loads its shared base specs once per spec
    that extends them. Callers must not mutate the returned document (copy it first).
    """
    fs_path = FsPath(path)
    name = display if display is not None else str(path)
    key: tuple[object, ...] | None = None
    if env is None and env_mode != "error":
        try:
            key = (name, realpath(fs_path), *file_identity(fs_path), env_mode,
                   hash(frozenset(os.environ.items())))
        except OSError:
            key = None
        if key is not None and key in _FILE_CACHE:
            return _FILE_CACHE[key]
    text, problem = read_text_file(fs_path, name, max_bytes)
    if problem is not None:
        return YamlDocument(file=name, diagnostics=[problem])
    assert text is not None
    doc = load_yaml_text(text, name, env=env, env_mode=env_mode)
    if key is not None:
        if len(_FILE_CACHE) >= _FILE_CACHE_MAX:
            _FILE_CACHE.clear()
        _FILE_CACHE[key] = doc
    return doc
