"""The frame every ``kinefake`` command runs in: quiet libraries, Ctrl-C and SIGTERM, and one
line on stderr (exit status 2) for a refused flag, a refused corpus or a full disk."""

from __future__ import annotations

import argparse
import copy
import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable

from kinefake.errors import CorpusError, OutputError, UsageError, describe_os_error, storage_failure
from kinefake.interrupt import Interrupted, handle_signals, received
from kinefake.shutdown import skip_final_collections

#: Warnings third-party libraries print at every start, in launcher and workers, as
#: ``(category, message prefix)``: google.api_core's "You are using a Python version ...",
#: protobuf's deprecation through mediapipe.
NOISE = ((FutureWarning, ""), (UserWarning, "SymbolDatabase.GetPrototype"))
#: What every command refuses in one line, whatever else it refuses.
REFUSED = (UsageError, CorpusError, OutputError)


def _has_default(action: argparse.Action) -> bool:
    """A flag with a value to show: not None, not a switch's False, not suppressed (0 is one)."""
    return (
        bool(action.option_strings)
        and action.default is not None
        and action.default is not False
        and (action.default != argparse.SUPPRESS)
    )


class _ShowDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Every flag's help ends with its default, when it has one; a flag without help text
    shows its default alone."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return super()._get_help_string(action) if _has_default(action) else action.help

    def _format_action(self, action: argparse.Action) -> str:
        if action.help is None and _has_default(action):
            action = copy.copy(action)  # the parser's own action stays as it was
            action.help = "(default: %(default)s)"
        return super()._format_action(action)


def command_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The parser of a kinefake command: its ``--help`` shows every default, in plain text
    (docstring markup such as double backquotes is taken out)."""
    return argparse.ArgumentParser(prog=prog, description=description.replace("``", ""), formatter_class=_ShowDefaults)


def silence_libraries() -> None:
    """Silence those warnings and Beam's worker log lines, in this process and in the worker
    processes it starts (they inherit ``PYTHONWARNINGS``: Beam's workers, ``evaluate``'s
    re-detection pool). MediaPipe's C++ logs are silenced where its graphs start
    (:func:`kinefake.synth.landmarks.backends.native_stderr_silenced`)."""
    for category, message in NOISE:
        warnings.filterwarnings("ignore", message=message, category=category)
    specs = [f"ignore:{message}:{category.__name__}" for category, message in NOISE]
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), *specs]))
    logging.getLogger("apache_beam").setLevel(logging.ERROR)


def run_command(
    name: str, entry: Callable[[list[str]], int], argv: list[str], refused: tuple[type[Exception], ...] = ()
) -> int:
    """``entry(argv)``'s exit status, run as command ``name``.

    A :data:`REFUSED` error or one of ``refused`` is one line ``kinefake NAME: message`` and
    status 2, as is a storage failure (disk full, file size limit, read-only); a signal is one
    line and the shell's status (130 for Ctrl-C, 143 for SIGTERM). Anything else is a bug and
    keeps its traceback.
    """
    skip_final_collections()
    silence_libraries()
    try:
        with handle_signals():
            return entry(argv)
    except (KeyboardInterrupt, Interrupted):
        print(f"kinefake {name}: interrupted; rerun the same command to start over", file=sys.stderr)
        return 128 + (received() or signal.SIGINT)
    except (*REFUSED, *refused) as exc:
        print(f"kinefake {name}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a full disk: an OSError, Beam's BeamIOError, a library's own type (safetensors)
        failure = storage_failure(exc)
        if failure is None:
            raise
        print(f"kinefake {name}: cannot write its output: {describe_os_error(failure)}", file=sys.stderr)
        return 2
