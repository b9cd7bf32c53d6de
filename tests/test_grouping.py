"""The cluster stage on real photos: Hi-LANDER's hierarchy stored in the library and read back."""

import json
import math
import re
import shutil

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from photo_grouper.cli import main
from photo_grouper.grouping import cluster_library
from photo_grouper.organize import Organizer
from photo_grouper.jobs import index_folder
from photo_grouper.store import Cluster, ClusterMember, ClusterRun, Detection, Embedding, Library, Photo
from photo_grouper.vision import EncoderSpec

from .conftest import collage, copy_identities

PEOPLE = ["celeb-07209", "celeb-07212", "celeb-07213", "celeb-07225"]


def list_groups(lib, level=None):
    """(level, number of levels, groups largest first): with nobody named, only the automatic groups."""
    state, groups = Organizer(lib, "faces").groups(level)
    return state.level, state.levels, groups


def default_level(lib) -> int:
    with lib.session() as s:
        return s.scalars(select(ClusterRun)).one().default_level


@pytest.fixture(scope="module")
def library(tmp_path_factory, faces_data):
    root = tmp_path_factory.mktemp("grouping")
    # 15 photos each: with 10, two of these people (whose mean descriptors are at cosine 0.957) form one group
    # (README, "small libraries").
    copy_identities(faces_data, root / "photos", PEOPLE, per=15)
    path = root / "library.sqlite3"
    with Library(path) as lib:
        report = index_folder(lib, root / "photos", EncoderSpec.of("faces"), workers=2, cluster=True)
        # Every face but the boxes the face check turned down (two, here, on things that are not faces).
        assert report.check.rejected == 2
        assert report.cluster is not None and report.cluster["items"] == report.analyse.found - 2
    return path


def test_every_face_is_in_one_group_per_level(library):
    with Library(library) as lib, lib.session() as s:
        run = s.scalars(select(ClusterRun)).one()
        faces = s.scalar(select(func.count()).select_from(Detection).where(Detection.verified.is_not(False)))
        assert run.items == faces and run.levels >= 1
        assert s.scalar(select(func.count()).select_from(ClusterMember)) == faces
        clusters = s.scalars(select(Cluster)).all()
        by_id = {c.id: c for c in clusters}
        for level in range(run.levels):
            assert sum(c.size for c in clusters if c.level == level) == faces
        for c in clusters:
            if c.level < run.levels - 1:
                parent = by_id[c.parent_id]
                assert parent.level == c.level + 1 and parent.size >= c.size
            else:
                assert c.parent_id is None
        # Sizes add up through the parent links.
        for parent in (c for c in clusters if c.level > 0):
            assert sum(c.size for c in clusters if c.parent_id == parent.id) == parent.size


def test_groups_match_the_people(library):
    with Library(library) as lib:
        level, levels, groups = list_groups(lib)
        assert level == default_level(lib) < levels - 1  # listed where the grouping stopped, zoom-out levels above
        with lib.session() as s:
            members = s.execute(select(ClusterMember.detection_id, ClusterMember.cluster_id, Detection.photo_id)
                                .join(Detection, Detection.id == ClusterMember.detection_id)).all()
    # The four largest groups at the default level are the four people, mostly pure.
    assert len(groups) >= 4
    assert sum(g.size for g in groups[:4]) >= 0.8 * sum(g.size for g in groups)
    assert all(g.peak_photo and any(p in g.peak_photo for p in PEOPLE) for g in groups[:4])
    assert len({g.peak_photo.split("/")[-2] for g in groups[:4]}) == 4
    assert len(members) == sum(g.size for g in groups)


