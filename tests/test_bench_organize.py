"""The organize scale benchmark builds its library and times the window's calls."""

from photo_grouper.bench.organize_scale import main


def test_organize_scale_prints_seconds_per_call(capsys):
    assert main(["--faces", "600"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "600 faces, 6 groups"
    assert out[1].startswith("list the groups: ") and out[2].startswith("show the largest group (")
    assert out[3].startswith("name it: ")
    assert all(float(line.rsplit(":", 1)[1].strip().split()[0]) >= 0 for line in out[1:])
