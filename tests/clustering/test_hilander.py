import numpy as np
import pytest

from photo_grouper.clustering.graph import build_level_graph
from photo_grouper.clustering.decode import (cut_lone_leaves, cut_weak_joins, decode, group_similarity, peak_forest,
                                             roots_of)
from photo_grouper.clustering.evidence import LinkEvidence, agreement
from photo_grouper.clustering.hilander import HiLander, next_nodes, tau_band
from photo_grouper.clustering.weights import load_weights, save_weights
from photo_grouper.clustering.knn import l2_normalise
from photo_grouper.clustering.metrics import evaluate
from photo_grouper.progress import NO_METER

from ..conftest import cancelled_at
from photo_grouper.clustering.training import (
    TrainConfig,
    ground_truth_levels,
    learn_join_floor,
    pick_tau,
    predicted_levels,
    seen_once,
    train,
    train_lander,
)


def _identities(n_ids, seed, dim=32, spread=0.55):
    """Synthetic 'people': a centre each, 2 to 20 photos scattered around it."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 21, n_ids)
    centres = rng.standard_normal((n_ids, dim))
    x = np.concatenate([c + spread * rng.standard_normal((s, dim)) for c, s in zip(centres, sizes)])
    return x.astype(np.float32), np.repeat(np.arange(n_ids), sizes)


SMALL = TrainConfig(hidden=32, episodes=6, epochs=8, optimizer="adam", lr=3e-3, node_input="profile",
                    tau_grid=(0.5, 0.7, 0.9))


@pytest.fixture(scope="module")
def trained():
    x, y = _identities(30, seed=1)
    return train(x, y, SMALL)


def test_peak_forest_picks_best_kept_edge():
    edge_index = np.array([[1, 2, 3, 0], [0, 0, 0, 1]])
    score = np.array([0.6, 0.9, 0.7, 0.8])
    keep = np.array([True, True, False, False])
    parent = peak_forest(edge_index, score, keep, 4)
    assert parent.tolist() == [2, 1, 2, 3]
    assert roots_of(np.array([1, 2, 2, 0])).tolist() == [2, 2, 2, 2]


def test_ground_truth_levels_are_pure_and_shrink():
    x, y = _identities(12, seed=3)
    levels = ground_truth_levels(x, y, 5)
    assert len(levels) >= 2
    sizes = [g.num_nodes for g, _ in levels]
    assert sizes[0] == len(y) and all(a > b for a, b in zip(sizes, sizes[1:]))
    assert sizes[-1] >= 12  # never fewer nodes than identities: merges stay within a label


def test_training_learns_and_generalises(trained):
    result = trained
    assert result.losses[-1] < 0.7 * result.losses[0]
    x, y = _identities(25, seed=99)  # people never seen in training
    labels = HiLander(k=10, tau=result.tau, model=result.model).fit_predict(x)
    learned = evaluate(y, labels)["fp"]
    random = evaluate(y, np.random.default_rng(0).integers(0, len(np.unique(y)), len(y)))["fp"]
    assert learned > 0.8 and learned > random + 0.5, (learned, random)
    assert result.tau in SMALL.tau_grid and set(result.tau_scores) == set(SMALL.tau_grid)


def test_predicted_levels_are_the_levels_inference_builds(trained):
    x, y = _identities(15, seed=11)  # people the model never saw
    graphs = predicted_levels(trained.model, x, y, 10, trained.tau)
    h = HiLander(k=10, tau=trained.tau, model=trained.model, early_stop=False).fit(x)
    assert graphs and [g.num_nodes for g, _ in graphs] == [int(lv.max()) + 1 for lv in h.levels_][:len(graphs)]
    for (g, labels), level in zip(graphs, h.levels_):
        # Each supernode carries the identity most of its photos have.
        majority = [np.bincount(y[level == c]).argmax() for c in range(g.num_nodes)]
        assert labels.tolist() == majority


def test_training_cross_validates_tau_over_folds_in_two_stages():
    import dataclasses

    x, y = _identities(16, seed=12)
    cfg = dataclasses.replace(SMALL, episodes=3, epochs=2, folds=4, predicted_episodes=2)
    stages = []
    result = train(x, y, cfg, progress=lambda what, done, total: stages.append(what))
    assert sorted(v for fold in result.folds for v in fold) == sorted(str(v) for v in np.unique(y))
    assert len(result.folds) == 4 and set(result.tau_scores) == set(cfg.tau_grid)
    assert result.validation == result.tau_scores[result.tau]
    assert any("model set 9/9" in what for what in stages)  # 4 first-stage, 4 second-stage, the final one

    # Few labels: as many folds as hold two labels each; fewer than four labels cannot be cross-validated.
    few = np.isin(y, np.arange(6))
    assert len(train(x[few], y[few], dataclasses.replace(cfg, predicted_episodes=0)).folds) == 3
    with pytest.raises(ValueError, match="too few"):
        train(x[y < 3], y[y < 3], cfg)


def test_validation_with_training_scores_each_fold_among_its_training_people():
    import dataclasses

    from photo_grouper.clustering.metrics import evaluate_among

    x, y = _identities(12, seed=13)
    cfg = dataclasses.replace(SMALL, episodes=3, epochs=2, folds=3, validation="with_training")
    seen = []
    result = train(x, y, cfg, fold_hook=lambda f, model, val: seen.append((f, model, val)))
    assert [f for f, _, _ in seen] == [0, 1, 2]
    for (f, model, val), curve in zip(seen, result.fold_scores):
        assert sorted(np.unique(y[val]).astype(str)) == sorted(result.folds[f])
        # Every photo of the training set is clustered; only the fold's people are scored.
        pred = HiLander(k=cfg.infer_k, tau=0.7, model=model, device="cpu").fit_predict(x)
        assert curve[0.7] == evaluate_among(y, pred, np.unique(y[val]))
    with pytest.raises(ValueError, match="unknown validation"):
        train(x, y, dataclasses.replace(cfg, validation="nearby"))


def test_pick_tau_takes_the_best_mean_over_folds():
    def folds(*curves):  # per tau, the score of each fold
        return [{t: {"fp": c[i], "fb": c[i]} for t, c in curves} for i in range(len(curves[0][1]))]

    # 0.8 wins on the mean although 0.9 wins on one fold.
    assert pick_tau(folds((0.7, [0.90, 0.92]), (0.8, [0.94, 0.96]), (0.9, [0.97, 0.90]))) == 0.8
    assert pick_tau(folds((0.7, [0.9]), (0.8, [0.8]))) == 0.7


def test_hierarchy_invariants(trained):
    x, _ = _identities(40, seed=5)
    h = HiLander(k=10, tau=trained.tau, model=trained.model, early_stop=False).fit(x)
    n = len(x)
    assert np.array_equal(h.labels_, h.levels_[-1])
    for level, peaks in zip(h.levels_, h.peaks_):
        assert level.shape == (n,)  # every input once per level, singletons kept
        assert np.array_equal(np.unique(level), np.arange(level.max() + 1))
        assert peaks.shape == (level.max() + 1,) and np.array_equal(level[peaks], np.arange(len(peaks)))
    for fine, coarse, parent in zip(h.levels_, h.levels_[1:], h.parents_):
        assert np.array_equal(parent[fine], coarse)  # each level coarsens the one before
        assert coarse.max() < fine.max()


def test_inference_is_deterministic_and_needs_no_labels(trained):
    x, _ = _identities(20, seed=8)
    a = HiLander(tau=trained.tau, model=trained.model).fit_predict(x)
    b = HiLander(tau=trained.tau, model=trained.model).fit_predict(x)
    assert np.array_equal(a, b)
    assert HiLander(model=trained.model).fit_predict(x[:1]).tolist() == [0]


@pytest.mark.parametrize("options", [{}, {"near_copy": 0.99}, {"tau_search": True}, {"join_floor": 0.0},
                                     {"zoom_out": 2, "join_floor": 0.5}])
@pytest.mark.parametrize("method", ["exact", "cells", "hnsw"])
def test_fit_reports_progress_to_the_end_and_stops_when_cancelled(trained, monkeypatch, options, method):
    import threading

    from photo_grouper.clustering import cells, knn
    from photo_grouper.progress import Cancelled

    if method != "exact":  # the search a large library gets: in cells of 100 items ...
        monkeypatch.setattr(knn, "EXACT_MAX_N_CPU", 10)
        monkeypatch.setattr(cells, "CELL_SIZE", 100)
    if method == "hnsw":  # ... or, where their recall falls short, with hnswlib, in chunks of 50 items
        monkeypatch.setattr(cells, "CELL_MIN_RECALL", 1.01)
        monkeypatch.setattr(knn, "HNSW_CHUNK_NUMBERS", 50 * 32)
    x, _ = _identities(40, seed=8)
    heard = []
    plain = HiLander(tau=trained.tau, model=trained.model, **options).fit(x)
    h = HiLander(tau=trained.tau, model=trained.model, **options).fit(
        x, progress=lambda done, total: heard.append((done, total)))
    if method != "hnsw":  # hnswlib's threads make its graph vary a little from run to run
        assert all(np.array_equal(a, b) for a, b in zip(h.levels_, plain.levels_))  # reporting changes nothing
    done = [d for d, _ in heard]
    assert heard[0] == (0, 1000) and heard[-1] == (1000, 1000) and {t for _, t in heard} == {1000}
    assert done == sorted(done) and len(set(done)) >= 5

    flag = threading.Event()

    def cancel_halfway(done, total):
        if done >= 300:
            flag.set()

    with pytest.raises(Cancelled):
        HiLander(tau=trained.tau, model=trained.model, **options).fit(x, progress=cancel_halfway, cancel=flag)


def test_progress_only_rises_when_near_copies_leave_too_few_items_for_the_first_search(trained, monkeypatch):
    from photo_grouper.clustering import knn

    monkeypatch.setattr(knn, "EXACT_MAX_N_CPU", 10)  # hnswlib, reporting every 5 items
    monkeypatch.setattr(knn, "HNSW_CHUNK_NUMBERS", 5 * 32)
    x, _ = _identities(4, seed=8)
    x = l2_normalise(x[:20])
    rng = np.random.default_rng(0)
    copies = x[rng.integers(0, 20, 28)] + 0.001 * rng.standard_normal((28, x.shape[1])).astype(np.float32)
    heard = []
    h = HiLander(tau=trained.tau, model=trained.model, near_copy=0.99).fit(
        np.concatenate([x, l2_normalise(copies)]), progress=lambda done, total: heard.append(done))
    assert h.copies_ == 28  # 20 items left: level 0 searches again with a smaller k
    assert heard == sorted(heard) and heard[-1] == 1000


@pytest.mark.parametrize("noise, near_copy", [(0.0, None), (0.005, 0.99)])
def test_copies_share_a_group_and_the_rest_is_grouped_as_without_them(trained, noise, near_copy):
    """A photo kept twice gives the same descriptor twice (saved again: nearly the same): the copies are
    clustered once, through the first of them, and share its group."""
    x, _ = _identities(40, seed=7, spread=0.8)
    rng = np.random.default_rng(0)
    copied = rng.choice(len(x), 12, replace=False)
    extra = np.repeat(copied, rng.integers(1, 15, copied.size))  # 1 to 14 more copies each
    order = rng.permutation(len(x) + extra.size)  # copies anywhere in the input
    source = np.concatenate([np.arange(len(x)), extra])[order]  # row of x that each input row copies
    given = x[source] + noise * np.linalg.norm(x, axis=1).mean() * rng.standard_normal((len(source), x.shape[1]))
    first = np.unique(source, return_index=True)[1]  # the first copy of each row of x, in x's order
    alone = HiLander(tau=trained.tau, model=trained.model, early_stop=False).fit(given[first])
    both = HiLander(tau=trained.tau, model=trained.model, early_stop=False, near_copy=near_copy).fit(given)
    assert len(both.levels_) == len(alone.levels_) and len(both.levels_) > 1
    assert both.copies_ == len(given) - len(x) and alone.copies_ == 0
    for level, peaks, plain in zip(both.levels_, both.peaks_, alone.levels_):
        assert all(len(np.unique(level[source == i])) == 1 for i in copied)  # copies together at every level
        assert evaluate(plain, level[first])["fp"] == 1.0 and level.max() == plain.max()  # the same partition
        assert np.array_equal(level[peaks], np.arange(len(peaks)))
        assert np.isin(peaks, first).all()  # a group's representative is the first copy of its peak
    for fine, coarse, parent in zip(both.levels_, both.levels_[1:], both.parents_):
        assert np.array_equal(parent[fine], coarse)
    same = HiLander(tau=trained.tau, model=trained.model, near_copy=near_copy).fit(np.repeat(given[:1], 40, axis=0))
    assert same.labels_.tolist() == [0] * 40 and same.peaks_[-1].tolist() == [0]
    if near_copy is not None:  # without it, near copies stay items of their own
        assert HiLander(tau=trained.tau, model=trained.model).fit(given).copies_ == 0
    searched = HiLander(tau=trained.tau, model=trained.model, near_copy=near_copy, tau_search=True).fit(given)
    assert searched.agreement_ and all(len(np.unique(searched.labels_[source == i])) == 1 for i in copied)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_embeddings_that_are_not_finite_are_refused_with_a_clear_message(trained, bad):
    x, _ = _identities(5, seed=3)
    x[4, 2] = bad
    with pytest.raises(ValueError, match=r"1 row\(s\) hold NaN or infinity \(the first: \[4\]\)"):
        HiLander(model=trained.model, tau=trained.tau).fit(x)
    with pytest.raises(ValueError, match="2-D"):
        HiLander(model=trained.model).fit(x[0])


def test_weights_round_trip(trained, tmp_path):
    path = tmp_path / "w.pt"
    save_weights(trained.model, path, {"tau": trained.tau, "encoder": "synthetic"})
    model, card = load_weights(path)
    assert card["tau"] == trained.tau
    x, _ = _identities(10, seed=4)
    a = HiLander(weights=path).fit_predict(x)
    b = HiLander(model=trained.model, tau=trained.tau).fit_predict(x)
    assert np.array_equal(a, b)


def test_weights_are_written_whole_or_not_at_all_and_damaged_ones_say_so(trained, tmp_path, monkeypatch):
    from photo_grouper.clustering import WeightsError, weights

    path = tmp_path / "w.pt"
    save_weights(trained.model, path, {"tau": 0.5})
    before = path.read_bytes(), path.with_suffix(".json").read_text()
    real_save = weights.torch.save

    def full_disk(obj, target):
        real_save(obj, target)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(weights.torch, "save", full_disk)
    with pytest.raises(OSError):
        save_weights(trained.model, path, {"tau": 0.9})
    assert (path.read_bytes(), path.with_suffix(".json").read_text()) == before  # the earlier file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.json", "w.pt"]  # nothing half-written left
    assert load_weights(path)[1] == {"tau": 0.5}

    path.write_bytes(path.read_bytes()[:1000])  # cut short
    with pytest.raises(WeightsError, match="w.pt"):
        load_weights(path)
    with pytest.raises(FileNotFoundError):
        load_weights(tmp_path / "none.pt")


def test_training_is_deterministic():
    x, y = _identities(10, seed=2)
    cfg = TrainConfig(hidden=16, episodes=3, epochs=2, optimizer="adam", lr=3e-3, node_input="profile")
    m1, l1 = train_lander(x, y, cfg)
    m2, l2 = train_lander(x, y, cfg)
    assert l1 == l2


@pytest.mark.parametrize("once", [(0.0, 0.0), (0.5, 0.5)])
def test_episodes_keep_a_share_of_their_people_to_one_photo(monkeypatch, once):
    from photo_grouper.clustering import training

    shown = []
    monkeypatch.setattr(training, "ground_truth_levels", lambda x, y, k, **kw: shown.append((x, y)) or [])
    rng = np.random.default_rng(4)
    y = np.repeat(np.arange(20), 20)  # 20 photos each: a random 60% never leaves one by chance
    x = rng.standard_normal((len(y), 8)).astype(np.float32)
    cfg = TrainConfig(episodes=12, once_fraction=once)
    training._episodes(x, y, cfg, np.random.default_rng(5))
    assert len(shown) == 12
    for e, (ex, ey) in enumerate(shown):
        for row, label in zip(ex, ey):  # photos kept whole, with their person
            assert label == y[np.flatnonzero((x == row).all(axis=1))[0]]
        names, counts = np.unique(ey, return_counts=True)
        if e < len(cfg.k_values):  # the whole set, at each k
            assert len(ey) == len(y)
        elif once[1] > 0:
            assert (counts == 1).sum() == round(0.5 * len(names))
        else:
            assert (counts > 1).all()


def test_added_episodes_draw_a_few_labels_of_the_second_set_and_never_all(monkeypatch):
    from photo_grouper.clustering import training

    shown = []
    monkeypatch.setattr(training, "ground_truth_levels", lambda x, y, k, **kw: shown.append((x, y, k)) or [])
    rng = np.random.default_rng(6)
    y = np.repeat([f"p{i}" for i in range(40)], 10)
    x = rng.standard_normal((len(y), 8)).astype(np.float32)
    cfg = TrainConfig(added_episodes=9, added_labels=(3, 6))
    training.added_episodes((x, y), cfg)
    assert [k for _, _, k in shown] == [10, 5, 3] * 3  # every k in turn, from the first episode on
    for ex, ey, _ in shown:
        assert 3 <= len(np.unique(ey)) <= 6 and len(ey) <= 60  # a few labels, never the whole set
        assert set(ey) <= set(y)
    # Drawn from their own seed: the same each time, so the first set's draws are untouched by them.
    again = []
    monkeypatch.setattr(training, "ground_truth_levels", lambda x, y, k, **kw: again.append(y) or [])
    training.added_episodes((x, y), cfg)
    assert all(np.array_equal(a, b) for a, (_, b, _) in zip(again, shown))


def test_training_with_an_added_set_keeps_tau_and_floor_to_the_first():
    import dataclasses

    import torch

    x, y = _identities(16, seed=8)
    other_x, other_y = _identities(24, seed=9)
    cfg = dataclasses.replace(SMALL, episodes=3, epochs=2, added_episodes=3, added_labels=(4, 8))
    alone, folds_seen = train(x, y, cfg), []
    both = train(x, y, cfg, added=(other_x, other_y), fold_hook=lambda f, model, val: folds_seen.append(val.sum()))
    # The added labels are never cross-validated: the folds and the floor are the first set's.
    assert both.folds == alone.folds and both.join_floor == alone.join_floor
    assert folds_seen == [np.isin(y.astype(str), f).sum() for f in alone.folds]  # scored on the first set only
    assert both.train_labels == alone.train_labels
    # But every model learned from them too.
    assert not all(torch.equal(a, b) for a, b in zip(alone.model.state_dict().values(),
                                                      both.model.state_dict().values()))


def test_ensemble_averages_seeds_and_round_trips(tmp_path):
    import dataclasses

    import torch

    from photo_grouper.clustering.graph import build_level_graph
    from photo_grouper.clustering.lander import LanderEnsemble

    x, y = _identities(20, seed=5)
    cfg = dataclasses.replace(SMALL, episodes=3, epochs=2, ensemble=2)
    result = train(x, y, cfg)
    assert isinstance(result.model, LanderEnsemble) and len(result.model.members) == 2
    # Members come from different seeds, and the ensemble's probability is their mean.
    g, _ = build_level_graph(x, x, 5)
    with torch.inference_mode():
        probs = [torch.softmax(m(g)[0], -1)[:, 1] for m in result.model.members]
        mean = torch.softmax(result.model(g)[0], -1)[:, 1]
    assert not torch.equal(probs[0], probs[1])
    torch.testing.assert_close(mean, (probs[0] + probs[1]) / 2)

    path = tmp_path / "ensemble.pt"
    save_weights(result.model, path, {"tau": result.tau})
    loaded, _ = load_weights(path)
    assert isinstance(loaded, LanderEnsemble)
    test_x, _ = _identities(8, seed=6)
    assert np.array_equal(HiLander(weights=path).fit_predict(test_x),
                          HiLander(model=result.model, tau=result.tau).fit_predict(test_x))


def test_k_is_capped_on_levels_with_few_nodes():
    h = HiLander(k=10)
    assert [h._level_k(m) for m in (2, 8, 20, 40, 1000)] == [3, 3, 5, 10, 10]
    # A level of 5 nodes still runs (kNN returns at most m - 1 neighbours).
    x, _ = _identities(5, seed=9)
    assert len(HiLander(k=10).fit_predict(x)) == len(x)


def test_agreement_sums_log_odds_of_links_inside_groups():
    x = np.eye(4, dtype=np.float32)[[0, 0, 1, 1]] + 0.01 * np.arange(4)[:, None]
    g, _ = build_level_graph(x, x, 2)  # each item's neighbours: its twin and one of the other pair
    src, dst = g.edge_index.numpy()
    assert len(src) == 8 and (src // 2 == dst // 2).sum() == 4
    prob = np.where(src // 2 == dst // 2, 0.9, 0.2).astype(np.float32)
    assert agreement(g, prob, np.array([0, 0, 1, 1])) == pytest.approx(4 * np.log(9))
    assert agreement(g, prob, np.arange(4)) == 0.0  # no link inside a group
    # Joining the pairs adds the four links between them, which speak against it (log-odds log 0.25 each).
    assert agreement(g, prob, np.zeros(4, int)) == pytest.approx(4 * np.log(9) + 4 * np.log(0.25))
    # Undecided at 0.8 instead of 0.5: a link of p 0.9 speaks for a join by log 9 - log 4 only.
    assert agreement(g, prob, np.array([0, 0, 1, 1]), boundary=0.8) == pytest.approx(4 * (np.log(9) - np.log(4)))


def test_link_evidence_sums_the_first_level_links_between_two_groups():
    x = np.eye(4, dtype=np.float32)[[0, 0, 1, 1]] + 0.01 * np.arange(4)[:, None]
    g, _ = build_level_graph(x, x, 2)  # each item's neighbours: its twin and one of the other pair
    src, dst = g.edge_index.numpy()
    prob = np.where(src // 2 == dst // 2, 0.9, 0.2).astype(np.float32)
    evidence = LinkEvidence(g, prob, boundary=0.5)
    pairs = np.array([[0, 1, 0], [1, 0, 0]])  # groups 0-1 both ways, and a group with itself
    between = evidence.between(np.array([0, 0, 1, 1]), pairs)
    # The four links between the pairs, each log(0.2 / 0.8); none inside a group counts.
    assert between == pytest.approx([4 * np.log(0.25), 4 * np.log(0.25), 0.0])
    assert evidence.allows(np.array([0, 0, 1, 1]), pairs).tolist() == [False, False, True]
    # It is the change the join makes to agreement.
    joined, apart = agreement(g, prob, np.zeros(4, int)), agreement(g, prob, np.array([0, 0, 1, 1]))
    assert between[0] == pytest.approx(joined - apart)
    # Groups with no link between them: no objection. Four groups of one: each pair's own links.
    assert LinkEvidence(g, prob, 0.5).between(np.arange(4), np.array([[0], [1]])) == pytest.approx([2 * np.log(9)])
    assert LinkEvidence(g, np.full_like(prob, 0.9), 0.5).between(np.array([0, 1, 2, 2]), np.array([[0], [1]])) \
        == pytest.approx([2 * np.log(9)])
    # A boundary of 0.95: even the 0.9 links speak against a join.
    assert not LinkEvidence(g, prob, 0.95).allows(np.arange(4), np.array([[0], [1]]))[0]


def _evidence(links: dict[tuple[int, int], float]) -> LinkEvidence:
    """Evidence made directly: one link per pair of items, with the given log-odds term."""
    e = LinkEvidence.__new__(LinkEvidence)
    e.src = np.array([a for a, _ in links], np.int32)
    e.dst = np.array([b for _, b in links], np.int32)
    e.terms = np.array(list(links.values()), np.float32)
    return e


def test_evidence_merge_joins_greedily_while_agreement_rises():
    # Groups 0-1 agree (+5), 1-2 agree less (+3), but 0-2 disagree (-10): after 0 and 1 join, 2 would lower it.
    e = _evidence({(0, 1): 5.0, (1, 2): 3.0, (0, 2): -10.0})
    assert e.merge(np.array([0, 1, 2])).tolist() == [0, 0, 1]
    # Sums add up: two links of +1 and one of -1.5 between the same groups make +0.5, a join.
    e = _evidence({(0, 2): 1.0, (1, 3): 1.0, (0, 3): -1.5, (4, 5): -0.1})
    merged = e.merge(np.array([0, 0, 1, 1, 2, 3]))  # items 0, 1 in group 0; 2, 3 in group 1
    assert merged[0] == merged[1] and len(set(merged.tolist())) == 3
    # Nothing speaks for a join: nothing changes; links inside a group count for nothing.
    assert e.merge(np.array([0, 1, 0, 1, 2, 3])).tolist() == [0, 1, 2, 3]
    # Pairs far apart join independently, the largest first, and a third joins the whole only if the sum with
    # the whole is positive (+2 with one part, -1 with the other: +1).
    e = _evidence({(0, 1): 4.0, (2, 3): 2.0, (1, 2): 2.0, (0, 2): -1.0})
    assert e.merge(np.array([0, 1, 2, 3])).tolist() == [0, 0, 0, 0]


def _greedy_merge(e: LinkEvidence, labels: np.ndarray, x=None, floor=None) -> list[frozenset]:
    """The merge spelt out: join the pair of current groups whose links sum highest (and > 0), among the pairs
    whose items' mean similarity reaches the floor, until none is left (slow, for small cases)."""
    groups = [frozenset(np.flatnonzero(labels == g).tolist()) for g in range(labels.max() + 1)]
    while True:
        best = None
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                total = sum(float(t) for s, d, t in zip(e.src, e.dst, e.terms)
                            if (s in groups[a] and d in groups[b]) or (s in groups[b] and d in groups[a]))
                if total <= 0 or (best is not None and total <= best[0]):
                    continue
                if floor is not None and (x[list(groups[a])] @ x[list(groups[b])].T).mean() < floor:
                    continue
                best = (total, a, b)
        if best is None:
            return sorted(groups, key=min)
        _, a, b = best
        groups = [g for i, g in enumerate(groups) if i not in (a, b)] + [groups[a] | groups[b]]


