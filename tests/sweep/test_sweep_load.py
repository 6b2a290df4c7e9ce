"""Sweep files: the schema, the examples, and the positioned diagnostics for bad grids."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from sweep_support import EXAMPLES, REPO

from aira_dsl.sweep import load_sweep
from aira_dsl.sweep.tasklists import expand_task

SPEC = REPO / "specs" / "aira-greedy.yaml"


def write(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def codes(result: object) -> list[str]:
    return [d.code for d in result.diagnostics if d.is_error]  # type: ignore[attr-defined]


def test_schema_copies_are_identical() -> None:
    assert (REPO / "schema" / "sweep.schema.json").read_bytes() == \
        (REPO / "aira_dsl" / "schemas" / "sweep.schema.json").read_bytes()


@pytest.mark.parametrize("name", ["quick.yaml", "slurm.yaml", "ray.yaml"])
def test_examples_are_valid_and_describe_the_same_grid(name: str) -> None:
    schema = json.loads((REPO / "schema" / "sweep.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load((EXAMPLES / name).read_text()))
    result = load_sweep(EXAMPLES / name)
    assert result.ok, result.diagnostics
    sweep = result.sweep
    assert sweep is not None
    assert [v.id for v in sweep.variants] == ["aira-greedy-drafts-1", "aira-greedy-drafts-2"]
    assert sweep.tasks == ("penguins", "diabetes") and sweep.seeds == (0, 1)
    assert len(sweep.jobs()) == 8
    assert sweep.executor.kind == name.removesuffix(".yaml").replace("quick", "local")
    # each variant is compiled once, named after its label, with the run settings frozen in
    for variant in sweep.variants:
        plan = result.plans[variant.id]
        assert plan.name == variant.id
        assert plan.budget.steps == 3 and plan.execution.workers == 1
    assert result.plans["aira-greedy-drafts-1"].plan_hash != result.plans["aira-greedy-drafts-2"].plan_hash


def test_unknown_spec_task_and_bad_variant_are_positioned(tmp_path: Path) -> None:
    path = write(tmp_path, f"""version: 1
specs:
  - {SPEC.parent / 'aira-gredy.yaml'}
  - path: {SPEC}
    variants:
      bad: {{polcy.num_drafts: 2}}
tasks: [penguins, pengiuns]
""")
    result = load_sweep(path)
    assert result.sweep is None
    by_code = {d.code: d for d in result.diagnostics if d.is_error}
    assert by_code["unknown-spec"].line == 3 and "aira-greedy.yaml" in (by_code["unknown-spec"].hint or "")
    assert by_code["unknown-task"].line == 7 and "penguins" in (by_code["unknown-task"].hint or "")
    assert by_code["variant-compile"].line == 6
    assert any(d.code == "unknown-key" and d.file == str(SPEC) for d in result.diagnostics)


def test_duplicate_labels_and_schema_errors(tmp_path: Path) -> None:
    path = write(tmp_path, f"""specs: [{SPEC}, {SPEC}]
tasks: [penguins]
seeds: 0
executor: {{kind: slurm, slurm: {{gpus: 1}}}}
""")
    result = load_sweep(path)
    assert "schema" in codes(result) or "unknown-key" in codes(result)
    path = write(tmp_path, f"specs: [{SPEC}, {SPEC}]\ntasks: [penguins]\n")
    assert codes(load_sweep(path)) == ["duplicate-variant"]


def test_task_forms(tmp_path: Path) -> None:
    task_dir = tmp_path / "my-task"
    task_dir.mkdir()
    (task_dir / "task.yaml").write_text("id: my-task\nname: x\nmetric: accuracy\nsubmission: {}\n")
    path = write(tmp_path, f"""specs: [{SPEC}]
tasks: [digits, ./my-task, "mlebench:spaceship-titanic", "mlebench:lite", "mlebench:leaf-classification"]
seeds: [3, 7]
""")
    result = load_sweep(path, compile_specs=False)
    assert result.sweep is not None, result.diagnostics
    tasks = result.sweep.tasks
    assert tasks[:3] == ("digits", str(task_dir), "mlebench:spaceship-titanic")
    assert len(tasks) == 3 + 22  # leaf-classification is in the lite list: listed once, with a warning
    assert any(d.code == "duplicate-task" and not d.is_error for d in result.diagnostics)
    assert result.sweep.seeds == (3, 7)
    keys = [job.key for job in result.sweep.jobs()]
    assert len(keys) == len(set(keys)) == 2 * len(tasks)
    assert "aira-greedy.my-task.s7" in keys and "aira-greedy.leaf-classification.s3" in keys


def test_mlebench_lite_is_the_22_low_complexity_competitions() -> None:
    lite = expand_task("mlebench:lite")
    assert len(lite) == len(set(lite)) == 22
    assert all(ref.startswith("mlebench:") for ref in lite)
    assert "mlebench:spooky-author-identification" in lite and "mlebench:random-acts-of-pizza" in lite


def test_slurm_settings_and_durations(tmp_path: Path) -> None:
    path = write(tmp_path, f"""specs: [{SPEC}]
tasks: [penguins]
executor:
  kind: slurm
  slurm: {{partition: gpu, gpus_per_job: 2, gpu_type: h100, time: 1d, signal_delay: 90s, sbatch: {{constraint: x}}}}
