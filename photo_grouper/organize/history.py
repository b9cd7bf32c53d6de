"""Undo and redo that survive restarts.

Every user operation changes a few rows of the fact tables (people, assignments, rejections, ignored, and the face
check's verdicts the user overrules) through a
:class:`Recorder`, which remembers each row's value before and after. The list is stored with the operation; undo
writes the "before" values back in reverse order, redo the "after" values in order. Undone operations always form
the newest part of the history: a new operation drops them, as in every editor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.sqlite import insert as upsert
from sqlalchemy.orm import Session

from ..store import (
    Assignment, Detection, Ignored, Operation, Person, Rejection, Suggestion, fetch_in, id_chunks,
)
from .words import WORDS

HISTORY_LIMIT = 500  # operations kept for undo; older ones are forgotten


class OrganizeError(ValueError):
    """A user operation that cannot be done as asked; nothing was changed."""


@dataclass
class Change:
    """What one operation (or its undo/redo) did, small enough to print or send to the GUI."""

    operation_id: int | None
    kind: str
    summary: str
    faces: int = 0  # faces whose person, rejection or ignore state changed
    people: list[int] = field(default_factory=list)  # people created, changed or removed
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"operation": self.operation_id, "kind": self.kind, "summary": self.summary, "faces": self.faces,
                "people": self.people, "notes": self.notes}


def _person_row(p: Person) -> dict:
    return {"mode": p.mode, "name": p.name, "hidden": bool(p.hidden)}


class Recorder:
    """Row changes of one operation, applied at once and kept for undo."""

    def __init__(self, session: Session):
        self.s = session
        self.changes: list[dict] = []

    # -- primitives: each sets one row to a value and records the value it had --------------------------------

    def assign(self, detection_id: int, person_id: int | None) -> None:
        self.assign_many([detection_id], person_id)

    def assign_many(self, faces: list[int], person_id: int | None) -> None:
        """Each of ``faces`` confirmed to the person (None: to no one), in a few statements: naming a group of
        thousands of faces took seconds one row at a time."""
        before = dict(fetch_in(self.s, select(Assignment.detection_id, Assignment.person_id),
                               Assignment.detection_id, faces))
        todo = [d for d in faces if before.get(d) != person_id]
        _set_assignments(self.s, todo, person_id)
        self.changes.extend({"t": "assign", "d": d, "b": before.get(d), "a": person_id} for d in todo)

    def reject(self, detection_id: int, person_id: int, on: bool = True) -> None:
        self.reject_many([detection_id], person_id, on)

    def reject_many(self, faces: list[int], person_id: int, on: bool = True) -> None:
        """"Not this person" set (``on``) or lifted for each of ``faces``."""
        rejected = {d for d, in fetch_in(self.s, select(Rejection.detection_id).where(Rejection.person_id == person_id),
                                         Rejection.detection_id, faces)}
        todo = [d for d in faces if (d in rejected) != on]
        _set_rejections(self.s, todo, person_id, on)
        self.changes.extend({"t": "reject", "d": d, "p": person_id, "b": not on, "a": on} for d in todo)

    def ignore(self, detection_id: int, reason: str | None) -> None:
        before = self.s.scalar(select(Ignored.reason).where(Ignored.detection_id == detection_id))
        if before == reason:
            return
        _set_ignored(self.s, detection_id, reason)
        self.changes.append({"t": "ignore", "d": detection_id, "b": before, "a": reason})

    def verify(self, detection_id: int, verdict: bool | None) -> None:
        """The face check's verdict on a box (jobs.check_faces), overruled by the user."""
        before = self.s.get(Detection, detection_id).verified
        if before == verdict:
            return
        _set_verified(self.s, detection_id, verdict)
        self.changes.append({"t": "verify", "d": detection_id, "b": before, "a": verdict})

    def move_suggestions(self, source_id: int, into_id: int) -> None:
        """The faces the last re-clustering suggested to one person, suggested to another instead (a merge).
        Suggestions are not facts (every re-clustering replaces them), but undoing the merge must give them back."""
        faces = self.s.scalars(select(Suggestion.detection_id).where(Suggestion.person_id == source_id)).all()
        _move_suggestions(self.s, faces, source_id, into_id)
        self.changes.extend({"t": "suggest", "d": d, "b": source_id, "a": into_id} for d in sorted(faces))

    def create_person(self, mode: str, name: str | None = None, hidden: bool = False) -> Person:
        person = Person(mode=mode, name=name, hidden=hidden)
        self.s.add(person)
        self.s.flush()
        self.changes.append({"t": "person", "id": person.id, "b": None, "a": _person_row(person)})
        return person

    def update_person(self, person: Person, **fields) -> None:
        before = _person_row(person)
        for key, value in fields.items():
            setattr(person, key, value)
        after = _person_row(person)
        if after != before:
            self.s.flush()
            self.changes.append({"t": "person", "id": person.id, "b": before, "a": after})

    def delete_person(self, person: Person) -> None:
        """Only for a person that no longer owns or rejects anything (merge moves those first)."""
        self.changes.append({"t": "person", "id": person.id, "b": _person_row(person), "a": None})
        self.s.delete(person)
        self.s.flush()

    # -- the operation as a whole ------------------------------------------------------------------------------

    def commit(self, mode: str, kind: str, summary: str, notes: list[str] | None = None,
               unchanged: str | None = None) -> Change:
        """Store the operation (dropping any undone ones: they can no longer be redone) and describe it. Where it
        changed nothing it is refused, saying ``unchanged`` (what is so already) where the operation can."""
        if not self.changes:
            raise OrganizeError(unchanged or f"nothing to do: {summary}")
        self.s.execute(delete(Operation).where(Operation.mode == mode, Operation.undone.is_(True)))
        op = Operation(mode=mode, kind=kind, summary=summary, changes=json.dumps(self.changes))
        self.s.add(op)
        self.s.flush()
        old = self.s.scalars(select(Operation.id).where(Operation.mode == mode)
                             .order_by(Operation.id.desc()).offset(HISTORY_LIMIT)).all()
        if old:
            self.s.execute(delete(Operation).where(Operation.id.in_(old)))
        return Change(op.id, kind, summary, faces_changed(self.changes), people_changed(self.changes),
                      list(notes or []))


