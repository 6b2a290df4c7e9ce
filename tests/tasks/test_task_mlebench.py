"""The MLE-bench adapter, on a competition directory built here in MLE-bench's prepared layout."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from tests_support import skip_unless_provided

from aira_dsl.tasks import TaskError, data_preview, grade_submission, resolve_task
from aira_dsl.tasks.mlebench_adapter import mlebench_available

COMPETITION = "spaceship-titanic"  # a real MLE-bench competition id, so its own grader can be used
HAS_MLEBENCH = importlib.util.find_spec("mlebench") is not None


def hide_mlebench(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if mlebench were not installed: None entries in sys.modules make every import of it fail."""
    import sys

    for name in [n for n in sys.modules if n == "mlebench" or n.startswith("mlebench.")] + ["mlebench"]:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture
def no_mlebench(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_mlebench(monkeypatch)


def write_leaderboard(path: Path, scores: list[float]) -> None:
    """A leaderboard in MLE-bench's format (Kaggle's columns without the team name), best first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("scoreDate,teamId,hasTeamName,submissionDate,score\n"
                    + "".join(f"2021-01-01 00:00:00,{1000 + i},True,2021-01-01 00:00:00,{s}\n"
                              for i, s in enumerate(scores)), encoding="utf-8")


def build_competition(data_dir: Path, rows: int = 40, leaderboard: bool = True) -> Path:
    """<data_dir>/<id>/prepared/{public,private} as `mlebench prepare` leaves them, and (as the
    installed package's leaderboards may be Git LFS pointers) the override <data_dir>/<id>/leaderboard.csv."""
    prepared = data_dir / COMPETITION / "prepared"
    public, private = prepared / "public", prepared / "private"
    public.mkdir(parents=True)
    private.mkdir(parents=True)
    ids = [f"{i:04d}_01" for i in range(rows)]
    truth = ["True" if i % 3 else "False" for i in range(rows)]
    (public / "description.md").write_text("# Spaceship Titanic\n\nPredict Transported.\n", encoding="utf-8")
    (public / "train.csv").write_text("PassengerId,HomePlanet,Age,Transported\n"
                                      + "".join(f"9{i:03d}_01,Earth,{20 + i},True\n" for i in range(10)),
                                      encoding="utf-8")
    (public / "test.csv").write_text("PassengerId,HomePlanet,Age\n"
                                     + "".join(f"{i},Mars,30\n" for i in ids), encoding="utf-8")
    (public / "sample_submission.csv").write_text("PassengerId,Transported\n"
                                                  + "".join(f"{i},False\n" for i in ids), encoding="utf-8")
    (private / "test.csv").write_text("PassengerId,Transported\n"
                                      + "".join(f"{i},{t}\n" for i, t in zip(ids, truth, strict=True)),
                                      encoding="utf-8")
    if leaderboard:
        write_leaderboard(data_dir / COMPETITION / "leaderboard.csv", [0.9 - i / 100 for i in range(50)])
    return data_dir


def test_reads_the_prepared_layout(tmp_path: Path) -> None:
    data_dir = build_competition(tmp_path)
    task = resolve_task(f"mlebench:{COMPETITION}", mlebench_data_dir=data_dir)
    prepared = (data_dir / COMPETITION / "prepared").resolve()
    assert task.public_dir == prepared / "public" and task.private_dir == prepared / "private"
    assert task.description.startswith("# Spaceship Titanic")
    assert (task.submission.id_column, task.submission.target_columns) == ("PassengerId", ("Transported",))
    assert task.source == "mlebench" and task.mlebench is not None
    assert "test.csv: 40 rows, 3 columns" in data_preview(task.public_dir)


@pytest.mark.usefixtures("no_mlebench")
def test_grading_without_mlebench_says_how_to_install_it(tmp_path: Path) -> None:
    data_dir = build_competition(tmp_path)
    task = resolve_task(f"mlebench:{COMPETITION}", mlebench_data_dir=data_dir)
    assert not mlebench_available()
    assert any("not installed" in note for note in task.notes)
    with pytest.raises(TaskError) as info:
        grade_submission(task, task.submission.sample)
    assert info.value.message == f"grading mlebench:{COMPETITION} needs the mlebench package, which is not installed"
    assert "github.com/openai/mle-bench" in (info.value.hint or "")


def test_local_leaderboard_gives_direction_and_thresholds(tmp_path: Path) -> None:
    """<data-dir>/<id>/leaderboard.csv decides, with mlebench (an override) or without it."""
    data_dir = build_competition(tmp_path)
    write_leaderboard(data_dir / COMPETITION / "leaderboard.csv", [0.3 + i / 100 for i in range(50)])  # lower wins
    task = resolve_task(f"mlebench:{COMPETITION}", mlebench_data_dir=data_dir)
    assert task.direction == "minimize"
    assert task.thresholds is not None and task.thresholds.num_teams == 50
    assert task.thresholds.gold == pytest.approx(0.34)  # 50 teams: gold is position 5


def test_missing_or_unprepared_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLEBENCH_DATA_DIR", raising=False)
    with pytest.raises(TaskError) as info:
        resolve_task(f"mlebench:{COMPETITION}")
    assert "--mlebench-data-dir" in (info.value.hint or "")
    with pytest.raises(TaskError) as info:
        resolve_task(f"mlebench:{COMPETITION}", mlebench_data_dir=tmp_path)
    assert "is not prepared" in info.value.message
    assert f"mlebench prepare -c {COMPETITION}" in (info.value.hint or "")
    with pytest.raises(TaskError):
        resolve_task("mlebench:", mlebench_data_dir=tmp_path)


def test_real_mlebench_grader(tmp_path: Path) -> None:
    if not HAS_MLEBENCH:
        skip_unless_provided("mlebench", "the mlebench package is not installed (it is not on PyPI; install "
                             "it from ../shared/vendor/mle-bench or github.com/openai/mle-bench)")
    data_dir = build_competition(tmp_path)
    task = resolve_task(f"mlebench:{COMPETITION}", mlebench_data_dir=data_dir)
    answers = (data_dir / COMPETITION / "prepared" / "private" / "test.csv").read_text(encoding="utf-8")
    perfect = tmp_path / "perfect.csv"
    perfect.write_text(answers, encoding="utf-8")
    report = grade_submission(task, perfect)
    assert report.valid_submission and report.score == 1.0 and report.threshold_kind == "kaggle"
    sample = grade_submission(task, task.submission.sample)
    assert sample.valid_submission and sample.score is not None and sample.score < 1.0
    short = tmp_path / "short.csv"
    short.write_text("\n".join(answers.splitlines()[:-1]) + "\n", encoding="utf-8")
    assert not grade_submission(task, short).valid_submission


@pytest.mark.parametrize("strict", [True, False])
def test_builtin_pre_check_is_the_strict_option_or_all_there_is_without_mlebench(
        tmp_path: Path, strict: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """submission.strict: the sample's columns and ids are checked first (and alone without mlebench)."""
    from aira_dsl.tasks import check_submission

    if not strict:
        hide_mlebench(monkeypatch)
    data_dir = build_competition(tmp_path)
    task = resolve_task(f"mlebench:{COMPETITION}", mlebench_data_dir=data_dir,
                        options={"submission.strict": "true"} if strict else None)
    assert task.submission.strict is strict
    assert check_submission(task, task.submission.sample).valid
    short = tmp_path / "short.csv"
    short.write_text("PassengerId,Transported\n0000_01,True\n", encoding="utf-8")
    check = check_submission(task, short)
    assert not check.valid and check.code == "missing-ids" and "lacks 39 of the 40 expected ids" in (check.reason or "")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("PassengerId,Survived\n0000_01,True\n", encoding="utf-8")
    assert check_submission(task, wrong).code == "missing-columns"


def test_validity_follows_mlebench_validate_submission(tmp_path: Path) -> None:
    """Without submission.strict, the verdict and its message are MLE-bench's own."""
    from aira_dsl.tasks import check_submission

    if not HAS_MLEBENCH:
        skip_unless_provided("mlebench", "the mlebench package is not installed")
    from mlebench.grade import validate_submission
    from mlebench.registry import registry

    data_dir = build_competition(tmp_path)
    task = resolve_task(f"mlebench:{COMPETITION}", mlebench_data_dir=data_dir)
    competition = registry.set_data_dir(data_dir).get_competition(COMPETITION)
    short = tmp_path / "short.csv"
    short.write_text("PassengerId,Transported\n0000_01,True\n", encoding="utf-8")
    check = check_submission(task, short)
    expected_valid, expected_message = validate_submission(short, competition)
    assert not expected_valid and not check.valid and check.reason == expected_message
    assert "Submission invalid!" in (check.reason or "") and check.code == "mlebench-invalid"
    # Extra columns: the built-in pre-check refuses them, MLE-bench's accuracy grader does not mind.
    answers = (data_dir / COMPETITION / "prepared" / "private" / "test.csv").read_text(encoding="utf-8")
    extra = tmp_path / "extra.csv"
    extra.write_text("".join(line + ",x\n" for line in answers.splitlines()), encoding="utf-8")
    assert validate_submission(extra, competition)[0] and check_submission(task, extra).valid
    strict = resolve_task(f"mlebench:{COMPETITION}", mlebench_data_dir=data_dir,
                          options={"submission.strict": True})
    assert check_submission(strict, extra).code == "extra-columns"
    report = grade_submission(task, extra)
    assert report.valid_submission and report.score == 1.0


@pytest.mark.usefixtures("no_mlebench")
def test_hidden_validation_of_a_competition_needs_mlebench(tmp_path: Path) -> None:
    data_dir = build_competition(tmp_path)
    with pytest.raises(TaskError) as info:
        resolve_task(f"mlebench:{COMPETITION}", mlebench_data_dir=data_dir, cache_dir=tmp_path / "c",
                     hidden_validation=0.2)
    assert "scored by the mlebench package" in info.value.message


def test_a_private_only_sample_submission_gives_its_shape_and_nothing_else(tmp_path: Path) -> None:
    """MLE-bench issue #47: text-normalization keeps its sample among the private files. The agent
    is told the columns and row count; no value of the private file reaches the task's text."""
    if not HAS_MLEBENCH:
        skip_unless_provided("mlebench", "the registry says where this competition keeps its sample")
    competition = "text-normalization-challenge-english-language"
    prepared = tmp_path / competition / "prepared"
    public, private = prepared / "public", prepared / "private"
    public.mkdir(parents=True)
    private.mkdir(parents=True)
    (public / "description.md").write_text("# Text normalization\n\nNormalise tokens.\n")
    (public / "en_train.csv").write_text('"sentence_id","token_id","class","before","after"\n'
                                         '0,0,"PLAIN","Hello","Hello"\n')
    (public / "en_test_2.csv").write_text('"sentence_id","token_id","before"\n'
                                          + "".join(f'{i},0,"w{i}"\n' for i in range(7)))
    (private / "sample_submission.csv").write_text('"id","after"\n'
                                                   + "".join(f'"{i}_0","SECRET-{i}"\n' for i in range(7)))
    (private / "answers.csv").write_text('"id","after"\n' + "".join(f'"{i}_0","ANSWER-{i}"\n' for i in range(7)))
    write_leaderboard(tmp_path / competition / "leaderboard.csv", [0.99 - i / 100 for i in range(50)])

    task = resolve_task(f"mlebench:{competition}", mlebench_data_dir=tmp_path)
    assert "`id`, `after`" in task.data_notes and "7 data rows" in task.data_notes, task.data_notes
    shown = task.data_notes + task.description + data_preview(task.public_dir)
    assert "SECRET" not in shown and "ANSWER" not in shown
    assert not (Path(task.public_dir) / "sample_submission.csv").exists()
