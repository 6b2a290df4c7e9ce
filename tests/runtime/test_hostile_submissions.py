"""Hostile submissions through real ``aira-dsl run``s, on bubblewrap and on unshare.

The scripted server plays one hostile solution per node: symbolic links to the task's private
answers, to the hidden-validation answers, to a root-only file and to ``/proc/self/environ``;
hard links; FIFOs, sockets, directories and device links named like the files the host reads
back; sparse and huge files; metrics that are NaN, ±Infinity, 1e308, 400-digit integers,
nested objects or nested 100,000 deep. Every one must end as a buggy node with a reason that
says what was wrong, the run must go on to its last step, ``best/`` must hold only the control
node's own files, nothing in the run directory may hold a byte of a secret, and the
orchestrator's peak RSS must stay under 300 MB.

The unit tests of the metric parser are here too (they explain the reasons the runs expect).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.runtime.outputs import REPORTED_MAX_ABS, parse_reported
from aira_dsl.tasks import resolve_task

REPO = Path(__file__).resolve().parents[2]
ISOLATIONS = ["bubblewrap", "unshare"]
RSS_LIMIT_MB = 300


# ---------------------------------------------------------------------------------------------
# The metric parser


@pytest.mark.parametrize(("payload", "kept", "note"), [
    (b'{"cv": 0.5, "n": 3}', {"cv": 0.5, "n": 3.0}, None),
    (b'{"cv": NaN}', {}, "NaN is not a finite number"),
    (b'{"cv": Infinity}', {}, "Infinity is not a finite number"),
    (b'{"cv": -Infinity}', {}, "-Infinity is not a finite number"),
    (b'{"cv": 1e999}', {}, "inf is not a finite number"),
    (b'{"cv": 1e308}', {}, "1e+308 is outside"),
    (b'{"cv": -2e12}', {}, "-2e+12 is outside"),
    (b'{"cv": 1e12, "d": -1e12}', {"cv": 1e12, "d": -1e12}, None),
    (b'{"cv": ' + b"9" * 400 + b"}", {}, "a 400-digit integer is outside"),
    (b'{"cv": ' + b"9" * 5000 + b"}", {}, "a 5000-digit integer is outside"),  # beyond int() limits
    (b'{"cv": {"value": 0.9}}', {}, "a nested object is not a number"),
    (b'{"cv": [0.9]}', {}, "a list is not a number"),
    (b'{"cv": "0.9"}', {}, "a string is not a number"),
    (b'{"cv": true}', {}, "true is not a number"),
    (b'{"cv": null}', {}, "null is not a number"),
    (b"[" * 100_000 + b"]" * 100_000, {}, "nested too deeply"),
    (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, {}, "nested too deeply"),
    (b"[1, 2]", {}, "must hold a JSON object"),
    (b"{not json", {}, "not valid JSON"),
    (b'{"cv": 0.5, "\xff": 1}', {}, "not UTF-8"),
])
def test_reported_metrics_are_bounded(payload: bytes, kept: dict[str, float], note: str | None) -> None:
    values, notes = parse_reported(payload)
    assert values == kept
    if note is None:
        assert notes == []
    else:
        assert any(note in n for n in notes), notes
    assert all(abs(v) <= REPORTED_MAX_ABS for v in values.values())


def test_many_or_long_named_metrics_are_cut_with_a_note() -> None:
    payload = json.dumps({f"m{i}": i for i in range(80)} | {"x" * 500: 1}).encode()
    values, notes = parse_reported(payload)
    assert len(values) == 50 and "only the first 50" in notes[0]
    values, notes = parse_reported(json.dumps({"x" * 500: 1, "ok": 2}).encode())
    assert values == {"ok": 2.0} and "500 characters" in notes[0]


def test_the_hidden_scorer_reads_predictions_back_safely(tmp_path: Path) -> None:
    """A link to the hidden answers scores nothing; a FIFO never blocks; a real file is scored."""
    from aira_dsl.tasks import check_hidden_validation, score_hidden_validation
    from aira_dsl.tasks.model import HIDDEN_PREDICTIONS_FILE

    task = resolve_task("penguins", hidden_validation=0.2)
    assert task.hidden_validation is not None
    folder = tmp_path / "submission"
    folder.mkdir()
    predictions = folder / HIDDEN_PREDICTIONS_FILE
    predictions.symlink_to(task.hidden_validation.answers)
    for location in (folder, predictions):
        check, value = check_hidden_validation(task, location)
        assert value is None and check.code == "refused" and "symbolic link" in (check.reason or ""), check
    predictions.unlink()
    os.mkfifo(predictions)
    assert score_hidden_validation(task, folder) is None
    predictions.unlink()
    shutil.copy(task.hidden_validation.answers, predictions)  # a regular copy of the answers: a perfect score
    assert score_hidden_validation(task, folder) == pytest.approx(1.0)
    assert score_hidden_validation(task, predictions) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# Real runs

PRELUDE = '''# case: {name}
import csv, json, os, shutil, socket, stat
SUB, HID, MET = "./submission/submission.csv", "./submission/hidden_val_predictions.csv", "./working/metrics.json"
shutil.copy("./data/sample_submission.csv", SUB)
with open(HID, "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["id", "species"])
    for row in csv.DictReader(open("./data/hidden_val_features.csv")):
        writer.writerow([row["id"], "Adelie"])
json.dump({{"cv_score": 0.5}}, open(MET, "w"))
for line in open("/proc/self/mountinfo"):
    if line.split()[4] == "/workspace/data":
        print("./data is bound from", line.split()[3])


def replace(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


'''


def _cases(answers: Path, hidden_answers: Path, secret: Path) -> list[tuple[str, str, str | None]]:
    """(name, hostile code after the prelude, words the node's error must contain; None: valid)."""
    sub_refused = "invalid submission: submission/submission.csv "
    metric_note = 'no validation metric (working/metrics.json: "cv_score" ignored: '
    return [
        ("control-first", "", None),
        ("sub-link-answers", f"replace(SUB)\nos.symlink({str(answers)!r}, SUB)\n", sub_refused + "is a symbolic link"),
        ("sub-link-root-only", f"replace(SUB)\nos.symlink({str(secret)!r}, SUB)\n", sub_refused + "is a symbolic link"),
        ("sub-link-environ", "replace(SUB)\nos.symlink('/proc/self/environ', SUB)\n", sub_refused + "is a symbolic link"),
        ("sub-link-relative", "replace(SUB)\nos.symlink('../data/sample_submission.csv', SUB)\n",
         sub_refused + "is a symbolic link"),
        ("sub-folder-link", "os.rename('submission', 'real')\nos.symlink('real', 'submission')\n",
         sub_refused + "is behind a symbolic link (submission)"),
        ("hidden-link-answers", f"replace(HID)\nos.symlink({str(hidden_answers)!r}, HID)\n",
         "invalid submission: submission/hidden_val_predictions.csv is a symbolic link"),
        ("sub-hard-link", "replace(SUB)\ntry:\n    os.link('./data/sample_submission.csv', SUB)\n"
                          "except OSError as exc:\n    print('cannot link the data:', exc)\n"
                          "    shutil.copy('./data/sample_submission.csv', './working/copy.csv')\n"
                          "    os.link('./working/copy.csv', SUB)\n", sub_refused + "has 2 hard links"),
        ("sub-fifo", "replace(SUB)\nos.mkfifo(SUB)\n", sub_refused + "is a FIFO"),
        ("metrics-fifo", "replace(MET)\nos.mkfifo(MET)\n", "invalid submission: working/metrics.json is a FIFO"),
        ("hidden-fifo", "replace(HID)\nos.mkfifo(HID)\n",
         "invalid submission: submission/hidden_val_predictions.csv is a FIFO"),
        ("sub-directory", "replace(SUB)\nos.mkdir(SUB)\nopen(SUB + '/x.csv', 'w').write('id\\n')\n",
         sub_refused + "is a directory"),
        ("metrics-directory", "replace(MET)\nos.mkdir(MET)\n", "invalid submission: working/metrics.json is a directory"),
        ("sub-socket", "replace(SUB)\nsocket.socket(socket.AF_UNIX).bind(SUB)\n", sub_refused + "is a socket"),
        ("sub-device", "replace(SUB)\ntry:\n    os.mknod(SUB, 0o666 | stat.S_IFCHR, os.makedev(1, 5))\n"
                       "except OSError as exc:\n    print('mknod refused:', exc)\n    os.symlink('/dev/zero', SUB)\n",
         sub_refused + "is a symbolic link"),
        ("metrics-device", "replace(MET)\nos.symlink('/dev/urandom', MET)\n",
         "invalid submission: working/metrics.json is a symbolic link"),
        ("sub-sparse", "with open(SUB, 'ab') as handle:\n    handle.truncate(2 << 30)\n",
         sub_refused + "is 2,147,483,648 bytes, over the 1,073,741,824-byte limit"),
        ("hidden-sparse", "with open(HID, 'ab') as handle:\n    handle.truncate(2 << 30)\n",
         "invalid submission: submission/hidden_val_predictions.csv is 2,147,483,648 bytes"),
        ("metrics-sparse", "with open(MET, 'ab') as handle:\n    handle.truncate(2 << 30)\n",
         "invalid submission: working/metrics.json is 2,147,483,648 bytes, over the 1,048,576-byte limit"),
        ("metrics-huge", "open(MET, 'w').write('{\"cv_score\": 0.5' + ' ' * (5 << 20) + '}')\n",
         "invalid submission: working/metrics.json is 5,242,897 bytes, over the 1,048,576-byte limit"),
        ("metrics-nan", "open(MET, 'w').write('{\"cv_score\": NaN}')\n", metric_note + "NaN is not a finite number"),
        ("metrics-inf", "open(MET, 'w').write('{\"cv_score\": Infinity}')\n",
         metric_note + "Infinity is not a finite number"),
        ("metrics-minus-inf", "open(MET, 'w').write('{\"cv_score\": -Infinity}')\n",
         metric_note + "-Infinity is not a finite number"),
        ("metrics-1e308", "open(MET, 'w').write('{\"cv_score\": 1e308}')\n", metric_note + "1e+308 is outside ±1e+12"),
        ("metrics-400-digits", "open(MET, 'w').write('{\"cv_score\": ' + '9' * 400 + '}')\n",
         metric_note + "a 400-digit integer is outside ±1e+12"),
        ("metrics-nested", "open(MET, 'w').write('{\"cv_score\": {\"value\": 0.99}}')\n",
         metric_note + "a nested object is not a number"),
        ("metrics-deep", "open(MET, 'w').write('[' * 100000 + ']' * 100000)\n",
         "no validation metric (working/metrics.json is nested too deeply"),
        ("control-last", "", None),
    ]


def _profile(project: Path, isolation: str) -> str:
    name = f"hostile-{isolation}"
    (project / "runtimes").mkdir(parents=True, exist_ok=True)
    (project / "runtimes" / f"{name}.yaml").write_text(
        "version: 1\ndescription: hostile-submission tests\nbackend: local\n"
        f"isolation: {isolation}\nresource_control: auto\n"
        "limits: {wall_time: 60s, max_processes: 256, output_bytes: 1m}\nkill_grace: 0.5s\n")
    return name


def _skip_unless(isolation: str) -> None:
    from tests_support import skip_unless_provided

    from aira_dsl.sandbox.isolation import probe_bwrap, probe_unshare

    path, reason = probe_bwrap("bwrap") if isolation == "bubblewrap" else probe_unshare()
    if path is None:
        skip_unless_provided(isolation if isolation == "bubblewrap" else "unshare", reason)


class PeakRss:
    """Samples a process's peak resident set (VmHWM) until it ends."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            except (OSError, ValueError):
                return
            time.sleep(0.05)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(2)
        return self.peak_kb / 1024


def run_cli(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, str, float]:
    """``python -m aira_dsl ARGS`` as a real process: (exit code, stdout, stderr, peak RSS in MB)."""
    proc = subprocess.Popen([sys.executable, "-m", "aira_dsl", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    rss = PeakRss(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        raise AssertionError(f"the run did not finish in {timeout}s:\n{err[-3000:]}") from None
    return proc.returncode, out, err, rss.stop()


def _env(tmp_path: Path, key: str) -> dict[str, str]:
    env = {**os.environ, "OPENAI_API_KEY": key, "NO_COLOR": "1", "AIRA_DSL_ALLOWED_ROOTS": str(tmp_path)}
    env.pop("FORCE_COLOR", None)
    return env


def _secrets_in(run_dir: Path, secrets: list[bytes]) -> list[str]:
    """Files of the run directory that are not regular single-link files, or that hold a secret."""
    found = []
    for folder, dirs, files in os.walk(run_dir):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                found.append(f"{path}: not a regular single-link file")
                continue
            data = path.read_bytes()
            found += [f"{path}: holds a secret" for secret in secrets if secret in data]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_hostile_submissions_end_as_buggy_nodes(isolation: str, tmp_path: Path) -> None:
    _skip_unless(isolation)
    task = resolve_task("penguins", hidden_validation=0.2)
    assert task.hidden_validation is not None
    answers, hidden_answers = task.answers, task.hidden_validation.answers
    secret_text = f"ROOT-ONLY-{uuid.uuid4().hex}".encode()
    secret = tmp_path / "root-only" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(secret_text)
    os.chmod(secret, 0o600)
    os.chmod(secret.parent, 0o700)
    key = f"test-key-{uuid.uuid4().hex}"
    cases = _cases(answers, hidden_answers, secret)
    project = tmp_path / "project"
    profile = _profile(project, isolation)
    run_dir = tmp_path / "run"
    answer_list = [{"plan": name, "code": PRELUDE.format(name=name) + code} for name, code, _ in cases]
    script = {"rules": [{"name": "hostile", "when": {"kind": ["draft", "debug", "improve", "crossover"]},
                         "answers": answer_list}]}
    sets = [f"budget.steps={len(cases)}", "budget.exec_timeout=60s", "budget.time=20m", "models.coder.timeout=30s",
            f"execution.sandbox={profile}", "fitness.metric=reported.cv_score",
            "fitness.buggy=exec.exit_code != 0 or metric == null or not submission.valid or hidden.score == null"]
    with ScriptedServer(script) as server:
        code, out, err, peak_mb = run_cli(
            ["run", str(REPO / "specs" / "aira-greedy.yaml"), "--task", "penguins", "--out", str(run_dir), "--workers", "1",
             "--hidden-validation", "0.2", "--base-url", server.base_url, "--format", "json",
             *[a for s in sets for a in ("--set", s)]],
            cwd=project, env=_env(tmp_path, key), timeout=900)
    print(f"{isolation}: {len(cases)} nodes, orchestrator peak RSS {peak_mb:.0f} MB")
    assert code == 0, err[-3000:]
    summary = json.loads(out)
    assert summary["status"] == "finished" and summary["steps"] == len(cases), summary
    conn = sqlite3.connect(run_dir / "journal.sqlite")
    rows = conn.execute("SELECT id, buggy, metric, error, code FROM nodes ORDER BY id").fetchall()
    assert len(rows) == len(cases)
    by_case = {row[4].splitlines()[0].removeprefix("# case: "): row for row in rows}
    assert set(by_case) == {name for name, _, _ in cases}
    for name, _, words in cases:
        _node_id, buggy, metric, error, _ = by_case[name]
        if words is None:
            assert buggy == 0 and metric == 0.5, (name, error)
        else:
            assert buggy == 1, f"{name} was not buggy"
            assert error and words in error, f"{name}: {error!r} does not say {words!r}"
    # best/ holds the control node's own files, and nothing from outside the workspace
    best = json.loads((run_dir / "best" / "node.json").read_text())
    assert best["node"] in {by_case["control-first"][0], by_case["control-last"][0]}
    sample = (task.public_dir / "sample_submission.csv").read_bytes()
    assert (run_dir / "best" / "submission.csv").read_bytes() == sample
    assert _secrets_in(run_dir, [answers.read_bytes(), hidden_answers.read_bytes(), secret_text, key.encode()]) == []
    assert [p.name for p in (run_dir / "work").iterdir() if not p.name.startswith(".")] == []
    assert not (run_dir / ".incoming").exists() or list((run_dir / ".incoming").iterdir()) == []
    assert peak_mb < RSS_LIMIT_MB, f"orchestrator peak RSS {peak_mb:.0f} MB"


@pytest.mark.slow
@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_a_task_whose_data_folder_is_private_runs(isolation: str, tmp_path: Path) -> None:
    """A task folder made by mkdtemp (0700, files 0600): the nodes read the data, none fails on it."""
    _skip_unless(isolation)
    task_dir = tmp_path / "task"
    shutil.copytree(resolve_task("penguins").root, task_dir)
    public = task_dir / "public"
    for path in public.iterdir():
        os.chmod(path, 0o600)
    os.chmod(public, 0o700)
    reader = ('import csv, shutil\nrows = list(csv.DictReader(open("./data/train.csv")))\n'
              'print("read", len(rows), "training rows")\n'
              'shutil.copy("./data/sample_submission.csv", "./submission/submission.csv")\n'
              'open("./working/metrics.json", "w").write(\'{"cv_score": 0.5}\')\n')
    project = tmp_path / "project"
    profile = _profile(project, isolation)
    run_dir = tmp_path / "run"
    script = {"rules": [{"when": {"kind": ["draft", "debug", "improve"]}, "answers": [{"plan": "read", "code": reader}]}]}
    sets = ["budget.steps=2", "budget.exec_timeout=60s", "budget.time=10m", f"execution.sandbox={profile}",
            "fitness.metric=reported.cv_score", "fitness.buggy=exec.exit_code != 0 or metric == null"]
    with ScriptedServer(script) as server:
        code, _out, err, _ = run_cli(
            ["run", str(REPO / "specs" / "aira-greedy.yaml"), "--task", str(task_dir), "--out", str(run_dir),
             "--base-url", server.base_url, "--format", "json", *[a for s in sets for a in ("--set", s)]],
            cwd=project, env=_env(tmp_path, "test-key"), timeout=600)
    assert code == 0, err[-3000:]
    conn = sqlite3.connect(run_dir / "journal.sqlite")
    rows = conn.execute("SELECT n.buggy, n.error, e.output FROM nodes n JOIN executions e ON e.node_id = n.id").fetchall()
    assert len(rows) == 2
    for buggy, error, output in rows:
        assert buggy == 0 and "Permission denied" not in output and "read " in output, (error, output)
    assert oct(public.stat().st_mode & 0o777) == "0o700"
