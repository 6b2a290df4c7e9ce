"""The facts about the solution's environment that prompts state, established once per run.

Prompts tell the model which packages it can import, which hardware it has, whether there is a
network and which model caches exist, and (for benchmark tasks) the benchmark's rules with the
run's real time and hardware. Each of these must hold *inside the sandbox*, so they are taken
from the sandbox itself: :func:`~aira_dsl.sandbox.probe.probe_environment` runs a probe through
worker 0's sandbox (every worker shares one profile and interpreter), the assigned GPUs come from
the GPU assignment, network and caches from the profile and the isolation achieved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl.sandbox.base import Sandbox
from aira_dsl.sandbox.environment import prompt_sandbox
from aira_dsl.sandbox.probe import EnvironmentProbe, merge_hardware, probe_environment
from aira_dsl.sandbox.profile import SandboxProfile

__all__ = ["SandboxFacts", "sandbox_facts"]


@dataclass
class SandboxFacts:
    """What the templates' ``packages``, ``hardware`` and ``sandbox`` variables hold for a run."""

    packages: list[str]
    hardware: dict[str, Any]
    sandbox: dict[str, Any]
    probe: EnvironmentProbe
    warnings: list[str] = field(default_factory=list)

    def description(self, task: Any, budget: Any) -> str:
        """The task description, preceded by its benchmark's rules when it has a benchmark."""
        from aira_dsl.tasks.instructions import with_benchmark_rules

        return with_benchmark_rules(str(task.description), getattr(task, "benchmark", None),
                                    time_limit=budget.time, exec_timeout=budget.exec_timeout,
                                    hardware=self.hardware)

    def to_dict(self) -> dict[str, Any]:
        """For run.json: what prompts were told, and where it came from."""
        return {"packages": list(self.packages), "hardware": dict(self.hardware), "sandbox": dict(self.sandbox),
                "probe": {**self.probe.to_dict(), "cached": self.probe.cached}, "warnings": list(self.warnings)}


def sandbox_facts(sandbox: Sandbox, profile: SandboxProfile, hardware: dict[str, Any], assigned: Sequence[int], *,
                  cache_dir: Path | None, say: Callable[[str], None] = lambda text: None) -> SandboxFacts:
    """Probe ``sandbox`` and combine its answer with the host's view (see the module docstring)."""
    from aira_dsl.tasks import default_cache_dir

    probe = probe_environment(sandbox, cache_dir=cache_dir or default_cache_dir())
    warnings: list[str] = []
    if not probe.ok:
        warnings.append(f"the sandbox's environment could not be probed ({probe.problem}): prompts list no "
                        "packages")
    merged, more = merge_hardware(hardware, probe, assigned)
    warnings.extend(more)
    isolation = str(sandbox.describe().get("isolation", ""))
    if isolation == "none":
        warnings.append(f"node code runs UNISOLATED (sandbox profile {profile.name}, isolation: none): it has "
                        "this user's rights and the network")
    for warning in warnings:
        say(warning)
    return SandboxFacts(packages=list(probe.packages), hardware=merged,
                        sandbox=prompt_sandbox(profile, isolation=isolation), probe=probe, warnings=warnings)
