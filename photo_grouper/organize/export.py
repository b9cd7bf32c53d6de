"""Albums out: one folder per person, and XMP sidecars beside the photos.

Folders: a safe folder name per person; photos copied (default), hard-linked (falling back to a copy across file
systems) or symlinked. A user's own file is never overwritten: a clashing name gets " (2)". A manifest in the
destination remembers what this export wrote, so running it again skips what is done and resumes after a crash;
copies are written under a temporary name and renamed, so a killed export leaves no half file.

Sidecars (``photo.xmp`` beside ``photo.jpg``, never the photo itself): MWG face regions (``mwg-rs:Regions``,
exiftool's RegionInfo) with the person's name and the face's normalised centre and size in the upright image,
``dc:subject`` and ``lr:hierarchicalSubject`` ``People|Name``, and IPTC's ``Iptc4xmpExt:PersonInImage`` (the
"Person Shown" of Lightroom and Bridge). In species mode a group is of whole photos, so a
sidecar holds no region, only the keywords, under ``Species|Name``. An existing sidecar is merged: its other content
is kept, earlier regions of the same names are replaced, keywords are added to.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from ..progress import CancelFlag, Progress, no_progress
from ..store import Assignment, Detection, Library, Person, Photo, Suggestion
from .history import OrganizeError
from .view import GroupRef
from .words import WORDS

MANIFEST = ".photo-grouper-export.json"
LINKS = ("copy", "hardlink", "symlink")

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stDim": "http://ns.adobe.com/xap/1.0/sType/Dimensions#",
    "stArea": "http://ns.adobe.com/xmp/sType/Area#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


def q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


@dataclass
class ExportReport:
    people: int = 0
    written: int = 0  # photo files created in the destination
    already: int = 0  # found there from an earlier run of this export
    renamed: int = 0  # written under another name because a different file had the name
    copied_instead_of_linked: int = 0
    missing: int = 0  # originals no longer on disk
    sidecars_written: int = 0
    sidecars_merged: int = 0  # of those, sidecars that existed and were merged
    warnings: list[str] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)  # person -> folder

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Face:
    detection_id: int
    person: str
    box: tuple[float, float, float, float]
    named: bool = True  # False for an unnamed group's face: it gets a folder but no name in the sidecars


@dataclass
class PhotoFaces:
    path: Path
    width: int | None
    height: int | None
    faces: list[Face]


def collect(library: Library, mode: str, people: list[str] | None, include_suggested: bool,
            include_groups: bool = False) -> dict[str, list[PhotoFaces]]:
    """Named people (all, or those listed) -> their photos with the faces of them in each; with
    ``include_groups`` also every unnamed group of the level the app shows by default."""
    albums = _collect_named(library, mode, people, include_suggested)
    if include_groups:
        from .view import groups, members

        with library.session() as s:
            state, listed = groups(s, mode)
            for g in listed:
                if g.name is None:
                    ref = GroupRef(g.kind, g.id)
                    faces = members(s, state, ref)
                    if g.kind == "person" and not include_suggested:
                        faces = [m for m in faces if m.status == "confirmed"]
                    photos: dict[str, PhotoFaces] = {}
                    for m in faces:
                        entry = photos.setdefault(m.photo, PhotoFaces(Path(m.photo), None, None, []))
                        entry.faces.append(Face(m.detection_id, g.title, m.box, named=False))
                    if photos:
                        albums[g.title] = list(photos.values())
    return albums


def _collect_named(library: Library, mode: str, people: list[str] | None, include_suggested: bool
                   ) -> dict[str, list[PhotoFaces]]:
    with library.session() as s:
        named = {p.id: p.name for p in s.scalars(select(Person).where(Person.mode == mode, Person.name.is_not(None)))}
        if people:
            by_key = {n.casefold(): pid for pid, n in named.items()}
            unknown = [n for n in people if n.casefold() not in by_key]
            if unknown:
                raise OrganizeError(f"no {WORDS[mode].who} named {unknown[0]!r}")
            named = {by_key[n.casefold()]: named[by_key[n.casefold()]] for n in people}
        owners = list(s.execute(select(Assignment.detection_id, Assignment.person_id)
                                .where(Assignment.person_id.in_(named))))
        if include_suggested:
            confirmed = {d for d, _ in owners}
            owners += [(d, p) for d, p in s.execute(select(Suggestion.detection_id, Suggestion.person_id)
                                                    .where(Suggestion.person_id.in_(named))) if d not in confirmed]
        person_of = dict(owners)
        rows = s.execute(select(Detection.id, Detection.x, Detection.y, Detection.w, Detection.h, Photo.id,
                                Photo.path, Photo.width, Photo.height, Photo.status)
                         .join(Photo, Photo.id == Detection.photo_id).where(Detection.id.in_(person_of))).all()
    albums: dict[str, dict[int, PhotoFaces]] = defaultdict(dict)
    for d, x, y, w, h, photo_id, path, width, height, status in sorted(rows, key=lambda r: (r[6], r[0])):
        name = named[person_of[d]]
        entry = albums[name].setdefault(photo_id, PhotoFaces(Path(path), width, height, []))
        entry.faces.append(Face(d, name, (x, y, w, h)))
    return {name: list(photos.values()) for name, photos in albums.items()}


def export_albums(library: Library, out: Path, *, mode: str = "faces", people: list[str] | None = None,
                  link: str = "copy", xmp: bool = False, include_suggested: bool = False,
                  include_groups: bool = False, progress: Progress = no_progress, cancel: CancelFlag | None = None) -> ExportReport:
    if link not in LINKS:
        raise OrganizeError(f"--link must be one of {', '.join(LINKS)}")
    albums = collect(library, mode, people, include_suggested, include_groups)
    report = ExportReport(people=len(albums))
    if not albums:
        report.warnings.append("nobody is named yet: name groups first (photo-grouper group name REF NAME)")
        return report
    out = Path(out).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OrganizeError(f"cannot create {out}: {exc.strerror}") from exc
    manifest_path = out / MANIFEST
    manifest = _read_manifest(manifest_path)
    _remove_partials(out)

    folders = _folder_names(sorted(albums))
    total = sum(len(p) for p in albums.values())
    done = 0
    try:
        for name in sorted(albums):
            folder = out / folders[name]
            folder.mkdir(exist_ok=True)
            report.folders[name] = str(folder)
            for photo in albums[name]:
                if cancel is not None and cancel.is_set():
                    report.warnings.append("cancelled: run the same export again to finish")
                    return report
                _export_one(photo.path, folder, out, link, manifest, report)
                done += 1
                if done % 50 == 0:
                    _write_manifest(manifest_path, manifest)
                progress(done, total)
    finally:
        _write_manifest(manifest_path, manifest)
    if xmp:
        write_sidecars(albums, report, mode)
    return report


def _export_one(src: Path, folder: Path, out: Path, link: str, manifest: dict, report: ExportReport) -> None:
    if not src.is_file():
        report.missing += 1
        return
    candidate = folder / src.name
    n = 1
    while True:
        rel = str(candidate.relative_to(out))
        known = manifest.get(rel)
        present = candidate.exists() or candidate.is_symlink()
        if known is not None and known["source"] == str(src):
            if not present:
                break  # we wrote it once and it was removed since: write it again
            if _fingerprint(candidate) == known.get("file"):
                report.already += 1
                return
        elif not present:
            break
        n += 1  # someone else's file, or another photo with the same name: never overwrite
        candidate = folder / f"{src.stem} ({n}){src.suffix}"
    if n > 1:
        report.renamed += 1
    try:
        _place(src, candidate, link, report)
    except OSError as exc:
        raise OrganizeError(f"cannot write {candidate}: {exc.strerror}"
                            + (" (the disk is full)" if exc.errno == 28 else "")) from exc
    manifest[str(candidate.relative_to(out))] = {"source": str(src), "file": _fingerprint(candidate)}
    report.written += 1


def _fingerprint(path: Path) -> list:
    """What tells our file from one the user put there since: a link's target, or size and modification time."""
    if path.is_symlink():
        return ["link", os.readlink(path)]
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _place(src: Path, dst: Path, link: str, report: ExportReport) -> None:
    if link == "symlink":
        dst.symlink_to(src.resolve())
        return
    if link == "hardlink":
        try:
            os.link(src, dst)
            return
        except OSError as exc:
            if exc.errno not in (18, 1, 95, 38):  # EXDEV, EPERM, EOPNOTSUPP, ENOSYS: no hard link possible
                raise
            if not report.copied_instead_of_linked:
                report.warnings.append(f"cannot hard-link into {dst.parent} ({exc.strerror}): copying instead")
            report.copied_instead_of_linked += 1
    partial = dst.with_name(f".{dst.name}.partial")
    shutil.copy2(src, partial)
    os.replace(partial, dst)


