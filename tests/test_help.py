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
