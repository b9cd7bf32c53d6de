"""The quality benchmark's check of each level against a same-count cut of average linkage."""

from types import SimpleNamespace

import numpy as np
import pytest

from photo_grouper.bench.quality import format_table, purity_check, purity_summary
from photo_grouper.clustering.metrics import evaluate
from photo_grouper.labelled import LabelledEmbeddings


def _on_circle(degrees):
    angles = np.radians(degrees)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)


def test_purity_check_scores_each_level_against_the_same_count_cut():
    # People a and b are look-alikes (20 degrees apart); c has one photo far from the rest (at 200 degrees).
    x = _on_circle([0, 1, 2, 3, 20, 21, 22, 23, 120, 121, 122, 123, 200])
    truth = np.array(["a"] * 4 + ["b"] * 4 + ["c"] * 5)
    levels = [
        np.array([0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3]),  # a photo of a on b: the cut at 4 parts them right
        np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2]),  # the truth; the cut at 3 joins a and b instead
        np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]),  # both join a and b
    ]
    test = LabelledEmbeddings(x, truth, [f"p{i}.jpg" for i in range(len(x))])
    # The hierarchy stopped at the second level; the third is a zoom-out level.
    checks = purity_check(test, SimpleNamespace(levels_=levels, default_level_=1))

    assert [c["clusters"] for c in checks] == [4, 3, 2]
    assert [c["zoom_out"] for c in checks] == [0, 0, 1]
    for check, level in zip(checks, levels):
        ours = evaluate(truth, level)
        assert check["hi_lander_precision"] == pytest.approx(ours["pp"])
        assert check["hi_lander_fp"] == pytest.approx(ours["fp"])
    # The cut at 4: a, b, c and c's far photo alone; precision 1, recall 18 of c's 22 true pairs.
    assert checks[0]["average_linkage_precision"] == pytest.approx(1.0)
    assert checks[0]["average_linkage_fp"] == pytest.approx(2 * 18 / 22 / (1 + 18 / 22))
    # The cut at 3 joins the look-alikes before the far photo: 12 + 6 right pairs of 28 + 6.
    assert checks[1]["average_linkage_precision"] == pytest.approx(18 / 34)
    assert checks[2]["average_linkage_precision"] == pytest.approx(checks[2]["hi_lander_precision"])
    assert purity_summary(checks) == ("hi-lander ahead on precision on 1 of 3 levels (level on 1), "
                                      "on Fp on 1 of 3 levels (level on 1)")
    table = format_table({"data": "synthetic", "mode": "faces", "test_items": 13, "test_identities": 3,
                          "tuned_on": "the others", "photos": 13, "detection_misses": 0, "failed": 0, "rows": [],
                          "purity_vs_average_linkage": checks})
    assert "  level 2 (zoom out 1): 2 clusters" in table and "  level 1: 3 clusters" in table
    assert "  the zoom-out levels alone: hi-lander ahead on precision on 0 of 1 levels (level on 1)" in table


def test_seen_once_keeps_one_photo_of_a_share_of_the_people():
    x = np.arange(60, dtype=np.float32).reshape(30, 2)
    data = LabelledEmbeddings(x, np.repeat(np.array(list("abcdef")), 5), [f"p{i}.jpg" for i in range(30)])
    once = data.seen_once(0.5, seed=3)
    names, counts = np.unique(once.labels, return_counts=True)
    assert list(names) == list("abcdef") and sorted(counts) == [1, 1, 1, 5, 5, 5]
    for row, label, path in zip(once.x, once.labels, once.paths):  # each photo kept whole, with its label and path
        i = int(path[1:-4])
        assert data.labels[i] == label and (data.x[i] == row).all()
    again = data.seen_once(0.5, seed=3)
    assert again.paths == once.paths  # drawn by the seed
    assert {tuple(data.seen_once(0.5, seed=s).paths) for s in range(8)} != {tuple(once.paths)}
    assert data.seen_once(0.0).paths == data.paths and len(data.seen_once(1.0).paths) == 6
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.seen_once(1.5)


