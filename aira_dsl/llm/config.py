"""Settings of one model as the plan names it, resolved into what a request needs.

The type itself is :class:`aira_dsl.settings.model.ModelSettings`: the spec's ``models.<name>``
section, the plan's model entry and the client's input are one declaration (fields, defaults and
ranges written once). This module re-exports it for the LLM layer.
"""

from __future__ import annotations

from aira_dsl.settings.model import (
    DEFAULT_BASE_URL,
    MaxTokensParam,
    ModelConfigError,
    ModelSettings,
    ReviewMethod,
    StructuredOutput,
)

__all__ = ["DEFAULT_BASE_URL", "MaxTokensParam", "ModelConfigError", "ModelSettings", "ReviewMethod",
           "StructuredOutput"]
