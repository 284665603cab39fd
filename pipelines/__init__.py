"""Thin Beam jobs wiring the Beam-free ``synth`` functions into stages."""

import warnings

# Google's client libraries (Beam's gcp extra) warn at every import that Python 3.11 will
# reach its end of life in 2027; that says nothing about a kinefake run.
warnings.filterwarnings("ignore", message=r"You are using a Python version \(3\.11", category=FutureWarning)
