"""The Beam jobs that write a corpus: ``generate`` and ``fit-bases``, their options and transforms.

Thin wiring: each transform calls Beam-free :mod:`kinefake.synth` functions.
"""
