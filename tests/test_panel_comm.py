"""The side panel's comm target without a kernel: a DummyComm records what the kernel would send
(the ipywidgets way: ``widgets/tests/utils.py``), a real Session whose model is a FakeLLM serves it."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from smallcode_jupyter.context.editor import Combined, EditorCells
from smallcode_jupyter.context.types import ContextProvider, Snippet
from smallcode_jupyter.loop.events import Done, Request, Start, State, Token
from smallcode_jupyter.loop.settings import LoopSettings
from smallcode_jupyter.models.store import ModelError
from smallcode_jupyter.panel import comm as panel_comm
from smallcode_jupyter.panel.comm import PanelConnection, PanelTarget
from smallcode_jupyter.panel.protocol import MAX_MESSAGE_CHARS, BadMessage, build_task
from smallcode_jupyter.panel.runner import Streamer, TaskRunner
from smallcode_jupyter.session import ModelRow, Session, SessionConfig

from .conftest import FakeLLM

ADD = "def add(a, b):\n    return a + b\n```"


class DummyComm:
    """Records ``send()`` calls; ``deliver`` plays a message from the panel."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed = False
        self._on_msg = self._on_close = None
        self._cond = threading.Condition()

    def send(self, data: dict[str, Any]) -> None:
        with self._cond:
            self.sent.append(data)
            self._cond.notify_all()

    def on_msg(self, callback) -> None:
        self._on_msg = callback

    def on_close(self, callback) -> None:
        self._on_close = callback

    def close(self) -> None:
        self.closed = True

    def deliver(self, data: Any) -> None:
        self._on_msg({"content": {"comm_id": "c1", "data": data}})

    def wait_for(self, pred, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = next((m for m in self.sent if pred(m)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                assert left > 0, f"timed out; sent: {self.sent}"
                self._cond.wait(left)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m.get("type") == kind]


class ScriptedSession(Session):
    """A real :class:`Session` (run lock, context choice, model switching) whose model is a
    FakeLLM: only resolving, loading and the sandbox are played."""

    def __init__(
        self, llm: FakeLLM, fail: Exception | None = None, provider: ContextProvider | None = None
    ) -> None:
        super().__init__(SessionConfig(model="fake"))
        self.llm, self.fail, self.provider = llm, fail, provider
        self.prepared: list[str | None] = []
        self.requests: list[Request] = []
        self.contexts: list[ContextProvider | None] = []

    def retriever(self) -> ContextProvider | None:
        return self.provider  # no project index or embedder in these tests

    def run(self, request, sink=None, *, model=None, context=None, use_retriever=True, say=None, warn=None):
        self.requests.append(request)
        self.contexts.append(context)
        return super().run(request, sink, model=model, context=context, use_retriever=use_retriever,
                           say=say, warn=warn)  # fmt: skip

    def resolve(self, spec=None, progress=None):
        if self.fail is not None:
            raise self.fail
        return SimpleNamespace(name=spec or self.config.model)

    def describe(self, spec=None) -> str:
        return self.resolve(spec).name

    def load(self, spec=None, say=None):
        self.prepared.append(spec)
        say = say or (lambda _state, _message: None)
        say("preparing", f"preparing {spec or self.config.model}")
        self.resolve(spec)
        say("ready", "fake ready")
        return self.llm

    def settings(self, spec=None) -> LoopSettings:
        return LoopSettings(candidates=1, max_iters=0, decompose=False)

    def models(self) -> list[ModelRow]:
        return [ModelRow("fake", 0.1, "loaded", True)]

    def sandbox(self) -> Any:
        raise AssertionError("these tests run without the sandbox")


def connect(session: ScriptedSession) -> tuple[PanelTarget, DummyComm]:
    target = PanelTarget(session)
    comm = DummyComm()
    target(comm, {})
    return target, comm


def run_msg(task_id: str = "t1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "run",
        "id": task_id,
        "task": "write a function add(a, b) that returns a + b",
        "run_tests": False,
        **extra,
    }


def finished(comm: DummyComm, task_id: str = "t1") -> dict[str, Any]:
    msg = comm.wait_for(lambda m: m.get("id") == task_id and m["type"] in ("result", "error"))
    comm.wait_for(lambda m: m["type"] == "status" and m["state"] == "idle" and m["id"] == task_id)
    return msg


def test_open_says_hello_with_models():
    _, comm = connect(ScriptedSession(FakeLLM()))
    hello = comm.sent[0]
    assert hello["type"] == "hello" and hello["model"] == "fake" and hello["busy"] is None
    assert hello["models"][0]["state"] == "loaded"


def test_request_streams_events_then_result():
    session = ScriptedSession(FakeLLM([ADD]))
    _, comm = connect(session)
    comm.deliver(run_msg(model="smollm2-135m"))
    result = finished(comm)
    assert result["type"] == "result", result
    assert "return a + b" in result["result"]["code"]
    assert result["result"]["passed"] is None and "not run" in result["result"]["summary"]
    assert session.prepared == ["smollm2-135m"]
    assert session.config.model == "smollm2-135m"  # the picker's choice is the kernel's model now
    types = [m["type"] for m in comm.sent]
    assert types[1] == "accepted" and types.index("accepted") < types.index("event") < types.index("result")
    kinds = [m["kind"] for m in comm.of_type("event")]
    assert kinds[0] == "start" and kinds[-1] == "done" and "generate" in kinds and "token" in kinds
    streamed = "".join(m["data"]["text"] for m in comm.of_type("event") if m["kind"] == "token")
    assert "return a + b" in streamed
    states = [m["state"] for m in comm.of_type("status")]
    assert states[0] == "preparing" and "running" in states and states[-1] == "idle"


def test_editor_cells_become_context_with_their_source():
    fake = FakeLLM([ADD])
    _, comm = connect(ScriptedSession(fake))
    cells = ["import math", "def add_numbers(xs):\n    return sum(xs)", "print('hi')"]
    comm.deliver(run_msg(cells=cells, notebook="work.ipynb"))
    assert finished(comm)["type"] == "result"
    ctx = next(m for m in comm.of_type("event") if m["kind"] == "context")
    assert ctx["data"]["sources"] == ["work.ipynb:cell 2:1"]
    assert "def add_numbers" in fake.calls[0]["messages"][-1]["content"]


def test_fix_active_cell_sends_code_and_error():
    fake = FakeLLM(["def f():\n    return 1\n```"])
    _, comm = connect(ScriptedSession(fake))
    comm.deliver(
        {
            "type": "run",
            "id": "fix",
            "run_tests": False,
            "cell": {"source": "def f():\n    return x", "error": "NameError: name 'x' is not defined"},
        }
    )
    assert finished(comm, "fix")["type"] == "result"
    prompt = fake.calls[0]["messages"][-1]["content"]
    assert "return x" in prompt and "NameError" in prompt


def test_stop_cancels_the_running_task_and_second_run_is_refused():
    gate, started = threading.Event(), threading.Event()

    def slow(_messages):
        started.set()
        assert gate.wait(10)
        return ADD

    target, comm = connect(ScriptedSession(FakeLLM([slow])))
    comm.deliver(run_msg("t1"))
    assert started.wait(10)
    comm.deliver(run_msg("t2"))
    busy = comm.wait_for(lambda m: m["type"] == "error" and m["id"] == "t2")
    assert "busy" in busy["message"] and "t1" in busy["message"]
    comm.deliver({"type": "stop", "id": "t1"})
    assert comm.wait_for(lambda m: m["type"] == "stopping")["id"] == "t1"
    assert target.runner.current.request.cancel.is_set()
    gate.set()
    result = finished(comm, "t1")
    assert result["type"] == "result" and result["result"]["cancelled"] is True
    assert "stopped" in result["result"]["summary"]
    assert target.runner.busy is None


def test_stop_with_nothing_running_is_an_error_message():
    _, comm = connect(ScriptedSession(FakeLLM()))
    comm.deliver({"type": "stop"})
    assert comm.sent[-1]["type"] == "error" and "no task" in comm.sent[-1]["message"]


def test_session_failure_is_reported_and_frees_the_kernel():
    session = ScriptedSession(FakeLLM([ADD]), fail=ModelError("no such model: nope"))
    target, comm = connect(session)
    comm.deliver(run_msg(model="nope"))
    err = finished(comm)
    assert err["type"] == "error" and "no such model" in err["message"] and "ModelError" in err["message"]
    assert session.config.model == "fake"  # a model that failed to load changes nothing
    assert target.runner.busy is None
    session.fail = None
    comm.deliver(run_msg("t2"))
    assert finished(comm, "t2")["type"] == "result"


def test_a_sandbox_that_cannot_start_is_said_in_the_panel():
    from smallcode_jupyter.sandbox import SandboxError

    class NoSandbox(ScriptedSession):
        def sandbox(self) -> Any:
            raise SandboxError("sandbox kernel exited during startup")

    session = NoSandbox(FakeLLM([ADD]))
    _, comm = connect(session)
    comm.deliver(run_msg(run_tests=True))
    err = finished(comm)
    assert err["type"] == "error" and "generate_only_fallback" in err["message"]
    session.config.generate_only_fallback = True
    comm.deliver(run_msg("t2", run_tests=True))
    assert finished(comm, "t2")["type"] == "result"
    said = [m["message"] for m in comm.of_type("status") if m["id"] == "t2" and m["state"] == "sandbox"]
    assert any("WITHOUT running" in m for m in said), said


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"type": "dance"}, "unknown message type 'dance'"),
        ({"id": "x"}, "missing field 'type'"),
        ("not an object", "JSON object"),
        (None, "JSON object"),
        ({"type": 3}, "must be str"),
        ({"type": "run"}, "missing field 'id'"),
        ({"type": "run", "id": "r"}, "missing field 'task'"),
        ({"type": "run", "id": "r", "task": "   "}, "missing field 'task'"),
        ({"type": "run", "id": "r", "task": "t", "max_iters": "3"}, "'max_iters' must be int"),
        ({"type": "run", "id": "r", "task": "t", "candidates": True}, "'candidates' must be int"),
        ({"type": "run", "id": "r", "task": "t", "candidates": 99}, "between 1 and 10"),
        ({"type": "run", "id": "r", "task": "t", "cells": ["a", 1]}, "list of strings"),
        ({"type": "run", "id": "r", "task": "t", "run_tests": "yes"}, "must be bool"),
        ({"type": "run", "id": "r", "task": "x" * 30_000}, "task too long"),
        ({"type": "run", "id": "r", "task": "t", "cells": ["x" * 1000] * 3000}, "too large"),
    ],
)
def test_bad_messages_get_an_error_and_the_comm_keeps_working(data, words):
    session = ScriptedSession(FakeLLM([ADD]))
    target, comm = connect(session)
    comm.deliver(data)
    err = comm.sent[-1]
    assert err["type"] == "error" and words in err["message"], err
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        assert err["id"] == data["id"]
    assert target.runner.busy is None and session.prepared == []
    comm.deliver({"type": "hello"})
    assert comm.sent[-1]["type"] == "hello"


