"""A corpus loads without loss in the readers users have: webdataset, a torch DataLoader,
HuggingFace ``datasets``, pyarrow datasets, pandas and DuckDB."""

from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pytest
import torch
import webdataset as wds
from datasets import load_dataset

from kinefake.corpus import reader
from kinefake.corpus.reader import collate_samples, decode_sample, huggingface_features
from kinefake.pipelines.generate import run
from kinefake.schemas.members import LABEL_TYPE
from tests.conftest import face


@pytest.fixture(scope="module")
def corpus(faces, tmp_path_factory):
    """Three videos, five clips, two fakes per clip from every family (blend too), three shards."""
    folder = tmp_path_factory.mktemp("readers")
    (folder / "in").mkdir()
    for prefix in ("spectre__00002", "first-order", "LivePortrait__d3"):
        shutil.copyfile(face(faces, prefix), folder / "in" / face(faces, prefix).name)
    out = folder / "out"
    operators = "decouple,desync,amplitude,freeze,transplant,blend"
    flags = ["--max-clips-per-video", "2", "--fakes-per-clip", "2", "--clips-per-shard", "2", "--size", "96"]
    run(["--input", str(folder / "in"), "--output", str(out), "--operators", operators, *flags])
    tars = sorted(str(p) for p in (out / "webdataset").glob("*/*.tar"))
    truth = {s["__key__"]: json.loads(s["json"]) for s in wds.WebDataset(tars, shardshuffle=False)}
    assert len(tars) == 3 and len(truth) >= 12
    return out, tars, truth


def test_huggingface_webdataset_gives_back_every_label_exactly(corpus, tmp_path):
    _, tars, truth = corpus
    features = huggingface_features(96)
    ds = load_dataset(
        "webdataset", data_files={"train": tars}, split="train", features=features, cache_dir=str(tmp_path)
    )
    assert sorted(ds["__key__"]) == sorted(truth)
    for row in ds:
        assert row["json"] == truth[row["__key__"]], row["__key__"]
        assert np.asarray(row["landmarks.npy"]).shape == (truth[row["__key__"]]["source"]["num_frames"], 68, 2)


def test_huggingface_streams_the_samples_without_a_cache_as_the_card_says(corpus, tmp_path, monkeypatch):
    out, _, truth = corpus
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    files = reader.webdataset_files(str(out))
    assert list(files) == ["train"] and len(files["train"]) == 3
    ds = load_dataset("webdataset", data_files=files, features=huggingface_features(96), streaming=True)
    rows = {row["__key__"]: row for row in ds["train"]}
    assert sorted(rows) == sorted(truth) and all(rows[k]["json"] == truth[k] for k in truth)
    assert not any(p.suffix == ".arrow" for p in tmp_path.rglob("*"))  # nothing written to a cache


def test_the_dataset_card_loads_the_samples_table_with_huggingface(corpus, tmp_path):
    out, _, truth = corpus
    samples = load_dataset(str(out), split="train", cache_dir=str(tmp_path))  # the card's default config
    assert sorted(samples["key"]) == sorted(truth)
    by_key = {r["key"]: r for r in samples}
    for key, label in truth.items():
        assert json.loads(by_key[key]["label_json"]) == label
        assert by_key[key]["sample_seed"] == label["sample_seed"]  # 63-bit: exact in int64
    folder = load_dataset("parquet", data_dir=str(out / "parquet" / "samples"), split="train", cache_dir=str(tmp_path))
    assert folder.num_rows == len(truth)


def test_pyarrow_pandas_and_duckdb_read_each_table_folder(corpus):
    out, _, truth = corpus
    assert pads.dataset(out / "parquet" / "samples").to_table().num_rows == len(truth)
    frame = pd.read_parquet(out / "parquet" / "samples")
    assert str(frame["sample_seed"].dtype) == "int64"  # no nulls: pandas keeps it exact
    labels = [json.loads(s) for s in frame["label_json"]]
    flat = pd.json_normalize(labels)
    fakes = flat[flat["label"] == 1]
    assert set(fakes["sample_seed"]) == {lb["sample_seed"] for lb in truth.values() if lb["label"]}
    assert set(frame["sample_seed"]) == {lb["sample_seed"] for lb in truth.values()}
    assert "perturbation.params.lag_frames" in flat.columns and "crop.size" in flat.columns
    glob = str(out / "parquet" / "samples" / "*" / "*.parquet")
    assert duckdb.sql(f"select count(*) from read_parquet('{glob}')").fetchall()[0][0] == len(truth)
    operators = duckdb.sql(f"select distinct operator from read_parquet('{glob}') where label = 1").fetchall()
    assert {o for (o,) in operators} <= {"decouple", "desync", "amplitude", "freeze", "transplant", "blend"}
    assert pads.dataset(out / "parquet" / "clips").count_rows() == 5  # spectre__00002 holds one clip
    assert pads.dataset(out / "rejects").count_rows() == 0


