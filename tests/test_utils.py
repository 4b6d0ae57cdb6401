"""keras_i2i.utils: replace_dir keeps the old folder until the new one is in place."""

import os

import pytest

from keras_i2i.utils import replace_dir


def test_replace_dir_replaces_and_cleans_up(tmp_path):
    new, target = tmp_path / "new", tmp_path / "run"
    new.mkdir()
    (new / "x").write_text("new")
    replace_dir(new, target)  # nothing there yet
    assert (target / "x").read_text() == "new" and not new.exists()
    new.mkdir()
    (new / "y").write_text("newer")
    replace_dir(new, target)
    assert sorted(p.name for p in target.iterdir()) == ["y"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no .run.old-* left behind


def test_replace_dir_puts_the_old_folder_back_when_the_move_fails(tmp_path, monkeypatch):
    new, target = tmp_path / "new", tmp_path / "run"
    new.mkdir()
    target.mkdir()
    (target / "keep").write_text("mine")
    real = os.replace

    def failing(src, dst):
        if os.fspath(src) == os.fspath(new):
            raise OSError("disk gone")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="disk gone"):
        replace_dir(new, target)
    assert (target / "keep").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "run"]
