"""`photo-grouper export`: album folders and XMP sidecars, read back with exiftool (Debian's libimage-exiftool-perl)."""

import errno
import hashlib
import json
import os
import shutil
import subprocess

import pytest
from PIL import Image

from photo_grouper.cli import main
from photo_grouper.organize.export import MANIFEST, export_albums, safe_folder_name
from photo_grouper.store import Photo

EXIFTOOL = shutil.which("exiftool")


@pytest.fixture
def album(made, tmp_path):
    """The made library with real 200x100 JPEGs behind its photos; A named "Ada", C named "AC/DC: Live?"."""
    root = tmp_path / "photos"
    root.mkdir()
    with made.library.session() as s:
        for photo in s.query(Photo):
            path = root / os.path.basename(photo.path)
            Image.new("RGB", (200, 100), (photo.id * 20 % 255, 90, 140)).save(path, quality=90)
            photo.path, photo.width, photo.height = str(path), 200, 100
    made.org.name(f"g{made.fine['A']}", "Ada")
    made.org.name(f"g{made.coarse['C']}", "AC/DC: Live?")
    return made


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def exif(path):
    assert EXIFTOOL, "exiftool is missing: install Debian's libimage-exiftool-perl (README's set-up command does)"
    out = subprocess.run([EXIFTOOL, "-j", "-struct", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def test_folders_per_person_never_overwrite_and_resume(album, tmp_path):
    out = tmp_path / "albums"
    report = export_albums(album.library, out)
    assert report.people == 2 and report.written == 4 + 2 and report.missing == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["AC_DC_ Live_", "Ada"]
    ada = out / "Ada"
    assert sorted(p.name for p in ada.iterdir()) == ["A0.jpg", "A1.jpg", "A2.jpg", "A3.jpg"]
    assert digest(ada / "A0.jpg") == digest(tmp_path / "photos" / "A0.jpg")

    # Again: nothing to do. A user's own file with a photo's name is kept, the photo goes beside it.
    (ada / "A2.jpg").unlink()
    (ada / "A2.jpg").write_text("my own notes")
    (ada / "A3.jpg").unlink()
    again = export_albums(album.library, out)
    assert again.written == 2 and again.already == 4 and again.renamed == 1
    assert (ada / "A2.jpg").read_text() == "my own notes"
    assert digest(ada / "A2 (2).jpg") == digest(tmp_path / "photos" / "A2.jpg")
    assert (ada / "A3.jpg").exists()

    # A killed export left a half-written copy and an older manifest: the next run cleans up and finishes.
    (ada / ".A1.jpg.partial").write_bytes(b"half")
    manifest = json.loads((out / MANIFEST).read_text())
    del manifest["Ada/A1.jpg"]
    (out / MANIFEST).write_text(json.dumps(manifest))
    (ada / "A1.jpg").unlink()
    resumed = export_albums(album.library, out, people=["ada"])
    assert resumed.written == 1 and not (ada / ".A1.jpg.partial").exists()


def test_hardlink_symlink_and_fallback_to_copy(album, tmp_path, monkeypatch):
    hard = export_albums(album.library, tmp_path / "hard", link="hardlink", people=["Ada"])
    assert hard.written == 4 and (tmp_path / "hard" / "Ada" / "A0.jpg").stat().st_nlink == 2
    soft = export_albums(album.library, tmp_path / "soft", link="symlink", people=["Ada"])
    link = tmp_path / "soft" / "Ada" / "A0.jpg"
    assert soft.written == 4 and link.is_symlink() and link.resolve() == (tmp_path / "photos" / "A0.jpg").resolve()

    def cross_device(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    other = export_albums(album.library, tmp_path / "other-disk", link="hardlink", people=["Ada"])
    assert other.copied_instead_of_linked == 4 and "copying instead" in other.warnings[0]
    assert (tmp_path / "other-disk" / "Ada" / "A0.jpg").stat().st_nlink == 1


def test_xmp_sidecars_read_by_exiftool_and_merged(album, tmp_path):
    photos = tmp_path / "photos"
    before = {p.name: digest(p) for p in photos.glob("*.jpg")}
    # A sidecar from another program, with its own keyword and rating.
    (photos / "A0.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><xmp:Rating>4</xmp:Rating>'
        '<dc:subject><rdf:Bag><rdf:li>Holiday</rdf:li></rdf:Bag></dc:subject>'
        '</rdf:Description></rdf:RDF></x:xmpmeta>')
    for _ in range(2):  # twice: the regions are replaced, not repeated
        report = export_albums(album.library, tmp_path / "albums", xmp=True)
    assert report.sidecars_written == 5 and report.sidecars_merged == 5  # A0-A3, C0; C1 shares A1's photo

    meta = exif(photos / "A0.xmp")
    assert meta["Rating"] == 4
    assert sorted(meta["Subject"]) == ["Ada", "Holiday"]
    assert meta["HierarchicalSubject"] == ["People|Ada"] and meta["PersonInImage"] == ["Ada"]
    regions = meta["RegionInfo"]
    assert regions["AppliedToDimensions"] == {"W": 200, "H": 100, "Unit": "pixel"}
    [region] = regions["RegionList"]
    assert region["Name"] == "Ada" and region["Type"] == "Face"
    assert region["Area"] == {"X": 0.25, "Y": 0.25, "W": 0.3, "H": 0.3, "Unit": "normalized"}

    # The photo holding A1 and C1 names both people.
    shared = exif(photos / "A1.xmp")
    assert sorted(r["Name"] for r in shared["RegionInfo"]["RegionList"]) == ["AC/DC: Live?", "Ada"]
    assert sorted(shared["HierarchicalSubject"]) == ["People|AC/DC: Live?", "People|Ada"]
    assert sorted(shared["PersonInImage"]) == ["AC/DC: Live?", "Ada"]
    # Unnamed groups are not written, and the originals are untouched.
    assert not (photos / "B0.xmp").exists()
    assert {p.name: digest(p) for p in photos.glob("*.jpg")} == before


def test_export_command(album, tmp_path, capsys):
    lib = str(album.library.path)
    assert main(["export", "--library", lib, "--out", str(tmp_path / "out"), "--xmp", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Exported 2 people" in out and "XMP sidecars: 5 written" in out
    assert main(["export", "--library", lib, "--out", str(tmp_path / "out"), "--people", "Nobody"]) == 1
    assert "no person named 'Nobody'" in capsys.readouterr().err


def test_safe_folder_names():
    assert safe_folder_name("AC/DC: Live?") == "AC_DC_ Live_"
    assert safe_folder_name("con") == "_con"
    assert safe_folder_name(" ..") == "_"
    assert len(safe_folder_name("x" * 300)) == 100


def test_unnamed_groups_get_folders_but_no_names_in_sidecars(album, tmp_path):
    report = export_albums(album.library, tmp_path / "all", include_groups=True, xmp=True)
    ab = f"unnamed group g{album.coarse['AB']}"  # what is left of AB once A is Ada: B's three faces
    assert report.people == 3 and sorted(report.folders) == sorted(["Ada", "AC/DC: Live?", ab])
    assert sorted(p.name for p in (tmp_path / "all" / ab).iterdir()) == ["B0.jpg", "B1.jpg", "B2.jpg"]
    assert not (tmp_path / "photos" / "B0.xmp").exists() and report.sidecars_written == 5


def test_species_sidecars_name_the_species_without_face_regions(pets_data, tmp_path, capsys):
    """In species mode a group holds whole photos of animals: its name is a keyword under Species, and no face
    region (a box of the whole photo) is written."""
    from ..conftest import copy_identities

    root = tmp_path / "pets"
    copy_identities(pets_data, root, ["beagle", "pug"], per=3)
    lib = str(tmp_path / "species.sqlite3")
    assert main(["index", str(root), "--library", lib, "--mode", "species", "--device", "cpu", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["groups", "--library", lib, "--mode", "species", "--level", "0", "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    beagles = next(g for g in groups if "/beagle/" in g["peak_photo"])
    assert main(["group", "name", beagles["ref"], "Beagle", "--library", lib, "--mode", "species"]) == 0
    capsys.readouterr()
    # Its items are photos, and the organize core's words say so.
    assert main(["group", "show", "Beagle", "--library", lib, "--mode", "species"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(f"Beagle, {beagles['size']} photo(s)")
    assert main(["export", "--library", lib, "--mode", "species", "--out", str(tmp_path / "albums"), "--xmp",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Exported 1 species" in out and f"XMP sidecars: {beagles['size']} written" in out
    sidecars = list(root.rglob("*.xmp"))
    assert len(sidecars) == beagles["size"]
    for sidecar in sidecars:
        meta = exif(sidecar)
        assert meta["Subject"] == ["Beagle"] and meta["HierarchicalSubject"] == ["Species|Beagle"]
        assert "RegionInfo" not in meta and "PersonInImage" not in meta