def test_huge_payload_is_refused_before_anything_runs():
    session = ScriptedSession(FakeLLM([ADD]))
    _, comm = connect(session)
    comm.deliver(run_msg(context="y" * (MAX_MESSAGE_CHARS + 1)))
    assert comm.sent[-1]["type"] == "error" and "too large" in comm.sent[-1]["message"]
    assert session.prepared == []


def test_a_comm_that_fails_to_send_does_not_break_the_task():
    class Broken(DummyComm):
        def send(self, data):
            raise RuntimeError("comm closed")

    target = PanelTarget(ScriptedSession(FakeLLM([ADD])))
    comm = Broken()
    conn = target(comm, {})
    assert conn.closed
    comm.deliver(run_msg())
    target.runner.join(10)
    assert target.runner.busy is None


def test_tokens_are_batched():
    sent: list[dict] = []
    s = Streamer("t", sent.append, interval=3600)
    s(Start(task="x", model="m"))
    for t in ["de", "f ", "f():"]:
        s(Token(text=t))
    assert [m["kind"] for m in sent] == ["start"]
    s(Done(summary="ok", code="", passed=None, tests_passed=0, tests_total=0))
    assert [m["kind"] for m in sent] == ["start", "token", "done"] and sent[1]["data"]["text"] == "def f():"


