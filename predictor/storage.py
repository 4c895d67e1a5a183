"""A file-system storage that never exposes a half-written file.

Django's FileSystemStorage writes in place, so a crash mid-write leaves a truncated file under the
final name. Model artifacts are loaded by other processes, so here the bytes go to a temporary file
in the same folder first and are renamed over the final name only once complete and flushed.
"""

import contextlib
import os
import tempfile

from django.core.files.storage import FileSystemStorage


class AtomicFileSystemStorage(FileSystemStorage):
    def _save(self, name, content):
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True, mode=self.directory_permissions_mode or 0o750)
        fd, temporary_path = tempfile.mkstemp(dir=directory, prefix=".incoming-", suffix=".part")
        try:
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
