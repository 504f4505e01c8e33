"""The ``smallcode`` command: models, doctor, ask, demo (and later index, bench).

``smallcode ask`` runs the same pipeline as the magic; the final code alone goes to stdout and
everything else to stderr, so it composes in shell pipelines.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .loop.events import TaskError
from .models.catalog import DEFAULT_MODEL, PRESETS
from .models.store import ModelError


def _progress(desc: str):
    from .magics import _ProgressBar

    return _ProgressBar(desc)


def add_preset_flags(parser: argparse.ArgumentParser) -> None:
    """``--preset edge`` (and its short form ``--edge``): Edge Mode settings for 4 GB machines."""
    parser.add_argument("--preset", choices=["auto", "edge"], default="auto",
                        help="loop settings: auto (by model size) or edge (4 GB machines)")  # fmt: skip
    parser.add_argument("--edge", action="store_true", help="same as --preset edge")


def _resolve(args: argparse.Namespace, spec: str | None = None):
    from .models.store import resolve

    bar = _progress(f"preparing {spec or args.model}")
    try:
        return resolve(spec or args.model, cache_dir=args.cache_dir, progress=bar,
                       edge=getattr(args, "edge", False) or getattr(args, "preset", "") == "edge")  # fmt: skip
    finally:
        bar.close()


def cmd_models(args: argparse.Namespace) -> int:
    from .models.store import availability, default_cache_dir, sha256_file

    cache = args.cache_dir or default_cache_dir()
    if args.action == "list":
        print(f"{'name':<22} {'params':>7}  {'n_ctx':>6}  {'cands':>5}  {'iters':>5}  available")
        for p in PRESETS.values():
            s = p.settings
            default = " (default)" if p.name == DEFAULT_MODEL else ""
            print(f"{p.name:<22} {p.params_b:>6.2f}B  {s.n_ctx:>6}  {s.candidates:>5}  {s.max_iters:>5}  "
                  f"{availability(p, cache)}{default}")  # fmt: skip
        print(f"cache: {cache}")
        return 0
    if not args.name:
        print(f"smallcode models {args.action} needs a model name", file=sys.stderr)
        return 2
    r = _resolve(args, args.name)
    print(f"{r.name}: {r.path} (from {r.source}, {r.path.stat().st_size / 2**20:.0f} MB)")
    if args.action == "verify":
        bar = _progress("sha256")
        digest = sha256_file(r.path, progress=bar)
        bar.close()
        want = r.preset.sha256 if r.preset else None
        ok = want is None or want == digest
        print(
            f"sha256 {digest} "
            + ("(no reference)" if want is None else "OK" if ok else f"MISMATCH, expected {want}")
        )
        print(f"GGUF: {r.info.architecture}, {r.info.params_b or 0:.2f}B, context {r.info.context_length}")
        return 0 if ok else 1
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .models.store import availability, default_cache_dir
    from .status import llama_build, machine_lines, sandbox_layers, versions

    for line in machine_lines():
        print(line)
    print("packages:")
    for name, v in versions().items():
        print(f"  {name:<24} {v}")
    print(f"llama.cpp: {llama_build()}")
    for line in sandbox_layers():
        print(line)
    cache = args.cache_dir or default_cache_dir()
    print(f"models (cache {cache}):")
    for p in PRESETS.values():
        print(f"  {p.name:<22} {availability(p, cache)}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .models import llm
    from .display import View
    from .loop.events import Request
    from .loop.pipeline import Pipeline

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
    r = _resolve(args)
    model = llm.load(r, n_threads=args.threads or None)
    request = Request(
        task=task, context=context, max_iters=args.max_iters, candidates=args.candidates,
        max_tokens=args.max_tokens, run=not args.no_run, plan=not args.no_plan, timeout=args.timeout,
    )  # fmt: skip
    view = View(verbose=args.verbose, live=False, out=sys.stderr)
    provider = None
    if not args.no_context:
        from .context.corpus import list_corpora
        from .context.retriever import project_retriever

        provider = project_retriever(args.project, corpora=list_corpora())
    try:
        result = Pipeline(model, r.settings, sink=view, context=provider).run(request)
    except KeyboardInterrupt:
        print("\nsmallcode: stopped", file=sys.stderr)
        return 130
    print(file=sys.stderr)
    print(result.code)
    return 0 if result.passed is not False else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.notebook), timeout=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="smallcode", description=__doc__.splitlines()[0])
    p.add_argument("--cache-dir", type=Path, default=None, help="model cache folder")
    sub = p.add_subparsers(dest="command", required=True)

    m = sub.add_parser("models", help="list, fetch or verify models")
    m.add_argument("action", nargs="?", default="list", choices=["list", "fetch", "verify"])
    m.add_argument("name", nargs="?")
    m.set_defaults(func=cmd_models)

    d = sub.add_parser("doctor", help="what is installed, which models are available, CPU/RAM")
    d.set_defaults(func=cmd_doctor)

    a = sub.add_parser("ask", help="write code for a task; the code goes to stdout")
    a.add_argument("task", nargs="*", help="the task ('-' reads it from stdin)")
    a.add_argument("--context", help="file with examples, tests or constraints")
    a.add_argument("-m", "--model", default=DEFAULT_MODEL, help="preset, .gguf path or hf:owner/repo/file")
    a.add_argument("--max-tokens", type=int)
    a.add_argument("--max-iters", type=int)
    a.add_argument("--candidates", type=int)
    a.add_argument("--timeout", type=float, default=10.0)
    a.add_argument("--threads", type=int, default=0)
    a.add_argument("--no-run", action="store_true")
    a.add_argument("--no-plan", action="store_true")
    a.add_argument("--project", type=Path, help="retrieve helpers from this folder (default: cwd if indexed)")
    a.add_argument("--no-context", action="store_true", help="no retrieval from the project or corpora")
    add_preset_flags(a)
    a.add_argument("--verbose", action="store_true")
    a.set_defaults(func=cmd_ask)

    dm = sub.add_parser("demo", help="run a notebook headlessly and print each %%%%smallcode cell")
    dm.add_argument("notebook", nargs="?", default="examples/quickstart.ipynb")
    dm.add_argument("--timeout", type=float, default=900)
    dm.set_defaults(func=cmd_demo)
    from .bench.cli import add_parser as add_bench

    add_bench(sub)
    from .context.cli import add_parser as add_context

    add_context(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ModelError, TaskError) as e:
        print(f"smallcode: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
