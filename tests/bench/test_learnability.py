"""The learnability bench's sets of source videos."""

from __future__ import annotations

from pathlib import Path

from bench.learnability import video_sets


def test_video_sets_are_nested_shared_clips_first():
    shared = [Path(f"s{i:02d}.mp4") for i in range(20)]
    extra = [Path(f"e{i:02d}.mp4") for i in range(40)]
    sets = video_sets(shared, extra)
    assert sorted(sets) == [10, 20, 40, 60]
    assert set(sets[10]) < set(shared) and set(sets[20]) == set(shared)
    for small, large in ((10, 20), (20, 40), (40, 60)):
        assert set(sets[small]) < set(sets[large]) and len(sets[large]) == large
    assert video_sets(shared, extra) == sets  # seeded
    assert sorted(video_sets(shared, [])) == [10, 20]  # sizes beyond the videos there are left out
