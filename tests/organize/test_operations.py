"""Name, merge, split, reject, move, hide, ignore, undo/redo on a real SQLite library."""

import re

import pytest
from sqlalchemy import select, update

from photo_grouper.organize import Organizer, OrganizeError
from photo_grouper.store import Detection, Library, Photo, PhotoStatus

from .conftest import make_library


def listed(org, level=None, hidden=False):
    return {g.ref: g for g in org.groups(level, include_hidden=hidden)[1]}


def test_groups_follow_the_hierarchy_level(made):
    coarse = listed(made.org)  # default: the top level (no default level recorded)
    assert {g.ref: g.size for g in coarse.values()} == {f"g{made.coarse['AB']}": 7, f"g{made.coarse['C']}": 2}
    assert coarse[f"g{made.coarse['AB']}"].subgroups == 2
    fine = listed(made.org, level=0)
    assert sorted(g.size for g in fine.values()) == [2, 3, 4]
    with pytest.raises(OrganizeError, match="level 5 does not exist"):
        made.org.groups(5)


def test_a_grouping_with_zoom_out_levels_is_listed_at_its_default_level(tmp_path):
    """Level 1 above the default level 0 is a zoom-out level: listed only when asked, and operations still name
    its groups."""
    m = make_library(tmp_path / "lib.sqlite3", {"A": 4, "B": 3, "C": 2}, {"AB": ["A", "B"], "C": ["C"]},
                     default_level=0)
    with m.library:
        assert m.org.zoom_levels() == (2, 0) and m.org.levels() == 2
        state, groups = m.org.groups()
        assert (state.level, state.default_level) == (0, 0)
        assert sorted(g.size for g in groups) == [2, 3, 4]
        assert sorted(g.size for g in listed(m.org, level=1).values()) == [2, 7]
        # A group of the zoom-out level is named as any other (the user says they are one person).
        m.org.name(f"g{m.coarse['AB']}", "Ab")
        assert [(g.name, g.size, g.level) for g in m.org.groups()[1]] == [("Ab", 7, None), (None, 2, 0)]


def test_an_old_grouping_without_a_default_level_opens_at_its_top(made):
    assert made.org.zoom_levels() == (2, 1)
    assert made.org.groups()[0].level == 1


def test_suggestions_come_from_levels_up_to_the_default_not_the_zoom_out_levels(tmp_path):
    """AB joins A and B only on a zoom-out level (a join the model did not make): A's person gets no suggestion
    of B's faces from it; where level 1 is the model's own (the default), they do."""
    from photo_grouper.organize import suggest

    for default, suggested in ((0, 0), (1, 3)):
        m = make_library(tmp_path / f"lib{default}.sqlite3", {"A": 4, "B": 3, "C": 2},
                         {"AB": ["A", "B"], "C": ["C"]}, default_level=default)
        with m.library:
            m.org.name(f"g{m.fine['A']}", "Alan")
            assert suggest(m.library, "faces") == suggested
            assert m.org.show("Alan")[0].suggested == suggested


def test_naming_a_group_confirms_its_faces_and_a_known_name_merges(made):
    change = made.org.name(f"g{made.coarse['C']}", "  Ada   Lovelace ")
    assert change.kind == "name" and change.faces == 2
    people = made.org.people()
    assert [(p.name, p.confirmed) for p in people] == [("Ada Lovelace", 2)]
    # The automatic group is gone from the list: its faces are Ada's now.
    assert f"g{made.coarse['C']}" not in listed(made.org)
    # Naming another group with the same name (any case) merges, and says so.
    change = made.org.name(f"g{made.fine['B']}", "ada lovelace")
    assert any("already exists" in n for n in change.notes)
    assert [(p.name, p.confirmed) for p in made.org.people()] == [("Ada Lovelace", 5)]
    # Renaming a person; a person is found by name too.
    made.org.name("Ada Lovelace", "Ada")
    assert made.org.show("ada")[0].confirmed == 5


