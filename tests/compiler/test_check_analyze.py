"""``missing-analyze`` is decided from the parsed fitness expressions, not from their text."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from aira_dsl.compiler import check_spec

SPEC = """\
    version: 1
    name: analyze-check
    models:
      coder: {{model: fake, api_key_env: null}}
    operators:
      draft: {{kind: draft, model: coder, prompt: "Solve {{{{ task.name }}}}."}}
      improve: {{kind: improve, model: coder, prompt: "Improve {{{{ parent.plan }}}}."}}
      debug: {{kind: debug, model: coder, prompt: "Fix {{{{ parent.output }}}}."}}
    policy: {{kind: greedy, num_drafts: 1}}
    fitness: {fitness}
    """


def codes(tmp_path: Path, fitness: str) -> set[str]:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(SPEC.format(fitness=fitness)))
    return {d.code for d in check_spec(path).diagnostics.sorted()}


@pytest.mark.parametrize("fitness", [
    """{metric: reported.cv, buggy: "metric == null or submission.reason == 'review.x'"}""",
    """{metric: reported.cv, buggy: "metric == null", value: "metric if 'review' != '' else 0"}""",
    """{metric: reported.review, buggy: "metric == null"}""",  # a reported value named review
])
def test_review_in_a_string_literal_is_not_a_read(tmp_path: Path, fitness: str) -> None:
    assert codes(tmp_path, fitness) == set()


@pytest.mark.parametrize("fitness", [
    "{metric: review.metric}",
    """{metric: reported.cv, buggy: "metric == null or review.is_bug"}""",
    """{metric: reported.cv, value: "metric if not review.is_bug else 0"}""",
])
def test_reading_the_review_without_an_analyze_operator_is_an_error(tmp_path: Path, fitness: str) -> None:
    assert "missing-analyze" in codes(tmp_path, fitness)
