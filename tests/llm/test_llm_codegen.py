"""ask_for_code over real HTTP: extraction, re-asking with the reason, accounting of every attempt."""

from __future__ import annotations

from typing import Any

from aira_dsl.llm import Accountant, CallInfo, ask_for_code
from aira_dsl.llm.codegen import reask_message

TASK = [{"role": "system", "content": "You write Python."}, {"role": "user", "content": "Solve the task."}]
INFO = CallInfo("draft", "draft", "node-3")


def _ask(retries: int) -> Any:
    return lambda model: ask_for_code(model, TASK, retries=retries, info=INFO)


def test_first_good_answer_is_taken_with_its_plan_and_reasoning(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"rules": [{"when": {"kind": "draft"},
                               "answers": [{"plan": "Fit a ridge model.", "code": "import sklearn\nprint(1)",
                                            "think": "ridge is a safe start"}]}]})
    result = drive(fast(server), _ask(3))
    assert result.ok and result.attempts == 1
    assert result.plan == "Fit a ridge model."
    assert result.code == "import sklearn\nprint(1)\n"
    assert result.reasoning == "ridge is a safe start"
    assert len(server.chat_requests()) == 1


def test_prose_without_code_is_re_asked_with_the_reason(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"rules": [{"faults": [{"fault": "no_code"}],
                               "answers": [{"plan": "Second try.", "code": "print(2)", "think": "secret"}]}]})
    accountant = Accountant()
    result = drive(fast(server), _ask(2), accountant=accountant)
    assert result.ok and result.attempts == 2 and result.code == "print(2)\n"
    first, second = (r["body"]["messages"] for r in server.chat_requests())
    assert first == TASK
    assert second[:2] == TASK
    assert second[2]["role"] == "assistant" and second[2]["content"].startswith("I would start from")
    assert second[3] == {"role": "user", "content": reask_message("the answer holds no ```python code block")}
    assert len(accountant.records()) == 2
    assert result.usage.prompt_tokens == sum(r.prompt_tokens for r in accountant.records())


def test_reasoning_is_stripped_from_the_answer_sent_back(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"rules": [{"cycle": False, "answers": [{"text": "no code yet", "think": "hidden thoughts"}]},
                              {"answers": [{"code": "x = 1"}]}]})
    result = drive(fast(server), _ask(1))
    assert result.ok and result.attempts == 2
    resent = server.chat_requests()[1]["body"]["messages"][2]
    assert resent == {"role": "assistant", "content": "no code yet"}


def test_non_compiling_code_is_re_asked_with_the_syntax_error(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"rules": [{"cycle": False, "answers": [{"code": "def f(:\n    pass"}]},
                              {"answers": [{"code": "def f():\n    pass"}]}]})
    result = drive(fast(server), _ask(1))
    assert result.code == "def f():\n    pass\n"
    complaint = server.chat_requests()[1]["body"]["messages"][-1]["content"]
    assert "does not compile (line 1" in complaint


def test_retries_exhausted_gives_no_code_and_the_last_problem(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"rules": [{"faults": [{"fault": "no_code", "times": 10}]}]})
    accountant = Accountant()
    result = drive(fast(server), _ask(2), accountant=accountant)
    assert not result.ok and result.code is None
    assert result.attempts == 3 and len(result.calls) == 3
    assert result.problem == "the answer holds no ```python code block"
    assert len(server.chat_requests()) == 3 and len(accountant.records()) == 3
    assert result.cost_usd == accountant.totals().cost_usd


def test_retries_zero_asks_once(serve: Any, fast: Any, drive: Any) -> None:
    server = serve({"rules": [{"faults": [{"fault": "no_code", "times": 10}]}]})
    result = drive(fast(server), _ask(0))
    assert result.attempts == 1 and not result.ok
