"""Retrieval benchmark: index an installed package's source, time it, and measure recall@5.

Indexes the source of an installed package (default: ``jupyter_client``) into a temporary
store with all-MiniLM-L6-v2, then reports files, chunks, cold index time (model load
separately), chunks/s, index size on disk, the time of a no-change re-run, query latency
p50/p95 (embed + search + MMR, through ``Retriever.hits``), and recall@5 / MRR on the labelled
queries of ``benchmarks/retrieval_queries.json`` (a description of a function -> that function).

    .venv/bin/python benchmarks/retrieval.py [--package jupyter_client] [--queries benchmarks/retrieval_queries.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _hit(chunk, expect: list[str]) -> bool:
    names = {chunk.symbol, *chunk.names}
    return any(e in names for e in expect)


def run(package: str, queries_path: Path, k: int = 5, threads: int = 0) -> dict:
    """Index ``package``'s source folder and evaluate the labelled queries."""
    from smallcode_jupyter.context.embedder import MiniLMEmbedder
    from smallcode_jupyter.context.index import ProjectIndex
    from smallcode_jupyter.context.retriever import Retriever

    mod = importlib.import_module(package)
    root = Path(mod.__file__).resolve().parent
    emb = MiniLMEmbedder(threads=threads or None)
    t = time.perf_counter()
    emb.embed(["warm up"])
    load_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as store:
        ix = ProjectIndex(root, emb, store=Path(store) / "index")
        cpu = time.process_time()
        stats = ix.update()
        cpu = time.process_time() - cpu
        rerun = ProjectIndex(root, emb, store=Path(store) / "index").update()
        size = ix.size_bytes()
        r = Retriever(None, embedder=emb, say=lambda s: None)
        r._indexes[root] = ix  # the benchmark's store, not the package folder
        r.corpora = [root]
        r.refresh_every = 1e9
        r.refresh(force=True)
        spec = json.loads(queries_path.read_text())
        lat, ranks, kept, kept_hit = [], [], [], 0
        for q in spec["queries"]:
            relative = r.relative
            r.relative = 1.0  # ranking quality: the full top k, no relevance cut-off
            t = time.perf_counter()
            hits = r.hits(q["query"], k)
            lat.append((time.perf_counter() - t) * 1000)
            r.relative = relative
            rank = next((i + 1 for i, h in enumerate(hits) if _hit(h.chunk, q["expect"])), None)
            ranks.append(rank)
            if rank is None:
                print(f"miss: {q['query']!r} -> {[h.chunk.symbol for h in hits]}", file=sys.stderr)
            shown = r.hits(q["query"], k)  # what the loop gets with the default cut-off
            kept.append(len(shown))
            kept_hit += any(_hit(h.chunk, q["expect"]) for h in shown)
    lat_sorted = sorted(lat)
    # WHY cpu time too: on a shared machine wall time mostly measures the neighbours.
    n = len(ranks)
    return {
        "package": f"{package} {getattr(mod, '__version__', '')}".strip(), "files": stats.files,
        "chunks": stats.chunks, "model_load_s": round(load_s, 2), "index_s": round(stats.seconds, 2),
        "chunks_per_s": round(stats.chunks / stats.seconds, 1), "index_cpu_s": round(cpu, 2),
        "threads": threads or "default", "load_avg_1m": round(os.getloadavg()[0], 2), "rerun_s": round(rerun.seconds, 3),
        "rerun_embedded": rerun.embedded, "size_mb": round(size / 2**20, 2),
        "query_p50_ms": round(statistics.median(lat), 1),
        "query_p95_ms": round(lat_sorted[min(n - 1, int(0.95 * n))], 1),
        "queries": n, "recall_at_5": round(sum(r is not None for r in ranks) / n, 3),
        "recall_at_1": round(sum(r == 1 for r in ranks) / n, 3),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
        "default_cutoff_snippets_mean": round(sum(kept) / n, 2),
        "default_cutoff_recall": round(kept_hit / n, 3),
    }  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--package", default="jupyter_client")
    ap.add_argument("--queries", type=Path, default=HERE / "retrieval_queries.json")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    res = run(args.package, args.queries, threads=args.threads)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
    print("| metric | value |\n|---|---|")
    for key, value in res.items():
        print(f"| {key} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
