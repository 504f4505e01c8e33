"""Turns a kernel's IOPub messages into capped text.

WHY capped while receiving: generated code can print gigabytes; the client keeps at most
``limit`` bytes and only counts the rest, so a runaway loop cannot exhaust our memory.
"""

from __future__ import annotations

import re
from typing import Any

# CSI sequences (colours, cursor moves) and OSC sequences (titles, hyperlinks).
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """Remove terminal escape sequences (IPython colours tracebacks unless told not to)."""
    return _ANSI.sub("", text)


# Sent by the kernel-side cap (inkernel/configure.py) in place of the stream text it dropped.
DROPPED_MARK = "\x00SMALLCODE-DROPPED:%d\x00"
_DROPPED = re.compile("\x00SMALLCODE-DROPPED:([0-9]{1,15})\x00")


def truncation_marker(dropped: int) -> str:
    return f"\n[... output truncated: {dropped} more bytes ...]"


def _nbytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _head(text: str, nbytes: int) -> str:
    """The longest prefix of ``text`` that fits in ``nbytes`` UTF-8 bytes."""
    if text.isascii():
        return text[:nbytes]
    return text.encode("utf-8", "surrogatepass")[:nbytes].decode("utf-8", "ignore")


class OutputCollector:
    """Collects stream text, text/plain results and the error of one execution."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._parts: list[str] = []
        self._kept = 0
        self.dropped = 0
        self.error_name: str | None = None
        self.error_value: str | None = None
        self.traceback = ""

    def add(self, text: str) -> None:
        if not text:
            return
        room = self.limit - self._kept
        size = _nbytes(text)
        if size <= room:
            self._parts.append(text)
            self._kept += size
            return
        if room > 0:
            head = _head(text, room)
            self._parts.append(head)
            self._kept += _nbytes(head)
            size -= _nbytes(head)
        self.dropped += size

    def set_error(self, content: dict[str, Any]) -> None:
        self.error_name = str(content.get("ename") or "Error")
        self.error_value = strip_ansi(str(content.get("evalue") or ""))
        frames = content.get("traceback") or []
        text = strip_ansi("\n".join(str(f) for f in frames))
        if _nbytes(text) > self.limit:
            text = _head(text, self.limit) + truncation_marker(_nbytes(text) - self.limit)
        self.traceback = text

    def handle(self, msg: dict[str, Any]) -> None:
        """Consume one IOPub message that belongs to the execution."""
        kind = msg["header"]["msg_type"]
        content = msg["content"]
        if kind == "stream":
            text = content.get("text", "")
            if "\x00SMALLCODE-DROPPED:" in text:
                self.dropped += sum(int(n) for n in _DROPPED.findall(text))
                text = _DROPPED.sub("", text)
            self.add(text)
        elif kind in ("execute_result", "display_data"):
            text = content.get("data", {}).get("text/plain")
            if text:
                self.add(text if text.endswith("\n") else text + "\n")
        elif kind == "error":
            self.set_error(content)

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    @property
    def text(self) -> str:
        out = "".join(self._parts)
        return out + truncation_marker(self.dropped) if self.dropped else out
