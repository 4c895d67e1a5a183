"""A file-system storage that never exposes a half-written file.

Django's FileSystemStorage writes in place, so a crash mid-write leaves a truncated file under the
final name. Model artifacts are loaded by other processes, so here the bytes go to a temporary file
in the same folder first and are renamed over the final name only once complete and flushed.

A writer killed mid-write (SIGKILL, a power cut) cannot remove its temporary file, so each save
also removes the ones left behind: a writer holds an exclusive lock on its temporary file for as
long as it writes, the kernel drops the lock of a process that died, and a file that can be
locked and has not been touched for a minute has nobody writing it.
"""

import contextlib
import fcntl
import glob
import os
import tempfile
import time

from django.core.files.storage import FileSystemStorage

_TEMPORARY_PREFIX, _TEMPORARY_SUFFIX = ".incoming-", ".part"
# A writer locks its file right after creating it; this covers the moment in between.
_ABANDONED_AFTER = 60


class AtomicFileSystemStorage(FileSystemStorage):
    def _save(self, name, content):
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True, mode=self.directory_permissions_mode or 0o750)
        _remove_abandoned(directory)
        fd, temporary_path = tempfile.mkstemp(
            dir=directory, prefix=_TEMPORARY_PREFIX, suffix=_TEMPORARY_SUFFIX
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(fd, "wb") as temporary_file:
                if hasattr(content, "seek"):
                    content.seek(0)
                for chunk in content.chunks():
                    temporary_file.write(chunk)
                temporary_file.flush()
                os.fsync(temporary_file.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(temporary_path, self.file_permissions_mode)
            os.replace(temporary_path, full_path)
        except BaseException:
            # Also on KeyboardInterrupt or a full disk: leave no partial file behind.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary_path)
            raise
        return str(name).replace("\\", "/")


def _remove_abandoned(directory: str) -> None:
    """Remove the temporary files of writers that died before they could."""
    pattern = os.path.join(glob.escape(directory), f"{_TEMPORARY_PREFIX}*{_TEMPORARY_SUFFIX}")
    for path in glob.glob(pattern):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if time.time() - os.fstat(fd).st_mtime > _ABANDONED_AFTER:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        except BlockingIOError:
            pass  # a live writer's
        finally:
            os.close(fd)
