"""Where everything lives in an output folder ``OUT``: paths relative to it, one folder per table.

::

    OUT/manifest.json                          written last: its presence marks a finished run
    OUT/.kinefake-lock                         while a run writes: its pid and host
    OUT/.kinefake-run.json                     while a run writes: its configuration (``--resume`` checks it)
    OUT/.kinefake-groups/{split}/shard-00000-of-00004.group00001/   while a run writes: a finished
                                               donor group's rows and ``done.json`` (``--resume`` keeps them)
    OUT/README.md                              the dataset card (HF ``configs``)
    OUT/webdataset/{split}/shard-00000-of-00004.tar    the samples of a split (train, val, ...)
    OUT/webdataset/{split}/shard-00000-of-00004.tar.part00001   a donor group's part, while a run writes
    OUT/parquet/{clips,samples,landmarks}/{split}/{table}-00000-of-00001.parquet
    OUT/parquet/files/files-00000-of-00001.parquet
    OUT/rejects/rejects-00000-of-00001.parquet
    OUT/validate.json, OUT/validate/*.png      written by ``kinefake validate``
    OUT/audit/index.html, OUT/audit/assets/*   written by ``kinefake audit`` (its default place)

A folder per table lets ``pyarrow.dataset.dataset(OUT/parquet/samples)`` and
``datasets.load_dataset("parquet", data_dir=...)`` read one table without a glob; a folder
per split inside the clip-keyed tables and the shards lets a data-files pattern name a split
(the dataset card's ``configs``), and every row also carries its ``split``.
"""

from __future__ import annotations

import re

from kinefake.schemas.inputs import SPLIT_PATTERN

MANIFEST = "manifest.json"
#: Held by a running ``generate`` (:mod:`kinefake.pipelines.lock`); never in a finished corpus.
LOCK = ".kinefake-lock"
CARD = "README.md"
#: Written when a run starts, removed with its last step: the configuration a ``--resume`` must match.
RUN_STATE = ".kinefake-run.json"
#: A run's finished donor groups (rows and a ``done.json``), until its last step removes them.
GROUPS = ".kinefake-groups"
#: The tables a finished donor group's record holds, and the file written last that marks it complete.
GROUP_TABLES = ("samples", "landmarks", "rejects")
GROUP_DONE = "done.json"
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
#: Tables written in a folder per split (their rows are clips or frames of clips).
SPLIT_TABLES = ("clips", "samples", "landmarks")
_SPLIT = f"(?:{SPLIT_PATTERN.pattern})"
#: The most ``--append`` runs a corpus takes: a batch's files carry ``-b001`` .. ``-b999``.
MAX_BATCH = 999
_BATCH = r"(?:-b\d{3})?"


def batch_tag(batch: int) -> str:
    """``""`` for the first run's files, ``-b003`` for the third ``--append``'s.

    Raises:
        ValueError: ``batch`` outside 0..:data:`MAX_BATCH`.
    """
    if not 0 <= batch <= MAX_BATCH:
        raise ValueError(f"expected a batch of 0 to {MAX_BATCH}, got {batch}")
    return f"-b{batch:03d}" if batch else ""


#: File names of sharded outputs: ``{prefix}-00000-of-00004{suffix}`` (Beam's template).
SHARD_TEMPLATE = "-SSSSS-of-NNNNN"


def table_pattern(name: str) -> str:
    """A regular expression for the file names of table ``name`` (in its split's folder for
    the :data:`SPLIT_TABLES`)."""
    folder = re.escape(TABLE_FOLDERS[name]) + (f"/{_SPLIT}" if name in SPLIT_TABLES else "")
    return rf"{folder}/{name}{_BATCH}-\d{{5}}-of-\d{{5}}\.parquet"


