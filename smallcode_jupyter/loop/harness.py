"""The harness that runs one candidate and its checks inside the sandbox kernel.

``Verifier`` defines ``_sc_harness`` in a fresh kernel by sending its source
(``HARNESS_SOURCE``), then calls it once per candidate; the verdict comes back as one line of
the kernel's stdout, ``MARK`` + JSON, which ``parse_verdict`` reads. ``run_here`` runs the same
function in this process (tests and dev tools), so nothing re-implements it.

Because the function's source is all that reaches the kernel, it is self-contained:

- its imports are inside it, so defining it binds exactly two names, ``_sc_harness`` and
  ``_sc_load`` (and loading state a third, ``_sc_state``), in the kernel's namespace (where a
  benchmark later runs the dataset's own tests);
- an annotation that could fail when evaluated at definition time is a string;
- this module has no ``from __future__`` import: ``compile`` and ``exec`` inherit the future
  flags of their caller, and the candidate, the prelude and the checks must compile as plain
  modules, as they do in the kernel.
"""

import contextlib
import inspect
import io
import json
from collections.abc import Sequence
from typing import TypedDict, cast

__all__ = ["ENTRY", "HARNESS_SOURCE", "LOAD", "MARK", "Outcome", "Verdict", "parse_verdict", "run_here"]

MARK = "\x00SMALLCODE-VERDICT\x00"
"""Starts the verdict line, so output the candidate printed cannot be mistaken for it."""


class Outcome(TypedDict):
    """An error: exception class name, message and the candidate's/check's part of the traceback."""

    name: str
    value: str
    tb: str


class _Verdict(TypedDict):
    load: Outcome | None  # the error that stopped the candidate itself; None if it ran
    checks: list[Outcome | None]  # one per check, None when it passed
    output: str  # what the candidate and its checks printed (capped)


class Verdict(_Verdict, total=False):
    """What the harness reports for one candidate."""

    changed: dict[str, str]  # user variable -> "rebound", "deleted" or "modified"
    forked: bool  # ran in a forked child: the kernel itself is untouched


