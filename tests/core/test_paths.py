"""Where a continued model saves: beside what it continues, except that a snapshot is kept."""

from __future__ import annotations


def test_continuing_a_snapshot_saves_under_a_new_name_and_anything_else_beside_it(tmp_path):
    from lyrics_tui.core.paths import continuation_path, snapshot_path

    snapshot = snapshot_path(tmp_path, "data/lyrics.txt", 12, 71.23)
    assert snapshot.name == "lyrics-e12-ppl71.2.pt"
    assert snapshot_path(tmp_path, "lyrics", 0, None).name == "lyrics-e0.pt"
    assert snapshot_path(tmp_path, "lyrics", 3, float("nan")).name == "lyrics-e3.pt"
    assert continuation_path(snapshot) == tmp_path / "lyrics.pt"
    (tmp_path / "lyrics.pt").touch()
    assert continuation_path(snapshot) == tmp_path / "lyrics-2.pt"
    assert continuation_path(tmp_path / "lyrics-e0.pt") == tmp_path / "lyrics-2.pt"
    # not snapshots: a run's best continues into itself, its latest state into its best
    assert continuation_path(tmp_path / "lyrics.pt") == tmp_path / "lyrics.pt"
    assert continuation_path(tmp_path / "jay-last.pt") == tmp_path / "jay.pt"
    assert continuation_path(tmp_path / "jay-every.pt") == tmp_path / "jay-every.pt"
