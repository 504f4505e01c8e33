"""Options shared by the commands, declared once: the per-task options of ``ask`` and ``bench``,
the model and sandbox options, and the one :class:`~smallcode_jupyter.session.Session` a command
runs with."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..models.catalog import DEFAULT_MODEL
from ..session import Session, SessionConfig

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

UNISOLATED_WARNING = (
    "smallcode: warning: --allow-unisolated: if no isolation layer works, generated code runs with "
    "your own permissions (it can read and change your files); see docs/security.md"
)


def add_task_options(parser: argparse.ArgumentParser) -> None:
    """The options of one loop run (``smallcode ask`` and ``smallcode bench``); unset numbers mean
    "the model's loop settings decide"."""
    g = parser.add_argument_group("loop options")
    g.add_argument("--max-tokens", type=int, metavar="N", help="completion tokens per generation")
    g.add_argument("--max-iters", type=int, metavar="N", help="repair rounds after the first candidates")
    g.add_argument("--candidates", type=int, metavar="N", help="candidates per (sub-)task")
    g.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds per sandbox run of a candidate (default: %(default)s)",
    )
    g.add_argument("--no-run", action="store_true", help="generate only: run nothing, test nothing")
    g.add_argument("--no-plan", action="store_true", help="never split the task into parts")
    g.add_argument("--no-context", action="store_true", help="no retrieval from the project or corpora")
    g.add_argument(
        "--batch",
        action=argparse.BooleanOptionalAction,
        help="when more candidates are needed, decode a prompt's samples together in one llama.cpp "
        "batch (default: the model's loop settings; on except in Edge Mode)",
    )
    g.add_argument(
        "--no-vote",
        action="store_true",
        help="functions with examples: take the first candidate that passes them, without "
        "comparing candidates' behaviour on model-written inputs",
    )
    g.add_argument(
        "--preset",
        choices=["auto", "edge"],
        default="auto",
        help="loop settings: auto (by model size) or edge (4 GB machines); default: auto",
    )
    g.add_argument("--edge", dest="preset", action="store_const", const="edge", help="same as --preset edge")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Which model runs, on how many threads, and whether the sandbox may run unconfined."""
    parser.add_argument(
        "-m",
        "--model",
        default=DEFAULT_MODEL,
        help="preset name, .gguf path, hf:owner/repo/file.gguf, or a model server: "
        "openai:http://HOST:PORT/v1/MODEL, ollama:NAME, serve (smallcode serve); see docs/servers.md "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=0,
        metavar="N",
        help="a server: requests at once for the samples of one prompt (default: its slot count)",
    )
    parser.add_argument(
        "--api-key-env",
        default="SMALLCODE_API_KEY",
        metavar="VAR",
        help="a server: the environment variable holding its API key (default: %(default)s)",
    )
    parser.add_argument(
        "--threads", type=int, default=0, metavar="N", help="llama.cpp threads (default: the physical cores)"
    )
    parser.add_argument(
        "--allow-unisolated",
        action="store_true",
        help="run generated code even when no sandbox isolation layer works, with your "
        "own permissions (a warning is printed)",
    )


def request_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~smallcode_jupyter.loop.events.Request` fields the task options set."""
    return {
        "max_iters": args.max_iters,
        "candidates": args.candidates,
        "max_tokens": args.max_tokens,
        "run": not args.no_run,
        "plan": not args.no_plan,
        "use_context": not args.no_context,
        "timeout": args.timeout,
        "vote": False if args.no_vote else None,
        "batch": args.batch,
    }


def session_for(args: argparse.Namespace, **config: Any) -> Session:
    """The session of one command, configured from the options it has (and ``config``)."""
    if getattr(args, "allow_unisolated", False):
        print(UNISOLATED_WARNING, file=sys.stderr)
    project = getattr(args, "project", None)
    chosen = SessionConfig(
        model=getattr(args, "model", None) or DEFAULT_MODEL,
        cache_dir=args.cache_dir,
        edge=getattr(args, "preset", "auto") == "edge",
        n_threads=getattr(args, "threads", 0),
        timeout=getattr(args, "timeout", 10.0),
        project_dir=str(project) if project else "",
        allow_unisolated=getattr(args, "allow_unisolated", False),
        parallel=getattr(args, "parallel", 0),
        api_key_env=getattr(args, "api_key_env", "SMALLCODE_API_KEY"),
    )
    return Session(replace(chosen, **config))