def test_editor_cells_rank_by_shared_words_and_skip_magics_and_the_active_cell():
    cells = [
        "%%smallcode write parse_date\n",
        "def parse_date(s):\n    return s",
        "x = 1",
        "def load_csv(path):\n    return open(path).read()",
        "def parse_time(s):\n    return s",
    ]
    found = EditorCells(cells, "nb.ipynb", skip=4).retrieve("parse the date of a csv file")
    assert [s.source for s in found] == ["nb.ipynb:cell 2:1", "nb.ipynb:cell 4:1"]


class FakeCommManager:
    def __init__(self) -> None:
        self.targets: dict[str, Any] = {}

    def register_target(self, name, f) -> None:
        self.targets[name] = f

    def unregister_target(self, name, f):
        return self.targets.pop(name)


def test_register_and_unregister_in_a_kernel_shell(shell):
    # the plain InteractiveShell of the fixture has no kernel: load_ext registered no target
    assert id(shell) not in panel_comm._TARGETS
    shell.kernel = type("K", (), {"comm_manager": FakeCommManager()})()
    try:
        shell.run_line_magic("unload_ext", "smallcode")
        shell.run_line_magic("load_ext", "smallcode")
        target = shell.kernel.comm_manager.targets["smallcode"]
        magics = shell.magics_manager.registry["SmallcodeMagics"]
        assert isinstance(target, PanelTarget) and target.runner.session is magics.session
        comm = DummyComm()
        target(comm, {})
        shell.run_line_magic("unload_ext", "smallcode")
        assert "smallcode" not in shell.kernel.comm_manager.targets and comm.closed
        shell.run_line_magic("load_ext", "smallcode")  # the fixture unloads again
    finally:
        shell.run_line_magic("unload_ext", "smallcode")
        del shell.kernel
        shell.run_line_magic("load_ext", "smallcode")