@pytest.mark.parametrize("seed", range(12))
def test_evidence_merge_is_the_greedy_merge_spelt_out(seed):
    # Random links between 14 items in 10 groups, most of them against a join (so some groups have no positive
    # pair at all, and some pairs are held back by the floor and tried again), with and without a floor.
    rng = np.random.default_rng(seed)
    pairs = {tuple(sorted(rng.choice(14, 2, replace=False).tolist())) for _ in range(40)}
    e = _evidence({p: float(rng.normal(-1.0, 2.0)) for p in pairs})
    labels = np.r_[np.arange(10), rng.integers(0, 10, 4)]
    x = rng.normal(size=(14, 4))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for floor in (None, -0.2, 0.0, 0.2):
        merged = e.merge(labels, x, floor)
        got = sorted((frozenset(np.flatnonzero(merged[labels] == m).tolist()) for m in np.unique(merged)), key=min)
        assert got == _greedy_merge(e, labels, x, floor)


def test_evidence_merge_is_held_to_the_join_floor():
    # Items 0 and 1 are alike (cosine 0.8), item 2 is apart from both (0 and 0.6): the links speak for every join.
    x = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.0, 1.0, 0.0]])
    e = _evidence({(0, 1): 4.0, (1, 2): 3.0, (0, 2): 1.0})
    labels = np.array([0, 1, 2])
    assert e.merge(labels).tolist() == [0, 0, 0]
    assert e.merge(labels, x, 0.5).tolist() == [0, 0, 1]  # 0-1 join (0.8); the whole and 2 average 0.3
    assert e.merge(labels, x, 0.9).tolist() == [0, 1, 2]
    assert e.merge(labels, x, 0.25).tolist() == [0, 0, 0]


