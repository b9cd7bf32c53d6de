"""The index pipeline end to end on real photos, in process and as the `photo-grouper` command."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from photo_grouper.cli import format_index_report, main
from photo_grouper.jobs import JobError, index_folder, library_status
from photo_grouper.progress import CancelEvent
from photo_grouper.store import Analysis, Detection, Embedding, IndexRun, Library, Photo
from photo_grouper.vision import EncoderSpec, make_encoder

from .conftest import copy_identities

PEOPLE = ["celeb-07209", "celeb-07212", "celeb-07213"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory, faces_data):
    root = tmp_path_factory.mktemp("faces") / "photos"
    copy_identities(faces_data, root, PEOPLE, per=8)
    return root


def _counts(lib):
    with lib.session() as s:
        return {
            "analyses": s.scalar(select(func.count()).select_from(Analysis)),
            "faces": s.scalar(select(func.count()).select_from(Detection)),
            "embeddings": s.scalar(select(func.count()).select_from(Embedding)),
        }


def test_index_in_process_with_worker_processes(photos, library_path):
    seen = []
    with Library(library_path) as lib:
        report = index_folder(lib, photos, EncoderSpec.of("faces"), workers=2,
                              progress=lambda stage, d, t: seen.append((stage, d, t)))
        assert report.status == "completed"
        assert (report.scan.new, report.analyse.analysed, report.analyse.failed) == (24, 24, 0)
        assert report.analyse.found >= 20
        counts = _counts(lib)
        assert counts["analyses"] == 24 and counts["faces"] == counts["embeddings"] == report.analyse.found
        assert ("analyse", 24, 24) in seen and ("scan", 24, 24) in seen
        # Nothing new: a second run decodes nothing.
        again = index_folder(lib, photos, EncoderSpec.of("faces"), workers=2)
        assert (again.scan.unchanged, again.analyse.pending, again.analyse.found) == (24, 0, 0)
        status = library_status(lib)
        assert status["photos"]["ok"] == 24 and status["faces"] == report.analyse.found
        assert [r["status"] for r in status["runs"]] == ["completed", "completed"]


def test_a_copy_of_an_analysed_photo_reuses_its_results(photos, library_path, tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    one = next(photos.rglob("*.jpg"))
    (root / "a.jpg").write_bytes(one.read_bytes())
    with Library(library_path) as lib:
        first = index_folder(lib, root, EncoderSpec.of("faces"), workers=1)
        (root / "copy.jpg").write_bytes(one.read_bytes())
        second = index_folder(lib, root, EncoderSpec.of("faces"), workers=1)
        assert (second.scan.new, second.analyse.reused, second.analyse.found) == (1, 1, first.analyse.found)


def test_other_detector_settings_on_the_same_library_are_refused(photos, library_path, tmp_path, capsys):
    """Faces found again with other settings would be counted twice by the grouping: refused, nothing changed."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "a.jpg").write_bytes(next(photos.rglob("*.jpg")).read_bytes())
    with Library(library_path) as lib:
        index_folder(lib, root, EncoderSpec.of("faces"), workers=1)
        before = _counts(lib)
        with pytest.raises(JobError, match=r"found with other settings \(dlib-hog-1024.*group it twice"):
            index_folder(lib, root, EncoderSpec.of("faces", detect_side=800), workers=1)
        assert _counts(lib) == before
        with lib.session() as s:
            assert s.scalar(select(func.count()).select_from(IndexRun)) == 1
    assert main(["index", str(root), "--library", str(library_path), "--detector", "cnn", "--quiet"]) != 0
    assert "index with the settings used before, or into another library" in capsys.readouterr().err.lower()


def test_other_species_weights_on_the_same_library_are_refused(pets_data, library_path, tmp_path, capsys):
    """Photos embedded again with other weights would be grouped twice: refused, with what to do."""
    import torch

    from photo_grouper.vision.species import shipped_weights

    root = tmp_path / "pets"
    copy_identities(pets_data, root, ["pug"], per=2)
    mine = tmp_path / "mine.pth"
    state = torch.load(shipped_weights(), weights_only=True)
    state["_fc.bias"] = state["_fc.bias"] + 1
    torch.save(state, mine)
    args = ["index", str(root), "--library", str(library_path), "--mode", "species", "--device", "cpu", "--quiet"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args + ["--weights", str(mine)]) != 0
    assert "photos were embedded with other settings (whole-photo:efficientnet-lite0@imagenet-center)" \
        in capsys.readouterr().err


