"""What the sandbox's own interpreter offers: probed inside the sandbox, once per run.

Prompts tell the model which ML packages it may import (``packages``) and what hardware it has
(``hardware``). Read on the host, those describe the orchestrator's interpreter, which need not
be the sandbox's: a profile can name another Python (``local.python``) or an image (Docker) that
lacks xgboost, lightgbm or timm. So a tiny stdlib-only script runs *through the sandbox* before
the first node and reports which of :data:`ML_PACKAGES` its interpreter can import, how many
CPUs and GPU device nodes it sees. Its answer is cached by the interpreter's identity (its path,
size and modification time and those of its ``site-packages`` folders) or the image's id, so a
run on an unchanged environment does not pay for the probe again.

The probe's output comes back from a sandbox and is parsed as untrusted text: bounded, one
marked JSON line, and only names from :data:`ML_PACKAGES` are accepted.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aira_dsl.sandbox.base import Limits, Sandbox

__all__ = ["ML_PACKAGES", "PROBE_MARKER", "EnvironmentProbe", "merge_hardware", "parse_probe_output",
           "probe_environment", "probe_identity"]

ML_PACKAGES: Mapping[str, str] = {
    "numpy": "numpy", "pandas": "pandas", "scikit-learn": "sklearn", "statsmodels": "statsmodels",
    "xgboost": "xgboost", "lightgbm": "lightgbm", "torch": "torch", "torchvision": "torchvision",
    "torch-geometric": "torch_geometric", "bayesian-optimization": "bayes_opt", "timm": "timm",
}
"""The packages prompts may offer (pip name -> import name): AIRA-dojo's ``available_packages``
(configs/solver/greedy.yaml), which is also the default package set of runtimes/docker/cuda.Dockerfile."""
PROBE_MARKER = "AIRA_ENV_PROBE "
PROBE_FORMAT_VERSION = 1
_MAX_OUTPUT = 64 * 1024

_SCRIPT = """\
import importlib.metadata as md, importlib.util as iu, json, os, re, sys
names, MARKER = json.loads(sys.argv[1]), sys.argv[2]
found = {}
for dist, module in names.items():
    try:
        version = md.version(dist)
        spec = iu.find_spec(module)
    except Exception:
        continue
    if spec is not None:
        found[dist] = version
try:
    cpus = len(os.sched_getaffinity(0))
except Exception:
    cpus = os.cpu_count() or 1
try:
    gpus = sorted(n for n in os.listdir("/dev") if re.fullmatch(r"nvidia[0-9]+", n))
except OSError:
    gpus = []
print(MARKER + json.dumps({"python": sys.version.split()[0], "packages": found, "cpus": cpus, "gpu_devices": len(gpus)}))
"""


@dataclass(frozen=True)
class EnvironmentProbe:
    """The probe's answer (``ok`` False: it failed, and ``problem`` says why)."""

    ok: bool
    packages: tuple[str, ...] = ()
    versions: Mapping[str, str] = field(default_factory=dict)
    python: str | None = None
    cpus: int | None = None
    gpu_devices: int | None = None
    problem: str | None = None
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "packages": list(self.packages), "versions": dict(self.versions),
                "python": self.python, "cpus": self.cpus, "gpu_devices": self.gpu_devices,
                "problem": self.problem}


