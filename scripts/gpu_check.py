"""GPU check of the local sandbox: a PyTorch CUDA training step inside it, with GPU assignment.

Run on a machine with an NVIDIA GPU and PyTorch installed in this Python:

    python scripts/gpu_check.py                        # isolation auto (bubblewrap, else unshare)
    python scripts/gpu_check.py --bwrap ./bwrap/usr/bin/bwrap   # a bubblewrap unpacked from its .deb
    python scripts/gpu_check.py --isolation unshare

It prints the isolation and limit mechanism achieved, the hardware block prompts would get, the
device name, the median training-step time and peak GPU memory of a small MLP trained inside a
sandbox given GPU 0, and then shows that a sandbox given no GPU sees none. Exit codes: 0 all
good; 1 a check failed (details printed); 2 no PyTorch, no GPU, or no usable sandbox here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aira_dsl.sandbox import (
    Limits,
    SandboxError,
    assign_gpus,
    create_sandbox,
    detect_hardware,
    list_gpus,
    parse_size,
)
from aira_dsl.sandbox.profile import profile_from_data

TRAIN = """
import json, os, statistics, time
info = {"cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "nvidia_nodes": sorted(n for n in os.listdir("/dev") if n.startswith("nvidia")), "uid": os.getuid()}
import torch
info["torch"] = torch.__version__
info["cuda_available"] = torch.cuda.is_available()
info["device_count"] = torch.cuda.device_count()
if info["cuda_available"]:
    device = torch.device("cuda:0")
    info["device_name"] = torch.cuda.get_device_name(0)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4096, 4096), torch.nn.ReLU(),
                                torch.nn.Linear(4096, 4096), torch.nn.ReLU(),
                                torch.nn.Linear(4096, 1024)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(1024, 4096, device=device)
    y = torch.randn(1024, 1024, device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(5):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(STEPS):
        start = time.perf_counter()
        loss = step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    info["step_ms_median"] = statistics.median(times) * 1000
    info["loss"] = float(loss)
    info["max_memory_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    info["memory_reserved_mb"] = torch.cuda.memory_reserved() / 2**20
print("RESULT " + json.dumps(info))
"""


def _parse(output: str) -> dict[str, Any] | None:
    for line in output.splitlines():
        if line.startswith("RESULT "):
            data: dict[str, Any] = json.loads(line[len("RESULT "):])
            return data
    return None


def _run(profile: Any, gpus: list[int], root: Path, name: str, steps: int, timeout: float,
         memory: int | None) -> tuple[Any, Any]:
    sandbox = create_sandbox(profile, workdir_root=root, gpus=gpus)
    workspace = sandbox.prepare(name, None, {"train.py": TRAIN.replace("STEPS", str(steps)).encode()})
    try:
        result = sandbox.run(workspace, "train.py", Limits(wall_time=timeout, memory_bytes=memory,
                                                           max_processes=8192, output_bytes=256 * 1024))
    finally:
        sandbox.cleanup(workspace)
    return sandbox, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bwrap", default="bwrap", help="bubblewrap binary (default: bwrap on PATH)")
    parser.add_argument("--isolation", choices=["auto", "bubblewrap", "unshare", "none"], default="auto")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps (default 20)")
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds per sandboxed run (default 150)")
    parser.add_argument("--memory", default="16g", help="memory limit of the sandbox (default 16g)")
    parser.add_argument("--cgroup-parent", help="cgroup v2 parent for the execution groups (e.g. /)")
    args = parser.parse_args(argv)

    if importlib.util.find_spec("torch") is None:
        print(f"gpu_check: PyTorch is not installed in {sys.executable}; install torch with CUDA support "
              "to run this check", file=sys.stderr)
        return 2
    gpus = list_gpus()
    if not gpus:
        print("gpu_check: no NVIDIA GPU found (nvidia-smi is missing or lists no GPU); run this on a GPU "
              "machine", file=sys.stderr)
        return 2
    memory = parse_size(args.memory)
    profile = profile_from_data({"backend": "local", "isolation": args.isolation, "resource_control": "auto",
                                 "kill_grace": 5, "local": {"bwrap": args.bwrap, "cgroup_parent": args.cgroup_parent}},
                                "gpu-check")
    started = time.perf_counter()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="aira-gpu-check-") as tmp:
        try:
            assigned = assign_gpus(1, 1, [g["index"] for g in gpus])[0]
            sandbox, with_gpu = _run(profile, assigned, Path(tmp), "with-gpu", args.steps, args.timeout, memory)
            _, without_gpu = _run(profile, [], Path(tmp), "no-gpu", 1, args.timeout, memory)
        except SandboxError as exc:
            print(f"gpu_check: the sandbox cannot run here: {exc.message}", file=sys.stderr)
            if exc.hint:
                print(f"  hint: {exc.hint}", file=sys.stderr)
            return 2
        info = sandbox.describe()
        print(f"isolation:        {info['isolation']} ({info.get('isolation_binary') or '-'})")
        print(f"limits:           {info['limits_mode']} — {info['cgroups']}")
        print(f"hardware block:   {json.dumps(detect_hardware(gpus=assigned))}")
        print(f"assigned GPUs:    {assigned}, memory limit {args.memory}")
        first = _parse(with_gpu.output)
        if with_gpu.exit_code != 0 or first is None or not first.get("cuda_available"):
            failures.append("the sandbox given a GPU could not train on it")
            print(f"GPU run failed (exit {with_gpu.exit_code}, timed out {with_gpu.timed_out}):\n"
                  f"{with_gpu.output[-3000:]}")
        else:
            print(f"device:           {first['device_name']} (torch {first['torch']}, "
                  f"{first['device_count']} visible, CUDA_VISIBLE_DEVICES={first['cuda_visible_devices']!r})")
            print(f"device nodes:     {first['nvidia_nodes']}  (sandbox uid {first['uid']})")
            print(f"step time:        {first['step_ms_median']:.2f} ms median over {args.steps} steps "
                  f"(loss {first['loss']:.4f})")
            print(f"GPU memory:       {first['max_memory_allocated_mb']:.0f} MiB peak allocated, "
                  f"{first['memory_reserved_mb']:.0f} MiB reserved")
            print(f"run time:         {with_gpu.duration:.1f} s in the sandbox")
        second = _parse(without_gpu.output)
        if without_gpu.exit_code != 0 or second is None:
            failures.append("the sandbox given no GPU failed to run")
            print(f"no-GPU run failed (exit {without_gpu.exit_code}):\n{without_gpu.output[-3000:]}")
        else:
            sees = second["cuda_available"] or second["device_count"] > 0
            print(f"no-GPU sandbox:   cuda available {second['cuda_available']}, {second['device_count']} "
                  f"device(s), nodes {second['nvidia_nodes']} -> {'LEAK' if sees else 'isolated'}")
            if sees:
                failures.append("a sandbox given no GPU could see one")
        for warning in dict.fromkeys([*with_gpu.warnings, *without_gpu.warnings]):
            print(f"warning:          {warning}")
    print(f"total:            {time.perf_counter() - started:.1f} s")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
