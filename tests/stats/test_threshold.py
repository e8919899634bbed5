"""Thresholds from dev: max-ua maximises UA (ties nearest 0.5); balanced-logistic is where a
class-balanced logistic fit on the dev log-odds crosses 1/2."""

from __future__ import annotations

import math

import numpy as np
import pytest

from depscreen.stats.threshold import choose_threshold


def test_separable_dev_set_ties_go_nearest_half() -> None:
    # Negatives <= 0.28, positives >= 0.315: UA = 1 for every threshold in (0.28, 0.315],
    # i.e. grid points 0.29, 0.30, 0.31; the nearest to 0.5 is 0.31.
    labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    probs = [0.1, 0.2, 0.25, 0.15, 0.28, 0.32, 0.4, 0.6, 0.35, 0.315]
    assert choose_threshold(labels, probs, rule="max-ua") == 0.31


def test_high_threshold_when_the_dev_set_says_so() -> None:
    # Negatives up to 0.74, positives from 0.83: UA 1 for 0.75 ... 0.83 -> 0.75.
    assert choose_threshold([0, 0, 1, 1], [0.3, 0.74, 0.83, 0.9], rule="max-ua") == 0.75


def test_unique_maximum_is_found() -> None:
    # t in (0.5, 0.6]: preds 0 0 1 1 1 1 -> UA (2/3 + 1) / 2 = 5/6;
    # t in (0.7, 0.8]: preds 0 0 0 0 1 1 -> UA (1 + 2/3) / 2 = 5/6 as well;
    # every other threshold is worse, and of the tied ones 0.51 is nearest 0.5.
    labels = [0, 0, 0, 1, 1, 1]
    probs = [0.1, 0.5, 0.7, 0.6, 0.8, 0.9]
    assert choose_threshold(labels, probs, rule="max-ua") == 0.51
    # Make the second interval strictly better (another positive above 0.8): it wins.
    assert choose_threshold([*labels, 1], [*probs, 0.85], rule="max-ua") == 0.71


def test_half_when_it_is_among_the_best() -> None:
    assert choose_threshold([0, 1], [0.2, 0.8], rule="max-ua") == 0.5


@pytest.mark.parametrize(("labels", "probs"), [([], []), ([1, 1, 1], [0.1, 0.2, 0.9])])
def test_uninformative_dev_set_gives_half(labels: list[int], probs: list[float]) -> None:
    assert choose_threshold(labels, probs, rule="max-ua") == 0.5


@pytest.mark.parametrize("rule", ["balanced-logistic", "max-ua"])
@pytest.mark.parametrize(("labels", "probs"), [([], []), ([0, 0], [0.3, 0.9])])
def test_single_class_dev_set_gives_half_for_every_rule(rule, labels, probs) -> None:
    assert choose_threshold(labels, probs, rule=rule) == 0.5


def test_balanced_logistic_lies_midway_in_log_odds_for_symmetric_classes() -> None:
    # Two negatives at log-odds -1 +- 0.5, two positives at +3 +- 0.5: the fit is symmetric
    # about log-odds 1, so the threshold is sigmoid(1).
    z = np.array([-1.5, -0.5, 2.5, 3.5])
    probs = 1 / (1 + np.exp(-z))
    t = choose_threshold([0, 0, 1, 1], probs)
    assert t == pytest.approx(1 / (1 + math.exp(-1.0)), abs=1e-4)


def test_balanced_logistic_ignores_class_sizes() -> None:
    # Repeating every negative 5 times changes the class ratio, not the balanced fit.
    z_neg, z_pos = np.array([-2.0, -0.4, 0.3]), np.array([-0.2, 0.8, 2.5])
    labels = [0] * 3 + [1] * 3
    probs = 1 / (1 + np.exp(-np.r_[z_neg, z_pos]))
    base = choose_threshold(labels, probs)
    probs5 = 1 / (1 + np.exp(-np.r_[np.repeat(z_neg, 5), z_pos]))
    # e = 1/(N+2) shrinks with N, so the fit moves a little; the class weights cancel the rest.
    assert choose_threshold([0] * 15 + [1] * 3, probs5) == pytest.approx(base, abs=0.02)


def test_balanced_logistic_falls_back_to_max_ua_when_scores_fall_with_the_label() -> None:
    labels = [0, 0, 0, 1, 1, 1]
    probs = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1]
    assert choose_threshold(labels, probs) == choose_threshold(labels, probs, rule="max-ua")


def test_balanced_logistic_is_steadier_than_max_ua_on_small_dev_sets() -> None:
    # 35 dev participants (as in AVEC), scores from the same two Gaussians, many draws:
    # the fitted threshold varies less than the empirical UA maximum.
    rng = np.random.default_rng(0)
    picks = {"balanced-logistic": [], "max-ua": []}
    for _ in range(200):
        labels = np.r_[np.zeros(25, int), np.ones(10, int)]
        z = rng.normal(np.where(labels == 1, 1.5, -1.5), 1.2)
        probs = 1 / (1 + np.exp(-z))
        for rule, out in picks.items():
            out.append(choose_threshold(labels, probs, rule=rule))
    spread = {rule: np.std(np.log(np.array(v) / (1 - np.array(v)))) for rule, v in picks.items()}
    assert spread["balanced-logistic"] < 0.75 * spread["max-ua"]


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown threshold rule"):
        choose_threshold([0, 1], [0.2, 0.8], rule="best-on-test")
