"""The parser of the ``smallcode`` command and its entry point: each command group registers its
own subcommands; errors meant for the user become one line on stderr and exit code 1."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import __version__
from ..loop.events import TaskError
from ..session import ModelError, SandboxError, SessionBusy
from . import ask, bench, context, demo, doctor, models, serve

DESCRIPTION = (
    "Small local code models that write tested code. The code of `smallcode ask` goes to stdout, "
    "everything else to stderr."
)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global options, then one subcommand per command group."""
    p = argparse.ArgumentParser(
        prog="smallcode",
        description=DESCRIPTION,
        epilog="`smallcode COMMAND --help` lists a command's options.",
    )
    p.add_argument("--version", action="version", version=f"smallcode {__version__}")
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="model cache folder (default: $SMALLCODE_CACHE or ~/.cache/smallcode/models)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (models, doctor, ask, demo, context, bench, serve):
        group.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        print("\nsmallcode: stopped", file=sys.stderr)
        return 130
    except SandboxError as e:
        print(f"smallcode: {e}", file=sys.stderr)
        if "allow_unisolated" in str(e):  # the remedy the sandbox names, spelled for the shell
            print(
                "smallcode: on the command line, --allow-unisolated runs generated code with your own "
                "permissions; --no-run only generates, testing nothing.",
                file=sys.stderr,
            )
        return 1
    except (ModelError, TaskError, SessionBusy) as e:
        print(f"smallcode: {e}", file=sys.stderr)
        return 1
