"""Hidden validation split: no leakage, deterministic, scored by the framework."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from aira_dsl.tasks import (
    HIDDEN_FEATURES_FILE,
    HIDDEN_PREDICTIONS_FILE,
    HiddenValidationConfig,
    TaskError,
    check_hidden_validation,
    load_task_file,
    resolve_task,
    score_hidden_validation,
)


@pytest.fixture
def split_cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def hidden_penguins(bundled_cache: Path, cache: Path, fraction: float = 0.25, seed: int = 0):
    # the bundled data stay in the shared cache; the split goes to this test's own cache
    task = resolve_task(str(bundled_cache / "penguins"), cache_dir=cache,
                        hidden_validation=HiddenValidationConfig(fraction=fraction, seed=seed))
    assert task.hidden_validation is not None
    return task


def test_no_hidden_label_reaches_a_public_file(bundled_cache: Path, split_cache: Path) -> None:
    task = hidden_penguins(bundled_cache, split_cache)
    hv = task.hidden_validation
    answers = pd.read_csv(hv.answers, dtype=str)
    hidden_ids = set(answers["id"])
    assert len(hidden_ids) == hv.num_rows == round(0.25 * 240)
    assert not hv.answers.resolve().is_relative_to(task.public_dir.resolve())
    features = pd.read_csv(task.public_dir / HIDDEN_FEATURES_FILE, dtype=str)
    assert "species" not in features.columns and set(features["id"]) == hidden_ids
    for csv in task.public_dir.rglob("*.csv"):
        frame = pd.read_csv(csv, dtype=str)
        if "id" in frame.columns and "species" in frame.columns:
            assert not hidden_ids & set(frame["id"]), f"{csv.name} leaks hidden labels"
    kept = pd.read_csv(task.public_dir / "train.csv", dtype=str)
    assert len(kept) + len(hidden_ids) == 240
    # the original public data are untouched
    assert len(pd.read_csv(bundled_cache / "penguins" / "public" / "train.csv")) == 240
    assert task.original_public_dir == (bundled_cache / "penguins" / "public").resolve()
    assert HIDDEN_PREDICTIONS_FILE in task.description and HIDDEN_FEATURES_FILE in task.description


def test_split_is_deterministic_and_seeded(bundled_cache: Path, tmp_path: Path) -> None:
    a = hidden_penguins(bundled_cache, tmp_path / "a")
    b = hidden_penguins(bundled_cache, tmp_path / "b")
    c = hidden_penguins(bundled_cache, tmp_path / "c", seed=1)

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert digest(a.hidden_validation.answers) == digest(b.hidden_validation.answers)
    assert digest(a.public_dir / "train.csv") == digest(b.public_dir / "train.csv")
    assert digest(a.hidden_validation.answers) != digest(c.hidden_validation.answers)
    # resolving again reuses the materialised split
    again = hidden_penguins(bundled_cache, tmp_path / "a")
    assert again.public_dir == a.public_dir


def test_predictions_are_scored_with_the_task_metric(bundled_cache: Path, split_cache: Path, tmp_path: Path) -> None:
    task = hidden_penguins(bundled_cache, split_cache)
    answers = pd.read_csv(task.hidden_validation.answers, dtype=str)
    submission_dir = tmp_path / "submission"
    submission_dir.mkdir()
    assert score_hidden_validation(task, submission_dir) is None  # nothing written yet
    perfect = answers.copy()
    perfect.to_csv(submission_dir / HIDDEN_PREDICTIONS_FILE, index=False)
    assert score_hidden_validation(task, submission_dir) == pytest.approx(1.0)
    half = answers.copy()
    wrong = half.loc[: len(half) // 2 - 1, "species"]
    classes = sorted(answers["species"].unique())
    half.loc[: len(half) // 2 - 1, "species"] = wrong.map(lambda s: classes[(classes.index(s) + 1) % len(classes)])
    half.to_csv(submission_dir / HIDDEN_PREDICTIONS_FILE, index=False)
    assert score_hidden_validation(task, submission_dir) == pytest.approx(1 - (len(half) // 2) / len(half))
    half.loc[0, "species"] = "NotAPenguin"  # not a class: no score at all
    half.to_csv(submission_dir / HIDDEN_PREDICTIONS_FILE, index=False)
    check, value = check_hidden_validation(task, submission_dir)
    assert value is None and check.code == "unknown-label"
    answers.iloc[1:].to_csv(submission_dir / HIDDEN_PREDICTIONS_FILE, index=False)
    check, value = check_hidden_validation(task, submission_dir)
    assert value is None and check.code == "missing-ids"
    assert check.reason.startswith("hidden validation predictions lacks 1 of the")


def test_a_model_trained_on_the_kept_rows_scores_well(bundled_cache: Path, split_cache: Path, tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    task = hidden_penguins(bundled_cache, split_cache)
    train = pd.read_csv(task.public_dir / "train.csv")
    hidden = pd.read_csv(task.public_dir / HIDDEN_FEATURES_FILE)
    cols = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    model = make_pipeline(SimpleImputer(), RandomForestClassifier(n_estimators=50, random_state=0))
    model.fit(train[cols], train["species"])
    out = tmp_path / "submission"
    out.mkdir()
    pd.DataFrame({"id": hidden["id"], "species": model.predict(hidden[cols])}).to_csv(
        out / HIDDEN_PREDICTIONS_FILE, index=False)
    value = score_hidden_validation(task, out)
    assert value is not None and value > 0.9


def test_task_yaml_option_and_image_task(bundled_cache: Path, tmp_path: Path) -> None:
    task = resolve_task("digits", cache_dir=bundled_cache, hidden_validation=0.1)
    assert task.hidden_validation is not None and task.hidden_validation.num_rows == round(0.1 * 1257)
    features = pd.read_csv(task.public_dir / HIDDEN_FEATURES_FILE, dtype=str)
    assert list(features.columns) == ["id"]
    # the images of the held-back rows are still there (features are public, labels are not)
    assert all((task.public_dir / "train" / f"{i}.png").is_file() for i in features["id"])
    assert resolve_task("digits", cache_dir=bundled_cache, hidden_validation=False).hidden_validation is None


def test_hidden_validation_declared_in_task_yaml(make_task, tmp_path: Path) -> None:
    yaml = """
        id: tiny
        name: Tiny
        metric: rmse
        hidden_validation: {fraction: 0.5, seed: 3}
        submission: {id_column: id, target_columns: [y]}
    """
    train = "id,x,y\n" + "".join(f"r{i},{i},{2 * i}\n" for i in range(10))
    root = make_task(yaml=yaml, answers="id,y\na,1\nb,2\n", extra={"public/train.csv": train})
    plain = load_task_file(root)
    assert plain.hidden_validation is None and plain.hidden_validation_config is not None
    task = resolve_task(str(root), cache_dir=tmp_path / "cache")
    assert task.hidden_validation is not None and task.hidden_validation.num_rows == 5
    kept = pd.read_csv(task.public_dir / "train.csv")
    features = pd.read_csv(task.public_dir / HIDDEN_FEATURES_FILE)
    assert list(features.columns) == ["id", "x"] and not set(kept["id"]) & set(features["id"])
    # exact predictions y = 2x give RMSE 0; off by one everywhere gives 1
    out = tmp_path / "sub"
    out.mkdir()
    pd.DataFrame({"id": features["id"], "y": 2 * features["x"] + 1}).to_csv(out / HIDDEN_PREDICTIONS_FILE, index=False)
    assert score_hidden_validation(task, out) == pytest.approx(1.0)
    # the CSV path itself is accepted too
    assert score_hidden_validation(task, out / HIDDEN_PREDICTIONS_FILE) == pytest.approx(1.0)


def test_no_split_no_score_and_bad_split_request(bundled_cache: Path, tmp_path: Path) -> None:
    task = resolve_task("penguins", cache_dir=bundled_cache)
    assert score_hidden_validation(task, tmp_path) is None
    with pytest.raises(TaskError) as info:
        resolve_task("penguins", cache_dir=bundled_cache,
                     hidden_validation=HiddenValidationConfig(fraction=0.2, train_file="nope.csv"))
    assert "nope.csv" in info.value.message


def test_repeated_training_ids_are_refused(make_task, tmp_path: Path) -> None:
    train = "id,x,y\nr1,1,0\nr2,2,1\nr1,3,1\nr4,4,0\n"
    root = make_task(extra={"public/train.csv": train})
    with pytest.raises(TaskError) as info:
        resolve_task(str(root), cache_dir=tmp_path / "cache", hidden_validation=0.5)
    assert "repeats the id 'r1'" in info.value.message


def test_blank_lines_in_the_training_file_do_not_shift_rows(make_task, tmp_path: Path) -> None:
    train = "id,x,y\nr0,0,0\n\nr1,1,2\nr2,2,4\n\nr3,3,6\n"
    root = make_task(extra={"public/train.csv": train})
    task = resolve_task(str(root), cache_dir=tmp_path / "cache", hidden_validation=0.5)
    kept = pd.read_csv(task.public_dir / "train.csv", dtype=str)
    answers = pd.read_csv(task.hidden_validation.answers, dtype=str)
    assert len(kept) == 2 and len(answers) == 2
    assert sorted([*kept["id"], *answers["id"]]) == ["r0", "r1", "r2", "r3"]
    for _, row in answers.iterrows():  # each held-back label is the one of its own row
        assert int(row["y"]) == 2 * int(row["id"][1:])
