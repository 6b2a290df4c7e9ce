"""The tree layout: leaves on columns, parents centred, depth as the row, robust to odd graphs."""

from __future__ import annotations

import random

from aira_dsl.report import Position, tree_layout


def test_leaves_take_consecutive_columns_and_parents_are_centred() -> None:
    #   0        3
    #  / \       |
    # 1   2      4
    layout = tree_layout([0, 1, 2, 3, 4], [(), (0,), (0,), (), (3,)])
    assert layout == {0: Position(0.5, 0), 1: Position(0, 1), 2: Position(1, 1), 3: Position(2, 0),
                      4: Position(2, 1)}


def test_crossover_hangs_under_its_first_parent() -> None:
    layout = tree_layout([0, 1, 2], [(), (), (1, 0)])
    assert layout[2].y == 1 and layout[2].x == layout[1].x


def test_unknown_parents_make_roots_and_cycles_do_not_hang() -> None:
    layout = tree_layout([5, 6, 7], [(99,), (7,), (6,)])  # 99 is not in the run; 6 <-> 7 is a cycle
    assert set(layout) == {5, 6, 7} and layout[5].y == 0
    assert {layout[6].y, layout[7].y} == {0, 1}


def test_a_5000_step_chain_needs_no_recursion() -> None:
    n = 5000
    layout = tree_layout(list(range(n)), [()] + [(i - 1,) for i in range(1, n)])
    assert layout[n - 1] == Position(0, n - 1)


def test_columns_never_collide_on_a_row() -> None:
    rng = random.Random(1)
    ids = list(range(200))
    parents: list[tuple[int, ...]] = [()] * 3 + [(rng.randrange(i),) for i in range(3, 200)]
    layout = tree_layout(ids, parents)
    rows: dict[int, list[float]] = {}
    for pos in layout.values():
        rows.setdefault(pos.y, []).append(pos.x)
    for xs in rows.values():
        assert len(xs) == len(set(xs))
