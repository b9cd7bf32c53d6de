"""Corrections are facts: on real photos, a user names and fixes people, more photos arrive, `index` runs again,
and every correction still holds while the new photos are suggested (not confirmed) to the right people."""

import shutil
from pathlib import Path

from sqlalchemy import select

from photo_grouper.jobs import index_folder
from photo_grouper.organize import Organizer
from photo_grouper.store import Assignment, Detection, Library, Photo, Rejection, Suggestion
from photo_grouper.vision import EncoderSpec

PEOPLE = ["celeb-07209", "celeb-07212", "celeb-07213", "celeb-07225"]


def add_photos(src: Path, dst: Path, start: int, stop: int) -> None:
    for name in PEOPLE:
        (dst / name).mkdir(parents=True, exist_ok=True)
        for photo in sorted((src / name).iterdir())[start:stop]:
            shutil.copy2(photo, dst / name / photo.name)


def truth(lib: Library) -> dict[int, str]:
    """Each face's person, from the folder its photo is in."""
    with lib.session() as s:
        return {d: Path(p).parent.name for d, p in s.execute(
            select(Detection.id, Photo.path).join(Photo, Photo.id == Detection.photo_id))}


def facts(lib: Library):
    with lib.session() as s:
        return (dict(s.execute(select(Assignment.detection_id, Assignment.person_id)).all()),
                {tuple(r) for r in s.execute(select(Rejection.detection_id, Rejection.person_id))},
                dict(s.execute(select(Suggestion.detection_id, Suggestion.person_id)).all()))


def test_corrections_survive_reindexing_and_new_faces_are_suggested(faces_data, tmp_path):
    photos = tmp_path / "photos"
    add_photos(faces_data, photos, 0, 8)
    lib = Library(tmp_path / "library.sqlite3")
    org = Organizer(lib, "faces")
    index_folder(lib, photos, EncoderSpec.of("faces"), workers=2, cluster=True)
    who = truth(lib)

    # The user names, for each person, the finest group holding most of their faces ...
    for name in PEOPLE:
        _, listed = org.groups(level=0)
        best = max((g for g in listed if g.kind == "auto"),
                   key=lambda g: sum(who[m.detection_id] == name for m in org.show(g.ref)[1]))
        org.name(best.ref, name)
    # ... then rejects the faces that are someone else and moves each missing face in.
    for name in PEOPLE:
        wrong = [m.detection_id for m in org.show(name)[1] if who[m.detection_id] != name]
        if wrong:
            org.reject(name, wrong)
    for name in PEOPLE:
        mine = {m.detection_id for m in org.show(name)[1]}
        missing = [d for d, person in who.items() if person == name and d not in mine]
        if missing:
            org.move(missing, name)
    person_id = {g.name: g.id for g in org.people()}
    confirmed, rejected, _ = facts(lib)
    assert confirmed == {d: person_id[p] for d, p in who.items()}  # every face confirmed to the right person
    old_faces = set(who)

    # More photos of the same people arrive; index groups everything again.
    add_photos(faces_data, photos, 8, 20)
    report = index_folder(lib, photos, EncoderSpec.of("faces"), workers=2, cluster=True)
    assert report.cluster is not None and report.cluster["items"] > len(old_faces)
    who = truth(lib)
    new_faces = set(who) - old_faces

    after_confirmed, after_rejected, suggested = facts(lib)
    assert after_confirmed == confirmed  # no confirmed face changed, none was added without the user
    assert after_rejected == rejected
    assert not any((d, p) in rejected for d, p in suggested.items())
    assert set(suggested) <= new_faces
    right = sum(suggested[d] == person_id[who[d]] for d in suggested)
    assert right >= 0.9 * len(suggested), f"{len(suggested) - right} of {len(suggested)} suggestions wrong"
    assert len(suggested) >= 0.7 * len(new_faces), f"only {len(suggested)} of {len(new_faces)} new faces suggested"

    # The group list shows each person with their confirmed and suggested faces.
    people = {g.name: g for g in org.people()}
    assert all(people[name].confirmed == sum(p == name for d, p in who.items() if d in old_faces)
               for name in PEOPLE)
    assert sum(g.suggested for g in people.values()) == len(suggested)
    lib.close()
