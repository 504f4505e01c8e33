"""The notebook's live variables in the loop: copied into the sandbox, proven on, never harmed.

A scripted model and a real sandbox kernel; the shell-level tests use a real InteractiveShell.
"""

from __future__ import annotations

import os

import cloudpickle
import pytest

from smallcode_jupyter.context.snapshot import fingerprint
from smallcode_jupyter.context.types import LiveState
from smallcode_jupyter.loop import events as ev
from smallcode_jupyter.loop.checks import Check
from smallcode_jupyter.loop.events import Request
from smallcode_jupyter.loop.notebook import invented_overwrites, notebook_checks, result_names
from smallcode_jupyter.loop.pipeline import Pipeline
from smallcode_jupyter.loop.settings import LoopSettings
from smallcode_jupyter.loop.verify import Verifier
from smallcode_jupyter.sandbox import Sandbox

from .conftest import FakeLLM


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(timeout=10) as sb:
        yield sb


def live(values: dict, description: str = "", **extra) -> LiveState:
    blobs = {k: cloudpickle.dumps(v, protocol=5) for k, v in values.items()}
    return LiveState(
        description or "\n".join(f"{k}: {type(v).__name__}" for k, v in values.items()),
        tuple(values),
        blobs=blobs,
        fingerprints={k: fingerprint(b) for k, b in blobs.items()},
        user_names=frozenset(values),
        **extra,
    )


# -- every candidate starts from the same pristine kernel -----------------------------------------
POLLUTE = """
import builtins, decimal, os, sys
sys.setrecursionlimit(60)
builtins.sum = lambda *a: 0
decimal.getcontext().prec = 2
os.chdir('/')
sales.append({'amount': -1})
"""


def test_a_candidate_that_mutates_the_interpreter_or_the_data_does_not_affect_the_next(sandbox):
    sales = [{"amount": 100}, {"amount": 250}]
    v = Verifier(sandbox, state=live({"sales": sales}))
    first = v.run(POLLUTE, [])
    assert first.loaded, first.first_failure()
    assert first.changed == {"sales": "modified"}
    check = Check(
        "import decimal, os, sys\n"
        "assert sum([1, 2]) == 3\n"
        "assert sys.getrecursionlimit() > 100\n"
        "assert decimal.getcontext().prec == 28\n"
        "assert os.getcwd() != '/'\n"
        "assert len(sales) == 2, sales\n",
        "user",
        "pristine",
    )
    second = v.run(
        "total = sum(s['amount'] for s in sales)", [check, Check("assert total == 350", "user", "total")]
    )
    assert second.ok, second.first_failure()
    assert second.changed == {}
    assert sales == [{"amount": 100}, {"amount": 250}]  # the user's object was never touched
    v.reset()


def test_the_kernel_keeps_unchanged_copies_across_requests(sandbox):
    state = live({"data": list(range(1000))})
    first = Verifier(sandbox, state=state).load_state()
    assert first.sent == ["data"] and first.copied == ["data"]
    second = Verifier(sandbox, state=state).load_state()  # same fingerprint: nothing sent
    assert second.sent == [] and second.copied == ["data"]
    changed = live({"data": list(range(999))})
    third = Verifier(sandbox, state=changed).load_state()
    assert third.sent == ["data"]


def test_rebinding_and_deleting_a_user_variable_are_reported(sandbox):
    v = Verifier(sandbox, state=live({"df": {"a": 1}, "n": 3}))
    r = v.run("df = dict(df, b=2)\ndel n", [])
    assert r.loaded
    assert r.changed == {"df": "rebound", "n": "deleted"}


def test_a_candidate_that_kills_its_process_or_hangs_is_contained(sandbox):
    v = Verifier(sandbox, 1.0, state=live({"x": 1}))
    died = v.run("import os\nos._exit(3)", [])
    assert not died.loaded and "exited" in died.first_failure()
    hung = v.run(
        "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True: time.sleep(0.1)", []
    )
    assert not hung.loaded and "longer than" in hung.first_failure()
    ok = v.run("y = x + 1", [Check("assert y == 2", "user", "y")])
    assert ok.ok


