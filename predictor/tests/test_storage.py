import fcntl
import os
import time

import pytest
from django.core.files.base import ContentFile

from predictor.storage import AtomicFileSystemStorage


class _Failing(ContentFile):
    def chunks(self, chunk_size=None):
        yield b"first half"
        raise OSError(28, "No space left on device")


def test_a_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path)
    (tmp_path / "model.joblib").write_bytes(b"old, complete")

    with pytest.raises(OSError, match="No space left"):
        storage._save("model.joblib", _Failing(b""))

    assert sorted(os.listdir(tmp_path)) == ["model.joblib"]
    assert (tmp_path / "model.joblib").read_bytes() == b"old, complete"


def test_a_saved_file_is_complete_and_private(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path, file_permissions_mode=0o640)
    name = storage.save("sub/model.joblib", ContentFile(b"x" * 100_000))
    path = tmp_path / name
    assert path.read_bytes() == b"x" * 100_000
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert os.listdir(path.parent) == ["model.joblib"]


def leftover(directory, name: str, *, age: float):
    path = directory / name
    path.write_bytes(b"half a model")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_a_save_removes_what_killed_writers_left_behind(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path)
    abandoned = leftover(tmp_path, ".incoming-killed.part", age=3600)
    just_created = leftover(tmp_path, ".incoming-starting.part", age=0)
    being_written = leftover(tmp_path, ".incoming-writing.part", age=3600)
    not_ours = leftover(tmp_path, "notes.part", age=3600)
    with being_written.open("rb") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)  # as a live writer holds its file
        storage.save("model.joblib", ContentFile(b"complete"))

    assert not abandoned.exists()
    assert [path.exists() for path in (just_created, being_written, not_ours)] == [True] * 3
    assert (tmp_path / "model.joblib").read_bytes() == b"complete"


def test_a_writer_holds_its_temporary_file_locked_while_it_writes(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path)
    seen = []

    class Watched(ContentFile):
        def chunks(self, chunk_size=None):
            [temporary] = tmp_path.glob(".incoming-*.part")
            with temporary.open("rb") as other:
                try:
                    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    seen.append("locked")
            yield b"bytes"

    storage.save("model.joblib", Watched(b""))
    assert seen == ["locked"]
