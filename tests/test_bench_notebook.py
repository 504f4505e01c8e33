"""The notebook benchmark: the task set is sound (every solution passes, no check passes on the
setup alone), the runner detects overwrites and keeps the hidden checks from the loop, and the
command runs end to end (with the team's solutions, a scripted model, and the real 0.5B)."""

from __future__ import annotations

import json

import pytest

from smallcode_jupyter import magics
from smallcode_jupyter.bench.notebook import (
    VANILLA_FLAGS,
    NotebookShell,
    NotebookTask,
    Snapshot,
    digest,
    read_tasks,
    summarize,
    task_line,
)
from smallcode_jupyter.cli import main

from .conftest import FakeLLM

TASKS = read_tasks()
BY_ID = {t.task_id: t for t in TASKS}


@pytest.fixture(scope="module")
def nb():
    """One shell for the whole task set, as a benchmark run has (no model: reference mode)."""
    with NotebookShell() as shell:
        yield shell


def scripted(nb: NotebookShell, monkeypatch, fake: FakeLLM, resolved) -> None:
    """Play the kernel session's model with ``fake``; loop settings stay those of ``resolved``."""
    monkeypatch.setattr(nb.session, "resolve", lambda spec=None, progress=None: resolved)
    monkeypatch.setattr(nb.session, "load", lambda spec=None, say=None: fake)


def code_reply(code: str) -> str:
    """A model's answer to the loop's ```python prefill."""
    return code.strip() + "\n```"


# -- the task set ---------------------------------------------------------------------------------------
def test_the_set_has_enough_tasks_with_unique_ids():
    assert len(TASKS) >= 40
    assert sum(t.multipart for t in TASKS) >= 10
    assert len(BY_ID) == len(TASKS)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.task_id)
def test_a_task_is_what_a_user_would_type(task: NotebookTask):
    """One line of plain words on the magic line: IPython expands ``{...}`` and ``$name`` there,
    and leading dashes would be read as options."""
    assert "\n" not in task.task and not task.task.startswith("-")
    assert not set("{}$") & set(task.task), "IPython would expand these on the magic line"
    assert task.setup and task.checks and task.solution
    if task.multipart:
        assert sum(1 for line in task.solution.splitlines() if line.strip()) >= 40


def test_every_solution_passes_and_no_check_passes_on_the_setup_alone(nb):
    """In the benchmark's own shell: the team's solution passes every check without overwriting
    anything, and each check, run on the setup's state alone, fails."""
    bad = []
    for task in TASKS:
        record = nb.run_task(task, "reference")
        if not record["passed"] or record["overwrites"]:
            bad.append(
                f"{task.task_id}: solution: {record['error'] or record['failed_check']} {record['overwrites']}"
            )
        nb.prepare(task)
        bad += [
            f"{task.task_id}: passes on the setup alone: {c[:60]!r}"
            for c in task.checks
            if nb.check(c) is None
        ]
        assert set(task.changes) <= set(nb.shell.user_ns), f"{task.task_id}: changes names no setup variable"
    assert not bad, "\n".join(bad)


def test_each_task_starts_from_an_empty_namespace_and_history(nb):
    first, second = BY_ID["sales_totals"], BY_ID["top3_prices"]
    nb.run_task(first, "reference")
    nb.prepare(second)
    assert "sales" not in nb.shell.user_ns and "totals" not in nb.shell.user_ns
    history = [s for s in nb.shell.history_manager.input_hist_raw if s]
    assert history == list(second.setup)


# -- overwrites -----------------------------------------------------------------------------------------
def test_digest_is_by_content():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert digest(df) == digest(df.copy()) != digest(df.assign(a=[1, 3]))
    assert digest([1, {"k": 2}]) == digest([1, {"k": 2}]) != digest([1, {"k": 3}])
    ns: dict = {}
    exec("def f(x):\n    return x + 1\n", ns)
    assert digest(ns["f"]) is not None


def test_snapshot_counts_rebinding_to_other_data_deleting_and_not_allowed_changes():
    ns = {"sales": [1, 2], "df": {"a": 1}, "keep": (1,), "same": [5], "gone": 1}
    snap = Snapshot.take(ns, list(ns))
    ns["sales"] = [{"amount": 1}]  # invented data
    ns["df"] = {"a": 2}  # allowed by the task
    ns["same"] = [5]  # rebound to an equal value: harmless
    del ns["gone"]
    ns["keep"] += ()  # same object
    assert snap.overwrites(ns, allowed=["df"]) == ["sales", "gone"]


# -- the runner with a scripted model ---------------------------------------------------------------------
@pytest.fixture
def scripted_nb(shell, monkeypatch, smollm2):
    """A NotebookShell on the test's IPython shell whose model is a FakeLLM."""
    with NotebookShell(
        {"use_context": False}, last_result=magics.last_result, shell=shell, cell_timeout=5
    ) as nb:
        nb.fake = FakeLLM()
        scripted(nb, monkeypatch, nb.fake, smollm2)
        yield nb


