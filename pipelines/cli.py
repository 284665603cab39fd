"""The ``kinefake`` console script: one subcommand per job."""

from __future__ import annotations

import argparse
import json
import sys

from pipelines.options import UsageError
from pipelines.output import OutputConflict

USAGE = """usage: kinefake COMMAND [ARGS]

commands:
  generate   shard input videos and write the corpus (python -m pipelines.generate)

'kinefake COMMAND --help' shows each command's flags."""


def _print_flags(prog: str, description: str) -> None:
    from pipelines.options import KinefakeOptions

    parser = argparse.ArgumentParser(prog=prog, description=description)
    KinefakeOptions._add_argparse_args(parser)
    parser.print_help()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "generate":
        from pipelines import generate

        if "--help" in rest or "-h" in rest:
            _print_flags("kinefake generate", "Shard input videos and write the corpus; Beam flags pass through.")
            return 0
        try:
            manifest = generate.run(rest)
        except (OutputConflict, UsageError, ValueError) as exc:
            print(f"kinefake generate: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(manifest["counts"], indent=2))
        return 0
    print(f"kinefake: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
