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
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from aira_dsl.search.graph import Graph, NodeView

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


def param(default: Any, kind: str, *, lo: float | None = None, hi: float | None = None,
          lo_open: bool = False, choices: tuple[str, ...] = (), duration: bool = False) -> Any:
    """Declare a policy parameter.

    ``kind`` is ``int``, ``float``, ``int?`` / ``float?`` (that type or null) or ``str`` (one of
    ``choices``). ``duration`` marks a ``float?`` written in specs as a duration (``6h``); the
    compiler converts it to seconds, so the policy always receives a number.
    """
    if kind == "str" and not choices:
        raise ValueError("a str parameter needs its choices")
    return field(default=default, metadata={"kind": kind, "lo": lo, "hi": hi, "lo_open": lo_open,
                                            "choices": tuple(choices), "duration": duration})


def parse_params(cls: type[_P], kind: str, values: Mapping[str, Any]) -> _P:
    """Build the parameter dataclass ``cls`` from a mapping, defaults for what is missing.

    The compiler has already checked a plan against the JSON Schema; this check exists for
    direct library use and gives the same kind of message (name, expected type, range).
    """
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise PolicyConfigError(f"unknown parameter(s) for the {kind} policy: {', '.join(unknown)}; "
                                f"expected: {', '.join(known)}")
    kwargs: dict[str, Any] = {}
    for name, f in known.items():
        if name not in values:
            assert f.default is not MISSING
            continue
        kwargs[name] = _check_value(kind, name, values[name], f.metadata)
    return cls(**kwargs)


def _check_value(kind: str, name: str, value: Any, rule: Mapping[str, Any]) -> Any:
    where = f"{kind} policy parameter '{name}'"
    expect = rule["kind"]
    if expect == "str":
        if value not in rule["choices"]:
            raise PolicyConfigError(f"{where} must be one of {', '.join(rule['choices'])}, got {value!r}")
        return value
    if value is None:
        if expect.endswith("?"):
            return None
        raise PolicyConfigError(f"{where} must be a number, got null")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyConfigError(f"{where} must be a number, got {type(value).__name__}")
    if expect in ("int", "int?"):
        if isinstance(value, float):
            if not value.is_integer():
                raise PolicyConfigError(f"{where} must be an integer, got {value}")
            value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise PolicyConfigError(f"{where} must be finite, got {value}")
    lo, hi = rule["lo"], rule["hi"]
    if lo is not None and (value <= lo if rule["lo_open"] else value < lo):
        raise PolicyConfigError(f"{where} must be {'>' if rule['lo_open'] else '>='} {lo}, got {value}")
    if hi is not None and value > hi:
        raise PolicyConfigError(f"{where} must be <= {hi}, got {value}")
    return value


class PolicyBase:
    """Shared plumbing: role checking, idempotent observation and replay-based rebuild.

    Subclasses implement :meth:`_reset`, :meth:`_observe`, :meth:`propose`, :meth:`_state`
    and may override :meth:`finished`.
    """

    kind: ClassVar[str] = ""
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
