"""``smallcode ask "<task>"``: the loop of ``%%smallcode`` from the shell.

The final code alone goes to stdout; progress, the run and the summary go to stderr, so the
command composes in shell pipelines (``smallcode ask "..." > f.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..display import View
from ..loop.events import Request
from .options import add_model_options, add_task_options, request_options, session_for

if TYPE_CHECKING:
    from .options import Subparsers


def add_parser(sub: Subparsers) -> None:
    """Register ``smallcode ask``."""
    a = sub.add_parser(
        "ask",
        help="write code for a task; the code goes to stdout",
        description="Write code for a task with a local model, tested in a sandbox kernel. "
        "The code goes to stdout, everything else to stderr.",
    )
    a.add_argument("task", nargs="*", help="the task in words ('-' reads it from stdin)")
    a.add_argument("--context", metavar="FILE", help="file with examples, tests or constraints")
    a.add_argument(
        "--project",
        type=Path,
        metavar="DIR",
        help="retrieve helpers from this folder and let generated code read it "
        "(default: the current folder, retrieved from only if it was indexed)",
    )
    add_model_options(a)
    add_task_options(a)
    a.add_argument("--verbose", action="store_true", help="also show the prompts and every sandbox run")
    a.set_defaults(func=cmd_ask)


def cmd_ask(args: argparse.Namespace) -> int:
    """Run the loop on the task; exit 0 unless the code failed the checks it was run against."""
    task = " ".join(args.task).strip()
    if task == "-":
        task = sys.stdin.read().strip()
    if not task:
        print('usage: smallcode ask "<task>" [--context FILE]: the task is empty', file=sys.stderr)
        return 2
    context = ""
    if args.context:
        try:
            context = Path(args.context).read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            print(f"smallcode: cannot read {args.context}: {e.strerror}", file=sys.stderr)
            return 2
    request = Request(task=task, context=context, **request_options(args))
    session = session_for(args)
    try:
        session.describe()  # an unknown model or a server that does not answer fails first
        if request.run:
            session.sandbox()  # no isolation fails before the model loads
        view = View(verbose=args.verbose, live=False, out=sys.stderr)
        result = session.run(request, view, use_retriever=not args.no_context)
    finally:
        session.close()
    print(file=sys.stderr)
    print(result.code)
    return 0 if result.passed is not False else 1
