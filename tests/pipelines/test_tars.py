"""The workers' tar writer writes what webdataset's TarWriter writes, and reads it back."""

from __future__ import annotations

import hashlib
import io

import webdataset as wds

from pipelines.tars import HashingWriter, SampleTarWriter, read_samples


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
