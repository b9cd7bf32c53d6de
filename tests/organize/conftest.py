"""A small real library built row by row: photos with faces, and a two-level automatic grouping over them."""

from dataclasses import dataclass

import pytest

from photo_grouper.organize import Organizer
from photo_grouper.store import Analysis, Cluster, ClusterMember, ClusterRun, Detection, Library, Photo


@dataclass
class Made:
    library: Library
    org: Organizer
    faces: dict  # (group letter, index) -> detection id
    fine: dict  # level-0 group letter -> cluster id
    coarse: dict  # level-1 group name -> cluster id


def make_library(path, fine_groups: dict[str, int], coarse: dict[str, list[str]], shared_photo=(),
                 default_level: int | None = None):
    """``fine_groups``: letter -> number of faces, one photo each, except the faces listed in ``shared_photo``
    (pairs of (letter, index)), which share one photo. ``coarse``: level-1 group -> the letters it joins.
    ``default_level``: the run's (0: level 1 is a zoom-out level; None: unrecorded, as before schema 7)."""
    lib = Library(path)
    faces, fine, top = {}, {}, {}
    with lib.session() as s:
        shared = None
        for letter, n in fine_groups.items():
            for i in range(n):
                if (letter, i) in shared_photo and shared is not None:
                    photo, analysis = shared
                else:
                    photo = Photo(path=f"/photos/{letter}{i}.jpg", size=1, mtime_ns=1, content_hash=f"{letter}{i}",
                                  width=100, height=100)
                    s.add(photo)
                    s.flush()
                    analysis = Analysis(photo_id=photo.id, pipeline="faces:test", status="done", found=1)
                    s.add(analysis)
                    s.flush()
                    if (letter, i) in shared_photo:
                        shared = (photo, analysis)
                det = Detection(photo_id=photo.id, analysis_id=analysis.id, kind="face", x=0.1, y=0.1, w=0.3,
                                h=0.3)
                s.add(det)
                s.flush()
                faces[(letter, i)] = det.id
        run = ClusterRun(mode="faces", model="test", weights="test", tau=0.8, items=len(faces), levels=2,
                         default_level=default_level)
        s.add(run)
        s.flush()
        for name, letters in coarse.items():
            c = Cluster(run_id=run.id, level=1, size=sum(fine_groups[x] for x in letters),
                        peak_detection_id=faces[(letters[0], 0)])
            s.add(c)
            s.flush()
            top[name] = c.id
            for letter in letters:
                f = Cluster(run_id=run.id, level=0, size=fine_groups[letter], parent_id=c.id,
                            peak_detection_id=faces[(letter, 0)])
                s.add(f)
                s.flush()
                fine[letter] = f.id
                for i in range(fine_groups[letter]):
                    s.add(ClusterMember(detection_id=faces[(letter, i)], run_id=run.id, cluster_id=f.id))
    return Made(lib, Organizer(lib, "faces"), faces, fine, top)


@pytest.fixture
def made(tmp_path):
    # Level 1: "AB" joins fine groups A (4 faces) and B (3); "C" is C alone (2). A1 and C1 share a photo.
    m = make_library(tmp_path / "lib.sqlite3", {"A": 4, "B": 3, "C": 2}, {"AB": ["A", "B"], "C": ["C"]},
                     shared_photo=[("A", 1), ("C", 1)])
    yield m
    m.library.close()
