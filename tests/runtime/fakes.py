"""In-memory collaborators of the node pipeline: a model, a sandbox and a grader.

They satisfy the same Protocols as the real ones (``ChatModel``, ``Sandbox``, ``Grader``), so the
pipeline and the scheduler are exercised without HTTP or subprocesses. The sandbox "runs" a
solution by looking its code up in a table of scripted behaviours and writing the files that
behaviour names into a real workspace folder; the grader scores a submission by reading a number
from it. Each fake records the calls it got, in order, in a shared ``log`` list.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl.llm.types import ChatResult, Usage
from aira_dsl.runtime.records import Grade, SubmissionCheck
from aira_dsl.sandbox.base import ExecResult, Limits, Workspace
from aira_dsl.settings.model import ModelSettings


@dataclass
class FakeModel:
    """Answers chat calls from a function of (messages, kwargs); review calls get a tool answer."""

    answer: Callable[[Sequence[Mapping[str, str]], Mapping[str, Any]], str]
    log: list[str]
    review: Mapping[str, Any] | None = None
    review_method: Any = "tools"
    name: str = "fake"
    delay: float = 0.0
    calls: list[list[dict[str, str]]] = field(default_factory=list)

    @property
    def settings(self) -> ModelSettings:
        return ModelSettings(name=self.name, model="fake-model", api_key_env=None, structured_output="tools")

    async def chat(self, messages: Sequence[Mapping[str, str]], **kwargs: Any) -> ChatResult:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.calls.append([dict(m) for m in messages])
        purpose = kwargs.get("purpose")
        kind = getattr(purpose, "kind", "")
        self.log.append(f"llm:{kind}")
        if kwargs.get("tools"):
            arguments = json.dumps(dict(self.review or {"is_bug": False, "summary": "fine", "metric": 0.5}))
            return ChatResult(text="", tool_arguments=arguments, tool_name="submit_review", usage=Usage(10, 5, 0))
        return ChatResult(text=self.answer(messages, kwargs), usage=Usage(100, 50, 0), cost_usd=0.001)


@dataclass
class Behaviour:
    """What a scripted solution does when "run": its output, exit code and the files it writes."""

    output: str = "ok"
    exit_code: int = 0
    timed_out: bool = False
    files: Mapping[str, str] = field(default_factory=dict)
    duration: float = 1.5


@dataclass
class FakeSandbox:
    """Runs a solution by looking up its code's first line (``# behaviour: NAME``) in ``behaviours``."""

    root: Path
    behaviours: Mapping[str, Behaviour]
    log: list[str]
    runs: int = 0

    def prepare(self, node_id: str, data_dir: Path | None, extra_files: Mapping[str, bytes] = {}) -> Workspace:
        folder = self.root / node_id
        shutil.rmtree(folder, ignore_errors=True)
        for sub in ("data", "working", "submission"):
            (folder / sub).mkdir(parents=True)
        for name, content in extra_files.items():
            (folder / name).write_bytes(content)
        self.log.append("sandbox:prepare")
        return Workspace(root=folder, data_dir=folder / "data", working_dir=folder / "working",
                         submission_dir=folder / "submission", node_id=node_id, source_data=data_dir)

    def run(self, workspace: Workspace, script_name_or_argv: str | Sequence[str], limits: Limits,
            env: Mapping[str, str] = {}) -> ExecResult:
        self.runs += 1
        code = (workspace.root / str(script_name_or_argv)).read_text()
        name = code.splitlines()[0].removeprefix("# behaviour:").strip()
        behaviour = self.behaviours[name]
        for rel, content in behaviour.files.items():
            target = workspace.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        self.log.append(f"sandbox:run:{name}")
        return ExecResult(exit_code=behaviour.exit_code, timed_out=behaviour.timed_out, oom_killed=False,
                          duration=behaviour.duration, stdout=behaviour.output, stderr="", output=behaviour.output,
                          files=list(behaviour.files), isolation="fake")

    async def run_async(self, workspace: Workspace, script_name_or_argv: str | Sequence[str], limits: Limits,
                        env: Mapping[str, str] = {}) -> ExecResult:
        return self.run(workspace, script_name_or_argv, limits, env)

    def cleanup(self, workspace: Workspace) -> None:
        shutil.rmtree(workspace.root, ignore_errors=True)
        self.log.append("sandbox:cleanup")

    def describe(self) -> dict[str, Any]:
        return {"backend": "fake", "isolation": "fake"}


@dataclass(frozen=True)
class FakeTaskInfo:
    id: str = "fake-task"
    name: str = "A fake task"
    description: str = "Predict the value."
    metric: str = "accuracy"
    direction: str = "maximize"
    public_dir: Path = Path("/nonexistent")
    has_hidden_validation: bool = False
    data_preview: str = ""


@dataclass
class FakeGrader:
    """A submission is valid when its first line is ``id,value``; its test score is the number in
    the second line's value column (so a test decides the score by what the solution writes)."""

    log: list[str]
    info: FakeTaskInfo = field(default_factory=FakeTaskInfo)
    hidden: float | None = None

    @property
    def has_hidden_validation(self) -> bool:
        return self.info.has_hidden_validation

    def check(self, submission: Path) -> SubmissionCheck:
        self.log.append("grader:check")
        lines = submission.read_text().splitlines()
        if not lines or lines[0] != "id,value":
            return SubmissionCheck(True, False, "the header must be id,value")
        return SubmissionCheck(True, True, None)

    def hidden_score(self, predictions: Path) -> float | None:
        self.log.append("grader:hidden")
        return self.hidden

    def grade(self, submission: Path) -> Grade:
        self.log.append("grader:grade")
        score = float(submission.read_text().splitlines()[1].split(",")[1])
        return Grade(hidden_score=None, test_score=score, valid_submission=True, gold=score >= 0.9,
                     silver=False, bronze=False, above_median=score >= 0.5, report={"score": score})

    def close(self) -> None:
        self.log.append("grader:close")


def answer_with(behaviour: str, plan: str = "a plan") -> str:
    """An LLM answer whose code runs as the scripted ``behaviour``."""
    return f"{plan}\n\n```python\n# behaviour: {behaviour}\nprint('hi')\n```\n"


SUBMISSION = {"submission/submission.csv": "id,value\n1,0.75\n"}
