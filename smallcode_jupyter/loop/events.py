"""What goes into the loop, what comes out, and the events it emits on the way.

The magic, the CLI, the side panel and the benchmark all consume the same events, so each stage
reports once and every front end shows it its own way. Each kind of event is its own frozen
dataclass; :func:`event_schema` describes them all as JSON Schema, and the side panel's
TypeScript types (``labextension/src/events.ts``) are generated from it::

    python -m smallcode_jupyter.loop.events --ts > labextension/src/events.ts
    python -m smallcode_jupyter.loop.events --schema   # the JSON Schema itself
"""

from __future__ import annotations

import json
import sys
import threading
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, ClassVar, Union

from ..context.types import FailedCell, LiveState
from ..models.llm import Completion

MAX_INPUT_CHARS = 64_000  # far beyond any small model's window; larger input is a mistake

JSON = dict[str, Any]


class TaskError(ValueError):
    """The request itself is unusable (empty, or far too large); the message says why."""


@dataclass
class Request:
    """One task for the loop: the user's words plus what they gave with them."""

    task: str
    context: str = ""  # cell body / --context file: examples, tests, constraints
    entry_point: str | None = None  # the function under test, when known
    max_iters: int | None = None  # None: the model's preset decides
    candidates: int | None = None
    max_tokens: int | None = None
    run: bool = True  # run candidates in the sandbox (False: generate only)
    plan: bool = True  # allow decomposition into sub-tasks
    vote: bool | None = None  # behaviour voting for functions with checks (None: the settings')
    batch: bool | None = None  # decode a prompt's samples in one batch where the model can (None: settings')
    use_context: bool = True  # retrieve context (notebook, project, corpora)
    timeout: float = 10.0  # seconds per sandbox execution
    budget: int = 0  # > 0: best-of sampling until this many tokens are spent, instead of the loop
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    # The notebook's live variables the task refers to: described to the model, and copied into
    # the sandbox so candidates run on them (None: a plain task, e.g. the benchmarks').
    state: LiveState | None = field(default=None, repr=False)
    fix: FailedCell | None = None  # set: repair this cell that raised, rather than write new code


# -- events -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    """A step of the loop. Subclasses name their ``kind`` and declare their fields."""

    kind: ClassVar[str]

    @property
    def data(self) -> JSON:
        """The fields as a JSON-ready dict (tuples become lists, nested records dicts)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    def to_json(self) -> JSON:
        return {"kind": self.kind, "data": self.data}


@dataclass(frozen=True)
class Subtask:
    """One part of a plan, as the plan event reports it."""

    name: str
    signature: str
    purpose: str
    depends: tuple[str, ...] = ()


@dataclass(frozen=True)
class Start(Event):
    """The loop starts on a task."""

    kind: ClassVar[str] = "start"
    task: str
    model: str


@dataclass(frozen=True)
class Checks(Event):
    """The checks candidates will run against (the user's, or the model's own: ``sources``)."""

    kind: ClassVar[str] = "checks"
    count: int
    sources: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan(Event):
    """The task was split into parts, each generated in its own call."""

    kind: ClassVar[str] = "plan"
    subtasks: tuple[Subtask, ...]


@dataclass(frozen=True)
class Context(Event):
    """Retrieved snippets shown to the model (``file:line`` of each)."""

    kind: ClassVar[str] = "context"
    sources: tuple[str, ...]


@dataclass(frozen=True)
class State(Event):
    """The notebook's live variables the model sees, and which were copied into the sandbox."""

    kind: ClassVar[str] = "state"
    names: tuple[str, ...]
    description: str
    copied: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # "name: why it was not copied"
    seconds: float = 0.0


@dataclass(frozen=True)
class Generate(Event):
    """A candidate is being generated (``part``: the plan part it is for, if any)."""

    kind: ClassVar[str] = "generate"
    candidate: int
    origin: str
    part: str = ""


@dataclass(frozen=True)
class Prompt(Event):
    """The user message of a generation, for verbose views."""

    kind: ClassVar[str] = "prompt"
    text: str


@dataclass(frozen=True)
class Token(Event):
    """A piece of the greedy candidate as it is written."""

    kind: ClassVar[str] = "token"
    text: str


@dataclass(frozen=True)
class Run(Event):
    """A candidate ran against its checks (``weak``: the model's own tests)."""

    kind: ClassVar[str] = "run"
    candidate: int
    ok: bool
    passed: int
    total: int
    loaded: bool
    failure: str = ""
    weak: bool = False
    traceback: str = ""


@dataclass(frozen=True)
class Repair(Event):
    """A repair round starts (``origin``: fix, rewrite, or the rewrite of one part)."""

    kind: ClassVar[str] = "repair"
    iteration: int
    origin: str
    failure: str = ""


