"""kinefake's library: video I/O, landmarks, motion bases, perturbation, rendering, samples.

Plain Python with numpy/torch/OpenCV; no Beam imports (those live in :mod:`kinefake.pipelines`).
"""
