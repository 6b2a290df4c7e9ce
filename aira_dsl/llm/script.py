"""The answer script of the scripted test server: its YAML format, checking, and rule matching.

A script is a list of rules tried in order. A rule matches a request by operator kind or name
(from the ``X-Aira-*`` headers the client sends; a request that offers a review tool or asks for a
JSON response counts as kind ``analyze`` when it has no header), by a regular expression over the
prompt, or by model id. A matching rule first plays its faults (each ``times`` times), then its
answers, cycled or (``cycle: false``) each used once, after which the rule stops matching. The
full format is documented in ``docs/llm.md``. This is a test and demo instrument, not a model.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = ["DECORATING_FAULTS", "FAULTS", "Answer", "Decision", "Fault", "RequestView", "Rule", "Script",
           "ScriptError", "load_script"]

DECORATING_FAULTS = ("bad_usage", "list_content", "huge_answer", "lone_surrogates", "nul_bytes", "slow_drip")
"""Faults that send the rule's next answer, twisted (odd usage, odd content, a slow body)."""
FAULTS = ("rate_limit", "server_error", "unavailable", "hang", "truncated_json", "empty_choices", "no_code",
          "bad_review_args", "http_error", "context_length",
          # a hostile or broken endpoint (docs/llm.md, "Hostile endpoints")
          "invalid_json", "html", "error_body_200", "null_message", "chunked_garbage", "truncated_body",
          "sse_garbage", "deep_json", "huge_error_body", "close_without_response", "invalid_utf8", *DECORATING_FAULTS)
"""Injectable faults; each is described in docs/llm.md."""
FEATURES = ("tools", "json_schema", "json_object", "stream")
"""Request features the server can be told to refuse with HTTP 400, like servers that lack them."""

_NUMBER = {"type": "number", "minimum": 0}
_FAULT_SCHEMA = {
    "type": "object",
    "required": ["fault"],
    "additionalProperties": False,
    "properties": {
        "fault": {"enum": list(FAULTS)},
        "times": {"type": "integer", "minimum": 1},
        "retry_after": _NUMBER,
        "seconds": _NUMBER,
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "message": {"type": "string"},
        "header": {"type": "string"},
        "usage": {"type": "object"},
        "size": {"type": "integer", "minimum": 1},
    },
}
_ANSWER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "oneOf": [{"required": ["text"]}, {"required": ["code"]}, {"required": ["review"]}],
    "properties": {
        "text": {"type": "string"},
        "code": {"type": "string"},
        "plan": {"type": "string"},
        "review": {"type": "object"},
        "think": {"type": "string"},
        "reasoning": {"type": "string"},
        "finish_reason": {"type": "string"},
        "usage": {"type": "object", "additionalProperties": False,
                  "properties": {k: {"type": "integer", "minimum": 0}
                                 for k in ("prompt_tokens", "completion_tokens", "reasoning_tokens")}},
    },
}
_STRINGS = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
SCRIPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "latency": _NUMBER,
        "refuse": {"type": "array", "items": {"enum": list(FEATURES)}},
        "require_api_key": {"type": ["string", "null"]},
        "report_usage": {"type": "boolean"},
        "faults": {"type": "array", "items": _FAULT_SCHEMA},
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "when": {"type": "object", "additionalProperties": False,
                             "properties": {"kind": _STRINGS, "operator": _STRINGS, "match": {"type": "string"},
                                            "model": {"type": "string"}}},
                    "latency": _NUMBER,
                    "cycle": {"type": "boolean"},
                    "faults": {"type": "array", "items": _FAULT_SCHEMA},
                    "answers": {"type": "array", "items": _ANSWER_SCHEMA},
                },
            },
        },
    },
}


class ScriptError(ValueError):
    """The script is not valid; the message lists every problem with its place in the file."""


