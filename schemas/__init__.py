"""Every table kinefake writes: pyarrow schemas and the record types that fill them.

Field names and dtypes live here and nowhere else; code builds rows through the record
dataclasses and writes tables with the schemas, so a renamed field is a one-line change.
``SCHEMA_VERSION`` is stored in each table's metadata and in ``manifest.json``.
"""

from kinefake.schemas.clips import CLIP_SCHEMA, ClipRecord
from kinefake.schemas.common import SCHEMA_VERSION
from kinefake.schemas.files import FILE_SCHEMA, FileRecord
from kinefake.schemas.inputs import InputRecord
from kinefake.schemas.landmarks import LANDMARK_SCHEMA, ClipLandmarks, landmarks_table, read_clip_landmarks
from kinefake.schemas.rejects import REJECT_SCHEMA, RejectRecord
from kinefake.schemas.samples import SAMPLE_SCHEMA, SampleRecord

__all__ = [
    "CLIP_SCHEMA",
    "FILE_SCHEMA",
    "LANDMARK_SCHEMA",
    "REJECT_SCHEMA",
    "SAMPLE_SCHEMA",
    "SCHEMA_VERSION",
    "ClipLandmarks",
    "ClipRecord",
    "FileRecord",
    "InputRecord",
    "RejectRecord",
    "SampleRecord",
    "landmarks_table",
    "read_clip_landmarks",
]
