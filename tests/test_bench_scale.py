"""The scale benchmark: the synthetic embeddings grouped, with how often progress was heard, and its --library run
(grouped as `index` groups them, and stored)."""

import re

import pytest

from photo_grouper.bench.scale import main


def test_library_run_stores_the_hierarchy_the_estimator_builds(capsys):
    assert main(["--n", "2000", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    said = re.search(r" groups (\d+) \(true \d+\) at level (\d+), where it stopped, and (\d+) zoom-out level", out)
    estimator, default, zoom_out = (int(g) for g in said.groups())
    assert zoom_out >= 1  # the app's zoom-out levels, timed with the rest
    assert re.search(r"^    0      2000 .* exact$", out, flags=re.M)  # each level says which search ran
    gap = re.search(r"progress reported (\d+) times; longest gap ([\d.]+) s \(from (\d+) to (\d+) thousandths\)", out)
    assert int(gap.group(1)) >= 5 and 0 <= int(gap.group(3)) < int(gap.group(4)) <= 1000

    assert main(["--n", "2000", "--threads", "1", "--library"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"grouped a library of 2000 faces in [\d.]+ s: reading the vectors and grouping [\d.]+ s, "
                     r"storing the hierarchy [\d.]+ s; peak memory \d+ MB", out)
    stored = re.search(r"stored: (\d+) faces in groups; groups per level ([\d / ]+) \(the default, level (\d+): "
                       r"(\d+); (\d+) zoom-out level\(s\) above it\)", out)
    per_level = [int(g) for g in stored.group(2).split(" / ")]
    assert int(stored.group(1)) == 2000
    assert per_level == sorted(per_level, reverse=True) and len(per_level) == default + 1 + zoom_out
    assert (int(stored.group(3)), int(stored.group(5))) == (default, zoom_out)
    assert per_level[default] == int(stored.group(4)) == estimator


@pytest.mark.parametrize("option", [["--copies", "0.05"], ["--dim", "64"], ["--recall", "100"]])
def test_library_run_refuses_what_the_app_does_not_do(option, capsys):
    with pytest.raises(SystemExit):
        main(["--n", "2000", "--library", *option])
    assert "--library groups as the app does" in capsys.readouterr().err


def test_longest_gap_names_the_stretch_without_a_report():
    from photo_grouper.bench.scale import longest_gap

    line = longest_gap([(0.0, 0), (0.5, 100), (3.0, 400), (3.2, 1000)])
    assert line == ("progress reported 4 times; longest gap 2.5 s (from 100 to 400 thousandths): "
                    "a cancel is heard within it")
    assert longest_gap([(0.0, 1000)]) == "progress reported 1 time(s)"


def test_group_photos_hold_2_to_4_faces_of_different_groups():
    import numpy as np

    from photo_grouper.bench.scale import group_photos, synthetic_library

    _, labels = synthetic_library(3000)
    photo = group_photos(labels, 0.3)
    faces = np.bincount(photo)
    assert np.array_equal(np.unique(photo), np.arange(len(faces)))
    assert faces.max() <= 4 and 800 <= (faces[photo] > 1).sum() <= 900  # about 30% of 3000 in group photos
    pairs = np.unique(np.stack([photo, labels]), axis=1)
    assert pairs.shape[1] == len(labels)  # no group twice in a photo


def test_library_run_with_group_photos_keeps_each_photo_s_faces_apart(capsys, monkeypatch):
    import numpy as np

    import photo_grouper.grouping as grouping

    kept = {}
    fit = grouping.HiLander.fit

    def recording(self, x, y=None, **options):
        kept["apart"] = options.get("apart")
        kept["h"] = fit(self, x, y, **options)
        return kept["h"]

    monkeypatch.setattr(grouping.HiLander, "fit", recording)
    assert main(["--n", "2000", "--threads", "1", "--library", "--group-photos", "0.4"]) == 0
    assert re.search(r", (\d+) faces in a photo with others", capsys.readouterr().out)
    photo = kept["apart"]
    assert photo is not None and (np.bincount(photo) > 1).sum() > 100  # the library's photos, as stored
    for level in kept["h"].levels_:
        assert np.unique(np.stack([photo, level]), axis=1).shape[1] == len(photo)


def test_reference_work_is_timed_before_and_after_and_the_total_given_as_a_multiple(capsys, monkeypatch):
    """The machine's speed at the moment, measured in the same process: on a machine that varies from run to run
    the multiple, not the seconds, compares two runs. Off by default below 100,000 embeddings."""
    import photo_grouper.bench.scale as scale

    monkeypatch.setattr(scale, "REFERENCE_N", 1000)
    assert main(["--n", "2000", "--threads", "1", "--reference"]) == 0
    out = capsys.readouterr().out
    total = float(re.search(r"^total ([\d.]+) s,", out, flags=re.M).group(1))
    line = re.search(r"reference work \(hnswlib on 1000 synthetic faces, fixed settings\): ([\d.]+) s before, "
                     r"([\d.]+) s after; the total is ([\d.]+) times their mean", out)
    before, after, multiple = (float(g) for g in line.groups())
    assert before > 0 and after > 0
    # The multiple from the printed numbers, each rounded (the total to 0.1 s, the references to 0.01 s).
    low = 2 * max(total - 0.05, 0.0) / (before + after + 0.01)
    high = 2 * (total + 0.05) / max(before + after - 0.01, 1e-3)
    assert low - 0.05 <= multiple <= high + 0.05

    assert main(["--n", "2000", "--threads", "1"]) == 0
    assert "reference work" not in capsys.readouterr().out