@dataclass
class Fault:
    """One injected fault and how many more times it fires."""

    kind: str
    remaining: int = 1
    retry_after: float | None = None
    seconds: float | None = None
    status: int | None = None
    message: str | None = None
    header: str | None = None
    """``rate_limit``/``unavailable``: the ``Retry-After`` value sent verbatim (garbage included)."""
    usage: Mapping[str, Any] | None = None
    """``bad_usage``: the ``usage`` object sent as given (negative, huge, strings...)."""
    size: int | None = None
    """``huge_answer``: characters added to the answer; ``deep_json``: the nesting depth;
    ``huge_error_body``: the bytes of the error message."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        return cls(str(data["fault"]), int(data.get("times", 1)), data.get("retry_after"),
                   data.get("seconds"), data.get("status"), data.get("message"), data.get("header"),
                   data.get("usage"), data.get("size"))


@dataclass(frozen=True)
class Answer:
    """One scripted answer: plain ``text``, ``code`` (with an optional ``plan``), or a ``review``."""

    text: str | None = None
    code: str | None = None
    plan: str | None = None
    review: Mapping[str, Any] | None = None
    think: str | None = None
    reasoning: str | None = None
    finish_reason: str | None = None
    usage: Mapping[str, int] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        return cls(**{key: data.get(key) for key in cls.__dataclass_fields__})


@dataclass(frozen=True)
class RequestView:
    """What rules look at in a request."""

    model: str
    text: str
    kind: str | None = None
    operator: str | None = None
    node: str | None = None
    wants_review: bool = False


@dataclass
class Rule:
    """A matching condition and what to play when it holds."""

    name: str
    kinds: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    match: re.Pattern[str] | None = None
    model: re.Pattern[str] | None = None
    latency: float | None = None
    cycle: bool = True
    faults: list[Fault] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    used: int = 0

    def matches(self, view: RequestView) -> bool:
        if self.kinds:
            kind = view.kind or ("analyze" if view.wants_review else None)
            if kind not in self.kinds:
                return False
        if self.operators and view.operator not in self.operators:
            return False
        if self.match is not None and self.match.search(view.text) is None:
            return False
        return self.model is None or self.model.fullmatch(view.model) is not None

    def has_something(self) -> bool:
        return any(f.remaining > 0 for f in self.faults) or (
            bool(self.answers) and (self.cycle or self.used < len(self.answers)))


@dataclass(frozen=True)
class Decision:
    """What the server does with one request: a fault, an answer, or (neither) a "no rule" error.

    A decorating fault (:data:`DECORATING_FAULTS`) comes with the answer it twists, when a rule
    has one to give.
    """

    rule: str | None
    latency: float
    fault: Fault | None = None
    answer: Answer | None = None


def _take_fault(faults: list[Fault]) -> Fault | None:
    for fault in faults:
        if fault.remaining > 0:
            fault.remaining -= 1
            return fault
    return None


@dataclass
class Script:
    """A checked script with its playing state; :meth:`decide` is safe from many threads."""

    rules: list[Rule]
    latency: float = 0.0
    refuse: frozenset[str] = frozenset()
    require_api_key: str | None = None
    report_usage: bool = True
    faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def decide(self, view: RequestView) -> Decision:
        with self._lock:
            fault = _take_fault(self.faults)
            if fault is not None:
                answer = self._answer(view) if fault.kind in DECORATING_FAULTS else None
                return Decision("(global)", self.latency, fault=fault, answer=answer)
            for rule in self.rules:
                if not rule.matches(view) or not rule.has_something():
                    continue
                latency = self.latency if rule.latency is None else rule.latency
                fault = _take_fault(rule.faults)
                if fault is not None:
                    answer = _next_answer(rule) if fault.kind in DECORATING_FAULTS else None
                    return Decision(rule.name, latency, fault=fault, answer=answer)
                return Decision(rule.name, latency, answer=_next_answer(rule))
            return Decision(None, self.latency)

    def _answer(self, view: RequestView) -> Answer | None:
        """The answer the first matching rule would give (for a decorating global fault)."""
        for rule in self.rules:
            if rule.matches(view) and rule.answers and (rule.cycle or rule.used < len(rule.answers)):
                return _next_answer(rule)
        return None


def _next_answer(rule: Rule) -> Answer | None:
    if not rule.answers or (not rule.cycle and rule.used >= len(rule.answers)):
        return None
    answer = rule.answers[rule.used % len(rule.answers)]
    rule.used += 1
    return answer


def _place(path: Any) -> str:
    out = "script"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _regex(pattern: str | None, where: str, problems: list[str]) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as exc:
        problems.append(f"{where}: bad regular expression {pattern!r}: {exc}")
        return None


def load_script(source: Script | Mapping[str, Any] | str | Path) -> Script:
    """A fresh :class:`Script` from a mapping, a YAML file path, or a Script (its state is not shared).

    Raises :class:`ScriptError` listing every problem found.
    """
    if isinstance(source, Script):
        raise ScriptError("pass the script's source (mapping or path), not a Script, to get fresh state")
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ScriptError(f"cannot read the script {path}: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise ScriptError(f"{path}: not valid YAML: {exc}") from exc
        data = {} if data is None else data
    else:
        data = source
    if not isinstance(data, Mapping):
        raise ScriptError("a script must be a mapping with `rules:` (see docs/llm.md)")
    validator = jsonschema.Draft202012Validator(SCRIPT_SCHEMA)
    problems = [f"{_place(error.absolute_path)}: {error.message}"
                for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))]
    if problems:
        raise ScriptError("invalid script:\n  " + "\n  ".join(problems))
    rules = []
    for index, entry in enumerate(data.get("rules", [])):
        when = entry.get("when", {})
        where = f"script.rules[{index}].when"
        rules.append(Rule(
            name=entry.get("name", f"rule {index + 1}"), kinds=_strings(when.get("kind")),
            operators=_strings(when.get("operator")), match=_regex(when.get("match"), where + ".match", problems),
            model=_regex(when.get("model"), where + ".model", problems), latency=entry.get("latency"),
            cycle=entry.get("cycle", True), faults=[Fault.from_dict(f) for f in entry.get("faults", [])],
            answers=[Answer.from_dict(a) for a in entry.get("answers", [])]))
    if problems:
        raise ScriptError("invalid script:\n  " + "\n  ".join(problems))
    return Script(rules=rules, latency=float(data.get("latency", 0.0)), refuse=frozenset(data.get("refuse", [])),
                  require_api_key=data.get("require_api_key"), report_usage=data.get("report_usage", True),
                  faults=[Fault.from_dict(f) for f in data.get("faults", [])])
