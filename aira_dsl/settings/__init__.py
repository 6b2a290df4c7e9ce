"""Settings declared once: typed fields with defaults, ranges and docs, and what is generated from them.

:mod:`.fields` declares (:func:`setting`) and builds typed objects from YAML data; :mod:`.schema`
generates JSON Schema; :mod:`.model`, :mod:`.run` hold the settings sections several layers share
(one model's settings; budgets and execution). Nothing here imports the rest of aira_dsl.
"""

from __future__ import annotations

from aira_dsl.settings.fields import Duration, SettingError, build, field_infos, parse_duration, setting

__all__ = ["Duration", "SettingError", "build", "field_infos", "parse_duration", "setting"]