@dataclass(frozen=True)
class Done(Event):
    """The loop finished; ``passed`` is null when nothing ran or nothing verified the code."""

    kind: ClassVar[str] = "done"
    summary: str
    code: str
    passed: bool | None
    tests_passed: int
    tests_total: int
    changed: tuple[str, ...] = ()  # the user's variables the code changes ("df (modified)")


# Every kind, roughly in the order a run emits them.
EVENTS: tuple[type[Event], ...] = (
    *(Start, Checks, Plan, Context, State, Generate, Prompt, Token, Run, Repair, Done),
)
EVENT_TYPES: dict[str, type[Event]] = {e.kind: e for e in EVENTS}

EventSink = Callable[[Event], None]


def event_from_json(obj: JSON) -> Event:
    """The event ``to_json`` gave (for tests and for replaying a recorded run)."""
    cls = EVENT_TYPES[obj["kind"]]
    hints = typing.get_type_hints(cls)
    return cls(**{k: _from_plain(hints[k], v) for k, v in obj["data"].items()})


def _plain(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _from_plain(hint: object, value: object) -> object:
    if typing.get_origin(hint) is tuple and isinstance(value, list):
        (item, _) = typing.get_args(hint)
        return tuple(_from_plain(item, v) for v in value)
    if isinstance(hint, type) and is_dataclass(hint) and isinstance(value, dict):
        sub = typing.get_type_hints(hint)
        return hint(**{k: _from_plain(sub[k], v) for k, v in value.items()})
    return value


# -- the schema ---------------------------------------------------------------------------------
_SCALARS: dict[object, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def _field_schema(hint: object) -> JSON:
    """JSON Schema of one field's type (the few shapes events use)."""
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return {"anyOf": [_field_schema(a) for a in args]}
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return {"type": "array", "items": _field_schema(args[0])}
    if isinstance(hint, type) and is_dataclass(hint):
        return {"$ref": f"#/$defs/{hint.__name__}"}
    raise TypeError(f"no JSON Schema for {hint!r}")


def _record_schema(cls: type) -> JSON:
    hints = typing.get_type_hints(cls)
    return {
        "type": "object",
        "properties": {f.name: _field_schema(hints[f.name]) for f in fields(cls)},
        "required": [f.name for f in fields(cls)],
        "additionalProperties": False,
    }


def event_schema() -> JSON:
    """The JSON Schema of every event's ``to_json()``: one alternative per kind."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "smallcode loop event",
        "oneOf": [
            {
                "title": cls.__name__,
                "description": _doc(cls),
                "type": "object",
                "properties": {"kind": {"const": cls.kind}, "data": _record_schema(cls)},
                "required": ["kind", "data"],
                "additionalProperties": False,
            }
            for cls in EVENTS
        ],
        "$defs": {"Subtask": {"description": _doc(Subtask), **_record_schema(Subtask)}},
    }


def _doc(cls: type) -> str:
    """The first line of a docstring, with reST ``code`` as Markdown `code`."""
    return (cls.__doc__ or "").strip().splitlines()[0].replace("``", "`")


# -- TypeScript -----------------------------------------------------------------------------------
_TS_SCALARS = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
}


def _ts_type(schema: JSON) -> str:
    if "$ref" in schema:
        return "I" + str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_ts_type(s) for s in schema["anyOf"])
    kind = str(schema["type"])
    if kind == "array":
        return f"{_ts_type(schema['items'])}[]"
    return _TS_SCALARS[kind]


def _ts_fields(record: JSON, indent: str) -> list[str]:
    return [f"{indent}{name}: {_ts_type(s)};" for name, s in record["properties"].items()]


def typescript(schema: JSON | None = None) -> str:
    """The panel's event types (``labextension/src/events.ts``), generated from the schema."""
    schema = schema or event_schema()
    out = [
        "// Generated from smallcode_jupyter/loop/events.py by",
        "//   python -m smallcode_jupyter.loop.events --ts > labextension/src/events.ts",
        "// Do not edit: change the Python events and regenerate (tests/test_events.py checks it).",
    ]
    for name, record in schema["$defs"].items():
        out += ["", f"/** {record['description']} */", f"export interface I{name} {{"]
        out += [*_ts_fields(record, "  "), "}"]
    names = []
    for alt in schema["oneOf"]:
        kind, name = alt["properties"]["kind"]["const"], f"I{alt['title']}Event"
        names.append(name)
        out += [
            "",
            f"/** {alt['description']} */",
            f"export interface {name} {{",
            f"  kind: '{kind}';",
            "  data: {",
        ]
        out += [*_ts_fields(alt["properties"]["data"], "    "), "  };", "}"]
    kinds = [alt["properties"]["kind"]["const"] for alt in schema["oneOf"]]
    out += [
        "",
        "/** Any event of the loop, as the kernel sends it. */",
        "export type PipelineEvent =",
        *[f"  | {n}" for n in names[:-1]],
        f"  | {names[-1]};",
        "",
        "export type EventKind = PipelineEvent['kind'];",
        "",
        "/** The data of the event of kind `K`. */",
        "export type EventData<K extends EventKind> = Extract<PipelineEvent, { kind: K }>['data'];",
        "",
        "export const EVENT_KINDS: ReadonlyArray<EventKind> = [",
        *[f"  '{k}'," for k in kinds[:-1]],
        f"  '{kinds[-1]}'",
        "];",
        "",
    ]
    return "\n".join(out)


# -- what the loop returns ------------------------------------------------------------------------
@dataclass
class Usage:
    """Accumulated cost of the LLM calls of one request."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_seconds: float = 0.0

    def add(self, completion: Completion) -> None:
        self.calls += 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.llm_seconds += completion.seconds

    def add_batch(self, completions: Sequence[Completion]) -> None:
        """One batched call: its prompt was evaluated once, its samples decoded together."""
        if completions:
            self.calls += 1
            self.prompt_tokens += completions[0].prompt_tokens
            self.completion_tokens += sum(c.completion_tokens for c in completions)
            self.llm_seconds += max(c.seconds for c in completions)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Attempt:
    """One candidate the loop generated, as the benchmark logs it (``Result.attempts``)."""

    index: int
    origin: str  # "greedy", "sample", "sample body", "fix", "rewrite", ...
    temperature: float
    code: str
    loaded: bool = False
    passed: int = 0  # visible checks passed
    total: int = 0
    behaviour: list[str] = field(default_factory=list)  # one result per probe (loop/probes.py)
    outcomes: list[bool] = field(default_factory=list)  # per check
    weak: bool = False  # the checks were the model's own tests
    tokens: int = 0  # completion tokens of the call that wrote it
    seconds: float = 0.0  # time of that call


@dataclass
class Result:
    """The loop's answer: the best code found, and how it was found."""

    task: str
    code: str
    model: str
    # True/False: the checks of the user or the task say so. None: unverified, either because
    # nothing ran (no sandbox, --no-run) or because only weak evidence exists (``evidence``).
    passed: bool | None
    tests_passed: int = 0  # of the checks the chosen code ran against (the model's own if unverified)
    tests_total: int = 0
    iterations: int = 0  # repair rounds
    candidates: int = 0  # candidates generated in all
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    failure: str = ""  # the best candidate's remaining failure, if any
    cancelled: bool = False
    subtasks: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # file:line of the context used
    evidence: str = ""  # what the weak evidence said, e.g. "model-written tests: 2/5 agreed"
    changed: list[str] = field(default_factory=list)  # user variables the code changes
    overwrites: list[str] = field(default_factory=list)  # ...re-creating them from literal data
    agreement: str = ""  # how the candidates' behaviour agreed with the chosen one, when voted
    attempts: list[Attempt] = field(default_factory=list)  # every candidate that ran, in order
    probes: list[str] = field(default_factory=list)  # the calls the candidates' behaviour was read on

    def summary(self) -> str:
        """The one-line summary shown under the result."""
        if self.passed is None:
            tests = f"unverified ({self.evidence})" if self.evidence else "not run"
        else:
            tests = f"tests {self.tests_passed}/{self.tests_total}" + ("" if self.passed else " FAILED")
        parts = [
            self.model,
            tests,
            f"{self.candidates} candidate{'s' * (self.candidates != 1)}",
            f"{self.iterations} repair{'s' * (self.iterations != 1)}",
            f"{self.usage.prompt_tokens}+{self.usage.completion_tokens} tokens",
            f"{self.seconds:.1f} s",
        ]
        if self.agreement:
            parts.append(self.agreement)
        if self.changed:
            parts.append("changes " + ", ".join(self.changed))
        if self.cancelled:
            parts.append("stopped")
        return " · ".join(parts)

    def to_dict(self) -> JSON:
        return asdict(self)


def main(argv: list[str] | None = None) -> int:
    """``--ts``: the TypeScript declarations; ``--schema``: the JSON Schema."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--ts"]:
        sys.stdout.write(typescript())
    elif args == ["--schema"]:
        sys.stdout.write(json.dumps(event_schema(), indent=2) + "\n")
    else:
        print("usage: python -m smallcode_jupyter.loop.events --ts | --schema", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