def test_bad_requests_change_nothing(made):
    before = listed(made.org)
    for call, message in [
        (lambda: made.org.name(f"g{made.coarse['C']}", "   "), "cannot be empty"),
        (lambda: made.org.name("g999999", "X"), "no group g999999"),
        (lambda: made.org.name("p77", "X"), "no person p77"),
        (lambda: made.org.name("Nobody", "X"), "no person named 'Nobody'"),
        (lambda: made.org.merge([f"g{made.coarse['C']}", f"g{made.coarse['C']}"]), "merged with itself"),
        (lambda: made.org.merge([f"g{made.coarse['C']}"]), "at least two"),
        (lambda: made.org.split(f"g{made.coarse['C']}", faces=[made.faces[("A", 0)]]), "not in group"),
        (lambda: made.org.reject(f"g{made.coarse['C']}", []), "choose the faces"),
        (lambda: made.org.move([10**6], f"g{made.coarse['C']}"), "no face 1000000"),
        (lambda: made.org.undo(), "nothing to undo"),
    ]:
        with pytest.raises(OrganizeError, match=message):
            call()
    assert {k: g.size for k, g in listed(made.org).items()} == {k: g.size for k, g in before.items()}
    assert made.org.people() == [] and made.org.history() == []


def test_merge_two_groups_then_undo_and_redo_survive_a_restart(made, tmp_path):
    ab, c = f"g{made.coarse['AB']}", f"g{made.coarse['C']}"
    change = made.org.merge([ab, c], name="Grace")
    # A1 and C1 share a photo: two faces of one photo are two people, so C1 stays out (and the note says so).
    assert change.faces == 8 and any("1 face(s) left out" in n for n in change.notes)
    assert [(p.name, p.size) for p in made.org.people()] == [("Grace", 8)]
    assert made.faces[("C", 1)] not in {m.detection_id for m in made.org.show("Grace")[1]}
    made.library.close()

    lib = Library(made.library.path)  # a restart: history is in the library
    org = Organizer(lib, "faces")
    undone = org.undo()
    assert undone.summary.startswith("undid: merged")
    assert org.people() == [] and set(listed(org)) == {ab, c}
    redone = org.redo()
    assert redone.summary.startswith("redid: merged")
    assert [(p.name, p.size) for p in org.people()] == [("Grace", 8)]
    with pytest.raises(OrganizeError, match="nothing to redo"):
        org.redo()
    lib.close()


def test_merging_two_named_people_keeps_the_first_name(made):
    made.org.name(f"g{made.fine['A']}", "Alan")
    made.org.name(f"g{made.fine['B']}", "Barbara")
    change = made.org.merge(["Alan", "Barbara"])
    assert "Barbara was merged into Alan" in change.notes
    assert [(p.name, p.confirmed) for p in made.org.people()] == [("Alan", 7)]
    made.org.undo()
    assert sorted((p.name, p.confirmed) for p in made.org.people()) == [("Alan", 4), ("Barbara", 3)]


def test_split_by_subgroup_and_by_faces(made):
    ab = f"g{made.coarse['AB']}"
    info, members = made.org.show(ab)
    assert {m.subgroup for m in members} == {f"g{made.fine['A']}", f"g{made.fine['B']}"}
    made.org.split(ab, subgroups=[f"g{made.fine['B']}"], name="Bea")
    groups = listed(made.org)
    assert groups[ab].size == 4  # A stays automatic
    bea = next(g for g in groups.values() if g.name == "Bea")
    assert bea.confirmed == 3
    # Split two faces out of a person to a new unnamed group: they are rejected from Bea.
    out = [made.faces[("B", 1)], made.faces[("B", 2)]]
    made.org.split(bea.ref, faces=out)
    people = {g.name: g for g in made.org.people()}
    assert people["Bea"].confirmed == 1
    unnamed = next(g for g in made.org.people() if g.name is None)
    assert unnamed.confirmed == 2
    with pytest.raises(OrganizeError, match="nothing would be left"):
        made.org.split("Bea", faces=[made.faces[("B", 0)]])
    with pytest.raises(OrganizeError, match="not a finer group"):
        made.org.split(ab, subgroups=[f"g{made.coarse['C']}"])


def test_reject_from_a_person_never_comes_back_and_rest_of_auto_group_stays_together(made):
    ab = f"g{made.coarse['AB']}"
    a0 = made.faces[("A", 0)]
    change = made.org.reject(ab, [a0])
    assert any("kept as" in n for n in change.notes)
    person = made.org.people()[0]
    assert person.confirmed == 6
    # The rejected face is back among automatic groups (its own group now holds only it).
    assert any(g.kind == "auto" and g.size == 1 for g in listed(made.org).values())
    # Naming the person and re-running the suggestions does not bring the rejected face back.
    made.org.name(person.ref, "Alan")
    from photo_grouper.organize import suggest
    suggest(made.library, "faces")
    _, members = made.org.show("Alan")
    assert a0 not in {m.detection_id for m in members}