""")
    result = load_sweep(path, compile_specs=False)
    assert result.sweep is not None
    slurm = result.sweep.executor.slurm
    assert (slurm.time, slurm.signal_delay, slurm.gres) == (86400.0, 90.0, "gpu:h100:2")
    path = write(tmp_path, f"specs: [{SPEC}]\ntasks: [penguins]\nexecutor: {{slurm: {{time: 30s}}}}\n")
    assert codes(load_sweep(path, compile_specs=False)) == ["executor-resources"]


def test_a_misspelt_key_in_a_spec_entry_suggests_the_right_one(tmp_path: Path) -> None:
    """A spec entry's short and long forms are one schema, so a typo in the long form is an unknown
    key with "did you mean", not "not valid under any of the given schemas"."""
    path = write(tmp_path, f"specs:\n  - path: {SPEC}\n    nmae: greedy\ntasks: [penguins]\n")
    [diag] = [d for d in load_sweep(path, compile_specs=False).diagnostics if d.is_error]
    assert (diag.code, diag.line, diag.hint) == ("unknown-key", 3, "did you mean 'name'?")


def test_run_budget_takes_the_spec_budget_keys_and_ranges(tmp_path: Path) -> None:
    """run.budget is checked against the agent spec's own budget declarations: a zero time limit is
    refused at its line in the sweep file (the spec would refuse it when compiling each variant)."""
    path = write(tmp_path, f"specs: [{SPEC}]\ntasks: [penguins]\nrun:\n  budget: {{time: 0}}\n")
    [diag] = [d for d in load_sweep(path, compile_specs=False).diagnostics if d.is_error]
    assert (diag.code, diag.line) == ("out-of-range", 4)
    path = write(tmp_path, f"specs: [{SPEC}]\ntasks: [penguins]\nrun:\n  budget: {{stesp: 3}}\n")
    [diag] = [d for d in load_sweep(path, compile_specs=False).diagnostics if d.is_error]
    assert (diag.code, diag.hint) == ("unknown-key", "did you mean 'steps'?")


def test_defaults_are_the_declared_ones(tmp_path: Path) -> None:
    from aira_dsl.settings.fields import build
    from aira_dsl.sweep.model import ExecutorConfig, SweepFile

    path = write(tmp_path, f"specs: [{SPEC}]\ntasks: [penguins]\n")
    result = load_sweep(path, compile_specs=False)
    assert result.sweep is not None, result.diagnostics
    declared = build(SweepFile, {"specs": [str(SPEC)], "tasks": ["penguins"]})
    assert result.sweep.executor == declared.executor == ExecutorConfig()
    assert result.sweep.seeds == tuple(range(declared.seeds)) and result.sweep.description == declared.description
    assert ExecutorConfig.from_dict({"kind": "slurm"}) == ExecutorConfig(kind="slurm")


def test_slurm_memory_is_asked_in_megabytes() -> None:
    """sbatch reads a bare ``--mem=2`` as 2 MB and refuses ``--mem=2.0``: the executor says MB."""
    from aira_dsl.sweep.executors.slurm import SlurmExecutor
    from aira_dsl.sweep.model import SlurmSettings

    assert SlurmExecutor(SlurmSettings(mem_gb=2)).parameters("x")["mem"] == "2048M"
    assert SlurmExecutor(SlurmSettings(mem_gb=1.5)).parameters("x")["mem"] == "1536M"
    assert "mem" not in SlurmExecutor(SlurmSettings()).parameters("x")


def test_spec_and_task_paths_stay_inside_the_allowed_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep file from someone else cannot name a spec or task folder outside its project: it is
    refused before the path is opened or its folder listed (no line of the file, no file names)."""
    monkeypatch.delenv("AIRA_DSL_ALLOWED_ROOTS", raising=False)
    outside = tmp_path / "elsewhere"
    (outside / "task").mkdir(parents=True)
    (outside / "task" / "task.yaml").write_text("name: secret-task\n", encoding="utf-8")
    (outside / "secret.yaml").write_text("name: the-secret-line\n", encoding="utf-8")
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / "mine.yaml").write_text(f"extends: {SPEC}\nname: mine\n", encoding="utf-8")
    specs_line = f"specs: [../elsewhere/secret.yaml, {outside / 'nothing.yaml'}, mine.yaml, {SPEC}]"
    sweep = write(project, f"{specs_line}\ntasks: [penguins, ../elsewhere/task]\n")
    result = load_sweep(sweep, compile_specs=False)
    found = [(d.code, d.line, d.col) for d in result.diagnostics if d.is_error]
    assert found == [("outside-allowed-roots", 1, 9),
                     ("outside-allowed-roots", 1, specs_line.index(str(outside / "nothing.yaml")) + 1),
                     ("outside-allowed-roots", 2, 19)], result.diagnostics
    text = " ".join(f"{d.message} {d.hint}" for d in result.diagnostics)
    assert "the-secret-line" not in text and "secret-task" not in text and "AIRA_DSL_ALLOWED_ROOTS" in text

    monkeypatch.setenv("AIRA_DSL_ALLOWED_ROOTS", str(outside))
    allowed = load_sweep(sweep, compile_specs=False)
    assert [d.code for d in allowed.diagnostics if d.is_error] == ["unknown-spec"]  # nothing.yaml is missing
