"""The sandbox kernel's set-up, run once in every kernel before any generated code.

``configure`` puts the project on ``sys.path``, makes tracebacks plain and uncoloured (the
client strips ANSI too), stops IPython 9 keeping a copy of every printed byte, and caps the
output on the kernel's side.

WHY a cap in the kernel too: without it a 1 GB print is serialised and sent to the client in
full; the client's cap only bounds what it keeps. Past ``limit`` bytes of stream text per
execution the kernel sends only a DROPPED marker (``mark % count``), which the client's
``OutputCollector`` turns back into its usual truncation note; text results, displays and
exception messages longer than the cap are cut before they are serialised.

Sent to the kernel by source (``inkernel.source_call``) and run in a namespace of its own, so
none of these names reach the namespace generated code runs in. Needs IPython and ipykernel
only: the kernel never imports smallcode.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable
from typing import Any

CLIP_NOTE = "\n[... truncated in the sandbox: %d more characters ...]"


def configure(limit: int, mark: str, project: str | None) -> None:
    """Set up this kernel; ``limit`` <= 0 leaves the output uncapped."""
    from IPython import get_ipython

    ip: Any = get_ipython()  # the kernel's shell; we patch internals IPython does not type
    if project and project not in sys.path:  # generated code may import the user's own modules
        sys.path.insert(0, project)
    _plain_tracebacks(ip)
    if hasattr(ip, "_tee"):  # IPython 9 keeps a copy of every printed byte in history
        ip._tee = lambda channel: contextlib.nullcontext()
    try:
        from ipykernel.iostream import OutStream
    except ImportError:
        return
    if limit > 0:
        _clip_rich_output(ip, limit)
    _cap_streams(ip, OutStream, limit, mark)


def _plain_tracebacks(ip: Any) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for magic, arg in (("xmode", "Plain"), ("colors", "nocolor")):
            with contextlib.suppress(Exception):
                ip.run_line_magic(magic, arg)


def _clip(text: str, limit: int) -> str:
    return text[:limit] + CLIP_NOTE % (len(text) - limit)


def _clip_data(data: object, limit: int) -> object:
    """Rich outputs: text values over the cap are cut, huge blobs dropped (in place)."""
    if isinstance(data, dict):
        for key, value in list(data.items()):
            if isinstance(value, str) and len(value) > limit:
                if key.startswith("text/"):
                    data[key] = _clip(value, limit)
                elif len(value) > 16 * limit:
                    del data[key]
    return data


def _clip_rich_output(ip: Any, limit: int) -> None:
    """Cut results, displays and exception messages longer than ``limit`` before they are sent."""
    show, write_format_data = ip.showtraceback, ip.displayhook.write_format_data
    publish = ip.display_pub.publish

    def showtraceback(exc_tuple: Any = None, *args: Any, **kwargs: Any) -> Any:
        try:  # a 1 GB exception message must not be formatted, sent, and echoed in the reply
            value: Any = (exc_tuple or sys.exc_info())[1]
            text = str(value)
            if len(text) > limit:
                value.args = (_clip(text, limit),)
        except Exception:
            pass
        return show(exc_tuple, *args, **kwargs)

    def write_clipped(format_dict: object, md_dict: object = None) -> Any:
        return write_format_data(_clip_data(format_dict, limit), md_dict)

    def publish_clipped(data: object, *args: Any, **kwargs: Any) -> Any:
        return publish(_clip_data(data, limit), *args, **kwargs)

    ip.showtraceback = showtraceback
    ip.displayhook.write_format_data = write_clipped
    ip.display_pub.publish = publish_clipped


def _nbytes(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


def _cap_streams(ip: Any, stream_type: Any, limit: int, mark: str) -> None:
    """Patch ``OutStream.write``: at most ``limit`` bytes of stream text per execution, then
    only a count, sent as one marker at the first drop and one more after the cell."""
    orig: Callable[[Any, str], Any] = stream_type.__dict__.get("_smallcode_write") or stream_type.write
    stream_type._smallcode_write = orig
    state: dict[str, Any] = {"id": None, "kept": 0, "dropped": 0, "told": 0}
    stdout = sys.stdout

    def write(self: Any, string: Any) -> Any:
        if not isinstance(string, str) or limit <= 0:
            return orig(self, string)
        try:
            mid = self.parent_header.get("msg_id")
        except Exception:
            mid = None
        if mid != state["id"]:
            state.update(id=mid, kept=0, dropped=0, told=0)
        n = _nbytes(string)
        room = limit - state["kept"]
        if n <= room:
            state["kept"] += n
            return orig(self, string)
        if room > 0:
            if string.isascii():
                head = string[:room]
            else:
                head = string.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
            state["kept"] += _nbytes(head)
            n -= _nbytes(head)
            orig(self, head)
        state["dropped"] += n
        if not state["told"]:
            state["told"] = state["dropped"]
            orig(self, mark % state["dropped"])
        return len(string)

    def report(*args: object) -> None:
        extra = state["dropped"] - state["told"]
        if extra > 0 and isinstance(stdout, stream_type):
            state["told"] = state["dropped"]
            orig(stdout, mark % extra)

    def unshadow(*args: object) -> None:
        # The configuring cell runs inside IPython's tee, which on exit pins the unpatched
        # write on the stream instances; later cells run without the tee.
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, stream_type):
                vars(stream).pop("write", None)

    stream_type.write = write
    ip.events.register("pre_run_cell", unshadow)
    ip.events.register("post_run_cell", report)
