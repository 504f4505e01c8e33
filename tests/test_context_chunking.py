"""The chunker on real Python files, notebooks, Markdown and plain text."""

from __future__ import annotations

import ast
import inspect
import json
import textwrap

import pytest

from smallcode_jupyter.context.chunking import (
    MAX_LINES,
    Chunk,
    ChunkWarning,
    chunk_file,
    chunk_markdown,
    chunk_python,
    chunk_text,
    embed_text,
    split_identifier,
)

NESTED = textwrap.dedent('''\
    """Module docstring."""
    import functools

    LIMIT = 3


    def plain(x):
        return x + 1


    @functools.lru_cache(maxsize=None)
    @staticmethod
    def decorated(y):
        """Cached."""
        return y * 2


    class Outer:
        """Holds an inner class."""

        size = 1

        class Inner:
            def deep(self):
                return "deep"

        @property
        def name(self):
            return "outer"


    async def fetch(url):
        return url
''')


def test_python_functions_classes_and_blocks():
    chunks = chunk_python(NESTED, "pkg/mod.py")
    by_symbol = {c.symbol: c for c in chunks}
    assert by_symbol["plain"].kind == "function"
    deco = by_symbol["decorated"]
    assert deco.text.startswith("@functools.lru_cache")  # decorators belong to their function
    assert deco.start == NESTED.splitlines().index("@functools.lru_cache(maxsize=None)") + 1
    outer = by_symbol["Outer"]
    assert outer.kind == "class" and "class Inner" in outer.text and "def deep" in outer.text
    assert {"Outer.Inner", "Outer.Inner.deep", "Outer.name"} <= set(outer.names)
    assert by_symbol["fetch"].text.startswith("async def fetch")
    module = [c for c in chunks if c.kind == "module"]
    assert module and "LIMIT = 3" in module[0].text
    for c in chunks:  # line ranges are exact: the text is those lines of the file
        assert c.text == "\n".join(NESTED.splitlines()[c.start - 1 : c.end])
    assert by_symbol["plain"].source == f"pkg/mod.py:{by_symbol['plain'].start}-{by_symbol['plain'].end}"


def test_long_class_is_split_into_members_with_enclosing_class():
    methods = "\n".join(
        f"    def m{i}(self):\n" + "        x = 1\n" * 6 + f"        return {i}\n" for i in range(15)
    )
    src = f"class Big:\n    '''Doc.'''\n    KIND = 'big'\n\n{methods}\n    class Nested:\n        def inner(self):\n            return 0\n"
    chunks = chunk_python(src, "big.py")
    head = chunks[0]
    assert (
        head.symbol == "Big"
        and head.kind == "class"
        and "KIND = 'big'" in head.text
        and "def m0" not in head.text
    )
    syms = {c.symbol: c for c in chunks}
    assert syms["Big.m3"].kind == "method" and syms["Big.m3"].text.lstrip().startswith("def m3")
    assert "Big.Nested" in syms and "Big.Nested" in {c.symbol for c in chunks if c.kind == "class"}
    assert all(c.end - c.start + 1 <= MAX_LINES for c in chunks)


def test_real_stdlib_file_every_top_level_def_is_a_chunk():
    import json.decoder as mod

    src = inspect.getsource(mod)
    chunks = chunk_python(src, "json/decoder.py")
    defs = {n.name for n in ast.parse(src).body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    assert defs <= {c.symbol for c in chunks}
    assert "JSONDecoder.raw_decode" in {n for c in chunks for n in (c.symbol, *c.names)}


def test_syntax_error_is_skipped_with_a_warning():
    with pytest.warns(ChunkWarning, match=r"broken\.py.*line 2.*skipped"):
        assert chunk_python("def ok():\n    return (\n", "broken.py") == []


def test_notebook_markdown_and_text():
    nb = {"cells": [{"cell_type": "markdown", "source": ["# Title\n", "intro"]},
                    {"cell_type": "code", "source": "def helper(a):\n    return a\n"},
                    {"cell_type": "code", "source": ""}], "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    cells = chunk_file(json.dumps(nb), "nb.ipynb")
    assert [c.cell for c in cells] == [0, 1]
    assert cells[1].names == ("helper",) and cells[1].source == "nb.ipynb:cell1"
    md = chunk_markdown("# A\ntext\n```\n# not a heading\n```\n## B\nmore\n", "doc.md")
    assert [c.symbol for c in md] == ["A", "B"] and "# not a heading" in md[0].text
    lines = "\n".join(f"line {i}" for i in range(100))
    windows = chunk_text(lines, "notes.txt", window=40, overlap=10)
    assert [(c.start, c.end) for c in windows] == [(1, 40), (31, 70), (61, 100)]


def test_ids_are_stable_across_line_moves_and_embed_text_splits_names():
    a = Chunk("def read_settings(p):\n    pass", "cfg.py", 1, 2, "function", "read_settings")
    b = Chunk("def read_settings(p):\n    pass", "cfg.py", 10, 11, "function", "read_settings")
    assert a.id == b.id
    assert split_identifier("ConfigLoader.read_settings") == "config loader read settings"
    assert embed_text(a).startswith("function read settings in cfg.py")