def test_evidence_merge_reports_progress_and_stops_on_cancel(monkeypatch):
    from photo_grouper.clustering import evidence
    from photo_grouper.progress import Cancelled, Meter

    monkeypatch.setattr(evidence, "MERGE_TICK_POPS", 3)
    rng = np.random.default_rng(5)
    pairs = {tuple(sorted(rng.choice(60, 2, replace=False).tolist())) for _ in range(300)}
    e = _evidence({p: float(rng.normal(0.5, 2.0)) for p in pairs})
    labels = np.arange(60)
    x = rng.normal(size=(60, 4))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    heard = []
    merged = e.merge(labels, x, -0.2, Meter(lambda done, total: heard.append(done)))
    assert np.array_equal(merged, e.merge(labels, x, -0.2))  # reporting changes nothing
    assert heard[0] == 300 and heard == sorted(heard) and len(heard) >= 5 and heard[-1] <= 1000

    meter, heard = cancelled_at(3)
    with pytest.raises(Cancelled):
        e.merge(labels, x, -0.2, meter)
    assert len(heard) == 3  # stopped at the next report


def test_decode_keeps_only_allowed_links():
    x = np.eye(4, dtype=np.float32)[[0, 0, 1, 1]] + 0.01 * np.arange(4)[:, None]
    g, _ = build_level_graph(x, x, 2)
    src, dst = g.edge_index.numpy()
    prob = np.full(len(src), 0.9, dtype=np.float32)
    dens = np.array([1.0, 0.95, 0.9, 0.4])
    parent = decode(g, prob, dens, 0.5)
    assert roots_of(parent).tolist() == [0, 0, 0, 0]  # every node but the densest has a denser neighbour
    allowed = src // 2 == dst // 2  # no link between the pairs
    parent = decode(g, prob, dens, 0.5, allowed)
    assert roots_of(parent).tolist() == [0, 0, 2, 2]


