"""Perturbation operators on real clips: invariants, caps, regeneration, and what they break."""

from __future__ import annotations

import numpy as np
import pytest

from kinefake.synth.bases.model import REGION_NAMES
from kinefake.synth.bases.storage import load_bases
from kinefake.synth.landmarks import extract_landmarks
from kinefake.synth.landmarks.regions import IBUG68_REGIONS
from kinefake.synth.perturb.apply import perturb
from kinefake.synth.perturb.measure import operator_table
from kinefake.synth.perturb.motion import ClipMotion, RegionPair, coupled_pairs
from kinefake.synth.perturb.operators import OPERATORS
from kinefake.synth.perturb.policy import PerturbPolicy, operator_params, sample_perturbation, sample_seed
from kinefake.synth.perturb.schedule import envelope
from kinefake.synth.render.mesh import flipped
from kinefake.synth.video import probe, read_frames
from tests.conftest import face

CLIPS = ["first-order", "EDTalk", "LivePortrait__d3", "SadTalker__WDA_A", "spectre__W023", "styletalk", "LipNet",
         "Talking-Face_PC-AVS__6"]  # fmt: skip
ALL_ON = {name: 1.0 for name in OPERATORS}


@pytest.fixture(scope="module")
def bases():
    return load_bases()[0]


@pytest.fixture(scope="module")
def motions(faces, mediapipe_backend, bases):
    out = []
    for prefix in CLIPS:
        path = face(faces, prefix)
        lm = extract_landmarks(read_frames(path, 0, 32), mediapipe_backend, float(probe(path).fps))
        out.append((prefix, ClipMotion.from_points(lm.ibug68, bases)))
    return out


def drawn(motions, operator, seed=0):
    """The operator's own random choices, drawn from the default policy's ranges as it draws them."""
    params = operator_params(PerturbPolicy(), [("d", motions[1][1].coeffs)])
    return OPERATORS[operator].draw(np.random.default_rng(seed), params)


def test_envelope_is_zero_outside_and_smooth():
    w = envelope(32, 6, 26, 4)
    assert (w[:6] == 0).all() and (w[26:] == 0).all() and (w[10:22] == 1).all()
    assert np.all(np.diff(w[6:11]) > 0) and np.all(np.diff(w[21:26]) < 0)
    with pytest.raises(ValueError, match="expected 0 <= start < stop <= 32"):
        envelope(32, 10, 40, 2)
    with pytest.raises(ValueError, match="expected 0 <= ramp"):
        envelope(32, 10, 14, 3)


@pytest.mark.parametrize("operator", sorted(OPERATORS))
def test_strength_zero_returns_the_input_bit_for_bit(motions, bases, operator):
    _, motion = motions[0]
    pair = coupled_pairs(bases)[0]
    result = perturb(motion, operator, pair, (4, 28), 4, 0.0, drawn(motions, operator))
    assert result.target.tobytes() == motion.points.tobytes()
    assert not result.region_displacement.any()


@pytest.mark.parametrize("operator", sorted(OPERATORS))
def test_outside_the_window_the_target_is_the_source(motions, bases, operator):
    checked = 0
    for _, motion in motions[:4]:
        for pair in coupled_pairs(bases)[:4]:
            result = perturb(motion, operator, pair, (8, 24), 4, 0.05, drawn(motions, operator, 1))
            if result is None:
                continue
            checked += 1
            assert result.target[:8].tobytes() == motion.points[:8].tobytes()
            assert result.target[24:].tobytes() == motion.points[24:].tobytes()
            moved = np.linalg.norm(result.delta, axis=-1).max(0) > 0
            edited = np.isin(np.arange(68), IBUG68_REGIONS[pair.region])
            assert not (moved & ~edited).any()  # only the edited region moves
            assert result.label["max_displacement_iod"] <= 0.05 + 1e-12
            assert not flipped(motion.shapes, motion.shapes + result.delta).any()
    assert checked >= 8, f"{operator}: only {checked} of 16 clip/pair draws made an edit to check"


def test_a_flip_reduces_the_strength_and_says_so(motions, bases):
    """Freezing the outer lips while the inner lips keep moving would cross them."""
    reductions = []
    for _, motion in motions:
        pair = RegionPair("mouth_outer", "mouth_inner", 2, 0.4)
        result = perturb(motion, "freeze", pair, (0, 32), 4, 0.5, drawn(motions, "freeze"))
        if result is not None:
            assert not flipped(motion.shapes, motion.shapes + result.delta).any()
            reductions.append(result.label["flip_reductions"])
    assert max(reductions) > 0


