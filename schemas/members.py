"""The sample contract: a WebDataset sample's members, their encodings, and its label's fields.

A sample is one variant of one clip, keyed ``{video_id}_{clip:04d}_{variant}`` with
variant ``real`` or ``fake{n}``; its members (tar entries ``{key}.{member}``):

* ``mp4``: the face-crop clip, H.264 (libx264, yuv420p) in MP4, ``(T, S, S)`` RGB at the
  source frame rate (``S`` = ``crop.size``);
* ``json``: the label, UTF-8 JSON of exactly :data:`LABEL_TYPE`'s shape: every key is
  always present (null where it does not apply), so Arrow-based readers (HuggingFace
  ``datasets``, pandas, DuckDB) infer one type for every sample and lose nothing;
* ``landmarks.npy``: ``(T, 68, 2)`` float32 iBUG-68 landmarks, x then y, crop pixels, as
  they are in this clip (the perturbation's targets in a fake);
* ``mask.npz``: the arrays of :data:`MASK_ARRAYS` (no pickles); all zero in a real sample.

:data:`SCHEMA_VERSION` (in every label's ``versions.schema``) changes with this contract.
"""

from __future__ import annotations

import re

import pyarrow as pa

from kinefake.schemas.common import SCHEMA_VERSION, described

REAL = "real"
#: Fake variants are ``fake0``, ``fake1``, ...
FAKE_PREFIX = "fake"
#: A sample key: ``{video_id}_{clip:04d}_{variant}``.
SAMPLE_KEY_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{1,64}}_\d{{4}}_({REAL}|{FAKE_PREFIX}\d+)")

#: Member names (the part of a tar entry's name after the key).
MP4 = "mp4"
LABEL = "json"
LANDMARKS = "landmarks.npy"
MASKS = "mask.npz"
#: Member -> its encoding, for the dataset card and readers.
MEMBERS = {
    MP4: "H.264 (libx264, yuv420p) MP4: the face crop, (T, S, S) RGB at the source frame rate",
    LABEL: "UTF-8 JSON: the label (fields below)",
    LANDMARKS: "NumPy .npy: (T, 68, 2) float32 iBUG-68 landmarks, x then y, crop pixels",
    MASKS: "NumPy .npz (no pickles): pixel, region, patch (below); all zero in a real sample",
}
#: ``mask.npz`` array -> (dtype, shape, meaning). ``R`` = ``len(perturbation.regions)``.
MASK_ARRAYS = {
    "pixel": ("uint8", "(T, S, S)", "soft mask of the displacement's magnitude (blend: the blend weight), 0-255"),
    "region": ("float16", "(T, R)", "per-region displacement, IOD (blend: per-region mean blend weight)"),
    "patch": ("float16", "(T, 14, 14)", "the pixel mask pooled on a 14x14 grid, 0-1"),
}
PATCH_GRID = 14

#: Every operator's drawn parameters, one fixed shape (null where the operator has none).
PARAMS_TYPE = pa.struct(
    [
        described("lag_frames", pa.int32(), "desync: frames late (early if negative)"),
        described("gain", pa.float64(), "amplitude: factor on the region's coupled motion"),
        described("donor", pa.string(), "transplant: clip key whose motion is borrowed"),
        described("sigma", pa.float64(), "jitter: per-frame noise, IOD"),
        described("noise_seed", pa.int64(), "jitter"),
        described("ratio", pa.float64(), "blend: peak blend weight, 0-1"),
        described("hull", pa.string(), "blend, controls: the mask's landmark hull (face, lower, inner)"),
        described("shrink", pa.float64(), "blend, controls: hull scale of the mask"),
        described("deform", pa.float64(), "blend, controls: smooth random change of the hull's radius, fraction"),
        described("deform_seed", pa.int64(), "blend, controls: seed of the hull's deformation"),
        described("feather_iod", pa.float64(), "blend, controls: mask edge width, IOD"),
        described("colour", pa.list_(pa.float64()), "blend: RGB offset of the copy, grey levels"),
        described("brightness", pa.float64(), "blend: offset of the copy, fraction of 255"),
        described("contrast", pa.float64(), "blend: the copy is scaled by 1 + contrast"),
        described("resample", pa.float64(), "blend: down-and-up scale of the copy (1: none)"),
        described("sharpen", pa.float64(), "blend: 3x3 sharpen strength of the copy (null: resampled instead)"),
        described("lightness", pa.float64(), "blend: the sharpen kernel's centre is 8 + lightness"),
        described("scale", pa.float64(), "blend: zoom of the copy"),
        described("shift_iod", pa.list_(pa.float64()), "blend: x, y shift of the copy, IOD"),
        described("blur_sigma_px", pa.float64(), "control blur: Gaussian sigma inside the face hull, pixels"),
        described("flicker_grey", pa.float64(), "control flicker: +a on even, -a on odd frames, grey levels"),
    ]
)
PARAM_FIELDS = tuple(f.name for f in PARAMS_TYPE)

