"""``smallcode doctor``: what is installed, the llama.cpp build, CPU and RAM, the sandbox's
isolation layers and which models are available here."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..models.store import default_cache_dir
from ..status import llama_build, machine_lines, sandbox_layers, server_lines, versions
from .options import session_for

if TYPE_CHECKING:
    from .options import Subparsers


def add_parser(sub: Subparsers) -> None:
    """Register ``smallcode doctor``."""
    d = sub.add_parser(
        "doctor",
        help="what is installed, which models are available, CPU/RAM, sandbox layers",
        description="Report the installation: packages, llama.cpp build, CPU/RAM, the sandbox's "
        "isolation layers and where each model preset would come from.",
    )
    d.add_argument(
        "-m",
        "--model",
        default=None,
        help="also check this model or server (openai:URL/MODEL, ollama:NAME, serve)",
    )
    d.add_argument(
        "--api-key-env", default="SMALLCODE_API_KEY", metavar="VAR", help="a server's API key variable"
    )
    d.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    for line in machine_lines():
        print(line)
    print("packages:")
    for name, v in versions().items():
        print(f"  {name:<24} {v}")
    print(f"llama.cpp: {llama_build()}")
    for line in sandbox_layers():
        print(line)
    session = session_for(args, **({"model": args.model} if args.model else {}))
    for line in server_lines(session):
        print(line)
    print(f"models (cache {args.cache_dir or default_cache_dir()}):")
    for row in session.models():
        print(f"  {row.name:<22} {row.state}")
    return 0
