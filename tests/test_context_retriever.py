"""The retriever as the loop's ContextProvider, the magics and the CLI around it (lexical embedder)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from smallcode_jupyter.context import embedder as embedder_mod
from smallcode_jupyter.context.embedder import HashEmbedder
from smallcode_jupyter.context.pack import pack, render
from smallcode_jupyter.context.retriever import Retriever, import_path, mmr, named_symbols
from smallcode_jupyter.context.types import ContextProvider
from smallcode_jupyter.loop.events import Request
from smallcode_jupyter.loop.pipeline import Pipeline
from smallcode_jupyter.loop.settings import LoopSettings

from .conftest import FakeLLM, run


def _project(root: Path) -> Path:
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "config.py").write_text(textwrap.dedent('''\
        def read_settings(path):
            """Load the settings file into a dict of sections."""
            return {}


        def settings_path():
            """Where the settings file of the shop lives."""
            return "shop.conf"
        '''))  # fmt: skip
    (root / "shop" / "money.py").write_text(textwrap.dedent('''\
        def format_price(cents):
            """Format a price given in cents for display."""
            return f"{cents / 100:.2f} EUR"


        def format_price_copy(cents):
            """Format a price given in cents for display."""
            return f"{cents / 100:.2f} EUR"


        def round_price(cents):
            """Round a price in cents to a display price."""
            return cents
        '''))  # fmt: skip
    return root


@pytest.fixture
def hashed(monkeypatch, tmp_path):
    """Every default embedder is the lexical one; corpora live in a private home."""
    monkeypatch.setitem(embedder_mod._shared, "minilm", HashEmbedder())
    monkeypatch.setenv("SMALLCODE_HOME", str(tmp_path / "home"))


def _retriever(root: Path, **kw) -> Retriever:
    opts = {"min_score": 0.0, "relative": 1.0, "extra_when_named": 8, **kw}
    return Retriever(root, embedder=HashEmbedder(), say=lambda s: None, **opts)


def test_named_symbols():
    assert named_symbols("load the config with our `read_settings` helper and call Config.parse()") >= {
        "read_settings", "Config", "parse"}  # fmt: skip
    assert "load" not in named_symbols("load the config")
    assert import_path("src/shop/money.py") == "shop.money" and import_path("shop/__init__.py") == "shop"
    assert import_path("my-notes/x.py") == ""


def test_is_a_context_provider_and_named_symbols_come_first(tmp_path):
    r = _retriever(_project(tmp_path / "p"))
    provider: ContextProvider = r  # the interface the pipeline takes
    assert provider.retrieve("nothing at all", 1) is not None
    hits = r.hits("write price_label using `settings_path` to format a price in cents", 4)
    assert hits[0].chunk.symbol == "settings_path" and hits[0].why == "named"
    snippets = r.retrieve("write price_label using `settings_path` to format a price in cents", 4)
    assert snippets[0].source == "shop/config.py:6-8"
    assert snippets[0].text == (  # a named helper is shown as an API to call, not a body to copy
        "# already written: import it and call it, do not rewrite it\n"
        "from shop.config import settings_path\n\n"
        'def settings_path():\n    """Where the settings file of the shop lives."""\n    ...'
    )
    similar = next(h.snippet() for h in hits if h.why == "similar" and h.chunk.kind == "function")
    assert "return" in similar.text and similar.text.startswith("from shop.")  # examples keep their body


def test_mmr_drops_near_duplicates(tmp_path):
    r = _retriever(_project(tmp_path / "p"))
    got = [h.chunk.symbol for h in r.hits("format a price given in cents for display", 2)]
    assert len(got) == 2 and not {"format_price", "format_price_copy"} <= set(got)  # one of the twins only
    import numpy as np

    v = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    hits = [type("H", (), {"score": s})() for s in (0.9, 0.89, 0.5)]
    assert mmr(hits, v, 2, lam=0.5) == [0, 2]


def test_irrelevant_snippets_are_dropped(tmp_path):
    r = Retriever(_project(tmp_path / "p"), embedder=HashEmbedder(), say=lambda s: None, min_score=0.3)
    assert r.retrieve("zebra giraffe savanna", 5) == []
    loose = _retriever(tmp_path / "p").hits("format a price given in cents for display", 5)
    strict = _retriever(tmp_path / "p", relative=0.15).hits("format a price given in cents for display", 5)
    assert len(strict) < len(loose)
    assert all(h.score >= strict[0].score - 0.15 for h in strict)
    named = _retriever(tmp_path / "p", extra_when_named=1).hits("use `settings_path` to format a price", 5)
    assert [h.why for h in named] == ["named", "similar"]


def test_token_budget_pruning(tmp_path):
    r = _retriever(_project(tmp_path / "p"))
    snippets = r.retrieve("format a price in cents and read settings", 8)
    assert len(snippets) >= 3
    count = FakeLLM().count_tokens
    costs = [count(s.text) + 8 for s in snippets]
    budget = costs[0] + costs[1] + 1
    packed = pack(snippets, budget, count)
    assert sum(count(s.text) + 8 for s in packed) <= budget
    assert packed[:2] == snippets[:2]  # best first, the rest pruned
    assert render(packed).startswith(f"# {snippets[0].source}\n")


def test_pipeline_uses_retrieved_helpers_and_records_sources(tmp_path):
    r = _retriever(_project(tmp_path / "p"))
    fake = FakeLLM(["def label(c):\n    return format_price(c)\n```"])
    events = []
    pipe = Pipeline(fake, LoopSettings(context_budget=400), sink=events.append, context=r)
    result = pipe.run(Request("write label(c) using our `format_price` helper", run=False, plan=False))
    prompt = fake.calls[0]["messages"][-1]["content"]
    assert "def format_price(cents):" in prompt and "# shop/money.py:1-3" in prompt
    assert result.sources[0] == "shop/money.py:1-3"
    assert any(e.kind == "context" and "shop/money.py:1-3" in e.data["sources"] for e in events)
    fake.replies = ["x = 1\n```"]
    pipe.run(
        Request("write label(c) using our `format_price` helper", run=False, plan=False, use_context=False)
    )
    assert "format_price(cents)" not in fake.calls[1]["messages"][-1]["content"]


def test_notebook_history_cells_come_first(tmp_path, shell):
    shell.run_cell(
        "def load_orders(path):\n    return [line.split(';') for line in open(path)]\n", store_history=True
    )
    shell.run_cell("1 + 1", store_history=True)  # defines nothing: not indexed
    r = Retriever(None, shell=shell, embedder=HashEmbedder(), say=lambda s: None, min_score=0.0)
    hits = r.hits("count the orders returned by load_orders", 3)
    assert hits[0].chunk.source.startswith("In[") and hits[0].why == "named"
    assert len(hits) == 1
    n = hits[0].chunk.cell
    assert r.hits(f"do the same as In[{n}] for zebras", 3)[0].chunk.cell == n
    shell.run_cell("def load_orders(path):\n    return list(open(path))\n", store_history=True)  # newest wins
    r.refresh(force=True)
    assert [s.text for s in r.retrieve("load_orders", 3)] == [
        "def load_orders(path):\n    return list(open(path))"
    ]


def test_magic_index_context_and_corpus(shell, hashed, tmp_path, capsys):
    proj = _project(tmp_path / "p")
    shell.run_line_magic("smallcode", f"index {proj}")
    out = capsys.readouterr()
    assert "3 chunks" not in out.out and "files" in out.out and (proj / ".smallcode" / "index").is_dir()
    m = shell.magics_manager.registry["SmallcodeMagics"]
    assert m.project_dir == str(proj.resolve())
    shell.run_line_magic("smallcode", 'context "read the settings file"')
    out = capsys.readouterr().out
    assert "shop/config.py:1-3" in out and "read_settings" in out

    corpus = tmp_path / "corpus"
    (corpus / "util.py").parent.mkdir()
    (corpus / "util.py").write_text("def retry_forever(fn):\n    while True:\n        fn()\n")
    shell.run_line_magic("smallcode", f"corpus add {corpus}")
    shell.run_line_magic("smallcode", "corpus list")
    assert str(corpus.resolve()) in capsys.readouterr().out
    shell.run_line_magic("smallcode", 'context "call fn again and again with retry_forever"')
    assert "corpus/util.py:1-3" in capsys.readouterr().out
    shell.run_line_magic("smallcode", "corpus remove corpus")
    shell.run_line_magic("smallcode", "corpus list")
    assert "no corpora" in capsys.readouterr().out


def test_cell_magic_shows_provenance(shell, hashed, tmp_path, monkeypatch, smollm2, capsys):
    proj = _project(tmp_path / "p")
    m = shell.magics_manager.registry["SmallcodeMagics"]
    fake = FakeLLM(["def label(c):\n    return c\n```"])
    monkeypatch.setattr(m.session, "load", lambda spec=None, say=None: fake)
    monkeypatch.setattr(m.session, "resolve", lambda spec=None, progress=None: smollm2)
    m.project_dir = str(proj)
    run(shell, "--no-run --no-insert write label(c) with our `format_price` helper")
    assert "shop/money.py:1-3" in capsys.readouterr().out
    assert "def format_price" in fake.calls[0]["messages"][-1]["content"]
    m.use_context = False
    fake.replies = ["x = 1\n```"]
    run(shell, "--no-run --no-insert write label(c) with our `format_price` helper")
    assert "def format_price" not in fake.calls[1]["messages"][-1]["content"]


def test_cli_index_and_search(tmp_path, hashed, capsys):
    from smallcode_jupyter.cli import main

    proj = _project(tmp_path / "p")
    assert main(["index", str(proj), "--embedder", "hash"]) == 0
    assert "5 chunks" in capsys.readouterr().out
    assert main(["index", str(proj), "--embedder", "hash"]) == 0
    assert "0 chunks embedded" in capsys.readouterr().out
    assert main(["search", "read_settings", str(proj), "--embedder", "hash", "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[1:4] == ["shop/config.py:1-3", "read_settings", "(named)"]


def test_project_retriever_needs_an_index_or_an_explicit_path(tmp_path, hashed, monkeypatch):
    from smallcode_jupyter.context.index import ProjectIndex
    from smallcode_jupyter.context.retriever import project_retriever

    proj = _project(tmp_path / "p")
    monkeypatch.chdir(proj)
    assert project_retriever() is None  # never start embedding an arbitrary cwd
    assert project_retriever(proj).project == proj.resolve()
    ProjectIndex(proj, HashEmbedder()).update()
    assert project_retriever().project == proj.resolve()


def test_a_failing_index_costs_the_context_not_the_run(tmp_path):
    class Broken(HashEmbedder):
        def embed(self, texts):
            raise OSError("disk on fire")

    said = []
    r = Retriever(_project(tmp_path / "p"), embedder=Broken(), say=said.append)
    assert r.retrieve("read settings", 3) == []
    assert "retrieval failed" in said[-1] and "disk on fire" in said[-1]


class _MyProvider:
    def retrieve(self, query, k=8):
        from smallcode_jupyter.context.types import Snippet

        return [Snippet("def house_style():\n    pass", "wiki:42")]


def test_custom_provider_is_pluggable(shell, monkeypatch, smollm2, capsys):
    m = shell.magics_manager.registry["SmallcodeMagics"]
    fake = FakeLLM(["x = 1\n```"])
    monkeypatch.setattr(m.session, "load", lambda spec=None, say=None: fake)
    monkeypatch.setattr(m.session, "resolve", lambda spec=None, progress=None: smollm2)
    shell.run_line_magic(
        "config", "SmallcodeMagics.context_provider = 'tests.test_context_retriever:_MyProvider'"
    )
    run(shell, "--no-run --no-insert set x")
    assert "def house_style" in fake.calls[0]["messages"][-1]["content"]
    assert "wiki:42" in capsys.readouterr().out


def test_add_missing_imports_for_retrieved_helpers(tmp_path):
    from smallcode_jupyter.loop.imports import add_missing_imports, unbound_names

    snippets = _retriever(_project(tmp_path / "p")).retrieve("label a price with `format_price`", 3)
    code = "def label(c):\n    total = round(c)\n    return format_price(total)\n"
    assert unbound_names(code) == {"format_price"}
    assert add_missing_imports(code, snippets).startswith("from shop.money import format_price\n\ndef label")
    done = "from shop.money import format_price\n" + code
    assert add_missing_imports(done, snippets) == done  # already imported: unchanged
    assert add_missing_imports("def f(:", snippets) == "def f(:"  # unparsable: left to the checks