def test_move_a_face_hide_and_ignore(made):
    made.org.name(f"g{made.coarse['C']}", "Cleo")
    a0 = made.faces[("A", 0)]
    made.org.move([a0], "Cleo")
    assert made.org.show("Cleo")[0].confirmed == 3
    with pytest.raises(OrganizeError, match="that face is Cleo's already"):
        made.org.move([a0], "Cleo")
    with pytest.raises(OrganizeError, match="those faces are Cleo's already"):
        made.org.move([a0, made.faces[("C", 0)]], "Cleo")
    made.org.move([a0], f"g{made.coarse['AB']}")  # to an automatic group: it becomes a person
    assert made.org.show("Cleo")[0].confirmed == 2
    made.org.hide("Cleo")
    assert "Cleo" not in {g.name for g in made.org.groups()[1]}
    assert "Cleo" in {g.name for g in made.org.groups(include_hidden=True)[1]}
    with pytest.raises(OrganizeError, match="already hidden"):
        made.org.hide("Cleo")
    made.org.hide("Cleo", hidden=False)
    c0 = made.faces[("C", 0)]
    made.org.ignore([c0], "not-a-face")
    assert made.org.show("Cleo")[0].confirmed == 1
    # Asked again, it says that is so already (not "nothing to do: marked 1 face(s)").
    with pytest.raises(OrganizeError, match="that face is marked as not a face already"):
        made.org.ignore([c0], "not-a-face")
    with pytest.raises(OrganizeError, match="those faces are not set aside"):
        made.org.ignore([a0, made.faces[("B", 0)]], None)
    made.org.undo()
    assert made.org.show("Cleo")[0].confirmed == 2


def test_history_is_bounded_and_a_new_operation_drops_redo(made, monkeypatch):
    from photo_grouper.organize import history

    monkeypatch.setattr(history, "HISTORY_LIMIT", 3)
    c = f"g{made.coarse['C']}"
    made.org.name(c, "N0")
    for i in range(1, 5):
        made.org.name("N%d" % (i - 1), "N%d" % i)
    assert len(made.org.history()) == 3
    made.org.undo()
    made.org.name("N3", "Other")  # drops the undone rename
    with pytest.raises(OrganizeError, match="nothing to redo"):
        made.org.redo()
    assert [h["summary"] for h in made.org.history()][0] == "named p1 'Other'"


def test_suggestions_follow_the_smallest_group_with_confirmed_faces(made):
    from photo_grouper.organize import suggest

    made.org.name(f"g{made.fine['A']}", "Alan")
    # B shares Alan's level-1 group and has no confirmed faces of its own: its faces are suggested to Alan.
    assert suggest(made.library, "faces") == 3
    alan, members = made.org.show("Alan")
    assert (alan.confirmed, alan.suggested) == (4, 3)
    assert {m.detection_id for m in members if m.status == "suggested"} == {made.faces[("B", i)] for i in range(3)}
    # Rejected faces are never suggested again; suggestions are not confirmations.
    made.org.reject("Alan", [made.faces[("B", 0)]])
    suggest(made.library, "faces")
    alan, members = made.org.show("Alan")
    assert (alan.confirmed, alan.suggested) == (4, 2)
    # C0 confirmed to Alan makes group C Alan's, but C1 shares a photo with Alan's confirmed A1: not suggested.
    made.org.move([made.faces[("C", 0)]], "Alan")
    suggest(made.library, "faces")
    _, members = made.org.show("Alan")
    assert made.faces[("C", 1)] not in {m.detection_id for m in members}


def test_a_person_made_without_a_name_gets_suggestions_too(made):
    from photo_grouper.organize import suggest

    # Moving C0 into fine group A makes A a person (unnamed): the user said these faces are one person.
    made.org.move([made.faces[("C", 0)]], f"g{made.fine['A']}")
    person = next(g for g in made.org.people() if g.name is None)
    # B shares the person's level-1 group: suggested to them; C1 shares a photo with their A1: not.
    assert suggest(made.library, "faces") == 3
    info, members = made.org.show(person.ref)
    assert (info.confirmed, info.suggested) == (5, 3)
    assert {m.detection_id for m in members if m.status == "suggested"} == {made.faces[("B", i)] for i in range(3)}


