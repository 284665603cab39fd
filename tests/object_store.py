"""An object store in memory, registered with Beam's FileSystems under ``kfmem://``.

Like GCS it holds objects only: no folders, a "folder" is a prefix of object names. Tests
use it to run the code paths that ``gs://`` inputs take without a cloud.
"""

from __future__ import annotations

import io
import posixpath

from apache_beam.io.filesystem import FileMetadata, FileSystem

OBJECTS: dict[str, bytes] = {}


class _Upload(io.BytesIO):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def close(self) -> None:
        OBJECTS[self.path] = self.getvalue()
        super().close()


class MemoryFileSystem(FileSystem):
    @classmethod
    def scheme(cls) -> str:
        return "kfmem"

    def join(self, basepath, *paths):
        return posixpath.join(basepath, *paths)

    def split(self, path):
        return posixpath.split(path)

    def has_dirs(self):
        return False

    def mkdirs(self, path):
        pass

    def _list(self, dir_or_prefix):
        for path in sorted(OBJECTS):
            if path.startswith(dir_or_prefix):
                yield FileMetadata(path, len(OBJECTS[path]))

    def create(self, path, mime_type="application/octet-stream", compression_type=None):
        return _Upload(path)

    def open(self, path, mime_type="application/octet-stream", compression_type=None):
        if path not in OBJECTS:
            raise FileNotFoundError(path)
        return io.BytesIO(OBJECTS[path])

    def exists(self, path):
        return path in OBJECTS

    def size(self, path):
        return len(OBJECTS[path])

    def metadata(self, path):
        return FileMetadata(path, len(OBJECTS[path]))

    def delete(self, paths):
        for path in paths:
            OBJECTS.pop(path, None)

    def copy(self, source_file_names, destination_file_names):
        for src, dst in zip(source_file_names, destination_file_names, strict=True):
            OBJECTS[dst] = OBJECTS[src]

    def rename(self, source_file_names, destination_file_names):
        self.copy(source_file_names, destination_file_names)
        self.delete(source_file_names)

    def last_updated(self, path):
        return 0.0

    def checksum(self, path):
        return str(len(OBJECTS[path]))
