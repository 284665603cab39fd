"""The landmark trajectory table: one row per frame of every clip that passed the gates.

Arrays are stored flat in list columns (``landmarks`` is ``N * 2`` float32, x then y per
point, frame pixels, with ``num_points`` and ``layout`` saying how to reshape). Frame pixels
are those of the working frame, ``width`` x ``height``: the source's displayed size, or for
a source of more pixels than 1920x1080 that size scaled down to 1080p's area, aspect kept;
:class:`ClipLandmarks` is the in-memory record of one clip; :func:`landmarks_table`
builds its rows and :func:`read_clip_landmarks` reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kinefake.schemas.common import described, with_version

LANDMARK_SCHEMA = with_version(
    pa.schema(
        [
            described("video_id", pa.string(), "the source video's id", nullable=False),
            described("clip", pa.int32(), "index of the clip within its video", nullable=False),
            described("split", pa.string(), "the clip's split", nullable=False),
            described("frame", pa.int32(), "index of the frame within the clip", nullable=False),
            described("source_frame", pa.int64(), "index of the frame within the source video", nullable=False),
            described(
                "width",
                pa.int32(),
                "working frame width, pixels (the source's, or scaled down to 1080p's area)",
                nullable=False,
            ),
            described("height", pa.int32(), "working frame height, pixels", nullable=False),
            described("layout", pa.string(), "point layout: ibug68 (dlib) or mesh478 (MediaPipe)", nullable=False),
            described("num_points", pa.int32(), "N, points in landmarks", nullable=False),
            described(
                "landmarks",
                pa.list_(pa.float32()),
                "N * 2 floats, x then y per point, working-frame pixels",
                nullable=False,
            ),
            described(
                "landmarks68",
                pa.list_(pa.float32(), 136),
                "the iBUG-68 subset, 68 * 2 floats, x then y, working-frame pixels",
                nullable=False,
            ),
            described(
                "confidence", pa.float32(), "the face detector's score of the tracked subject, 0-1", nullable=False
            ),
            described("visibility", pa.list_(pa.float32()), "N floats, per-point visibility, 0-1", nullable=False),
            described(
                "rotation",
                pa.list_(pa.float32(), 9),
                "head rotation, row-major 3x3, from the canonical face",
                nullable=False,
            ),
            described("translation", pa.list_(pa.float32(), 3), "head translation, IOD units", nullable=False),
            described("yaw", pa.float32(), "head yaw, degrees", nullable=False),
            described("pitch", pa.float32(), "head pitch, degrees", nullable=False),
            described("roll", pa.float32(), "head roll, degrees", nullable=False),
            described(
                "bbox",
                pa.list_(pa.float32(), 4),
                "x0, y0, x1, y1 of the landmarks' box, working-frame pixels",
                nullable=False,
            ),
            described("iod", pa.float32(), "inter-ocular distance, pixels", nullable=False),
            described(
                "interpolated",
                pa.bool_(),
                "the model lost the face on this frame; points interpolated from its neighbours",
                nullable=False,
            ),
            described("backend", pa.string(), "the landmark backend (mediapipe or dlib)", nullable=False),
            described("model_version", pa.string(), "the landmark model and its package version", nullable=False),
            described("raw_jitter", pa.float64(), "the clip's rigid jitter before smoothing, IOD", nullable=False),
            described(
                "jitter",
                pa.float64(),
                "the clip's rigid jitter after smoothing, IOD (gated by --max-jitter)",
                nullable=False,
            ),
        ]
    ),
    "landmarks",
)


def _fixed(values: np.ndarray, width: int) -> pa.Array:
    flat = pa.array(np.ascontiguousarray(values, np.float32).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, width)


def _ragged(values: np.ndarray) -> pa.Array:
    t = values.shape[0]
    per = int(np.prod(values.shape[1:]))
    offsets = pa.array(np.arange(t + 1, dtype=np.int32) * per)
    return pa.ListArray.from_arrays(offsets, pa.array(np.ascontiguousarray(values, np.float32).reshape(-1)))


@dataclass
class ClipLandmarks:
    """Per-frame landmarks of a clip's subject, smoothed, with pose and quality figures.

    Attributes:
        points: ``(T, N, 2)`` float32, x then y, frame pixels, smoothed.
        ibug68: ``(T, 68, 2)`` float32, the iBUG-68 subset of ``points``.
        confidence: ``(T,)`` float32 detector score of the subject (0 on interpolated frames).
        visibility: ``(T, N)`` float32 in [0, 1], 0 = turned away from the camera.
        rotation: ``(T, 3, 3)`` float32 canonical face -> camera.
        translation: ``(T, 3)`` float32, IOD units.
        euler: ``(T, 3)`` float32 yaw, pitch, roll, degrees.
        bbox: ``(T, 4)`` float32 ``x0, y0, x1, y1`` of ``points``, pixels.
        iod: ``(T,)`` float32 inter-ocular distance, pixels.
        interpolated: ``(T,)`` bool, frames where the fit failed and points were filled.
        raw_jitter, jitter: rigid-point jitter before and after smoothing, IOD per frame.
    """

    layout: str
    backend: str
    model_version: str
    points: np.ndarray
    ibug68: np.ndarray
    confidence: np.ndarray
    visibility: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    euler: np.ndarray
    bbox: np.ndarray
    iod: np.ndarray
    interpolated: np.ndarray
    raw_jitter: float
    jitter: float


def landmarks_table(
    video_id: str, clip: int, split: str, start_frame: int, width: int, height: int, lm: ClipLandmarks
) -> pa.Table:
    """One clip's rows, from a :class:`ClipLandmarks` of a ``width`` x ``height`` video.

    Raises:
        ValueError: the arrays of ``lm`` disagree on T or N.
    """
    t, n = lm.points.shape[:2]
    if lm.ibug68.shape != (t, 68, 2) or lm.visibility.shape != (t, n) or lm.rotation.shape != (t, 3, 3):
        raise ValueError(
            f"expected ibug68 {(t, 68, 2)}, visibility {(t, n)}, rotation {(t, 3, 3)}; "
            f"got {lm.ibug68.shape}, {lm.visibility.shape}, {lm.rotation.shape}"
        )
    columns = {
        "video_id": pa.array([video_id] * t, pa.string()),
        "clip": pa.array(np.full(t, clip, np.int32)),
        "split": pa.array([split] * t, pa.string()),
        "frame": pa.array(np.arange(t, dtype=np.int32)),
        "source_frame": pa.array(start_frame + np.arange(t, dtype=np.int64)),
        "width": pa.array(np.full(t, width, np.int32)),
        "height": pa.array(np.full(t, height, np.int32)),
        "layout": pa.array([lm.layout] * t, pa.string()),
        "num_points": pa.array(np.full(t, n, np.int32)),
        "landmarks": _ragged(lm.points),
        "landmarks68": _fixed(lm.ibug68, 136),
        "confidence": pa.array(np.asarray(lm.confidence, np.float32)),
        "visibility": _ragged(lm.visibility),
        "rotation": _fixed(lm.rotation, 9),
        "translation": _fixed(lm.translation, 3),
        "yaw": pa.array(np.asarray(lm.euler[:, 0], np.float32)),
        "pitch": pa.array(np.asarray(lm.euler[:, 1], np.float32)),
        "roll": pa.array(np.asarray(lm.euler[:, 2], np.float32)),
        "bbox": _fixed(lm.bbox, 4),
        "iod": pa.array(np.asarray(lm.iod, np.float32)),
        "interpolated": pa.array(np.asarray(lm.interpolated, bool)),
        "backend": pa.array([lm.backend] * t, pa.string()),
        "model_version": pa.array([lm.model_version] * t, pa.string()),
        "raw_jitter": pa.array(np.full(t, lm.raw_jitter, np.float64)),
        "jitter": pa.array(np.full(t, lm.jitter, np.float64)),
    }
    return pa.Table.from_pydict(columns, schema=LANDMARK_SCHEMA)


def read_clip_landmarks(table: pa.Table) -> ClipLandmarks:
    """The rows of *one* clip (any order) back to a :class:`ClipLandmarks`, sorted by ``frame``.

    Raises:
        ValueError: the rows span several clips or mix layouts.
    """
    keys = set(zip(table.column("video_id").to_pylist(), table.column("clip").to_pylist(), strict=True))
    if len(keys) != 1 or len(set(table.column("layout").to_pylist())) != 1:
        raise ValueError(f"expected the rows of one clip with one layout, got clips {sorted(keys)[:3]}")
    table = table.sort_by("frame")
    t = table.num_rows
    n = table.column("num_points")[0].as_py()

    def flat(name: str) -> np.ndarray:
        return table.column(name).combine_chunks().flatten().to_numpy(zero_copy_only=False)

    def col(name: str) -> np.ndarray:
        return table.column(name).to_numpy()

    return ClipLandmarks(
        layout=table.column("layout")[0].as_py(),
        backend=table.column("backend")[0].as_py(),
        model_version=table.column("model_version")[0].as_py(),
        points=flat("landmarks").reshape(t, n, 2),
        ibug68=flat("landmarks68").reshape(t, 68, 2),
        confidence=col("confidence"),
        visibility=flat("visibility").reshape(t, n),
        rotation=flat("rotation").reshape(t, 3, 3),
        translation=flat("translation").reshape(t, 3),
        euler=np.stack([col("yaw"), col("pitch"), col("roll")], 1),
        bbox=flat("bbox").reshape(t, 4),
        iod=col("iod"),
        interpolated=col("interpolated"),
        raw_jitter=float(col("raw_jitter")[0]),
        jitter=float(col("jitter")[0]),
    )
