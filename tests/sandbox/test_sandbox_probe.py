"""``packages`` and ``hardware`` come from the sandbox's own interpreter, not the orchestrator's.

The sandbox here runs a virtual environment without system site-packages that holds one fake
distribution (``pandas``) and no scikit-learn, while the host interpreter has numpy, pandas and
scikit-learn: the probe, and the prompts of a real run, must report only what the venv has.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_support import REPO, make_sandbox

from aira_dsl.sandbox.probe import (
    ML_PACKAGES,
    PROBE_MARKER,
    EnvironmentProbe,
    merge_hardware,
    parse_probe_output,
    probe_environment,
)


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    site = next((root / "lib").glob("python3*/site-packages"))
    (site / "pandas").mkdir()
    (site / "pandas" / "__init__.py").write_text("__version__ = '9.9'\n")
    (site / "pandas-9.9.dist-info").mkdir()
    (site / "pandas-9.9.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: pandas\nVersion: 9.9\n")
    return root / "bin" / "python"


def test_the_host_has_what_the_venv_lacks() -> None:
    import importlib.metadata

    for name in ("numpy", "pandas", "scikit-learn"):
        importlib.metadata.version(name)  # raises if the premise of these tests is false


def test_probe_reports_the_sandbox_interpreter(bare_venv: Path, tmp_path: Path) -> None:
    box = make_sandbox("bwrap-rlimit", tmp_path / "ws", local={"python": str(bare_venv)})
    probe = probe_environment(box, cache_dir=tmp_path / "cache")
    assert probe.ok and probe.packages == ("pandas",) and probe.versions == {"pandas": "9.9"}
    assert not probe.cached and probe.gpu_devices == 0 and probe.cpus is not None
    again = probe_environment(box, cache_dir=tmp_path / "cache")
    assert again.cached and again.packages == ("pandas",)
    # A new package in the venv changes its identity: probed again, and now found.
    site = next((bare_venv.parent.parent / "lib").glob("python3*/site-packages"))
    (site / "sklearn").mkdir()
    (site / "sklearn" / "__init__.py").write_text("")
    (site / "scikit_learn-0.1.dist-info").mkdir()
    (site / "scikit_learn-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: scikit-learn\nVersion: 0.1\n")
    try:
        third = probe_environment(box, cache_dir=tmp_path / "cache")
        assert not third.cached and third.packages == ("pandas", "scikit-learn")
    finally:
        import shutil

        shutil.rmtree(site / "sklearn")
        shutil.rmtree(site / "scikit_learn-0.1.dist-info")


def test_probe_output_is_parsed_as_untrusted_text() -> None:
    good = PROBE_MARKER + json.dumps({"packages": {"numpy": "2.0", "evil": "1", "torch": 3}, "cpus": 4,
                                                   "gpu_devices": 1, "python": "3.11.2"})
    probe = parse_probe_output("noise\n" + good + "\n")
    assert probe.ok and probe.packages == ("numpy",) and probe.cpus == 4 and probe.gpu_devices == 1
    for bad in ("", "no marker", PROBE_MARKER + "{not json", PROBE_MARKER + "[1, 2]",
                PROBE_MARKER + "[" * 100_000, PROBE_MARKER + json.dumps({"packages": "numpy"})):
        assert not parse_probe_output(bad).ok
    assert parse_probe_output(PROBE_MARKER + json.dumps({"packages": {}, "cpus": True})).cpus is None
    assert set(ML_PACKAGES) >= {"numpy", "timm", "torch-geometric", "bayesian-optimization"}


def test_hardware_is_what_the_sandbox_gets() -> None:
    host = {"gpus": [{"name": "NVIDIA H100 80GB HBM3", "memory_gb": 79.6}], "cpus": 16, "memory_gb": 64.0}
    seen = EnvironmentProbe(True, cpus=4, gpu_devices=1)
    assert merge_hardware(host, seen, [3]) == ({**host, "cpus": 4}, [])
    blind, warnings = merge_hardware(host, EnvironmentProbe(True, cpus=32, gpu_devices=0), [3])
    assert blind["gpus"] == [] and blind["cpus"] == 16 and "sees no /dev/nvidia" in warnings[0]
    assert merge_hardware(host, EnvironmentProbe(False, problem="x"), [3]) == (host, [])


def test_cuda_dockerfile_offers_the_dojo_package_set_by_default() -> None:
    text = (REPO / "runtimes" / "docker" / "cuda.Dockerfile").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("ARG ML_PACKAGES="))
    assert line.split("=", 1)[1].strip('"').split() == list(ML_PACKAGES)


@pytest.mark.slow
def test_a_run_tells_the_model_what_the_sandbox_has(bare_venv: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox_support import skip_reason

    from aira_dsl.compiler import load_plan_or_spec
    from aira_dsl.llm.scripted import ScriptedServer
    from aira_dsl.runtime.engine import Engine, RunOptions

    if skip_reason("bwrap-rlimit"):
        pytest.skip(str(skip_reason("bwrap-rlimit")))
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    runtimes = tmp_path / "runtimes"
    runtimes.mkdir()
    (runtimes / "bare-venv.yaml").write_text(
        f"backend: local\nisolation: auto\nresource_control: rlimit\nlimits: {{wall_time: 60s, cpus: 1}}\n"
        f"local: {{python: {bare_venv}}}\n")
    copy = "import shutil\nshutil.copy('./data/sample_submission.csv', './submission/submission.csv')\nprint('cv 0.5')\n"
    answers = {"rules": [{"when": {"kind": "analyze"}, "answers": [{"review": {"is_bug": False, "summary": "ok",
                                                                                "metric": 0.5}}]},
                         {"answers": [{"plan": "copy", "code": copy}]}]}
    plan = load_plan_or_spec(REPO / "specs" / "aira-greedy.yaml", overrides=(
        "budget.steps=1", "execution.sandbox=bare-venv", "models.coder.timeout=30s", "models.reviewer.timeout=30s"))
    with ScriptedServer(answers) as server:
        engine = Engine(plan, RunOptions(task_ref="penguins", out=tmp_path / "run", workers=1,
                                         base_url=server.base_url, sandbox_dirs=[runtimes],
                                         task_cache_dir=tmp_path / "cache"))
        summary = asyncio.run(engine.run())
    assert summary.status == "finished"
    conn = sqlite3.connect(tmp_path / "run" / "journal.sqlite")
    messages = json.loads(conn.execute("SELECT messages FROM llm_calls WHERE kind = 'draft'").fetchone()[0])
    prompt = "\n".join(m["content"] for m in messages)
    assert "- Installed Python packages: `pandas`\n" in prompt  # not the host's numpy or scikit-learn
    assert "- CPU cores: 1\n" in prompt and "- GPU: none" in prompt
    assert "- Network: none." in prompt and "there is no model cache" in prompt
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["environment"]["probe"]["versions"] == {"pandas": "9.9"}
