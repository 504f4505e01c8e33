"""``smallcode serve``: one model process shared by every notebook of the user on this machine.

Kernels then use ``--model serve`` (``%smallcode model serve``) instead of loading their own copy:
one copy of the weights in memory, and requests from several notebooks queue instead of
thrashing the cores. See docs/servers.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING

from ..models.servers import serve_socket
from .options import add_model_options, session_for

if TYPE_CHECKING:
    from .options import Subparsers


def add_parser(sub: Subparsers) -> None:
    """Register ``smallcode serve``."""
    s = sub.add_parser(
        "serve",
        help="share one loaded model with every notebook of yours (use --model serve there)",
        description="Load one model and serve it to every kernel of this user over a Unix socket "
        "only the user can open (OpenAI chat-completions dialect, as llama-server). Notebooks use "
        "it with `%%smallcode model serve` (or `-m serve`); requests queue rather than compete "
        "for the cores. Stop it with Ctrl-C.",
    )
    add_model_options(s)
    s.add_argument(
        "--socket",
        help="the Unix socket to listen on (default: $SMALLCODE_SERVE_SOCKET, else serve.sock in "
        "$XDG_RUNTIME_DIR/smallcode or ~/.cache/smallcode/run)",
    )
    s.add_argument(
        "--port",
        type=int,
        default=0,
        help="also listen on 127.0.0.1:PORT for other tools (any local user can connect there)",
    )
    s.add_argument("--n-ctx", type=int, default=0, metavar="N", help="context window (default: the preset's)")
    s.add_argument("--verbose", action="store_true", help="log every request")
    s.set_defaults(func=cmd_serve)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..models.service import ServiceServer, UnixServiceServer

    session = session_for(args, n_ctx=args.n_ctx)
    if session.is_server():
        print("smallcode serve needs a model file or preset, not a server", file=sys.stderr)
        return 2
    llm = session.load_local()
    path = Path(args.socket).expanduser() if args.socket else serve_socket()
    servers: list[UnixServiceServer | ServiceServer] = [UnixServiceServer(path, llm, args.verbose)]
    where = [f"unix socket {path} (yours alone)"]
    if args.port:
        servers.append(ServiceServer(("127.0.0.1", args.port), llm, args.verbose))
        where.append(f"http://127.0.0.1:{args.port}/v1")
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    print(f"smallcode serve: {llm.name} (n_ctx {llm.n_ctx}, {llm.n_threads} threads) on {' and '.join(where)}",
          file=sys.stderr, flush=True)  # fmt: skip
    print("notebooks: %smallcode model serve  ·  commands: smallcode ask -m serve ...  ·  Ctrl-C stops",
          file=sys.stderr, flush=True)  # fmt: skip
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nsmallcode serve: stopped", file=sys.stderr)
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()
        session.close()
    return 0
