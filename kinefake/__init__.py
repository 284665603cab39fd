"""kinefake: training data for deepfake video detectors, real clips and kinematic pseudo-fakes.

One import name; each folder of the repository is a package under it:

* :mod:`kinefake.synth`: the library (video I/O, landmarks, motion bases, perturbation,
  rendering, samples); plain Python with numpy/torch/OpenCV, no Beam.
* :mod:`kinefake.pipelines`: the Beam jobs that write a corpus (``generate``, ``fit-bases``).
* :mod:`kinefake.corpus`: the commands that read a finished corpus (``validate``, ``audit``,
  ``regenerate``, ``evaluate`` and its detectors) and the sample reader.
* :mod:`kinefake.schemas`: every field name and dtype a corpus holds.
* here: the console script (:mod:`kinefake.cli`), errors every command shares
  (:mod:`kinefake.errors`), local-or-remote files (:mod:`kinefake.fs`), previews.
"""

__version__ = "0.1.0"

import warnings

# Google's client libraries (Beam's gcp extra) warn at every import that Python 3.11 will
# reach its end of life in 2027; that says nothing about a kinefake run.
warnings.filterwarnings("ignore", message=r"You are using a Python version \(3\.11", category=FutureWarning)
