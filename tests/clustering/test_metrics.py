import math

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from photo_grouper.clustering.metrics import alone, bcubed, evaluate, evaluate_among, nmi, pairwise

# Five items: truth {0,1,2} {3,4}; prediction {0,1} {2,3,4}.
TRUTH = [0, 0, 0, 1, 1]
PRED = ["a", "a", "b", "b", "b"]


def test_pairwise_by_hand():
    # Predicted pairs: (0,1) + (2,3),(2,4),(3,4) = 4; true pairs: 3 + 1 = 4; both: (0,1),(3,4) = 2.
    r = pairwise(TRUTH, PRED)
    assert (r.precision, r.recall) == (0.5, 0.5)
    assert r.f == pytest.approx(0.5)


def test_bcubed_by_hand():
    # Precision per item: 1, 1, 1/3, 2/3, 2/3 -> 11/15. Recall: 2/3, 2/3, 1/3, 1, 1 -> 11/15.
    r = bcubed(TRUTH, PRED)
    assert r.precision == pytest.approx(11 / 15) and r.recall == pytest.approx(11 / 15)
    assert r.f == pytest.approx(11 / 15)


def test_nmi_by_hand():
    # H(truth) = H(pred) = h(2/5); I = sum p_ij log(p_ij / (p_i p_j)) over cells (0,a)=2, (0,b)=1, (1,b)=2.
    h = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    i = (0.4 * math.log(0.4 / (0.6 * 0.4)) + 0.2 * math.log(0.2 / (0.6 * 0.6))
         + 0.4 * math.log(0.4 / (0.4 * 0.6)))
    assert nmi(TRUTH, PRED) == pytest.approx(i / h)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 7, 300), rng.integers(0, 11, 300)
    assert nmi(a, b) == pytest.approx(normalized_mutual_info_score(a, b))


def test_extremes():
    truth = [0, 0, 1, 1]
    assert evaluate(truth, [5, 5, 9, 9])["fp"] == 1.0 and evaluate(truth, [5, 5, 9, 9])["nmi"] == 1.0
    singletons = pairwise(truth, [0, 1, 2, 3])
    assert (singletons.precision, singletons.recall, singletons.f) == (1.0, 0.0, 0.0)
    one = bcubed(truth, [0, 0, 0, 0])
    assert (one.precision, one.recall) == (0.5, 1.0)
    assert evaluate(truth, [0, 1, 2, 3])["clusters"] == 4


def test_lengths_must_match():
    with pytest.raises(ValueError, match="differ in length"):
        pairwise([0, 1], [0])


def test_evaluate_among_by_hand():
    # Focus people a and b clustered among x: groups {a,a} {b} {b,x} {x}.
    truth = ["a", "a", "b", "b", "x", "x"]
    pred = [1, 1, 2, 3, 3, 4]
    r = evaluate_among(truth, pred, {"a", "b"})
    # Pairs with a focus item: (a,a) and (b,x) -> 2, of which (a,a) is true; true focus pairs: (a,a), (b,b).
    assert (r["pp"], r["rp"], r["fp"]) == (0.5, 0.5, 0.5)
    # BCubed over the four focus items: precision 1, 1, 1, 1/2 -> 7/8 (the b beside x pays for the x);
    # recall 1, 1, 1/2, 1/2 -> 3/4.
    assert r["pb"] == pytest.approx(7 / 8) and r["rb"] == pytest.approx(3 / 4)
    assert r["fb"] == pytest.approx(2 * (7 / 8) * (3 / 4) / (7 / 8 + 3 / 4))
    assert r["clusters"] == 3
    # Two more photos of x, together or apart: the same scores (only the focus people are scored).
    for more in ([7, 7], [7, 8]):
        assert evaluate_among(truth + ["x", "x"], pred + more, {"a", "b"}) == r


def test_evaluate_among_everyone_is_evaluate():
    rng = np.random.default_rng(1)
    truth, pred = rng.integers(0, 9, 200), rng.integers(0, 13, 200)
    whole, among = evaluate(truth, pred), evaluate_among(truth, pred, set(range(9)))
    for key in ("fp", "pp", "rp", "fb", "pb", "rb", "clusters"):
        assert among[key] == pytest.approx(whole[key])
    with pytest.raises(ValueError, match="no item"):
        evaluate_among(truth, pred, {"nobody"})


def test_alone_is_the_share_of_people_seen_once_left_in_a_group_of_their_own():
    # s, t and u are seen once: s alone, t with a's photos, u with v (also seen once), so 1 of 4 people seen once.
    truth = ["a", "a", "s", "t", "u", "v", "b", "b"]
    pred = [1, 1, 2, 1, 3, 3, 4, 5]  # b's two photos apart do not count: b is seen twice
    assert alone(truth, pred) == pytest.approx(1 / 4)
    assert alone(truth, list(range(len(truth)))) == 1.0
    assert alone(["a", "a", "b", "b"], [1, 1, 2, 3]) is None  # nobody seen once: nothing to say
