"""docs/architecture.md's layer table is the layering: no module imports from a higher layer.

The table lists every subpackage (``expr/``) and top-level module (``kinds.py``) of aira_dsl with
its layer. The imports of every module are read with ``ast`` (inside functions, under
``TYPE_CHECKING`` and through ``importlib.import_module("aira_dsl....")`` too), mapped to the
unit they land in, and compared with the table.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "aira_dsl"
DOC = REPO / "docs" / "architecture.md"


def layer_table() -> dict[str, int]:
    """Unit → layer, from the table under "## Layers" (rows whose first cell is a number)."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Layers", 1)[1].split("\n## ", 1)[0]
    layers: dict[str, int] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].isdigit():
            continue
        for unit in re.findall(r"`([^`]+)`", cells[1]):
            assert unit not in layers, f"{unit} is listed twice in the layer table"
            layers[unit] = int(cells[0])
    assert layers, "no layer table found in docs/architecture.md"
    return layers


def code_units() -> set[str]:
    """``name/`` for each subpackage, ``name.py`` for each top-level module."""
    units = {f"{p.name}/" for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    return units | {p.name for p in PACKAGE.glob("*.py")}


def unit_of(module: str) -> str | None:
    """The unit an absolute module name lands in; the package root for ``aira_dsl`` itself."""
    parts = module.split(".")
    if parts[0] != "aira_dsl":
        return None
    if len(parts) == 1:
        return "__init__.py"
    if (PACKAGE / parts[1] / "__init__.py").is_file():
        return f"{parts[1]}/"
    if (PACKAGE / f"{parts[1]}.py").is_file():
        return f"{parts[1]}.py"
    return "__init__.py"  # ``from aira_dsl import __version__``: a name of the package root


def imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every aira_dsl module ``path`` imports, with the line: import statements, and module names
    written as strings (``import_module("aira_dsl.x")``, the lazy-import tables of ``cli/`` and
    ``llm/``), which are imports made later."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    package = parts[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    data_reads = {id(node.args[0]) for node in ast.walk(tree) if isinstance(node, ast.Call) and node.args
                  and getattr(node.func, "attr", getattr(node.func, "id", "")) == "files"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *((node.module or "").split(".") if node.module else [])])
            yield target, node.lineno
            for alias in node.names:  # ``from aira_dsl import kinds`` imports the module kinds
                yield f"{target}.{alias.name}", node.lineno
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_NAME.fullmatch(node.value):
            if id(node) in data_reads:  # importlib.resources.files("aira_dsl.x"): data, see below
                yield f"{DATA}{node.value}", node.lineno
            else:
                yield node.value, node.lineno


DATA = "data:"
"""Marks a package read for its data files, which imports only its ``__init__``."""
_MODULE_NAME = re.compile(r"aira_dsl(\.[A-Za-z_][A-Za-z0-9_]*)+")


def own_unit(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return f"{relative.parts[0]}/" if len(relative.parts) > 1 else relative.name


def test_the_layer_table_lists_every_unit() -> None:
    listed, present = set(layer_table()), code_units()
    assert sorted(present - listed) == [], "add these to the layer table of docs/architecture.md"
    generated = set(re.findall(r"`([^`]+)` \(generated", DOC.read_text(encoding="utf-8")))
    assert sorted(listed - present - generated) == [], "the layer table lists units that do not exist"


def test_no_module_imports_from_a_higher_layer() -> None:
    layers = layer_table()
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = own_unit(path)
        for module, line in imports(path):
            data = module.startswith(DATA)
            module = module.removeprefix(DATA)
            target = unit_of(module)
            if target is None or target == source or source == "__init__.py":
                continue  # the package root's facade imports on attribute access (see the doc)
            if layers.get(target, -1) <= layers.get(source, 99):
                continue
            if data:
                # Reading a higher package's data files (the shipped JSON Schemas) runs only
                # its __init__, which must then import nothing from aira_dsl.
                init = PACKAGE.joinpath(*module.split(".")[1:], "__init__.py")
                if not init.is_file() or not [m for m, _ in imports(init) if unit_of(m) is not None]:
                    continue
            upward.append(f"{path.relative_to(REPO)}:{line}: {source} (layer {layers[source]}) imports "
                          f"{module} ({target}, layer {layers[target]})")
    assert upward == [], "\n".join(upward)


def test_the_readme_links_the_architecture_page() -> None:
    assert "(docs/architecture.md)" in (REPO / "README.md").read_text(encoding="utf-8")


def test_the_import_reader_sees_every_kind_of_import() -> None:
    """Module-level, function-level and string imports are all mapped to their units (so the
    test above can fail)."""
    found = {unit_of(module) for module, _ in imports(PACKAGE / "runtime" / "scheduler.py")}
    assert {"plan.py", "runtime/", "search/", "llm/", "sandbox/"} <= found  # llm, sandbox: inside a function
    found = {unit_of(module) for module, _ in imports(PACKAGE / "__init__.py")}  # the lazy facade
    assert {"compiler/", "runtime/", "report/"} <= found
    layers = layer_table()
    assert layers["runtime/"] > layers["compiler/"] > layers["plan.py"] > layers["settings/"] > layers["kinds.py"]
