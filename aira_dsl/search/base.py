"""What every search policy shares: the action it proposes, its protocol and parameter checking.

A policy is a pure decision maker. The engine asks it for the next :class:`Action` whenever a
worker is free, turns the action into a pending node, runs it, and reports the finished node
back through :meth:`Policy.observe`. Policies never call the LLM or the sandbox, and all of
their randomness comes from the ``random.Random`` the engine passes in, so a run is
reproducible from its seed and its sequence of outcomes.

Policy state must be a function of the graph: :meth:`PolicyBase.rebuild` replays the
observations of every finished node in the order they finished (``Graph.finish_order``), which is
how a resumed run recovers the exact state the crashed run had. Every policy except the
steady-state evolutionary one is written so that the order in which concurrent workers finish
does not change its state (see the policy modules for how); steady-state evolution admits each
individual on arrival, so its state depends on that order, which the graph records.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from aira_dsl.search.graph import Graph, NodeView
from aira_dsl.settings.fields import FieldInfo, field_infos, literal_values, parse_duration, setting, unwrap

__all__ = ["Action", "Policy", "PolicyBase", "PolicyConfigError", "param", "parse_params"]


@dataclass(frozen=True)
class Action:
    """The next thing to do: apply the operator playing ``operator`` (a role) to ``parent_ids``.

    ``meta`` carries what the engine must record on the new node (``generation`` and
    ``island`` for the evolutionary policy); it is empty for the other policies.
    """

    operator: str
    parent_ids: tuple[int, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"operator": self.operator, "parent_ids": list(self.parent_ids), "meta": dict(self.meta)}


@runtime_checkable
class Policy(Protocol):
    """The interface the engine drives; see :class:`PolicyBase` for the shared implementation."""

    kind: ClassVar[str]
    roles: dict[str, str]
    """Role → operator name; an action's ``operator`` is a key of this mapping."""

    def propose(self, graph: Graph, rng: random.Random) -> Action | None:
        """The next action, or ``None`` when there is nothing to do until more results arrive."""
        ...

    def observe(self, graph: Graph, node_id: int) -> None:
        """Node ``node_id`` of ``graph`` has finished; update the policy's bookkeeping."""
        ...

    def finished(self, graph: Graph) -> bool:
        """True when the policy will never propose anything again (independent of budgets)."""
        ...

    def state(self) -> dict[str, Any]:
        """JSON-safe snapshot of the policy's bookkeeping, for logs and resume checks."""
        ...

    def rebuild(self, graph: Graph) -> None:
        """Reset and replay the observation of every finished node of ``graph`` in the order they finished."""
        ...


class PolicyConfigError(ValueError):
    """A policy was configured with unknown, mistyped or out-of-range parameters or roles."""


_P = TypeVar("_P")

MAX_DEBUG_TIME_DOC = (
    "Stop a debug chain once its executions (the buggy node it started from included) have used this much time "
    "in total; checked after each debug step, so the first debug always runs. null: no cap (AIRA-dojo's "
    "evolutionary agent: 6h).")
DRAFT_DEBUG_DEPTH_DOC = (
    "Debug steps a draft counts as having taken already, against max_debug_depth. 0: a draft's debug chain is as "
    "long as any other. AIRA-dojo hangs its drafts under an empty buggy root and so counts them at depth 1.")
"""Parameters every policy has, documented once."""


def param(default: Any, *, doc: str, ge: float | None = None, gt: float | None = None,
          le: float | None = None) -> Any:
    """Declare a policy parameter: its default, bounds and the description the schema and the
    docs show (a :func:`~aira_dsl.settings.fields.setting`; the type is the annotation)."""
    return setting(default, doc=doc, ge=ge, gt=gt, le=le)


