"""The grid benchmark runs on real photos and shows the grid is lazy: loading a big group asks only for the
thumbnails of the first screen."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from photo_grouper.gui.bench_grid import measure  # noqa: E402


def test_a_big_group_loads_lazily_and_scrolls_to_the_end(qapp, faces_data):
    r = measure(faces_data / "celeb-07209", faces=1500, size=112)
    assert r["faces"] == 1500 and r["pages"] > 5
    on_screen = (1200 // 120 + 1) * (800 // 120 + 1)
    assert 0 < r["asked_at_load"] <= on_screen  # not 1,500
    assert r["asked"] == 1500  # every page was shown once, so every face was asked for once, none twice
    assert r["repaint_worst_ms"] > 0
