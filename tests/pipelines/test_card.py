"""The dataset card's parts that need no corpus: the contract's meanings, the hub's size
categories, tables without rows, and the learnability figures an ``evaluate`` report gives."""

from __future__ import annotations

import copy
import re

import pytest
from huggingface_hub import DatasetCard

from kinefake.pipelines.card import configs, contract_sections, dataset_card, size_category

#: A finished run's manifest, cut to what the card reads: one split, no rejects.
MANIFEST = {
    "version": "0.1.0",
    "schema_version": "6",
    "batches": [["/videos"]],
    "config": {
        "seed": 3,
        "clip_frames": 32,
        "clip_stride": 32,
        "max_clips_per_video": 2,
        "splits": None,
        "landmark_backend": "mediapipe",
        "track": {"detect_every": 8},
        "gates": {"min_iod_px": 20.0},
        "samples": {
            "size": 128,
            "margin": 1.3,
            "interpolation": "bilinear",
            "preset": "veryfast",
            "crf": 18,
            "fakes": 1,
        },
        "policy": {"weights": {"freeze": 1.0, "blend": 0.0}, "strength": [0.02, 0.05]},
        "bases": {"kind": "autoencoder", "k": 16, "path": "default"},
    },
    "counts": {
        "samples": 4,
        "real_samples": 2,
        "fake_samples": 2,
        "clips": 2,
        "videos": 1,
        "rejects": 0,
        "fakes_by_operator": {"freeze": 2},
        "splits": {
            "train": {"videos": 1, "clips": 2, "real_samples": 2, "fake_samples": 2, "fakes_by_operator": {"freeze": 2}}
        },
    },
    "shards": [
        {"path": "parquet/samples/train/samples-00000-of-00001.parquet", "rows": 4, "bytes": 900},
        {"path": "parquet/clips/train/clips-00000-of-00001.parquet", "rows": 2, "bytes": 500},
        {"path": "parquet/landmarks/train/landmarks-00000-of-00001.parquet", "rows": 64, "bytes": 7000},
        {"path": "rejects/rejects-00000-of-00001.parquet", "rows": 0, "bytes": 300},
        {"path": "webdataset/train/shard-00000-of-00001.tar", "bytes": 40000, "samples": 4},
    ],
}


def test_every_field_of_the_contract_says_what_it_means():
    rows = [line for line in contract_sections() if line.startswith("| `")]
    assert len(rows) > 100
    assert [row for row in rows if row.rstrip().endswith("|  |") or row.split("|")[-2].strip() == ""] == []


@pytest.mark.parametrize(
    ("samples", "category"),
    [(0, "n<1K"), (999, "n<1K"), (1_000, "1K<n<10K"), (99_999, "10K<n<100K"), (2_500_000, "1M<n<10M")],
)
def test_size_categories_are_the_hubs(samples, category):
    assert size_category(samples) == category


def test_a_table_without_rows_is_no_config():
    # datasets refuses to load a split without rows ("corresponds to no data").
    assert [c["config_name"] for c in configs(MANIFEST)] == ["samples", "clips", "landmarks"]
    with_rejects = copy.deepcopy(MANIFEST)
    with_rejects["shards"][3]["rows"] = 2
    assert configs(with_rejects)[-1] == {
        "config_name": "rejects",
        "data_files": [{"split": "train", "path": "rejects/*.parquet"}],
    }
    landmarks_only = copy.deepcopy(MANIFEST)
    landmarks_only["shards"][0]["rows"] = 0
    assert configs(landmarks_only)[0] == {
        "config_name": "clips",
        "data_files": [{"split": "train", "path": "parquet/clips/train/*.parquet"}],
        "default": True,
    }


def test_an_evaluate_report_puts_the_corpus_own_figures_in_the_limits():
    cell = {"reals": 2, "fakes": 2}
    report = {
        "samples": 4, "reals": 2, "fakes": 2, "videos": 1, "folds": 2, "seed": 0,
        "detectors": {
            "kinematic": {"overall": {"auroc": 0.6123, **cell}, "by_operator": {"freeze": {"auroc": 0.6123, **cell}}},
            "pixel": {"overall": {"auroc": None, **cell}, "by_operator": {}},
        },
    }  # fmt: skip
    text = DatasetCard(dataset_card(MANIFEST, report)).text
    limits = text.split("## Bias, risks and limitations")[1].split("## Licensing")[0]
    assert "| detector | all fakes | freeze |" in limits
    assert "| kinematic | 0.612 | 0.612 |" in limits and "| pixel | n/a | n/a |" in limits
    assert "Not measured" not in limits and "2 folds by source video, seed 0" in limits
    assert "Not measured for this corpus" in DatasetCard(dataset_card(MANIFEST)).text


def test_a_corpus_without_fakes_has_no_empty_operator_column():
    reals_only = copy.deepcopy(MANIFEST)
    reals_only["counts"]["fakes_by_operator"] = {}
    reals_only["counts"]["splits"]["train"]["fakes_by_operator"] = {}
    lines = DatasetCard(dataset_card(reals_only)).text.splitlines()
    header = lines.index("| split | videos | clips | real | fake |")
    assert lines[header + 1 : header + 3] == ["|---|---|---|---|---|", "| train | 1 | 2 | 2 | 2 |"]


def test_paths_with_pipes_and_backticks_keep_the_settings_table_whole():
    # A path is the user's: a pipe would start a new cell, a backtick end the code span.
    odd = copy.deepcopy(MANIFEST)
    odd["batches"] = [["/videos/a|b", "/videos/``x`"], ["`/edge`"]]
    odd["config"]["bases"]["path"] = "/models/k|16.npz"
    lines = DatasetCard(dataset_card(odd)).text.splitlines()
    rows = {line.split(" | ")[0]: line for line in lines if line.startswith("| inputs") or line.startswith("| motion")}
    unescaped = re.compile(r"(?<!\\)\|")
    assert all(len(unescaped.findall(row)) == 3 for row in rows.values())
    inputs = r"`/videos/a\|b`, ``` /videos/``x` ```; `` `/edge` ``"
    assert rows["| inputs (per batch)"] == f"| inputs (per batch) | {inputs} |"
    assert rows["| motion bases"] == r"| motion bases | autoencoder, k 16, /models/k\|16.npz |"