def parse_probe_output(output: str) -> EnvironmentProbe:
    """The probe from the sandbox's stdout; anything malformed is a failed probe, never an exception."""
    line = next((ln for ln in reversed(output[-_MAX_OUTPUT:].splitlines()) if ln.startswith(PROBE_MARKER)), None)
    if line is None:
        return EnvironmentProbe(False, problem="the probe printed no result")
    try:
        data = json.loads(line[len(PROBE_MARKER):])
    except (ValueError, RecursionError):
        return EnvironmentProbe(False, problem="the probe's result is not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("packages"), dict):
        return EnvironmentProbe(False, problem="the probe's result has no package table")
    versions = {str(k): str(v)[:64] for k, v in data["packages"].items() if k in ML_PACKAGES and isinstance(v, str)}
    cpus = data.get("cpus")
    gpus = data.get("gpu_devices")
    python = data.get("python")
    return EnvironmentProbe(
        True, packages=tuple(name for name in ML_PACKAGES if name in versions), versions=versions,
        python=str(python)[:32] if isinstance(python, str) else None,
        cpus=cpus if isinstance(cpus, int) and not isinstance(cpus, bool) and 0 < cpus < 1 << 16 else None,
        gpu_devices=gpus if isinstance(gpus, int) and not isinstance(gpus, bool) and 0 <= gpus < 1 << 10 else None)


def _stat_key(path: str) -> list[Any]:
    try:
        info = os.stat(path)
    except OSError:
        return [path, None]
    return [path, info.st_size, info.st_mtime_ns, info.st_ino]


def probe_identity(description: Mapping[str, Any], image_id: str | None = None) -> str:
    """A key for the sandbox's environment: the image id (Docker) or the interpreter's files (local)."""
    material: list[Any] = [PROBE_FORMAT_VERSION, sorted(ML_PACKAGES.items()), description.get("backend")]
    if description.get("backend") == "docker":
        material.append(image_id or description.get("image"))
    else:
        python = str(description.get("python") or "")
        real = os.path.realpath(python)
        material += [_stat_key(python), _stat_key(real)]
        prefixes = {os.path.dirname(os.path.dirname(os.path.abspath(python))),
                    os.path.dirname(os.path.dirname(real))}
        for prefix in sorted(prefixes):
            for site in sorted(glob.glob(os.path.join(prefix, "lib", "python3*", "*-packages"))):
                material.append(_stat_key(site))
        material.append(description.get("isolation"))
    return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()[:24]


def _image_id(sandbox: Sandbox) -> str | None:
    client, image = getattr(sandbox, "client", None), getattr(sandbox, "image", None)
    if client is None or image is None:
        return None
    try:
        return str(client.images.get(image).id)
    except Exception:  # the engine's error types vary; the tag then stands for the image
        return None


def probe_environment(sandbox: Sandbox, *, cache_dir: Path | None, timeout: float = 120.0) -> EnvironmentProbe:
    """Run the probe in ``sandbox`` (or reuse a cached answer for the same environment)."""
    key = probe_identity(sandbox.describe(), _image_id(sandbox))
    cache = Path(cache_dir) / "probes" / f"{key}.json" if cache_dir is not None else None
    if cache is not None:
        with contextlib.suppress(OSError, ValueError, TypeError):
            data = json.loads(cache.read_text(encoding="utf-8"))
            found = parse_probe_output(PROBE_MARKER + json.dumps(data))
            if found.ok:
                return EnvironmentProbe(**{**found.__dict__, "cached": True})
    workspace = sandbox.prepare(f"env-probe-{os.getpid()}", None, {"probe.py": _SCRIPT.encode()})
    try:
        result = sandbox.run(workspace, ["python", "probe.py", json.dumps(dict(ML_PACKAGES)), PROBE_MARKER],
                             Limits(wall_time=timeout, output_bytes=_MAX_OUTPUT))
    finally:
        sandbox.cleanup(workspace)
    if result.exit_code != 0 or result.timed_out:
        tail = (result.stderr or result.output).strip().splitlines()[-1:] or [""]
        return EnvironmentProbe(False, problem=f"the probe exited with {result.exit_code}"
                                f"{' (timed out)' if result.timed_out else ''}: {tail[0][:300]}")
    probe = parse_probe_output(result.stdout)
    if probe.ok and cache is not None:
        with contextlib.suppress(OSError):
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"packages": dict(probe.versions), "python": probe.python, "cpus": probe.cpus,
                                       "gpu_devices": probe.gpu_devices}), encoding="utf-8")
            os.replace(tmp, cache)
    return probe


def merge_hardware(hardware: Mapping[str, Any], probe: EnvironmentProbe,
                   assigned: Sequence[int]) -> tuple[dict[str, Any], list[str]]:
    """``hardware`` corrected by what the sandbox saw; (hardware, warnings).

    CPUs: the fewer of the host's figure (which includes the profile's limit) and the sandbox's.
    GPUs: the assigned ones, unless the sandbox sees no GPU device at all (then none, and a warning).
    """
    out = dict(hardware)
    warnings: list[str] = []
    if not probe.ok:
        return out, warnings
    if probe.cpus is not None and out.get("cpus"):
        out["cpus"] = min(int(out["cpus"]), probe.cpus)
    if assigned and probe.gpu_devices == 0:
        warnings.append(f"GPUs {list(assigned)} are assigned but the sandbox sees no /dev/nvidia* device: "
                        "prompts say there is no GPU")
        out["gpus"] = []
    return out, warnings
