"""PNG plots of a report (needs the ``plots`` extra: matplotlib)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from report_support import N, make_run, outcome_run
from tests_support import import_or_skip

from aira_dsl.report import build_report, collect_runs
from aira_dsl.report.plots import PLOT_FILES, write_plots

import_or_skip("matplotlib", "matplotlib", "plots need matplotlib: pip install 'aira-dsl[plots]'")


def test_plots_are_written_as_pngs(tmp_path: Path) -> None:
    for task in ("t1", "t2"):
        for seed in range(3):
            outcome_run(tmp_path / "runs", f"a-{task}-{seed}", task=task, seed=seed, vv_medal="bronze" if seed else None,
                        vt_medal="gold")
            outcome_run(tmp_path / "runs", f"b-{task}-{seed}", task=task, seed=seed, vv_medal=None, vt_medal=None,
                        spec="agent-b", valid=False)
    make_run(tmp_path / "runs", "empty", [N(0, status="pending")], task="t3", status="interrupted")
    runs, skipped = collect_runs([tmp_path / "runs"])
    paths = write_plots(build_report(runs, n_boot=50, skipped=skipped), tmp_path / "figs")
    assert [p.name for p in paths] == list(PLOT_FILES)
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] > 400 and image.size[1] > 300
