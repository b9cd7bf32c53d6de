"""The corrections benchmark: its BCubed F agrees with metrics.py, and the simulated user reaches the target."""

import numpy as np

from photo_grouper.bench.corrections import bcubed_f, simulate
from photo_grouper.clustering.metrics import evaluate


def test_bcubed_matches_the_metrics_module():
    rng = np.random.default_rng(0)
    truth, labels = rng.integers(0, 6, 200), rng.integers(0, 9, 200)
    assert abs(bcubed_f(truth, labels) - evaluate(truth, labels)["fb"]) < 1e-9


def test_a_split_of_sub_groups_is_one_operation_where_flat_needs_one_per_face():
    # Two people, 10 faces each, wrongly joined in one group; the finer level separates them cleanly.
    truth = np.repeat([0, 1], 10)
    joined = np.zeros(20, dtype=int)
    finest = np.repeat([0, 1], 10)
    ops, score, kinds = simulate(truth, joined, finest)
    assert score >= 0.99 and ops == 1 and kinds == {"split": 1}
    ops, score, kinds = simulate(truth, joined, None)
    assert score >= 0.99 and ops == 10 and kinds == {"move": 10}
    # Fragments of one person are joined by merges.
    ops, score, kinds = simulate(np.zeros(9, dtype=int), np.repeat([0, 1, 2], 3), None)
    assert (ops, kinds) == (2, {"merge": 2}) and score == 1.0