def test_a_sample_regenerates_alone_from_its_key_and_seed(motions):
    _, motion = motions[2]
    donors = [(k, m.coeffs) for k, m in motions if k != motions[2][0]]
    policy = PerturbPolicy(weights=ALL_ON)
    first = sample_perturbation("abc_0003_fake1", 7, motion, policy, donors)
    again = sample_perturbation("abc_0003_fake1", 7, motion, policy, donors)
    assert first.target.tobytes() == again.target.tobytes() and first.label == again.label
    other = sample_perturbation("abc_0003_fake2", 7, motion, policy, donors)
    assert other.target.tobytes() != first.target.tobytes()
    assert sample_seed(7, "abc_0003_fake1") != sample_seed(8, "abc_0003_fake1")
    assert first.label["key"] == "abc_0003_fake1" and first.label["seed"] == 7


def test_labels_describe_the_edit(motions):
    _, motion = motions[0]
    result = sample_perturbation("k_0000_fake0", 0, motion, PerturbPolicy())
    label = result.label
    assert label["operator"] in OPERATORS and label["region"] in REGION_NAMES
    assert result.region_displacement.shape == (32, len(REGION_NAMES))
    per_region = result.region_displacement.max(0)
    assert per_region[REGION_NAMES.index(label["region"])] > 0
    assert per_region.sum() == per_region[REGION_NAMES.index(label["region"])]
    start, stop = label["active_frames"]
    assert label["window"][0] <= start < stop <= label["window"][1]


def test_every_operator_breaks_coupling_and_kinematic_ones_keep_speeds(motions):
    table = operator_table(motions, samples=3)
    for operator, row in table.items():
        assert row["samples"] >= len(motions), operator
        assert row["coupling_drop"] >= 0.04, (operator, row)
        assert row["max_displacement_iod"] <= PerturbPolicy().max_shift + 1e-12
    for operator in ("decouple", "desync", "transplant", "amplitude"):
        assert table[operator]["ks_region"] <= 0.3, (operator, table[operator])
    assert table["jitter"]["ks_region"] > table["desync"]["ks_region"]  # the non-kinematic baseline shows


def test_every_fake_reaches_the_strength_floor_after_flip_reductions(motions):
    policy = PerturbPolicy(strength=(0.04, 0.06), max_shift=0.06)
    made = 0
    for name, motion in motions:
        donors = [(k, m.coeffs) for k, m in motions if k != name]
        for n in range(4):
            result = sample_perturbation(f"{name}_0000_fake{n}", 0, motion, policy, donors)
            if result is None:
                continue
            made += 1
            assert 0.04 - 1e-9 <= result.label["max_displacement_iod"] <= 0.06 + 1e-9, result.label
    assert made >= 3 * len(motions)


def test_operators_are_drawn_in_equal_shares(motions):
    """The operator is drawn once per sample: a retry draws a new window, never a new operator."""
    _, motion = motions[2]
    donors = [(k, m.coeffs) for k, m in motions[3:]]
    policy = PerturbPolicy()
    drawn_ops = []
    for n in range(150):
        result = sample_perturbation(f"v_{n:04d}_fake0", 0, motion, policy, donors)
        if result is not None:
            drawn_ops.append(result.label["operator"])
    counts = {op: drawn_ops.count(op) for op in ("decouple", "desync", "amplitude", "freeze", "transplant")}
    assert len(drawn_ops) >= 120
    assert min(counts.values()) >= 0.5 * len(drawn_ops) / 5, counts  # each near a fifth (was 10% amplitude)


def test_windows_on_motion_events_find_edits_that_a_uniform_draw_misses(motions):
    """Placed where the region moves, a draw reaches the floor on more clips and in fewer tries."""
    outcome = {}
    for placement in ("motion", "uniform"):
        policy = PerturbPolicy(weights={"decouple": 1.0, "freeze": 1.0}, strength=(0.05, 0.06), placement=placement)
        draws, failed = [], 0
        for name, motion in motions:
            for n in range(6):
                result = sample_perturbation(f"{name}_0000_fake{n}", 3, motion, policy)
                if result is None:
                    failed += 1
                else:
                    draws.append(result.label["draws"])
        outcome[placement] = (failed, float(np.mean(draws)))
    assert outcome["motion"][0] < outcome["uniform"][0], outcome
    assert outcome["motion"][1] < outcome["uniform"][1], outcome


def test_policy_refuses_an_unknown_placement():
    with pytest.raises(ValueError, match="placement"):
        PerturbPolicy(placement="random")


@pytest.mark.parametrize(
    "fields",
    [
        {"strength": (0.05, 0.02)},
        {"strength": (0.02, 0.08)},  # above the default max_shift 0.06
        {"strength": (0.1, 0.25), "max_shift": 0.25},  # max_shift above 0.2 IOD
        {"strength": (float("nan"), 0.05)},
        {"max_shift": float("nan")},
        {"blend_ratio": (0.8, 0.2)},
        {"jitter_sigma": -0.01},
    ],
)
def test_policy_refuses_ranges_out_of_order_or_not_numbers(fields):
    with pytest.raises(ValueError, match="expected"):
        PerturbPolicy(**fields)
