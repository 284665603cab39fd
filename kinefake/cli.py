"""The ``kinefake`` console script: parse the command's name and hand its arguments on.

Each command lives in the package of its role and exposes ``main(argv) -> int`` (and, where
it refuses more than :data:`kinefake.command.REFUSED` in one line, ``REFUSED``); it is
imported only when it runs, so ``kinefake --help`` does not load Beam or torch.
"""

from __future__ import annotations

import importlib
import sys

from kinefake import __version__
from kinefake.command import run_command

#: Command -> (module, function, one line of help), in the order ``--help`` lists them.
COMMANDS = {
    "generate": (
        "kinefake.pipelines.generate",
        "main",
        "shard input videos and write the corpus (-q: print nothing but errors)",
    ),
    "landmarks-preview": (
        "kinefake.previews",
        "landmarks_preview",
        "draw the tracked landmarks and head pose of one clip into an mp4",
    ),
    "fit-bases": ("kinefake.pipelines.fit_bases", "main", "train motion bases from landmark tables or videos"),
    "bases-preview": ("kinefake.previews", "bases_preview", "draw each motion basis as arrows on the mean face (PNG)"),
    "render-preview": (
        "kinefake.previews",
        "render_preview",
        "real | fake | mask | |diff| x10 of one clip with a chosen operator (mp4)",
    ),
    "validate": (
        "kinefake.corpus.validate",
        "main",
        "check a corpus: render fidelity, nothing moved outside the masks, motion, head pose",
    ),
    "evaluate": (
        "kinefake.corpus.evaluate",
        "main",
        "train baseline detectors on a corpus: AUROC on held-out source videos, test videos",
    ),
    "audit": (
        "kinefake.corpus.audit",
        "main",
        "a static HTML report of a corpus: summary, rejects, sample cards to watch",
    ),
    "regenerate": (
        "kinefake.corpus.regenerate",
        "main",
        "rebuild one sample of a corpus from its source; say whether it equals the stored one",
    ),
}

USAGE = "usage: kinefake COMMAND [ARGS]\n\ncommands:\n" + "\n".join(
    f"  {name:<19} {help_line}" for name, (_, _, help_line) in COMMANDS.items()
) + "\n\n'kinefake COMMAND --help' shows each command's flags; 'kinefake --version' the version."  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """The console script: ``kinefake COMMAND [ARGS]``; the command's exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--version"]:
        print(f"kinefake {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"kinefake: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    module_name, function, _ = COMMANDS[command]
    module = importlib.import_module(module_name)
    return run_command(command, getattr(module, function), rest, getattr(module, "REFUSED", ()))
