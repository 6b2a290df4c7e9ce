"""Bundled tasks: deterministic preparation, sample submissions win nothing, references win."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from aira_dsl.tasks import (
    check_task_dir,
    grade_submission,
    list_bundled,
    load_task_file,
    prepare_bundled,
    resolve_task,
)
from aira_dsl.tasks.bundled import BUNDLED
from aira_dsl.tasks.bundled._common import write_csv
from aira_dsl.tasks.bundled.prepare import is_prepared

IDS = list(BUNDLED)


def digest_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


def test_at_least_four_tasks_of_different_kinds() -> None:
    infos = list_bundled()
    assert [i.id for i in infos] == ["penguins", "breast-cancer", "diabetes", "digits"]
    assert len({i.kind for i in infos}) == 4
    assert {i.metric for i in infos} == {"accuracy", "roc_auc", "rmse"}


def test_preparation_is_byte_for_byte_deterministic(bundled_cache: Path, tmp_path: Path) -> None:
    prepare_bundled(None, tmp_path)
    first, second = digest_tree(bundled_cache), digest_tree(tmp_path)
    assert first == second
    assert sum(1 for name in first if name.endswith(".png")) == 1797
    # nothing large: the whole cache is well under a few megabytes
    assert sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()) < 3_000_000


def test_prepare_reuses_and_force_rebuilds(bundled_cache: Path, tmp_path: Path) -> None:
    [path] = prepare_bundled(["penguins"], tmp_path)
    stamp_time = (path / "task.yaml").stat().st_mtime_ns
    prepare_bundled(["penguins"], tmp_path)
    assert (path / "task.yaml").stat().st_mtime_ns == stamp_time
    prepare_bundled(["penguins"], tmp_path, force=True)
    assert digest_tree(path) == digest_tree(bundled_cache / "penguins")
    # a damaged stamp (e.g. other library versions) triggers a fresh preparation
    (path / ".prepared").write_text("{}", encoding="utf-8")
    assert not is_prepared(path)
    resolve_task("penguins", cache_dir=tmp_path)
    assert is_prepared(path)


@pytest.mark.parametrize("task_id", IDS)
def test_task_is_valid_and_separates_public_and_private(bundled_cache: Path, task_id: str) -> None:
    root = bundled_cache / task_id
    assert check_task_dir(root) == []
    task = load_task_file(root)
    assert task.thresholds is not None and task.thresholds.kind == "reference"
    public_names = {p.name for p in task.public_dir.rglob("*")}
    assert "answers.csv" not in public_names
    assert (task.public_dir / "sample_submission.csv").is_file()
    description = (root / "description.md").read_text(encoding="utf-8")
    assert "## Evaluation" in description and "## Submission File" in description
    assert "REFERENCE thresholds" in (root / "task.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("task_id", IDS)
def test_sample_submission_is_valid_and_wins_no_reference_medal(bundled_cache: Path, task_id: str) -> None:
    task = resolve_task(task_id, cache_dir=bundled_cache)
    report = grade_submission(task, task.submission.sample)
    assert report.valid_submission, report.reason
    assert not report.any_medal and not report.above_median
    assert report.threshold_kind == "reference"


@pytest.mark.parametrize("task_id", IDS)
def test_reference_solutions_win_their_medals(bundled_cache: Path, task_id: str, tmp_path: Path) -> None:
    task = resolve_task(task_id, cache_dir=bundled_cache)
    medals = {}
    for reference in BUNDLED[task_id].references:
        path = tmp_path / f"{reference.name}.csv"
        write_csv(path, reference.predict(task.public_dir))
        report = grade_submission(task, path)
        assert report.valid_submission, report.reason
        medals[reference.sets] = report
    assert medals["gold"].gold_medal
    assert medals["bronze"].any_medal  # at least bronze
    assert not medals["median"].any_medal and not medals["median"].above_median


def test_thresholds_are_ordered_by_direction(bundled_cache: Path) -> None:
    for task_id in IDS:
        task = resolve_task(task_id, cache_dir=bundled_cache)
        t = task.thresholds
        assert t is not None and None not in (t.gold, t.silver, t.bronze, t.median)
        sign = 1 if task.direction == "maximize" else -1
        assert sign * t.gold >= sign * t.silver >= sign * t.bronze > sign * t.median


def test_unknown_bundled_id(tmp_path: Path) -> None:
    from aira_dsl.tasks import TaskError

    with pytest.raises(TaskError) as info:
        prepare_bundled(["penguin"], tmp_path)
    assert "did you mean 'penguins'?" in (info.value.hint or "")
    assert not any(tmp_path.iterdir())
