"""task.yaml checks: every problem found, positioned at its line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from aira_dsl.tasks import (
    TaskError,
    check_task_dir,
    grade_submission,
    load_task_file,
    looks_like_task,
    resolve_task,
)


def codes(path: Path) -> list[str]:
    return [d.code for d in check_task_dir(path) if d.is_error]


def only(path: Path, code: str):
    found = [d for d in check_task_dir(path) if d.code == code]
    assert found, [(d.code, d.message) for d in check_task_dir(path)]
    return found[0]


def test_a_good_task_has_no_findings_and_loads(make_task) -> None:
    root = make_task()
    assert check_task_dir(root) == []
    assert check_task_dir(root / "task.yaml") == []
    task = load_task_file(root)
    assert (task.id, task.metric, task.direction, task.submission.target_columns) == ("tiny", "accuracy", "maximize", ("y",))
    assert task.public_dir == (root / "public").resolve() and task.description.startswith("# Tiny")
    assert looks_like_task(root) and looks_like_task(root / "task.yaml")
    assert resolve_task(str(root)).id == "tiny"


def test_yaml_syntax_error_is_positioned(make_task) -> None:
    root = make_task(yaml="id: tiny\nname: [unclosed\nmetric: accuracy\n")
    diag = only(root, "yaml-syntax")
    assert diag.file == str(root / "task.yaml") and diag.line is not None


def test_duplicate_keys(make_task) -> None:
    root = make_task(yaml="id: tiny\nid: other\nname: T\nmetric: accuracy\nsubmission: {id_column: id, target_columns: [y]}\n")
    assert only(root, "duplicate-key").line == 2


def test_unknown_key_suggests_the_right_one(make_task) -> None:
    root = make_task(yaml="id: tiny\nname: T\nmetirc: accuracy\nsubmission: {id_column: id, target_columns: [y]}\n")
    diag = only(root, "unknown-key")
    assert diag.line == 3 and diag.hint == "did you mean 'metric'?"


def test_missing_required_keys_and_wrong_types(make_task) -> None:
    root = make_task(yaml="id: Tiny Task\nname: 5\nmetric: accuracy\n")
    found = set(codes(root))
    assert {"missing-key", "invalid-value", "wrong-type"} <= found


@pytest.mark.parametrize(("content", "code"), [
    (b"", "empty-file"),
    (b"\x00\x01binary", "binary-file"),
    (b"- just\n- a list\n", "not-a-mapping"),
    (b"a: &a [*a, *a]\n", "yaml-limits"),
    (b"id: [1, 2\n", "yaml-syntax"),
])
def test_unusable_files(make_task, content: bytes, code: str) -> None:
    root = make_task()
    (root / "task.yaml").write_bytes(content)
    assert code in codes(root)
    with pytest.raises(TaskError):
        load_task_file(root)


def test_unknown_metric_suggests_a_name(make_task) -> None:
    diag = only(make_task(metric="acuracy"), "unknown-metric")
    assert diag.line == 4 and "did you mean 'accuracy'?" in (diag.hint or "")


def test_metric_params_are_checked(make_task) -> None:
    root = make_task(metric="{name: roc_auc, params: {average: median}}")
    assert "'average' must be one of macro, weighted, micro, samples" in only(root, "metric-params").message
    root = make_task(metric="{name: rmse, params: {k: 3}}")
    assert "takes no parameter 'k'" in only(root, "metric-params").message


def test_direction_must_agree_with_the_metric(make_task) -> None:
    yaml = "id: t\nname: T\nmetric: rmse\ndirection: maximize\nsubmission: {id_column: id, target_columns: [y]}\n"
    diag = only(make_task(yaml=yaml), "direction-mismatch")
    assert diag.line == 4 and "rmse is to be minimized" in diag.message


def test_metric_or_grader_exactly_one(make_task) -> None:
    none = make_task(yaml="id: t\nname: T\nsubmission: {id_column: id, target_columns: [y]}\n")
    assert "missing-metric" in codes(none)
    both = make_task(yaml="id: t\nname: T\nmetric: accuracy\ngrader: g:score\ndirection: maximize\n"
                          "submission: {id_column: id, target_columns: [y]}\n", extra={"g.py": "def score(s, a): return 1\n"})
    assert "metric-and-grader" in codes(both)


def test_missing_files_and_dirs(make_task) -> None:
    root = make_task()
    (root / "description.md").unlink()
    (root / "public" / "sample_submission.csv").unlink()
    (root / "private" / "answers.csv").unlink()
    messages = {d.message.split(" (")[0] for d in check_task_dir(root)}
    assert messages == {"description file 'description.md' not found",
                        "sample submission 'sample_submission.csv' not found in public_dir",
                        "answers file 'answers.csv' not found in private_dir"}
    import shutil

    shutil.rmtree(root / "public")
    assert only(root, "missing-dir").message.startswith("public_dir 'public' does not exist")


def test_a_directory_without_task_yaml(tmp_path: Path) -> None:
    diags = check_task_dir(tmp_path)
    assert [d.code for d in diags] == ["missing-file"] and "has no task.yaml" in diags[0].message
    assert check_task_dir(tmp_path / "nowhere")[0].message.startswith("no such file or directory")


def test_sample_and_answers_must_agree(make_task) -> None:
    root = make_task(sample="id,y\na,0\nb,0\nz,0\n")
    assert "only in sample: ['z']; only in answers: ['c']" in only(root, "sample-ids").message
    root = make_task(sample="id,label\na,0\nb,0\nc,0\n")
    assert "sample-columns" in codes(root)
    root = make_task(answers="id,label\na,1\n", sample="id,y\na,0\n")
    assert "the answers lack the column(s) y" in only(root, "answers-columns").message
    root = make_task(metric="rmse", answers="id,y\na,1\nb,x\n", sample="id,y\na,0\nb,0\n")
    assert "must be numeric" in only(root, "answers-values").message


def test_private_dir_inside_public_is_refused(make_task) -> None:
    yaml = ("id: t\nname: T\nmetric: accuracy\nprivate_dir: public/secret\n"
            "submission: {id_column: id, target_columns: [y]}\n")
    root = make_task(yaml=yaml, extra={"public/secret/answers.csv": "id,y\na,1\nb,0\nc,1\n"})
    diag = only(root, "private-in-public")
    assert diag.line == 4 and "agents would see the answers" in diag.message


@pytest.mark.parametrize(("metric", "gold", "bronze", "bad"), [
    ("accuracy", 0.8, 0.9, True), ("accuracy", 0.9, 0.8, False), ("rmse", 0.9, 0.8, True), ("rmse", 0.8, 0.9, False),
])
def test_threshold_order_follows_the_direction(make_task, metric, gold, bronze, bad) -> None:
    yaml = (f"id: t\nname: T\nmetric: {metric}\nthresholds: {{gold: {gold}, bronze: {bronze}}}\n"
            "submission: {id_column: id, target_columns: [y]}\n")
    assert ("thresholds-order" in codes(make_task(yaml=yaml))) is bad


def test_leaderboard_problems(make_task) -> None:
    yaml = ("id: t\nname: T\nmetric: accuracy\nleaderboard: lb.csv\nthresholds: {gold: 1}\n"
            "submission: {id_column: id, target_columns: [y]}\n")
    root = make_task(yaml=yaml, extra={"lb.csv": "team,points\nx,1\n"})
    assert {"thresholds-and-leaderboard", "bad-data-file"} <= set(codes(root))
    assert "has no 'score' column" in only(root, "bad-data-file").message


def test_custom_grader(make_task, tmp_path) -> None:
    grader = (
        "def score(submission, answers):\n"
        "    if (submission['y'] > 5).any():\n"
        "        raise ValueError('y above 5 is impossible')\n"
        "    merged = answers.merge(submission, on='id', suffixes=('_true', '_pred'))\n"
        "    return float((merged['y_true'].astype(float) - merged['y_pred']).abs().sum())\n")
    yaml = "id: t\nname: T\ngrader: tiny_grader:score\nsubmission: {id_column: id, target_columns: [y]}\n"
    root = make_task(yaml=yaml, extra={"tiny_grader.py": grader})
    assert "missing-direction" in codes(root)
    (root / "task.yaml").write_text(yaml + "direction: minimize\n", encoding="utf-8")
    assert codes(root) == []
    task = load_task_file(root)
    good = tmp_path / "good.csv"
    good.write_text("id,y\na,1\nb,1\nc,1\n", encoding="utf-8")
    report = grade_submission(task, good)
    assert (report.score, report.is_lower_better, report.metric) == (1.0, True, "tiny_grader:score")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,y\na,9\nb,1\nc,1\n", encoding="utf-8")
    report = grade_submission(task, bad)
    assert not report.valid_submission
    assert report.reason == "the grader rejected the submission: ValueError: y above 5 is impossible"


def test_grader_module_must_exist(make_task) -> None:
    yaml = ("id: t\nname: T\ngrader: no_such_module_xyz:score\ndirection: maximize\n"
            "submission: {id_column: id, target_columns: [y]}\n")
    assert "grader-not-found" in codes(make_task(yaml=yaml))


def test_hidden_validation_settings_are_checked(make_task) -> None:
    yaml = ("id: t\nname: T\nmetric: accuracy\nhidden_validation: {fraction: 0.01}\n"
            "submission: {id_column: id, target_columns: [y]}\n")
    root = make_task(yaml=yaml)
    assert "hidden_validation.train_file 'train.csv' not found" in only(root, "missing-file").message
    (root / "public" / "train.csv").write_text("id,x,y\nr1,1,0\nr2,2,1\n", encoding="utf-8")
    assert "holds back 0 rows" in only(root, "hidden-size").message
    (root / "public" / "train.csv").write_text("id,x\nr1,1\n", encoding="utf-8")
    assert "lacks the column(s) y" in only(root, "hidden-columns").message
    root = make_task(yaml=yaml.replace("fraction: 0.01", "fraction: 1.5"))
    assert "out-of-range" in codes(root)


def test_loading_a_broken_task_raises_task_error_with_diagnostics(make_task) -> None:
    root = make_task(metric="acuracy")
    with pytest.raises(TaskError) as info:
        load_task_file(root)
    assert "1 error(s); first: unknown metric 'acuracy'" in info.value.message
    assert info.value.diagnostics[0].code == "unknown-metric"
    assert "aira-dsl validate" in (info.value.hint or "")
    assert "unknown metric 'acuracy'" in info.value.render()


def test_unknown_reference(tmp_path: Path) -> None:
    with pytest.raises(TaskError) as info:
        resolve_task("pengiuns", cache_dir=tmp_path)
    assert "did you mean 'penguins'?" in (info.value.hint or "")


def test_task_documents_are_recognised_by_content(make_task) -> None:
    root = make_task()
    renamed = root / "my-problem.yaml"
    (root / "task.yaml").rename(renamed)
    assert looks_like_task(renamed)
    assert check_task_dir(renamed) == []
    spec = root / "agent.yaml"
    spec.write_text("version: 1\nname: a\noperators: {}\nsubmission: {}\nmetric: x\n", encoding="utf-8")
    assert not looks_like_task(spec)


def test_a_misspelt_key_inside_the_metric_mapping_suggests_the_right_one(make_task) -> None:
    """The metric's short and long forms are one schema (text or {name, params}), so a typo in the
    long form is an unknown key with "did you mean", not "not valid under any of the schemas"."""
    root = make_task(yaml="id: tiny\nname: T\nmetric:\n  name: roc_auc\n  parms: {average: macro}\n"
                          "submission: {id_column: id, target_columns: [y]}\n")
    diag = only(root, "unknown-key")
    assert diag.line == 5 and diag.hint == "did you mean 'params'?"
    assert only(make_task(yaml="id: tiny\nname: T\nmetric: 5\nsubmission: {id_column: id, target_columns: [y]}\n"),
                "wrong-type").message == "metric must be text or a mapping, not integer"


def test_loaded_defaults_are_the_declared_ones(make_task) -> None:
    """What task.yaml leaves out is filled from the declarations (the schema shows the same)."""
    from aira_dsl.settings.fields import default_of
    from aira_dsl.tasks.model import HiddenValidationConfig
    from aira_dsl.tasks.schema import SubmissionSettings, TaskFile

    root = make_task(yaml="id: tiny\nname: T\nmetric: accuracy\nsubmission: {id_column: id, target_columns: [y]}\n"
                          "hidden_validation: {fraction: 0.5}\nthresholds: {gold: 1, silver: 0.5}\n",
                     extra={"public/train.csv": "id,y\n" + "".join(f"t{i},{i % 2}\n" for i in range(10))})
    task = load_task_file(root)
    assert task.public_dir == (root / default_of(TaskFile, "public_dir")).resolve()
    assert task.answers == (root / default_of(TaskFile, "private_dir")).resolve() / default_of(TaskFile, "answers")
    assert task.submission.sample == task.public_dir / default_of(SubmissionSettings, "sample")
    assert task.hidden_validation_config == HiddenValidationConfig(fraction=0.5)
    assert task.thresholds is not None and task.thresholds.kind == "custom" and task.thresholds.bronze is None


def test_a_duration_too_large_is_a_positioned_error(make_task) -> None:
    root = make_task(yaml="id: tiny\nname: T\nmetric: accuracy\nsubmission: {id_column: id, target_columns: [y]}\n"
                          f"resources: {{time_limit: {'9' * 400}d}}\n")
    diag = only(root, "invalid-value")
    assert diag.line == 5 and "resources.time_limit" in diag.message
