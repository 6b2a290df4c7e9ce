"""Reading answers: reasoning blocks, code extraction, review JSON (pure functions, real inputs)."""

from __future__ import annotations

import ast
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aira_dsl.llm.parsing import Review, ReviewParseError, extract_code, parse_review, strip_reasoning

# ------------------------------------------------------------------------------ reasoning


def test_strip_reasoning_removes_every_think_block() -> None:
    text, reasoning = strip_reasoning("<think>first idea</think>Answer A <THINK>second</THINK> end")
    assert text == "Answer A  end"
    assert reasoning == "first idea\n\nsecond"


def test_strip_reasoning_lone_closing_tag_makes_the_prefix_reasoning() -> None:
    text, reasoning = strip_reasoning("the prompt opened the block\nmore thoughts</think>\nFinal answer")
    assert text == "Final answer"
    assert reasoning == "the prompt opened the block\nmore thoughts"


def test_strip_reasoning_unclosed_block_is_all_reasoning() -> None:
    text, reasoning = strip_reasoning("Plan first. <thinking>and then it was cut off")
    assert text == "Plan first."
    assert reasoning == "and then it was cut off"


def test_strip_reasoning_leaves_plain_text_alone() -> None:
    assert strip_reasoning("  just an answer \n") == ("just an answer", "")


# ------------------------------------------------------------------------------ code


def test_code_inside_a_think_block_is_ignored() -> None:
    answer = extract_code("<think>maybe ```python\nimport nothing(\n```</think>\nUse a tree.\n```python\nx = 1\n```")
    assert answer.code == "x = 1\n"
    assert answer.plan == "Use a tree."
    assert answer.problem is None


def test_several_compiling_blocks_are_joined_in_order_and_the_plan_is_the_prose_before() -> None:
    text = ("# Plan\nLoad the data, then fit.\n\n```python\nimport os\n```\nthen:\n```py\nprint(os.sep)\n```\n"
            "```bash\npip install lightgbm\n```\n")
    answer = extract_code(text)
    assert answer.code == "import os\n\nprint(os.sep)\n"
    assert answer.plan == "# Plan\nLoad the data, then fit."


def test_non_compiling_blocks_are_dropped_when_others_compile() -> None:
    answer = extract_code("```python\ndef broken(:\n```\n```python\nvalue = 2\n```")
    assert answer.code == "value = 2\n"


def test_only_non_compiling_code_reports_the_syntax_error_with_its_line() -> None:
    answer = extract_code("Here you go\n```python\nx = 1\nfor i in range(3)\n    print(i)\n```")
    assert answer.code is None
    assert answer.problem is not None
    assert "does not compile" in answer.problem and "line 2" in answer.problem


def test_no_code_block_in_prose_is_a_problem() -> None:
    answer = extract_code("I would use gradient boosting with five-fold cross-validation.")
    assert answer.code is None
    assert answer.problem == "the answer holds no ```python code block"


def test_unfenced_program_is_accepted_as_code() -> None:
    answer = extract_code("import math\nprint(math.pi)\n")
    assert answer.code == "import math\nprint(math.pi)\n"
    assert answer.plan == ""


def test_a_single_word_is_not_a_program() -> None:
    assert extract_code("Done").code is None


def test_unterminated_fence_still_yields_complete_code() -> None:
    assert extract_code("Plan\n```python\nprint('cut here')\n").code == "print('cut here')\n"


def test_longer_fences_can_hold_shorter_ones() -> None:
    text = "````python\ns = '''\n```\n'''\nprint(s)\n````"
    assert extract_code(text).code == "s = '''\n```\n'''\nprint(s)\n"


def test_tilde_fences_and_empty_blocks() -> None:
    assert extract_code("~~~python\ny = 3\n~~~").code == "y = 3\n"
    empty = extract_code("Plan\n```python\n\n```")
    assert empty.code is None and empty.problem == "the code block is empty"


def test_empty_answer_is_a_problem() -> None:
    assert extract_code("<think>only thoughts</think>").problem == "the answer was empty"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("`~pythn \n(){}:=<>/abcdefk0123")), max_size=200))
def test_extract_code_never_raises_and_code_always_compiles(text: str) -> None:
    answer = extract_code(text)
    assert (answer.code is None) == (answer.problem is not None)
    if answer.code is not None:
        compile(answer.code, "<test>", "exec", dont_inherit=True, flags=ast.PyCF_ONLY_AST)


# ------------------------------------------------------------------------------ reviews


def test_review_from_mapping_and_from_json_string() -> None:
    expected = Review(False, "ran fine", 0.91)
    assert parse_review({"is_bug": False, "summary": "ran fine", "metric": 0.91}) == expected
    assert parse_review('{"is_bug": false, "summary": "ran fine", "metric": 0.91}') == expected


def test_review_embedded_in_prose_or_a_fence() -> None:
    text = 'The code ran.\n```json\n{"is_bug": true, "summary": "crashed", "metric": null}\n```\nThanks'
    assert parse_review(text) == Review(True, "crashed", None)
    assert parse_review('Verdict {"note": 1} then {"is_bug": "no", "summary": "ok", "metric": 3}') == \
        Review(False, "ok", 3.0)


def test_review_wrapped_one_level() -> None:
    assert parse_review('{"review": {"is_bug": 0, "summary": "s", "metric": "0.5"}}') == Review(False, "s", 0.5)


@pytest.mark.parametrize(("metric", "expected"), [
    (3, 3.0), (0.25, 0.25), ("0.75", 0.75), (" 12.5 ", 12.5), ("85%", 85.0), ("-1e-3", -0.001),
    ("high", None), (None, None), (True, None), (float("nan"), None), ("inf", None), ([0.5], None),
    ({"value": 1}, None),
])
def test_metric_accepts_numbers_and_numeric_strings_only(metric: object, expected: float | None) -> None:
    review = parse_review({"is_bug": False, "summary": "", "metric": metric})
    if expected is None:
        assert review.metric is None
    else:
        assert review.metric is not None and math.isclose(review.metric, expected)


@pytest.mark.parametrize(("flag", "expected"), [(True, True), ("false", False), ("YES", True), (1, True), (0, False)])
def test_is_bug_accepts_booleans_and_their_spellings(flag: object, expected: bool) -> None:
    assert parse_review({"is_bug": flag, "summary": "x"}).is_bug is expected


@pytest.mark.parametrize(("source", "reason"), [
    ('{"is_bug": false, "summary": "the run fin', "no JSON object"),
    ('{"summary": "no verdict"}', "no `is_bug`"),
    ('{"is_bug": "maybe", "summary": "?"}', "true or false"),
    ("", "empty"),
    (None, "empty"),
    ("looks fine to me", "no JSON object"),
])
def test_unreadable_reviews_raise_with_a_reason(source: str | None, reason: str) -> None:
    with pytest.raises(ReviewParseError, match=reason):
        parse_review(source)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_parse_review_raises_nothing_but_review_parse_error(text: str) -> None:
    try:
        review = parse_review(text)
    except ReviewParseError:
        return
    assert isinstance(review.is_bug, bool)
    assert review.metric is None or math.isfinite(review.metric)