def test_kept_fold_models_count_a_recipe_field_added_since_at_its_default_as_the_same():
    import json
    from dataclasses import asdict

    from photo_grouper.bench.quality import _same_training
    from photo_grouper.clustering.training import TrainConfig

    def what(cfg):
        return {"data": "/photos", "mode": "faces", "seed": 3, "folds": 3, "fold": 0, "test_labels": ["a", "b"],
                "config": json.loads(json.dumps(asdict(cfg), default=str))}

    kept = what(TrainConfig())
    del kept["config"]["once_fraction"]  # kept before the field existed
    assert _same_training(kept, what(TrainConfig()))
    assert not _same_training(kept, what(TrainConfig(once_fraction=(0.0, 0.5))))
    assert not _same_training(kept, what(TrainConfig(epochs=3)))
    assert not _same_training({**kept, "fold": 1}, what(TrainConfig()))
    assert not _same_training(None, what(TrainConfig()))


def test_group_photos_put_a_share_of_the_faces_in_photos_of_different_people():
    x = np.arange(120, dtype=np.float32).reshape(60, 2)
    data = LabelledEmbeddings(x, np.repeat(np.array(list("abcdef")), 10), [f"p{i}.jpg" for i in range(60)])
    grouped = data.in_group_photos(0.5, seed=3)
    assert grouped.paths == data.paths and (grouped.x == data.x).all()  # the same faces, now with photos
    photos, counts = np.unique(grouped.photo, return_counts=True)
    shared = photos[counts > 1]
    assert 2 <= counts.max() <= 4 and 25 <= counts[counts > 1].sum() <= 30  # about half the faces, 2-4 a photo
    for p in shared:  # no one twice in a photo
        assert len(set(grouped.labels[grouped.photo == p])) == (grouped.photo == p).sum()
    assert (grouped.in_group_photos(0.5, seed=3).photo == grouped.photo).all()  # drawn by the seed
    assert len(np.unique(data.in_group_photos(0.0).photo)) == 60
    assert (grouped.subset(grouped.labels != "a").photo == grouped.photo[grouped.labels != "a"]).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.in_group_photos(1.5)
    with pytest.raises(ValueError, match="for faces"):
        data.in_group_photos(0.5, mode="species")


def test_clashes_count_the_faces_sharing_a_group_with_another_face_of_their_photo():
    from photo_grouper.bench.quality import clashes

    photo = np.array([0, 0, 0, 1, 1, 2, 3])
    assert clashes(np.array([0, 1, 2, 0, 1, 0, 0]), photo) == 0
    assert clashes(np.array([0, 0, 1, 2, 2, 0, 0]), photo) == 2  # one of photo 0's pair, one of photo 1's
    assert clashes(np.zeros(7, int), photo) == 3  # all in one group: two of photo 0's three, one of photo 1's


def test_the_bench_tells_hi_lander_the_group_photos_and_counts_clashes_for_every_method():
    """Synthetic descriptors shaped like dlib's (a person's photos at cosine about 0.95 to each other), with the
    shipped face weights: every row counts clashes, Hi-LANDER has none, and a row without the photos is there."""
    from photo_grouper.bench.quality import format_table, score_methods
    from photo_grouper.clustering.knn import l2_normalise
    from photo_grouper.clustering.weights import default_weights, load_weights

    rng = np.random.default_rng(0)
    centres = l2_normalise(rng.standard_normal((24, 128)))
    labels = np.repeat(np.arange(24), 10)
    x = l2_normalise(centres[labels] + 0.02 * rng.standard_normal((240, 128))).astype(np.float32)
    names = np.array([f"person{i}" for i in labels])
    data = LabelledEmbeddings(x, names, [f"p{i}.jpg" for i in range(240)])
    tuning, test = data.subset(labels < 12), data.subset(labels >= 12).in_group_photos(0.6, seed=1)
    model, card = load_weights(default_weights("faces"))
    rows, hl, _ = score_methods(test, tuning, model, card["tau"], "faces", join_floor=card["join_floor"])
    assert all("clashes" in r for r in rows)
    by_method = {r["method"]: r for r in rows}
    assert by_method["hi-lander"]["clashes"] == 0 and "hi-lander (photos not told)" in by_method
    assert hl.zoom_out == 0 and hl.default_level_ == len(hl.levels_) - 1  # no zoom-out levels unless asked
    table = format_table({"data": "synthetic", "mode": "faces", "test_items": 120, "test_identities": 12,
                          "tuned_on": "the others", "group_photos": 0.6, "photos": 240, "detection_misses": 0,
                          "failed": 0, "rows": rows, "purity_vs_average_linkage": []})
    assert "60% of the test faces in group photos" in table and "clashes |" in table.splitlines()[3]


