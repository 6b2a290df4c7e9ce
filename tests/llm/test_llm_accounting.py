"""Accounting: totals and groups, listeners, budgets enforced before a call, thread safety."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from aira_dsl.llm import Accountant, BudgetExceeded, CallInfo, CallRecord

HELLO = [{"role": "user", "content": "hello"}]


def _record(operator: str, model: str = "coder", **values: Any) -> CallRecord:
    return CallRecord.for_call(CallInfo(operator, operator, 1), model, "m-id", **values)


def test_totals_and_groups() -> None:
    accountant = Accountant()
    accountant.add(_record("draft", prompt_tokens=100, completion_tokens=50, reasoning_tokens=10, cost_usd=0.5,
                           latency=1.0, attempts=2))
    accountant.add(_record("draft", prompt_tokens=10, completion_tokens=5, cost_usd=0.25, cached=True))
    accountant.add(_record("analyze", model="reviewer", error="LLMUnavailableError: down", attempts=3))
    totals = accountant.totals()
    assert (totals.calls, totals.failed_calls, totals.cached_calls, totals.attempts) == (3, 1, 1, 6)
    assert (totals.prompt_tokens, totals.completion_tokens, totals.reasoning_tokens) == (110, 55, 10)
    assert totals.total_tokens == 165
    assert totals.cost_usd == 0.75 and totals.fresh_cost_usd == 0.5
    groups = accountant.by_operator()
    assert list(groups) == ["draft", "analyze"]
    assert groups["draft"].calls == 2 and groups["analyze"].failed_calls == 1
    assert set(accountant.by_model()) == {"coder", "reviewer"}
    assert totals.to_dict()["total_tokens"] == 165


def test_listeners_see_each_record_and_can_unsubscribe() -> None:
    seen: list[CallRecord] = []
    accountant = Accountant(on_record=seen.append)
    later: list[str] = []
    unsubscribe = accountant.subscribe(lambda r: later.append(r.operator))
    accountant.add(_record("draft"))
    unsubscribe()
    accountant.add(_record("improve"))
    accountant.preload([_record("debug")])  # resumed history: counted, not re-announced
    assert [r.operator for r in seen] == ["draft", "improve"]
    assert later == ["draft"]
    assert accountant.totals().calls == 3


def test_budget_is_checked_before_a_call(serve: Any, fast: Any, drive: Any) -> None:
    # Counts a 5-character prompt can hold (implausible ones would be replaced by the estimate).
    server = serve({"rules": [{"answers": [{"text": "ok", "usage": {"prompt_tokens": 600,
                                                                    "completion_tokens": 100}}]}]})
    accountant = Accountant(max_cost_usd=1.0)
    settings = fast(server, price_input_per_mtok=1000.0, price_output_per_mtok=5000.0)  # 0.6 + 0.5 = 1.1 USD

    def call(model: Any) -> Any:
        return model.chat(HELLO, purpose=CallInfo("draft"))

    drive(settings, call, accountant=accountant)
    with pytest.raises(BudgetExceeded) as caught:
        drive(settings, call, accountant=accountant)
    assert caught.value.limit == "cost_usd" and caught.value.spent == pytest.approx(1.1)
    assert len(server.chat_requests()) == 1  # the second call never left

    accountant.set_limits(cost_usd=None, tokens=700)
    with pytest.raises(BudgetExceeded, match="tokens limit 700"):
        drive(settings, call, accountant=accountant)
    accountant.set_limits(cost_usd=10.0, tokens=None)
    drive(settings, call, accountant=accountant)
    assert len(server.chat_requests()) == 2


def test_concurrent_adds_lose_nothing() -> None:
    accountant = Accountant()
    counted: list[int] = []
    lock = threading.Lock()

    def listener(record: CallRecord) -> None:
        with lock:
            counted.append(record.prompt_tokens)

    accountant.subscribe(listener)

    def work() -> None:
        for _ in range(500):
            accountant.add(_record("draft", prompt_tokens=1, cost_usd=0.001))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    totals = accountant.totals()
    assert totals.calls == 4000 and totals.prompt_tokens == 4000 and len(counted) == 4000
    assert totals.cost_usd == pytest.approx(4.0)
