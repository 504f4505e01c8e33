"""The loop's typed events: their JSON, their schema, the panel's generated TypeScript, the text view."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from smallcode_jupyter.display import View, describe
from smallcode_jupyter.loop import events as ev
from smallcode_jupyter.loop.events import Request, Result, Usage
from smallcode_jupyter.loop.pipeline import Pipeline
from smallcode_jupyter.loop.settings import LoopSettings

from .conftest import FakeLLM

EVENTS_TS = Path(__file__).parent.parent / "labextension" / "src" / "events.ts"

SAMPLES: list[ev.Event] = [
    ev.Start(task="write f", model="m"),
    ev.Checks(count=2, sources="docstring, user", labels=("f(1)", "f(2)")),
    ev.Plan(subtasks=(ev.Subtask("a", "def a()", "first", ()), ev.Subtask("b", "def b()", "second", ("a",)))),
    ev.Context(sources=("lib.py:1-3",)),
    ev.State(
        names=("df",), description="df: pandas.DataFrame", copied=("df",), skipped=("gen: no",), seconds=0.1
    ),
    ev.Generate(candidate=0, origin="greedy"),
    ev.Prompt(text="Task: f"),
    ev.Token(text="def "),
    ev.Run(candidate=0, ok=False, passed=1, total=2, loaded=True, failure="f(2): expected 4", traceback="tb"),
    ev.Repair(iteration=1, origin="fix", failure="f(2): expected 4"),
    ev.Done(summary="m · tests 2/2", code="def f(): ...", passed=None, tests_passed=0, tests_total=0),
]


def test_every_kind_has_a_sample_and_a_distinct_class():
    assert [e.kind for e in SAMPLES] == [cls.kind for cls in ev.EVENTS]
    assert ev.EVENT_TYPES["run"] is ev.Run and len(ev.EVENT_TYPES) == len(ev.EVENTS) == 11


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.kind)
def test_to_json_matches_the_schema_and_round_trips(event):
    obj = event.to_json()
    jsonschema.validate(obj, ev.event_schema())
    assert obj == {"kind": event.kind, "data": event.data}
    assert ev.event_from_json(obj) == event


def test_data_is_plain_json():
    plan = SAMPLES[2].data
    assert plan == {
        "subtasks": [
            {"name": "a", "signature": "def a()", "purpose": "first", "depends": []},
            {"name": "b", "signature": "def b()", "purpose": "second", "depends": ["a"]},
        ]
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"kind": "error", "data": {"message": "x"}}, ev.event_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"kind": "token", "data": {}}, ev.event_schema())


def test_events_are_frozen():
    with pytest.raises(AttributeError):
        SAMPLES[0].task = "other"  # type: ignore[misc]


def test_the_panel_types_are_generated_from_the_schema():
    """labextension/src/events.ts is what the Python events generate (regenerate it if not)."""
    assert EVENTS_TS.read_text(encoding="utf-8") == ev.typescript(), (
        "labextension/src/events.ts is stale: python -m smallcode_jupyter.loop.events --ts > labextension/src/events.ts"
    )
    out = subprocess.run(
        [sys.executable, "-m", "smallcode_jupyter.loop.events", "--ts"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == ev.typescript()


def test_every_event_a_run_emits_matches_the_schema():
    schema = ev.event_schema()
    seen: list[ev.Event] = []

    def sink(event: ev.Event) -> None:
        jsonschema.validate(event.to_json(), schema)
        seen.append(event)

    fake = FakeLLM(["def inc(x):\n    return x + 1\n```"])
    Pipeline(fake, LoopSettings(candidates=1, max_iters=0), sink=sink).run(Request("write a function inc(x)"))
    assert [e.kind for e in seen if e.kind != "token"] == ["start", "generate", "prompt", "done"]


def test_text_view_has_one_line_per_stage():
    out = io.StringIO()
    view = View(live=False, out=out)
    for event in SAMPLES:
        view(event)
    assert view.lines == [
        "▶ m: write f",
        "• checks: 2 (docstring, user)",
        "• plan: 2 parts: a, b",
        "• context: 1 snippets lib.py:1-3",
        "• your variables: df · copied to the sandbox: 1 · not copied: gen: no",
        "• candidate 1 (greedy)",
        "  ✗ 1/2 checks — f(2): expected 4",
        "• repair 1 (fix)",
        "■ m · tests 2/2",
    ]
    assert "def \n" in out.getvalue()  # the streamed token, then a new line for the next stage
    assert describe(ev.Prompt(text="x")) == "" and describe(ev.Token(text="x")) == ""
    assert describe(ev.Run(candidate=1, ok=True, passed=3, total=3, loaded=True, weak=True)) == (
        "  ✓ 3/3 model-written checks"
    )


def test_verbose_view_shows_prompts_and_tracebacks():
    out = io.StringIO()
    view = View(verbose=True, live=False, out=out)
    view(SAMPLES[6])
    view(SAMPLES[8])
    assert "--- prompt ---\nTask: f" in out.getvalue() and "--- run ---\ntb" in out.getvalue()


def test_summary_says_unverified_rather_than_failed():
    r = Result(
        "t", "code", "m", None, 2, 5, candidates=5, usage=Usage(), evidence="model-written tests: 2/5 agreed"
    )
    assert "unverified (model-written tests: 2/5 agreed)" in r.summary() and "FAILED" not in r.summary()
    assert "not run" in Result("t", "code", "m", None).summary()
    assert "tests 1/2 FAILED" in Result("t", "code", "m", False, 1, 2).summary()