def _sc_harness(
    _code: str,
    _prelude: str,
    _checks: "list[str]",
    _limit: float,
    _mark: str,
    _state: "dict[str, dict[str, object]] | None" = None,
    _fork: bool = True,
) -> None:
    """Run ``_code`` in a fresh namespace, then each check in a copy of it; print the verdict.

    ``_state`` (what :func:`_sc_load` keeps) holds copies of the user's variables: the
    namespace starts with them, and the verdict says which of them the code rebinds, deletes
    or modifies. With ``_fork`` (where the OS can) everything runs in a forked child, so
    whatever the candidate does to its interpreter (builtins, the recursion limit, ``decimal``
    contexts, the cwd, the copied data) dies with it: every candidate starts from the same
    pristine kernel, and the state is loaded once per kernel, not once per candidate.

    The candidate may take ``2 * _limit`` seconds and each check ``_limit`` (SIGALRM, so this
    runs in the main thread). What they print goes to a buffer capped at 2,000 characters, so
    it can never push the verdict out of the sandbox's capped stream.
    """
    import contextlib
    import io
    import json
    import os
    import signal
    import sys
    import time
    import traceback

    def _alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"check took longer than {_limit} s")

    class _Cap(io.StringIO):
        def write(self, s: str) -> int:
            return super().write(s) if self.tell() < 2000 else len(s)

    def _tb(e: BaseException) -> str:
        frames = [
            f for f in traceback.extract_tb(e.__traceback__) if f.filename in ("<candidate>", "<check>")
        ]
        lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line}' for f in frames[-4:]]
        return "\n".join([*lines, f"{type(e).__name__}: {e}"[:600]])

    def _error(e: BaseException) -> "dict[str, str]":
        return {"name": type(e).__name__, "value": str(e)[:600], "tb": _tb(e)}

    values = dict(_state["values"]) if _state else {}

    def _changes(ns: "dict[str, object]") -> "dict[str, str]":
        track = _state["track"] if _state else {}
        out = {}
        for name, value in values.items():
            if name not in ns:
                out[name] = "deleted"
            elif ns[name] is not value:
                out[name] = "rebound"
            elif name in track:
                try:
                    if _state["digest"](value) != track[name]:  # type: ignore[index, operator]
                        out[name] = "modified"
                except Exception:
                    pass
        return out

    def _source(name: str, text: str) -> str:
        """Register ``text`` for tracebacks, so the model sees the failing line, not a blank."""
        import linecache

        linecache.cache[name] = (len(text), None, text.splitlines(True), name)
        return text

    def _run() -> "dict[str, object]":
        out = _Cap()
        load: dict[str, str] | None = None
        outcomes: list[dict[str, str] | None] = []
        changed: dict[str, str] = {}
        ns = {"__name__": "__main__", "__builtins__": __builtins__, **values}
        old = signal.signal(signal.SIGALRM, _alarm)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                signal.setitimer(signal.ITIMER_REAL, _limit * 2)
                try:
                    exec(compile(_source("<candidate>", _code), "<candidate>", "exec"), ns)
                except BaseException as e:
                    load = _error(e)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                if values:
                    changed = _changes(ns)
                if load is None:
                    exec(_prelude, ns)
                    for src in _checks:
                        signal.setitimer(signal.ITIMER_REAL, _limit)
                        try:
                            exec(compile(_source("<check>", src), "<check>", "exec"), dict(ns))
                            outcomes.append(None)
                        except BaseException as e:
                            outcomes.append(_error(e))
                        finally:
                            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, old)
        res: dict[str, object] = {"load": load, "checks": outcomes, "output": out.getvalue()[:2000]}
        if values:
            res["changed"] = changed
        return res

    def _lost(why: str) -> "dict[str, object]":
        return {"load": {"name": "CandidateDied", "value": why, "tb": ""}, "checks": [], "output": ""}

    def _forked() -> "dict[str, object]":
        import warnings

        r, w = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "multi-threaded": fine, see below
            pid = os.fork()
        if pid == 0:  # the child: only this thread exists; it never touches the kernel's sockets
            code = 0
            try:
                os.close(r)
                os.setpgid(0, 0)
                data = json.dumps(_run()).encode()
                view = memoryview(data)
                while view:
                    view = view[os.write(w, view) :]
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        os.close(w)
        budget = _limit * (len(_checks) + 2) + 2
        deadline = time.monotonic() + budget
        chunks: list[bytes] = []
        status: int | None = None
        try:
            import select

            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return _lost(f"the candidate and its checks took longer than {budget:g} s")
                if select.select([r], [], [], left)[0]:
                    chunk = os.read(r, 1 << 16)
                    if not chunk:
                        break
                    chunks.append(chunk)
        finally:
            os.close(r)
            for kill in (os.killpg, os.kill):  # the child and anything it started
                with contextlib.suppress(OSError):
                    kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                status = os.waitpid(pid, 0)[1]
        try:
            return json.loads(b"".join(chunks))  # type: ignore[no-any-return]
        except ValueError:
            if status is not None and os.WIFSIGNALED(status):
                return _lost(f"the candidate's process was killed by signal {os.WTERMSIG(status)}")
            exit_code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else None
            return _lost(f"the candidate's process exited (code {exit_code}) without finishing")

    fork = _fork and hasattr(os, "fork")
    res = _forked() if fork else _run()
    res["forked"] = fork
    sys.stdout.write(_mark + json.dumps(res) + "\n")


