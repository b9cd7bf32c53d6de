"""What the user sees: people first (their confirmed faces, then faces suggested to them), then the automatic
groups of the chosen hierarchy level made of every face no person owns.

A face belongs to exactly one group at a time: ignored faces to none; a confirmed face to its person; a face
suggested to a person (and not rejected from them) to that person; any other face to its automatic group at the
level shown. Groups are named in commands by a reference: ``p12`` for person 12, ``g345`` for automatic group 345
(of the current grouping only: a re-clustering makes new ones), or a person's name.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..store import (
    GROUPING,
    KIND_OF_MODE,
    Assignment,
    Cluster,
    ClusterMember,
    ClusterRun,
    Detection,
    Ignored,
    Person,
    Photo,
    PhotoStatus,
    Rejection,
    Revision,
    Suggestion,
    fetch_all,
    fetch_in,
)
from .history import OrganizeError
from .words import WORDS


@dataclass
class GroupRef:
    kind: str  # "person" | "auto"
    id: int

    def __str__(self) -> str:
        return f"{'p' if self.kind == 'person' else 'g'}{self.id}"


@dataclass
class GroupInfo:
    ref: str
    kind: str
    id: int
    name: str | None
    hidden: bool
    level: int | None  # automatic groups: their hierarchy level
    size: int
    confirmed: int
    suggested: int
    peak_detection_id: int | None
    peak_photo: str | None
    subgroups: int = 0  # automatic groups: groups of the next finer level inside

    @property
    def title(self) -> str:
        if self.name:
            return self.name
        return f"unnamed group {self.ref}"

    def as_dict(self) -> dict:
        return {"ref": self.ref, "kind": self.kind, "id": self.id, "name": self.name, "hidden": self.hidden,
                "level": self.level, "size": self.size, "confirmed": self.confirmed, "suggested": self.suggested,
                "peak_detection_id": self.peak_detection_id, "peak_photo": self.peak_photo,
                "subgroups": self.subgroups}


@dataclass
class State:
    """Who owns which face of one mode, at one level of the current automatic grouping."""

    mode: str
    level: int
    levels: int
    default_level: int  # where the hierarchy stopped, shown first; the levels above it are zoom-out levels
    run_id: int | None
    photo_of: dict[int, int]  # detection -> photo
    confirmed: dict[int, int]  # detection -> person
    suggested: dict[int, int]  # detection -> person (only faces not confirmed, not ignored, not rejected)
    ignored: set[int]
    auto: dict[int, int]  # detection -> automatic group at ``level`` (faces no person owns)
    level0: dict[int, int]  # detection -> finest automatic group
    clusters: dict[int, tuple[int, int | None, int | None]]  # cluster -> (level, parent, peak detection)
    people: dict[int, Person] = field(default_factory=dict)
    # The grouping part (photo_of, level0, clusters, run_id, levels, default_level) is what the library's
    # ``grouping`` revision counted (store.Revision) when it was read: a later read at the same count takes it from
    # here. What follows is worked out from it, once per grouping (shared by every state that shares it).
    revision: int | None = None
    tops: dict[int, dict[int, int]] = field(default_factory=dict)  # level -> groups_at(level)
    placed: dict[int, dict[int, int]] = field(default_factory=dict)  # one level -> every placed face -> its group
    peak_paths: dict[int, str] = field(default_factory=dict)  # detection -> its photo's path

    def owner(self, detection_id: int) -> GroupRef | None:
        if detection_id in self.ignored:
            return None
        if detection_id in self.confirmed:
            return GroupRef("person", self.confirmed[detection_id])
        if detection_id in self.suggested:
            return GroupRef("person", self.suggested[detection_id])
        if detection_id in self.auto:
            return GroupRef("auto", self.auto[detection_id])
        return None

    def members(self, ref: GroupRef) -> list[int]:
        if ref.kind == "person":  # faces of photos on disk: a missing photo's stay the person's, unlisted
            return sorted([d for d, p in self.confirmed.items() if p == ref.id and d in self.photo_of]
                          + [d for d, p in self.suggested.items() if p == ref.id and d in self.photo_of])
        if self.clusters[ref.id][0] == self.level:  # a group of the listed level: one pass over ``auto``
            return sorted(d for d, g in self.auto.items() if g == ref.id and self.is_unowned(d))
        top = self.groups_at(self.clusters[ref.id][0])  # one walk per finest group, not one per face
        return sorted(d for d in self.unowned() if top[self.level0[d]] == ref.id)

    def is_unowned(self, detection_id: int) -> bool:
        """No person owns it and it is not ignored (an operation under way may have given it an owner since
        ``auto`` was made: owners are only ever added to a loaded state)."""
        return detection_id not in self.ignored and detection_id not in self.confirmed and \
            detection_id not in self.suggested

    def unowned(self) -> list[int]:
        """Faces no person owns (and not ignored) that the grouping placed."""
        return [d for d in self.level0 if self.is_unowned(d)]

    def at_level(self, level: int) -> State:
        """The same owners seen at another level of the grouping, without reading the library again (the loaded
        dicts are shared: neither state may be changed)."""
        if self.levels and not 0 <= level < self.levels:
            raise OrganizeError(f"level {level} does not exist: this grouping has levels 0 to {self.levels - 1}")
        if level == self.level:
            return replace(self)
        return replace(self, level=level, auto=self._unowned_at(level))

    def _unowned_at(self, level: int) -> dict[int, int]:
        """Each face no person owns -> its group at ``level``: every placed face's group (kept for one level
        with the grouping), less the few that have owners; a million faces placed anew took 0.3-0.5 s."""
        placed = self.placed.get(level)
        if placed is None:
            top = self.groups_at(level)
            self.placed.clear()  # one level's worth: at a million faces each is about 80 MB
            placed = self.placed[level] = {d: top[c] for d, c in self.level0.items()}
        auto = placed.copy()
        for owned in (self.ignored, self.confirmed, self.suggested):
            for d in owned:
                auto.pop(d, None)
        return auto

    def groups_at(self, level: int) -> dict[int, int]:
        """Finest group -> its group at ``level`` (walked once per finest group, not once per face; kept with the
        grouping: callers must not change it)."""
        top = self.tops.get(level)
        if top is None:
            top = self.tops[level] = {c: self.ancestor(c, level) for c in set(self.level0.values())}
        return top

    def ancestor(self, cluster_id: int, level: int) -> int:
        while self.clusters[cluster_id][0] < level:
            cluster_id = self.clusters[cluster_id][1]
        return cluster_id


def current_run(s: Session, mode: str) -> ClusterRun | None:
    return s.scalars(select(ClusterRun).where(ClusterRun.mode == mode).order_by(ClusterRun.id.desc())).first()


def load_state(s: Session, mode: str, level: int | None = None, reuse: State | None = None) -> State:
    """Who owns which face, read from the library. ``reuse``: a state read before, whose grouping part is taken
    instead of read again where nothing it counts has changed since (only the user's corrections are read)."""
    revision = s.scalar(select(Revision.value).where(Revision.name == GROUPING))
    people = {p.id: p for p in s.scalars(select(Person).where(Person.mode == mode))}
    confirmed = {d: p for d, p in s.execute(select(Assignment.detection_id, Assignment.person_id)) if p in people}
    ignored = set(s.scalars(select(Ignored.detection_id)).all())
    rejected = {tuple(r) for r in s.execute(select(Rejection.detection_id, Rejection.person_id))}
    suggested = {d: p for d, p in s.execute(select(Suggestion.detection_id, Suggestion.person_id))
                 if p in people and d not in confirmed and d not in ignored and (d, p) not in rejected}

    if reuse is not None and reuse.mode == mode and revision is not None and reuse.revision == revision:
        grouping = _grouping_of(reuse)
    else:
        grouping = _read_grouping(s, mode)
    levels = grouping["levels"]
    if level is None:
        level = grouping["default_level"]
    if levels and not 0 <= level < levels:
        raise OrganizeError(f"level {level} does not exist: this grouping has levels 0 to {levels - 1}")
    state = State(mode, level, confirmed=confirmed, suggested=suggested, ignored=ignored, auto={}, people=people,
                  revision=revision, **grouping)
    state.auto = state._unowned_at(level)
    return state


def _read_grouping(s: Session, mode: str) -> dict:
    """The part of a state that only indexing and grouping change (State's fields by name)."""
    # Every face's photo, less those of photos not on disk (few, and found by the status index): a million
    # faces read 0.41 s this way, 0.77 s joined with their photos.
    photo_of = dict(fetch_all(s, select(Detection.id, Detection.photo_id).where(Detection.kind == KIND_OF_MODE[mode])))
    gone = set(s.scalars(select(Photo.id).where(Photo.status != PhotoStatus.OK)))
    if gone:
        photo_of = {d: p for d, p in photo_of.items() if p not in gone}
    run = current_run(s, mode)
    clusters, level0 = {}, {}
    if run is not None:
        clusters = {cid: (lvl, parent, peak) for cid, lvl, parent, peak in fetch_all(s,
            select(Cluster.id, Cluster.level, Cluster.parent_id, Cluster.peak_detection_id)
            .where(Cluster.run_id == run.id))}
        level0 = dict(fetch_all(s, select(ClusterMember.detection_id, ClusterMember.cluster_id)
                                .where(ClusterMember.run_id == run.id)))
        level0 = {d: c for d, c in level0.items() if d in photo_of}
    return {"levels": run.levels if run is not None else 0, "run_id": run.id if run is not None else None,
            "default_level": run.shown_level if run is not None else 0,
            "photo_of": photo_of, "level0": level0, "clusters": clusters}


def _grouping_of(state: State) -> dict:
    return {"levels": state.levels, "default_level": state.default_level, "run_id": state.run_id,
            "photo_of": state.photo_of, "level0": state.level0,
            "clusters": state.clusters, "tops": state.tops, "placed": state.placed, "peak_paths": state.peak_paths}


def resolve(s: Session, state: State, text: str) -> GroupRef:
    """A group reference as the user typed it: p12, g345, or a person's name."""
    text = (text or "").strip()
    if not text:
        raise OrganizeError("empty group reference")
    if text[0] in "pPgG" and text[1:].isdigit():
        ref = GroupRef("person" if text[0] in "pP" else "auto", int(text[1:]))
        if ref.kind == "person":
            if ref.id not in state.people:
                raise OrganizeError(f"no {WORDS[state.mode].who} {text} in this library ({state.mode} mode)")
        elif ref.id not in state.clusters:
            other = s.get(Cluster, ref.id)
            if other is not None:
                raise OrganizeError(f"group {text} is a group of {other.run.mode} mode, not {state.mode} "
                                    f"(--mode {other.run.mode})")
            if ref.id < s.scalar(select(func.coalesce(func.max(Cluster.id), 0))):  # ids are never reused
                raise OrganizeError(f"group {text} is from an earlier grouping that re-clustering replaced; "
                                    "list the groups again")
            raise OrganizeError(f"no group {text} in the current grouping")
        elif not state.members(ref):
            w = WORDS[state.mode]
            raise OrganizeError(f"group {text} has no {w.many} left that belong to no {w.who}"
                                f"{_now_whose(state, ref.id)}")
        return ref
    matches = [p for p in state.people.values() if p.name and p.name.casefold() == text.casefold()]
    if not matches:
        raise OrganizeError(f"no {WORDS[state.mode].who} named {text!r} (and not a group reference such as p12 or "
                            "g345)")
    return GroupRef("person", matches[0].id)


def _now_whose(state: State, cluster_id: int) -> str:
    """Where an automatic group's faces went (a merge or a name gave them to people): what to type instead."""
    top = state.groups_at(state.clusters[cluster_id][0])
    owners = Counter(state.confirmed.get(d) or state.suggested.get(d)
                     for d, c in state.level0.items() if top[c] == cluster_id and d not in state.ignored)
    owners.pop(None, None)
    if not owners:
        return ""
    names = [f"p{p}" + (f" ({state.people[p].name})" if state.people[p].name else "")
             for p, _ in owners.most_common(3)]
    return f": its faces are {' and '.join(names)}{' and others' if len(owners) > 3 else ''}'s now"


def person_named(state: State, name: str, *, besides: int | None = None) -> Person | None:
    key = name.casefold()
    return next((p for p in state.people.values() if p.name and p.name.casefold() == key and p.id != besides), None)


class Listing(list):
    """Groups as listed, with the automatic groups left out for being smaller than asked: how many, how many faces
    (a million faces make over a hundred thousand groups of one: their rows are not made only to be dropped)."""

    def __init__(self, groups=(), small: int = 0, small_items: int = 0):
        super().__init__(groups)
        self.small, self.small_items = small, small_items


def groups(s: Session, mode: str = "faces", level: int | None = None, *, include_hidden: bool = False,
           min_size: int = 1, loaded: State | None = None, reuse: State | None = None) -> tuple[State, Listing]:
    """The group list at ``level`` (default: where the hierarchy stopped, below the zoom-out levels): named people
    by name, unnamed people, then automatic groups of ``min_size`` faces or more, largest first. ``loaded``: a
    state read since the library last changed, seen at ``level`` instead of reading the library again (zooming: a
    million faces take seconds to read); else ``reuse``: one read before, whose grouping part is taken where it is
    unchanged (``load_state``)."""
    if loaded is None:
        state = load_state(s, mode, level, reuse)
    else:
        state = loaded.at_level(loaded.default_level if level is None else level)
    # Counted as listed: faces of photos gone from disk stay their person's (they come back with the photo)
    conf = Counter(p for d, p in state.confirmed.items() if d in state.photo_of)
    sugg = Counter(p for d, p in state.suggested.items() if d in state.photo_of)
    peak_of_person = _person_peaks(state)
    out: list[GroupInfo] = []
    for p in state.people.values():
        size = conf[p.id] + sugg[p.id]
        if (p.hidden and not include_hidden) or (size == 0 and not p.name):
            continue  # an unnamed person whose faces all went elsewhere is not a group any more
        out.append(GroupInfo(f"p{p.id}", "person", p.id, p.name, bool(p.hidden), None, size,
                             conf[p.id], sugg[p.id], peak_of_person.get(p.id), None))
    sizes = Counter(state.auto.values())  # counted in C: a million faces, not a list of them per group
    small = [size for size in sizes.values() if size < min_size]
    if small:
        sizes = Counter({cid: size for cid, size in sizes.items() if size >= min_size})
    # Where the peak face now belongs to a person, the group shows its first unowned face instead.
    lost_peak = {cid for cid in sizes if state.auto.get(state.clusters[cid][2]) != cid}
    first: dict[int, int] = {}
    if lost_peak:
        for d, cid in state.auto.items():
            if cid in lost_peak and d < first.get(cid, d + 1):
                first[cid] = d
    children = Counter(parent for lvl, parent, _ in state.clusters.values() if lvl == state.level - 1) \
        if state.level > 0 else Counter()
    for cid, size in sizes.items():
        peak = first.get(cid, state.clusters[cid][2])
        out.append(GroupInfo(f"g{cid}", "auto", cid, None, False, state.level, size, 0, 0, peak, None,
                             children.get(cid, 0)))
    paths = state.peak_paths  # kept with the grouping: a move of a photo counts as a change of it
    paths.update(_photo_paths(s, [g.peak_detection_id for g in out
                                  if g.peak_detection_id and g.peak_detection_id not in paths]))
    for g in out:
        g.peak_photo = paths.get(g.peak_detection_id)
    out.sort(key=lambda g: (g.kind != "person", g.name is None, (g.name or "").casefold(), -g.size, g.id))
    return state, Listing(out, len(small), sum(small))


def _person_peaks(state: State) -> dict[int, int]:
    """A person's face: from the finest group holding most of their confirmed faces, its peak (the face Hi-LANDER
    found most typical of it) where that is theirs. Not any peak of theirs: a stray face merged in with a group
    is the peak of its own group of one, and would stand for the person."""
    by_group: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))  # person -> group -> faces
    for d, p in sorted(state.confirmed.items()):
        if d in state.photo_of:  # not a photo gone from disk
            by_group[p][state.level0.get(d, -1)].append(d)  # -1: a face the grouping left out
    best: dict[int, int] = {}
    for p, groups in by_group.items():
        cid, faces = max(groups.items(), key=lambda item: (len(item[1]), item[0] != -1, -item[0]))
        peak = state.clusters[cid][2] if cid in state.clusters else None
        best[p] = peak if peak in faces else faces[0]
    for d, p in sorted(state.suggested.items()):
        if d in state.photo_of:
            best.setdefault(p, d)
    return best


