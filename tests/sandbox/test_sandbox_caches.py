"""The profile key ``caches``: read-only model caches bound into local and Docker sandboxes.

A fake Hugging Face cache lives in a fake home folder next to a file that must stay private; from
inside each backend the cache is readable at its mount, not writable, its variable and the offline
switches are set, and nothing else of that home is visible.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from sandbox_support import make_sandbox

from aira_dsl.sandbox import Limits
from aira_dsl.sandbox.environment import prompt_sandbox
from aira_dsl.sandbox.profile import CacheBinding, check_profile_file, profile_from_data

LIMITS = Limits(wall_time=60, output_bytes=64 * 1024)

INSIDE = """
import json, os, sys
home, secret = sys.argv[1], sys.argv[2]
cache = os.environ.get("HF_HOME", "")
out = {"env": {k: os.environ.get(k) for k in ("HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")}}
out["weights"] = open(os.path.join(cache, "hub", "models--tiny", "weights.bin")).read() if cache else None
try:
    open(os.path.join(cache, "hub", "new.bin"), "w").write("x")
    out["write"] = "written"
except OSError as exc:
    out["write"] = exc.errno
out["home_visible"] = os.path.exists(home)
out["secret_visible"] = os.path.exists(secret)
out["caches_dir"] = sorted(os.listdir("/caches")) if os.path.isdir("/caches") else None
print("RESULT " + json.dumps(out))
"""


def fake_home(tmp_path: Path) -> tuple[Path, Path, Path]:
    home = tmp_path / "home" / "someone"
    cache = home / ".cache" / "huggingface"
    (cache / "hub" / "models--tiny").mkdir(parents=True)
    (cache / "hub" / "models--tiny" / "weights.bin").write_text("pretrained")
    secret = home / "private-notes.txt"
    secret.write_text("do not show")
    return home, cache, secret


def run_inside(backend: str, tmp_path: Path, cache: Path, home: Path, secret: Path) -> dict[str, Any]:
    binding = {"host": str(cache), "env": "HF_HOME"}
    if backend == "docker":
        box = make_sandbox("docker", tmp_path / "ws")
        box.profile = dataclasses.replace(box.profile, caches=(CacheBinding(cache, "HF_HOME", "/caches/huggingface"),))
    else:
        box = make_sandbox(backend, tmp_path / "ws", caches=[binding])
    ws = box.prepare("caches", None, {"inside.py": INSIDE.encode()})
    try:
        result = box.run(ws, ["python", "inside.py", str(home), str(secret)], LIMITS)
    finally:
        box.cleanup(ws)
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("RESULT "))
    data: dict[str, Any] = json.loads(line[len("RESULT "):])
    return data


@pytest.mark.parametrize("backend", ["bwrap-rlimit", "unshare-rlimit", pytest.param("docker", marks=pytest.mark.docker)])
def test_cache_is_visible_read_only_with_its_variable_and_nothing_else_of_home(backend: str, tmp_path: Path) -> None:
    home, cache, secret = fake_home(tmp_path)
    seen = run_inside(backend, tmp_path, cache, home, secret)
    assert seen["env"] == {"HF_HOME": "/caches/huggingface", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                           "HF_DATASETS_OFFLINE": "1"}
    assert seen["weights"] == "pretrained"
    assert seen["write"] in (13, 30)  # EACCES or EROFS: read-only either way
    assert seen["home_visible"] is False and seen["secret_visible"] is False
    assert seen["caches_dir"] == ["huggingface"]
    assert not (cache / "hub" / "new.bin").exists()


def test_unisolated_sandbox_points_at_the_host_folder(tmp_path: Path) -> None:
    from aira_dsl.sandbox import create_sandbox

    home, cache, secret = fake_home(tmp_path)
    profile = profile_from_data({"backend": "local", "isolation": "none", "caches": [{"host": str(cache),
                                                                                     "env": "HF_HOME"}]}, "t")
    box = create_sandbox(profile, workdir_root=tmp_path / "ws")
    ws = box.prepare("caches", None, {"inside.py": INSIDE.encode()})
    result = box.run(ws, ["python", "inside.py", str(home), str(secret)], LIMITS)
    box.cleanup(ws)
    seen = json.loads(next(ln for ln in result.stdout.splitlines() if ln.startswith("RESULT "))[7:])
    assert seen["env"]["HF_HOME"] == str(cache.resolve()) and seen["weights"] == "pretrained"
    assert prompt_sandbox(profile, isolation="none") == {
        "network": True, "caches": [{"name": "huggingface", "env": "HF_HOME", "path": str(cache)}]}


def test_missing_cache_is_skipped_and_prompts_do_not_claim_it(tmp_path: Path) -> None:
    profile = profile_from_data({"backend": "local", "caches": [
        {"host": str(tmp_path / "absent"), "env": "TORCH_HOME"},
        {"host": str(tmp_path), "env": "HF_HOME", "mount": "/caches/hf"}]}, "t")
    assert [c.env for c in profile.present_caches()] == ["HF_HOME"]
    assert prompt_sandbox(profile, isolation="bubblewrap") == {
        "network": False, "caches": [{"name": tmp_path.name, "env": "HF_HOME", "path": "/caches/hf"}]}
    assert prompt_sandbox(profile_from_data({"backend": "local"}, "t"), isolation="unshare") == {
        "network": False, "caches": []}


def test_caches_key_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("backend: local\ncaches:\n  - {host: /y}\n")
    assert [(d.code, d.line) for d in check_profile_file(path)] == [("missing-key", 3)]
    path.write_text("backend: local\ncaches:\n  - {host: ~/.cache/huggingface, env: HF_HOME}\n"
                    "  - {host: ~/other/huggingface, env: HF_HOME}\n  - {host: /x, env: X, mount: /workspace/data}\n")
    diagnostics = check_profile_file(path)
    codes = sorted(d.code for d in diagnostics)
    assert codes.count("duplicate-cache") == 2 and "bad-mount" in codes  # same env and same mount; a hidden workspace
    assert all(d.line in (4, 5) for d in diagnostics)
