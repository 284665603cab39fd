"""``kinefake fit-bases`` end to end: it reproduces the shipped default model from the shared clips."""

from __future__ import annotations

import numpy as np

from kinefake.cli import main
from kinefake.pipelines.fit_bases import run
from kinefake.synth.bases.storage import load_bases


def test_fit_bases_from_videos_reproduces_the_default_model(faces, tmp_path):
    # Video ids come from content, and the train/held-out split follows the ids: the shared
    # clips reproduce the model wherever they live and however they are named.
    folder = str(next(iter(faces.values())).parent)
    out = tmp_path / "bases.safetensors"
    info = run(["--input", folder, "--out", str(out), "--work-dir", str(tmp_path / "work")])
    shipped, shipped_info = load_bases()
    fitted, _ = load_bases(out)
    assert info["train_videos"] == shipped_info["train_videos"]
    assert info["train_frames"] == shipped_info["train_frames"]
    np.testing.assert_allclose(fitted.components, shipped.components, atol=1e-3)
    np.testing.assert_allclose(fitted.coeff_std, shipped.coeff_std, rtol=1e-3)
    assert abs(info["metrics"]["held_out_nme_pct_iod"] - shipped_info["metrics"]["held_out_nme_pct_iod"]) < 1e-3

    # Refitting from the tables it just wrote, as PCA this time.
    tables = str(tmp_path / "work" / "parquet" / "landmarks" / "*" / "*.parquet")
    pca_out = tmp_path / "pca.safetensors"
    assert main(["fit-bases", "--landmarks", tables, "--out", str(pca_out), "--kind", "pca", "--k", "8"]) == 0
    pca, pca_info = load_bases(pca_out)
    assert (pca.kind, pca.k) == ("pca", 8)
    assert pca_info["data_sha256"] == info["data_sha256"]  # same frames, same split, whatever the model
    # ... and from the corpus folder itself: the same tables.
    again = tmp_path / "again.safetensors"
    assert (
        main(["fit-bases", "--landmarks", str(tmp_path / "work"), "--out", str(again), "--kind", "pca", "--k", "8"])
        == 0
    )
    assert load_bases(again)[1]["data_sha256"] == info["data_sha256"]


def test_fit_bases_needs_an_input(tmp_path, capsys):
    assert main(["fit-bases", "--out", str(tmp_path / "m.safetensors")]) == 2
    assert "give --landmarks TABLES, or --input VIDEOS" in capsys.readouterr().err


def test_a_folder_or_glob_without_landmark_tables_is_named_in_one_line(tmp_path, capsys):
    empty = tmp_path / "not-a-corpus"
    empty.mkdir()
    for spec in (str(empty), str(tmp_path / "missing" / "*.parquet")):
        assert main(["fit-bases", "--landmarks", spec, "--out", str(tmp_path / "m.safetensors")]) == 2
        err = capsys.readouterr().err
        assert f"no landmark tables in {spec} (a corpus folder" in err and "Traceback" not in err
    assert not (tmp_path / "m.safetensors").exists()