@pytest.mark.parametrize("merge", [False, True])
def test_link_check_and_merge_keep_the_hierarchy_s_invariants(trained, merge):
    x, y = _identities(40, seed=7)  # people the climb leaves in pieces that the merge joins (a level more)
    for tau in (0.5, 0.7):
        h = HiLander(model=trained.model, tau=tau, tau_search=True, link_check=True, evidence_merge=merge).fit(x)
        for fine, coarse in zip(h.levels_[:-1], h.levels_[1:]):
            assert all(len(np.unique(coarse[fine == c])) == 1 for c in np.unique(fine))  # each level coarsens
        assert all(np.array_equal(np.sort(np.unique(lv)), np.arange(lv.max() + 1)) for lv in h.levels_)
        # The search builds at each candidate exactly what a run at that tau builds.
        same = HiLander(model=trained.model, tau=h.tau_, tau_search=False, link_check=True,
                        evidence_merge=merge).fit(x)
        assert len(h.levels_) == len(same.levels_)
        assert all(np.array_equal(a, b) for a, b in zip(h.levels_, same.levels_))
        # Level 0 is the same with or without the check (it judges joins of groups, above level 0).
        plain = HiLander(model=trained.model, tau=h.tau_, tau_search=False).fit(x)
        assert np.array_equal(plain.levels_[0], same.levels_[0])
        # Every level's peaks are members of their groups.
        assert all(np.array_equal(lv[pk], np.arange(len(pk))) for lv, pk in zip(h.levels_, h.peaks_))
        if merge:  # here the merge's level joins groups (whether rightly is for the benchmark: a toy model)
            assert len(h.levels_) == len(plain.levels_) + 1
            assert h.labels_.max() < h.levels_[-2].max()


def test_tau_band_lists_candidates_around_tau_inside_the_scored_taus():
    assert tau_band(0.8) == (0.7, 0.75, 0.8, 0.85, 0.9)
    assert tau_band(0.95) == (0.85, 0.9, 0.95)
    assert tau_band(0.3) == (0.3, 0.35, 0.4)  # not below the taus cross-validation scores
    assert tau_band(0.2) == (0.2, 0.25, 0.3)  # a tau given below them is kept as a candidate
    assert tau_band(0.1, lo=0.05, hi=0.95) == (0.05, 0.1, 0.15, 0.2)


def test_tau_candidates_keep_the_hierarchy_the_links_agree_with(trained):
    x, y = _identities(40, seed=5)
    candidates = (0.5, 0.7, 0.9)
    h = HiLander(model=trained.model, tau_candidates=candidates).fit(x)
    assert set(h.agreement_) == set(candidates)
    assert h.tau_ == max(candidates, key=lambda t: h.agreement_[t])
    same = HiLander(model=trained.model, tau=h.tau_, tau_search=False).fit(x)  # as if run at the chosen tau
    assert all(np.array_equal(a, b) for a, b in zip(h.levels_, same.levels_)) and len(h.levels_) == len(same.levels_)
    assert len(set(h.agreement_.values())) > 1  # the candidates give different partitions here


@pytest.mark.parametrize("tau", [0.5, 0.6, 0.7, 0.8])
def test_the_search_climbs_the_band_to_its_best_agreement(trained, tau):
    x, y = _identities(40, seed=5)
    whole = HiLander(model=trained.model, tau=tau, tau_candidates=tau_band(tau)).fit(x)
    h = HiLander(model=trained.model, tau=tau, tau_search=True).fit(x)
    assert h.trained_tau_ == tau and tau in h.agreement_ and set(h.agreement_) <= set(whole.agreement_)
    assert all(h.agreement_[t] == pytest.approx(whole.agreement_[t]) for t in h.agreement_)
    # These curves have plateaus (neighbouring taus decode alike) and one peak: the climb walks across the
    # plateaus and keeps the band's best.
    assert h.agreement_[h.tau_] == pytest.approx(max(whole.agreement_.values()))
    same = HiLander(model=trained.model, tau=h.tau_, tau_search=False).fit(x)
    assert all(np.array_equal(a, b) for a, b in zip(h.levels_, same.levels_)) and len(h.levels_) == len(same.levels_)
    fixed = HiLander(model=trained.model, tau=tau, tau_search=False).fit(x)
    assert fixed.tau_ == tau and fixed.agreement_ == {}