def test_a_person_is_shown_by_the_peak_of_their_main_group_not_a_stray(made):
    made.org.name(f"g{made.fine['B']}", "Bea")
    # A0 is the peak of groups A and AB, with a lower id than any of B's faces: moved to Bea, it is a stray there.
    made.org.move([made.faces[("A", 0)]], "Bea")
    bea = next(g for g in made.org.people() if g.name == "Bea")
    assert bea.confirmed == 4
    assert bea.peak_detection_id == made.faces[("B", 0)]  # the peak of fine group B, which holds 3 of her 4
    # Group AB lost its peak (A0) to Bea: it is shown by its first face left, A1; C keeps its own.
    groups = {g.ref: g for g in made.org.groups()[1]}
    assert groups[f"g{made.coarse['AB']}"].peak_detection_id == made.faces[("A", 1)]
    assert groups[f"g{made.coarse['C']}"].peak_detection_id == made.faces[("C", 0)]


def test_a_photo_gone_from_disk_leaves_the_list_and_comes_back_with_its_person(made):
    made.org.name(f"g{made.fine['A']}", "Alan")

    def set_status(status):
        with made.library.session() as s:
            photo = s.get(Detection, made.faces[("A", 0)]).photo_id
            s.execute(update(Photo).where(Photo.id == photo).values(status=status))

    set_status(PhotoStatus.MISSING)
    alan, members = made.org.show("Alan")
    assert (alan.size, alan.confirmed) == (3, 3) and made.faces[("A", 0)] not in {m.detection_id for m in members}
    assert alan.peak_detection_id != made.faces[("A", 0)]  # its face is not a photo that is gone
    set_status(PhotoStatus.OK)  # the next scan found it again: still Alan's, nothing lost
    alan, members = made.org.show("Alan")
    assert alan.confirmed == 4 and made.faces[("A", 0)] in {m.detection_id for m in members}


def test_undoing_a_merge_gives_the_suggestions_back(made):
    from photo_grouper.organize import suggest

    made.org.name(f"g{made.fine['B']}", "Bea")
    made.org.name(f"g{made.coarse['C']}", "Cleo")
    assert suggest(made.library, "faces") == 4  # A shares Bea's level-1 group
    made.org.merge(["Cleo", "Bea"])
    assert [(g.name, g.suggested) for g in made.org.people()] == [("Cleo", 4)]
    made.org.undo()
    assert {g.name: (g.confirmed, g.suggested) for g in made.org.people()} == {"Bea": (3, 4), "Cleo": (2, 0)}
    made.org.redo()
    assert [(g.name, g.confirmed, g.suggested) for g in made.org.people()] == [("Cleo", 5, 4)]


def test_confirm_suggested_faces_all_or_chosen(made):
    from photo_grouper.organize import suggest

    made.org.name(f"g{made.fine['B']}", "Bea")
    assert suggest(made.library, "faces") == 4
    a = [made.faces[("A", i)] for i in range(4)]
    with pytest.raises(OrganizeError, match=f"face {made.faces[('B', 0)]} is not suggested to Bea"):
        made.org.confirm("Bea", [made.faces[("B", 0)]])  # already hers
    with pytest.raises(OrganizeError, match="automatic group"):
        made.org.confirm(f"g{made.fine['C']}")
    change = made.org.confirm("Bea", [a[1]])
    assert change.summary == "confirmed 1 face(s) of Bea" and change.faces == 1
    assert made.org.show("Bea")[0].confirmed == 4
    made.org.confirm("Bea")
    info, members = made.org.show("Bea")
    assert (info.confirmed, info.suggested) == (7, 0) and {m.status for m in members} == {"confirmed"}
    with pytest.raises(OrganizeError, match="nothing suggested to Bea"):
        made.org.confirm("Bea")
    made.org.undo()
    assert made.org.show("Bea")[0].suggested == 3  # back to suggestions, not lost


def test_a_listing_is_reused_until_anything_commits(made):
    state, _ = made.org.groups()
    assert made.org.groups()[0] is state  # nothing committed: the same listing, not read again
    info, members = made.org.show(f"g{made.coarse['C']}")
    assert info.size == 2 and len(members) == 2 and made.org.groups()[0] is state
    # Another connection commits (another Library on the same file, as an index job's process would be).
    other = Library(made.library.path)
    Organizer(other).name(f"g{made.coarse['C']}", "Ada")
    other.close()
    fresh, groups = made.org.groups()
    assert fresh is not state and "Ada" in [g.name for g in groups]
    # Our own corrections are seen at once too.
    made.org.name("Ada", "Ada Lovelace")
    assert [g.name for g in made.org.people()] == ["Ada Lovelace"]