def test_the_bench_lists_zoom_out_levels_by_step_when_asked():
    from photo_grouper.bench.quality import score_methods
    from photo_grouper.clustering.knn import l2_normalise
    from photo_grouper.clustering.weights import default_weights, load_weights

    rng = np.random.default_rng(0)
    centres = l2_normalise(rng.standard_normal((24, 128)))
    labels = np.repeat(np.arange(24), 10)
    x = l2_normalise(centres[labels] + 0.02 * rng.standard_normal((240, 128))).astype(np.float32)
    data = LabelledEmbeddings(x, np.array([f"person{i}" for i in labels]), [f"p{i}.jpg" for i in range(240)])
    tuning, test = data.subset(labels < 12), data.subset(labels >= 12)
    model, card = load_weights(default_weights("faces"))
    rows, hl, _ = score_methods(test, tuning, model, card["tau"], "faces", join_floor=card["join_floor"],
                                zoom_out=2)
    zoomed = hl.levels_[hl.default_level_ + 1:]
    assert 1 <= len(zoomed) <= 2
    by_method = {r["method"]: r for r in rows}
    assert f"+ {len(zoomed)} zoom out" in by_method["hi-lander"]["params"]
    for step, level in enumerate(zoomed, 1):
        assert by_method[f"hi-lander zoom out {step}"]["clusters"] == level.max() + 1
    assert not any(m.startswith(f"hi-lander level {hl.default_level_}") for m in by_method)
    checks = purity_check(test, hl)
    assert [c["zoom_out"] for c in checks] == [max(0, i - hl.default_level_) for i in range(len(hl.levels_))]


def test_forced_clashes_declare_each_stray_one_photo_with_faces_of_its_group():
    """Three photos of person 0 that look like person 1 sit in person 1's group; each is declared one photo with 5
    of that group's faces in turn (15 clashes), grouped again, and the two faces always end apart."""
    from photo_grouper.bench.quality import forced_clashes, format_table
    from photo_grouper.clustering.hilander import HiLander
    from photo_grouper.clustering.knn import l2_normalise
    from photo_grouper.clustering.weights import default_weights, load_weights

    rng = np.random.default_rng(0)
    centres = l2_normalise(rng.standard_normal((12, 128)))
    labels = np.repeat(np.arange(12), 10)
    place = labels.copy()
    place[:3] = 1  # person 0's first three photos look like person 1
    x = l2_normalise(centres[place] + 0.02 * rng.standard_normal((120, 128))).astype(np.float32)
    test = LabelledEmbeddings(x, np.array([f"person{i}" for i in labels]), [f"p{i}.jpg" for i in range(120)])
    model, card = load_weights(default_weights("faces"))
    hl = HiLander(model=model, tau=card["tau"], join_floor=card["join_floor"]).fit(x)
    assert len({hl.labels_[i] for i in (0, 1, 2, 10)}) == 1  # the strays are in person 1's group
    result = forced_clashes(test, hl)
    assert result["clashes"] == 15 and 0 <= result["no_loss"] <= 15
    assert result["worst_fp_change"] <= result["fp_change"]
    table = format_table({"data": "synthetic", "mode": "faces", "test_items": 120, "test_identities": 12,
                          "tuned_on": "-", "photos": 120, "detection_misses": 0, "failed": 0, "rows": [],
                          "purity_vs_average_linkage": [], "forced_clashes": result})
    assert "  15 clashes: Fp " in table
    # With group photos the run compared against was told them, and so is every run again.
    grouped = test.in_group_photos(0.5, seed=2)
    told = HiLander(model=model, tau=card["tau"], join_floor=card["join_floor"]).fit(x, apart=grouped.photo)
    assert len({told.labels_[i] for i in (0, 1, 2, 10)}) == 1
    assert forced_clashes(grouped, told)["clashes"] == 15