def test_the_trained_tau_is_the_default_and_large_libraries_are_not_searched(trained, monkeypatch):
    import photo_grouper.clustering.hilander as hilander

    x, y = _identities(40, seed=5)
    monkeypatch.setattr(hilander, "SEARCH_MAX_ITEMS", len(x) - 1)
    h = HiLander(model=trained.model, tau=0.6, tau_search=True).fit(x)
    fixed = HiLander(model=trained.model, tau=0.6, tau_search=False).fit(x)
    assert h.tau_ == 0.6 and h.agreement_ == {} and np.array_equal(h.labels_, fixed.labels_)
    monkeypatch.setattr(hilander, "SEARCH_MAX_ITEMS", len(x))
    assert HiLander(model=trained.model, tau=0.6, tau_search=True).fit(x).agreement_  # up to the limit it searches
    default = HiLander(model=trained.model, tau=0.6).fit(x)
    assert default.tau_ == 0.6 and default.agreement_ == {} and np.array_equal(default.labels_, fixed.labels_)


@pytest.mark.parametrize("tau, floor, boundary", [(0.3, 0.5, 0.5), (0.3, 0.0, 0.3), (0.8, 0.5, 0.8)])
def test_link_rules_count_links_above_max_of_tau_and_the_floor(trained, monkeypatch, tau, floor, boundary):
    import photo_grouper.clustering.hilander as hilander

    seen = []

    class Recording(hilander.LinkEvidence):
        def __init__(self, graph, prob, boundary):
            seen.append(boundary)
            super().__init__(graph, prob, boundary)

    monkeypatch.setattr(hilander, "LinkEvidence", Recording)
    x, _ = _identities(40, seed=7)
    h = HiLander(model=trained.model, tau=tau, tau_search=False, link_check=True, evidence_merge=True,
                 evidence_floor=floor).fit(x)
    assert seen == [boundary] and h.tau_ == tau


def test_group_similarity_is_the_mean_similarity_between_the_groups_members():
    x = l2_normalise(np.random.default_rng(3).standard_normal((9, 8)).astype(np.float32))
    node_of_item = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    nodes = next_nodes(x, node_of_item, np.array([0, 3, 5]))
    edges = np.array([[0, 1, 2, 0], [1, 2, 0, 0]])
    by_hand = [(x[node_of_item == a] @ x[node_of_item == b].T).mean() for a, b in edges.T]
    np.testing.assert_allclose(group_similarity(nodes, edges), by_hand, atol=1e-5)


def _cut_spelt_out(parent, sums, sizes, floor, min_side):
    """Each tree link judged by listing its two sides item group by item group."""
    n = len(parent)
    root = roots_of(parent)
    out = parent.copy()
    for c in np.flatnonzero(parent != np.arange(n)):
        below = np.zeros(n, dtype=bool)
        for v in range(n):  # v is below c if c is on v's path to its root
            u = v
            while u != c and parent[u] != u:
                u = parent[u]
            below[v] = u == c
        rest = (root == root[c]) & ~below
        if sizes[below].sum() >= min_side and sizes[rest].sum() >= min_side:
            mean = sums[below].sum(0) @ sums[rest].sum(0) / (sizes[below].sum() * sizes[rest].sum())
            out[c] = c if mean < floor else parent[c]
    return out


@pytest.mark.parametrize("seed", range(8))
def test_cut_weak_joins_judges_each_link_by_the_two_trees_it_joins(seed, monkeypatch):
    from photo_grouper.clustering import decode as decode_module

    if seed % 2:  # links judged a block at a time (3 links a block, the last one short): the same cuts
        monkeypatch.setattr(decode_module, "ROWDOT_NUMBERS", 6 * 3)
    rng = np.random.default_rng(seed)
    for _ in range(25):
        n = int(rng.integers(2, 30))
        density = rng.permutation(n)
        parent = np.array([rng.choice(np.flatnonzero(density > density[i])) if density[i] < n - 1
                           and rng.random() < 0.85 else i for i in range(n)])
        sizes = rng.integers(1, 4, n).astype(float)  # upper levels: nodes are groups of items
        sums = l2_normalise(rng.standard_normal((n, 6)) + rng.standard_normal(6)) * sizes[:, None]
        for floor in (-0.2, 0.3, 0.6):
            got = cut_weak_joins(parent, sums, sizes, floor)
            assert np.array_equal(got, _cut_spelt_out(parent, sums, sizes, floor, 3))


def test_cut_weak_joins_parts_look_alike_groups_and_leaves_strays():
    # A person of 4 photos (items 0-3) and a look-alike of 3 (4-6) whose peak hangs on the person's; photo 7, a
    # poor photo of the person (cosine 0.85), hangs on 1. Within a person photos are at cosine ~0.96, across the
    # two people 0.8.
    rng = np.random.default_rng(0)
    a, b, c = l2_normalise(rng.standard_normal((3, 16)))
    b -= (b @ a) * a
    c -= (c @ a) * a + (c @ b) * b / (b @ b)
    b, c = b / np.linalg.norm(b), c / np.linalg.norm(c)
    x = l2_normalise(np.r_[[a] * 4, [0.8 * a + 0.6 * b] * 3, [0.85 * a + 0.53 * c]]
                     + 0.03 * rng.standard_normal((8, 16)))
    parent = np.array([0, 0, 0, 0, 0, 4, 4, 1])
    cut = cut_weak_joins(parent, x, np.ones(8), 0.9)
    assert roots_of(cut).tolist() == [0, 0, 0, 0, 4, 4, 4, 0]  # the two people apart, the poor photo kept
    assert np.array_equal(cut_weak_joins(parent, x, np.ones(8), 0.7), parent)  # they pass a floor of 0.7
    assert np.array_equal(cut_weak_joins(parent, x, np.ones(8), 0.9, min_side=4), parent)  # 3 photos: too few
    # Sides of 2 allowed and a floor over every mean: each link with two or more items on both sides is cut.
    assert cut_weak_joins(parent, x, np.ones(8), 0.99, min_side=2).tolist() == [0, 1, 0, 0, 4, 4, 4, 1]
    # On sums of groups (upper levels) the same: the look-alike as one node of 3 items.
    sums = np.r_[x[:4], [x[4:7].sum(0)], x[7:]]
    assert roots_of(cut_weak_joins(np.array([0, 0, 0, 0, 0, 1]), sums, np.r_[1, 1, 1, 1, 3, 1], 0.9)).tolist() \
        == [0, 0, 0, 0, 4, 0]


def test_cut_lone_leaves_lets_go_a_leaf_its_tree_holds_by_one_link_under_the_floor():
    # A person of 4 photos (0-3, cosine ~0.96 to each other). Photo 4, a look-alike seen once (cosine 0.85),
    # hangs on 0 by its only link above tau (its link to 1 is under tau, its link to 7 reaches another tree).
    # Photo 5, the person's odd photo (also 0.85), hangs on 1 and is linked to 2 as well. Photo 6 hangs on 0 by
    # one link but is as alike as the person's own. Photos 7-8: another tree.
    rng = np.random.default_rng(0)
    a, b, c = l2_normalise(rng.standard_normal((3, 16)))
    x = l2_normalise(np.r_[[a] * 4, [0.85 * a + 0.53 * b], [0.85 * a + 0.53 * c], [a], [b] * 2]
                     + 0.02 * rng.standard_normal((9, 16)))
    links = [(0, 1, 0.95), (0, 2, 0.95), (0, 3, 0.95), (0, 4, 0.9), (1, 4, 0.2), (7, 4, 0.95), (1, 5, 0.9),
             (2, 5, 0.85), (0, 6, 0.9), (7, 8, 0.9)]
    edges = np.array([[s for s, _, _ in links], [d for _, d, _ in links]])
    prob = np.array([p for _, _, p in links])
    parent = np.array([0, 0, 0, 0, 0, 1, 0, 7, 7])
    assert cut_lone_leaves(parent, x, edges, prob, 0.8, 0.9).tolist() == [0, 0, 0, 0, 4, 1, 0, 7, 7]
    # Under a lower floor photo 4 stays; with tau over 0.85 photo 5 is held by one link too, and let go.
    assert np.array_equal(cut_lone_leaves(parent, x, edges, prob, 0.8, 0.8), parent)
    assert cut_lone_leaves(parent, x, edges, prob, 0.86, 0.9).tolist() == [0, 0, 0, 0, 4, 5, 0, 7, 7]
    # Only leaves: with 6 hung on 4, photo 4 holds another and stays (and 6, held by one link, is alike enough).
    assert np.array_equal(cut_lone_leaves(np.array([0, 0, 0, 0, 0, 1, 4, 7, 7]), x,
                                          np.c_[edges, [[4], [6]]], np.r_[prob, 0.9], 0.8, 0.9),
                          [0, 0, 0, 0, 0, 1, 4, 7, 7])


