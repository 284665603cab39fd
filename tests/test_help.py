"""Every command's --help shows its defaults and every flag, in plain text."""

from __future__ import annotations

import pytest

from kinefake.cli import COMMANDS, main

#: A flag of each command with the default its --help must show.
SHOWN = {
    "generate": "--clip-frames CLIP_FRAMES\n                        Frames per clip. (default: 32)",
    "fit-bases": "(default: autoencoder)",
    "validate": "(default: 200)",
    "evaluate": "(default: 5)",
    "audit": "(default: 4)",
    "regenerate": "(default: .)",
    "landmarks-preview": "(default: mediapipe)",
    "render-preview": "(default: 32)",
    "bases-preview": "--out",
}


def help_text(command: str, capsys) -> str:
    try:
        code = main([command, "--help"])
    except SystemExit as exc:  # argparse's --help exits
        code = exc.code
    assert code in (0, None)
    return capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_shows_defaults_in_plain_text(command, capsys):
    text = help_text(command, capsys)
    assert SHOWN[command] in text, text
    assert "``" not in text and "(default: None)" not in text and "(default: False)" not in text


def test_a_zero_default_is_shown(capsys):
    text = help_text("generate", capsys)
    assert "--seed SEED           Global seed; same seed, same samples. (default: 0)" in text, text


def test_fit_bases_documents_its_input_flag(capsys):
    assert "--input INPUT" in help_text("fit-bases", capsys)


#: Flags the docs name that are no kinefake command's: another tool's, an example of a wrong
#: spelling, a placeholder, a shorthand for a pair, or one a command no longer has.
NOT_KINEFAKE = {
    "--no-deps": "pip wheel",
    "--stages": "python -m bench",
    "--baseline": "python -m bench --stages ab",
    "--max-clip-per-video": "the misspelling the unknown-flag check catches",
    "--name": "placeholder in 'a --name that neither kinefake nor Beam defines'",
    "--min": "shorthand in '--min/max-blend-ratio'",
    "--full-frame": "said to be gone from render-preview",
}


def test_every_flag_the_docs_give_is_in_a_commands_help(capsys):
    """Each ``--flag`` in README.md and docs/commands.md is in the --help of a kinefake
    command, or is one of Beam's (generate passes them through), or is listed above."""
    import re
    from pathlib import Path

    from apache_beam.options.pipeline_options import PipelineOptions

    root = Path(__file__).resolve().parents[1]
    shown = "\n".join(help_text(command, capsys) for command in sorted(COMMANDS))
    parsers = []
    PipelineOptions([]).get_all_options(add_extra_args_fn=parsers.append)
    beam = {s for action in parsers[0]._actions for s in action.option_strings}
    for doc in ("README.md", "docs/commands.md"):
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9_-]*)", (root / doc).read_text()))
        assert flags, doc
        missing = {f for f in flags - beam - set(NOT_KINEFAKE) if not re.search(re.escape(f) + r"(?![\w-])", shown)}
        assert not missing, f"{doc} documents flags no --help shows: {sorted(missing)}"
