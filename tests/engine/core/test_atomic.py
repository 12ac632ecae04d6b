import os

import pytest

from engine.core.atomic import atomic_write


def test_success_replaces_the_file_and_keeps_its_permissions(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with atomic_write(target, "w", encoding="utf-8") as handle:
        handle.write("new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_failure_midway_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"precious")
    with pytest.raises(RuntimeError, match="encoder broke"), atomic_write(target) as handle:
        handle.write(b"half")
        raise RuntimeError("encoder broke")
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_missing_folder_raises_oserror(tmp_path):
    with pytest.raises(OSError), atomic_write(tmp_path / "nope" / "x.bin") as handle:
        handle.write(b"x")