def test_lone_leaves_let_people_seen_once_go_by_default_and_keep_the_hierarchy_s_invariants(trained):
    from photo_grouper.clustering.decode import LONE_SLACK

    x, y = _identities(40, seed=8, spread=0.8)
    rng = np.random.default_rng(8)
    keep = seen_once(y, rng.choice(40, 20, replace=False), rng)  # half the people seen once
    x, y = x[keep], y[keep]
    floor = 0.45
    plain = HiLander(model=trained.model, tau=trained.tau, join_floor=floor, lone_leaves=False).fit(x)
    lone = HiLander(model=trained.model, tau=trained.tau, join_floor=floor).fit(x)
    assert not plain.lone_leaves_ and lone.lone_leaves_ and lone.timings_[0]["lone"] > 0  # on by default
    assert all(np.array_equal(np.sort(np.unique(lv)), np.arange(lv.max() + 1)) for lv in lone.levels_)
    for fine, coarse in zip(lone.levels_[:-1], lone.levels_[1:]):
        assert all(len(np.unique(coarse[fine == c])) == 1 for c in np.unique(fine))  # each level coarsens
    # What it lets go is on its own at level 0, each photo far from the group it left: under the bar.
    bar = floor - LONE_SLACK * (1 - floor)
    xn = l2_normalise(x)
    freed = np.flatnonzero((np.bincount(lone.levels_[0])[lone.levels_[0]] == 1)
                           & (np.bincount(plain.levels_[0])[plain.levels_[0]] > 1))
    assert freed.size == lone.timings_[0]["lone"]
    for i in freed:
        rest = (plain.levels_[0] == plain.levels_[0][i]) & (np.arange(len(y)) != i)
        assert xn[rest].mean(0) @ xn[i] < bar
    once = np.isin(y, np.flatnonzero(np.bincount(y) == 1))
    alone = [np.sum(np.bincount(h.labels_)[h.labels_[once]] == 1) for h in (plain, lone)]
    assert alone[1] > alone[0]
    # Without a join floor there is no bar: nothing changes.
    free = HiLander(model=trained.model, tau=trained.tau, join_floor=None).fit(x)
    assert not free.lone_leaves_ and np.array_equal(
        free.labels_, HiLander(model=trained.model, tau=trained.tau, join_floor=None, lone_leaves=False).fit(x).labels_)


def test_tree_floor_keeps_the_hierarchy_s_invariants_and_holds_every_level(trained):
    from photo_grouper.clustering.decode import TREE_MIN_SIDE, TREE_SLACK

    x, _ = _identities(40, seed=7, spread=0.8)
    xn = l2_normalise(x)
    floor = 0.45
    plain = HiLander(model=trained.model, tau=trained.tau, join_floor=floor, evidence_merge=False,
                     tree_floor=False).fit(x)
    held = HiLander(model=trained.model, tau=trained.tau, join_floor=floor, evidence_merge=False,
                    tree_floor=True).fit(x)
    assert held.levels_[0].max() > plain.levels_[0].max()  # it cuts something here
    assert all(np.array_equal(np.sort(np.unique(lv)), np.arange(lv.max() + 1)) for lv in held.levels_)
    for fine, coarse in zip(held.levels_[:-1], held.levels_[1:]):
        assert all(len(np.unique(coarse[fine == c])) == 1 for c in np.unique(fine))  # each level coarsens
    # Every group of every level: no two parts of it, joined in the tree, are under the floor less the slack.
    # (Checked as the weakest split of each group into a level-0 group and the rest, a necessary condition.)
    bound = floor - TREE_SLACK * (1 - floor)
    for level in held.levels_:
        for g in np.unique(level):
            members = level == g
            parts = np.unique(held.levels_[0][members])
            if len(parts) > 1 and members.sum() >= 2 * TREE_MIN_SIDE:
                sims = [(xn[held.levels_[0] == p].sum(0) @ xn[members & (held.levels_[0] != p)].sum(0))
                        / ((held.levels_[0] == p).sum() * (members & (held.levels_[0] != p)).sum())
                        for p in parts if (held.levels_[0] == p).sum() >= TREE_MIN_SIDE
                        and (members & (held.levels_[0] != p)).sum() >= TREE_MIN_SIDE]
                assert not sims or max(sims) >= bound
    # On by default wherever a join floor holds it; without one there is nothing to hold it to.
    default = HiLander(model=trained.model, tau=trained.tau, join_floor=floor, evidence_merge=False).fit(x)
    assert default.tree_floor_ and all(np.array_equal(a, b) for a, b in zip(default.levels_, held.levels_))
    assert not plain.tree_floor_
    free = HiLander(model=trained.model, tau=trained.tau, join_floor=None, tree_floor=True).fit(x)
    assert not free.tree_floor_
    assert all(np.array_equal(a, b) for a, b in zip(
        free.levels_, HiLander(model=trained.model, tau=trained.tau, join_floor=None).fit(x).levels_))


def test_learned_join_floor_is_where_average_linkage_parts_the_people():
    rng = np.random.default_rng(0)
    centres = l2_normalise(rng.standard_normal((3, 16)).astype(np.float32))
    y = np.repeat(np.arange(3), 6)
    x = l2_normalise(centres[y] + 0.05 * rng.standard_normal((18, 16)).astype(np.float32))
    across = max((x[y == a] @ x[y == b].T).mean() for a in range(3) for b in range(a + 1, 3))
    # The lowest floor of the grid that keeps the people apart: just above their mean similarity to each other.
    assert across < learn_join_floor(x, y) <= across + 0.0101


def test_join_floor_holds_joins_above_level_0(trained, tmp_path):
    x, _ = _identities(40, seed=7, spread=0.8)  # spread enough that level 0 leaves people in pieces
    free = HiLander(model=trained.model, tau=trained.tau, early_stop=False, join_floor=None).fit(x)
    assert len(free.levels_) > 1  # upper levels join groups when nothing holds them
    # Level 0's links are not held by the floor (only the tree floor and lone leaves weigh level 0's trees by it).
    shut = HiLander(model=trained.model, tau=trained.tau, early_stop=False, join_floor=1.01, tree_floor=False,
                    lone_leaves=False).fit(x)
    assert len(shut.levels_) == 1 and np.array_equal(shut.levels_[0], free.levels_[0])
    # With the tree floor (the default) level 0's trees are held: links joining two sides of 3+ photos are cut,
    # so its groups are pieces of the free level 0's.
    whole = HiLander(model=trained.model, tau=trained.tau, early_stop=False, join_floor=1.01).fit(x)
    assert whole.levels_[0].max() > free.levels_[0].max()
    assert all(len(np.unique(free.levels_[0][whole.levels_[0] == g])) == 1 for g in np.unique(whole.levels_[0]))

    xn = l2_normalise(x)
    floor = 0.5
    held = HiLander(model=trained.model, tau=trained.tau, early_stop=False, join_floor=floor).fit(x)
    assert len(held.levels_) > 1
    for fine, coarse in zip(held.levels_, held.levels_[1:]):
        for g in np.unique(coarse):
            parts = np.unique(fine[coarse == g])
            if len(parts) > 1:  # each part joined through a link to another part that passes the floor
                for a in parts:
                    assert max((xn[fine == a] @ xn[fine == b].T).mean() for b in parts if b != a) >= floor - 1e-5

    # "trained" (the default) takes the floor from the weights' card; a card without one holds nothing.
    for card_floor, levels in ((1.01, 1), (None, len(free.levels_))):
        path = tmp_path / f"w{card_floor}.pt"
        save_weights(trained.model, path, {"tau": trained.tau, "join_floor": card_floor})
        h = HiLander(weights=path, early_stop=False).fit(x)
        assert h.join_floor_ == card_floor and len(h.levels_) == levels
    assert 0 < trained.join_floor < 1  # training learns one


