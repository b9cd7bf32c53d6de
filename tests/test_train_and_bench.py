"""`photo-grouper train` and `photo-grouper bench` on the real pet photos (species mode, small and quick)."""

import json

import pytest

from photo_grouper.cli import main


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    # The embedding cache goes to the user cache folder: keep the tests' out of the real one.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_train_then_bench_on_held_out_breeds(pets_data, tmp_path, private_cache, capsys):
    weights = tmp_path / "species.pt"
    assert main(["train", str(pets_data), "--mode", "species", "--out", str(weights), "--holdout", "0.5",
                 "--epochs", "4", "--episodes", "4", "--ensemble", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    card = json.loads(weights.with_suffix(".json").read_text())
    assert f"tau {card['tau']}" in printed and f"join floor {card['join_floor']:g}" in printed
    assert len(card["held_out_labels"]) == 10
    assert not set(card["held_out_labels"]) & set(card["train_labels"] + card["validation_labels"])
    assert card["encoder"].startswith("species:") and 0 < card["tau"] < 1
    assert len(card["fold_tau_scores"]) == len(card["folds"])  # each validation fold's curve, as well as the mean
    assert all(set(curve) == set(card["tau_scores"]) for curve in card["fold_tau_scores"])
    assert 0 < card["join_floor"] < 1  # learned from the training breeds
    assert any(p.name.endswith(".sqlite3") for p in private_cache.rglob("*"))  # embeddings cached

    out_json = tmp_path / "bench.json"
    assert main(["bench", str(pets_data), "--mode", "species", "--weights", str(weights), "--json", str(out_json),
                 "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "| hi-lander" in table and "hdbscan" in table and "k-means (oracle)" in table
    result = json.loads(out_json.read_text())
    assert result["test_identities"] == 10 and result["test_items"] == 100  # only breeds the weights never saw
    assert result["zoom_out"] == 4  # as many zoom-out levels as the app makes of species (zoom.ZOOM_OUT)
    methods = {r["method"]: r for r in result["rows"]}
    assert {"hi-lander", "chinese-whispers", "dbscan", "average-linkage", "hdbscan"} <= set(methods)
    assert len({"hi-lander (link rules)", "hi-lander (no link rules)"} & set(methods)) == 1  # the other setting
    # The card's join floor is used, and the row without it is there to compare.
    assert f"floor={card['join_floor']:g}" in methods["hi-lander"]["params"] and "hi-lander (no join floor)" in methods
    # The floor on whole trees, set the other way than the default, to compare.
    assert len({"hi-lander (tree floor)", "hi-lander (no tree floor)"} & set(methods)) == 1
    # Lone leaves: on by default, and the row without them there to compare.
    assert "lone leaves" in methods["hi-lander"]["params"] and "hi-lander (no lone leaves)" in methods
    assert "lone leaves" not in methods["hi-lander (no lone leaves)"]["params"]
    assert all(0 <= r["fp"] <= 1 and 0 <= r["fb"] <= 1 for r in result["rows"])
    # Even a 4-epoch model groups unseen breeds far better than chance.
    assert methods["hi-lander"]["fb"] > 0.5
    # Each level against average linkage cut at its count (a level of all singletons has nothing to compare).
    checks = result["purity_vs_average_linkage"]
    assert ("hi-lander ahead on precision on" in table) == bool(checks)
    assert all(0 <= c[f"{who}_{score}"] <= 1 for c in checks
               for who in ("hi_lander", "average_linkage") for score in ("precision", "fp"))


def test_bench_with_zoom_out_levels_lists_and_checks_them(pets_data, tmp_path, private_cache, capsys):
    out_json = tmp_path / "zoom.json"
    # Floors step down from the join floor; the first steps may join nothing (then no level is added for them).
    assert main(["bench", str(pets_data), "--mode", "species", "--zoom-out", "2", "--json", str(out_json),
                 "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "up to 2 zoom-out levels past the stop (the app stores 4)" in table
    result = json.loads(out_json.read_text())
    assert result["zoom_out"] == 2
    steps = [c["zoom_out"] for c in result["purity_vs_average_linkage"] if c["zoom_out"]]
    # Each zoom-out level has its row and its line against the same-count cut.
    assert steps and steps == list(range(1, len(steps) + 1))  # the held-out breeds: some steps join groups
    assert [r["method"] for r in result["rows"] if "zoom out" in r["method"]] == \
        [f"hi-lander zoom out {s}" for s in steps]
    assert all(f"(zoom out {s})" in table for s in steps)


def test_bench_with_people_seen_once_counts_those_left_alone(pets_data, tmp_path, private_cache, capsys):
    out_json = tmp_path / "once.json"
    assert main(["bench", str(pets_data), "--mode", "species", "--seen-once", "0.5", "--seed", "2",
                 "--json", str(out_json), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "50% of the test identities seen once" in table and "alone |" in table.splitlines()[3]
    result = json.loads(out_json.read_text())
    # The shipped species weights never saw 10 of the 20 breeds: 5 of them keep their 10 photos, 5 keep one.
    assert result["test_identities"] == 10 and result["test_items"] == 5 * 10 + 5 and result["seen_once"] == 0.5
    assert all(0 <= r["alone"] <= 1 for r in result["rows"])
    assert next(r for r in result["rows"] if r["method"] == "k-means (oracle)")["params"] == "k=10 (true)"
    assert main(["bench", str(pets_data), "--mode", "species", "--seen-once", "2", "--quiet"]) == 1
    assert "between 0 and 1" in capsys.readouterr().err


def test_train_on_a_full_disk_says_so_and_keeps_the_earlier_weights(pets_data, tmp_path, private_cache, capsys,
                                                                     monkeypatch):
    from photo_grouper.clustering import weights as weights_module

    out = tmp_path / "species.pt"
    quick = ["--mode", "species", "--out", str(out), "--epochs", "2", "--episodes", "2", "--ensemble", "1", "--quiet"]
    assert main(["train", str(pets_data), *quick]) == 0
    before = out.read_bytes(), out.with_suffix(".json").read_text()
    capsys.readouterr()

    def full_disk(obj, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(weights_module.torch, "save", full_disk)
    assert main(["train", str(pets_data), *quick, "--seed", "1"]) == 1
    err = capsys.readouterr().err
    assert f"could not write {out}: No space left on device (any earlier file there is kept)" in err
    assert (out.read_bytes(), out.with_suffix(".json").read_text()) == before


def test_train_refuses_an_output_it_cannot_write_before_training(pets_data, tmp_path, private_cache, capsys):
    (tmp_path / "a-file").write_text("not a folder")
    out = tmp_path / "a-file" / "w.pt"
    assert main(["train", str(pets_data), "--mode", "species", "--out", str(out), "--quiet"]) == 1
    assert f"could not write {out}" in capsys.readouterr().err
    assert not private_cache.exists()  # stopped before embedding anything, let alone training


def test_train_refuses_labels_of_one_photo_each(faces_data, tmp_path, private_cache, capsys):
    """Links are learned from two photos of one person: with one photo per folder there is nothing to learn (the
    weights would link nothing, and cross-validation over such folders would call that perfect)."""
    from .conftest import copy_identities

    folder = tmp_path / "once"
    copy_identities(faces_data, folder, sorted(p.name for p in faces_data.iterdir())[:5], per=1)
    out = tmp_path / "w.pt"
    assert main(["train", str(folder), "--mode", "faces", "--out", str(out), "--quiet"]) == 1
    assert ("has fewer than 4 labelled folders with two or more faces (5 of 5 hold one); nothing to learn links "
            "from") in capsys.readouterr().err
    assert not out.exists()


def test_validation_and_conv_choices_match_training_s(capsys):
    from photo_grouper import cli
    from photo_grouper.clustering.lander import CONVS
    from photo_grouper.clustering.training import VALIDATIONS

    assert cli.VALIDATIONS == VALIDATIONS
    assert sorted(cli.CONVS) == sorted(CONVS)


def test_bench_without_weights_or_with_damaged_ones_says_so(pets_data, tmp_path, private_cache, capsys):
    assert main(["bench", str(pets_data), "--mode", "species", "--weights", str(tmp_path / "none.pt"),
                 "--quiet"]) == 1
    assert "none.pt" in capsys.readouterr().err
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"PK\x03\x04 cut short")
    assert main(["bench", str(pets_data), "--mode", "species", "--weights", str(damaged), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "damaged.pt" in err and "is not Hi-LANDER weights" in err and "Traceback" not in err


def test_bench_with_folds_tests_every_breed_once(pets_data, tmp_path, private_cache, capsys):
    out_json = tmp_path / "cross.json"
    assert main(["bench", str(pets_data), "--mode", "species", "--folds", "3", "--epochs", "3", "--episodes", "3",
                 "--ensemble", "1", "--json", str(out_json), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "3 folds" in table and "Fp per fold" in table and "| hdbscan" in table
    result = json.loads(out_json.read_text())
    folds = [set(f["labels"]) for f in result["folds"]]
    assert len(folds) == 3 and set.union(*folds) == {p.name for p in pets_data.iterdir() if p.is_dir()}
    assert sum(len(f) for f in folds) == 20 and sum(f["items"] for f in result["folds"]) == 200
    for row in result["rows"]:
        assert row["fp"] == pytest.approx(sum(row["fp_folds"]) / 3)
        fold_rows = [next(r for r in f["rows"] if r["method"] == row["method"]) for f in result["folds"]]
        assert row["clusters"] == sum(r["clusters"] for r in fold_rows)
    assert "hi-lander (tau per library)" in {r["method"] for r in result["rows"]}  # the search, opt-in
    for fold in result["folds"]:  # the search kept a tau it scored, from the band around the fold's trained tau
        search = fold["tau_search"]
        assert f"{search['kept']:g}" in search["climb"] and set(search["climb"]) <= set(search["band"])
    # Even 3-epoch models group unseen breeds far better than chance at their trained tau. (The per-library search
    # trusts the model's probabilities: with such weak models it can keep nearly all singletons, so not checked.)
    hl = next(r for r in result["rows"] if r["method"] == "hi-lander")
    assert hl["fb"] > 0.5
    assert all(0 < f["tau"] < 1 and 0 < f["join_floor"] < 1 for f in result["folds"])


def test_bench_with_folds_refuses_given_weights(pets_data, tmp_path, private_cache, capsys):
    assert main(["bench", str(pets_data), "--folds", "3", "--weights", str(tmp_path / "w.pt"), "--quiet"]) == 1
    assert "--folds trains its own weights" in capsys.readouterr().err


def test_bench_recipe_options_need_folds(pets_data, private_cache, capsys):
    assert main(["bench", str(pets_data), "--mode", "species", "--epochs", "3", "--quiet"]) == 1
    assert "add --folds N" in capsys.readouterr().err
    assert main(["bench", str(pets_data), "--mode", "species", "--validation", "with_training", "--quiet"]) == 1
    assert "add --folds N" in capsys.readouterr().err
    assert main(["bench", str(pets_data), "--mode", "species", "--conv", "gat", "--quiet"]) == 1
    assert "add --folds N" in capsys.readouterr().err


def test_bench_group_photos_are_for_faces(pets_data, private_cache, capsys):
    assert main(["bench", str(pets_data), "--mode", "species", "--group-photos", "0.5", "--quiet"]) == 1
    assert "--group-photos and --forced-clashes are for faces" in capsys.readouterr().err
    assert main(["bench", str(pets_data), "--mode", "species", "--forced-clashes", "--quiet"]) == 1


def test_bench_with_folds_keeps_and_reuses_fold_models(pets_data, tmp_path, private_cache, capsys, monkeypatch):
    import photo_grouper.clustering.training as training

    models = tmp_path / "fold-models"
    args = ["bench", str(pets_data), "--mode", "species", "--folds", "2", "--epochs", "2", "--episodes", "2",
            "--ensemble", "1", "--fold-models", str(models), "--quiet"]
    assert main(args + ["--json", str(tmp_path / "first.json")]) == 0
    saved = sorted(p.name for p in models.glob("*.pt"))
    assert saved == ["species-seed0-fold1of2.pt", "species-seed0-fold2of2.pt"]
    calls = []
    real_train = training.train
    monkeypatch.setattr(training, "train", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    # Same data, partition and recipe: nothing is trained, and every row is scored as before.
    assert main(args + ["--json", str(tmp_path / "second.json")]) == 0
    assert calls == []
    first, second = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("first", "second"))
    assert [(f["tau"], f["join_floor"]) for f in first["folds"]] == [(f["tau"], f["join_floor"])
                                                                   for f in second["folds"]]
    hl = [[(r["method"], r["fp"], r["fb"]) for r in res["rows"] if r["method"].startswith("hi-lander")]
          for res in (first, second)]
    assert hl[0] == hl[1] and hl[0]
    assert first["folds"][0]["tau_curve_validation"] == second["folds"][0]["tau_curve_validation"]
    # Each cross-validation fold's own curve is kept too; their mean is the curve tau was picked from.
    for fold in (first["folds"][0], second["folds"][0]):
        curves = fold["tau_curve_validation_folds"]
        assert len(curves) >= 2 and all(set(c) == set(fold["tau_curve_validation"]) for c in curves)
        for t, m in fold["tau_curve_validation"].items():
            assert m["fp"] == pytest.approx(sum(c[t]["fp"] for c in curves) / len(curves))
    assert first["folds"][1]["tau_curve_validation_folds"] == second["folds"][1]["tau_curve_validation_folds"]
    # Another recipe (or seed) is another model: trained again, and the file replaced.
    other = list(args)
    other[other.index("--epochs") + 1] = "3"
    assert main(other) == 0
    assert len(calls) == 2
    # So is another way of scoring the validation folds; the cards say which was used.
    assert main(args + ["--validation", "with_training"]) == 0
    assert len(calls) == 4
    cards = [json.loads(p.read_text()) for p in models.glob("*.json")]
    assert [c["trained_for"]["config"]["validation"] for c in cards] == ["with_training"] * 2
    # And another graph layer (the reference's attention for species), kept with the weights.
    assert main(args + ["--conv", "gat"]) == 0
    assert len(calls) == 6
    from photo_grouper.clustering.lander import AttentionConv
    from photo_grouper.clustering.weights import load_weights

    for path in models.glob("*.pt"):
        model, card = load_weights(path)
        assert card["trained_for"]["config"]["conv"] == "gat" and isinstance(model.convs[0], AttentionConv)
    capsys.readouterr()
    # Without --folds the option has nothing to keep.
    assert main(["bench", str(pets_data), "--mode", "species", "--fold-models", str(models), "--quiet"]) == 1
    assert "add --folds N" in capsys.readouterr().err


@pytest.fixture
def few_people(faces_data, tmp_path):
    """A small second labelled folder: 8 CelebA people, 4 photos each."""
    from .conftest import copy_identities

    folder = tmp_path / "people"
    copy_identities(faces_data, folder, sorted(p.name for p in faces_data.iterdir())[:8], per=4)
    return folder


def test_train_with_an_added_folder_records_it_and_keeps_tau_to_the_first(pets_data, few_people, tmp_path,
                                                                           private_cache, capsys):
    weights = tmp_path / "species.pt"
    quick = ["--mode", "species", "--holdout", "0.5", "--epochs", "2", "--episodes", "2", "--ensemble", "1",
             "--quiet"]
    assert main(["train", str(pets_data), "--out", str(weights), *quick, "--add", str(few_people)]) == 0
    assert "every model also learned from episodes of the 8 labels of" in capsys.readouterr().out
    card = json.loads(weights.with_suffix(".json").read_text())
    assert card["added"]["data"] == str(few_people.resolve()) and card["added"]["items"] == 32
    assert len(card["added"]["labels"]) == 8
    assert card["config"]["added_episodes"] == 18 and card["config"]["added_labels"] == [8, 16]
    # Cross-validation and the floor are over the breeds only.
    assert card["labels"] == 10 and not set(card["added"]["labels"]) & set(sum(card["folds"], []))
    plain = tmp_path / "plain.pt"
    assert main(["train", str(pets_data), "--out", str(plain), *quick]) == 0
    plain_card = json.loads(plain.with_suffix(".json").read_text())
    assert "added" not in plain_card and plain_card["join_floor"] == card["join_floor"]
    assert plain_card["folds"] == card["folds"]
    capsys.readouterr()
    # The folder trained on cannot be added to itself, and a missing one is told before any work.
    assert main(["train", str(pets_data), "--out", str(plain), *quick, "--add", str(pets_data)]) == 1
    assert "is the folder being trained on" in capsys.readouterr().err
    assert main(["train", str(pets_data), "--out", str(plain), *quick, "--add", str(tmp_path / "none")]) == 1
    assert "folder not found" in capsys.readouterr().err
    # Nor can a folder that shares a label with it: that label, held out, would be trained on all the same.
    from .conftest import copy_identities

    copy_identities(pets_data, few_people, ["beagle"], per=2)
    assert main(["train", str(pets_data), "--out", str(plain), *quick, "--add", str(few_people)]) == 1
    assert "both have label folders named beagle" in capsys.readouterr().err
    assert json.loads(plain.with_suffix(".json").read_text()) == plain_card  # nothing written


def test_bench_with_folds_and_an_added_folder_keeps_its_own_fold_models(pets_data, few_people, tmp_path,
                                                                        private_cache, capsys, monkeypatch):
    import photo_grouper.clustering.training as training
    from photo_grouper.clustering.weights import load_weights

    models = tmp_path / "fold-models"
    args = ["bench", str(pets_data), "--mode", "species", "--folds", "2", "--epochs", "2", "--episodes", "2",
            "--ensemble", "1", "--fold-models", str(models), "--quiet"]
    out_json = tmp_path / "added.json"
    assert main(args + ["--add", str(few_people), "--json", str(out_json)]) == 0
    assert f"every fold's training also saw episodes of the 8 labels of {few_people.resolve()}" in \
        capsys.readouterr().out
    result = json.loads(out_json.read_text())
    assert result["added"] == {"data": str(few_people.resolve()), "labels": 8, "items": 32}
    assert result["test_identities"] == 20  # the breeds only are tested
    for path in models.glob("*.pt"):
        assert load_weights(path)[1]["trained_for"]["added"] == str(few_people.resolve())
    calls = []
    real_train = training.train
    monkeypatch.setattr(training, "train", lambda *a, **k: calls.append(k.get("added")) or real_train(*a, **k))
    assert main(args + ["--add", str(few_people)]) == 0
    assert calls == []  # the same training: kept models reused
    assert main(args) == 0
    assert calls == [None, None]  # without the added folder: other models, trained again
    capsys.readouterr()
    assert main(["bench", str(pets_data), "--mode", "species", "--add", str(few_people), "--quiet"]) == 1
    assert "add --folds N" in capsys.readouterr().err


def test_shipped_species_card_holds_the_join_floor_of_its_training_breeds(pets_data, private_cache):
    import numpy as np

    from photo_grouper.clustering.weights import default_weights, load_weights
    from photo_grouper.clustering.training import learn_join_floor
    from photo_grouper.labelled import embed_labelled
    from photo_grouper.vision import EncoderSpec

    _, card = load_weights(default_weights("species"))
    data = embed_labelled(pets_data, EncoderSpec.of("species"))
    keep = np.isin(data.labels, card["train_labels"])
    assert keep.sum() == card["items"]
    assert card["join_floor"] == learn_join_floor(data.x[keep], data.labels[keep], seed=card["config"]["seed"])