def test_what_cannot_be_loaded_is_named(sandbox):
    state = live({"ok": 1})
    bad = LiveState(
        state.description,
        ("ok", "broken"),
        blobs={**state.blobs, "broken": b"not a pickle"},
        fingerprints={**state.fingerprints, "broken": "x"},
        user_names=frozenset({"ok", "broken"}),
    )
    copy = Verifier(sandbox, state=bad).load_state()
    assert copy.copied == ["ok"]
    assert "broken" in copy.notes and "could not be loaded" in copy.notes["broken"]


def test_a_cell_that_rebuilds_an_uncopyable_variable_is_rerun_in_the_sandbox(sandbox):
    state = LiveState("gen: generator", ("gen",), reruns={"gen": "gen = (i * i for i in range(4))"})
    v = Verifier(sandbox, state=state)
    assert v.load_state().copied == ["gen"]
    r = v.run("squares = list(gen)", [Check("assert squares == [0, 1, 4, 9]", "user", "squares")])
    assert r.ok, r.first_failure()


# -- overwrites and named results -----------------------------------------------------------------
def test_invented_data_for_a_user_variable_is_an_overwrite():
    users = {"sales", "df"}
    assert invented_overwrites("sales = [{'amount': 100, 'region': 'north'}, {'amount': 5}]", users) == [
        "sales"
    ]
    assert invented_overwrites("import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})", users) == ["df"]
    assert invented_overwrites("df = df[df.age > 30]", users) == []  # derived from the data
    assert invented_overwrites("totals = {'a': 1, 'b': 2}", users) == []  # not a user variable
    assert invented_overwrites("sales = sorted(sales, key=lambda s: s['amount'])", users) == []
    assert invented_overwrites("def f():\n    sales = [1, 2]\n    return sales", users) == []


def test_made_up_data_is_dropped_so_the_code_runs_on_the_real_data(sandbox):
    from smallcode_jupyter.loop.notebook import drop_overwrites

    code = "names = ['a', 'b']\ncleaned = [n.upper() for n in names]\n"
    assert drop_overwrites(code, {"names"}) == "cleaned = [n.upper() for n in names]\n"
    assert drop_overwrites("x = 1\n", {"names"}) == "x = 1\n"
    p, _ = pipeline([code + "```"], sandbox)
    result = p.run(Request("upper-case names into a list cleaned", state=live({"names": ["x"]})))
    assert result.passed is True and result.code == "cleaned = [n.upper() for n in names]\n"


def test_result_names_come_from_the_task_words():
    assert result_names("count the words of text into a dict counts") == ["counts"]
    assert result_names("keep the adults of df as a new DataFrame adults") == ["adults"]
    assert result_names("write a function called clean_names") == ["clean_names"]
    assert result_names("store the three largest in top_3") == ["top_3"]
    assert result_names("sort the list in place in descending order") == []
    assert result_names("put the result into a list of tuples") == []
    checks = notebook_checks("from sales, total per region into a dict totals", {"sales"})
    assert [c.label for c in checks] == ["defines totals"]


# -- the pipeline ----------------------------------------------------------------------------------
def pipeline(replies, sandbox, events=None, **settings) -> tuple[Pipeline, FakeLLM]:
    fake = FakeLLM(replies)
    cfg = LoopSettings(**{"candidates": 3, "max_iters": 0, **settings})
    return Pipeline(fake, cfg, sink=(events.append if events is not None else None), sandbox=sandbox), fake


def test_the_model_sees_the_variables_and_code_is_proven_on_the_copies(sandbox):
    sales = [{"amount": 100, "region": "north"}, {"amount": 250, "region": "south"}]
    state = live({"sales": sales}, "sales: list of 2 dict; e.g. {'amount': 100, 'region': 'north'}")
    invented = "sales = [{'amount': 1, 'region': 'x'}, {'amount': 2, 'region': 'y'}]\n```"
    wrong = "totals = {s['region']: s['amont'] for s in sales}\n```"
    right = "totals = {}\nfor s in sales:\n    totals[s['region']] = totals.get(s['region'], 0) + s['amount']\n```"
    events: list = []
    p, fake = pipeline([invented, wrong, right], sandbox, events)
    req = Request("from the list sales, total the amount per region into a dict totals", state=state)
    result = p.run(req)
    assert "sales: list of 2 dict" in fake.calls[0]["messages"][-1]["content"]
    assert "use them directly" in fake.calls[0]["messages"][-1]["content"]
    runs = [e for e in events if isinstance(e, ev.Run)]
    assert "overwrites your data" in runs[0].failure
    assert "KeyError" in runs[1].failure
    assert result.passed is True and result.code.startswith("totals = {}")
    assert next(e for e in events if isinstance(e, ev.State)).copied == ("sales",)
    assert result.changed == []