def test_cancel_keeps_work_and_next_run_resumes(photos, library_path):
    cancel = CancelEvent()

    def progress(stage, done, total):
        if stage == "analyse" and done >= 4:
            cancel.set()

    with Library(library_path) as lib:
        report = index_folder(lib, photos, EncoderSpec.of("faces"), workers=1, progress=progress, cancel=cancel)
        assert report.status == "cancelled"
        done_before = _counts(lib)["analyses"]
        assert 4 <= done_before < 24
        report = index_folder(lib, photos, EncoderSpec.of("faces"), workers=1)
        assert report.status == "completed" and report.analyse.pending == 24 - done_before
        assert _counts(lib)["analyses"] == 24
        with lib.session() as s:
            assert [r.status for r in s.scalars(select(IndexRun).order_by(IndexRun.id))] == ["cancelled", "completed"]


def test_cli_index_and_status(photos, library_path, capsys):
    assert main(["index", str(photos), "--library", str(library_path), "--workers", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "24 new" in out and "0 failed" in out and "faces:" in out
    assert main(["status", "--library", str(library_path), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["photos"]["total"] == 24 and status["faces"] >= 20
    assert main(["status", "--library", str(library_path)]) == 0
    out = capsys.readouterr().out
    assert "24 ok" in out
    started = datetime.fromisoformat(status["runs"][0]["started_at"]).replace(tzinfo=timezone.utc).astimezone()
    assert f"last run: completed faces {photos} at {started:%Y-%m-%d %H:%M}: 24 new" in out  # the user's clock


def test_stored_times_are_said_on_the_user_s_clock(monkeypatch):
    from photo_grouper.cli import local_time

    monkeypatch.setenv("TZ", "IST-5:30")  # a POSIX zone (no tz database needed): UTC+5:30
    time.tzset()
    try:
        assert local_time("2026-12-07T15:32:38.294342") == "2026-12-07 21:02"
        assert local_time("2026-12-07T15:32:38+00:00") == "2026-12-07 21:02"
        assert local_time(None) == "an unknown time"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_cli_species_mode(pets_data, library_path, tmp_path, capsys):
    root = tmp_path / "pets"
    copy_identities(pets_data, root, ["beagle", "pug"], per=3)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 50)
    assert main(["index", str(root), "--library", str(library_path), "--mode", "species", "--json",
                 "--quiet", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scan"]["new"] == 7 and report["analyse"]["found"] == 6
    assert report["scan"]["failed"] + report["analyse"]["failed"] == 1
    with Library(library_path) as lib, lib.session() as s:
        dims = s.scalars(select(Embedding.dim).distinct()).all()
        kinds = s.scalars(select(Detection.kind).distinct()).all()
    assert dims == [1280] and kinds == ["photo"]
    # Listed with the default --mode faces, a species library says where its groups are.
    assert main(["groups", "--library", str(library_path)]) == 0
    assert "no faces groups in this library; it holds species groups: photo-grouper groups --mode species" \
        in capsys.readouterr().out
    # Its groups are of animals: counted as named species, not people.
    assert main(["groups", "--library", str(library_path), "--mode", "species"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("0 named species and ") and "people" not in out


def test_species_index_on_a_full_gpu_embeds_on_the_cpu_and_says_so(pets_data, library_path, tmp_path, monkeypatch):
    """The card runs out of memory while photos are embedded (tests/vision has the encoder's side): the index goes
    on on the CPU, stores every photo, and its summary says why it ran there."""
    import torch

    from photo_grouper.vision.species import EfficientNetSpeciesEncoder

    embed = EfficientNetSpeciesEncoder._embed

    def on_a_full_card(self, batch):
        if self.device.type != "cpu":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")
        return embed(self, batch)

    monkeypatch.setattr(EfficientNetSpeciesEncoder, "_embed", on_a_full_card)
    root = tmp_path / "pets"
    copy_identities(pets_data, root, ["beagle", "pug"], per=3)
    with Library(library_path) as lib:
        report = index_folder(lib, root, EncoderSpec.of("species", device="meta"), cluster=True, device="cpu")
        assert _counts(lib)["embeddings"] == 6
    assert report.status == "completed" and report.analyse.found == 6
    assert report.analyse.fallback == "the GPU ran out of memory: embedded on the CPU instead"
    assert "  the GPU ran out of memory: embedded on the CPU instead" in format_index_report(report).splitlines()


@pytest.mark.parametrize("setup, message", [
    ("missing_folder", "folder not found"),
    ("not_a_database", "not a photo-grouper library"),
    ("library_is_a_folder", "is a folder"),
])
def test_cli_bad_input_gives_one_clear_message(setup, message, photos, tmp_path, capsys):
    library = tmp_path / "lib.sqlite3"
    folder = photos
    if setup == "missing_folder":
        folder = tmp_path / "no-such-folder"
    elif setup == "not_a_database":
        library.write_text("my shopping list\n" * 50)
    else:
        library.mkdir()
    before = library.read_bytes() if library.is_file() else None
    assert main(["index", str(folder), "--library", str(library), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    if before is not None:
        assert library.read_bytes() == before


@pytest.mark.parametrize("device, message", [
    ("cuda", "photo-grouper: error: CUDA was asked for, but torch "),  # no GPU here, or one it cannot use
    ("gpu", "photo-grouper: error: unknown device 'gpu': use cpu, or cuda where there is a GPU"),
])
def test_a_device_that_cannot_be_had_is_refused_before_anything_starts(device, message, pets_data, tmp_path,
                                                                       capsys):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU torch can use: the check is of one without")
    library = tmp_path / "lib.sqlite3"
    args = ["--library", str(library), "--quiet", "--device", device]
    assert main(["index", str(pets_data), "--mode", "species", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not library.exists()


def _run_cli(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "photo_grouper", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)


def _wait_for_analyses(library_path, at_least, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if library_path.exists():
            try:
                with sqlite3.connect(f"file:{library_path}?mode=ro", uri=True, timeout=1) as conn:
                    if conn.execute("SELECT count(*) FROM analyses").fetchone()[0] >= at_least:
                        return
            except sqlite3.OperationalError:
                pass  # schema not created yet
        time.sleep(0.05)
    pytest.fail("the index run made no progress")


def _check_consistent(library_path):
    with sqlite3.connect(library_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # Every face has its embedding, every analysis its faces.
        assert conn.execute("SELECT count(*) FROM detections d LEFT JOIN embeddings e ON e.detection_id = d.id "
                            "WHERE e.id IS NULL").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM analyses a WHERE a.found != "
                            "(SELECT count(*) FROM detections d WHERE d.analysis_id = a.id)").fetchone()[0] == 0


def test_killed_run_resumes_cleanly(photos, library_path):
    args = ["index", str(photos), "--library", str(library_path), "--workers", "2", "--quiet"]
    proc = _run_cli(args)
    _wait_for_analyses(library_path, 4, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the main process and its workers, mid-run
    proc.wait()
    _check_consistent(library_path)
    with sqlite3.connect(library_path) as conn:
        done_before = conn.execute("SELECT count(*) FROM analyses").fetchone()[0]
    assert done_before < 24

    proc = _run_cli(args + ["--json"])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["scan"]["unchanged"] == 24 and report["analyse"]["pending"] == 24 - done_before
    _check_consistent(library_path)
    with Library(library_path) as lib:
        assert _counts(lib)["analyses"] == 24
        with lib.session() as s:
            runs = s.scalars(select(IndexRun.status).order_by(IndexRun.id)).all()
            assert runs == ["interrupted", "completed"]
            assert s.scalar(select(func.count()).select_from(Photo)) == 24


def test_ctrl_c_stops_cleanly_and_resumes(photos, library_path):
    args = ["index", str(photos), "--library", str(library_path), "--workers", "2", "--quiet"]
    proc = _run_cli(args)
    _wait_for_analyses(library_path, 2, proc)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends to the whole job on Ctrl-C
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "Cancelled" in out and "run the same command again to resume" in out
    assert "Traceback" not in err
    _check_consistent(library_path)
    proc = _run_cli(args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    with Library(library_path) as lib:
        assert _counts(lib)["analyses"] == 24


@pytest.mark.parametrize("mode, levels, zoom_out, level_words, suggested, new, suggested_words", [
    ("faces", 1, 0, "over 1 level in", 4, 4, "  4 new face(s) suggested to your people (photo-grouper people; "),
    ("species", 3, 0, "over 3 levels in", 6, 2, "  2 new photo(s) suggested to your species, 6 waiting in all ("),
    ("faces", 2, 0, "over 2 levels in", 5, 0, "  5 face(s) suggested to your people still wait for a yes or a no ("),
    ("faces", 2, 4, "over 2 levels (and 4 coarser to zoom out to) in", 0, 0, ""),
])
def test_the_index_summary_says_levels_and_suggestions_in_the_modes_words(mode, levels, zoom_out, level_words,
                                                                         suggested, new, suggested_words):
    from photo_grouper.cli import format_index_report
    from photo_grouper.jobs import IndexReport

    report = IndexReport("/photos", mode, "test", status="completed",
                         cluster={"items": 9, "groups": 3, "levels": levels, "zoom_out": zoom_out, "seconds": 0.5,
                                  "suggested": suggested, "new_suggested": new})
    text = format_index_report(report)
    assert level_words in text and suggested_words in text


def test_the_index_summary_says_what_was_left_out_and_why():
    """What the scan left out (names that are not UTF-8, photos this install cannot read, files that could not be
    read) and a grouping done on the CPU after the GPU ran out of memory are said, each with what to do."""
    from photo_grouper.cli import format_index_report
    from photo_grouper.jobs import IndexReport
    from photo_grouper.media.scan import ScanReport

    scan = ScanReport(files=3, new=3, unreadable_folders=["/photos/gone.jpg: No such file or directory"],
                      bad_names=["/photos/caf\\xe9.jpg"], unsupported=["/photos/IMG_1.HEIC", "/photos/IMG_2.HEIC"])
    report = IndexReport("/photos", "faces", "test", scan=scan, status="completed",
                         cluster={"items": 3, "groups": 1, "levels": 1, "seconds": 0.5,
                                  "fallback": "the GPU ran out of memory: grouped on the CPU instead"})
    lines = format_index_report(report).splitlines()
    assert "  grouped 3 faces into 1 group over 1 level in 0.5 s (photo-grouper groups lists them)" in lines
    assert "  the GPU ran out of memory: grouped on the CPU instead" in lines
    assert "  could not read 1 file(s) or folder(s), e.g. /photos/gone.jpg: No such file or directory" in lines
    assert ("  left out 2 HEIC/HEIF photo(s): this install cannot read them (pip install pillow-heif to index "
            "them), e.g. /photos/IMG_1.HEIC") in lines
    assert ("  left out 1 file(s) or folder(s) whose names are not UTF-8 text (rename them to index them, with "
            "convmv say), e.g. /photos/caf\\xe9.jpg") in lines


def test_a_species_library_embedded_the_old_way_is_embedded_again_in_place(pets_data, library_path, tmp_path):
    """A new framing of the species photo replaces each photo's vector where it is (its box, id, and the names
    on it stay), in every folder of the library at once, and refuses nothing."""
    from photo_grouper.organize import Organizer

    root, elsewhere = tmp_path / "pets", tmp_path / "elsewhere"
    copy_identities(pets_data, root, ["pug", "beagle"], per=3)
    copy_identities(pets_data, elsewhere, ["pug"], per=1)
    whole = next((pets_data / "pug").iterdir()).read_bytes()
    (root / "cut.jpg").write_bytes(whole[:len(whole) // 3])  # its header reads, its pixels do not: fails either way
    old = EncoderSpec.of("species", device="cpu", framing="squash")
    new = EncoderSpec.of("species", device="cpu", framing="center")
    with Library(library_path) as lib:
        index_folder(lib, elsewhere, old, workers=1)
        index_folder(lib, root, old, workers=1, cluster=True)
        org = Organizer(lib, "species")
        org.name(org.groups()[1][0].ref, "Pug")
        named = {m.detection_id for m in org.show("Pug")[1]}

        def vectors():
            with lib.session() as s:
                return dict(s.execute(select(Embedding.detection_id, Embedding.vector)).all())

        before = vectors()
        report = index_folder(lib, root, new, workers=1, cluster=True)
        after = vectors()
        assert report.analyse.analysed == 7 and report.analyse.found == 7  # the other folder's photo too
        assert report.analyse.replaced == 7 and "7 embedded again in place" in format_index_report(report)
        assert set(after) == set(before) and all(after[d] != before[d] for d in before)
        with lib.session() as s:
            assert set(s.scalars(select(Analysis.pipeline))) == {make_encoder(new).pipeline}
            assert set(s.scalars(select(Embedding.model_version))) == {"imagenet-center"}
        assert {m.detection_id for m in Organizer(lib, "species").show("Pug")[1]} >= named
        assert index_folder(lib, root, new, workers=1).analyse.pending == 0  # nothing left to do
