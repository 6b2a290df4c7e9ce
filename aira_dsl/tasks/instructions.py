"""Benchmark rules that precede a competition's own description.

MLE-bench's harness shows agents its rules before the Kaggle text: the rules of the offline
benchmark override what the original competition says (where the submission goes, that the test
split is the benchmark's own, that there is no internet). aira-dsl does the same for
``mlebench:`` and ``mlebench-public:`` tasks, in its own words, with the time and hardware the
run really has (the engine knows those; the task layer does not), so this module only formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["BENCHMARKS", "benchmark_rules", "with_benchmark_rules"]

BENCHMARKS = ("mlebench",)
"""Benchmarks whose rules are known (``Task.benchmark``)."""


def _duration(value: float) -> str:
    seconds = round(value)
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours and minutes:
        return f"{hours} h {minutes} min"
    if hours:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{max(1, minutes)} minute{'s' if minutes != 1 else ''}"


def _hardware(hardware: Mapping[str, Any]) -> str:
    gpus = list(hardware.get("gpus") or [])
    parts = []
    if gpus:
        names: dict[str, int] = {}
        for gpu in gpus:
            names[str(gpu.get("name"))] = names.get(str(gpu.get("name")), 0) + 1
        parts.append(", ".join(f"{n} × {name}" for name, n in names.items()))
    else:
        parts.append("no GPU (CPU only)")
    if hardware.get("cpus"):
        parts.append(f"{hardware['cpus']} CPU cores")
    if hardware.get("memory_gb"):
        parts.append(f"{hardware['memory_gb']} GB of memory")
    return ", ".join(parts)


def benchmark_rules(benchmark: str, *, time_limit: float | None, exec_timeout: float | None,
                    hardware: Mapping[str, Any], submission_path: str = "./submission/submission.csv",
                    data_dir: str = "./data") -> str:
    """The rules section for ``benchmark`` (markdown), ending before the competition text."""
    if benchmark != "mlebench":
        raise ValueError(f"unknown benchmark {benchmark!r}; known: {', '.join(BENCHMARKS)}")
    time_lines = []
    if time_limit:
        time_lines.append(f"the whole attempt has {_duration(time_limit)}")
    if exec_timeout:
        time_lines.append(f"one run of your script may take at most {_duration(exec_timeout)}")
    timing = ("- Time: " + "; ".join(time_lines) + ". A script stopped at its limit produces nothing.\n"
              if time_lines else "")
    return (
        "# Benchmark rules\n\n"
        "This competition is one task of MLE-bench, an offline benchmark made from Kaggle competitions. "
        "The rules below hold for every task of the benchmark; where the competition text further down "
        "says otherwise, these rules win.\n\n"
        "- The answers for the test set are not available to you, and you must not try to obtain them or "
        "label test data by hand: train a model and let it make the predictions.\n"
        f"- Write the predictions for the test set to `{submission_path}`, formatted like the sample "
        "submission. That file is the only thing graded, whatever the competition text says about "
        "submissions.\n"
        f"- Use only the files in `{data_dir}`. The benchmark made its own split of Kaggle's training data "
        "into training and test sets, so the files can differ a little from the competition's description; "
        "work with the files as they are. There is no internet access.\n"
        f"{timing}"
        f"- Hardware: {_hardware(hardware)}.\n"
        "- The score is the competition's metric computed on the benchmark's test split. A submission that "
        "fails the benchmark's format check is not scored.\n\n"
        "# Competition description\n\n")


def with_benchmark_rules(description: str, benchmark: str | None, *, time_limit: float | None,
                         exec_timeout: float | None, hardware: Mapping[str, Any]) -> str:
    """``description`` with the benchmark's rules before it (unchanged when there is no benchmark)."""
    if benchmark is None:
        return description
    return benchmark_rules(benchmark, time_limit=time_limit, exec_timeout=exec_timeout,
                           hardware=hardware) + description
