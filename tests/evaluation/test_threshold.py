"""choose_threshold maximises UA on dev; ties go to the threshold nearest 0.5."""

from __future__ import annotations

import pytest

from depscreen.evaluation.threshold import choose_threshold


def test_separable_dev_set_ties_go_nearest_half() -> None:
    # Negatives <= 0.28, positives >= 0.315: UA = 1 for every threshold in (0.28, 0.315],
    # i.e. grid points 0.29, 0.30, 0.31; the nearest to 0.5 is 0.31.
    labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    probs = [0.1, 0.2, 0.25, 0.15, 0.28, 0.32, 0.4, 0.6, 0.35, 0.315]
    assert choose_threshold(labels, probs) == 0.31


def test_high_threshold_when_the_dev_set_says_so() -> None:
    # Negatives up to 0.74, positives from 0.83: UA 1 for 0.75 ... 0.83 -> 0.75.
    assert choose_threshold([0, 0, 1, 1], [0.3, 0.74, 0.83, 0.9]) == 0.75


def test_unique_maximum_is_found() -> None:
    # t in (0.5, 0.6]: preds 0 0 1 1 1 1 -> UA (2/3 + 1) / 2 = 5/6;
    # t in (0.7, 0.8]: preds 0 0 0 0 1 1 -> UA (1 + 2/3) / 2 = 5/6 as well;
    # every other threshold is worse, and of the tied ones 0.51 is nearest 0.5.
    labels = [0, 0, 0, 1, 1, 1]
    probs = [0.1, 0.5, 0.7, 0.6, 0.8, 0.9]
    assert choose_threshold(labels, probs) == 0.51
    # Make the second interval strictly better (another positive above 0.8): it wins.
    assert choose_threshold([*labels, 1], [*probs, 0.85]) == 0.71


def test_half_when_it_is_among_the_best() -> None:
    assert choose_threshold([0, 1], [0.2, 0.8]) == 0.5


@pytest.mark.parametrize(("labels", "probs"), [([], []), ([1, 1, 1], [0.1, 0.2, 0.9])])
def test_uninformative_dev_set_gives_half(labels: list[int], probs: list[float]) -> None:
    assert choose_threshold(labels, probs) == 0.5