#: The perturbation of a fake (null in a real sample).
PERTURBATION_TYPE = pa.struct(
    [
        described(
            "operator",
            pa.string(),
            "decouple, desync, amplitude, freeze, transplant, jitter (kinematic and hybrid); blend; blur, flicker",
        ),
        described("family", pa.string(), "kinematic, appearance (blend), hybrid (both on one clip) or control"),
        described("key", pa.string(), "the fake's sample key"),
        described("seed", pa.int64(), "the job's seed"),
        described("draws", pa.int32(), "policy draws it took"),
        described("region", pa.string(), "the edited region (blend: face)"),
        described("partner", pa.string(), "the region whose coupling is broken"),
        described("coupling_basis", pa.int32(), "the motion basis the pair shares"),
        described("params", PARAMS_TYPE, "the operator's parameters (null where the operator has none)"),
        described("window", pa.list_(pa.int32()), "[start, end) frames of the drawn window"),
        described("ramp_frames", pa.int32(), "frames over which the edit fades in and out"),
        described("active_frames", pa.list_(pa.int32()), "[start, end) frames that moved; [] if none"),
        described("strength_iod", pa.float64(), "the drawn largest displacement, IOD"),
        described("natural_max_iod", pa.float64(), "the operator's unscaled largest displacement, IOD"),
        described("scale", pa.float64(), "the factor applied to the natural edit"),
        described("flip_reductions", pa.int32(), "halvings that kept the mesh from folding"),
        described("max_displacement_iod", pa.float64(), "the largest landmark shift rendered, IOD"),
        described(
            "mean_displacement_iod", pa.float64(), "the mean landmark shift over the frames and points that moved, IOD"
        ),
        described("regions", pa.list_(pa.string()), "names of mask.npz region's columns"),
    ]
)

#: The ``json`` member.
LABEL_TYPE = pa.struct(
    [
        described("key", pa.string(), "{video_id}_{clip:04d}_{variant}; the WebDataset key"),
        described("variant", pa.string(), "real or fake{n}"),
        described("label", pa.int8(), "0 real, 1 fake"),
        described("sample_seed", pa.int64(), "63-bit seed of the sample's draws (a real sample draws nothing)"),
        described("seed", pa.int64(), "the job's --seed"),
        described("perturbation", PERTURBATION_TYPE, "what was done to a fake (null in a real sample)"),
        described(
            "source",
            pa.struct(
                [
                    described("uri", pa.string(), "the source video"),
                    described("video_id", pa.string(), "the source video's id"),
                    described("clip", pa.int32(), "index of the clip within its video"),
                    described("split", pa.string(), "the source video's split"),
                    described("start_frame", pa.int64(), "first frame of the clip in the source"),
                    described("num_frames", pa.int32(), "T, frames in the clip"),
                    described("fps_num", pa.int32(), "frame rate fps_num / fps_den"),
                    described("fps_den", pa.int32(), "frame rate denominator"),
                ]
            ),
            "where the clip comes from",
        ),
        described(
            "crop",
            pa.struct(
                [
                    described("size", pa.int32(), "crop side S, pixels"),
                    described("margin", pa.float64(), "crop side over the landmarks' box side"),
                    described(
                        "boxes",
                        pa.list_(pa.struct([("cx", pa.float64()), ("cy", pa.float64()), ("side", pa.float64())])),
                        "per frame: the crop square in source-frame pixels (centre x, centre y, side)",
                    ),
                ]
            ),
            "how the face crop was cut",
        ),
        described(
            "versions",
            pa.struct(
                [
                    described("kinefake", pa.string(), "kinefake's version"),
                    described("schema", pa.string(), "the output schema version"),
                    described("landmarks", pa.string(), "the landmark model and its package version"),
                    described(
                        "bases",
                        pa.struct(
                            [
                                described("kind", pa.string(), "autoencoder or pca"),
                                described("k", pa.int32(), "number of motion bases"),
                                described("data_sha256", pa.string(), "SHA-256 of the landmark data it was fitted on"),
                            ]
                        ),
                        "the motion-bases model: kind, k, SHA-256 of its data",
                    ),
                ]
            ),
            "what made the sample",
        ),
    ]
)

__all__ = [
    "FAKE_PREFIX",
    "LABEL",
    "LABEL_TYPE",
    "LANDMARKS",
    "MASKS",
    "MASK_ARRAYS",
    "MEMBERS",
    "MP4",
    "PARAMS_TYPE",
    "PARAM_FIELDS",
    "PATCH_GRID",
    "PERTURBATION_TYPE",
    "REAL",
    "SAMPLE_KEY_PATTERN",
    "SCHEMA_VERSION",
]
