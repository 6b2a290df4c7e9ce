"""Load an agent spec file: YAML with positions, ``extends`` chains, deep merge.

A spec may extend a base spec (path relative to itself). Mappings are deep-merged (the child
wins), lists and scalars are replaced; a mapping whose ``kind`` changes (a greedy policy
becoming mcts) is replaced whole, since the old kind's parameters mean nothing to the new one. Positions of merged values keep pointing at the file
that wrote them, so an error in an inherited operator is reported in the base file.

A base named by path must stay inside the allowed roots (:mod:`aira_dsl.roots`); that is checked
before the base is read, so no diagnostic can show anything of a file outside them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from aira_dsl.diagnostics import Diagnostic
from aira_dsl.roots import OUTSIDE_CODE, allowed_roots, check_inside, outside_hint, realpath
from aira_dsl.shipped import PACKAGE_PREFIX, is_package_ref, resolve_package_ref, shipped_path
from aira_dsl.spec.yamlpos import Path, YamlDocument, load_yaml_file

__all__ = ["LoadedSpec", "load_spec", "merge_documents"]

MAX_EXTENDS_DEPTH = 16
_NOT_INHERITED = ("abstract", "extends")


@dataclass
class LoadedSpec:
    """A spec after ``extends`` resolution: merged data with positions, and its file chain."""

    path: str
    document: YamlDocument
    chain: list[str] = field(default_factory=list)
    """Files that make up the spec, the spec itself first, then its bases."""

    @property
    def data(self) -> Any:
        return self.document.data

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.document.diagnostics


def merge_documents(base: YamlDocument, child: YamlDocument) -> YamlDocument:
    """Deep-merge ``child`` over ``base`` (mappings merged, everything else replaced)."""
    merged = YamlDocument(file=child.file, text=child.text)
    merged.sources = {**base.sources, **child.sources}
    merged.diagnostics = [*base.diagnostics, *child.diagnostics]
    base_data = {k: v for k, v in base.data.items() if k not in _NOT_INHERITED} \
        if isinstance(base.data, dict) else {}
    replaced: list[Path] = []  # paths where a base collection was replaced wholesale

    def merge(a: Any, b: Any, path: Path) -> Any:
        same_kind = not (isinstance(a, dict) and isinstance(b, dict) and "kind" in a and "kind" in b
                         and a["kind"] != b["kind"])
        if isinstance(a, dict) and isinstance(b, dict) and same_kind:
            out = dict(a)
            for key, value in b.items():
                out[key] = merge(a[key], value, (*path, key)) if key in a else value
            return out
        if isinstance(a, (dict, list)):
            replaced.append(path)
        return b

    merged.data = merge(base_data, child.data, ())
    # Positions: the base's, minus what the child replaced or what is not inherited, then the
    # child's on top (every path the child wrote exists in the merged data).
    dropped = [*replaced, *((key,) for key in _NOT_INHERITED)]
    for table_name in ("spans", "key_spans", "scalars"):
        table = dict(getattr(base, table_name))
        for prefix in dropped:
            for p in [p for p in table if p[: len(prefix)] == prefix and len(p) >= len(prefix) and p]:
                del table[p]
        table.update(getattr(child, table_name))
        setattr(merged, table_name, table)
    return merged


def load_spec(path: str | os.PathLike[str], *, env: Callable[[str], str | None] | None = None,
              env_mode: str = "warn") -> LoadedSpec:
    """Load a spec and everything it extends; problems become diagnostics, never exceptions."""
    display = os.fspath(path)
    return _load(display, env, env_mode, stack=())


def _load(display: str, env: Callable[[str], str | None] | None, env_mode: str,
          stack: tuple[str, ...]) -> LoadedSpec:
    # A private copy: the file cache shares documents, and this function adds diagnostics.
    doc = dataclasses.replace(load_yaml_file(display, env=env, env_mode=env_mode))
    doc.diagnostics = list(doc.diagnostics)
    spec = LoadedSpec(path=display, document=doc, chain=[display])
    if doc.data is None:
        return spec
    if not isinstance(doc.data, dict):
        doc.diagnostics.append(doc.diagnostic(
            "not-a-mapping", "a spec must be a YAML mapping (key: value lines)", (),
            hint="start the file with `version: 1` and `name: ...`"))
        doc.data = None
        return spec
    extends = doc.data.get("extends")
    if extends is None:
        return spec
    if not isinstance(extends, str) or not extends.strip():
        return spec  # the schema reports the wrong type
    if is_package_ref(extends):
        shipped = resolve_package_ref(extends)
        if shipped is None:
            doc.diagnostics.append(doc.diagnostic(
                "extends-missing", f"'{extends}' is not a shipped file reference", ("extends",),
                hint="write aira-dsl:specs/<name>.yaml (`aira-dsl validate` lists nothing else there)"))
            return spec
        base_display = os.fspath(shipped)
    else:
        base_display = os.path.normpath(os.path.join(os.path.dirname(display), extends))
        outside = check_inside(base_display, allowed_roots(display))
        if outside is not None:  # checked before reading: nothing of the file may be shown
            doc.diagnostics.append(doc.diagnostic(
                OUTSIDE_CODE, f"base spec '{extends}' is outside the allowed roots: {outside}", ("extends",),
                hint=outside_hint("extends paths")))
            return spec
    real = realpath(base_display)
    chain_real = [*stack, realpath(display)]
    if real in chain_real:
        cycle = " -> ".join([*(os.path.relpath(p) for p in chain_real), os.path.relpath(real)])
        doc.diagnostics.append(doc.diagnostic("extends-cycle", f"extends cycle: {cycle}",
                                              ("extends",), hint="remove one of the extends links"))
        return spec
    if len(chain_real) > MAX_EXTENDS_DEPTH:
        doc.diagnostics.append(doc.diagnostic("extends-depth", "extends chain is too long",
                                              ("extends",)))
        return spec
    if not FsPath(base_display).is_file():
        doc.diagnostics.append(doc.diagnostic(
            "extends-missing", f"base spec '{extends}' not found (looked for {base_display})",
            ("extends",), hint=_extends_hint(extends)))
        return spec
    base = _load(base_display, env, env_mode, (*stack, realpath(display)))
    if base.document.data is None or not isinstance(base.document.data, dict):
        spec.document.diagnostics.extend(base.document.diagnostics)
        if not base.document.diagnostics:
            doc.diagnostics.append(doc.diagnostic("extends-invalid", f"base spec '{extends}' is not usable",
                                                  ("extends",)))
        return spec
    merged = merge_documents(base.document, doc)
    return LoadedSpec(path=display, document=merged, chain=[display, *base.chain])


def _extends_hint(extends: str) -> str:
    if is_package_ref(extends):
        import difflib

        shipped = sorted(PACKAGE_PREFIX + p.relative_to(shipped_path()).as_posix()
                         for p in shipped_path("specs").rglob("*.yaml"))
        close = difflib.get_close_matches(extends, shipped, n=1)
        listing = ", ".join(ref.removeprefix(PACKAGE_PREFIX + "specs/") for ref in shipped)
        return (f"did you mean {close[0]}? " if close else "") + f"shipped specs (under aira-dsl:specs/): {listing}"
    return "extends takes a path relative to this file, or aira-dsl:specs/<name>.yaml for a shipped spec"