def test_zooming_reuses_the_owners_read_until_anything_commits(made, monkeypatch):
    """Another level of an unchanged library is the owners already read, seen at that level: the same groups as
    a fresh read, without reading the library again; after a commit it is read anew."""
    from photo_grouper.organize import view

    made.org.name(f"g{made.coarse['C']}", "Cleo")
    reads = []
    real = view.load_state
    monkeypatch.setattr(view, "load_state", lambda *a, **k: reads.append(a) or real(*a, **k))
    coarse = made.org.groups(1)[1]
    fine_state, fine = made.org.groups(0)
    assert len(reads) == 1  # level 1 read once; level 0 from it
    expected = Organizer(made.library, "faces").groups(0)[1]
    assert [g.as_dict() for g in fine] == [g.as_dict() for g in expected]
    assert [g.size for g in fine if g.kind == "auto"] == [4, 3] and fine_state.level == 0
    assert sorted(made.org.show(f"g{made.fine['B']}", 0)[1], key=lambda m: m.detection_id)[0].detection_id == \
        made.faces[("B", 0)]
    assert [g.as_dict() for g in made.org.groups(1)[1]] == [g.as_dict() for g in coarse] and len(reads) == 2
    made.org.name(f"g{made.fine['A']}", "Ada")  # a commit: read again
    assert [g.name for g in made.org.groups(0)[1] if g.kind == "person"] == ["Ada", "Cleo"] and len(reads) >= 3
    with pytest.raises(OrganizeError, match="level 5 does not exist"):
        made.org.groups(5)


def test_many_faces_are_written_and_undone_in_chunks(tmp_path, monkeypatch):
    """Naming a group writes its faces a few statements at a time, and undo/redo write them back the same way:
    with chunks of 3 ids, a group of 10 faces (and a merge, a reject and a move) must end as row by row would."""
    from photo_grouper.store import Assignment, Rejection, library

    monkeypatch.setattr(library, "IN_CHUNK", 3)
    m = make_library(tmp_path / "lib.sqlite3", {"A": 10, "B": 4}, {"A": ["A"], "B": ["B"]})
    org, lib = m.org, m.library

    def rows():
        with lib.session() as s:
            return (sorted(s.execute(select(Assignment.detection_id, Assignment.person_id)).all()),
                    sorted(s.execute(select(Rejection.detection_id, Rejection.person_id)).all()))

    a = [m.faces[("A", i)] for i in range(10)]
    b = [m.faces[("B", i)] for i in range(4)]
    org.name(f"g{m.coarse['A']}", "Ada")
    ada = rows()[0][0][1]
    assert rows() == ([(d, ada) for d in a], [])
    org.reject("Ada", a[:4])  # "not Ada": unassigned and remembered
    assert rows() == ([(d, ada) for d in a[4:]], [(d, ada) for d in a[:4]])
    org.move(a[:2], "Ada")  # put back by the user: the rejection is lifted
    assert rows() == ([(d, ada) for d in sorted(a[:2] + a[4:])], [(d, ada) for d in a[2:4]])
    org.name(f"g{m.coarse['B']}", "Bea")
    org.merge(["Ada", "Bea"])
    merged = rows()
    assert {p for _, p in merged[0]} == {ada} and len(merged[0]) == 12 and merged[1] == [(d, ada) for d in a[2:4]]

    states = []
    for _ in range(4):
        states.append(rows())
        org.undo()
    assert rows() == ([(d, ada) for d in a], [])  # back to just after the first naming
    for state in reversed(states):
        org.redo()
        assert rows() == state
    assert {d for d, _ in rows()[0]} == set(a[:2] + a[4:] + b)
    lib.close()


def test_boxes_the_face_check_turned_down_are_listed_by_photo(tmp_path):
    from sqlalchemy import update

    from photo_grouper.store import Detection

    m = make_library(tmp_path / "lib.sqlite3", {"B": 2, "A": 1}, {"B": ["B"], "A": ["A"]})  # B's faces first by id
    with m.library.session() as s:
        s.execute(update(Detection).values(verified=False))
    boxes = m.org.not_faces()
    assert [b.photo for b in boxes] == ["/photos/A0.jpg", "/photos/B0.jpg", "/photos/B1.jpg"]
    assert [b.detection_id for b in boxes] == [m.faces[("A", 0)], m.faces[("B", 0)], m.faces[("B", 1)]]
    m.library.close()


