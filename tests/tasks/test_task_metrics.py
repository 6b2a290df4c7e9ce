"""Every named metric against values computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from aira_dsl.tasks.metrics import average_precision_at_k, get_metric, metric_names, suggest_metric


def score(name: str, truth: list[object] | dict[str, list[object]], pred: list[object] | dict[str, list[object]],
          params: dict[str, str] | None = None) -> float:
    metric = get_metric(name)
    assert metric is not None
    t = pd.DataFrame(truth if isinstance(truth, dict) else {"y": truth})
    p = pd.DataFrame(pred if isinstance(pred, dict) else {"y": pred})
    return metric(t, p, params)


def test_accuracy() -> None:
    # 3 of 4 labels right
    assert score("accuracy", ["a", "b", "a", "c"], ["a", "b", "b", "c"]) == pytest.approx(0.75)


def test_accuracy_averages_several_target_columns() -> None:
    # column u: 2/2 right, column v: 1/2 right -> (1 + 0.5) / 2
    value = score("accuracy", {"u": [1, 2], "v": [3, 4]}, {"u": [1, 2], "v": [3, 3]})
    assert value == pytest.approx(0.75)


def test_balanced_accuracy() -> None:
    # recall per class: a 1/2, b 1/1, c 1/1 -> mean 5/6
    assert score("balanced_accuracy", ["a", "b", "a", "c"], ["a", "b", "b", "c"]) == pytest.approx(5 / 6)


def test_macro_f1() -> None:
    # a: P=1/1 R=1/2 F1=2/3; b: P=1/2 R=1/1 F1=2/3; c: F1=1 -> mean 7/9
    assert score("macro_f1", ["a", "b", "a", "c"], ["a", "b", "b", "c"]) == pytest.approx(7 / 9)


def test_quadratic_weighted_kappa() -> None:
    # O: (0,0),(1,2),(2,2); w=(i-j)^2/4; sum wO = 1/4; E rows = [1,0,2]/3, sum wE = 2/3+1/4+1/3 = 5/4
    # kappa = 1 - (1/4)/(5/4) = 0.8
    assert score("quadratic_weighted_kappa", [0, 1, 2], [0, 2, 2]) == pytest.approx(0.8)
    assert score("qwk", [0, 1, 2], [0, 1, 2]) == pytest.approx(1.0)


def test_roc_auc_binary() -> None:
    # positives 0.35, 0.8; negatives 0.1, 0.4: pairs won 0.35>0.1, 0.8>0.1, 0.8>0.4 -> 3/4
    assert score("roc_auc", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


MULTI_TRUTH = {"c0": [1, 0, 0, 1], "c1": [0, 1, 0, 0], "c2": [0, 0, 1, 0]}
MULTI_SCORES = {"c0": [0.9, 0.2, 0.3, 0.4], "c1": [0.05, 0.5, 0.6, 0.3], "c2": [0.05, 0.3, 0.1, 0.3]}


def test_roc_auc_multiclass_macro_and_weighted() -> None:
    # per column: c0 pos {.9,.4} vs neg {.2,.3}: 1; c1 pos .5 vs {.05,.6,.3}: 2/3; c2 pos .1 vs {.05,.3,.3}: 1/3
    assert score("roc_auc", MULTI_TRUTH, MULTI_SCORES) == pytest.approx(2 / 3)
    # weighted by support 2,1,1: (2*1 + 2/3 + 1/3) / 4
    assert score("roc_auc", MULTI_TRUTH, MULTI_SCORES, {"average": "weighted"}) == pytest.approx(0.75)


def test_roc_auc_multilabel_macro_and_micro() -> None:
    truth = {"l0": [1, 0, 1, 0], "l1": [0, 1, 1, 0]}
    scores = {"l0": [0.9, 0.2, 0.7, 0.3], "l1": [0.1, 0.8, 0.35, 0.4]}
    # l0: pos {.9,.7} > neg {.2,.3}: 1; l1: pos {.8,.35} vs neg {.1,.4}: 3/4 -> macro 7/8
    assert score("roc_auc", truth, scores) == pytest.approx(0.875)
    # micro: pos {.9,.7,.8,.35} vs neg {.2,.3,.1,.4}: 15 of 16 pairs (only .35 < .4)
    assert score("roc_auc", truth, scores, {"average": "micro"}) == pytest.approx(15 / 16)


def test_roc_auc_one_vs_one_perfect_separation() -> None:
    truth = {"a": [1, 0, 0], "b": [0, 1, 0], "c": [0, 0, 1]}
    probs = {"a": [0.8, 0.1, 0.1], "b": [0.1, 0.8, 0.1], "c": [0.1, 0.1, 0.8]}
    assert score("roc_auc", truth, probs, {"multi_class": "ovo"}) == pytest.approx(1.0)


def test_log_loss_binary() -> None:
    # -(ln 0.8 + ln 0.6) / 2
    expected = -(math.log(0.8) + math.log(0.6)) / 2
    assert score("log_loss", [1, 0], [0.8, 0.4]) == pytest.approx(expected)


def test_log_loss_multiclass_rescales_rows() -> None:
    truth = {"a": [1, 0], "b": [0, 1], "c": [0, 0]}
    expected = -(math.log(0.7) + math.log(0.5)) / 2
    assert score("log_loss", truth, {"a": [0.7, 0.25], "b": [0.2, 0.5], "c": [0.1, 0.25]}) == pytest.approx(expected)
    # rows that do not sum to one are rescaled first: halving row 1 changes nothing
    assert score("log_loss", truth, {"a": [0.35, 0.25], "b": [0.1, 0.5], "c": [0.05, 0.25]}) == pytest.approx(expected)


def test_log_loss_clips_certain_mistakes() -> None:
    # p(true class) = 0 is clipped to 1e-15: -ln(1e-15) = 34.5388
    assert score("log_loss", [1], [0.0]) == pytest.approx(-math.log(1e-15), rel=1e-6)


def test_rmse() -> None:
    # errors 1, 0, 2 -> sqrt(5/3)
    assert score("rmse", [1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3))


def test_rmsle() -> None:
    # log1p: truth [0, 1], predictions [1, 1] -> sqrt(1/2)
    assert score("rmsle", [0, math.e - 1], [math.e - 1, math.e - 1]) == pytest.approx(math.sqrt(0.5))


def test_mae() -> None:
    assert score("mae", [1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)


def test_map_at_k() -> None:
    # row 1: hit at rank 2 -> 1/2; row 2: hits at 1 and 2 -> (1 + 1) / 2; row 3: none -> mean 0.5
    value = score("map@3", ["a", "a b", "c"], ["b a c", "a b c", "x y z"])
    assert value == pytest.approx(0.5)


def test_map_at_k_ignores_repeated_predictions_and_cuts_at_k() -> None:
    # 'a' counted once: 1/1 at rank 1, 'b' at rank 3 -> 2/3; over min(2, 3) = 2
    assert average_precision_at_k(["a", "b"], ["a", "a", "b"], 3) == pytest.approx((1 + 2 / 3) / 2)
    # the hit at rank 2 falls outside k=1
    assert average_precision_at_k(["a"], ["b", "a"], 1) == 0.0
    assert average_precision_at_k([], ["a"], 3) == 0.0


@pytest.mark.parametrize(("name", "direction"), [
    ("accuracy", "maximize"), ("balanced_accuracy", "maximize"), ("roc_auc", "maximize"),
    ("log_loss", "minimize"), ("rmse", "minimize"), ("rmsle", "minimize"), ("mae", "minimize"),
    ("macro_f1", "maximize"), ("quadratic_weighted_kappa", "maximize"), ("map@5", "maximize"),
])
def test_directions(name: str, direction: str) -> None:
    metric = get_metric(name)
    assert metric is not None and metric.direction == direction


def test_lookup_is_forgiving_about_case_and_aliases_and_suggests_names() -> None:
    assert get_metric("AUC") is get_metric("roc_auc")
    assert get_metric("map@0") is None
    assert get_metric("nonsense") is None
    assert suggest_metric("acuracy") == "accuracy"
    assert "map@k" in metric_names()