def test_the_active_cell_is_skipped_as_context_only_when_it_is_the_one_changed():
    plain = build_task({"id": "a", "task": "t", "cells": ["x = 1"], "active": 0})
    assert plain.active is None and plain.fix is None
    change = build_task(
        {"id": "b", "task": "t", "cells": ["x = 1"], "active": 0, "cell": {"source": "x = 1"}}
    )
    assert change.active == 0 and "x = 1" in change.context and change.fix is None


def test_panel_refuses_while_a_cell_runs_the_loop():
    session = ScriptedSession(FakeLLM([]))
    comm = DummyComm()
    conn = PanelConnection(comm, TaskRunner(session))
    session.run_lock.acquire()  # a %%smallcode cell is running
    try:
        conn.handle({"type": "run", "id": "t1", "task": "write add(a, b)"})
        conn.runner.join(5)
    finally:
        session.run_lock.release()
    errors = comm.of_type("error")
    assert errors and "busy" in errors[0]["message"]


# -- panel parity: the session's traits, retrieval, model and fix ---------------------------------


class Listed:
    """A ContextProvider with fixed snippets (a stand-in for the session's retriever)."""

    def __init__(self, *snippets: Snippet, fail: bool = False) -> None:
        self.snippets, self.fail = list(snippets), fail
        self.queries: list[str] = []

    def retrieve(self, query: str, k: int = 8) -> list[Snippet]:
        self.queries.append(query)
        if self.fail:
            raise OSError("index is broken")
        return self.snippets[:k]


def test_the_kernel_traits_shape_a_panel_request_and_the_panel_overrides_them():
    fake = FakeLLM([ADD, ADD])
    session = ScriptedSession(fake)
    # what `%config SmallcodeMagics.max_tokens = 77` etc. put in the session
    session.config.max_tokens, session.config.candidates, session.config.timeout = 77, 2, 3.5
    session.config.run_tests = False
    _, comm = connect(session)
    comm.deliver({"type": "run", "id": "t1", "task": "write add(a, b)"})  # no options: the traits
    assert finished(comm)["type"] == "result"
    request = session.requests[0]
    assert (request.max_tokens, request.candidates, request.timeout, request.run) == (77, 2, 3.5, False)
    assert fake.calls[0]["max_tokens"] == 77
    comm.deliver(run_msg("t2", candidates=1, max_tokens=64, timeout=2))  # the panel's own choices win
    assert finished(comm, "t2")["type"] == "result"
    request = session.requests[1]
    assert (request.candidates, request.max_tokens, request.timeout, request.run) == (1, 64, 2.0, False)


