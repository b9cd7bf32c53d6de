"""`photo-grouper groups | people | group ... | undo | redo | history` on a real library file."""

import json
import re

from photo_grouper.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_name_merge_show_undo_from_the_command_line(made, capsys):
    lib = str(made.library.path)
    ab, c = f"g{made.coarse['AB']}", f"g{made.coarse['C']}"
    code, out, _ = run(capsys, "groups", "--library", lib)
    assert code == 0 and "0 people and 2 automatic groups at level 1 of 2" in out and ab in out

    code, out, _ = run(capsys, "people", "--library", lib)
    assert code == 0 and out.startswith("nobody named yet")
    code, out, _ = run(capsys, "group", "not-faces", "--library", lib)
    assert code == 0 and out == "the face check has turned nothing down in this library\n"
    code, out, _ = run(capsys, "group", "not-faces", "--library", lib, "--json")
    assert json.loads(out) == []
    code, out, _ = run(capsys, "group", "name", c, "Cleo", "--library", lib)
    assert code == 0 and out.startswith("Named")
    code, out, _ = run(capsys, "people", "--library", lib, "--json")
    assert [(p["name"], p["confirmed"]) for p in json.loads(out)] == [("Cleo", 2)]
    code, out, _ = run(capsys, "people", "--library", lib)
    assert code == 0 and "Cleo" in out.splitlines()[1] and out.splitlines()[0].split()[:2] == ["group", "size"]

    code, out, _ = run(capsys, "group", "show", "Cleo", "--library", lib, "--json")
    faces = json.loads(out)["faces"]
    assert len(faces) == 2 and {f["status"] for f in faces} == {"confirmed"}

    code, out, _ = run(capsys, "group", "merge", "Cleo", ab, "--library", lib, "--json")
    assert code == 0 and json.loads(out)["faces"] == 6  # A1 shares its photo with Cleo's C1: left out
    code, out, _ = run(capsys, "undo", "--library", lib)
    assert code == 0 and out.startswith("Undid: merged")
    code, out, _ = run(capsys, "history", "--library", lib)
    assert "(undone) merged" in out and "named" in out
    assert re.match(r" +2 \d{4}-\d\d-\d\d \d\d:\d\d  \(undone\) merged", out)  # to the minute, the user's clock
    code, out, _ = run(capsys, "redo", "--library", lib, "--json")
    assert json.loads(out)["summary"].startswith("redid")


def test_errors_are_clear_and_change_nothing(made, capsys):
    lib = str(made.library.path)
    c = f"g{made.coarse['C']}"
    for argv, message in [
        (["group", "name", c, " "], "a name cannot be empty"),
        (["group", "merge", c, c], "cannot be merged with itself"),
        (["group", "show", "g424242"], "no group g424242"),
        (["group", "reject", c, "424242"], "face 424242 is not in group"),
        (["undo"], "nothing to undo"),
    ]:
        code, out, err = run(capsys, *argv, "--library", lib)
        assert code == 1 and message in err and out == ""
    code, out, _ = run(capsys, "history", "--library", lib)
    assert "no corrections yet" in out


def test_a_group_whose_faces_went_to_a_person_says_whose(made, capsys):
    lib = str(made.library.path)
    b, c = f"g{made.fine['B']}", f"g{made.coarse['C']}"
    run(capsys, "group", "name", c, "Cleo", "--library", lib)
    code, out, _ = run(capsys, "group", "merge", b, f"g{made.fine['A']}", "--library", lib)
    merged = out.split()[-1]
    for group, whose in [(c, "p1 (Cleo)'s"), (b, f"{merged}'s")]:
        code, _, err = run(capsys, "group", "name", group, "X", "--library", lib)
        assert code == 1 and err.strip().endswith(f"group {group} has no faces left that belong to no person: "
                                                  f"its faces are {whose} now")


def test_a_group_of_the_other_mode_is_refused_with_the_mode_to_use(made, capsys):
    from photo_grouper.store import ClusterRun

    lib = str(made.library.path)
    c = f"g{made.coarse['C']}"
    with made.library.session() as s:  # the grouping made is species mode's now; faces mode has an empty one
        s.query(ClusterRun).one().mode = "species"
        s.add(ClusterRun(mode="faces", model="test", weights="test", tau=0.8, items=0, levels=1))
    code, _, err = run(capsys, "group", "name", c, "X", "--library", lib)
    assert code == 1 and f"group {c} is a group of species mode, not faces (--mode species)" in err


def test_confirm_from_the_command_line(made, capsys):
    from photo_grouper.organize import suggest

    lib = str(made.library.path)
    run(capsys, "group", "name", f"g{made.fine['B']}", "Bea", "--library", lib)
    suggest(made.library, "faces")
    code, out, _ = run(capsys, "group", "confirm", "Bea", str(made.faces[("A", 0)]), "--library", lib)
    assert code == 0 and out.startswith("Confirmed 1 face(s) of Bea")
    code, out, _ = run(capsys, "group", "confirm", "Bea", "--library", lib, "--json")
    assert code == 0 and json.loads(out)["faces"] == 3
    code, out, err = run(capsys, "group", "confirm", "Bea", "--library", lib)
    assert code == 1 and "nothing suggested to Bea" in err
