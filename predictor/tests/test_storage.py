import os

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