def test_retrieval_merges_the_editor_cells_with_the_session_retriever():
    fake = FakeLLM([ADD])
    helper = "def add_numbers(xs):\n    return sum(xs)"
    project = Listed(
        Snippet("def add_pairs(ps):\n    return [a + b for a, b in ps]", "util.py:1", 0.8),
        Snippet(helper, "In[2]:1", 0.7),  # the same cell, executed: said once
    )
    session = ScriptedSession(fake, provider=project)
    _, comm = connect(session)
    comm.deliver(run_msg(cells=["import math", helper], notebook="work.ipynb"))
    assert finished(comm)["type"] == "result"
    assert project.queries, "the session's retriever was not asked"
    sources = next(m for m in comm.of_type("event") if m["kind"] == "context")["data"]["sources"]
    assert sorted(sources) == ["util.py:1", "work.ipynb:cell 2:1"]
    prompt = fake.calls[0]["messages"][-1]["content"]
    assert "add_pairs" in prompt and prompt.count("def add_numbers") == 1


def test_use_context_off_means_no_retrieval_at_all():
    fake = FakeLLM([ADD])
    project = Listed(Snippet("def add_pairs(ps): ...", "util.py:1", 0.9))
    session = ScriptedSession(fake, provider=project)
    session.config.use_context = False  # %config SmallcodeMagics.use_context = False
    _, comm = connect(session)
    comm.deliver(run_msg(cells=["def add_numbers(xs):\n    return sum(xs)"]))
    assert finished(comm)["type"] == "result"
    assert session.contexts == [None] and not project.queries
    assert not [m for m in comm.of_type("event") if m["kind"] == "context"]


def test_a_broken_retriever_costs_only_its_snippets():
    class Broken(ScriptedSession):
        def retriever(self) -> ContextProvider | None:
            raise RuntimeError("no embedder")

    fake = FakeLLM([ADD])
    _, comm = connect(Broken(fake))
    comm.deliver(run_msg(cells=["def add_numbers(xs):\n    return sum(xs)"]))
    assert finished(comm)["type"] == "result"
    said = [m["message"] for m in comm.of_type("status") if m["state"] == "context"]
    assert any("no embedder" in m for m in said), said
    assert "def add_numbers" in fake.calls[0]["messages"][-1]["content"]


def test_a_run_without_a_pick_keeps_the_kernel_model_even_when_it_is_not_a_preset():
    class Gguf(ScriptedSession):
        def models(self) -> list[ModelRow]:
            return [
                ModelRow("mine", 0.1, "loaded", True),
                ModelRow("smollm2-135m", 0.135, "installed", False),
            ]

    session = Gguf(FakeLLM([ADD]))
    session.config.model = "/models/mine.gguf"  # %smallcode model /models/mine.gguf
    _, comm = connect(session)
    hello = comm.sent[0]
    assert hello["model"] == "/models/mine.gguf"
    assert hello["models"][0] == {"name": "mine", "params_b": 0.1, "state": "loaded", "current": True,
                                  "spec": "/models/mine.gguf"}  # fmt: skip
    assert hello["models"][1]["spec"] == "smollm2-135m" and not hello["models"][1]["current"]
    comm.deliver(run_msg())  # the panel sends no model when the picker was not touched
    assert finished(comm)["type"] == "result"
    assert session.prepared == [None] and session.config.model == "/models/mine.gguf"


def test_hello_carries_the_kernel_defaults_for_the_panel_placeholders():
    session = ScriptedSession(FakeLLM())
    session.config.candidates, session.config.max_iters = 3, 2
    _, comm = connect(session)
    defaults = comm.sent[0]["defaults"]
    assert defaults["candidates"] == 3 and defaults["max_iters"] == 2
    assert defaults["run_tests"] is True and defaults["use_context"] is True
    comm.deliver({"type": "models"})
    assert comm.sent[-1]["type"] == "models" and comm.sent[-1]["defaults"] == defaults