def test_labels_conform_to_the_contract_type(corpus):
    _, _, truth = corpus
    import pyarrow as pa

    assert pa.array(list(truth.values()), type=LABEL_TYPE).to_pylist() == list(truth.values())


def test_a_torch_dataloader_with_two_workers_decodes_every_sample(corpus):
    _, tars, truth = corpus
    dataset = wds.WebDataset(tars, shardshuffle=False, workersplitter=wds.split_by_worker).map(decode_sample)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2)
    seen = {}
    for sample in loader:
        seen[sample["key"]] = sample
    assert sorted(seen) == sorted(truth)
    for key, sample in seen.items():
        video, masks = sample["video"], sample["masks"]
        t = truth[key]["source"]["num_frames"]
        assert video.shape == (t, 96, 96, 3) and video.dtype == torch.uint8
        assert sample["landmarks"].shape == (t, 68, 2) and sample["landmarks"].dtype == torch.float32
        assert masks["pixel"].shape == (t, 96, 96) and masks["region"].dtype == torch.float16
        assert sample["label"] == truth[key]
        assert (int(masks["pixel"].max()) == 0) == (truth[key]["label"] == 0)
    assert np.isclose(seen[next(iter(seen))]["fps"], 25.0) or seen[next(iter(seen))]["fps"] > 0


def _check_batch(batch, truth, size=96):
    b = len(batch["key"])
    t = truth[batch["key"][0]]["source"]["num_frames"]
    assert 1 <= b <= 8 and batch["video"].shape == (b, t, size, size, 3) and batch["video"].dtype == torch.uint8
    assert batch["landmarks"].shape == (b, t, 68, 2) and batch["masks"]["pixel"].shape == (b, t, size, size)
    assert batch["masks"]["region"].dtype == torch.float16 and batch["fps"].shape == (b,)
    for i, key in enumerate(batch["key"]):
        label = truth[key]
        assert batch["label"][i] == label and int(batch["target"][i]) == label["label"]
        p = label["perturbation"] or {}
        assert batch["operator"][i] == p.get("operator") and batch["region"][i] == p.get("region")
        strength = float(batch["strength_iod"][i])
        assert np.isnan(strength) if p.get("strength_iod") is None else np.isclose(strength, p["strength_iod"])
        assert batch["active_frames"][i].tolist() == (p.get("active_frames") or [-1, -1])


def test_the_readme_dataloader_recipe_batches_eight_with_two_workers(corpus):
    _, tars, truth = corpus
    dataset = wds.WebDataset(tars, shardshuffle=False, workersplitter=wds.split_by_worker).map(decode_sample)
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, num_workers=2, collate_fn=collate_samples)
    keys = []
    for batch in loader:
        _check_batch(batch, truth)
        keys += batch["key"]
    assert sorted(keys) == sorted(truth)  # every sample once, nulls and all


def test_training_batches_shuffles_the_same_way_for_the_same_seed(corpus):
    out, _, truth = corpus

    def order(seed):
        batches = reader.training_batches(str(out / "webdataset" / "*" / "*.tar"), batch_size=8, seed=seed)
        loader = torch.utils.data.DataLoader(batches, batch_size=None, num_workers=2)
        keys = []
        for batch in loader:
            _check_batch(batch, truth)
            keys += batch["key"]
        return keys

    first = order(1)
    assert sorted(first) == sorted(truth)
    assert order(1) == first and order(2) != first


def test_collate_refuses_nothing_and_mixed_shapes_in_one_line():
    sample = {"key": "a", "video": np.zeros((2, 8, 8, 3), np.uint8), "fps": 25.0, "landmarks": np.zeros((2, 68, 2))}
    other = {**sample, "key": "b", "video": np.zeros((3, 8, 8, 3), np.uint8)}
    with pytest.raises(ValueError, match="expected at least one sample"):
        collate_samples([])
    with pytest.raises(ValueError, match=r"got a \(2, 8, 8, 3\) and b \(3, 8, 8, 3\)"):
        collate_samples([sample, other])
    with pytest.raises(ValueError, match="got none matching"):
        reader.training_batches("/nowhere/*.tar")
