"""Three MLE-bench lite competitions end to end with the real (vendored) mlebench package.

For each competition the test writes raw files in the schema the competition's own ``prepare.py``
reads (Kaggle's data is not available here), runs that real ``prepare``, writes a leaderboard in
MLE-bench's format into a temporary copy of the installed package (the vendored leaderboards are
Git LFS pointers), then runs a shipped agent on ``mlebench:<id>`` against the scripted server and
checks what the issue asks: the sandbox sees the unpacked data, a submission MLE-bench rejects is
debugged with MLE-bench's own message in the prompt (read back from the journal), and the best
submission's score and medal are the ones MLE-bench's ``grade_csv`` gives.
"""

from __future__ import annotations

import asyncio
import csv
import importlib
import importlib.util
import io
import json
import random
import shutil
import sqlite3
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests_support import skip_unless_provided

from aira_dsl.compiler import load_plan_or_spec
from aira_dsl.llm.scripted import ScriptedServer
from aira_dsl.runtime.engine import Engine, RunOptions

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

if importlib.util.find_spec("mlebench") is None:
    skip_unless_provided("mlebench", "the mlebench package is not installed (it is not on PyPI: "
                         "pip install --no-deps ../shared/vendor/mle-bench, see ../shared/vendor/README.md)")


def _purge_mlebench() -> None:
    for name in [n for n in sys.modules if n == "mlebench" or n.startswith("mlebench.")]:
        del sys.modules[name]


def write_leaderboard(path: Path, scores: list[float]) -> None:
    """MLE-bench's leaderboard format (Kaggle's view without team names), best first."""
    path.write_text("scoreDate,teamId,hasTeamName,submissionDate,score\n" + "".join(
        f"2021-06-01 00:00:00,{5000 + i},True,2021-06-01 00:00:00,{s}\n" for i, s in enumerate(scores)))


LEADERBOARDS = {  # 50 teams each: gold = 5th score, silver = 10th, bronze = 20th (MLE-bench's rule)
    "tabular-playground-series-dec-2021": [round(0.999 - i * 0.01, 4) for i in range(50)],  # accuracy
    "spooky-author-identification": [round(0.15 + i * 0.02, 4) for i in range(50)],          # log loss
    "aerial-cactus-identification": [round(1.0 - i * 0.002, 4) for i in range(50)],          # ROC AUC
}