def _remove_partials(out: Path) -> None:
    for partial in out.glob("*/.*.partial"):
        partial.unlink(missing_ok=True)


def _read_manifest(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # unreadable: treat every file there as the user's, so nothing is overwritten


def _write_manifest(path: Path, manifest: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, path)


_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def safe_folder_name(name: str) -> str:
    """A folder name that works on Linux, macOS and Windows file systems."""
    cleaned = _UNSAFE.sub("_", name).strip(" .")
    if not cleaned or cleaned.upper().split(".")[0] in _RESERVED:
        cleaned = f"_{cleaned}"
    return cleaned[:100].rstrip(" .")


def _folder_names(names: list[str]) -> dict[str, str]:
    """Distinct safe names, even for names that clean to the same one or differ only in case."""
    out, used = {}, set()
    for name in names:
        base = candidate = safe_folder_name(name)
        n = 1
        while candidate.casefold() in used:
            n += 1
            candidate = f"{base} ({n})"
        used.add(candidate.casefold())
        out[name] = candidate
    return out


# ---- XMP sidecars --------------------------------------------------------------------------------------------

def sidecar_path(photo: Path) -> Path:
    return photo.with_suffix(".xmp")


def write_sidecars(albums: dict[str, list[PhotoFaces]], report: ExportReport, mode: str = "faces") -> None:
    by_photo: dict[Path, PhotoFaces] = {}
    for photos in albums.values():
        for p in photos:
            named = [f for f in p.faces if f.named]  # only named people go into sidecars
            if named:
                entry = by_photo.setdefault(p.path, PhotoFaces(p.path, p.width, p.height, []))
                entry.faces.extend(named)
    for path, photo in sorted(by_photo.items()):
        if not path.is_file():
            continue
        target = sidecar_path(path)
        existed = target.exists()
        try:
            write_sidecar(target, photo, mode)
        except ET.ParseError as exc:
            report.warnings.append(f"left {target} as it is: it is not valid XML ({exc})")
            continue
        except OSError as exc:
            report.warnings.append(f"cannot write {target}: {exc.strerror}")
            continue
        report.sidecars_written += 1
        report.sidecars_merged += existed


# The keyword tree a named group goes under (``lr:hierarchicalSubject``), by mode.
KEYWORD_ROOTS = {"faces": "People", "species": "Species"}


def write_sidecar(target: Path, photo: PhotoFaces, mode: str = "faces") -> None:
    root = ET.parse(target).getroot() if target.exists() else None
    if root is None:
        root = ET.Element(q("x:xmpmeta"))
    rdf = root if root.tag == q("rdf:RDF") else root.find(q("rdf:RDF"))
    if rdf is None:
        rdf = ET.SubElement(root, q("rdf:RDF"))
    desc = rdf.find(q("rdf:Description"))
    if desc is None:
        desc = ET.SubElement(rdf, q("rdf:Description"), {q("rdf:about"): ""})
    names = sorted({f.person for f in photo.faces})
    if mode == "faces":
        _write_regions(desc, photo, names)
        _add_to_bag(desc, "Iptc4xmpExt:PersonInImage", names)
    _add_to_bag(desc, "dc:subject", names)
    _add_to_bag(desc, "lr:hierarchicalSubject", [f"{KEYWORD_ROOTS[mode]}|{n}" for n in names])

    ET.indent(root)
    tmp = target.with_name(f".{target.name}.tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=False)
    os.replace(tmp, target)


def _write_regions(desc: ET.Element, photo: PhotoFaces, names: list[str]) -> None:
    """The MWG face regions of ``photo``'s named faces, in place of earlier ones of the same names."""
    regions = _child(desc, "mwg-rs:Regions", {q("rdf:parseType"): "Resource"})
    if photo.width and photo.height:
        dims = regions.find(q("mwg-rs:AppliedToDimensions"))
        if dims is None:
            dims = ET.SubElement(regions, q("mwg-rs:AppliedToDimensions"))
        dims.attrib.clear()
        dims.attrib.update({q("stDim:w"): str(photo.width), q("stDim:h"): str(photo.height),
                            q("stDim:unit"): "pixel"})
    bag = _bag(_child(regions, "mwg-rs:RegionList"), "rdf:Bag")
    for li in list(bag):  # earlier face regions of these people (ours, from an earlier export) are replaced
        name = li.find(q("mwg-rs:Name"))
        kind = li.find(q("mwg-rs:Type"))
        if name is not None and name.text in names and (kind is None or kind.text == "Face"):
            bag.remove(li)
    for face in photo.faces:
        x, y, w, h = face.box
        li = ET.SubElement(bag, q("rdf:li"), {q("rdf:parseType"): "Resource"})
        ET.SubElement(li, q("mwg-rs:Area"), {
            q("stArea:x"): _num(x + w / 2), q("stArea:y"): _num(y + h / 2), q("stArea:w"): _num(w),
            q("stArea:h"): _num(h), q("stArea:unit"): "normalized"})
        ET.SubElement(li, q("mwg-rs:Type")).text = "Face"
        ET.SubElement(li, q("mwg-rs:Name")).text = face.person


def _child(parent: ET.Element, name: str, attrib: dict | None = None) -> ET.Element:
    found = parent.find(q(name))
    return found if found is not None else ET.SubElement(parent, q(name), attrib or {})


def _bag(parent: ET.Element, kind: str) -> ET.Element:
    found = parent.find(q(kind))
    return found if found is not None else ET.SubElement(parent, q(kind))


def _add_to_bag(desc: ET.Element, prop: str, values: list[str]) -> None:
    bag = _bag(_child(desc, prop), "rdf:Bag")
    have = {li.text for li in bag.findall(q("rdf:li"))}
    for v in values:
        if v not in have:
            ET.SubElement(bag, q("rdf:li")).text = v


def _num(v: float) -> str:
    return f"{min(max(v, 0.0), 1.0):.6f}"