#: What a run may find in ``OUT`` from an earlier run and delete: its own file names, the
#: temporaries of an interrupted write (``.tmp-*``) and Beam's ``beam-temp-*`` folders.
_TMP = r"(\.tmp-[0-9a-f]+)?"
OWNED = re.compile(
    "|".join(
        [
            rf"{re.escape(MANIFEST)}{_TMP}",
            rf"{re.escape(CARD)}{_TMP}",
            rf"{re.escape(RUN_STATE)}{_TMP}",
            rf"{re.escape(GROUPS)}/{_SPLIT}/shard{_BATCH}-\d{{5}}-of-\d{{5}}\.group\d{{5}}/"
            rf"((?:{'|'.join(GROUP_TABLES)})\.parquet|{re.escape(GROUP_DONE)}){_TMP}",
            rf"{re.escape(VALIDATE)}{_TMP}",
            rf"{VALIDATE_PLOTS}/[a-z_]+\.png{_TMP}",
            rf"{AUDIT}/{re.escape(AUDIT_PAGE)}",
            rf"{AUDIT}/{AUDIT_ASSETS}/[A-Za-z0-9_-]+\.(mp4|png|json)",
            rf"{SHARDS}/{_SPLIT}/shard{_BATCH}-\d{{5}}-of-\d{{5}}\.tar(\.part\d{{5}})?{_TMP}",
            *(rf"{table_pattern(name)}{_TMP}" for name in TABLE_FOLDERS),
            r"(.+/)?beam-temp-[^/]+(/.*)?",
        ]
    )
)


#: The files a finished corpus's manifest may list, by the names a run gives them: a listed
#: path that is anything else (absolute, ``..``, another folder) is refused, never opened.
CORPUS_FILE = re.compile(
    "|".join(
        [
            rf"(?P<shards>{SHARDS}/{_SPLIT})/shard{_BATCH}-\d{{5}}-of-\d{{5}}\.tar",
            *(rf"(?P<{name}>{table_pattern(name)})" for name in TABLE_FOLDERS),
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


def table_prefix(name: str, split: str | None = None, batch: int = 0) -> str:
    """``parquet/clips/train/clips`` (a :data:`SPLIT_TABLES` table, with its ``split``) or
    ``rejects/rejects``: the shard-name prefix of table ``name``'s files (``...-b002`` for
    the files of ``batch`` 2, the second ``--append``).

    Raises:
        ValueError: ``split`` given for a table without splits, or missing for one with them.
    """
    if (name in SPLIT_TABLES) != (split is not None):
        raise ValueError(f"table {name!r}: expected a split {'' if name in SPLIT_TABLES else 'not '}to be given")
    folder = TABLE_FOLDERS[name] if split is None else f"{TABLE_FOLDERS[name]}/{split}"
    return f"{folder}/{name}{batch_tag(batch)}"


def table_glob(name: str, split: str = "*") -> str:
    """``parquet/clips/*/*.parquet``: every file of table ``name`` (of one split, when given)."""
    return f"{TABLE_FOLDERS[name]}/{split}/*.parquet" if name in SPLIT_TABLES else f"{TABLE_FOLDERS[name]}/*.parquet"


def shard_glob(split: str = "*") -> str:
    """``webdataset/*/*.tar``: every shard (of one split, when given)."""
    return f"{SHARDS}/{split}/*.tar"


def shard_name(split: str, index: int, num_shards: int, batch: int = 0) -> str:
    """``webdataset/train/shard-00003-of-00012.tar``: shards are numbered within their split
    (and batch: ``shard-b001-00000-of-00002.tar`` for the first ``--append``'s)."""
    return f"{SHARDS}/{split}/shard{batch_tag(batch)}-{index:05d}-of-{num_shards:05d}.tar"


def group_record(shard: str, group: int) -> str:
    """``.kinefake-groups/train/shard-00003-of-00012.group00001``: the folder of a finished donor
    group's record (:data:`GROUP_TABLES` and :data:`GROUP_DONE`) while its run writes."""
    return f"{GROUPS}/{shard.removeprefix(SHARDS + '/').removesuffix('.tar')}.group{group:05d}"


def part_name(shard: str, group: int) -> str:
    """``webdataset/train/shard-00003-of-00012.tar.part00001``: one donor group's samples of a shard,
    joined into the shard's tar when the run finishes it (never left in a finished corpus)."""
    return f"{shard}.part{group:05d}"


def is_owned(path: str) -> bool:
    """Whether ``path`` (relative to ``OUT``, ``/``-separated) is a name kinefake writes."""
    return OWNED.fullmatch(path) is not None