def test_a_notebook_task_without_checks_is_unverified_but_ran_on_the_data(sandbox):
    p, _ = pipeline(["print(len(sales))\n```"], sandbox)
    result = p.run(Request("show how many sales there are", state=live({"sales": [1, 2]})))
    assert result.passed is None and "copies of your variables" in result.evidence


def test_changes_to_user_variables_are_in_the_summary(sandbox):
    p, _ = pipeline(["df['total'] = 1\n```"], sandbox)
    result = p.run(Request("set the key total of df to 1", state=live({"df": {"a": 1}})))
    assert result.changed == ["df (modified)"]
    assert "changes df (modified)" in result.summary()


def test_when_every_candidate_overwrites_the_code_is_offered_commented_out(sandbox):
    from smallcode_jupyter.magics import cell_text

    invented = "sales = [{'amount': 1}, {'amount': 2}]\n```"
    p, _ = pipeline([invented] * 3, sandbox)
    result = p.run(Request("total the list sales", state=live({"sales": [{"amount": 5}]})))
    assert result.passed is False and result.overwrites == ["sales"]
    text = cell_text(result)
    assert all(not line.strip() or line.startswith("#") for line in text.splitlines())


def test_fix_repairs_a_failing_cell_on_the_copies(sandbox):
    from smallcode_jupyter.context.types import FailedCell

    state = live({"df": {"age": [30, 40]}})
    broken = "mean_age = sum(df['agee']) / 2"
    p, fake = pipeline(["mean_age = sum(df['age']) / len(df['age'])\n```"], sandbox)
    req = Request("fix the cell", state=state, fix=FailedCell(broken, "KeyError: 'agee'"))
    result = p.run(req)
    prompt = fake.calls[0]["messages"][-1]["content"]
    assert broken in prompt and "KeyError: 'agee'" in prompt
    assert result.passed is True


def test_user_objects_unchanged_in_content_and_identity_after_a_session_run(shell, monkeypatch):
    """Through the real magic: the kernel's objects are the same objects with the same content."""
    from smallcode_jupyter.magics import SmallcodeMagics

    shell.run_cell("sales = [{'amount': 100, 'region': 'north'}, {'amount': 250, 'region': 'south'}]")
    before, ident = repr(shell.user_ns["sales"]), id(shell.user_ns["sales"])
    magics = shell.magics_manager.registry["SmallcodeMagics"]
    assert isinstance(magics, SmallcodeMagics)
    fake = FakeLLM(["sales.clear()\ntotal = 0\n```"])
    monkeypatch.setattr(magics.session, "load", lambda *a, **k: fake)
    monkeypatch.setattr(magics.session, "settings", lambda *a, **k: LoopSettings(candidates=1, max_iters=0))
    shell.run_cell("%%smallcode --no-insert compute the total of sales into a variable total")
    assert id(shell.user_ns["sales"]) == ident and repr(shell.user_ns["sales"]) == before
    assert "total" not in shell.user_ns  # the loop never writes the user's namespace
    assert "sales: " in fake.calls[0]["messages"][-1]["content"]


def test_fix_magic_uses_the_last_cell_that_raised(shell, monkeypatch, capsys):
    magics = shell.magics_manager.registry["SmallcodeMagics"]
    shell.run_cell("%smallcode fix")
    assert "no cell has raised" in capsys.readouterr().err
    shell.run_cell("nums = [1, 2, 3]")
    shell.run_cell("avg = sum(nums) / len(num)")
    fake = FakeLLM(["avg = sum(nums) / len(nums)\n```"])
    monkeypatch.setattr(magics.session, "load", lambda *a, **k: fake)
    monkeypatch.setattr(magics.session, "settings", lambda *a, **k: LoopSettings(candidates=1, max_iters=0))
    inserted: list[str] = []
    monkeypatch.setattr(shell, "set_next_input", lambda text, replace=False: inserted.append(text))
    shell.run_cell("%smallcode fix")
    prompt = fake.calls[0]["messages"][-1]["content"]
    assert "len(num)" in prompt and "NameError" in prompt
    assert inserted == ["avg = sum(nums) / len(nums)\n"]