def test_vanilla_inserts_runs_and_checks_and_never_shows_the_checks(scripted_nb):
    nb, task = scripted_nb, BY_ID["sales_totals"]
    nb.fake.replies = [code_reply(task.solution)]
    record = nb.run_task(task, "vanilla")
    assert record["passed"] and record["checks_passed"] == record["checks_total"] == 2
    assert record["overwrites"] == [] and record["magic_touched"] == []
    assert record["llm_calls"] == 1 and record["completion_tokens"] > 0 and not record["plan"]
    assert record["code"].strip() == task.solution.strip()
    seen = json.dumps([c["messages"] for c in nb.fake.calls])
    assert all(c not in seen for c in task.checks)
    json.dumps(record)  # JSON-ready
    assert nb.magic_cell(task, "vanilla").startswith(f"%%smallcode {VANILLA_FLAGS} from the list sales")


def test_an_inserted_cell_that_replaces_user_data_is_an_overwrite(scripted_nb):
    nb, task = scripted_nb, BY_ID["sales_totals"]
    nb.fake.replies = [code_reply("sales = []\ntotals = {'north': 1}")]  # not literal data: not caught
    record = nb.run_task(task, "vanilla")
    assert not record["passed"] and record["overwrites"] == ["sales"]
    assert "OVERWROTE sales" in task_line(record)
    summary = summarize([record])
    assert summary["overwrites"] == 1 and summary["overwritten"] == {"sales_totals": ["sales"]}


def test_made_up_data_is_caught_and_inserted_commented_out(scripted_nb):
    nb, task = scripted_nb, BY_ID["sales_totals"]
    nb.fake.replies = [code_reply("sales = [{'amount': 1}]\ntotals = {'north': 1}")]
    record = nb.run_task(task, "vanilla")
    assert not record["passed"] and record["overwrites"] == [] and record["blocked"] == ["sales"]
    assert summarize([record])["blocked"] == 1


def test_a_cell_that_runs_forever_is_stopped_and_failed(scripted_nb):
    nb, task = scripted_nb, BY_ID["top3_prices"]
    nb.fake.replies = [code_reply("while True:\n    try:\n        pass\n    except Exception:\n        pass")]
    nb.cell_timeout = 0.5
    record = nb.run_task(task, "vanilla")
    assert not record["passed"] and record["error"].startswith("CellTimeout")


def test_no_code_is_a_failure_with_what_the_magic_said(scripted_nb):
    nb, task = scripted_nb, BY_ID["top3_prices"]
    nb.fake.replies = [code_reply("")]
    record = nb.run_task(task, "vanilla")
    assert not record["passed"] and record["error"] == "no code inserted" and "magic_output" in record


def test_loop_mode_without_plan(scripted_nb):
    nb, task = scripted_nb, BY_ID["top3_prices"]
    nb.fake.replies = [lambda _messages: code_reply(task.solution)] * 12
    nb.shell.run_line_magic("config", "SmallcodeMagics.candidates = 1")
    nb.shell.run_line_magic("config", "SmallcodeMagics.max_iters = 0")
    record = nb.run_task(task, "loop", plan=False)
    assert "--no-plan" in nb.magic_cell(task, "loop", plan=False)
    assert record["passed"] and record["mode"] == "loop" and not record["plan"]
    assert record["candidates"] >= 1 and record["llm_calls"] >= 1


# -- the command ----------------------------------------------------------------------------------------
def test_command_in_reference_mode(tmp_path, capsys):
    out = tmp_path / "ref.jsonl"
    argv = ["bench", "notebook", "--mode", "reference", "--only", "sales_totals,mp_graph", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "PASS  sales_totals" in text and "PASS  mp_graph" in text
    assert "all: pass@1 = 100.0% (2/2), overwrites 0" in text
    assert "multi-part: pass@1 = 100.0% (1/1)" in text
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["multipart"]["tasks"] == 1 and len(out.read_text().splitlines()) == 2
    assert main([*argv, "--resume"]) == 0  # nothing left: the two records stay
    assert len(out.read_text().splitlines()) == 2


def test_command_refuses_unknown_ids(capsys):
    assert main(["bench", "notebook", "--mode", "reference", "--only", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


@pytest.mark.model
def test_real_model_vanilla_on_two_tasks(qwen05, tmp_path, capsys):
    """The 0.5B, one greedy generation per task, through the command (pass or fail: it runs)."""
    out = tmp_path / "vanilla.jsonl"
    argv = ["bench", "notebook", "--model", "qwen2.5-coder-0.5b", "--mode", "vanilla"]
    assert main([*argv, "--only", "sales_totals,top3_prices", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["task_id"] for r in records] == ["sales_totals", "top3_prices"]
    assert all(r["llm_calls"] == 1 and r["completion_tokens"] > 0 and r["code"].strip() for r in records)
    assert "all: pass@1 = " in capsys.readouterr().out
