"""The generator stage: candidate code for a (sub-)task.

The first candidate is greedy (the model's best single guess, identical to a plain call); the
others are samples. For small models diverse samples filtered by tests fix more than feedback
does, and sampling from the same prompt reuses the KV cache, so each extra costs only its tokens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..models.llm import ChatModel, Completion, Message, prefills
from . import generate_prompts as P
from .code import complete_with_stub, extract_code, strip_main, stub_entry_point
from .events import Usage


@dataclass
class Candidate:
    """One piece of generated code and where it came from."""

    code: str
    origin: str  # "greedy", "sample", "repair" or "rewrite"
    index: int = 0
    temperature: float = 0.0
    tokens: int = 0  # completion tokens of the call that wrote it
    seconds: float = 0.0


def task_messages(
    task: str, context: str = "", plan: str = "", depends: str = "", notebook: bool = False
) -> list[Message]:
    """The chat for generating ``task``; a function stub is completed rather than described.
    ``notebook``: the task is about the notebook's variables (described in ``context``)."""
    if stub_entry_point(task):
        body = P.STUB.format(stub=task.rstrip())
    else:
        body = (P.NOTEBOOK_TASK if notebook else P.TASK).format(task=task)
    prefix = P.CONTEXT.format(context=context.strip()) if context.strip() else ""
    if plan:
        prefix += P.PLAN.format(plan=plan)
    if depends:
        prefix += P.DEPENDS.format(sigs=depends)
    return [{"role": "system", "content": P.SYSTEM}, {"role": "user", "content": prefix + body}]


def finish_code(text: str, task: str, entry_point: str | None, prefilled: bool = True) -> str:
    """Model reply → runnable candidate code (``prefilled``: the reply continues a code fence)."""
    code = strip_main(extract_code(text, prefilled))
    return complete_with_stub(code, task, entry_point) if entry_point else code


def schedule(i: int, stub: bool) -> tuple[bool, bool]:
    """(greedy?, continue the stub's body?) for candidate ``i``."""
    return i == 0 or (i == 1 and stub), stub and i % 2 == 1


def origin(i: int, stub: bool) -> str:
    greedy, cont = schedule(i, stub)
    return ("greedy" if greedy else "sample") + (" body" if cont else "")


class Generator:
    """Produces candidates; ``on_token`` streams the greedy one as it is written."""

    def __init__(self, llm: ChatModel, max_tokens: int, temperature: float) -> None:
        self.llm, self.max_tokens, self.temperature = llm, max_tokens, temperature
        # A model that cannot continue a prefilled fence (some servers) answers from scratch: the
        # code comes from its reply's fence, and there is no stub-continuation candidate.
        self.prefill = prefills(llm)
        self.last: Completion | None = None  # the latest call (what a candidate cost)

    def cost(self) -> tuple[int, float]:
        """(completion tokens, seconds) of the latest call."""
        return (self.last.completion_tokens, self.last.seconds) if self.last else (0, 0.0)

    def one(
        self,
        messages: list[Message],
        task: str,
        entry_point: str | None,
        usage: Usage,
        temperature: float = 0.0,
        seed: int | None = None,
        on_token: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
        continue_stub: bool = False,
    ) -> str:
        """One candidate. ``continue_stub`` prefills the stub itself so the model writes only the
        body: a different decoding path from rewriting the whole function, hence diversity."""
        head = task.rstrip() + "\n" if continue_stub and self.prefill else ""
        out = self.llm.chat(
            messages,
            prefill=P.FENCE + head if self.prefill else "",
            max_tokens=self.max_tokens,
            temperature=temperature,
            seed=seed,
            stop=P.STOP if self.prefill else (),  # unprefilled, the reply opens its own fence
            on_token=on_token,
            cancel=cancel,
        )
        usage.add(out)
        self.last = out
        return finish_code(head + out.text, task, entry_point, self.prefill)

    def batch(
        self,
        messages: list[Message],
        task: str,
        entry_point: str | None,
        indices: Sequence[int],
        usage: Usage,
        cancel: threading.Event | None = None,
    ) -> list[Candidate]:
        """Samples ``indices`` of one prompt decoded together in one llama.cpp batch (the model's
        ``chat_batch``): one pass over the weights serves every sample, so they cost much less
        wall time than one after another. Seeds as in :meth:`candidates`; nothing is streamed."""
        chat_batch = getattr(self.llm, "chat_batch", None)
        if chat_batch is None or not indices:
            return []
        outs: list[Completion] = chat_batch(
            messages,
            n=len(indices),
            prefill=P.FENCE if self.prefill else "",
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            seeds=[1000 + i for i in indices],
            stop=P.STOP if self.prefill else (),  # unprefilled, the reply opens its own fence
            cancel=cancel,
        )
        usage.add_batch(outs)
        return [
            Candidate(
                finish_code(o.text, task, entry_point, self.prefill),
                "sample",
                i,
                self.temperature,
                o.completion_tokens,
                o.seconds,
            )
            for i, o in zip(indices, outs, strict=False)
        ]

    def candidates(
        self,
        messages: list[Message],
        task: str,
        entry_point: str | None,
        start: int,
        count: int,
        usage: Usage,
        on_token: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Candidate]:
        """Candidates ``start`` .. ``start+count-1`` in a fixed schedule.

        0 is greedy (what the model alone would answer). For a function stub, 1 is greedy too but
        continues the stub's body; later ones are samples alternating the two styles.
        """
        stub = self.prefill and bool(entry_point) and stub_entry_point(task) is not None
        out = []
        for i in range(start, start + count):
            if cancel is not None and cancel.is_set():
                break
            greedy, cont = schedule(i, stub)
            code = self.one(
                messages,
                task,
                entry_point,
                usage,
                0.0 if greedy else self.temperature,
                seed=1000 + i,
                on_token=on_token if i == 0 else None,
                cancel=cancel,
                continue_stub=cont,
            )
            temperature = 0.0 if greedy else self.temperature
            out.append(Candidate(code, origin(i, stub), i, temperature, *self.cost()))
        return out
