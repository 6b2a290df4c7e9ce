"""specs/gpu/: the paper's compute setting for MLE-bench runs (one GPU per worker, 24 h, 4 h per execution)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests_support import run_cli

from aira_dsl.compiler import load_plan_or_spec

REPO = Path(__file__).resolve().parents[2]
AGENTS = ["aide-greedy", "aira-greedy", "aira-mcts", "aira-evo"]


@pytest.mark.parametrize("agent", AGENTS)
def test_gpu_preset_is_the_agent_with_the_paper_compute(agent: str) -> None:
    preset = load_plan_or_spec(REPO / "specs" / "gpu" / f"{agent}.yaml")
    plain = load_plan_or_spec(REPO / "specs" / f"{agent}.yaml")
    assert preset.name == f"{agent}-gpu"
    assert (preset.execution.sandbox, preset.execution.gpus_per_worker, preset.execution.workers) == ("docker-gpu", 1, 1)
    assert (preset.budget.time, preset.budget.exec_timeout) == (24 * 3600, 4 * 3600)
    assert preset.policy == plain.policy and preset.operators == plain.operators  # the same agent otherwise
    local = load_plan_or_spec(REPO / "specs" / "gpu" / f"{agent}.yaml", overrides=("execution.sandbox=local",))
    assert local.execution.sandbox == "local" and local.execution.gpus_per_worker == 1


def test_gpu_preset_without_a_gpu_says_so(tmp_path: Path) -> None:
    result = run_cli("run", "specs/gpu/aira-greedy.yaml", "--task", "penguins", "--set", "execution.sandbox=local",
                     "--gpus", "", "--out", str(tmp_path / "run"), env={"OPENAI_API_KEY": "k"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "need 1 GPU(s), but 0 are available" in result.stderr