def test_evidence_merge_runs_by_default_only_where_a_join_floor_holds_it(trained, monkeypatch):
    import photo_grouper.clustering.hilander as hilander

    calls = []
    real_merge = hilander.LinkEvidence.merge

    def recording(self, labels, x=None, floor=None, meter=NO_METER, apart=None, refused=None):
        calls.append(floor)
        return real_merge(self, labels, x, floor, meter, apart, refused)

    monkeypatch.setattr(hilander.LinkEvidence, "merge", recording)
    x, _ = _identities(40, seed=7)
    bare = HiLander(model=trained.model, tau=0.7, join_floor=0.5, evidence_merge=False).fit(x)
    assert not bare.evidence_merge_ and calls == []
    merged = HiLander(model=trained.model, tau=0.7, join_floor=0.5).fit(x)
    assert merged.evidence_merge_ and calls == [0.5]  # on by default, held to the floor
    # No floor (a model without a card, or join_floor=None): no merge unless asked for, as it joined look-alikes.
    assert not HiLander(model=trained.model, tau=0.7, join_floor=None).fit(x).evidence_merge_ and calls == [0.5]
    assert HiLander(model=trained.model, tau=0.7, join_floor=None, evidence_merge=True).fit(x).evidence_merge_
    assert calls == [0.5, None]

    # Where the merge joins groups, it is one level more on top of the same climb.
    def join_first_two(self, labels, x=None, floor=None, meter=NO_METER, apart=None, refused=None):
        top = np.arange(labels.max() + 1)
        top[top == 1] = 0
        return np.unique(top, return_inverse=True)[1]

    monkeypatch.setattr(hilander.LinkEvidence, "merge", join_first_two)
    joined = HiLander(model=trained.model, tau=0.7, join_floor=0.5).fit(x)
    assert len(joined.levels_) == len(bare.levels_) + 1
    assert all(np.array_equal(a, b) for a, b in zip(bare.levels_, joined.levels_))
    assert joined.labels_.max() == bare.labels_.max() - 1
    assert np.array_equal(joined.parents_[-1], join_first_two(None, bare.labels_))


@pytest.mark.parametrize("validation", ["alone", "with_training"])
def test_validation_folds_are_scored_as_the_default_runs(monkeypatch, validation):
    import photo_grouper.clustering.training as training

    seen = []
    monkeypatch.setattr(training, "tau_scores", lambda model, x, y, cfg, focus=None, **used: seen.append(
        (len(y), used)) or {})
    x, y = _identities(12, seed=2)
    val = np.isin(y, [0, 1, 2, 3])
    training.validation_scores(None, x, y, val, TrainConfig(validation=validation))
    floor = learn_join_floor(x[~val], y[~val], seed=0)  # learned from the fold's training people only
    assert seen == [(val.sum() if validation == "alone" else len(y),
                     {"join_floor": floor, "evidence_merge": True, "tree_floor": False})]
    training.validation_scores(None, x, y, val, TrainConfig(validation=validation, validate_as_used=False))
    assert seen[-1][1] == {}


@pytest.mark.parametrize("validation", ["alone", "with_training"])
def test_validation_folds_can_be_scored_with_people_seen_once_as_well(monkeypatch, validation):
    import photo_grouper.clustering.training as training

    seen = []

    def scores(model, x, y, cfg, focus=None, **used):
        seen.append((x, y, focus))
        one = float((np.unique(y, return_counts=True)[1] == 1).sum())  # a score that counts people seen once
        return {0.5: {"fp": one, "fb": 2 * one}, 0.9: {"fp": 0.0, "fb": 0.0}}

    monkeypatch.setattr(training, "tau_scores", scores)
    x, y = _identities(12, seed=2)  # 2 to 20 photos each
    val = y < 6  # people 0-5 are the fold's
    cfg = TrainConfig(validation=validation, validation_once=0.5, validate_as_used=False)
    curve = training.validation_scores(None, x, y, val, cfg)
    assert len(seen) == 2
    (x0, y0, _), (x1, y1, focus) = seen
    assert len(y0) == (val.sum() if validation == "alone" else len(y))  # as before: everyone, all photos
    counts = dict(zip(*np.unique(y1, return_counts=True)))
    assert sum(counts[p] == 1 for p in range(6)) == 3  # then half the fold's people cut to one photo
    assert all(counts[p] == (y == p).sum() for p in range(6, 12) if p in counts)  # training people untouched
    if validation == "with_training":
        assert sorted(focus) == list(range(6))
    assert curve[0.5]["fp"] == pytest.approx((0 + 3) / 2)  # the mean of the two curves
    assert curve[0.9] == {"fp": 0.0, "fb": 0.0}
    assert training.validation_scores(None, x, y, val, TrainConfig(validation=validation,
                                                                   validate_as_used=False)) == scores(
        None, x[val] if validation == "alone" else x, y[val] if validation == "alone" else y, cfg)


