"""The one atomic writer: never half-written, never replaces a special file, clear errors."""

from __future__ import annotations

import os
import stat

import pytest

from gsi_bench.errors import OutputError
from gsi_bench.fileio import (atomic_write, atomic_write_many, check_output_dir,
                              remove_stale_temps)


def test_atomic_write_replaces_content_and_leaves_no_temp(tmp_path):
    p = tmp_path / "sub" / "a.json"
    atomic_write(p, "one")
    atomic_write(p, b"two")
    assert p.read_bytes() == b"two"
    assert [x.name for x in p.parent.iterdir()] == ["a.json"]
    assert stat.S_IMODE(p.stat().st_mode) == 0o644


def test_special_file_is_written_in_place_never_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        atomic_write(fifo, "hello")
        assert os.read(reader, 100) == b"hello"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    atomic_write(os.devnull, "discarded")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_folder_target_is_refused(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        atomic_write(tmp_path, "x")


def test_write_many_is_all_or_nothing(tmp_path):
    (tmp_path / "b.txt").write_text("old")
    (tmp_path / "c").mkdir()
    with pytest.raises(OutputError):
        atomic_write_many({tmp_path / "a.txt": "new", tmp_path / "b.txt": "new", tmp_path / "c": "x"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt", "c"]
    assert (tmp_path / "b.txt").read_text() == "old"
    atomic_write_many({tmp_path / "a.txt": "A", tmp_path / "b.txt": "B"})
    assert (tmp_path / "a.txt").read_text() + (tmp_path / "b.txt").read_text() == "AB"


def test_stale_temps_removed(tmp_path):
    (tmp_path / ".test-00000-of-00001.parquet.ab12.tmp").write_bytes(b"junk")
    (tmp_path / "keep.tmp").write_bytes(b"not ours")
    removed = remove_stale_temps(tmp_path, "test-*.parquet.*")
    assert [p.name for p in removed] == [".test-00000-of-00001.parquet.ab12.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["keep.tmp"]


def test_output_dir_checks(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        check_output_dir(f)
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(OutputError, match="inside the data folder"):
        check_output_dir(data / "report", data_dir=data)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.geteuid() != 0:  # root writes anywhere
            with pytest.raises(OutputError, match="permission denied"):
                check_output_dir(ro / "out")
    finally:
        ro.chmod(0o700)
    assert check_output_dir(tmp_path / "new").is_dir()
