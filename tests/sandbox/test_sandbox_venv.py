"""An interpreter from a virtual environment under /tmp works inside the isolated sandbox.

Regression test: the sandbox's private /tmp used to be mounted after the interpreter's folders,
hiding a venv that lives under /tmp (the README's fresh-machine install in a venv failed with
exit code 127).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sandbox_support import local_profile, skip_backend, skip_reason  # type: ignore[import-not-found]

from aira_dsl.sandbox import Limits, create_sandbox


@pytest.fixture(scope="module")
def tmp_venv() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="aira-venv-", dir="/tmp"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / "venv")], check=True)
    return folder / "venv" / "bin" / "python"


@pytest.mark.parametrize("backend", ["bwrap-rlimit", "unshare-rlimit"])
def test_venv_python_under_tmp_runs(backend: str, tmp_venv: Path, tmp_path: Path) -> None:
    reason = skip_reason(backend)
    if reason:
        skip_backend(backend, reason)
    isolation = backend.split("-")[0]
    profile = local_profile("bubblewrap" if isolation == "bwrap" else "unshare", "rlimit", local={"python": str(tmp_venv)})
    sandbox = create_sandbox(profile, workdir_root=tmp_path / "work")
    workspace = sandbox.prepare("venv-node", None, {"solution.py": b"import sys\nprint('prefix', sys.prefix)\n"})
    try:
        result = sandbox.run(workspace, "solution.py", Limits(wall_time=30))
    finally:
        sandbox.cleanup(workspace)
    assert result.exit_code == 0, result.output
    assert f"prefix {tmp_venv.parent.parent}" in result.stdout