@pytest.fixture(scope="module")
def mlebench_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The installed mlebench package copied to a temp dir (first on sys.path) with real leaderboards."""
    spec = importlib.util.find_spec("mlebench")
    assert spec is not None and spec.submodule_search_locations
    site = tmp_path_factory.mktemp("mlebench-site")
    shutil.copytree(Path(next(iter(spec.submodule_search_locations))), site / "mlebench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for competition_id, scores in LEADERBOARDS.items():
        write_leaderboard(site / "mlebench" / "competitions" / competition_id / "leaderboard.csv", scores)
    _purge_mlebench()
    sys.path.insert(0, str(site))
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        _purge_mlebench()


def competition(competition_id: str, data_dir: Path) -> Any:
    from mlebench.registry import registry

    return registry.set_data_dir(data_dir).get_competition(competition_id)


def prepare(competition_id: str, data_dir: Path) -> Any:
    """What `mlebench prepare` does once Kaggle's files are in raw/ (mlebench.data's
    download_and_prepare_dataset after the download): the competition's real prepare(), then the
    description copied into the public folder."""
    found = competition(competition_id, data_dir)
    found.public_dir.mkdir(parents=True)
    found.private_dir.mkdir(parents=True)
    found.prepare_fn(raw=found.raw_dir, public=found.public_dir, private=found.private_dir)
    (found.public_dir / "description.md").write_text(found.description)
    return found


# ------------------------------------------------------------------------------------ raw data


def raw_tabular(data_dir: Path) -> None:
    """train.csv as Kaggle's TPS Dec 2021 has it (Id, features, Cover_Type), Cover_Type from Elevation."""
    raw = data_dir / "tabular-playground-series-dec-2021" / "raw"
    raw.mkdir(parents=True)
    rng = random.Random(7)
    rows = []
    for i in range(200):
        elevation = rng.randrange(2000, 4100)
        rows.append([i, elevation, rng.randrange(360), rng.randrange(40), rng.randrange(1000), rng.randrange(2),
                     rng.randrange(2), 1 + (elevation // 300) % 7])
    with (raw / "train.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Id", "Elevation", "Aspect", "Slope", "Horizontal_Distance_To_Hydrology",
                         "Wilderness_Area1", "Soil_Type1", "Cover_Type"])
        writer.writerows(rows)


def raw_spooky(data_dir: Path) -> None:
    """train.zip holding train.csv (id, text, author), as Kaggle ships it."""
    raw = data_dir / "spooky-author-identification" / "raw"
    raw.mkdir(parents=True)
    words = {"EAP": "raven midnight dreary", "HPL": "eldritch cyclopean dread", "MWS": "creature misery wretch"}
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["id", "text", "author"])
    for i in range(150):
        author = ("EAP", "HPL", "MWS")[i % 3]
        writer.writerow([f"id{i:05d}", f"The {words[author]} of sentence {i}.", author])
    with zipfile.ZipFile(raw / "train.zip", "w") as handle:
        handle.writestr("train.csv", text.getvalue())


def raw_cactus(data_dir: Path) -> None:
    """train.csv (id, has_cactus) and train.zip with train/<id> 32x32 JPEGs (cactus ones bright)."""
    from PIL import Image

    raw = data_dir / "aerial-cactus-identification" / "raw"
    raw.mkdir(parents=True)
    rng = random.Random(3)
    labels = []
    with zipfile.ZipFile(raw / "train.zip", "w") as handle:
        for i in range(100):
            name = f"{rng.getrandbits(64):016x}.jpg"
            cactus = int(i % 4 != 0)
            shade = 190 + rng.randrange(40) if cactus else 30 + rng.randrange(40)
            buffer = io.BytesIO()
            Image.new("RGB", (32, 32), (shade, shade, shade)).save(buffer, format="JPEG")
            handle.writestr(f"train/{name}", buffer.getvalue())
            labels.append((name, cactus))
    (raw / "train.csv").write_text("id,has_cactus\n" + "".join(f"{n},{c}\n" for n, c in labels))


# ------------------------------------------------------------------------------------ scripted agents

TABULAR_HALF = """import pandas as pd
test = pd.read_csv("./data/test.csv")
half = test.iloc[: len(test) // 2]
pd.DataFrame({"Id": half["Id"], "Cover_Type": 2}).to_csv("./submission/submission.csv", index=False)
print("validation accuracy: 0.41")
"""
TABULAR_RULE = """import pandas as pd
test = pd.read_csv("./data/test.csv")
pred = 1 + (test["Elevation"] // 300) % 7
pd.DataFrame({"Id": test["Id"], "Cover_Type": pred}).to_csv("./submission/submission.csv", index=False)
print("validation accuracy: 0.99")
"""
SPOOKY_UNNORMALISED = """import pandas as pd
test = pd.read_csv("./data/test.csv")
pd.DataFrame({"id": test["id"], "EAP": 0.5, "HPL": 0.5, "MWS": 0.5}).to_csv("./submission/submission.csv", index=False)
print("validation log loss: 0.9")
"""
SPOOKY_KEYWORDS = """import pandas as pd
test = pd.read_csv("./data/test.csv")
rows = []
for text in test["text"]:
    p = {"EAP": 0.125, "HPL": 0.125, "MWS": 0.125}
    for author, word in (("EAP", "raven"), ("HPL", "eldritch"), ("MWS", "creature")):
        if word in text:
            p[author] = 0.75
    rows.append(p)
out = pd.DataFrame(rows)
out.insert(0, "id", test["id"])
out.to_csv("./submission/submission.csv", index=False)
print("validation log loss: 0.2")
"""
CACTUS_BRIGHTNESS = """import os
import pandas as pd
from PIL import Image
train = sorted(os.listdir("./data/train"))
test = sorted(os.listdir("./data/test"))
print(f"train images: {len(train)}, test images: {len(test)}")
sample = pd.read_csv("./data/sample_submission.csv")
scores = [sum(Image.open(os.path.join("./data/test", name)).convert("L").getdata()) / (255 * 32 * 32)
          for name in sample["id"]]
pd.DataFrame({"id": sample["id"], "has_cactus": scores}).to_csv("./submission/submission.csv", index=False)
print("validation auc: 0.97")
"""


def script(draft: str, debug: str, improve: str, metrics: tuple[float, float, float]) -> dict[str, Any]:
    crash = r"Traceback \(most recent call last\)"
    return {"rules": [
        {"name": "review-crash", "when": {"kind": "analyze", "match": crash},
         "answers": [{"review": {"is_bug": True, "summary": "crashed", "metric": None}}]},
        {"name": "review-draft", "when": {"kind": "analyze"}, "cycle": False,
         "answers": [{"review": {"is_bug": False, "summary": "ran", "metric": metrics[0]}}]},
        {"name": "review", "when": {"kind": "analyze"},
         "answers": [{"review": {"is_bug": False, "summary": "ran", "metric": metrics[1]}},
                     {"review": {"is_bug": False, "summary": "ran", "metric": metrics[2]}}]},
        {"name": "draft", "when": {"kind": "draft"}, "answers": [{"plan": "first try", "code": draft}]},
        {"name": "debug", "when": {"kind": "debug"}, "answers": [{"plan": "fix it", "code": debug}]},
        {"name": "improve", "when": {"kind": "improve"}, "answers": [{"plan": "improve it", "code": improve}]},
    ]}


CASES = {
    "tabular-playground-series-dec-2021": ("aide-greedy", raw_tabular,
                                           script(TABULAR_HALF, TABULAR_RULE, TABULAR_RULE, (0.41, 0.99, 0.98))),
    "spooky-author-identification": ("aira-greedy", raw_spooky,
                                     script(SPOOKY_UNNORMALISED, SPOOKY_KEYWORDS, SPOOKY_KEYWORDS, (0.9, 0.2, 0.3))),
    "aerial-cactus-identification": ("aira-greedy", raw_cactus,
                                     script(CACTUS_BRIGHTNESS, CACTUS_BRIGHTNESS, CACTUS_BRIGHTNESS, (0.97, 0.9, 0.9))),
}
REJECTIONS = {  # what MLE-bench's validate_submission says about the scripted first drafts
    "tabular-playground-series-dec-2021": "Submission must have the same length as the answers.",
    "spooky-author-identification": "Each row in submission should sum to one, as probabilities.",
}


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("competition_id", list(CASES))
def test_lite_competition_end_to_end(competition_id: str, mlebench_copy: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from mlebench.grade import grade_csv

    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    spec, write_raw, answers = CASES[competition_id]
    data_dir = tmp_path / "mlebench-data"
    write_raw(data_dir)
    found = prepare(competition_id, data_dir)
    public_before = snapshot(found.public_dir)
    plan = load_plan_or_spec(REPO / "specs" / f"{spec}.yaml", overrides=(
        "budget.steps=3", "budget.exec_timeout=60s", "budget.time=10m", "policy.num_drafts=1",
        "policy.debug_prob=1.0", "models.coder.timeout=30s", "models.reviewer.timeout=30s"))
    out = tmp_path / "run"
    with ScriptedServer(answers) as server:
        engine = Engine(plan, RunOptions(task_ref=f"mlebench:{competition_id}", out=out, workers=1,
                                         base_url=server.base_url, mlebench_data_dir=data_dir,
                                         task_cache_dir=tmp_path / "cache"))
        summary = asyncio.run(engine.run())
    assert summary.status == "finished" and summary.steps == 3, summary.stop_reason
    conn = sqlite3.connect(out / "journal.sqlite")
    rows = conn.execute("SELECT n.id, n.role, n.buggy, e.submission_valid, e.submission_reason, e.output "
                        "FROM nodes n LEFT JOIN executions e ON e.node_id = n.id ORDER BY n.id").fetchall()
    prompts = {node: [json.loads(m) for (m,) in conn.execute(
        "SELECT messages FROM llm_calls WHERE node_id = ? AND kind NOT IN ('analyze')", (node,))]
        for node, *_ in rows}
    text_of = {node: "\n".join(m["content"] for call in calls for m in call) for node, calls in prompts.items()}

    # The benchmark rules precede the competition's own description.
    assert text_of[0].index("# Benchmark rules") < text_of[0].index("# Competition description")
    if competition_id in REJECTIONS:
        # MLE-bench rejected the first draft; its message is the node's reason and is in the debug prompt.
        node0 = rows[0]
        assert node0[2] == 1 and node0[3] == 0 and REJECTIONS[competition_id] in node0[4]
        assert node0[4].startswith("Submission invalid!")
        debug_nodes = [r[0] for r in rows if r[1] == "debug"]
        assert debug_nodes and REJECTIONS[competition_id] in text_of[debug_nodes[0]]
    else:
        # Archives were unpacked for the sandbox: the solution listed ./data/train and ./data/test.
        n_train = sum(1 for _ in csv.reader((found.public_dir / "train.csv").open())) - 1
        n_test = sum(1 for _ in csv.reader((found.public_dir / "sample_submission.csv").open())) - 1
        assert f"train images: {n_train}, test images: {n_test}" in rows[0][5]
        assert "`train.zip` has been unpacked for you" in text_of[0]
        assert "`test.zip` has been unpacked for you" in text_of[0]
        assert not (found.public_dir / "train").exists()  # nothing was written into the prepared folder
    assert snapshot(found.public_dir) == public_before

    # The best submission, graded by MLE-bench itself, agrees with the run's score and medal.
    best = out / "best" / "submission.csv"
    report = grade_csv(best, competition(competition_id, data_dir))
    assert report.valid_submission and summary.best_test == report.score
    medal = "gold" if report.gold_medal else "silver" if report.silver_medal else "bronze" if report.bronze_medal else None
    assert summary.medal == medal and summary.above_median == report.above_median
    expected = {"tabular-playground-series-dec-2021": "gold", "spooky-author-identification": "silver",
                "aerial-cactus-identification": "gold"}
    assert medal == expected[competition_id], report.to_dict()
