"""The named-part profiler: self time without double counting, every part's functions found."""

from __future__ import annotations

import importlib
import threading
import time

from bench import parts
from bench.parts import PARTS, SelfTimer


def test_a_part_keeps_its_self_time_and_its_nested_parts_theirs():
    timer = SelfTimer()
    inner = timer.wrap("inner", lambda: time.sleep(0.05))

    def outer():
        time.sleep(0.03)
        inner()

    outer = timer.wrap("outer", outer)
    threads = [threading.Thread(target=outer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert timer.calls == {"outer": 2, "inner": 2}
    assert 0.09 <= timer.seconds["inner"] < 0.14  # two calls of 50 ms, each thread its own stack
    assert 0.05 <= timer.seconds["outer"] < 0.10  # 2 x 30 ms: the nested 50 ms are not counted twice


def test_every_part_names_functions_that_exist_and_patching_restores_them():
    for name, targets in PARTS.items():
        for target in targets:
            module, qualname = target.split(":")
            owner = importlib.import_module(module)
            for step in qualname.split("."):
                owner = getattr(owner, step, None)
            assert owner is not None, f"{name}: {target} not found"
    from kinefake.synth import clip_samples

    before = clip_samples.encode_mp4
    with SelfTimer().patched({"encode": ("kinefake.synth.clip_samples:encode_mp4",)}):
        assert clip_samples.encode_mp4 is not before
    assert clip_samples.encode_mp4 is before
    assert parts.TOTAL not in PARTS and parts.UNATTRIBUTED not in PARTS
