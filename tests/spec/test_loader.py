"""extends: relative paths, deep merge, positions in the right file, cycles."""

from __future__ import annotations

from pathlib import Path

from aira_dsl.spec.loader import load_spec


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_deep_merge_maps_and_replaces_lists(tmp_path: Path) -> None:
    write(tmp_path / "base" / "b.yaml",
          "version: 1\nname: b\nabstract: true\nmodels:\n  m: {model: x, temperature: 0.5}\n"
          "operators:\n  draft: {kind: draft, model: m, prompt: p.j2, complexity: [{cue: minimal}]}\n")
    child = write(tmp_path / "c.yaml",
                  "version: 1\nname: c\nextends: base/b.yaml\nmodels:\n  m: {temperature: 0.9}\n"
                  "operators:\n  draft: {complexity: [{cue: advanced}]}\n")
    spec = load_spec(child)
    assert spec.diagnostics == []
    data = spec.data
    assert data["models"]["m"] == {"model": "x", "temperature": 0.9}
    assert data["operators"]["draft"]["complexity"] == [{"cue": "advanced"}]
    assert "abstract" not in data and "extends" in data
    assert spec.chain == [str(child), str(tmp_path / "base" / "b.yaml")]


def test_positions_point_into_the_file_that_wrote_the_value(tmp_path: Path) -> None:
    base = write(tmp_path / "b.yaml", "version: 1\nname: b\nmodels:\n  m: {model: x}\n")
    child = write(tmp_path / "c.yaml", "version: 1\nname: c\nextends: b.yaml\nmodels:\n  m: {temperature: 1}\n")
    doc = load_spec(child).document
    assert doc.span(("models", "m", "model")).file == str(base)
    assert doc.span(("models", "m", "temperature")).file == str(child)
    assert doc.span(("name",)).file == str(child)
    assert str(base) in doc.sources


def test_replaced_subtree_drops_base_positions(tmp_path: Path) -> None:
    write(tmp_path / "b.yaml", "version: 1\nname: b\nvars: {x: {deep: 1}}\n")
    child = write(tmp_path / "c.yaml", "version: 1\nname: c\nextends: b.yaml\nvars: {x: 5}\n")
    doc = load_spec(child).document
    assert doc.data["vars"] == {"x": 5}
    assert ("vars", "x", "deep") not in doc.spans


def test_cycle_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "version: 1\nname: a\nextends: b.yaml\n")
    write(tmp_path / "b.yaml", "version: 1\nname: b\nextends: a.yaml\n")
    spec = load_spec(tmp_path / "a.yaml")
    codes = [d.code for d in spec.diagnostics]
    assert codes == ["extends-cycle"]
    assert "a.yaml -> " in spec.diagnostics[0].message


def test_self_extension_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "version: 1\nname: a\nextends: a.yaml\n")
    assert [d.code for d in load_spec(tmp_path / "a.yaml").diagnostics] == ["extends-cycle"]


def test_missing_base_is_positioned_at_extends(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "version: 1\nname: a\nextends: nowhere.yaml\n")
    (diag,) = load_spec(tmp_path / "a.yaml").diagnostics
    assert diag.code == "extends-missing" and diag.line == 3 and diag.col == 10


def test_errors_in_base_surface_with_base_position(tmp_path: Path) -> None:
    write(tmp_path / "b.yaml", "version: 1\nname: b\nname: again\n")
    write(tmp_path / "a.yaml", "version: 1\nname: a\nextends: b.yaml\n")
    diags = load_spec(tmp_path / "a.yaml").diagnostics
    assert [(d.code, Path(d.file or "").name, d.line) for d in diags] == [("duplicate-key", "b.yaml", 3)]


def test_non_mapping_spec(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "- 1\n- 2\n")
    assert [d.code for d in load_spec(tmp_path / "a.yaml").diagnostics] == ["not-a-mapping"]
