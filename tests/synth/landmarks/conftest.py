"""Landmark fixtures: one backend of each kind per session (models load once)."""

from __future__ import annotations

import pytest

from synth.landmarks import make_backend


@pytest.fixture(scope="session")
def mediapipe_backend():
    return make_backend("mediapipe")


@pytest.fixture(scope="session")
def dlib_backend():
    return make_backend("dlib")