def faces_changed(changes: list[dict]) -> int:
    return len({c["d"] for c in changes if "d" in c})


def people_changed(changes: list[dict]) -> list[int]:
    return sorted({c["id"] for c in changes if c["t"] == "person"}
                  | {v for c in changes if c["t"] == "assign" for v in (c["b"], c["a"]) if v}
                  | {c["p"] for c in changes if c["t"] == "reject"})


def _put(s: Session, model, key: dict, values: dict | None) -> None:
    """Make the row of ``model`` with primary key ``key`` hold ``values``, or not exist (``values`` None)."""
    row = s.get(model, tuple(key.values()) if len(key) > 1 else next(iter(key.values())))
    if values is None:
        if row is not None:
            s.delete(row)
    elif row is None:
        s.add(model(**key, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
    s.flush()


# The fact rows of faces are written with plain statements, many rows to one, not as ORM objects: no object is
# loaded and no flush runs per face (history.py is the only writer of these tables).


def _set_assignments(s: Session, faces: list[int], person_id: int | None) -> None:
    if not faces:
        return
    if person_id is None:
        for chunk in id_chunks(faces):
            s.execute(delete(Assignment).where(Assignment.detection_id.in_(chunk)))
        return
    stmt = upsert(Assignment)
    s.execute(stmt.on_conflict_do_update(index_elements=[Assignment.detection_id],
                                         set_={"person_id": stmt.excluded.person_id}),
              [{"detection_id": d, "person_id": person_id} for d in faces])


def _set_rejections(s: Session, faces: list[int], person_id: int, on: bool) -> None:
    if not faces:
        return
    if on:
        s.execute(upsert(Rejection).on_conflict_do_nothing(),
                  [{"detection_id": d, "person_id": person_id} for d in faces])
        return
    for chunk in id_chunks(faces):
        s.execute(delete(Rejection).where(Rejection.person_id == person_id, Rejection.detection_id.in_(chunk)))


def _move_suggestions(s: Session, faces: list[int], source_id: int, into_id: int) -> None:
    """Only where the face is still suggested to ``source_id``: a re-clustering since may have changed it."""
    for chunk in id_chunks(faces):
        s.execute(update(Suggestion).where(Suggestion.person_id == source_id, Suggestion.detection_id.in_(chunk))
                  .values(person_id=into_id))


def _set_ignored(s: Session, detection_id: int, reason: str | None) -> None:
    if reason is None:
        s.execute(delete(Ignored).where(Ignored.detection_id == detection_id))
        return
    stmt = upsert(Ignored).values(detection_id=detection_id, reason=reason)
    s.execute(stmt.on_conflict_do_update(index_elements=[Ignored.detection_id], set_={"reason": reason}))


def _set_verified(s: Session, detection_id: int, verdict: bool | None) -> None:
    s.get(Detection, detection_id).verified = verdict
    s.flush()


def replay(s: Session, changes: list[dict], *, undo: bool) -> int:
    """Write back the "before" (undo) or "after" (redo) values. Faces whose photo was re-indexed since (their
    detection is gone) are skipped; returns how many were. Runs of changes that set faces to one value (a group
    named: thousands of assignments) are written together, in the order they come."""
    key = "b" if undo else "a"
    alive = {d for d, in fetch_in(s, select(Detection.id), Detection.id, sorted({c["d"] for c in changes if "d" in c}))}
    skipped = set()
    run: list[int] = []
    run_kind = None

    def write_run() -> None:
        if run:
            kind, value, person = run_kind
            if kind == "assign":
                _set_assignments(s, run, value)
            elif kind == "suggest":
                _move_suggestions(s, run, person, value)
            else:
                _set_rejections(s, run, person, value)
            run.clear()

    for c in reversed(changes) if undo else changes:
        if "d" in c and c["d"] not in alive:
            skipped.add(c["d"])
            continue
        if c["t"] in ("assign", "reject", "suggest"):
            # a suggestion moves from the other side's person: that is its "p"
            kind = (c["t"], c[key], c["a" if undo else "b"] if c["t"] == "suggest" else c.get("p"))
            if kind != run_kind:
                write_run()
                run_kind = kind
            run.append(c["d"])
            continue
        write_run()
        if c["t"] == "ignore":
            _set_ignored(s, c["d"], c[key])
        elif c["t"] == "verify":
            _set_verified(s, c["d"], c[key])
        elif c["t"] == "person":
            _put(s, Person, {"id": c["id"]}, c[key])
    write_run()
    return len(skipped)


def undo(s: Session, mode: str) -> Change:
    return _step(s, mode, undo=True)


def redo(s: Session, mode: str) -> Change:
    return _step(s, mode, undo=False)


def _step(s: Session, mode: str, *, undo: bool) -> Change:
    """Undo the newest done operation, or redo the oldest undone one."""
    order = Operation.id.desc() if undo else Operation.id
    op = s.scalars(select(Operation).where(Operation.mode == mode, Operation.undone.is_(not undo))
                   .order_by(order)).first()
    if op is None:
        raise OrganizeError(f"nothing to {'undo' if undo else 'redo'}")
    changes = json.loads(op.changes)
    skipped = replay(s, changes, undo=undo)
    op.undone = undo
    notes = [f"{skipped} {WORDS[mode].one}(s) no longer exist (their photos changed) and were left out"] \
        if skipped else []
    summary = f"{'undid' if undo else 'redid'}: {op.summary}"
    return Change(op.id, op.kind, summary, faces_changed(changes), people_changed(changes), notes)


def history(s: Session, mode: str, limit: int = 20) -> list[dict]:
    rows = s.scalars(select(Operation).where(Operation.mode == mode).order_by(Operation.id.desc()).limit(limit))
    return [{"operation": o.id, "kind": o.kind, "summary": o.summary, "undone": bool(o.undone),
             "at": o.at.isoformat(timespec="seconds") if o.at else None} for o in rows]