def test_a_correction_works_on_the_listing_only_where_nothing_committed_since(made, monkeypatch):
    """The window lists the groups, then corrects: the correction reuses that listing (a million faces took
    1.8 s to read) unless anything committed since, here another Organizer (a terminal, another window)."""
    from photo_grouper.organize import operations

    reads = []
    real = operations.load_state
    monkeypatch.setattr(operations, "load_state", lambda *a, **k: reads.append(1) or real(*a, **k))
    a, b, c = (f"g{made.fine['A']}", f"g{made.fine['B']}", f"g{made.coarse['C']}")
    made.org.groups(0)  # listed at the finest level; the correction works at the default one
    made.org.name(b, "Bea")
    assert reads == [] and made.org.show("Bea")[0].confirmed == 3
    # A correction that fails leaves nothing half done behind, in the library or in what is listed next.
    listed = [(g.ref, g.size) for g in made.org.groups()[1]]
    assert listed == [(made.org.people()[0].ref, 3), (f"g{made.coarse['AB']}", 4), (c, 2)]
    with pytest.raises(OrganizeError, match="listed twice"):
        made.org.merge([c, a, a])
    assert [(g.ref, g.size) for g in made.org.groups()[1]] == listed and reads == []
    # Another Organizer names C meanwhile: this one must see it, not its own listing.
    with Library(made.library.path) as other:
        Organizer(other, "faces").name(c, "Cleo")  # nothing listed there: it reads
    assert reads == [1]
    with pytest.raises(OrganizeError, match="its faces are p2 \\(Cleo\\)'s now"):
        made.org.name(c, "Carl")
    assert reads == [1, 1]


def test_the_grouping_part_is_read_again_only_when_photos_faces_or_groupings_change(made):
    """Corrections change who owns faces, never which faces there are or how they were grouped: that part of a
    listing (a million faces took 1.6 s to read) is kept until the library's count of such changes moves,
    whoever made them (the count is kept by triggers in the library)."""
    state, _ = made.org.groups()
    made.org.name(f"g{made.fine['A']}", "Ada")
    with Library(made.library.path) as other:  # another process's correction
        Organizer(other, "faces").name(f"g{made.coarse['C']}", "Cleo")
    after, groups = made.org.groups()
    assert after is not state and {g.name for g in groups} == {"Ada", "Cleo", None}
    assert after.photo_of is state.photo_of and after.level0 is state.level0 and after.clusters is state.clusters
    # An index run elsewhere finds a photo gone: read again, and its face leaves Ada's count.
    with Library(made.library.path) as other, other.session() as s:
        photo = s.get(Detection, made.faces[("A", 2)]).photo_id
        s.execute(update(Photo).where(Photo.id == photo).values(status=PhotoStatus.MISSING))
    gone, groups = made.org.groups()
    assert gone.photo_of is not state.photo_of and made.faces[("A", 2)] not in gone.level0
    assert next(g for g in groups if g.name == "Ada").size == 3
    # A photo's new path (a move) is seen too: the groups' photos are kept with the grouping.
    with made.library.session() as s:
        photo = s.get(Detection, made.faces[("B", 0)]).photo_id
        s.execute(update(Photo).where(Photo.id == photo).values(path="/moved/B0.jpg"))
    b = next(g for g in made.org.groups()[1] if g.kind == "auto" and g.peak_detection_id == made.faces[("B", 0)])
    assert b.peak_photo == "/moved/B0.jpg"


def test_small_groups_are_counted_not_listed_and_people_come_from_any_listing(made, monkeypatch):
    """A million faces make over a hundred thousand groups of one: the window lists groups of two or more and
    says how many it left out; its menus ask for the people, which any listing since the last commit holds."""
    from photo_grouper.organize import view

    made.org.name(f"g{made.fine['B']}", "Bea")
    reads = []
    real = view.load_state
    monkeypatch.setattr(view, "load_state", lambda *a, **k: reads.append(1) or real(*a, **k))
    _, listed = made.org.groups(0, min_size=3)  # level 0 now: A 4 faces, C 2, and Bea
    assert [(g.ref, g.size) for g in listed] == [("p1", 3), (f"g{made.fine['A']}", 4)]
    assert (listed.small, listed.small_items) == (1, 2)
    assert [g.name for g in made.org.people()] == ["Bea"] and reads == [1]
    info, members = made.org.show(f"g{made.fine['C']}", 0)  # a group left out is still shown when asked
    assert (info.size, len(members)) == (2, 2) and reads == [1]
    _, listed = made.org.groups(0)
    assert (listed.small, len(listed)) == (0, 3) and reads == [1]  # the same owners, listed whole


