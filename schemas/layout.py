"""Where everything lives in an output folder ``OUT``: paths relative to it, one folder per table.

::

    OUT/manifest.json                          written last: its presence marks a finished run
    OUT/.kinefake-lock                         while a run writes: its pid and host
    OUT/README.md                              the dataset card (HF ``configs``)
    OUT/webdataset/shard-00000-of-00004.tar    the samples
    OUT/webdataset/shard-00000-of-00004.tar.part00001   a donor group's part, while a run writes
    OUT/parquet/{clips,samples,landmarks,files}/{table}-00000-of-00001.parquet
    OUT/rejects/rejects-00000-of-00001.parquet
    OUT/validate.json, OUT/validate/*.png      written by ``kinefake validate``
    OUT/audit/index.html, OUT/audit/assets/*   written by ``kinefake audit`` (its default place)

A folder per table lets ``pyarrow.dataset.dataset(OUT/parquet/samples)`` and
``datasets.load_dataset("parquet", data_dir=...)`` read one table without a glob.
"""

from __future__ import annotations

import re

MANIFEST = "manifest.json"
#: Held by a running ``generate`` (:mod:`kinefake.pipelines.lock`); never in a finished corpus.
LOCK = ".kinefake-lock"
CARD = "README.md"
SHARDS = "webdataset"
VALIDATE = "validate.json"
VALIDATE_PLOTS = "validate"
AUDIT = "audit"
AUDIT_PAGE = "index.html"
AUDIT_ASSETS = "assets"

#: Table name -> its folder.
TABLE_FOLDERS = {
    "clips": "parquet/clips",
    "samples": "parquet/samples",
    "landmarks": "parquet/landmarks",
    "files": "parquet/files",
    "rejects": "rejects",
}
#: File names of sharded outputs: ``{prefix}-00000-of-00004{suffix}`` (Beam's template).
SHARD_TEMPLATE = "-SSSSS-of-NNNNN"

#: What a run may find in ``OUT`` from an earlier run and delete: its own file names, the
#: temporaries of an interrupted write (``.tmp-*``) and Beam's ``beam-temp-*`` folders.
_TMP = r"(\.tmp-[0-9a-f]+)?"
OWNED = re.compile(
    "|".join(
        [
            rf"{re.escape(MANIFEST)}{_TMP}",
            rf"{re.escape(CARD)}{_TMP}",
            rf"{re.escape(VALIDATE)}{_TMP}",
            rf"{VALIDATE_PLOTS}/[a-z_]+\.png{_TMP}",
            rf"{AUDIT}/{re.escape(AUDIT_PAGE)}",
            rf"{AUDIT}/{AUDIT_ASSETS}/[A-Za-z0-9_-]+\.(mp4|png|json)",
            rf"{SHARDS}/shard-\d{{5}}-of-\d{{5}}\.tar(\.part\d{{5}})?{_TMP}",
            *(
                rf"{re.escape(folder)}/{name}-\d{{5}}-of-\d{{5}}\.parquet{_TMP}"
                for name, folder in TABLE_FOLDERS.items()
            ),
            r"(.+/)?beam-temp-[^/]+(/.*)?",
        ]
    )
)


#: The files a finished corpus's manifest may list, by the names a run gives them: a listed
#: path that is anything else (absolute, ``..``, another folder) is refused, never opened.
CORPUS_FILE = re.compile(
    "|".join(
        [
            rf"(?P<shards>{SHARDS})/shard-\d{{5}}-of-\d{{5}}\.tar",
            *(
                rf"(?P<{name}>{re.escape(folder)})/{name}-\d{{5}}-of-\d{{5}}\.parquet"
                for name, folder in TABLE_FOLDERS.items()
            ),
        ]
    )
)
#: ``kinefake validate``'s plots, by their fixed names under ``OUT/validate/``.
VALIDATE_PLOT_FILES = ("fidelity.png", "outside_mask.png", "motion.png", "headpose.png")


def corpus_file_kind(path: str) -> str | None:
    """``shards`` or the table name (``samples``, ...) of a path a manifest lists (relative
    to ``OUT``), or None when it is not a name a run writes."""
    match = CORPUS_FILE.fullmatch(path)
    return None if match is None else match.lastgroup


def table_prefix(name: str) -> str:
    """``parquet/clips/clips``: the shard-name prefix of table ``name``."""
    return f"{TABLE_FOLDERS[name]}/{name}"


def table_glob(name: str) -> str:
    """``parquet/clips/*.parquet``: every shard of table ``name``."""
    return f"{TABLE_FOLDERS[name]}/*.parquet"


def shard_name(index: int, num_shards: int) -> str:
    """``webdataset/shard-00003-of-00012.tar``."""
    return f"{SHARDS}/shard-{index:05d}-of-{num_shards:05d}.tar"


def part_name(shard: str, group: int) -> str:
    """``webdataset/shard-00003-of-00012.tar.part00001``: one donor group's samples of a shard,
    joined into the shard's tar when the run finishes it (never left in a finished corpus)."""
    return f"{shard}.part{group:05d}"


def is_owned(path: str) -> bool:
    """Whether ``path`` (relative to ``OUT``, ``/``-separated) is a name kinefake writes."""
    return OWNED.fullmatch(path) is not None