def test_the_sandbox_cannot_reach_the_users_kernel(sandbox):
    """No connection file of the user's kernels is visible, and the user's namespace is not there."""
    from jupyter_core.paths import jupyter_runtime_dir

    runtime = jupyter_runtime_dir()
    code = (
        "import glob, os\n"
        f"found = glob.glob({runtime!r} + '/*.json') + glob.glob('/tmp/**/kernel-*.json', recursive=True)\n"
        "home = glob.glob(os.path.expanduser('~/.local/share/jupyter/runtime/*.json'))\n"
    )
    v = Verifier(sandbox, state=live({"x": 1}))
    r = v.run(code, [Check("assert found == [] and home == [], (found, home)", "user", "no kernel files")])
    assert r.ok, r.first_failure()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forked candidates need fork()")
def test_a_candidate_cannot_change_the_users_variables_through_the_copy(sandbox):
    data = {"k": [1, 2]}
    v = Verifier(sandbox, state=live({"data": data}))
    v.run("data['k'].append(3)\ndata.clear()", [])
    assert data == {"k": [1, 2]}


# -- bad input, through the real magic -------------------------------------------------------------
def scripted(shell, monkeypatch, replies):
    magics = shell.magics_manager.registry["SmallcodeMagics"]
    fake = FakeLLM(replies)
    monkeypatch.setattr(magics.session, "load", lambda *a, **k: fake)
    monkeypatch.setattr(magics.session, "settings", lambda *a, **k: LoopSettings(candidates=1, max_iters=0))
    inserted: list[str] = []
    monkeypatch.setattr(shell, "set_next_input", lambda text, replace=False: inserted.append(text))
    return fake, inserted


def test_uncopyable_variables_are_named_and_the_loop_still_works(shell, monkeypatch, capsys):
    shell.run_cell("squares = (i * i for i in range(5))", store_history=True)  # re-run there
    shell.run_cell("it = iter(squares)", store_history=True)  # needs the generator itself: left out
    shell.run_cell("n = 4", store_history=True)
    _fake, inserted = scripted(shell, monkeypatch, ["m = n * 2\n```"])
    shell.run_cell("%%smallcode --no-plan using n, it and squares, set m to twice n into a variable m")
    out = capsys.readouterr().out
    assert "it: cannot be copied (TypeError" in out and "not self-contained" in out
    assert "squares: " not in out.split("not copied:")[-1]
    assert inserted == ["m = n * 2\n"]
    assert next(shell.user_ns["squares"]) == 0  # the user's generator was not consumed


def test_a_variable_over_the_copy_limit_is_described_only(shell, monkeypatch, capsys):
    shell.run_cell("big = bytes(3 * 2**20)")
    shell.run_cell("%config SmallcodeMagics.state_max_mb = 1")
    _, inserted = scripted(shell, monkeypatch, ["size = len(big)\n```"])
    shell.run_cell("%%smallcode store the length of big into a variable size")
    out = capsys.readouterr().out
    assert "big: 3 MB is over the 1 MB copy limit" in out
    assert inserted and inserted[0].startswith("# smallcode: best attempt")  # NameError on the sandbox side


def test_hostile_reprs_and_a_huge_array_do_not_stop_a_request(shell, monkeypatch):
    shell.run_cell(
        "import time\n"
        "class Bad:\n"
        "    def __repr__(self):\n"
        "        raise RuntimeError('no repr')\n"
        "class Slow:\n"
        "    def __repr__(self):\n"
        "        time.sleep(30)\n"
        "        return 'slow'\n"
        "bad, slow = Bad(), Slow()\n"
        "import numpy as np\n"
        "huge = np.broadcast_to(np.zeros(1, dtype=np.uint8), (2 * 2**30,))\n"
    )
    fake, inserted = scripted(
        shell, monkeypatch, ["kinds = [type(bad).__name__, type(slow).__name__, huge.shape]\n```"]
    )
    shell.run_cell("%%smallcode put the type names of bad and slow and the shape of huge into a list kinds")
    prompt = fake.calls[0]["messages"][-1]["content"]
    assert "bad: " in prompt and "slow: " in prompt and "huge: numpy.ndarray" in prompt
    assert inserted and "kinds" in inserted[0]


