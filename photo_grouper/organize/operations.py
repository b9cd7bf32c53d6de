"""The user's operations on groups: name, merge, split, reject, move, hide, ignore; undo and redo.

Each runs in one transaction and returns a :class:`Change`. A bad request (unknown or stale group, empty name,
merging a group with itself, a face not in the group) raises :class:`OrganizeError` and changes nothing.
Touching an automatic group makes its faces facts: the group becomes a person (unnamed until named) that owns them,
so the correction survives every later re-clustering.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..store import (
    KIND_OF_MODE,
    Analysis,
    ClusterRun,
    Detection,
    Library,
    Person,
    Photo,
    PhotoStatus,
    Rejection,
    fetch_in,
)
from . import history
from .history import Change, OrganizeError, Recorder
from .view import (
    GroupInfo,
    GroupRef,
    Listing,
    Member,
    State,
    current_run,
    face_rows,
    faces_by_photo,
    groups,
    load_state,
    members,
    person_named,
    resolve,
)
from .words import WORDS

MAX_NAME = 200


class Organizer:
    """Corrections for one library and mode; the CLI and the GUI call these."""

    def __init__(self, library: Library, mode: str = "faces"):
        self.library = library
        self.mode = mode
        self._watch: sqlite3.Connection | None = None
        self._listed: tuple | None = None  # (data version, level, min_size, state, groups) of the last listing
        self._read: State | None = None  # the last state read: its grouping part serves while unchanged

    @property
    def unit(self) -> str:
        """What one item of a group is called: "face", or "photo" in species mode."""
        return WORDS[self.mode].one

    def _these(self, faces: list) -> str:
        """"that face is" or "those faces are", to say what is so already."""
        w = WORDS[self.mode]
        return f"that {w.one} is" if len(faces) == 1 else f"those {w.many} are"

    # -- reading -----------------------------------------------------------------------------------------------

    def groups(self, level: int | None = None, include_hidden: bool = False,
               min_size: int = 1) -> tuple[State, Listing]:
        """The groups at ``level`` (``view.groups``): automatic groups of fewer than ``min_size`` faces only
        counted (``Listing.small``)."""
        state, listed = self._all_groups(level, min_size)
        return state, Listing([g for g in listed if include_hidden or not g.hidden], listed.small,
                              listed.small_items)

    def _all_groups(self, level: int | None, min_size: int | None = None) -> tuple[State, Listing]:
        """Every group at ``level``, hidden ones included (``min_size`` None: as last listed, else all). The
        listing is kept until anything commits to the library: reading who owns each face takes most of a second
        at 100,000 faces, and the window asks for the same listing again when the user selects or opens a group
        (callers must not change what it returns)."""
        version = self._data_version()
        if self._listed is not None and self._listed[:2] == (version, level) and \
                min_size in (None, self._listed[2]):
            return self._listed[3], self._listed[4]
        min_size = min_size or 1
        # Another level of an unchanged library (zooming): the owners already read, seen at that level.
        loaded = self._listed[3] if self._listed is not None and self._listed[0] == version else None
        with self.library.session() as s:
            state, listed = groups(s, self.mode, level, include_hidden=True, min_size=min_size, loaded=loaded,
                                   reuse=self._read)
        self._listed, self._read = (version, level, min_size, state, listed), state
        return state, listed

    def _data_version(self) -> int:
        """SQLite's PRAGMA data_version, read on a connection of our own that never writes: it changes whenever
        any other connection commits, in this process (our own corrections) or another (an index job)."""
        if self._watch is None:
            self._watch = sqlite3.connect(self.library.path, check_same_thread=False)
        return self._watch.execute("PRAGMA data_version").fetchone()[0]

    def _state_to_change(self, s: Session) -> State:
        """What an operation works on: the last listing where nothing has committed since (read under the write
        lock ``s`` holds, so nothing can commit before the operation does), with its people read again in ``s``
        (the operation changes them through it) and its owners copied (it adds owners); else read anew. Reading
        who owns which face took about 1.8 s at a million faces, twice per correction in the window (the
        operation, then the listing after it). The listing itself is not used again: it is read anew after."""
        listed, self._listed = self._listed, None
        if listed is None or listed[0] != self._data_version():
            self._read = load_state(s, self.mode, reuse=self._read)
            return self._read
        state = listed[3].at_level(listed[3].default_level)
        return replace(state, confirmed=dict(state.confirmed), suggested=dict(state.suggested),
                       ignored=set(state.ignored),
                       people={p.id: p for p in s.scalars(select(Person).where(Person.mode == self.mode))})

    def changed(self) -> bool:
        """Whether anything committed to the library since the last listing (say an index run from a terminal
        while the window was open): what was listed may name groups that are gone."""
        return self._listed is not None and self._listed[0] != self._data_version()

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        self._listed = self._read = None

    def people(self, include_hidden: bool = True) -> list[GroupInfo]:
        """The people (named or not), at the level listed last: people are the same at every level, and that
        listing is kept while nothing commits (the window's menus ask; a listing at a million faces takes seconds)."""
        level = self._listed[1] if self._listed is not None else None
        return [g for g in self._all_groups(level)[1] if g.kind == "person" and (include_hidden or not g.hidden)]

    def show(self, ref: str, level: int | None = None) -> tuple[GroupInfo, list[Member]]:
        state, listed = self._all_groups(level)
        with self.library.session() as s:
            target = resolve(s, state, ref)
            faces = members(s, state, target)
            info = next((g for g in listed if g.ref == str(target)), None)
            if info is None:  # an automatic group of another level than the one listed
                info = GroupInfo(str(target), target.kind, target.id, None, False,
                                 state.clusters[target.id][0] if target.kind == "auto" else None,
                                 len(faces), 0, 0, None, None)
            return info, faces

    def levels(self) -> int:
        """How many levels the current automatic grouping has, zoom-out levels included (0 before the first
        clustering)."""
        return self.zoom_levels()[0]

    def zoom_levels(self) -> tuple[int, int]:
        """(how many levels, the default one: where the hierarchy stopped, below the zoom-out levels) of the current
        automatic grouping; (0, 0) before the first clustering."""
        with self.library.session() as s:
            run = current_run(s, self.mode)
            return (run.levels, run.shown_level) if run is not None else (0, 0)

    def grouped_instead(self) -> list[str]:
        """The other modes the library holds an automatic grouping of, where this mode has none (a species library
        opened in faces mode looks empty: the caller can say where its groups are)."""
        if self.levels():
            return []
        with self.library.session() as s:
            modes = set(s.scalars(select(ClusterRun.mode).distinct()))
        return sorted(modes - {self.mode})

    def why_empty(self) -> tuple[str, int]:
        """Why this mode lists no group (where no other mode's groups explain it, ``grouped_instead``), as
        (reason, count): ("no photos", 0); ("not indexed", photos the library holds, none analysed in this mode);
        ("none found", photos analysed in this mode, none with a face); ("not grouped", faces an index found
        and stopped before grouping); ("all set aside", faces the user ignored or turned down)."""
        with self.library.session() as s:
            photos = s.scalar(select(func.count()).select_from(Photo).where(Photo.status == PhotoStatus.OK))
            analysed = s.scalar(select(func.count(func.distinct(Analysis.photo_id))).join(
                Photo, Photo.id == Analysis.photo_id).where(Photo.status == PhotoStatus.OK,
                                                            Analysis.pipeline.startswith(f"{self.mode}:")))
            found = s.scalar(select(func.count()).select_from(Detection).join(Photo, Photo.id == Detection.photo_id)
                             .where(Photo.status == PhotoStatus.OK, Detection.kind == KIND_OF_MODE[self.mode]))
            grouped = current_run(s, self.mode) is not None
        if not photos:
            return "no photos", 0
        if not analysed:
            return "not indexed", photos
        if not found:
            return "none found", analysed
        return ("all set aside" if grouped else "not grouped"), found

    def faces(self, detection_ids: Iterable[int]) -> dict[int, Member]:
        """Photo, box and content hash of each face (for thumbnails), whoever owns it."""
        with self.library.session() as s:
            rows = face_rows(s, sorted(set(detection_ids)))
        return {d: Member(d, path, box, "", None, digest, size) for d, (path, box, digest, size) in rows.items()}

    def history(self, limit: int = 20) -> list[dict]:
        with self.library.session() as s:
            return history.history(s, self.mode, limit)

    # -- operations --------------------------------------------------------------------------------------------

    def name(self, ref: str, name: str) -> Change:
        name = _clean_name(name)
        with self.library.session(immediate=True) as s:
            state, rec = self._state_to_change(s), Recorder(s)
            target = resolve(s, state, ref)
            existing = person_named(state, name, besides=target.id if target.kind == "person" else None)
            notes = []
            if target.kind == "auto":
                faces = state.members(target)
                if existing is not None:
                    notes.append(f"{name} already exists: the group's {len(faces)} {self.unit}(s) joined them")
                    person = existing
                else:
                    person = rec.create_person(self.mode, name)
                _confirm_group(rec, state, faces, person, notes)
            else:
                person = state.people[target.id]
                if person.name == name:
                    raise OrganizeError(f"{ref} is already named {name!r}")
                if existing is not None:
                    _merge_person(s, rec, state, person, existing)
                    notes.append(f"{name} already exists: {_title(person)} was merged into them")
                    person = existing
                else:
                    rec.update_person(person, name=name)
            notes += _shared_photo_notes(state, person.id)
            return rec.commit(self.mode, "name", f"named {target} {name!r}", notes)

    def merge(self, refs: Iterable[str], name: str | None = None) -> Change:
        name = _clean_name(name) if name is not None else None
        with self.library.session(immediate=True) as s:
            state, rec = self._state_to_change(s), Recorder(s)
            targets: list[GroupRef] = []
            for text in refs:
                r = resolve(s, state, text)
                if any(r.kind == t.kind and r.id == t.id for t in targets):
                    raise OrganizeError(f"{text} is listed twice: a group cannot be merged with itself")
                targets.append(r)
            if len(targets) < 2:
                raise OrganizeError("merge needs at least two different groups")
            persons = [state.people[t.id] for t in targets if t.kind == "person"]
            into = person_named(state, name) if name else None
            into = into or next((p for p in persons if p.name), None) or (persons[0] if persons else None)
            if into is None:
                into = rec.create_person(self.mode, name)
            elif name and into.name != name:
                rec.update_person(into, name=name)
            notes = []
            for t in targets:
                if t.kind == "person" and t.id == into.id:
                    continue
                if t.kind == "person":
                    other = state.people[t.id]
                    if other.name and into.name and other.name != into.name:
                        notes.append(f"{other.name} was merged into {into.name}")
                    _merge_person(s, rec, state, other, into)
                else:
                    _confirm_group(rec, state, state.members(t), into, notes)
            notes += _shared_photo_notes(state, into.id)
            listed = ", ".join(str(t) for t in targets)
            return rec.commit(self.mode, "merge", f"merged {listed} into {_title(into)}", notes)

    def split(self, ref: str, faces: Iterable[int] = (), subgroups: Iterable[str] = (),
              to: str | None = None, name: str | None = None) -> Change:
        """Move chosen faces, or chosen finer groups of an automatic group, out to a new group (named ``name``
        if given) or to an existing group ``to``."""
        with self.library.session(immediate=True) as s:
            state, rec = self._state_to_change(s), Recorder(s)
            source = resolve(s, state, ref)
            inside = set(state.members(source))
            moving = set(_faces_in(state, source, inside, faces))
            for text in subgroups:
                sub = resolve(s, state, text)
                if sub.kind != "auto" or source.kind != "auto" or \
                        state.clusters[sub.id][0] >= state.clusters[source.id][0] or \
                        state.ancestor(sub.id, state.clusters[source.id][0]) != source.id:
                    raise OrganizeError(f"{text} is not a finer group inside {ref}")
                moving |= set(state.members(sub))
            if not moving:
                raise OrganizeError(f"choose the {WORDS[self.mode].many} or finer groups to split off")
            if moving == inside and to is None:
                raise OrganizeError(f"that is every {self.unit} of {ref}: nothing would be left; rename it instead")
            notes: list[str] = []
            if to is not None:
                dest_ref = resolve(s, state, to)
                if dest_ref.kind == source.kind and dest_ref.id == source.id:
                    raise OrganizeError("a group cannot be split into itself")
                dest = _adopt(rec, state, dest_ref, notes)
            else:
                dest = rec.create_person(self.mode, _clean_name(name) if name else None)
            for d in sorted(moving):
                if source.kind == "person":
                    rec.reject(d, source.id)
                rec.reject(d, dest.id, False)
                rec.assign(d, dest.id)
            return rec.commit(self.mode, "split", f"moved {len(moving)} {self.unit}(s) of {source} to {_title(dest)}",
                              notes)

    def confirm(self, ref: str, faces: Iterable[int] | None = None) -> Change:
        """"Yes, that is them": faces suggested to a person become theirs, all of them or the chosen ones."""
        with self.library.session(immediate=True) as s:
            state, rec = self._state_to_change(s), Recorder(s)
            target = resolve(s, state, ref)
            if target.kind != "person":
                raise OrganizeError(f"{ref} is an automatic group: nothing in it is suggested; name it to make its "
                                    f"{self.unit}s someone's")
            person = state.people[target.id]
            suggested = [d for d in state.members(target) if d not in state.confirmed]
            if faces is not None:
                chosen = sorted({int(d) for d in faces})
                wrong = [d for d in chosen if d not in suggested]
                if wrong:
                    raise OrganizeError(f"{self.unit} {wrong[0]} is not suggested to {_title(person)}")
                suggested = chosen
            if not suggested:
                raise OrganizeError(f"nothing suggested to {_title(person)} to confirm")
            _confirm(rec, state, suggested, person)
            return rec.commit(self.mode, "confirm", f"confirmed {len(suggested)} {self.unit}(s) of {_title(person)}",
                              _shared_photo_notes(state, person.id))

    def reject(self, ref: str, faces: Iterable[int]) -> Change:
        """"Not this person": the faces leave the group and never rejoin it. The rest of an automatic group is
        kept together as an unnamed person, since the rejection needs a person to hold on to."""
        with self.library.session(immediate=True) as s:
            state, rec = self._state_to_change(s), Recorder(s)
            source = resolve(s, state, ref)
            inside = set(state.members(source))
            out = set(_faces_in(state, source, inside, faces))
            if not out:
                raise OrganizeError(f"choose the {WORDS[self.mode].many} to reject")
            notes = []
            if source.kind == "person":
                person = state.people[source.id]
            else:
                if out == inside:
                    raise OrganizeError(f"that is every {self.unit} of {ref}; hide the group or ignore the "
                                         f"{WORDS[self.mode].many} instead")
                person = rec.create_person(self.mode)
                notes.append(f"the rest of {ref} is kept as {_title(person)}")
                _confirm_group(rec, state, sorted(inside - out), person, notes)
            for d in sorted(out):
                rec.assign(d, None)
                rec.reject(d, person.id)
            return rec.commit(self.mode, "reject", f"rejected {len(out)} {self.unit}(s) from {_title(person)}", notes)

    def move(self, faces: Iterable[int], to: str) -> Change:
        """Put single faces with another group (a person, or an automatic group, which becomes one)."""
        with self.library.session(immediate=True) as s:
            state, rec = self._state_to_change(s), Recorder(s)
            faces = _known_faces(state, faces)
            dest_ref = resolve(s, state, to)
            notes: list[str] = []
            dest = _adopt(rec, state, dest_ref, notes)
            for d in faces:
                owner = state.owner(d)
                if owner is not None and owner.kind == "person" and owner.id != dest.id:
                    rec.reject(d, owner.id)
                rec.ignore(d, None)
                rec.reject(d, dest.id, False)
                rec.assign(d, dest.id)
            return rec.commit(self.mode, "move", f"moved {len(faces)} {self.unit}(s) to {_title(dest)}", notes,
                              unchanged=f"{self._these(faces)} {_title(dest)}'s already")

    def hide(self, ref: str, hidden: bool = True) -> Change:
        with self.library.session(immediate=True) as s:
            state, rec = self._state_to_change(s), Recorder(s)
            target = resolve(s, state, ref)
            if target.kind == "auto":
                if not hidden:
                    raise OrganizeError(f"{ref} is not hidden")
                person = rec.create_person(self.mode, hidden=True)
                _confirm(rec, state, state.members(target), person)  # hiding says nothing of who is who
            else:
                person = state.people[target.id]
                if bool(person.hidden) == hidden:
                    raise OrganizeError(f"{ref} is already {'hidden' if hidden else 'shown'}")
                rec.update_person(person, hidden=hidden)
            verb = "hid" if hidden else "showed"
            return rec.commit(self.mode, "hide" if hidden else "unhide", f"{verb} {_title(person)}")

    def ignore(self, faces: Iterable[int], reason: str = "ignored") -> Change:
        """Set faces aside ("not-a-face" or "ignored"); ``reason=None`` brings them back, boxes the face check
        turned down included (the user's word: a face; grouped at the next grouping)."""
        if reason not in ("ignored", "not-a-face", None):
            raise OrganizeError(f"unknown reason {reason!r}")
        if reason == "not-a-face" and self.mode != "faces":
            raise OrganizeError(f"only a face can be marked as not a face: set the {self.unit} aside instead")
        with self.library.session(immediate=True) as s:
            state, rec = self._state_to_change(s), Recorder(s)
            faces = _known_faces(state, faces)
            turned_down = {d for d, in fetch_in(s, select(Detection.id).where(Detection.verified.is_(False)),
                                                Detection.id, faces)}
            if reason is not None:
                rec.assign_many(faces, None)
            for d in faces:
                rec.ignore(d, reason)
                if reason is None and d in turned_down:
                    rec.verify(d, True)
            what = {"ignored": "ignored", "not-a-face": "marked as not a face", None: "brought back"}[reason]
            notes = [f"{len(turned_down)} of them the face check had turned down: they join the groups at the next "
                     "index"] if reason is None and turned_down else []
            return rec.commit(self.mode, "ignore", f"{what} {len(faces)} {self.unit}(s)", notes,
                              unchanged=f"{self._these(faces)} " + ("not set aside" if reason is None else
                                                                   f"{what} already"))

    def not_faces(self) -> list[Member]:
        """The boxes the face check turned down (jobs.check_faces): kept, out of the groups; ``ignore(faces,
        None)`` brings one back."""
        with self.library.session() as s:
            ids = s.scalars(select(Detection.id).join(Photo, Photo.id == Detection.photo_id).where(
                Detection.kind == KIND_OF_MODE[self.mode], Detection.verified.is_(False),
                Photo.status == PhotoStatus.OK).order_by(Photo.path, Detection.id)).all()
            rows = face_rows(s, list(ids))
        boxes = []
        for d in ids:  # in the listing's order, by photo (``rows`` is in the database's)
            path, box, digest, size = rows[d]
            boxes.append(Member(d, path, box, "not a face", None, digest, size))
        return boxes

    def undo(self) -> Change:
        with self.library.session() as s:
            return history.undo(s, self.mode)

    def redo(self) -> Change:
        with self.library.session() as s:
            return history.redo(s, self.mode)


# ---- helpers ---------------------------------------------------------------------------------------------------

def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise OrganizeError("a name cannot be empty")
    if len(name) > MAX_NAME:
        raise OrganizeError(f"a name can have at most {MAX_NAME} characters")
    return name


def _title(person: Person) -> str:
    return person.name or f"unnamed group p{person.id}"


def _known_faces(state: State, faces: Iterable[int]) -> list[int]:
    faces = sorted({int(d) for d in faces})
    if not faces:
        raise OrganizeError(f"choose at least one {WORDS[state.mode].one}")
    unknown = [d for d in faces if d not in state.photo_of]
    if unknown:
        raise OrganizeError(f"no {WORDS[state.mode].one} {unknown[0]} in this library ({state.mode} mode)")
    return faces


def _faces_in(state: State, ref: GroupRef, inside: set[int], faces: Iterable[int]) -> list[int]:
    faces = sorted({int(d) for d in faces})
    outside = [d for d in faces if d not in inside]
    if outside:
        raise OrganizeError(f"{WORDS[state.mode].one} {outside[0]} is not in group {ref}")
    return faces


def _confirm(rec: Recorder, state: State, faces: Iterable[int], person: Person) -> None:
    faces = list(faces)
    rec.reject_many(faces, person.id, False)  # the user put them there: an older "not this person" no longer holds
    rec.assign_many(faces, person.id)
    for d in faces:
        state.confirmed[d] = person.id


def _confirm_group(rec: Recorder, state: State, faces: Iterable[int], person: Person, notes: list[str]) -> None:
    """Confirm an automatic group's faces, but two faces of one photo are two people: of several faces of one
    photo only the most typical (in the largest finest group) is confirmed, and none where the person already
    has a face in that photo. The others stay automatic, and the note says so."""
    faces = list(faces)
    taken = {state.photo_of.get(d) for d, p in state.confirmed.items() if p == person.id}
    finest_size = Counter(state.level0.get(d) for d in faces)
    keep, left = [], 0
    for photo, same in faces_by_photo(state, faces).items():
        if photo in taken:
            left += len(same)
            continue
        best = min(same, key=lambda d: (-finest_size[state.level0.get(d)], d))
        keep.append(best)
        left += len(same) - 1
    _confirm(rec, state, sorted(keep), person)
    if left:
        notes.append(f"{left} face(s) left out: their photo has another face in {_title(person)} "
                     "(two faces of one photo are two people; move them in yourself if that is wrong)")


def _adopt(rec: Recorder, state: State, ref: GroupRef, notes: list[str]) -> Person:
    """The person behind a group; an automatic group becomes a new unnamed person owning its faces."""
    if ref.kind == "person":
        return state.people[ref.id]
    person = rec.create_person(state.mode)
    _confirm_group(rec, state, state.members(ref), person, notes)
    return person


def _merge_person(s: Session, rec: Recorder, state: State, source: Person, into: Person) -> None:
    """Everything ``source`` owns or rejects goes to ``into``; then ``source`` is removed."""
    for d, p in sorted(state.confirmed.items()):
        if p == source.id:
            rec.reject(d, into.id, False)
            rec.assign(d, into.id)
            state.confirmed[d] = into.id
    for d in s.scalars(select(Rejection.detection_id).where(Rejection.person_id == source.id)).all():
        rec.reject(d, source.id, False)
        if state.confirmed.get(d) != into.id:
            rec.reject(d, into.id)
    rec.move_suggestions(source.id, into.id)  # until the next re-clustering makes them again
    rec.delete_person(source)


def _shared_photo_notes(state: State, person_id: int) -> list[str]:
    """Two faces of one photo are normally two people: say so when the user put such faces together."""
    faces = [d for d, p in state.confirmed.items() if p == person_id]
    shared = sum(1 for ids in faces_by_photo(state, faces).values() if len(ids) > 1)
    return [f"{shared} photo(s) now have two or more faces confirmed to this group"] if shared else []
