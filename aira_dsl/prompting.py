"""Turn a plan's operator and a context into the chat messages sent to the model.

One function used by both ``aira-dsl render`` and the runtime, so what users inspect is
byte for byte what the model receives. A prompt given as one template becomes the system
message (as AIRA-dojo sends it); a ``{system, user}`` prompt gives both. Models configured with
``system_role: false`` get the system text folded into the user message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aira_dsl.plan import OperatorPlan, Plan

__all__ = ["Message", "build_messages"]

Message = dict[str, str]


def build_messages(plan: Plan, operator: OperatorPlan, context: Mapping[str, Any]) -> list[Message]:
    """Render the operator's templates from the plan's embedded sources (no files needed).

    Each render is bounded (time, size, loops, filter arguments: ``docs/templates.md#limits``)
    and runs in a renderer process, so a hostile template costs at most its time limit; it
    raises :class:`~aira_dsl.diagnostics.DiagnosticError` (code ``template-limit`` when a limit
    was hit), which the runtime turns into a failure of that node alone."""
    from aira_dsl.templates import render_from_sources

    sources = plan.template_sources()
    system = render_from_sources(sources, operator.prompt.system, context) if operator.prompt.system else None
    user = render_from_sources(sources, operator.prompt.user, context) if operator.prompt.user else None
    model = plan.models.get(operator.model)
    if model is not None and not model.system_role and system is not None:
        user = system if user is None else f"{system}\n\n{user}"
        system = None
    messages: list[Message] = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    if user is not None:
        messages.append({"role": "user", "content": user})
    return messages
