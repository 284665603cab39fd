from __future__ import annotations

import dataclasses
import json

import pyarrow as pa
import pytest

from kinefake.schemas.label import Label
from kinefake.schemas.members import LABEL_TYPE


def struct_names(struct: pa.StructType) -> list:
    return [f.name for f in struct]


def test_the_label_record_has_exactly_the_schemas_fields_at_every_level():
    assert list(Label.FIELDS) == struct_names(LABEL_TYPE)
    checked = 0
    for field in LABEL_TYPE:
        if pa.types.is_struct(field.type):
            nested = {f.name: f for f in dataclasses.fields(Label)}[field.name]
            assert nested.name == field.name
            checked += 1
    assert checked == 4  # perturbation, source, crop, versions


def test_a_written_label_round_trips_and_reads_by_attribute(faces, tmp_path):
    from kinefake.cli import main
    from kinefake.corpus.contents import iter_samples
    from kinefake.schemas.members import LABEL
    from tests.conftest import face

    out = tmp_path / "out"
    flags = ["-q", "--max-clips-per-video", "1", "--fakes-per-clip", "1"]
    assert main(["generate", "--input", str(face(faces, "LivePortrait__d0")), "--output", str(out), *flags]) == 0
    labels = [json.loads(sample[LABEL]) for sample in iter_samples(str(out))]
    assert len(labels) == 2
    for stored in labels:
        label = Label.from_json(stored)
        assert label.to_json() == stored
        assert label.source.video_id == stored["source"]["video_id"]
        assert label.crop.boxes[0].side == stored["crop"]["boxes"][0]["side"]
        assert label.versions.bases.k == stored["versions"]["bases"]["k"]
    fake = Label.from_json(next(s for s in labels if s["label"] == 1))
    assert fake.perturbation.family in ("kinematic", "appearance", "hybrid", "control")
    assert fake.perturbation.params.to_json().keys() == {
        f.name for f in LABEL_TYPE.field("perturbation").type.field("params").type
    }
    assert Label.from_json(next(s for s in labels if s["label"] == 0)).perturbation is None


def test_a_label_with_a_missing_or_unknown_field_is_refused():
    with pytest.raises(ValueError, match=r"missing fields \['crop'"):
        Label.from_json({name: None for name in Label.FIELDS if name != "crop"})
    with pytest.raises(ValueError, match=r"unknown fields \['extra'\]"):
        Label.from_json({**dict.fromkeys(Label.FIELDS), "extra": 1})
    with pytest.raises(ValueError, match="expected an object"):
        Label.from_json([1, 2])