def test_zoom_out_levels_are_stored_above_where_the_grouping_stopped(library):
    """The run records the level where Hi-LANDER stopped (listed by default); above it, up to ZOOM_OUT["faces"]
    zoom-out levels, each joining groups of the one below (about 10% fewer each) and nothing else."""
    from photo_grouper.clustering.zoom import ZOOM_OUT

    with Library(library) as lib, lib.session() as s:
        run = s.scalars(select(ClusterRun)).one()
        counts = [s.scalar(select(func.count()).select_from(Cluster).where(Cluster.level == level))
                  for level in range(run.levels)]
        assert run.default_level is not None and 1 <= run.levels - 1 - run.default_level <= ZOOM_OUT["faces"]
        above = counts[run.default_level:]
        assert all(a > b for a, b in zip(above, above[1:]))  # each zoom-out level joins groups
        assert counts[-1] >= counts[run.default_level] - math.ceil(counts[run.default_level] * 0.4)


def test_reclustering_replaces_the_previous_result(library, capsys):
    with Library(library) as lib:
        before = list_groups(lib)[2]
        cluster_library(lib, "faces")
        with lib.session() as s:
            assert s.scalar(select(func.count()).select_from(ClusterRun)) == 1
        after = list_groups(lib)[2]
    assert [g.size for g in before] == [g.size for g in after]  # deterministic
    # New ids: a group listed before the grouping was replaced names no group of the new one.
    assert min(g.id for g in after) > max(g.id for g in before)
    assert main(["group", "name", f"g{before[0].id}", "X", "--library", str(library)]) == 1
    assert f"group g{before[0].id} is from an earlier grouping that re-clustering replaced" in capsys.readouterr().err