def test_fix_goes_through_the_session_fix_request():
    calls: list[tuple[str, str]] = []

    class Spy(ScriptedSession):
        def fix_request(self, source: str, error: str, **overrides: Any) -> Request:
            calls.append((source, error))
            return super().fix_request(source, error, **overrides)

    fake = FakeLLM(["def f():\n    return 1\n```"])
    session = Spy(fake)
    session.config.max_tokens = 99
    _, comm = connect(session)
    error = "\x1b[31mNameError\x1b[0m: name 'x' is not defined"
    comm.deliver({"type": "run", "id": "fix", "task": "", "fix": True, "candidates": 1, "run_tests": False,
                  "cell": {"source": "def f():\n    return x", "error": error},
                  "cells": ["def f():\n    return x"], "active": 0})  # fmt: skip
    result = finished(comm, "fix")
    assert result["type"] == "result" and "return 1" in result["result"]["code"]
    assert calls == [("def f():\n    return x", error)]
    assert session.requests[0].candidates == 1  # the panel's option on top of the fix request
    prompt = fake.calls[0]["messages"][-1]["content"]
    assert "return x" in prompt and "NameError" in prompt


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"fix": True, "cell": {"source": "f()"}}, "needs the cell's 'source' and its 'error'"),
        ({"fix": True}, "needs the cell's 'source' and its 'error'"),
        ({"fix": "yes", "task": "t"}, "'fix' must be bool"),
        ({"task": "t", "timeout": 0}, "timeout must be between"),
        ({"task": "t", "max_tokens": 3}, "max_tokens must be between"),
    ],
)
def test_bad_fix_and_option_messages(data, words):
    with pytest.raises(BadMessage, match=words.replace("(", r"\(")):
        build_task({"id": "r", **data})


def test_state_events_reach_the_panel_as_they_are():
    sent: list[dict] = []
    s = Streamer("t", sent.append)
    s(
        State(
            names=("sales",),
            description="sales: list of 3 dict",
            copied=("sales",),
            skipped=("f: open file",),
        )
    )
    assert sent == [{"type": "event", "id": "t", "kind": "state", "data": {
        "names": ["sales"], "description": "sales: list of 3 dict", "copied": ["sales"],
        "skipped": ["f: open file"], "seconds": 0.0}}]  # fmt: skip


def test_combined_ranks_each_provider_by_its_own_best_and_says_each_thing_once():
    words = Listed(Snippet("def a(): pass", "nb:cell 1:1", 4.0), Snippet("def b(): pass", "nb:cell 2:1", 1.0))
    vectors = Listed(
        Snippet("def c(): pass", "p.py:1", 0.6),
        Snippet("def a(): pass\n", "In[1]:1", 0.55),  # the cell again: dropped
        Snippet("def d(): pass", "p.py:9", 0.3),
    )
    got = Combined([words, None, vectors]).retrieve("q")
    assert [s.source for s in got] == ["nb:cell 1:1", "p.py:1", "p.py:9", "nb:cell 2:1"]
    assert [s.source for s in Combined([words, vectors]).retrieve("q", k=2)] == ["nb:cell 1:1", "p.py:1"]
    # the cell the task changes is in the request already; a chunk of it is not repeated either
    kept = Combined([words, vectors], exclude=["def a(): pass\ndef b(): pass"]).retrieve("q")
    assert [s.source for s in kept] == ["p.py:1", "p.py:9"]
    assert Combined([Listed(fail=True), words]).retrieve("q")[0].source == "nb:cell 1:1"
    assert Combined([]).retrieve("q") == []


def test_the_live_state_the_model_saw_reaches_the_panel(shell):
    fake = FakeLLM(["def total(rows):\n    return sum(r['amount'] for r in rows)\n```"])
    session = ScriptedSession(fake)
    session.shell = shell  # a kernel's session has the shell: the loop sees its variables
    shell.run_cell("sales = [{'amount': 3}, {'amount': 4}]")
    _, comm = connect(session)
    comm.deliver(run_msg(task="write total(rows) that sums the amounts of the list sales"))
    assert finished(comm)["type"] == "result"
    state = next(m for m in comm.of_type("event") if m["kind"] == "state")["data"]
    assert "sales" in state["names"] and "sales" in state["description"]
    assert "amount" in fake.calls[-1]["messages"][-1]["content"]
    assert shell.user_ns["sales"] == [{"amount": 3}, {"amount": 4}]