def _photo_paths(s: Session, detection_ids: list[int]) -> dict[int, str]:
    return dict(fetch_in(s, select(Detection.id, Photo.path).join(Photo, Photo.id == Detection.photo_id),
                         Detection.id, detection_ids))


@dataclass
class Member:
    detection_id: int
    photo: str
    box: tuple[float, float, float, float]  # x, y, w, h in 0..1 of the upright photo
    status: str  # "confirmed" | "suggested" | "auto" | "not a face" (turned down by the face check)
    subgroup: str | None  # automatic groups: the finer group it is in (for splitting by sub-group)
    content_hash: str = ""  # of the photo: what its thumbnails are cached by
    photo_size: tuple[int, int] | None = None  # upright width, height

    def as_dict(self) -> dict:
        return {"detection_id": self.detection_id, "photo": self.photo, "box": list(self.box),
                "status": self.status, "subgroup": self.subgroup}


def members(s: Session, state: State, ref: GroupRef) -> list[Member]:
    ids = state.members(ref)
    rows = face_rows(s, ids)
    out = []
    for d in ids:
        if ref.kind == "person":
            status, sub = ("confirmed" if d in state.confirmed else "suggested"), None
        else:
            lvl = state.clusters[ref.id][0]
            status = "auto"
            sub = f"g{state.ancestor(state.level0[d], lvl - 1)}" if lvl > 0 else None
        path, box, digest, size = rows[d]
        out.append(Member(d, path, box, status, sub, digest, size))
    return out


def face_rows(s: Session, ids: list[int]) -> dict[int, tuple[str, tuple, str, tuple[int, int] | None]]:
    """detection -> (photo path, box, photo content hash, upright photo size): what a thumbnail needs."""
    rows = {d: (path, (x, y, w, h), digest, (pw, ph) if pw and ph else None)
            for d, path, x, y, w, h, digest, pw, ph in fetch_in(
                s, select(Detection.id, Photo.path, Detection.x, Detection.y, Detection.w, Detection.h,
                          Photo.content_hash, Photo.width, Photo.height).join(Photo, Photo.id == Detection.photo_id),
                Detection.id, ids)}
    return rows


def faces_by_photo(state: State, detection_ids) -> dict[int, list[int]]:
    by_photo: dict[int, list[int]] = defaultdict(list)
    for d in detection_ids:
        by_photo[state.photo_of.get(d, -1)].append(d)
    return by_photo
