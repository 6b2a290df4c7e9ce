"""Bad input around MLE-bench tasks, through the real CLI: each is one screen, exit 2, no traceback."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from tests_support import run_cli, skip_unless_provided

from .test_task_mlebench import COMPETITION, build_competition

HAS_MLEBENCH = importlib.util.find_spec("mlebench") is not None
SPEC = "specs/aira-greedy.yaml"


def assert_one_screen_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert len(result.stderr.strip().splitlines()) <= 12, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def without_mlebench(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """The CLI as on a machine without mlebench: a sitecustomize on PYTHONPATH puts None in
    sys.modules['mlebench'] in every Python process it starts (the task helper process included),
    which makes each import of it fail like a missing package."""
    hook = tmp / "no-mlebench"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text("import sys\nsys.modules['mlebench'] = None\n")
    return run_cli(*args, env={"PYTHONPATH": str(hook), "OPENAI_API_KEY": "k"})


def test_unknown_competition_id_says_did_you_mean(tmp_path: Path) -> None:
    if not HAS_MLEBENCH:
        skip_unless_provided("mlebench", "the registry that knows the ids is the mlebench package's")
    result = run_cli("tasks", "show", "mlebench:spooky-author-identificaton", "--mlebench-data-dir", str(tmp_path))
    assert_one_screen_error(result, "MLE-bench does not know the competition 'spooky-author-identificaton'",
                            "did you mean 'spooky-author-identification'")


def test_data_dir_without_prepared(tmp_path: Path) -> None:
    (tmp_path / COMPETITION / "raw").mkdir(parents=True)
    for hidden in (False, True):
        args = ("tasks", "show", f"mlebench:{COMPETITION}", "--mlebench-data-dir", str(tmp_path))
        result = without_mlebench(*args, tmp=tmp_path) if hidden else run_cli(*args)
        assert_one_screen_error(result, f"mlebench:{COMPETITION} is not prepared in",
                                f"mlebench prepare -c {COMPETITION}")


def _with_archive(tmp_path: Path, name: str, data: bytes) -> Path:
    data_dir = build_competition(tmp_path / "data")
    (data_dir / COMPETITION / "prepared" / "public" / name).write_bytes(data)
    return data_dir


def test_corrupt_archive_in_the_public_folder(tmp_path: Path) -> None:
    data_dir = _with_archive(tmp_path, "train_images.zip", b"PK\x03\x04 this is not really a zip")
    result = run_cli("run", SPEC, "--task", f"mlebench:{COMPETITION}", "--mlebench-data-dir", str(data_dir),
                     "--out", str(tmp_path / "run"), env={"OPENAI_API_KEY": "k", "AIRA_DSL_CACHE": str(tmp_path / "c")})
    assert_one_screen_error(result, "cannot unpack the archive train_images.zip", "prepare the competition again")


def test_zip_with_parent_paths_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as handle:
        handle.writestr("../../answers.csv", "PassengerId,Transported\n")
    data_dir = _with_archive(tmp_path, "extra.zip", buffer.getvalue())
    result = run_cli("tasks", "show", f"mlebench:{COMPETITION}", "--mlebench-data-dir", str(data_dir),
                     "--cache-dir", str(tmp_path / "cache"))
    assert_one_screen_error(result, "would be written outside its folder", "'../../answers.csv'")
    assert not list(tmp_path.rglob("answers.csv"))


def test_mlebench_public_dir_without_description(tmp_path: Path) -> None:
    public = tmp_path / "home" / "data"
    public.mkdir(parents=True)
    (public / "sample_submission.csv").write_text("id,y\n1,0\n")
    result = run_cli("run", SPEC, "--task", f"mlebench-public:{public}", "--direction", "maximize",
                     "--out", str(tmp_path / "run"), env={"OPENAI_API_KEY": "k"})
    assert_one_screen_error(result, "has no description.md", "point mlebench-public: at that folder")


def test_mlebench_public_without_a_direction_asks_for_one(tmp_path: Path) -> None:
    public = tmp_path / "home" / "data"
    public.mkdir(parents=True)
    (public / "description.md").write_text("# A competition\n")
    result = without_mlebench("run", SPEC, "--task", f"mlebench-public:{public}", "--competition-id", "spooky",
                              "--out", str(tmp_path / "run"), tmp=tmp_path)
    assert_one_screen_error(result, "needs the metric's direction", "--direction maximize|minimize",
                            "mlebench package is not installed")


def test_grading_without_mlebench_installed(tmp_path: Path) -> None:
    data_dir = build_competition(tmp_path / "data")
    sample = data_dir / COMPETITION / "prepared" / "public" / "sample_submission.csv"
    result = without_mlebench("grade", "--task", f"mlebench:{COMPETITION}", "--mlebench-data-dir", str(data_dir),
                              "--cache-dir", str(tmp_path / "cache"), str(sample), tmp=tmp_path)
    assert_one_screen_error(result, f"grading mlebench:{COMPETITION} needs the mlebench package, which is not "
                            "installed", "github.com/openai/mle-bench")


def test_lfs_pointer_leaderboard_is_recognised(tmp_path: Path) -> None:
    if not HAS_MLEBENCH:
        skip_unless_provided("mlebench", "the leaderboards in question are the installed mlebench package's")
    from mlebench.registry import registry

    from aira_dsl.tasks.mlebench_adapter import is_lfs_pointer

    if not is_lfs_pointer(registry.get_competition(COMPETITION).leaderboard):
        pytest.skip("this mlebench install has real leaderboards (a clone with Git LFS)")
    data_dir = build_competition(tmp_path / "data", leaderboard=False)
    result = run_cli("tasks", "show", f"mlebench:{COMPETITION}", "--mlebench-data-dir", str(data_dir),
                     "--cache-dir", str(tmp_path / "cache"))
    assert_one_screen_error(result, "is a Git LFS pointer, not data", f"{data_dir / COMPETITION / 'leaderboard.csv'}")
    # The override next to the prepared data is accepted instead.
    build_competition(tmp_path / "data2")
    ok = run_cli("tasks", "show", f"mlebench:{COMPETITION}", "--mlebench-data-dir", str(tmp_path / "data2"),
                 "--cache-dir", str(tmp_path / "cache"), "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert '"kind": "kaggle"' in ok.stdout and "overrides the mlebench package's" in ok.stdout


def test_unknown_task_option(tmp_path: Path) -> None:
    result = run_cli("run", SPEC, "--task", f"mlebench-public:{tmp_path}", "--task-option", "submision.strict=1",
                     "--out", str(tmp_path / "run"), env={"OPENAI_API_KEY": "k"})
    assert_one_screen_error(result, "unknown task option 'submision.strict'", "did you mean 'submission.strict'")
