"""A user's video through the same stages as a corpus sample, up to what a detector sees.

The corpus's own settings decide everything (clip length and stride, landmark backend,
tracking and gates, crop size and margin, H.264 quality): the video is cut into clips,
the subject tracked, its face cropped and the crop *encoded and decoded* as a sample's
``mp4`` member is, then :func:`kinefake.corpus.detectors.baselines.describe_clip` measures it. A
detector trained on the corpus therefore scores a test clip exactly as it scored its
training clips.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction

from kinefake.corpus.detectors.baselines import ClipView, describe_clip
from kinefake.errors import Rejected
from kinefake.schemas import InputRecord
from kinefake.synth.clip_samples import SampleConfig, crop_for_samples
from kinefake.synth.landmarks import GateConfig, TrackConfig, extract_landmarks
from kinefake.synth.landmarks.backends import LandmarkBackend
from kinefake.synth.sharding import ClipPlan
from kinefake.synth.video import DEFAULT_TIMEOUT_S, ClipReader, Source, encode_mp4, probe, read_frames


@dataclass(frozen=True)
class ClipSettings:
    """How a corpus made its samples (from its manifest's config), plus the detectors' input size.

    Attributes:
        clips: how each test video is cut into clips (the corpus's length and spacing, and
            how many clips are kept per video: ``evaluate --test-clips``).
        track, gates: landmark tracking and quality gates.
        samples: crop size, margin and H.264 settings of the ``mp4`` members.
        timeout_s: wall-clock budget of a probe or a clip's decode.
    """

    clips: ClipPlan = field(default_factory=ClipPlan)
    track: TrackConfig = field(default_factory=TrackConfig)
    gates: GateConfig = field(default_factory=GateConfig)
    samples: SampleConfig = field(default_factory=SampleConfig)
    timeout_s: float = DEFAULT_TIMEOUT_S


def video_clip_views(
    src: Source, record: InputRecord, settings: ClipSettings, backend: LandmarkBackend
) -> tuple[list[tuple[int, ClipView]], list[tuple[int, Rejected]]]:
    """``(clip index, ClipView)`` of every usable clip of a video, and ``(clip index, Rejected)``
    of every clip that could not be used (no face, a gate, a decode error).

    Raises:
        Rejected: the video itself cannot be used (not a video, too short, ...).
    """
    info = probe(src, settings.timeout_s)
    clips = settings.clips.clips(info, record)
    fps = Fraction(info.fps_num, info.fps_den)
    views, rejects = [], []
    with ClipReader(src, timeout_s=settings.timeout_s) as reader:
        for clip in clips:
            try:
                frames = reader.read(clip.start_frame, clip.num_frames, clip.start_pts)
                lm = extract_landmarks(frames, backend, float(fps), settings.track, settings.gates)
                crops = crop_for_samples(clip, frames, lm, settings.samples)
                member = encode_mp4(crops.frames, fps, settings.samples.crf, settings.samples.preset)
                decoded = read_frames(io.BytesIO(member), 0, len(crops.frames))
                views.append(
                    (
                        clip.clip,
                        describe_clip(decoded, backend, settings.samples.margin, float(fps)),
                    )
                )
            except Rejected as exc:
                rejects.append((clip.clip, exc))
            except ValueError as exc:  # PnP on degenerate re-detected landmarks
                rejects.append((clip.clip, Rejected("no pose", str(exc))))
    return views, rejects