def test_an_empty_list_says_why(tmp_path):
    """No group to list has several causes, each with its own way on: nothing indexed, indexed in the other mode
    only, no face found, an index stopped before grouping, every face set aside."""
    from photo_grouper.organize.words import why_empty_said
    from photo_grouper.store import Analysis, ClusterRun, Ignored

    with Library(tmp_path / "lib.sqlite3") as lib:
        org = Organizer(lib, "faces")
        steps = [org.why_empty()]
        with lib.session() as s:
            for i in range(3):
                s.add(Photo(path=f"/p/{i}.jpg", size=1, mtime_ns=1, content_hash=f"h{i}"))
            s.flush()
            s.add(Analysis(photo_id=1, pipeline="species:x", status="done", found=1))
        steps.append(org.why_empty())
        with lib.session() as s:
            s.add_all(Analysis(photo_id=i, pipeline="faces:x", status="done", found=0) for i in (1, 2))
        steps.append(org.why_empty())
        with lib.session() as s:
            analysis = s.scalars(select(Analysis).where(Analysis.photo_id == 2, Analysis.pipeline == "faces:x")).one()
            s.add_all(Detection(photo_id=2, analysis_id=analysis.id, kind="face", x=0, y=0, w=1, h=1)
                      for _ in range(2))
        steps.append(org.why_empty())
        with lib.session() as s:
            s.add(ClusterRun(mode="faces", model="m", weights="w", tau=0.8, items=0, levels=1))
            s.add_all(Ignored(detection_id=d, reason="ignored") for d in s.scalars(select(Detection.id)))
        steps.append(org.why_empty())
    assert steps == [("no photos", 0), ("not indexed", 3), ("none found", 2), ("not grouped", 2),
                     ("all set aside", 2)]
    said = [why_empty_said("faces", *step, "run photo-grouper index FOLDER") for step in steps]
    assert said[0] == "no groups yet: run photo-grouper index FOLDER"
    assert "3 photo(s) were not indexed in faces mode" in said[1] and "no faces were found in the 2" in said[2]
    assert "2 face(s) found but not grouped" in said[3] and said[3].endswith("FOLDER again")
    assert said[4].startswith("no groups: all 2 faces are set aside")


def test_species_mode_refusals_speak_of_photos_and_species(made):
    """In species mode a group holds whole photos and a named group is a species: what a refusal says is in
    those words (the command line prints it as it is), and no photo is marked as "not a face"."""
    from photo_grouper.store import ClusterRun

    with made.library.session() as s:
        s.query(ClusterRun).one().mode = "species"
        for det in s.query(Detection):
            det.kind = "photo"
    org = Organizer(made.library, "species")
    c, ab = f"g{made.coarse['C']}", f"g{made.coarse['AB']}"
    org.name(c, "Beagle")
    for call, said in [
        (lambda: org.name("p77", "X"), "no species p77 in this library (species mode)"),
        (lambda: org.name("Nobody", "X"), "no species named 'Nobody'"),
        (lambda: org.reject(ab, []), "choose the photos to reject"),
        (lambda: org.reject(ab, [made.faces[("C", 0)]]), f"photo {made.faces[('C', 0)]} is not in group {ab}"),
        (lambda: org.move([10**6], ab), "no photo 1000000 in this library"),
        (lambda: org.move([made.faces[("C", 0)]], "Beagle"), "that photo is Beagle's already"),
        (lambda: org.split(ab), "choose the photos or finer groups to split off"),
        (lambda: org.ignore([made.faces[("A", 0)]], "not-a-face"), "only a face can be marked as not a face"),
        (lambda: org.ignore([made.faces[("A", 0)]], None), "that photo is not set aside"),
    ]:
        with pytest.raises(OrganizeError, match=re.escape(said)):
            call()
    org.close()