def parse_params(cls: type[_P], kind: str, values: Mapping[str, Any]) -> _P:
    """Build the parameter dataclass ``cls`` from a mapping, defaults for what is missing.

    The compiler has already checked a plan against the JSON Schema; this check exists for
    direct library use and gives the same kind of message (name, expected type, range).
    """
    known = {info.name: info for info in field_infos(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise PolicyConfigError(f"unknown parameter(s) for the {kind} policy: {', '.join(unknown)}; "
                                f"expected: {', '.join(known)}")
    kwargs: dict[str, Any] = {}
    for name, info in known.items():
        if name in values:
            kwargs[name] = _check_value(kind, name, values[name], info)
    return cls(**kwargs)


def _check_value(kind: str, name: str, value: Any, info: FieldInfo) -> Any:
    where = f"{kind} policy parameter '{name}'"
    inner, nullable, duration = unwrap(info.annotation)
    if value is None:
        if nullable:
            return None
        raise PolicyConfigError(f"{where} must be a number, got null")
    if duration and isinstance(value, str):
        seconds = parse_duration(value)
        if seconds is None:
            raise PolicyConfigError(f"{where} must be a duration (90, 90s, 30m, 4h), got {value!r}")
        value = seconds
    options = literal_values(inner)
    if options is not None:
        if value not in options:
            raise PolicyConfigError(f"{where} must be one of {', '.join(map(str, options))}, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyConfigError(f"{where} must be a number, got {type(value).__name__}")
    if inner is int:
        if isinstance(value, float):
            if not value.is_integer():
                raise PolicyConfigError(f"{where} must be an integer, got {value}")
            value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise PolicyConfigError(f"{where} must be finite, got {value}")
    meta = info.meta
    if meta.get("gt") is not None and value <= meta["gt"]:
        raise PolicyConfigError(f"{where} must be > {meta['gt']}, got {value}")
    if meta.get("ge") is not None and value < meta["ge"]:
        raise PolicyConfigError(f"{where} must be >= {meta['ge']}, got {value}")
    if meta.get("le") is not None and value > meta["le"]:
        raise PolicyConfigError(f"{where} must be <= {meta['le']}, got {value}")
    return value


class PolicyBase:
    """Shared plumbing: role checking, idempotent observation and replay-based rebuild.

    Subclasses implement :meth:`_reset`, :meth:`_observe`, :meth:`propose`, :meth:`_state`
    and may override :meth:`finished`.
    """

    kind: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    """One line on what the policy does (the schema's and the docs' description of ``kind``)."""
    roles_needed: ClassVar[tuple[str, ...]] = ("draft", "improve", "debug")

    def __init__(self, roles: Mapping[str, str] | None = None) -> None:
        if roles is not None:
            missing = [r for r in self.roles_needed if r not in roles]
            if missing:
                raise PolicyConfigError(f"the {self.kind} policy needs operators for the role(s) "
                                        f"{', '.join(missing)}; bound roles: {', '.join(sorted(roles)) or 'none'}")
        self.roles: dict[str, str] = (dict(roles) if roles is not None
                                      else {r: r for r in self.roles_needed})
        self._observed: set[int] = set()
        self._reset()

    def _reset(self) -> None:
        """Forget every observation."""

    def _observe(self, graph: Graph, node: NodeView) -> None:
        """Account for one newly finished node (called once per node)."""

    def _state(self) -> dict[str, Any]:
        return {}

    def propose(self, graph: Graph, rng: random.Random) -> Action | None:
        raise NotImplementedError

    def observe(self, graph: Graph, node_id: int) -> None:
        """Record a finished node; observing the same node twice is a no-op."""
        node = graph[node_id]
        if not node.is_done:
            raise ValueError(f"node {node_id} is still pending; observe it once it has finished")
        if node_id in self._observed:
            return
        self._observed.add(node_id)
        self._observe(graph, node)

    def finished(self, graph: Graph) -> bool:
        return False

    def rebuild(self, graph: Graph) -> None:
        self._observed = set()
        self._reset()
        for node_id in graph.finish_order():
            self.observe(graph, node_id)

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "observed": len(self._observed), **self._state()}
