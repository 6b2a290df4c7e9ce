"""Per-execution overhead of the sandboxes against bare ``python3 script.py``.

Runs the same tiny script N times bare (``subprocess.run``), then through each local variant
(bubblewrap / unshare / none, with cgroup or rlimit limits) and, when an engine answers, the
Docker backend (container create → start → wait → remove). Reports the median wall time of each,
its overhead over the bare median and the ratio, all measured in this one process.

Goals: local ≤ 50 ms over bare Python; Docker ≤ 0.6 s per execution.

    python bench/bench_sandbox.py              # 20 runs each
    python bench/bench_sandbox.py -n 50 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aira_dsl.sandbox import Limits, Sandbox, SandboxError, Workspace, create_sandbox, load_profile
from aira_dsl.sandbox.profile import profile_from_data

SCRIPT = b"import sys\nprint('ok', sys.version_info[0])\n"
LIMITS = Limits(wall_time=60, memory_bytes=1 << 30, max_processes=256, file_size_bytes=1 << 30)
VARIANTS = [("bubblewrap", "cgroup"), ("bubblewrap", "rlimit"), ("unshare", "cgroup"), ("unshare", "rlimit"),
            ("none", "cgroup"), ("none", "rlimit")]


def run_bare(script: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, str(script)], cwd=script.parent, capture_output=True, check=True)
    return time.perf_counter() - start


def run_sandboxed(sandbox: Sandbox, workspace: Workspace) -> float:
    start = time.perf_counter()
    result = sandbox.run(workspace, "script.py", LIMITS)
    elapsed = time.perf_counter() - start
    if result.exit_code != 0:
        raise SandboxError(f"benchmark script failed: {result.output[-300:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20, help="runs per variant (default 20)")
    parser.add_argument("--no-docker", action="store_true", help="skip the Docker backend")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="aira-bench-") as tmp:
        root = Path(tmp)
        script = root / "script.py"
        script.write_bytes(SCRIPT)
        candidates: list[tuple[str, Any]] = []
        for isolation, limits in VARIANTS:
            profile = profile_from_data({"backend": "local", "isolation": isolation,
                                         "resource_control": limits}, f"bench-{isolation}-{limits}")
            candidates.append((f"local {isolation} + {limits}", profile))
        if not args.no_docker:
            candidates.append(("docker (create/start/wait/remove)", load_profile("docker-cpu")))
        ready: list[tuple[str, Sandbox, Workspace]] = []
        skipped: dict[str, str] = {}
        for name, profile in candidates:
            try:
                sandbox = create_sandbox(profile, workdir_root=root / "ws")
                workspace = sandbox.prepare(f"bench-{len(ready)}", None, {"script.py": SCRIPT})
                run_sandboxed(sandbox, workspace)  # warm-up: first use probes and caches
            except SandboxError as exc:
                skipped[name] = exc.message
                continue
            ready.append((name, sandbox, workspace))
        # Interleave the variants so that load from other processes affects them all alike.
        samples: dict[str, list[float]] = {"bare python3": []}
        samples.update({name: [] for name, _, _ in ready})
        for _ in range(args.n):
            samples["bare python3"].append(run_bare(script))
            for name, sandbox, workspace in ready:
                samples[name].append(run_sandboxed(sandbox, workspace))
        bare = statistics.median(samples["bare python3"])
        for name, _ in candidates:
            if name in skipped:
                rows.append({"variant": name, "skipped": skipped[name]})
        for name, values in samples.items():
            median = statistics.median(values)
            row: dict[str, Any] = {"variant": name, "median_s": median, "overhead_ms": (median - bare) * 1000,
                                   "ratio": median / bare}
            sandbox_info = next((s.describe() for n, s, _ in ready if n == name), None)
            if sandbox_info:
                row.update(isolation=sandbox_info.get("isolation"), limits_mode=sandbox_info.get("limits_mode"))
            rows.append(row)
        for _, sandbox, workspace in ready:
            sandbox.cleanup(workspace)
    if args.json:
        print(json.dumps({"runs": args.n, "python": sys.executable, "rows": rows}, indent=2))
        return 0
    print(f"{'variant':40} {'median':>10} {'overhead':>10} {'ratio':>7}")
    for row in rows:
        if "skipped" in row:
            print(f"{row['variant']:40} skipped: {row['skipped'][:70]}")
            continue
        print(f"{row['variant']:40} {row['median_s'] * 1000:8.1f}ms {row['overhead_ms']:8.1f}ms {row['ratio']:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