def test_hilander_on_cuda_groups_as_on_the_cpu_and_repeats():
    """The whole estimator on a graphics card: exact kNN in blocks, the GNN, progress. Needs a CUDA device."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine (CI has none); the device tool runs this check")
    from photo_grouper.bench.scale import synthetic_library
    from photo_grouper.clustering.copies import NEAR_COPY

    x, truth = synthetic_library(5000)
    cpu = HiLander(near_copy=NEAR_COPY["faces"], device="cpu").fit(x)
    heard = []
    gpu = HiLander(near_copy=NEAR_COPY["faces"], device="cuda").fit(x, progress=lambda d, t: heard.append(d))
    again = HiLander(near_copy=NEAR_COPY["faces"], device="cuda").fit(x)
    assert all(np.array_equal(a, b) for a, b in zip(gpu.levels_, again.levels_))  # deterministic on the card
    # Float sums in another order may tip a borderline link; the partitions agree all but everywhere.
    assert evaluate(cpu.labels_, gpu.labels_)["fp"] >= 0.99
    assert abs(evaluate(truth, gpu.labels_)["fp"] - evaluate(truth, cpu.labels_)["fp"]) < 0.01
    assert heard[-1] == 1000


@pytest.mark.parametrize("floor", [0.45, 0.6])
def test_zoom_out_levels_coarsen_the_default_which_stays_as_it_was(trained, floor):
    from photo_grouper.clustering.zoom import cheapest_levels

    x, _ = _identities(40, seed=11, spread=0.8)
    plain = HiLander(model=trained.model, tau=trained.tau, join_floor=floor).fit(x)
    zoomed = HiLander(model=trained.model, tau=trained.tau, join_floor=floor, zoom_out=3).fit(x)
    # The default view and every level up to it are as without zoom-out levels.
    assert zoomed.default_level_ == len(plain.levels_) - 1 == plain.default_level_
    assert np.array_equal(zoomed.labels_, plain.labels_)
    assert all(np.array_equal(a, b) for a, b in zip(plain.levels_, zoomed.levels_))
    # Past it, up to 3 levels, each joining something and coarsening the one before, with peaks and parents.
    extra = zoomed.levels_[zoomed.default_level_ + 1:]
    assert 1 <= len(extra) <= 3
    for fine, coarse, parent in zip(zoomed.levels_[zoomed.default_level_:], extra,
                                    zoomed.parents_[zoomed.default_level_:]):
        assert np.array_equal(parent[fine], coarse) and coarse.max() < fine.max()
    for level, peaks in zip(zoomed.levels_, zoomed.peaks_):
        assert np.array_equal(level[peaks], np.arange(len(peaks)))
    assert len(zoomed.timings_) == len(zoomed.levels_)
    # Step s has ceil(s n / 10) groups fewer than the default's n, joined cheapest first among groups the first
    # level's links join: spelt out with those links.
    graph, _, _, _ = zoomed._predict_level(trained.model.eval(), "cpu",
                                           {"features": l2_normalise(x), "centres": l2_normalise(x)})
    src, dst = graph.edge_index.numpy()
    n = plain.labels_.max() + 1
    fewer = [int(np.ceil(step * n / 10)) for step in (1, 2, 3)]
    expected, labels = [], plain.labels_
    for merged in cheapest_levels(plain.labels_, l2_normalise(x), src, dst, fewer, floor):
        if merged[plain.labels_].max() < labels.max():
            labels = merged[plain.labels_]
            expected.append(labels)
    assert len(expected) == len(extra)
    assert all(np.array_equal(a, b) for a, b in zip(expected, extra))
    assert [n - (level.max() + 1) for level in extra] == fewer[:len(extra)]


def test_zoom_out_levels_need_a_join_floor(trained):
    x, _ = _identities(10, seed=11)
    with pytest.raises(ValueError, match="join floor"):
        HiLander(model=trained.model, tau=trained.tau, join_floor=None, zoom_out=2).fit(x)


def test_keep_apart_cuts_the_link_whose_sides_weigh_most_against_one_group():
    from photo_grouper.clustering.decode import keep_apart

    # One chain 3 -> 2 -> 1 -> 0 (root 0) and a branch 4 -> 1; node 5 alone. Items on a circle: 0-3 at 0-15
    # degrees, 4 at 90 (unlike the rest), 5 at 200. Join floor 0.5.
    parent = np.array([0, 0, 1, 2, 1, 5])
    sums = _on_circle([0, 5, 10, 15, 90, 200])
    sizes = np.ones(6)
    # Nodes 3 and 4 share a photo. On the path 3-2-1-4, the sum of (cosine - 0.5) across each link: 3's +1.21,
    # 2's +1.37, 4's -1.48: 4's link is cut. Without a floor, the least alike sides: 4's again (mean 0.13).
    for floor in (0.5, None):
        out = keep_apart(parent, sums, sizes, np.array([3, 4]), np.array([7, 7]), floor)
        assert out.tolist() == [0, 0, 1, 2, 4, 5]
    # Nodes in other trees, or of other photos, are no clash; one node is never parted from itself (copies).
    for node, photo in (([3, 5], [7, 7]), ([3, 4], [7, 8]), ([3, 3], [7, 7]), ([], [])):
        out = keep_apart(parent, sums, sizes, np.array(node, int), np.array(photo, int), 0.5)
        assert out.tolist() == parent.tolist()
    # Three faces of one photo in one tree: 0-3 cuts 1's link (+0.95 against 3's +1.21 and 2's +1.37), then 3-4,
    # in the tree left under 1, cuts 4's (-0.98).
    out = keep_apart(parent, sums, sizes, np.array([0, 3, 4]), np.array([7, 7, 7]), 0.5)
    assert out.tolist() == [0, 1, 1, 2, 4, 5]
    # Every pair counts: node 4 standing for 5 photos weighs five times against (-7.4), 2's link now -0.90.
    sizes5 = np.array([1, 1, 1, 1, 5, 1.0])
    out = keep_apart(parent, sums * sizes5[:, None], sizes5, np.array([3, 4]), np.array([7, 7]), 0.5)
    assert out.tolist() == [0, 0, 1, 2, 4, 5]
    # A floor under every cosine makes each link weigh for the join: the one with the fewest pairs across, and of
    # those the least alike, is cut (0-3: 1's link, 4 pairs summing 2.95, against 3's 3.21 and 2's 6 pairs).
    out = keep_apart(parent, sums, sizes, np.array([0, 3]), np.array([7, 7]), -1.0)
    assert out.tolist() == [0, 1, 1, 2, 1, 5]


def _on_circle(degrees):
    angles = np.radians(degrees)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


@pytest.mark.parametrize("seed", range(20))
def test_keep_apart_leaves_no_clash_and_cuts_only_links_on_a_clash_path(seed):
    from photo_grouper.clustering.decode import keep_apart

    rng = np.random.default_rng(seed)
    n = 60
    parent = np.arange(n)
    for i in range(1, n):  # a forest: each node's parent comes before it, or it is a root
        if rng.random() < 0.85:
            parent[i] = rng.integers(0, i)
    sums = l2_normalise(rng.standard_normal((n, 8)))
    node = rng.choice(n, 24, replace=False)
    photo = rng.integers(0, 10, node.size)
    out = keep_apart(parent, sums, np.ones(n), node, photo, float(rng.uniform(-0.5, 0.5)))
    root = roots_of(out)
    assert all(len(set(root[node[photo == p]].tolist())) == (photo == p).sum() for p in np.unique(photo))
    cut = np.flatnonzero(out != parent)
    assert np.all(out[cut] == cut)  # only cuts, never a new link

    def path(a):
        up = [a]
        while parent[up[-1]] != up[-1]:
            up.append(parent[up[-1]])
        return up

    before = roots_of(parent)
    on_a_path = set()
    for p in np.unique(photo):
        same = node[photo == p]
        for i, a in enumerate(same):
            for b in same[i + 1:]:
                if before[a] == before[b]:
                    ua, ub = path(a), path(b)
                    meet = next(w for w in ua if w in ub)
                    on_a_path |= set(ua[:ua.index(meet)]) | set(ub[:ub.index(meet)])
    assert set(cut.tolist()) <= on_a_path


def test_evidence_merge_never_joins_two_groups_with_faces_of_one_photo():
    # 0-1 speak for a join (+5) but items 0 and 1 are faces of one photo; 2 joins one of them (+3 with 1).
    e = _evidence({(0, 1): 5.0, (1, 2): 3.0, (0, 2): 1.0})
    labels = np.array([0, 1, 2])
    assert e.merge(labels).tolist() == [0, 0, 0]
    apart = (np.array([0, 1]), np.array([9, 9]))
    refused = set()
    assert e.merge(labels, apart=apart, refused=refused).tolist() == [0, 1, 1]
    assert refused == {(0, 1)}  # the pair the links spoke for, not made
    # The clash is of the whole: once 2 has joined 1, the group of 1 and 2 still never takes 0.
    e = _evidence({(1, 2): 5.0, (0, 2): 4.0})
    assert e.merge(labels, apart=apart).tolist() == [0, 1, 1]


@pytest.mark.parametrize("options", [{}, {"join_floor": 0.0}, {"tau_search": True}, {"near_copy": 0.99}])
def test_faces_of_one_photo_are_never_grouped_together(trained, options):
    x, y = _identities(40, seed=5)
    plain = HiLander(k=10, tau=trained.tau, model=trained.model, early_stop=False, **options).fit(x)
    # Pairs of one person that the plain run groups together, each pair said to be two faces of one photo.
    rng = np.random.default_rng(0)
    photo = np.full(len(x), -1)
    for p, person in enumerate(rng.choice(np.unique(y), 12, replace=False)):
        photo[rng.choice(np.flatnonzero(y == person), 2, replace=False)] = p
    paired = [np.flatnonzero(photo == p) for p in range(12)]
    assert sum(plain.labels_[a] == plain.labels_[b] for a, b in paired) >= 6
    kept = HiLander(k=10, tau=trained.tau, model=trained.model, early_stop=False, **options).fit(x, apart=photo)
    assert kept.parted_ > 0 and plain.parted_ == 0  # links cut, counted
    for level in kept.levels_:
        assert all(level[a] != level[b] for a, b in paired)
        assert np.array_equal(np.unique(level), np.arange(level.max() + 1))
    for fine, coarse, parent in zip(kept.levels_, kept.levels_[1:], kept.parents_):
        assert np.array_equal(parent[fine], coarse)
    # Only what the clashes cut moves: the people of no pair are grouped as before at level 0.
    untouched = ~np.isin(y, y[photo >= 0])
    assert evaluate(plain.levels_[0][untouched], kept.levels_[0][untouched])["fp"] == 1.0
    # Photos of one face each, or none given, change nothing.
    for alone in (np.arange(len(x)), np.full(len(x), -1)):
        same = HiLander(k=10, tau=trained.tau, model=trained.model, early_stop=False, **options).fit(x, apart=alone)
        assert all(np.array_equal(a, b) for a, b in zip(same.levels_, plain.levels_))


def test_copies_of_one_photo_stay_together_though_a_photo_holds_two_of_them(trained):
    x, _ = _identities(20, seed=4)
    given = np.concatenate([x, x[:1]])  # the first row twice, both said to be in photo 0
    photo = np.full(len(given), -1)
    photo[[0, len(x)]] = 0
    h = HiLander(tau=trained.tau, model=trained.model).fit(given, apart=photo)
    assert all(level[0] == level[-1] for level in h.levels_)


@pytest.mark.parametrize("apart", [np.zeros(3, int), np.zeros(5), np.zeros((5, 1), int)])
def test_apart_must_name_one_photo_per_item(trained, apart):
    x, _ = _identities(2, seed=3)
    with pytest.raises(ValueError, match="one whole number"):
        HiLander(model=trained.model).fit(x[:5], apart=apart)
