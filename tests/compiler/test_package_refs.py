"""``aira-dsl:`` references: a spec anywhere can extend a shipped spec and use a shipped prompt."""

from __future__ import annotations

from pathlib import Path

from aira_dsl.compiler import check_spec, compile_spec
from aira_dsl.shipped import package_ref_of, resolve_package_ref, shipped_path


def test_resolution_stays_inside_the_assets() -> None:
    assert resolve_package_ref("aira-dsl:specs/aira-greedy.yaml") == shipped_path("specs", "aira-greedy.yaml")
    for bad in ("aira-dsl:../pyproject.toml", "aira-dsl:specs/../../setup.py", "aira-dsl:/etc/passwd",
                "aira-dsl:", "aira-dsl:tests/x.yaml", "specs/aira-greedy.yaml"):
        assert resolve_package_ref(bad) is None, bad
    assert package_ref_of(shipped_path("prompts", "aira", "draft.j2")) == "aira-dsl:prompts/aira/draft.j2"


def test_a_spec_elsewhere_extends_a_shipped_spec_and_uses_a_shipped_prompt(tmp_path: Path) -> None:
    spec = tmp_path / "mine.yaml"
    spec.write_text("version: 1\nname: mine\nextends: aira-dsl:specs/aira-greedy.yaml\n"
                    "operators:\n  draft: {prompt: aira-dsl:prompts/aide/draft.j2}\n")
    result = compile_spec(spec)
    assert result.plan is not None, [str(d) for d in result.diagnostics]
    assert result.plan.sources[1:] == ["aira-dsl:specs/aira-greedy.yaml", "aira-dsl:specs/aira-base.yaml",
                                       "aira-dsl:specs/base.yaml"]
    assert "aide/draft.j2" in result.plan.templates


def test_a_wrong_package_reference_is_positioned_with_a_suggestion(tmp_path: Path) -> None:
    spec = tmp_path / "mine.yaml"
    spec.write_text("version: 1\nname: mine\nextends: aira-dsl:specs/aira-gredy.yaml\n")
    [diag] = [d for d in check_spec(spec).diagnostics if d.is_error]
    assert (diag.code, diag.line, diag.col) == ("extends-missing", 3, 10)
    assert diag.hint is not None and "did you mean aira-dsl:specs/aira-greedy.yaml" in diag.hint
    spec.write_text("version: 1\nname: mine\nextends: aira-dsl:../../etc/passwd\n")
    [diag] = [d for d in check_spec(spec).diagnostics if d.is_error]
    assert diag.code == "extends-missing" and "not a shipped file reference" in diag.message