def test_a_task_naming_a_variable_that_does_not_exist(shell, monkeypatch):
    fake, inserted = scripted(shell, monkeypatch, ["total = sum(nothing_here)\n```"])
    shell.run_cell("%%smallcode add up the list nothing_here into a variable total")
    assert "Variables that already exist" not in fake.calls[0]["messages"][-1]["content"]
    assert inserted and inserted[0].startswith("# smallcode: best attempt, still failing: NameError")


def test_a_planned_notebook_task_ends_with_the_cell_that_makes_the_results(sandbox):
    import json

    plan = {
        "parts": [
            {"name": "clean", "signature": "def clean(rows)", "purpose": "drop empty rows", "depends": []},
            {
                "name": "total",
                "signature": "def total(rows)",
                "purpose": "sum the amounts",
                "depends": ["clean"],
            },
        ]
    }
    replies = [
        json.dumps(plan),
        "def clean(rows):\n    return [r for r in rows if r]\n```",
        "def total(rows):\n    return sum(r['amount'] for r in clean(rows))\n```",
        "grand_total = total(sales)\n```",
    ]
    p, fake = pipeline(replies, sandbox, decompose=True)
    task = "write a function clean(rows) that drops empty rows and a function total(rows) that sums the amounts, then store total(sales) into a variable grand_total"
    result = p.run(Request(task, state=live({"sales": [{"amount": 2}, {}, {"amount": 3}]})))
    cell_prompt = fake.calls[-1]["messages"][-1]["content"]
    assert "def total(rows)" in cell_prompt and "sales: " in cell_prompt and "notebook cell" in cell_prompt
    assert result.passed is True and result.code.rstrip().endswith("grand_total = total(sales)")


def test_made_up_data_built_with_the_users_modules_or_classes_is_still_made_up():
    users, data = {"pd", "Account", "weather", "accounts", "text"}, {"weather", "accounts", "text"}
    assert invented_overwrites("weather = pd.DataFrame({'t': [1.0, 2.0]})", users, data) == ["weather"]
    code = "accounts = [Account(n) for n in ['ann', 'bob']]"
    assert invented_overwrites(code, users, data) == ["accounts"]
    assert invented_overwrites("text = 'The quick brown fox jumps over the lazy dog.'", users, data) == [
        "text"
    ]
    assert invented_overwrites("weather = weather.assign(k=[1, 2])", users, data) == []


@pytest.mark.parametrize(
    ("task", "names"),
    [
        ("make a DataFrame adults with the rows of people who are 18 or older", ["adults"]),
        ("compute the mean of each column of the array m into col_means", ["col_means"]),
        ("store the longest sentence in longest, without surrounding spaces", ["longest"]),
        ("solve the linear system A x = b and store the solution vector in x", ["x"]),
        ("build graph, a dict mapping each node to its neighbours", ["graph"]),
        ("write a function top_customers(n) that returns the names", ["top_customers"]),
        ("write a class Cart that takes its prices from catalog", ["Cart"]),
        ("keep the adults living in Oslo, sorted by age", []),
        ("sort the list in place in descending order", []),
    ],
)
def test_result_names_in_plain_words(task, names):
    assert result_names(task) == names


def test_a_new_column_of_a_user_dataframe_is_checked():
    checks = notebook_checks("add a column total to orders equal to qty times price", {"orders"})
    assert [c.code.split(",")[0] for c in checks] == ["assert 'total' in orders.columns"]
    assert notebook_checks("add a column total to orders", set()) == []  # not the user's frame


def test_a_function_named_like_a_user_variable_replaces_it():
    assert invented_overwrites("def stopwords(t):\n    return t", {"stopwords"}, {"stopwords"}) == [
        "stopwords"
    ]
    assert invented_overwrites("def clean(t):\n    return t", {"clean"}, set()) == []  # redefining a helper


def test_a_failing_attempt_that_rebinds_a_user_variable_is_offered_commented_out(sandbox):
    from smallcode_jupyter.magics import cell_text

    p, _ = pipeline(["sales = sorted(sales)\ntotal = missing_name\n```"] * 3, sandbox)
    result = p.run(Request("total the list sales into a variable total", state=live({"sales": [3, 1]})))
    assert result.passed is False and result.overwrites == ["sales"]
    assert all(not line.strip() or line.startswith("#") for line in cell_text(result).splitlines())
