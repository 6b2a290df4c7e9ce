"""The checker never crashes, whatever text it is given."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aira_dsl.templates import check_template_source

from .conftest import FIXTURES

JINJA_BITS = st.sampled_from([
    "{{", "}}", "{%", "%}", "{#", "#}", " ", "\n", "task", ".", "memory", "for", "in", "endfor", "if",
    "endif", "set", "=", "macro", "endmacro", "(", ")", "|", "upper", "include", "import", "from", "as",
    '"_leaf.j2"', "'x'", "loop", "[", "]", "0", ",", "is", "defined", "not", "with", "endwith", "call",
    "endcall", "filter", "endfilter", "block", "endblock", "extends", "raw", "endraw", "-", "~", "*",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(JINJA_BITS, max_size=40).map("".join))
def test_jinja_like_text_never_raises(source: str) -> None:
    diags = check_template_source(source, "fuzz.j2", "debug", search_paths=[FIXTURES])
    assert all(d.code.startswith("template-") for d in diags)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(source: str) -> None:
    diags = check_template_source(source, "fuzz.j2", "draft", search_paths=[])
    assert all(d.file == "fuzz.j2" for d in diags)
