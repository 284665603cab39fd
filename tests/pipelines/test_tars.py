"""The workers' tar writer writes what webdataset's TarWriter writes, and reads it back."""

from __future__ import annotations

import gc
import hashlib
import io
import sys
import tarfile

import pytest
import webdataset as wds

from kinefake.pipelines.tars import HashingWriter, SampleTarWriter, read_samples, tar_members


def test_tars_are_the_bytes_webdataset_writes_and_read_back_in_order(tmp_path):
    samples = [
        {"__key__": "vid-1_0000_real", "mp4": b"\x00" * 700, "json": b"{}", "landmarks.npy": b"abc", "mask.npz": b""},
        {"__key__": "vid-1_0000_fake0", "mp4": b"\x01" * 1025, "json": b'{"a":1}', "landmarks.npy": b"d"},
    ]
    ours, theirs = io.BytesIO(), io.BytesIO()
    sink = HashingWriter(ours)
    writer = SampleTarWriter(sink)
    reference = wds.TarWriter(theirs, encoder=False, mtime=0.0)
    for sample in samples:
        writer.write(sample)
        reference.write(sample)
    writer.close()
    reference.close()
    assert ours.getvalue() == theirs.getvalue()
    assert sink.bytes == len(ours.getvalue())
    assert sink.digest.hexdigest() == hashlib.sha256(ours.getvalue()).hexdigest()
    path = tmp_path / "a.tar"
    path.write_bytes(ours.getvalue())
    assert list(read_samples(str(path))) == samples
    assert [s["__key__"] for s in wds.WebDataset(str(path), shardshuffle=False)] == [s["__key__"] for s in samples]


def test_tar_members_reads_only_the_wanted_keys_and_files(tmp_path):
    path = tmp_path / "b.tar"
    with tarfile.open(path, "w") as tar:
        folder = tarfile.TarInfo("a_0000_real.d")
        folder.type = tarfile.DIRTYPE  # not a member: skipped
        tar.addfile(folder)
        for name, data in (("a_0000_real.mp4", b"xy"), ("a_0000_fake0.mp4", b"zzz")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    members = list(tar_members(str(path), {"a_0000_fake0"}.__contains__))
    assert members == [("a_0000_real", "mp4", None), ("a_0000_fake0", "mp4", b"zzz")]


def test_joining_parts_is_the_one_writer_tar_and_a_retry_after_the_join_reports_it_again(tmp_path):
    from kinefake.pipelines.synthesize import JoinShardFn
    from kinefake.schemas.layout import part_name, shard_name

    groups = [[{"__key__": f"v_{g}{i}_real", "mp4": bytes([g]) * (300 + i)} for i in range(2)] for g in range(3)]
    whole = io.BytesIO()
    one = SampleTarWriter(whole)
    parts = []
    (tmp_path / "webdataset" / "train").mkdir(parents=True)
    for g, samples in enumerate(groups):
        uri = str(tmp_path / part_name(shard_name("train", 0, 1), g))
        with open(uri, "wb") as f:
            writer = SampleTarWriter(f)
            for sample in samples:
                writer.write(sample)
                one.write(sample)
            writer.close()
        parts.append((g, uri, len(samples)))
    one.close()
    join = JoinShardFn(str(tmp_path))
    (record,) = join.process(
        (("train", 0), list(reversed(parts))), num_shards={"train": 1}
    )  # arrival order is not group order
    tar = tmp_path / shard_name("train", 0, 1)
    assert tar.read_bytes() == whole.getvalue()
    assert (record.path, record.samples, record.sha256) == (
        shard_name("train", 0, 1),
        6,
        hashlib.sha256(whole.getvalue()).hexdigest(),
    )
    assert not [p for _, p, _ in parts if (tmp_path / p).exists()]  # the parts are gone
    (again,) = join.process(
        (("train", 0), parts), num_shards={"train": 1}
    )  # a retried bundle: parts deleted, tar complete
    assert again == record


def test_a_tar_cut_short_by_an_error_is_closed_before_its_file(tmp_path):
    # A disk that fills mid-part: the tar stream is closed on the way out, before its file;
    # one collected later would flush its buffer into the closed file (printed as ignored).
    caught, hook = [], sys.unraisablehook
    sys.unraisablehook = caught.append
    try:
        with pytest.raises(OSError), open(tmp_path / "part.tar", "wb") as f, SampleTarWriter(f) as writer:
            writer.write({"__key__": "a", "txt": b"x" * 100})
            raise OSError(28, "No space left on device")
        del writer
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert caught == []
