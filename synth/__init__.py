"""kinefake's library: video I/O, landmarks, motion bases, perturbation, rendering, masks.

Plain Python with numpy/torch/OpenCV; no Beam imports (those live in ``pipelines``).
"""

__version__ = "0.1.0"