def _sc_load(_path: str, _keep: "list[str]", _mark: str) -> None:
    """Load the user's variables the file at ``_path`` carries into the kernel's ``_sc_state``.

    The file (written by :meth:`Sandbox.put_file`, read once and deleted) holds a pickled dict:
    ``blobs`` (name → cloudpickle bytes), ``fingerprints`` (name → the user side's digest, so
    an unchanged copy is not sent again), ``imports`` (alias → module name) and ``reruns``
    (name → a self-contained cell that rebuilds what could not be copied). Names not in
    ``_keep`` are dropped. Prints ``_mark`` + JSON: the fingerprints now held and a note per
    name that could not be loaded. Called with an empty ``_path`` it only reports.
    """
    import hashlib
    import importlib
    import json
    import os
    import pickle
    import sys

    g = globals()
    if "_sc_state" not in g:

        def _digest(value: object) -> str:
            import cloudpickle

            return hashlib.blake2b(cloudpickle.dumps(value, protocol=5), digest_size=16).hexdigest()

        g["_sc_state"] = {"values": {}, "fps": {}, "track": {}, "digest": _digest}
    state = g["_sc_state"]
    values, fps, track = state["values"], state["fps"], state["track"]
    for name in [n for n in values if n not in _keep]:
        values.pop(name, None)
        fps.pop(name, None)
        track.pop(name, None)
    notes: dict[str, str] = {}
    if _path:
        try:
            with open(_path, "rb") as f:
                payload = pickle.load(f)
        finally:
            os.unlink(_path)
        for name, blob in payload["blobs"].items():
            try:
                values[name] = pickle.loads(blob)
                fps[name] = payload["fingerprints"][name]
                track.pop(name, None)
                if len(blob) <= 16 * 2**20:  # cheap enough to re-digest after each candidate
                    track[name] = state["digest"](values[name])
            except Exception as e:
                values.pop(name, None)
                fps.pop(name, None)
                notes[name] = f"could not be loaded in the sandbox: {type(e).__name__}: {e}"[:300]
        for alias, module in payload["imports"].items():
            try:
                values[alias] = importlib.import_module(module)
                fps[alias] = "module:" + module
            except Exception as e:
                notes[alias] = f"import {module} failed in the sandbox: {type(e).__name__}: {e}"[:300]
        for name, source in payload["reruns"].items():
            ns = {"__name__": "__main__", "__builtins__": __builtins__, **values}
            try:
                exec(compile(source, "<cell>", "exec"), ns)
                values[name] = ns[name]
                fps[name] = "rerun:" + hashlib.blake2b(source.encode(), digest_size=16).hexdigest()
            except BaseException as e:
                notes[name] = f"re-running its cell failed: {type(e).__name__}: {e}"[:300]
    sys.stdout.write(_mark + json.dumps({"have": fps, "notes": notes}) + "\n")


ENTRY = _sc_harness.__name__
"""The name ``HARNESS_SOURCE`` defines in the kernel."""

LOAD = _sc_load.__name__
"""The function that loads the user's variables into the kernel (also in ``HARNESS_SOURCE``)."""

HARNESS_SOURCE = inspect.getsource(_sc_harness) + "\n\n" + inspect.getsource(_sc_load)
"""The definitions sent to each kernel once, before the first call."""


def parse_verdict(stdout: str) -> Verdict | None:
    """The verdict in the harness's stdout; None if there is none (killed, timed out, crashed)."""
    if MARK not in stdout:
        return None
    try:
        return cast(Verdict, json.loads(stdout.rsplit(MARK, 1)[1].splitlines()[0]))
    except (ValueError, IndexError):
        return None


def run_here(code: str, prelude: str, checks: Sequence[str], limit: float = 5.0) -> Verdict:
    """Run the harness in this process (main thread only: it uses SIGALRM), unsandboxed.

    For tests and dev tools on trusted code; generated code goes through the sandbox.
    """
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        _sc_harness(code, prelude, list(checks), limit, MARK, None, False)
    verdict = parse_verdict(buf.getvalue())
    if verdict is None:  # pragma: no cover - the harness always prints one when it returns
        raise RuntimeError("the harness printed no verdict")
    return verdict
