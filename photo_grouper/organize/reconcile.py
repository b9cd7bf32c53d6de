"""After every re-clustering: suggest new faces to the people the user made, never change what they confirmed.

A person is made by naming a group or by touching one (merge, split, move, reject, hide), named or not: a user who
merged two groups without naming them has said they are one person, and that person's new photos belong with them.
For each face no one owns, the smallest automatic group around it (going up the hierarchy from the finest level to
the default one: the zoom-out levels above it join what the model did not) that holds confirmed faces decides: if
most of those are one person's, the face is suggested to that person, unless it was rejected from them, or its
photo already has a face confirmed to them (two faces of one photo are two people). Where several faces of one
photo qualify, only the one closest to the person's confirmed faces in that group is suggested.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..store import Library, Person, Rejection, Suggestion
from .view import load_state


def suggest_in(s: Session, mode: str, ids: np.ndarray | None = None, x: np.ndarray | None = None) -> int:
    """Replace the mode's suggestions inside the caller's transaction; ``ids``/``x`` (the clustered vectors)
    break ties between faces of one photo. Returns the number of faces suggested."""
    return len(_suggest(s, mode, ids, x))


def suggest_again(s: Session, mode: str, ids: np.ndarray | None = None,
                  x: np.ndarray | None = None) -> tuple[int, int]:
    """``suggest_in``, telling the new suggestions from those made before: (how many, how many are new)."""
    before = {tuple(r) for r in s.execute(select(Suggestion.detection_id, Suggestion.person_id)
                                          .where(Suggestion.person_id.in_(_people_of(mode))))}
    made = _suggest(s, mode, ids, x)
    return len(made), len(made - before)


def _people_of(mode: str):
    return select(Person.id).where(Person.mode == mode)


def _suggest(s: Session, mode: str, ids: np.ndarray | None, x: np.ndarray | None) -> set[tuple[int, int]]:
    """The mode's suggestions replaced; returns them as (detection, person)."""
    s.execute(delete(Suggestion).where(Suggestion.person_id.in_(_people_of(mode))))
    state = load_state(s, mode)
    if state.run_id is None:
        return set()
    rejected = {tuple(r) for r in s.execute(select(Rejection.detection_id, Rejection.person_id))}
    row_of = {int(d): i for i, d in enumerate(ids)} if ids is not None else {}

    confirmed_photos: dict[int, set[int]] = defaultdict(set)  # person -> photos where they are confirmed
    for d, p in state.confirmed.items():
        confirmed_photos[p].add(state.photo_of.get(d))
    open_faces = {d for d in state.level0 if d not in state.confirmed and d not in state.ignored}

    rows = []
    for level in range(state.default_level + 1):  # not the zoom-out levels: joins the model did not make
        if not open_faces:
            break
        top = state.groups_at(level)
        in_group: dict[int, list[int]] = defaultdict(list)
        for d, c in state.level0.items():
            if d not in state.ignored:
                in_group[top[c]].append(d)
        for faces in in_group.values():
            votes = Counter(state.confirmed[d] for d in faces if d in state.confirmed)
            undecided = [d for d in faces if d in open_faces]
            if not votes or not undecided:
                continue
            open_faces.difference_update(undecided)  # this group decides for them, either way
            person, n = votes.most_common(1)[0]
            if 2 * n <= sum(votes.values()):
                continue
            candidates: dict[int, list[int]] = defaultdict(list)
            for d in undecided:
                photo = state.photo_of.get(d)
                if (d, person) not in rejected and photo not in confirmed_photos[person]:
                    candidates[photo].append(d)
            centre = _centre(x, row_of, [d for d in faces if state.confirmed.get(d) == person])
            for photo, same_photo in candidates.items():
                if photo not in confirmed_photos[person]:  # one suggestion per photo and person
                    confirmed_photos[person].add(photo)
                    rows.append({"detection_id": _closest(same_photo, centre, x, row_of), "person_id": person})
    if rows:
        s.execute(insert(Suggestion), rows)
    return {(r["detection_id"], r["person_id"]) for r in rows}


def suggest(library: Library, mode: str) -> int:
    with library.session() as s:
        return suggest_in(s, mode)


def _centre(x, row_of, faces) -> np.ndarray | None:
    rows = [row_of[d] for d in faces if d in row_of]
    if x is None or not rows:
        return None
    v = x[rows].mean(axis=0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _closest(faces: list[int], centre, x, row_of) -> int:
    if len(faces) == 1 or centre is None:
        return min(faces)
    scored = [(_cos(x[row_of[d]], centre) if d in row_of else -2.0, -d) for d in faces]
    return -max(scored)[1]


def _cos(v: np.ndarray, unit: np.ndarray) -> float:
    return float(v @ unit) / max(float(np.linalg.norm(v)), 1e-12)