def test_a_grouping_killed_while_it_stores_leaves_the_one_before_whole(tmp_path):
    """The process is killed (power cut, kill -9) while the new hierarchy is being written, seen by the library's
    write-ahead log growing: the library opens with the grouping before, whole and consistent, and the next
    index finds it there (nothing it reads has changed, so it is kept). 30,000 synthetic faces, so that the write
    lasts long enough to be caught in (about a second here)."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    from photo_grouper.bench.library import insert_faces
    from photo_grouper.bench.scale import synthetic_library

    path = tmp_path / "library.sqlite3"
    x, _ = synthetic_library(30_000)
    with Library(path) as lib:
        with lib.session() as s:
            insert_faces(s, len(x), x)
        before = cluster_library(lib, "faces")
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists()  # the last connection closed: written back into the library
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from photo_grouper.grouping import cluster_library; "
         "from photo_grouper.store import Library; cluster_library(Library(sys.argv[1]), 'faces')", str(path)],
        start_new_session=True)
    try:
        while not (wal.exists() and wal.stat().st_size > 1 << 20):  # reading and grouping write nothing
            assert child.poll() is None, "the grouping ended before it was caught storing"
            time.sleep(0.005)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    with Library(path) as lib:
        with lib.session() as s:
            assert s.scalars(select(ClusterRun.id)).all() == [before.run_id]
            assert s.scalar(select(func.count()).select_from(ClusterMember)) == len(x)
            assert s.scalar(select(func.count()).select_from(Cluster).where(
                Cluster.level == s.scalar(select(ClusterRun.default_level)))) == before.groups
        again = cluster_library(lib, "faces", keep_unchanged=True)
    assert again.unchanged and again.run_id == before.run_id and again.groups == before.groups


@pytest.mark.parametrize("out_of_memory", [
    "CUDA out of memory. Tried to allocate 2.00 GiB",  # torch's caching allocator
    "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",  # a card another program fills
])
def test_a_gpu_out_of_memory_groups_on_the_cpu_and_says_so(library, monkeypatch, out_of_memory):
    """A small card, or one another program holds, runs out of memory while grouping: the grouping is done on the
    CPU instead (not failed, which every later index would repeat), the same groups, and the report says why.
    Run here without a GPU: the first grouping, on the default device, is made to run out as CUDA would
    (tests/test_device.py runs a card out of memory for real where there is one)."""
    import torch

    from photo_grouper.clustering.hilander import HiLander

    fit, devices, error = HiLander.fit, [], {}

    def on_a_small_card(self, *args, **kwargs):
        devices.append(self.device)
        if self.device == error.get("on"):
            raise error["raise"]
        return fit(self, *args, **kwargs)

    with Library(library) as lib:
        before = list_groups(lib)[2]
        monkeypatch.setattr(HiLander, "fit", on_a_small_card)
        out_of_memory = (torch.OutOfMemoryError if "Tried" in out_of_memory else RuntimeError)(out_of_memory)
        error.update({"on": None, "raise": out_of_memory})
        report = cluster_library(lib, "faces")
        assert devices == [None, "cpu"]
        assert report.fallback == "the GPU ran out of memory: grouped on the CPU instead"
        assert [g.size for g in list_groups(lib)[2]] == [g.size for g in before]
        # Asked for the CPU, or another error: nothing is tried again, and the error is the caller's.
        for on, raised in [("cpu", out_of_memory), (None, RuntimeError("something else"))]:
            devices.clear()
            error.update({"on": on, "raise": raised})
            with pytest.raises(RuntimeError, match=re.escape(str(raised))):
                cluster_library(lib, "faces", device=on)
            assert devices == [on]


def test_index_keeps_the_groups_where_nothing_it_groups_has_changed(library, tmp_path, capsys):
    """Indexing an unchanged folder again keeps the stored grouping (at a million faces grouping takes minutes,
    and where the search falls back to hnswlib its threaded index would not give the same groups twice); a change to what
    the grouping reads (here a box marked not a face) or --regroup groups again."""
    copy = tmp_path / "library.sqlite3"
    shutil.copy(library, copy)
    photos = library.parent / "photos"

    def stored_run(lib):  # (its digest of what it read, when it was made)
        with lib.session() as s:
            return s.execute(select(ClusterRun.inputs, ClusterRun.created_at)).one()

    with Library(copy) as lib:
        before, stored = list_groups(lib)[2], stored_run(lib)
        report = index_folder(lib, photos, EncoderSpec.of("faces"), workers=2, cluster=True)
        assert report.status == "completed" and report.cluster["unchanged"] and stored_run(lib) == stored
        assert report.cluster["groups"] == len(before) and report.cluster["items"] == sum(g.size for g in before)
        top = list_groups(lib)[1] - 1
        assert (report.cluster["levels"], report.cluster["zoom_out"]) == (default_level(lib) + 1,
                                                                         top - default_level(lib))
        assert [(g.ref, g.size) for g in list_groups(lib)[2]] == [(g.ref, g.size) for g in before]
        Organizer(lib, "faces").ignore([before[0].peak_detection_id], "not-a-face")
        report = index_folder(lib, photos, EncoderSpec.of("faces"), workers=2, cluster=True)
        assert not report.cluster["unchanged"] and stored_run(lib)[0] != stored[0]
        assert report.cluster["items"] == sum(g.size for g in before) - 1
    assert main(["index", str(photos), "--library", str(copy), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "groups kept: nothing the grouping reads has changed since it last ran" in out
    with Library(copy) as lib:
        stored = stored_run(lib)
    assert main(["index", str(photos), "--library", str(copy), "--quiet", "--regroup"]) == 0
    assert "groups kept" not in capsys.readouterr().out
    with Library(copy) as lib:
        assert stored_run(lib)[0] == stored[0] and stored_run(lib)[1] > stored[1]  # the same input, grouped again


def test_what_the_grouping_reads_includes_how_many_zoom_out_levels_it_makes(monkeypatch):
    """A release that makes other zoom-out levels groups an unchanged library again (its stored levels would
    differ); weights with no join floor make none."""
    from photo_grouper.clustering import zoom
    from photo_grouper.clustering.weights import default_weights
    from photo_grouper.grouping import grouping_inputs

    ids, x, photos = np.arange(3), np.eye(3, dtype=np.float32), np.arange(3)
    card = {"tau": 0.8, "join_floor": 0.9}
    digest = grouping_inputs("faces", "m", default_weights("faces"), card, ids, x, photos)
    assert zoom.zoom_out_levels("faces", card) == zoom.ZOOM_OUT["faces"] > 0
    assert zoom.zoom_out_levels("faces", {"tau": 0.8}) == 0
    monkeypatch.setitem(zoom.ZOOM_OUT, "faces", 2)
    assert grouping_inputs("faces", "m", default_weights("faces"), card, ids, x, photos) != digest


def test_index_says_which_suggestions_are_new(library, tmp_path):
    """Every grouping makes the suggestions again; the summary tells the new ones from those still waiting."""
    copy = tmp_path / "library.sqlite3"
    shutil.copy(library, copy)
    photos = library.parent / "photos"
    with Library(copy) as lib:
        org = Organizer(lib, "faces")
        largest = list_groups(lib)[2][0]
        org.split(largest.ref, faces=[m.detection_id for m in org.show(largest.ref)[1]][:3], name="Ann")
        first = index_folder(lib, photos, EncoderSpec.of("faces"), workers=2, cluster=True).cluster
        again = index_folder(lib, photos, EncoderSpec.of("faces"), workers=2, cluster=True).cluster
        waiting = org.show("Ann")[0].suggested
    assert first["new_suggested"] == first["suggested"] == waiting >= largest.size - 3 - 2
    assert again["suggested"] == waiting and again["new_suggested"] == 0


def test_grouping_reports_progress_and_a_cancel_keeps_the_stored_groups(library):
    import threading

    from photo_grouper.progress import Cancelled

    heard = []
    with Library(library) as lib:
        report = cluster_library(lib, "faces", progress=lambda done, total: heard.append((done, total)))
        before = [(g.ref, g.size) for g in list_groups(lib)[2]]
        with lib.session() as s:
            run = s.scalars(select(ClusterRun)).one().id
        flag = threading.Event()

        def cancel_halfway(done, total):
            if done >= 500:
                flag.set()

        with pytest.raises(Cancelled) as stopped:
            cluster_library(lib, "faces", progress=cancel_halfway, cancel=flag)
        assert stopped.value.partial.items == report.items  # what it was grouping
        with lib.session() as s:
            assert s.scalars(select(ClusterRun)).one().id == run  # the last hierarchy stays, whole
        assert [(g.ref, g.size) for g in list_groups(lib)[2]] == before
    done = [d for d, _ in heard]
    assert heard[0] == (0, 1000) and heard[-1] == (1000, 1000) and done == sorted(done) and len(set(done)) >= 5
    # Storing: each level's groups, the zoom-out levels' too.
    assert len({d for d in done if 950 < d < 1000}) == report.levels + report.zoom_out


def test_index_cancelled_while_grouping_says_so_and_keeps_the_groups(library):
    import threading

    flag = threading.Event()

    def progress(stage, done, total):
        if stage == "cluster" and done >= 300:
            flag.set()

    with Library(library) as lib:
        before = [(g.ref, g.size) for g in list_groups(lib)[2]]
        report = index_folder(lib, library.parent / "photos", EncoderSpec.of("faces"), workers=2, cluster=True,
                              progress=progress, cancel=flag, regroup=True)  # nothing new: only asked to
        assert report.status == "cancelled" and report.cluster is None
        assert report.cluster_note == "grouping stopped before the end: the groups are still the last grouping's"
        assert [(g.ref, g.size) for g in list_groups(lib)[2]] == before


def test_groups_cli(library, capsys):
    assert main(["groups", "--library", str(library), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["groups"] and out["level"] == out["default_level"] < out["levels"] - 1
    assert main(["groups", "--library", str(library)]) == 0
    first, top = out["default_level"] + 1, out["levels"] - 1  # the zoom-out levels, named in the heading
    zoom = f"--level {first} to {top} zoom out" if top > first else f"--level {first} zoom out"
    assert f"at level {first - 1} of {top + 1} (0 = finest; where the grouping stopped; {zoom})" in \
        capsys.readouterr().out
    assert main(["groups", "--library", str(library), "--level", "0"]) == 0
    assert "level 0" in capsys.readouterr().out
    assert main(["groups", "--library", str(library), "--level", "99"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["groups", "--library", str(library), "--mode", "species"]) == 0
    assert "no species groups in this library; it holds faces groups: photo-grouper groups --mode faces" \
        in capsys.readouterr().out


def test_groups_cli_leaves_out_small_groups_and_says_how_many(library, capsys):
    assert main(["groups", "--library", str(library), "--level", "0", "--json"]) == 0
    every = json.loads(capsys.readouterr().out)["groups"]
    sizes = sorted(g["size"] for g in every)
    cut = sizes[len(sizes) // 2] + 1  # about half the groups are smaller
    small = [g for g in every if g["kind"] == "auto" and g["size"] < cut]  # people are always listed
    assert small and len(small) < len(every)
    assert main(["groups", "--library", str(library), "--level", "0", "--json", "--min-size", str(cut)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [g["ref"] for g in out["groups"]] == [g["ref"] for g in every if g not in small]
    assert out["left_out"] == {"groups": len(small), "faces": sum(g["size"] for g in small)}
    assert main(["groups", "--library", str(library), "--level", "0", "--min-size", str(cut)]) == 0
    text = capsys.readouterr().out
    assert f"and {len(small)} automatic groups of fewer than {cut} faces ({sum(g['size'] for g in small)} faces), " \
           "not listed" in text
    assert all(f" {g['ref']} " not in text for g in small)


def test_groups_cli_on_a_library_never_grouped(tmp_path, capsys):
    Library(tmp_path / "new.db").close()  # made, nothing indexed into it
    assert main(["groups", "--library", str(tmp_path / "new.db")]) == 0
    assert "no groups yet: run photo-grouper index FOLDER --mode faces" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["groups"], ["people"], ["status"], ["history"], ["undo"], ["group", "show", "g1"],
                                  ["group", "name", "g1", "Ann"], ["export", "--out", "albums"]])
def test_commands_that_read_a_library_do_not_make_one(tmp_path, capsys, monkeypatch, argv):
    """A mistyped --library is said, not made: an empty library (and its folders) would be left behind, and the
    command would say it holds nothing."""
    monkeypatch.chdir(tmp_path)
    typo = tmp_path / "elsewhere" / "libary.sqlite3"
    assert main([*argv, "--library", str(typo)]) == 1
    assert capsys.readouterr().err.strip() == (f"photo-grouper: error: no library at {typo}: index a folder into it "
                                               f"first (photo-grouper index FOLDER --library {typo})")
    assert list(tmp_path.iterdir()) == []


def test_level_sizes_coarsen(library):
    with Library(library) as lib:
        _, levels, _ = list_groups(lib)
        counts = [len(list_groups(lib, level=i)[2]) for i in range(levels)]
    assert counts == sorted(counts, reverse=True) and len(set(counts)) == len(counts)
    assert np.all(np.diff(counts) < 0)


def _group_of_each_photo(root, library, mode="faces"):
    """Index ``root`` into ``library`` and cluster: ({level: {photo path: group}} (one face a photo here), the
    default level)."""
    with Library(library) as lib:
        index_folder(lib, root, EncoderSpec.of(mode), workers=2, cluster=True)
        with lib.session() as s:
            run = s.scalars(select(ClusterRun)).one()
            # Both modes make zoom-out levels (zoom.ZOOM_OUT) above the default one.
            assert run.default_level < run.levels - 1
            rows = s.execute(select(Cluster.level, Cluster.id, Photo.path)
                             .join(ClusterMember, ClusterMember.cluster_id == Cluster.id)
                             .join(Detection, Detection.id == ClusterMember.detection_id)
                             .join(Photo, Photo.id == Detection.photo_id)).all()
    levels: dict[int, dict[str, int]] = {}
    for level, group, path in rows:
        levels.setdefault(level, {})[path] = group
    return levels, run.default_level


def _assert_grouped_with_their_person(grouped, copies: set[str], person: str):
    levels, default = grouped
    for group_of in levels.values():
        assert len({group_of[p] for p in copies}) == 1  # the copies share one group at every level
    shown = levels[default]
    group = shown[next(iter(copies))]
    together = [p for p in shown if shown[p] == group and p not in copies]
    assert sum(f"/{person}/" in p for p in together) >= 5  # with the person's other photos


def test_copies_of_a_photo_are_grouped_with_their_person(tmp_path, faces_data, capsys):
    """A photo kept in a backup folder many times over gives the same descriptor each time; the copies join
    their person's group instead of filling each other's neighbour lists (k=10) and standing apart."""
    photos = copy_identities(faces_data, tmp_path / "photos", PEOPLE[:3], per=10)
    original, backup = photos[0], tmp_path / "photos" / "backup"
    backup.mkdir()
    for i in range(12):
        shutil.copy2(original, backup / f"copy{i}.jpg")
    levels = _group_of_each_photo(tmp_path / "photos", tmp_path / "library.sqlite3")
    _assert_grouped_with_their_person(levels, {str(p) for p in [original, *backup.iterdir()]}, PEOPLE[0])
    assert main(["index", str(tmp_path / "photos"), "--library", str(tmp_path / "library.sqlite3"), "--quiet",
                 "--regroup"]) == 0  # nothing changed: grouped again only when asked, to print its summary
    assert "  12 of them copies of a photo kept or saved twice: grouped with it" in capsys.readouterr().out


@pytest.mark.parametrize("mode, data, names", [("faces", "faces_data", PEOPLE[:3]),
                                               ("species", "pets_data", ["Bombay", "Siamese", "basset_hound"])])
def test_a_photo_saved_again_is_grouped_with_its_person(tmp_path, request, mode, data, names):
    """Saved again (re-compressed at other qualities) a photo is not byte-identical, but its descriptor is within a
    hair of the first: the near copies are clustered once, with their person (or species)."""
    photos = copy_identities(request.getfixturevalue(data), tmp_path / "photos", names, per=10)
    original, saved = photos[0], tmp_path / "photos" / "saved again"
    saved.mkdir()
    with Image.open(original) as im:
        for quality in range(75, 99, 2):  # 12 copies
            im.save(saved / f"q{quality}.jpg", quality=quality)
    levels = _group_of_each_photo(tmp_path / "photos", tmp_path / "library.sqlite3", mode)
    _assert_grouped_with_their_person(levels, {str(p) for p in [original, *saved.iterdir()]}, names[0])


def test_a_damaged_descriptor_is_left_out_and_said_so(tmp_path, faces_data, capsys):
    """A stored vector that is not finite numbers (a damaged file, an edited database) would leave every face
    alone: it is left out of the groups, the others are grouped, and the summary says so."""
    copy_identities(faces_data, tmp_path / "photos", PEOPLE[:2], per=8)
    library = tmp_path / "library.sqlite3"
    with Library(library) as lib:
        index_folder(lib, tmp_path / "photos", EncoderSpec.of("faces"), workers=2, cluster=False)
        with lib.session() as s:
            emb = s.scalars(select(Embedding).order_by(Embedding.id)).first()
            damaged = emb.detection_id
            vector = emb.array.copy()
            vector[7] = np.nan
            emb.vector = Embedding.pack(vector)
    assert main(["index", str(tmp_path / "photos"), "--library", str(library), "--quiet"]) == 0
    assert "left out 1 damaged descriptor(s) (not finite numbers): those faces stay ungrouped" \
        in capsys.readouterr().out
    with Library(library) as lib, lib.session() as s:
        grouped = set(s.scalars(select(ClusterMember.detection_id)))
        faces = set(s.scalars(select(Detection.id).where(Detection.verified.is_not(False))))
        assert grouped == faces - {damaged}
        _, _, groups = list_groups(lib)
    assert max(g.size for g in groups) >= 5  # the rest is grouped, not left as single faces


def test_two_faces_of_one_photo_are_never_in_one_group(tmp_path, faces_data, capsys):
    """Two faces found in one photo are two people: a collage of two photos of one person (which the grouping
    would otherwise put together, with that person's other photos) ends with its faces in different groups at
    every level, and the person's other photos are still grouped."""
    photos = copy_identities(faces_data, tmp_path / "photos", PEOPLE[:2], per=12)
    collage([p for p in photos if f"/{PEOPLE[0]}/" in str(p)][:2], tmp_path / "photos" / "collage.jpg")
    library = tmp_path / "library.sqlite3"
    with Library(library) as lib:
        report = index_folder(lib, tmp_path / "photos", EncoderSpec.of("faces"), workers=2, cluster=True)
        assert report.cluster["parted"] >= 1  # said in the summary
        with lib.session() as s:
            collage_faces = s.scalars(select(Detection.id).join(Photo, Photo.id == Detection.photo_id)
                                      .where(Photo.path.like("%collage.jpg"))).all()
            assert len(collage_faces) == 2
            members = dict(s.execute(select(ClusterMember.detection_id, ClusterMember.cluster_id)).all())
            parent = dict(s.execute(select(Cluster.id, Cluster.parent_id)).all())
        a, b = (members[f] for f in collage_faces)
        while a is not None:
            assert a != b
            a, b = parent[a], parent[b]
        _, _, groups = list_groups(lib)
    assert max(g.size for g in groups) >= 10  # the person's other photos still make a group
    assert main(["index", str(tmp_path / "photos"), "--library", str(library), "--quiet", "--regroup"]) == 0
    assert "group(s) that would have held two faces of one photo (two faces in one photo are two people)" \
        in capsys.readouterr().out


def test_a_face_marked_not_a_face_is_left_out_of_the_next_grouping(library, tmp_path):
    """A box the user marked as not a face would still link faces in the neighbour graph: the next grouping leaves
    it out (a face set aside as "ignored" is a face and stays in); brought back, it is grouped again."""
    copy = tmp_path / "library.sqlite3"
    shutil.copy(library, copy)
    with Library(copy) as lib:
        org = Organizer(lib, "faces")
        with lib.session() as s:
            first, second = s.scalars(select(ClusterMember.detection_id).order_by(ClusterMember.detection_id)
                                      .limit(2)).all()
        org.ignore([first], "not-a-face")
        org.ignore([second], "ignored")
        report = cluster_library(lib, "faces")
        with lib.session() as s:
            grouped = set(s.scalars(select(ClusterMember.detection_id)))
        assert first not in grouped and second in grouped and report.items == len(grouped)
        org.ignore([first], None)
        cluster_library(lib, "faces")
        with lib.session() as s:
            assert first in set(s.scalars(select(ClusterMember.detection_id)))


def test_grouping_inputs_change_with_everything_the_grouping_reads(tmp_path):
    from photo_grouper.grouping import grouping_inputs

    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights")
    rng = np.random.default_rng(0)
    ids, photos, x = np.arange(5), np.array([1, 1, 2, 3, 4]), rng.standard_normal((5, 4)).astype(np.float32)
    card = {"tau": 0.8, "join_floor": 0.92}

    def digest(**changed):
        given = dict(mode="faces", model="m", weights=weights, card=card, ids=ids, x=x, photos=photos) | changed
        return grouping_inputs(**given)

    base = digest()
    assert digest() == base and digest(x=x.copy()) == base
    moved = x.copy()
    moved[2, 1] = np.nextafter(moved[2, 1], np.float32(9))  # one descriptor by the least step
    assert len({base, digest(x=moved), digest(ids=ids + 1), digest(photos=np.arange(5)),
                digest(card={"tau": 0.85, "join_floor": 0.92}), digest(model="m2"), digest(mode="species")}) == 7
    weights.write_bytes(b"weights, trained again")
    assert digest() != base
